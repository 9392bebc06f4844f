//! `Linear(384→H) → FiLM(e) → LSTM → FiLM(e) → Linear(H→80)`, batch-first.
//!
//! In training the input layer has a second path, [`PARTIALS`]: each key's roll
//! features go through a fixed map of where that key's partials land on the mel
//! scale, then a learned `Linear(3·80→H)`. Keys at the keyboard's ends are rare in any
//! data, so their own columns of the input layer learn little; through this path
//! they share what the common keys teach about each mel band, since key 104's
//! fundamental sits in the band that key 92's second partial and key 80's fourth fill
//! all the time. The path is linear, so export folds it into the one input layer the
//! contract has: the graph does not change.

use melwave::contract::{film, Mel2MelConfig, Weights, KEYS, N_FFT, N_MELS, ROLL_DIM, SAMPLE_RATE};
use tch::nn::{self, Module, RNN};
use tch::{Kind, Tensor};

/// The training-only weights from the keys' partials to the hidden layer, `[H, 3·80]`.
pub const PARTIALS: &str = "input_partials.weight";

/// The roll's feature blocks (onset, frame, velocity), each one value per key.
const BLOCKS: usize = ROLL_DIM / KEYS;

/// Where each key's partials fall on the mel scale, `[KEYS, N_MELS]` row-major: every
/// partial below Nyquist at amplitude 1/h (a sawtooth's), spread over the bands by
/// their triangles (peak 1), each row scaled to a peak of 1.
pub fn key_partials() -> Vec<f32> {
    let bins = N_FFT / 2 + 1;
    let nyquist = SAMPLE_RATE as f64 / 2.0;
    let fb = melwave::features::mel::mel_filterbank(SAMPLE_RATE as f64, N_FFT, N_MELS, 0.0, nyquist);
    let peak: Vec<f32> = fb.chunks(bins).map(|row| row.iter().copied().fold(0.0, f32::max)).collect();
    // A band's triangle at a frequency between FFT bins, interpolated.
    let band_at = |m: usize, hz: f64| -> f32 {
        let x = hz * N_FFT as f64 / SAMPLE_RATE as f64;
        let (i, frac) = (x.floor() as usize, (x - x.floor()) as f32);
        let row = &fb[m * bins..(m + 1) * bins];
        let v = row[i] * (1.0 - frac) + row.get(i + 1).copied().unwrap_or(0.0) * frac;
        v / peak[m].max(f32::MIN_POSITIVE)
    };
    let mut t = vec![0f32; KEYS * N_MELS];
    for key in 0..KEYS {
        let f0 = melwave::features::excitation::key_frequency(key, 0.0);
        let row = &mut t[key * N_MELS..(key + 1) * N_MELS];
        for h in (1..).take_while(|&h| h as f64 * f0 < nyquist) {
            for (m, v) in row.iter_mut().enumerate() {
                *v += band_at(m, h as f64 * f0) / h as f32;
            }
        }
        let top = row.iter().copied().fold(0.0, f32::max);
        if top > 0.0 {
            row.iter_mut().for_each(|v| *v /= top);
        }
    }
    t
}

/// Folds [`PARTIALS`] into `input.weight` (`W[:, b·128+k] += Σ_m P[:, b·80+m]·T[k,m]`)
/// and removes it, leaving the contract's weights. Weights without the path (a model
/// read back from an export) pass through unchanged.
pub fn fold_partials(w: &mut Weights) -> Result<(), String> {
    let Some(p) = w.0.remove(PARTIALS) else { return Ok(()) };
    let hidden = match p.dims[..] {
        [hidden, width] if width == BLOCKS * N_MELS => hidden,
        _ => return Err(format!("`{PARTIALS}` has shape {:?}, expected [H, {}]", p.dims, BLOCKS * N_MELS)),
    };
    // `get` checks that the input layer has the same H.
    let t = key_partials();
    let mut input = w.get("input.weight", &[hidden, ROLL_DIM])?.to_vec();
    for (row, prow) in input.chunks_mut(ROLL_DIM).zip(p.data.chunks(BLOCKS * N_MELS)) {
        for b in 0..BLOCKS {
            for k in 0..KEYS {
                row[b * KEYS + k] += (0..N_MELS).map(|m| prow[b * N_MELS + m] * t[k * N_MELS + m]).sum::<f32>();
            }
        }
    }
    w.insert("input.weight", vec![hidden, ROLL_DIM], input);
    Ok(())
}

