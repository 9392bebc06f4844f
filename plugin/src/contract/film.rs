//! FiLM, the timbre conditioning of both nets: `[γ, β] = Linear(e)` from the timbre
//! point `e`, applied as `x·(1+γ) + β`. The `1+` makes a zero-initialised layer the
//! identity, so a fresh or warm-started net starts unconditioned. Training applies
//! the same rule with [`GAMMA_OFFSET`] (`training/src/nets`); the graphs here fold it
//! into the bias.

use super::graph::{Attr, GraphBuilder};
use super::weights::Weights;
use super::EMBED_DIM;

/// What γ is offset by: the scale is `GAMMA_OFFSET + γ`.
pub const GAMMA_OFFSET: f32 = 1.0;

/// The FiLM layer `name` (weights `name.weight [2·width, EMBED_DIM]`, `name.bias
/// [2·width]`) as ONNX nodes on `timbre`: the names of the scale `1+γ` and the shift
/// `β`, each `[1, width]`.
pub(crate) fn scale_and_shift(g: &mut GraphBuilder, w: &Weights, name: &str, width: usize, timbre: &str) -> Result<[String; 2], String> {
    let wt = w.get(&format!("{name}.weight"), &[2 * width, EMBED_DIM])?;
    let mut b = w.get(&format!("{name}.bias"), &[2 * width])?.to_vec();
    b[..width].iter_mut().for_each(|v| *v += GAMMA_OFFSET);
    let wt = g.constant(&format!("{name}.weight"), &[2 * width, EMBED_DIM], wt);
    let b = g.constant(&format!("{name}.bias_plus_one"), &[2 * width], &b);
    let gb = g.op("Gemm", &[timbre, &wt, &b], &[("transB", Attr::Int(1))]);
    let split = g.ints(&format!("{name}.split"), &[width as i64, width as i64]);
    let parts = g.node("Split", &[&gb, &split], &[None, None], &[("axis", Attr::Int(1))]);
    Ok([parts[0].clone(), parts[1].clone()])
}
