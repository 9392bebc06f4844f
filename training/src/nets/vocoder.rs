//! The vocoder (per-frame filters on the harmonic and noise sources, then an optional
//! WaveNet), as the contract's graph computes it from zero state.

use melwave::contract::filter::FilterDesign;
use melwave::contract::vocoder::{saw_reference_power, FEATURE_SCALE, HARMONIC_CHANNEL, KERNEL, LEVEL_CHANNEL, LOG_GAIN_MAX, LOG_GAIN_MIN, NOISE_CHANNEL, POWER_FLOOR};
use melwave::contract::{VocoderConfig, HOP, N_MELS, SOURCE_CHANNELS};
use tch::nn::{self, Module};
use tch::{Kind, Tensor};

/// The filter net and the constant design matrices (see `melwave::contract::vocoder`).
pub struct FilterNet {
    input: nn::Linear,
    film: nn::Linear,
    hidden: nn::Linear,
    pub output: nn::Linear,
    pub skip: nn::Linear,
    width: i64,
    bins: i64,
    taps: i64,
    /// `[K,K]`, `[K,taps]`, `[K,taps]`: φ = log|H|·phase_t, h = Re·cos_t + Im·sin_t.
    phase_t: Tensor,
    cos_t: Tensor,
    sin_t: Tensor,
}

impl FilterNet {
    fn new(vs: &nn::Path, cfg: &VocoderConfig) -> Self {
        let (h, k, taps) = (cfg.filter_hidden as i64, cfg.filter_bins() as i64, cfg.filter_taps as i64);
        let d = FilterDesign::new(cfg.filter_taps);
        let t = |data: &[f32], rows: i64, cols: i64| Tensor::from_slice(data).reshape([rows, cols]).transpose(0, 1).contiguous().to_device(vs.device());
        let no_bias = nn::LinearConfig { bias: false, ..Default::default() };
        let skip = nn::linear(vs / "skip", N_MELS as i64, 2 * k, no_bias);
        tch::no_grad(|| {
            let init = Tensor::from_slice(&mel_to_bins(cfg.filter_bins())).reshape([k, N_MELS as i64]);
            skip.ws.narrow(0, 0, k).copy_(&init);
            skip.ws.narrow(0, k, k).copy_(&init);
        });
        let small = nn::LinearConfig { ws_init: nn::Init::Randn { mean: 0.0, stdev: 0.01 }, ..Default::default() };
        Self {
            input: nn::linear(vs / "input", N_MELS as i64 + 1, h, Default::default()),
            film: super::film_layer(vs / "film", h),
            hidden: nn::linear(vs / "hidden", h, h, Default::default()),
            output: nn::linear(vs / "output", h, 2 * k, small),
            skip,
            width: h,
            bins: k,
            taps,
            phase_t: t(&d.phase, k, k),
            cos_t: t(&d.synth_cos, taps, k),
            sin_t: t(&d.synth_sin, taps, k),
        }
    }

