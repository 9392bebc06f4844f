//! FiLM, the timbre conditioning of both nets: `[γ, β] = Linear(e)` from the timbre
//! point `e`, applied as `x·(1+γ) + β`. The `1+` makes a zero-initialised layer the
//! identity, so a fresh or warm-started net starts unconditioned. Training applies
//! the same rule with [`GAMMA_OFFSET`] (`training/src/nets`); the graphs here fold it
//! into the bias.
//!
//! **Local FiLM.** A FiLM layer is linear in `e`, so a point on the plane can only
//! reach the timbres the plane already spans between its instruments. An instrument
//! added to a trained model (`melwave-train add-instrument`) may bring its own offset
//! `[Δγ, Δβ]`, felt only near its point: `[γ, β] += w(e)·[Δγ, Δβ]`, with the bump
//! `w(e) = max(0, 1 − |e − c|²/r²)²`. It is 1 at the centre `c`, falls smoothly to 0
//! at the radius `r` (value and slope), and is exactly 0 beyond it; the radius is kept
//! below the distance to every other instrument's point, so each of those sounds
//! exactly as before. Mel2Mel carries these as the optional weights `local.center
//! [K, 2]`, `local.radius [K]`, `film_in.local [K, 2H]` and `film_out.local [K, 2H]`.

#[cfg(feature = "graph-writer")]
use super::graph::{Attr, GraphBuilder};
use super::weights::{Spec, Weights};
use super::EMBED_DIM;

/// What γ is offset by: the scale is `GAMMA_OFFSET + γ`.
pub const GAMMA_OFFSET: f32 = 1.0;

pub const LOCAL_CENTER: &str = "local.center";
pub const LOCAL_RADIUS: &str = "local.radius";

/// The local bump's weight at `e` for centre `c` and radius `r`.
pub fn local_weight(e: [f32; 2], c: [f32; 2], r: f32) -> f32 {
    let d2 = (e[0] - c[0]).powi(2) + (e[1] - c[1]).powi(2);
    let u = (1.0 - d2 / (r * r)).max(0.0);
    u * u
}

/// How many local offsets `w` holds (0 when it has none).
pub fn local_count(w: &Weights) -> usize {
    w.0.get(LOCAL_CENTER).map_or(0, |t| t.dims.first().copied().unwrap_or(0))
}

/// The local weights' specs for `k` offsets on the FiLM layers `layers`, each `2·width` wide.
pub fn local_specs(k: usize, layers: &[(&str, usize)]) -> Vec<Spec> {
    if k == 0 {
        return Vec::new();
    }
    let mut s: Vec<Spec> = vec![(LOCAL_CENTER.into(), vec![k, EMBED_DIM]), (LOCAL_RADIUS.into(), vec![k])];
    s.extend(layers.iter().map(|(name, width)| (format!("{name}.local"), vec![k, 2 * width])));
    s
}

/// The bumps' weights at `timbre` as ONNX nodes: `[1, K]`.
#[cfg(feature = "graph-writer")]
pub(crate) fn local_bumps(g: &mut GraphBuilder, w: &Weights, timbre: &str) -> Result<String, String> {
    let k = local_count(w);
    let centers = g.constant(LOCAL_CENTER, &[k, EMBED_DIM], w.get(LOCAL_CENTER, &[k, EMBED_DIM])?);
    let radii = w.get(LOCAL_RADIUS, &[k])?;
    if let Some(r) = radii.iter().find(|r| !(r.is_finite() && **r > 0.0)) {
        return Err(format!("a local FiLM radius is {r}; it must be positive"));
    }
    // The radius itself is the constant, so that the graph's weights read back exactly.
    let radii = g.constant(LOCAL_RADIUS, &[k], radii);
    let r2 = g.op("Mul", &[&radii, &radii], &[]);
    let d = g.op("Sub", &[timbre, &centers], &[]);
    let d2 = g.op("Mul", &[&d, &d], &[]);
    let axis = g.ints("local.axis", &[1]);
    let d2 = g.node("ReduceSum", &[&d2, &axis], &[None], &[("keepdims", Attr::Int(0))]).remove(0);
    let scaled = g.op("Div", &[&d2, &r2], &[]);
    let one = g.constant("local.one", &[1], &[1.0]);
    let u = g.op("Sub", &[&one, &scaled], &[]);
    let u = g.op("Relu", &[&u], &[]);
    let bump = g.op("Mul", &[&u, &u], &[]);
    let front = g.ints("local.front", &[0]);
    Ok(g.op("Unsqueeze", &[&bump, &front], &[]))
}

/// The FiLM layer `name` (weights `name.weight [2·width, EMBED_DIM]`, `name.bias
/// [2·width]`, and `name.local [K, 2·width]` when `local` names the bumps) as ONNX
/// nodes on `timbre`: the names of the scale `1+γ` and the shift `β`, each `[1, width]`.
#[cfg(feature = "graph-writer")]
pub(crate) fn scale_and_shift(g: &mut GraphBuilder, w: &Weights, name: &str, width: usize, timbre: &str, local: Option<&str>) -> Result<[String; 2], String> {
    let wt = w.get(&format!("{name}.weight"), &[2 * width, EMBED_DIM])?;
    let mut b = w.get(&format!("{name}.bias"), &[2 * width])?.to_vec();
    b[..width].iter_mut().for_each(|v| *v += GAMMA_OFFSET);
    let wt = g.constant(&format!("{name}.weight"), &[2 * width, EMBED_DIM], wt);
    let b = g.constant(&format!("{name}.bias_plus_one"), &[2 * width], &b);
    let mut gb = g.op("Gemm", &[timbre, &wt, &b], &[("transB", Attr::Int(1))]);
    if let Some(bumps) = local {
        let k = local_count(w);
        let delta = g.constant(&format!("{name}.local"), &[k, 2 * width], w.get(&format!("{name}.local"), &[k, 2 * width])?);
        let offset = g.op("MatMul", &[bumps, &delta], &[]);
        gb = g.op("Add", &[&gb, &offset], &[]);
    }
    let split = g.ints(&format!("{name}.split"), &[width as i64, width as i64]);
    let parts = g.node("Split", &[&gb, &split], &[None, None], &[("axis", Attr::Int(1))]);
    Ok([parts[0].clone(), parts[1].clone()])
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn the_bump_is_one_at_its_centre_and_exactly_zero_from_its_radius_on() {
        let c = [0.2, -0.1];
        assert_eq!(local_weight(c, c, 0.3), 1.0);
        assert_eq!(local_weight([0.5, -0.1], c, 0.3), 0.0);
        assert_eq!(local_weight([0.2, 0.5], c, 0.3), 0.0);
        let mid = local_weight([0.35, -0.1], c, 0.3);
        assert!((mid - 0.5625).abs() < 1e-6, "{mid}");
        // Monotone on the way out, and its slope vanishes at the rim.
        let w: Vec<f32> = (0..=30).map(|i| local_weight([0.2 + 0.01 * i as f32, -0.1], c, 0.3)).collect();
        assert!(w.windows(2).all(|p| p[1] <= p[0]), "{w:?}");
        // Near the rim the bump falls far more slowly than through its middle.
        assert!(w[29] - w[30] < 0.1 * (w[15] - w[16]), "{w:?}");
    }
}