pub struct Mel2Mel {
    input: nn::Linear,
    /// `[H, 3·80]`, starting at zero, so a model warm-started without it begins exactly
    /// where it was.
    partials: Tensor,
    /// [`key_partials`], `[KEYS, N_MELS]`.
    key_partials: Tensor,
    film_in: nn::Linear,
    lstm: nn::LSTM,
    film_out: nn::Linear,
    output: nn::Linear,
    hidden: i64,
    pub embedding: Tensor,
}

pub fn apply_film(x: &Tensor, gb: &Tensor, width: i64) -> Tensor {
    let (gamma, beta) = super::film_scale_and_shift(gb, width);
    x * gamma.unsqueeze(1) + beta.unsqueeze(1)
}

/// Local FiLM offsets, as `melwave::contract::film` defines them: `[γ, β] += w(e)·Δ`,
/// with `w(e) = max(0, 1 − |e − c|²/r²)²`.
pub struct LocalFilm {
    /// `[K, 2]`
    pub center: Tensor,
    /// `[K]`
    pub radius: Tensor,
    /// `[K, 2H]` each.
    pub film_in: Tensor,
    pub film_out: Tensor,
}

impl LocalFilm {
    /// The offsets a model's weights carry, if any.
    pub fn of(w: &Weights, hidden: usize) -> Option<Self> {
        let k = film::local_count(w);
        let t = |name: &str, dims: &[usize]| -> Tensor {
            let data = w.get(name, dims).expect("weights checked against the contract");
            Tensor::from_slice(data).reshape(dims.iter().map(|&d| d as i64).collect::<Vec<_>>())
        };
        (k > 0).then(|| LocalFilm {
            center: t(film::LOCAL_CENTER, &[k, 2]),
            radius: t(film::LOCAL_RADIUS, &[k]),
            film_in: t("film_in.local", &[k, 2 * hidden]),
            film_out: t("film_out.local", &[k, 2 * hidden]),
        })
    }

    /// The bumps' weights at `e [B,2]`: `[B,K]`.
    pub fn bumps(&self, e: &Tensor) -> Tensor {
        let d2 = (e.unsqueeze(1) - self.center.unsqueeze(0)).square().sum_dim_intlist([-1i64].as_slice(), false, Kind::Float);
        ((d2 / self.radius.square().unsqueeze(0)).neg() + 1.0).relu().square()
    }
}

impl Mel2Mel {
    pub fn new(vs: &nn::Path, cfg: &Mel2MelConfig, instruments: usize) -> Self {
        let h = cfg.hidden as i64;
        let rnn = nn::RNNConfig { num_layers: cfg.layers as i64, batch_first: true, ..Default::default() };
        let out_cfg = nn::LinearConfig { bs_init: Some(nn::Init::Const(-7.0)), ..Default::default() };
        Self {
            input: nn::linear(vs / "input", ROLL_DIM as i64, h, Default::default()),
            partials: (vs / "input_partials").zeros("weight", &[h, (BLOCKS * N_MELS) as i64]),
            key_partials: Tensor::from_slice(&key_partials()).reshape([KEYS as i64, N_MELS as i64]).to_device(vs.device()),
            film_in: super::film_layer(vs / "film_in", h),
            lstm: nn::lstm(vs / "lstm", h, h, rnn),
            film_out: super::film_layer(vs / "film_out", h),
            output: nn::linear(vs / "output", h, N_MELS as i64, out_cfg),
            hidden: h,
            embedding: super::embedding(vs, instruments),
        }
    }

    /// `roll [B,T,384]`, `e [B,2]` → log-mel `[B,T,80]`, from zero state.
    pub fn forward(&self, roll: &Tensor, e: &Tensor) -> Tensor {
        self.forward_local(roll, e, None)
    }