    /// `source [B,C,N]`, `mel [B,n,80]`, `e [B,2]` → the filtered signal `[B,N]`.
    pub fn forward(&self, source: &Tensor, mel: &Tensor, e: &Tensor) -> Tensor {
        let (b, n) = (mel.size()[0], mel.size()[1]);
        let (hop, k, taps) = (HOP as i64, self.bins, self.taps);
        let harm = source.narrow(1, HARMONIC_CHANNEL as i64, 1).reshape([b, n, hop]);
        let noise = source.narrow(1, NOISE_CHANNEL as i64, 1).reshape([b, n, hop]);
        let level = source.narrow(1, LEVEL_CHANNEL as i64, 1).reshape([b, n, hop]);
        let p = (level.mean_dim(&[2i64][..], true, Kind::Float) + POWER_FLOOR as f64).log() - saw_reference_power().ln() as f64;
        let x = Tensor::cat(&[mel, &p], 2) * FEATURE_SCALE as f64;
        let h1 = self.input.forward(&x).leaky_relu();
        let (gamma, beta) = super::film_scale_and_shift(&self.film.forward(e), self.width);
        let h1 = h1 * gamma.unsqueeze(1) + beta.unsqueeze(1);
        let h2 = self.hidden.forward(&h1).leaky_relu();
        let out = self.output.forward(&h2) + self.skip.forward(mel);
        let shift = Tensor::cat(&[(&p * 0.5).expand([b, n, k], false), Tensor::zeros([b, n, k], (Kind::Float, mel.device()))], 2);
        let log_mag = (out - shift).clamp(LOG_GAIN_MIN as f64, LOG_GAIN_MAX as f64).reshape([b, n, 2, k]);
        let phi = log_mag.matmul(&self.phase_t);
        let mag = log_mag.exp();
        let fir = (&mag * phi.cos()).matmul(&self.cos_t) + (&mag * phi.sin()).matmul(&self.sin_t); // [B,n,2,taps]
                                                                                                   // Each frame convolved in full with its FIR (by FFT here, by a product in the
                                                                                                   // graph), then overlap-added.
        let span = hop + taps;
        let size = (span as u64).next_power_of_two() as i64;
        let frames = Tensor::stack(&[harm, noise], 2);
        let y = (frames.fft_rfft(size, -1, "backward") * fir.fft_rfft(size, -1, "backward")).fft_irfft(size, -1, "backward");
        let y = y.narrow(3, 0, span).sum_dim_intlist(&[2i64][..], false, Kind::Float); // [B,n,span]
        let m = taps / hop;
        let mut timeline: Option<Tensor> = None;
        for r in 0..=m {
            let piece = y.narrow(2, r * hop, hop).reshape([b, n * hop]).constant_pad_nd([r * hop, (m - r) * hop]);
            timeline = Some(match timeline {
                None => piece,
                Some(acc) => acc + piece,
            });
        }
        timeline.expect("m + 1 ≥ 1 pieces").narrow(1, 0, n * hop)
    }
}

/// `[K, 80]`: each filter bin's share of the mel bands that cover it, so that the skip
/// layer starts by reading the mel's level at every bin.
fn mel_to_bins(bins: usize) -> Vec<f32> {
    use melwave::contract::{N_FFT, SAMPLE_RATE};
    let fb = melwave::features::mel::mel_filterbank(SAMPLE_RATE as f64, N_FFT, N_MELS, 0.0, SAMPLE_RATE as f64 / 2.0);
    let fft_bins = N_FFT / 2 + 1;
    let mut out = vec![0f32; bins * N_MELS];
    for k in 0..bins {
        // The FFT bin at the same frequency.
        let j = ((k as f64 * (fft_bins - 1) as f64 / (bins - 1) as f64).round() as usize).min(fft_bins - 1);
        let col: Vec<f32> = (0..N_MELS).map(|b| fb[b * fft_bins + j]).collect();
        let sum: f32 = col.iter().sum();
        if sum > 0.0 {
            for (b, v) in col.iter().enumerate() {
                out[k * N_MELS + b] = v / sum;
            }
        } else {
            // A bin no band covers (0 Hz, Nyquist): the nearest band's level.
            let nearest = if j < fft_bins / 2 { 0 } else { N_MELS - 1 };
            out[k * N_MELS + nearest] = 1.0;
        }
    }
    out
}

/// The prefix of the WaveNet output layer's variables.
pub const WAVENET_OUTPUT: &str = "post2.";

/// The optional WaveNet after the filters.
struct WaveNet {
    input: nn::Conv1D,
    cond: nn::Linear,
    film: nn::Linear,
    layers: Vec<(nn::Conv1D, nn::Conv1D, i64)>,
    post1: nn::Conv1D,
    post2: nn::Conv1D,
    c: i64,
    s: i64,
}

impl WaveNet {
    fn new(vs: &nn::Path, cfg: &VocoderConfig) -> Self {
        let (c, s, l) = (cfg.channels as i64, cfg.skip_channels as i64, cfg.layers as i64);
        let layers = (0..cfg.layers)
            .map(|i| {
                let d = cfg.dilation(i) as i64;
                let p = vs / "layers" / i;
                let conv = nn::conv1d(&p / "conv", c, 2 * c, KERNEL as i64, nn::ConvConfig { dilation: d, ..Default::default() });
                let rs = nn::conv1d(&p / "res_skip", c, c + s, 1, Default::default());
                (conv, rs, d)
            })
            .collect();
        // The output layer starts at zero: a new WaveNet adds nothing to the filters
        // until it has learned something, so one put on trained filters starts from
        // their quality instead of from their output plus noise.
        let zero = nn::ConvConfig { ws_init: nn::Init::Const(0.0), bs_init: nn::Init::Const(0.0), ..Default::default() };
        Self {
            input: nn::conv1d(vs / "input", SOURCE_CHANNELS as i64 + 1, c, 1, Default::default()),
            cond: nn::linear(vs / "cond", N_MELS as i64, l * 2 * c, Default::default()),
            film: super::film_layer(vs / "film", l * 2 * c),
            layers,
            post1: nn::conv1d(vs / "post1", s, s, 1, Default::default()),
            post2: nn::conv1d(vs / "post2", s, 1, 1, zero),
            c,
            s,
        }
    }

    /// `input [B,C+1,N]` (the source and the filtered signal), `mel [B,n,80]`, `e [B,2]`
    /// → the WaveNet's output `[B,N]`.
    fn forward(&self, input: &Tensor, mel: &Tensor, e: &Tensor) -> Tensor {
        let (c, s) = (self.c, self.s);
        let l = self.layers.len() as i64;
        let lc = l * 2 * c;
        let mut x = self.input.forward(input);
        let cond = self.cond.forward(mel);
        let gb = self.film.forward(e);
        let (gamma, beta) = super::film_scale_and_shift(&gb, lc);
        let cb = cond * gamma.unsqueeze(1) + beta.unsqueeze(1); // [B,n,LC]
        let (b, n) = (cb.size()[0], cb.size()[1]);
        let cb = cb.unsqueeze(2).expand([b, n, HOP as i64, lc], false).reshape([b, n * HOP as i64, lc]).transpose(1, 2);
        let gamma = gamma.unsqueeze(2);
        let mut skip: Option<Tensor> = None;
        for (i, (conv, rs, d)) in self.layers.iter().enumerate() {
            let i = i as i64;
            let z = conv.forward(&x.constant_pad_nd([(KERNEL as i64 - 1) * d, 0]));
            let z = z * gamma.narrow(1, i * 2 * c, 2 * c) + cb.narrow(1, i * 2 * c, 2 * c);
            let g = z.narrow(1, 0, c).tanh() * z.narrow(1, c, c).sigmoid();
            let out = rs.forward(&g);
            if i + 1 < l {
                // A new tensor, not `+=`: tch's `+=` adds in place, and autograd still
                // needs the old `x`, which this layer's convolution saved.
                #[allow(clippy::assign_op_pattern)]
                {
                    x = x + out.narrow(1, 0, c);
                }
            }
            let sk = out.narrow(1, c, s);
            skip = Some(match skip {
                None => sk,
                Some(acc) => acc + sk,
            });
        }
        let y = self.post1.forward(&skip.expect("at least one layer").relu()).relu();
        self.post2.forward(&y).squeeze_dim(1)
    }
}

pub struct Vocoder {
    pub filter: FilterNet,
    wavenet: Option<WaveNet>,
    pub embedding: Tensor,
}

impl Vocoder {
    pub fn new(vs: &nn::Path, cfg: &VocoderConfig, instruments: usize) -> Self {
        Self { filter: FilterNet::new(&(vs / "filter"), cfg), wavenet: (cfg.layers > 0).then(|| WaveNet::new(vs, cfg)), embedding: super::embedding(vs, instruments) }
    }

    /// `source [B,C,N]`, `mel [B,n,80]`, `e [B,2]` → audio `[B,N]`, `N = n·HOP`.
    pub fn forward(&self, source: &Tensor, mel: &Tensor, e: &Tensor) -> Tensor {
        let filtered = self.filter.forward(source, mel, e);
        match &self.wavenet {
            None => filtered,
            Some(w) => {
                let input = Tensor::cat(&[source, &filtered.unsqueeze(1)], 1);
                &filtered + w.forward(&input, mel, e)
            }
        }
    }
}

/// Zeroes the WaveNet's output layer in `vs`: the vocoder then plays its filters alone,
/// every other weight as trained. The ablation that tells what the WaveNet adds.
pub fn zero_wavenet(vs: &nn::VarStore) -> anyhow::Result<()> {
    let mut zeroed = 0;
    tch::no_grad(|| {
        for (name, mut var) in vs.variables() {
            if name.starts_with(WAVENET_OUTPUT) {
                let _ = var.zero_();
                zeroed += 1;
            }
        }
    });
    anyhow::ensure!(zeroed > 0, "this vocoder has no WaveNet to zero");
    Ok(())
}