    /// [`Self::forward`] with local FiLM offsets.
    pub fn forward_local(&self, roll: &Tensor, e: &Tensor, local: Option<&LocalFilm>) -> Tensor {
        let bumps = local.map(|l| (l, l.bumps(e)));
        let film = |layer: &nn::Linear, delta: fn(&LocalFilm) -> &Tensor| match &bumps {
            Some((l, b)) => layer.forward(e) + b.matmul(delta(l)),
            None => layer.forward(e),
        };
        let (b, t) = (roll.size()[0], roll.size()[1]);
        let by_band = roll.reshape([b, t, BLOCKS as i64, KEYS as i64]).matmul(&self.key_partials).reshape([b, t, (BLOCKS * N_MELS) as i64]);
        let input = self.input.forward(roll) + by_band.matmul(&self.partials.tr());
        let x = apply_film(&input, &film(&self.film_in, |l| &l.film_in), self.hidden);
        let (y, _) = self.lstm.seq(&x);
        let y = apply_film(&y, &film(&self.film_out, |l| &l.film_out), self.hidden);
        self.output.forward(&y)
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use melwave::features::excitation::key_frequency;

    /// The band whose triangle peaks nearest `hz`.
    fn band_of(hz: f64) -> usize {
        let bins = N_FFT / 2 + 1;
        let fb = melwave::features::mel::mel_filterbank(SAMPLE_RATE as f64, N_FFT, N_MELS, 0.0, SAMPLE_RATE as f64 / 2.0);
        let bin = (hz * N_FFT as f64 / SAMPLE_RATE as f64).round() as usize;
        (0..N_MELS).max_by(|&a, &b| fb[a * bins + bin].total_cmp(&fb[b * bins + bin])).expect("bands")
    }

    #[test]
    fn each_key_lights_the_bands_of_its_partials_and_nothing_else() {
        let t = key_partials();
        let row = |k: usize| &t[k * N_MELS..(k + 1) * N_MELS];
        // A low key: its fundamental and its 2nd..4th partials all show, the 4th below the 1st.
        let f0 = key_frequency(45, 0.0);
        let lit: Vec<f32> = (1..=4).map(|h| row(45)[band_of(h as f64 * f0)]).collect();
        // A partial between two bands shows in both at less than its own 1/h.
        assert!(lit.iter().all(|&v| v > 0.1), "partials of key 45: {lit:?}");
        assert!(lit[0] > lit[3], "a sawtooth's tilt: {lit:?}");
        // Below the fundamental there is nothing.
        assert!(row(45)[..band_of(f0) - 1].iter().all(|&v| v == 0.0), "energy below key 45's fundamental: {:?}", row(45));
        // A key whose second partial is past Nyquist lights only its fundamental's bands.
        let f = key_frequency(124, 0.0);
        assert!(2.0 * f > SAMPLE_RATE as f64 / 2.0);
        let peak = row(124).iter().enumerate().max_by(|a, b| a.1.total_cmp(b.1)).map(|(m, _)| m).expect("bands");
        assert_eq!(peak, band_of(f));
        assert!(row(124).iter().enumerate().all(|(m, &v)| v == 0.0 || m.abs_diff(peak) <= 1), "key 124: {:?}", row(124));
        // Every key with a fundamental below Nyquist peaks at 1; key 127's is above it.
        for k in 0..KEYS {
            let top = row(k).iter().copied().fold(0.0, f32::max);
            let audible = key_frequency(k, 0.0) < SAMPLE_RATE as f64 / 2.0;
            assert!(if audible { (top - 1.0).abs() < 1e-6 } else { top == 0.0 }, "key {k} peaks at {top}");
        }
        assert!(key_frequency(126, 0.0) < SAMPLE_RATE as f64 / 2.0 && key_frequency(127, 0.0) > SAMPLE_RATE as f64 / 2.0);
    }

    #[test]
    fn folding_the_partials_path_into_the_input_layer_computes_the_same_mel() {
        let cfg = Mel2MelConfig { hidden: 16, layers: 1 };
        tch::manual_seed(3);
        let vs = nn::VarStore::new(tch::Device::Cpu);
        let trained = Mel2Mel::new(&vs.root(), &cfg, 2);
        tch::no_grad(|| {
            let mut p = vs.variables().remove(PARTIALS).expect("the partials path is a variable");
            p.copy_(&(Tensor::randn(p.size(), (Kind::Float, tch::Device::Cpu)) * 0.5));
        });
        let w = crate::nets::weights(&vs);
        assert!(!w.0.contains_key(PARTIALS), "export weights keep the training-only path");
        let folded_vs = nn::VarStore::new(tch::Device::Cpu);
        let folded = Mel2Mel::new(&folded_vs.root(), &cfg, 2);
        crate::nets::load_weights(&folded_vs, &w).expect("folded weights fit the contract's model");
        let roll = Tensor::rand([2, 12, ROLL_DIM as i64], (Kind::Float, tch::Device::Cpu)).gt(0.9).to_kind(Kind::Float);
        let e = trained.embedding.shallow_clone();
        let (a, b) = tch::no_grad(|| (trained.forward(&roll, &e), folded.forward(&roll, &e)));
        let diff = (a - b).abs().max().double_value(&[]);
        assert!(diff < 1e-4, "folded model differs by {diff}");
        // And the fold moved the input layer: the path was not zero.
        let raw = Vec::<f32>::try_from(vs.variables()["input.weight"].contiguous().view(-1)).expect("floats");
        let moved = w.get("input.weight", &[16, ROLL_DIM]).expect("input layer").iter().zip(&raw).map(|(a, b)| (a - b).abs()).fold(0.0, f32::max);
        assert!(moved > 0.1, "the fold changed the input layer by only {moved}");
    }
}
