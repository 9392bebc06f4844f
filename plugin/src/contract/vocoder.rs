//! The streaming vocoder: a harmonic-plus-noise source filtered, frame by frame, by
//! filters a small net designs from the mel, with an optional WaveNet after it.
//!
//! **Filter net** (per frame): `[mel/4, p/4] → Linear → LeakyReLU → FiLM(e) → Linear →
//! LeakyReLU → Linear (+ a linear skip from the mel)` gives two log-magnitude
//! responses of `taps+1` bins: `log|H_harm| − p/2` for the sawtooth (so its gain is
//! relative to the sawtooth's level in this frame, `p` being the log of the source's
//! `level` channel, the sawtooth's expected mean square, against one key's) and
//! `log|H_noise|` for the noise. Each is clipped to
//! `[LOG_GAIN_MIN, LOG_GAIN_MAX]` and turned into a minimum-phase FIR
//! ([`super::filter`]).
//!
//! **Filtering:** each frame's `HOP` source samples are convolved in full with that
//! frame's FIR (`HOP + taps` samples out) and overlap-added: the part that spills past
//! the frame is carried to the next call as the state `tail`. The source's partials
//! are the notes' own, so every overtone is where the instrument has it, and the net
//! only decides how loud each region of the spectrum is.
//!
//! **WaveNet** (`layers > 0`): `in-conv([source, filtered]) → layers × [dilated causal
//! conv (k=3) → FiLM(e) with the frame-repeated mel conditioning → tanh·σ gate → 1×1
//! residual + 1×1 skip] → Σ skip → ReLU → 1×1 → ReLU → 1×1`, added to the filtered
//! signal. The mel conditioning and FiLM are computed at frame rate and only then
//! repeated to sample rate: `γ·(conv + cond) + β = γ·conv + (γ·cond + β)`.
//!
//! Step graph inputs: `source [1,4,N]`, `mel [1,n,80]`, `timbre [1,2]`, `tail [1,taps]`
//! and per WaveNet layer `state_i [1,C,2·d_i]`, with `N = n·HOP`. Outputs: `audio
//! [1,N]`, `tail_out` and `state_i_out`.

use serde::{Deserialize, Serialize};

#[cfg(feature = "graph-writer")]
use super::filter::FilterDesign;
#[cfg(feature = "graph-writer")]
use super::graph::{Attr, Dim, GraphBuilder};
use super::state::StateSpec;
use super::weights::Spec;
#[cfg(feature = "graph-writer")]
use super::weights::{transpose, Weights};
use super::{EMBED_DIM, HOP, N_MELS, SOURCE_CHANNELS};

pub const KERNEL: usize = 3;
pub const INPUT_SOURCE: &str = "source";
pub const INPUT_MEL: &str = "mel";
pub const INPUT_TIMBRE: &str = "timbre";
pub const OUTPUT_AUDIO: &str = "audio";
/// The source channels the filters take (indices into `source::CHANNELS`).
pub const HARMONIC_CHANNEL: usize = 1;
pub const NOISE_CHANNEL: usize = 2;
/// The channel holding the sawtooth's expected mean square.
pub const LEVEL_CHANNEL: usize = 3;
/// The filter net's input scale for the log-mel and the log power.
pub const FEATURE_SCALE: f32 = 0.25;
/// Bounds of a filter's log gain (about −174 dB … +52 dB): wide enough for any
/// instrument, narrow enough that `exp` cannot overflow.
pub const LOG_GAIN_MIN: f32 = -20.0;
pub const LOG_GAIN_MAX: f32 = 6.0;
/// Floor of a frame's expected mean-square sawtooth, before the log.
pub const POWER_FLOOR: f32 = 1e-8;
/// Slope of the filter net's LeakyReLU (ONNX's and torch's default).
pub const LEAKY_SLOPE: f32 = 0.01;

/// Mean square of one key's sawtooth (partials at `SAW_AMPLITUDE/h`, `Σ 1/2h² = π²/12`):
/// the filter net's power `p` is the frame's log mean square against this, so 0 means
/// one key.
pub fn saw_reference_power() -> f32 {
    let a = super::source::SAW_AMPLITUDE;
    a * a * std::f32::consts::PI * std::f32::consts::PI / 12.0
}

/// The step graph's three data inputs, by name.
#[derive(Clone, Copy)]
#[cfg(feature = "graph-writer")]
struct Inputs<'a> {
    source: &'a str,
    mel: &'a str,
    timbre: &'a str,
}

#[derive(Clone, Debug, PartialEq, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct VocoderConfig {
    /// Taps of each frame's FIR filters; a multiple of `HOP`.
    pub filter_taps: usize,
    /// Width of the filter net's hidden layers.
    pub filter_hidden: usize,
    /// WaveNet layers after the filters; 0 for none.
    pub layers: usize,
    pub channels: usize,
    pub skip_channels: usize,
    /// Dilations run 1, 2, 4, … 2^(cycle−1), then repeat.
    pub dilation_cycle: usize,
}

impl Default for VocoderConfig {
    fn default() -> Self {
        Self { filter_taps: 2 * HOP, filter_hidden: 256, layers: 0, channels: 16, skip_channels: 16, dilation_cycle: 6 }
    }
}

impl VocoderConfig {
    pub fn dilation(&self, layer: usize) -> usize {
        1 << (layer % self.dilation_cycle.max(1))
    }

    /// Receptive field in samples: the FIR's, then the WaveNet's on top.
    pub fn receptive_field(&self) -> usize {
        self.filter_taps + (0..self.layers).map(|l| (KERNEL - 1) * self.dilation(l)).sum::<usize>()
    }

    /// Bins of each filter's response.
    pub fn filter_bins(&self) -> usize {
        self.filter_taps + 1
    }

    /// Whether the numbers can make a graph (the manifest checks this).
    pub fn is_valid(&self) -> bool {
        let t = self.filter_taps;
        let filter = (HOP..=8 * HOP).contains(&t) && t.is_multiple_of(HOP) && (1..=4096).contains(&self.filter_hidden);
        let wavenet =
            self.layers == 0 || (self.layers <= 64 && (1..=1024).contains(&self.channels) && (1..=1024).contains(&self.skip_channels) && (1..=16).contains(&self.dilation_cycle));
        filter && wavenet
    }

    pub fn weight_specs(&self) -> Vec<Spec> {
        let (h, k) = (self.filter_hidden, self.filter_bins());
        let mut v = vec![
            ("filter.input.weight".into(), vec![h, N_MELS + 1]),
            ("filter.input.bias".into(), vec![h]),
            ("filter.film.weight".into(), vec![2 * h, EMBED_DIM]),
            ("filter.film.bias".into(), vec![2 * h]),
            ("filter.hidden.weight".into(), vec![h, h]),
            ("filter.hidden.bias".into(), vec![h]),
            ("filter.output.weight".into(), vec![2 * k, h]),
            ("filter.output.bias".into(), vec![2 * k]),
            ("filter.skip.weight".into(), vec![2 * k, N_MELS]),
        ];
        if self.layers == 0 {
            return v;
        }
        let (c, s, l) = (self.channels, self.skip_channels, self.layers);
        v.extend([
            ("input.weight".into(), vec![c, SOURCE_CHANNELS + 1, 1]),
            ("input.bias".into(), vec![c]),
            ("cond.weight".into(), vec![l * 2 * c, N_MELS]),
            ("cond.bias".into(), vec![l * 2 * c]),
            // Rows: γ for every layer (layer-major, 2C each), then β likewise.
            ("film.weight".into(), vec![2 * l * 2 * c, EMBED_DIM]),
            ("film.bias".into(), vec![2 * l * 2 * c]),
            ("post1.weight".into(), vec![s, s, 1]),
            ("post1.bias".into(), vec![s]),
            ("post2.weight".into(), vec![1, s, 1]),
            ("post2.bias".into(), vec![1]),
        ]);
        for i in 0..l {
            v.push((format!("layers.{i}.conv.weight"), vec![2 * c, c, KERNEL]));
            v.push((format!("layers.{i}.conv.bias"), vec![2 * c]));
            v.push((format!("layers.{i}.res_skip.weight"), vec![c + s, c, 1]));
            v.push((format!("layers.{i}.res_skip.bias"), vec![c + s]));
        }
        v
    }

    pub fn state_specs(&self) -> Vec<StateSpec> {
        let tail = StateSpec { input: "tail".into(), output: "tail_out".into(), shape: vec![1, self.filter_taps] };
        std::iter::once(tail)
            .chain((0..self.layers).map(|i| StateSpec {
                input: format!("state_{i}"),
                output: format!("state_{i}_out"),
                shape: vec![1, self.channels, (KERNEL - 1) * self.dilation(i)],
            }))
            .collect()
    }

    #[cfg(feature = "graph-writer")]
    pub fn build(&self, w: &Weights) -> Result<Vec<u8>, String> {
        if !self.is_valid() {
            return Err(format!("vocoder config {self:?} is out of range"));
        }
        w.check(&self.weight_specs())?;
        let mut g = GraphBuilder::new("vocoder_step");
        let source = g.input(INPUT_SOURCE, &[Dim::Fixed(1), Dim::Fixed(SOURCE_CHANNELS as i64), Dim::Named("samples")]);
        let mel = g.input(INPUT_MEL, &[Dim::Fixed(1), Dim::Named("frames"), Dim::Fixed(N_MELS as i64)]);
        let timbre = g.input(INPUT_TIMBRE, &[Dim::Fixed(1), Dim::Fixed(EMBED_DIM as i64)]);
        let states = self.state_specs();
        let state_in: Vec<String> = states.iter().map(|st| g.input(&st.input, &st.shape.iter().map(|&d| Dim::Fixed(d as i64)).collect::<Vec<_>>())).collect();
        let io = Inputs { source: &source, mel: &mel, timbre: &timbre };
        let filtered = self.build_filters(&mut g, w, &io, &state_in[0], &states[0].output)?;
        if self.layers == 0 {
            g.node("Identity", &[&filtered], &[Some(OUTPUT_AUDIO)], &[]);
        } else {
            let ax1 = g.ints("axes_1", &[1]);
            let f3 = g.op("Unsqueeze", &[&filtered, &ax1], &[]);
            let input = g.op("Concat", &[&source, &f3], &[("axis", Attr::Int(1))]);
            let refined = self.build_wavenet(&mut g, w, &input, &io, &state_in[1..], &states[1..])?;
            g.node("Add", &[&filtered, &refined], &[Some(OUTPUT_AUDIO)], &[]);
        }
        g.output(OUTPUT_AUDIO, &[Dim::Fixed(1), Dim::Named("samples")]);
        for st in &states {
            g.output(&st.output, &st.shape.iter().map(|&d| Dim::Fixed(d as i64)).collect::<Vec<_>>());
        }
        Ok(g.finish("Melwave streaming vocoder step"))
    }

    /// The filter net, the filter design and the overlap-added convolution; returns
    /// the filtered signal `[1,N]` and writes the new tail to `tail_out`.
    #[cfg(feature = "graph-writer")]
    fn build_filters(&self, g: &mut GraphBuilder, w: &Weights, io: &Inputs<'_>, tail: &str, tail_out: &str) -> Result<String, String> {
        let Inputs { source, mel, timbre } = *io;
        let (h, k, taps) = (self.filter_hidden, self.filter_bins(), self.filter_taps);
        let m = taps / HOP;
        let scalar = |g: &mut GraphBuilder, name: &str, v: f32| g.constant(name, &[], &[v]);
        let ints = |g: &mut GraphBuilder, name: &str, v: &[i64]| g.ints(name, v);
        let slice = |g: &mut GraphBuilder, x: &str, name: &str, from: i64, to: i64, axis: i64| {
            let s = g.ints(&format!("{name}.start"), &[from]);
            let e = g.ints(&format!("{name}.end"), &[to]);
            let a = g.ints(&format!("{name}.axis"), &[axis]);
            g.op("Slice", &[x, &s, &e, &a], &[])
        };
        let frames_shape = ints(g, "filter.frames_shape", &[-1, HOP as i64]);
        let harm = slice(g, source, "filter.harmonic", HARMONIC_CHANNEL as i64, HARMONIC_CHANNEL as i64 + 1, 1);
        let harm = g.op("Reshape", &[&harm, &frames_shape], &[]);
        let noise = slice(g, source, "filter.noise", NOISE_CHANNEL as i64, NOISE_CHANNEL as i64 + 1, 1);
        let noise = g.op("Reshape", &[&noise, &frames_shape], &[]);

        // p: the frame's log mean square against one key's sawtooth, [n,1].
        let level = slice(g, source, "filter.level", LEVEL_CHANNEL as i64, LEVEL_CHANNEL as i64 + 1, 1);
        let level = g.op("Reshape", &[&level, &frames_shape], &[]);
        let ms = g.op("ReduceMean", &[&level], &[("axes", Attr::Ints(vec![1])), ("keepdims", Attr::Int(1))]);
        let floor = scalar(g, "filter.power_floor", POWER_FLOOR);
        let ms = g.op("Add", &[&ms, &floor], &[]);
        let lp = g.op("Log", &[&ms], &[]);
        let reference = scalar(g, "filter.log_reference_power", saw_reference_power().ln());
        let p = g.op("Sub", &[&lp, &reference], &[]);

        let mel_shape = ints(g, "filter.mel_shape", &[-1, N_MELS as i64]);
        let mel2 = g.op("Reshape", &[mel, &mel_shape], &[]);
        let x = g.op("Concat", &[&mel2, &p], &[("axis", Attr::Int(1))]);
        let scale = scalar(g, "filter.feature_scale", FEATURE_SCALE);
        let x = g.op("Mul", &[&x, &scale], &[]);
        let gemm = |g: &mut GraphBuilder, x: &str, name: &str, dims: [usize; 2]| -> Result<String, String> {
            let wt = g.constant(&format!("{name}.weight"), &dims, w.get(&format!("{name}.weight"), &dims)?);
            let b = g.constant(&format!("{name}.bias"), &[dims[0]], w.get(&format!("{name}.bias"), &[dims[0]])?);
            Ok(g.op("Gemm", &[x, &wt, &b], &[("transB", Attr::Int(1))]))
        };
        let leaky = [("alpha", Attr::Float(LEAKY_SLOPE))];
        let h1 = gemm(g, &x, "filter.input", [h, N_MELS + 1])?;
        let h1 = g.op("LeakyRelu", &[&h1], &leaky);
        let [gamma, beta] = super::film::scale_and_shift(g, w, "filter.film", h, timbre, None)?;
        let h1 = g.op("Mul", &[&h1, &gamma], &[]);
        let h1 = g.op("Add", &[&h1, &beta], &[]);
        let h2 = gemm(g, &h1, "filter.hidden", [h, h])?;
        let h2 = g.op("LeakyRelu", &[&h2], &leaky);
        let out = gemm(g, &h2, "filter.output", [2 * k, h])?;
        let skip_t = g.constant("filter.skip.weight_t", &[N_MELS, 2 * k], &transpose(w.get("filter.skip.weight", &[2 * k, N_MELS])?, 2 * k, N_MELS));
        let skip = g.op("MatMul", &[&mel2, &skip_t], &[]);
        let out = g.op("Add", &[&out, &skip], &[]);
        // Harmonic response less half the power (a gain relative to the source's own
        // level), noise response as is.
        let halves: Vec<f32> = (0..2 * k).map(|i| if i < k { 0.5 } else { 0.0 }).collect();
        let halves = g.constant("filter.power_shift", &[1, 2 * k], &halves);
        let shift = g.op("Mul", &[&p, &halves], &[]);
        let log_mag = g.op("Sub", &[&out, &shift], &[]);
        let lo = scalar(g, "filter.log_gain_min", LOG_GAIN_MIN);
        let hi = scalar(g, "filter.log_gain_max", LOG_GAIN_MAX);
        let log_mag = g.op("Clip", &[&log_mag, &lo, &hi], &[]);
        // [n, 2K] → [2n, K]: the harmonic responses of every frame, then the noise's.
        let two_k = ints(g, "filter.split_k", &[k as i64, k as i64]);
        let parts = g.node("Split", &[&log_mag, &two_k], &[None, None], &[("axis", Attr::Int(1))]);
        let log_mag = g.op("Concat", &[&parts[0], &parts[1]], &[("axis", Attr::Int(0))]);

        let design = FilterDesign::new(taps);
        let phase_t = g.constant("filter.design.phase_t", &[k, k], &transpose(&design.phase, k, k));
        let cos_t = g.constant("filter.design.synth_cos_t", &[k, taps], &transpose(&design.synth_cos, taps, k));
        let sin_t = g.constant("filter.design.synth_sin_t", &[k, taps], &transpose(&design.synth_sin, taps, k));
        let phi = g.op("MatMul", &[&log_mag, &phase_t], &[]);
        let mag = g.op("Exp", &[&log_mag], &[]);
        let c = g.op("Cos", &[&phi], &[]);
        let s = g.op("Sin", &[&phi], &[]);
        let re = g.op("Mul", &[&mag, &c], &[]);
        let im = g.op("Mul", &[&mag, &s], &[]);
        let fir_re = g.op("MatMul", &[&re, &cos_t], &[]);
        let fir_im = g.op("MatMul", &[&im, &sin_t], &[]);
        let fir = g.op("Add", &[&fir_re, &fir_im], &[]); // [2n, taps]

        // Full convolution of each frame with its FIR as one batched product with the
        // FIR's Toeplitz matrix, T[i, t] = h[t − i] (zero outside the taps), `span`
        // columns. Read row by row, T is periodic in `span + 1`: it is the FIR padded
        // with zeros to `span + 1`, tiled HOP times and cut to HOP·span. Tile makes it
        // with block copies; a Gather of the same matrix took ONNX Runtime 0.73 ms a
        // frame, three quarters of the vocoder's time.
        let src = g.op("Concat", &[&harm, &noise], &[("axis", Attr::Int(0))]); // [2n, HOP]
        let span = (m + 1) * HOP;
        let pads = ints(g, "filter.fir_pads", &[0, 0, 0, (span + 1 - taps) as i64]);
        let padded = g.op("Pad", &[&fir, &pads], &[]); // [2n, span + 1]
        let repeats = ints(g, "filter.toeplitz_repeats", &[1, HOP as i64]);
        let tiled = g.op("Tile", &[&padded, &repeats], &[]); // [2n, HOP·(span + 1)]
        let toeplitz = slice(g, &tiled, "filter.toeplitz", 0, (HOP * span) as i64, 1);
        let toeplitz_shape = ints(g, "filter.toeplitz_shape", &[-1, HOP as i64, span as i64]);
        let toeplitz = g.op("Reshape", &[&toeplitz, &toeplitz_shape], &[]); // [2n, HOP, span]
        let ax1 = ints(g, "filter.axes_1", &[1]);
        let x = g.op("Unsqueeze", &[&src, &ax1], &[]);
        let y = g.op("MatMul", &[&x, &toeplitz], &[]); // [2n, 1, span]
        let pair_shape = ints(g, "filter.pair_shape", &[2, -1, span as i64]);
        let y = g.op("Reshape", &[&y, &pair_shape], &[]);
        let ax0 = ints(g, "filter.axes_0", &[0]);
        let y = g.op("ReduceSum", &[&y, &ax0], &[("keepdims", Attr::Int(0))]); // [n, span]

        // Overlap-add: piece r of every frame lands r frames later.
        let row = ints(g, "filter.row_shape", &[1, -1]);
        let mut timeline: Option<String> = None;
        for r in 0..=m {
            let piece = slice(g, &y, &format!("filter.piece_{r}"), (r * HOP) as i64, ((r + 1) * HOP) as i64, 1);
            let piece = g.op("Reshape", &[&piece, &row], &[]);
            let pads = ints(g, &format!("filter.piece_{r}.pads"), &[0, (r * HOP) as i64, 0, ((m - r) * HOP) as i64]);
            let piece = g.op("Pad", &[&piece, &pads], &[]);
            timeline = Some(match timeline {
                None => piece,
                Some(acc) => g.op("Add", &[&acc, &piece], &[]),
            });
        }
        let timeline = timeline.expect("m + 1 ≥ 1 pieces");
        // The tail carried from the last call, at the front of this call's timeline.
        let first = slice(g, &y, "filter.first_piece", 0, HOP as i64, 1);
        let first = g.op("Reshape", &[&first, &row], &[]);
        let shape = g.op("Shape", &[&first], &[]);
        let zeros = g.op("ConstantOfShape", &[&shape], &[]);
        let carried = g.op("Concat", &[tail, &zeros], &[("axis", Attr::Int(1))]);
        let timeline = g.op("Add", &[&timeline, &carried], &[]);
        let audio = slice(g, &timeline, "filter.audio", 0, -(taps as i64), 1);
        let rest = slice(g, &timeline, "filter.rest", -(taps as i64), i64::MAX, 1);
        g.node("Identity", &[&rest], &[Some(tail_out)], &[]);
        Ok(audio)
    }

    /// The WaveNet on `input [1, SOURCE_CHANNELS+1, N]`; returns its output `[1,N]`.
    #[cfg(feature = "graph-writer")]
    fn build_wavenet(&self, g: &mut GraphBuilder, w: &Weights, input: &str, io: &Inputs<'_>, state_in: &[String], states: &[StateSpec]) -> Result<String, String> {
        let Inputs { mel, timbre, .. } = *io;
        let (c, s, l) = (self.channels, self.skip_channels, self.layers);
        let lc = (l * 2 * c) as i64;
        let conv = |g: &mut GraphBuilder, x: &str, name: &str, dims: [usize; 3], dilation: usize| -> Result<String, String> {
            let wt = g.constant(&format!("{name}.weight"), &dims, w.get(&format!("{name}.weight"), &dims)?);
            let b = g.constant(&format!("{name}.bias"), &[dims[0]], w.get(&format!("{name}.bias"), &[dims[0]])?);
            Ok(g.op("Conv", &[x, &wt, &b], &[("dilations", Attr::Ints(vec![dilation as i64])), ("kernel_shape", Attr::Ints(vec![dims[2] as i64]))]))
        };

        let mut x = conv(g, input, "input", [c, SOURCE_CHANNELS + 1, 1], 1)?;

        // Frame-rate conditioning: cb = γ·(mel·Wc + bc) + β for every layer at once.
        let wc = g.constant("cond.weight_t", &[N_MELS, l * 2 * c], &transpose(w.get("cond.weight", &[l * 2 * c, N_MELS])?, l * 2 * c, N_MELS));
        let bc = g.constant("cond.bias", &[l * 2 * c], w.get("cond.bias", &[l * 2 * c])?);
        let cond = g.op("MatMul", &[mel, &wc], &[]);
        let cond = g.op("Add", &[&cond, &bc], &[]);
        let [gamma, beta] = super::film::scale_and_shift(g, w, "film", l * 2 * c, timbre, None)?;
        let cb = g.op("Mul", &[&cond, &gamma], &[]);
        let cb = g.op("Add", &[&cb, &beta], &[]);
        // Repeat each frame HOP times: [1,n,K] → [1,n,1,K] → [1,n,HOP,K] → [1,N,K] → [1,K,N].
        let ax2 = g.ints("axes_2", &[2]);
        let cb = g.op("Unsqueeze", &[&cb, &ax2], &[]);
        let rep = g.ints("repeat_shape", &[1, 1, HOP as i64, 1]);
        let cb = g.op("Expand", &[&cb, &rep], &[]);
        let flat = g.ints("flat_shape", &[1, -1, lc]);
        let cb = g.op("Reshape", &[&cb, &flat], &[]);
        let cb = g.op("Transpose", &[&cb], &[("perm", Attr::Ints(vec![0, 2, 1]))]);
        let per_layer = g.ints("layer_split", &vec![2 * c as i64; l]);
        let cbs = g.node("Split", &[&cb, &per_layer], &vec![None; l], &[("axis", Attr::Int(1))]);
        let gamma3 = g.op("Unsqueeze", &[&gamma, &ax2], &[]);
        let gammas = g.node("Split", &[&gamma3, &per_layer], &vec![None; l], &[("axis", Attr::Int(1))]);

        let gate_split = g.ints("gate_split", &[c as i64, c as i64]);
        let rs_split = g.ints("res_skip_split", &[c as i64, s as i64]);
        let end = g.ints("slice_end", &[i64::MAX]);
        let mut skip_sum: Option<String> = None;
        for i in 0..l {
            let d = self.dilation(i);
            let xin = g.op("Concat", &[&state_in[i], &x], &[("axis", Attr::Int(2))]);
            let st = g.ints(&format!("layers.{i}.state_start"), &[-(((KERNEL - 1) * d) as i64)]);
            g.node("Slice", &[&xin, &st, &end, &ax2], &[Some(states[i].output.as_str())], &[]);
            let z = conv(g, &xin, &format!("layers.{i}.conv"), [2 * c, c, KERNEL], d)?;
            let z = g.op("Mul", &[&z, &gammas[i]], &[]);
            let z = g.op("Add", &[&z, &cbs[i]], &[]);
            let ab = g.node("Split", &[&z, &gate_split], &[None, None], &[("axis", Attr::Int(1))]);
            let a = g.op("Tanh", &[&ab[0]], &[]);
            let b = g.op("Sigmoid", &[&ab[1]], &[]);
            let gated = g.op("Mul", &[&a, &b], &[]);
            let rs = conv(g, &gated, &format!("layers.{i}.res_skip"), [c + s, c, 1], 1)?;
            let parts = g.node("Split", &[&rs, &rs_split], &[None, None], &[("axis", Attr::Int(1))]);
            if i + 1 < l {
                x = g.op("Add", &[&x, &parts[0]], &[]);
            }
            skip_sum = Some(match skip_sum {
                None => parts[1].clone(),
                Some(acc) => g.op("Add", &[&acc, &parts[1]], &[]),
            });
        }
        let y = g.op("Relu", &[&skip_sum.expect("at least one layer")], &[]);
        let y = conv(g, &y, "post1", [s, s, 1], 1)?;
        let y = g.op("Relu", &[&y], &[]);
        let y = conv(g, &y, "post2", [1, s, 1], 1)?;
        let ax1 = g.ints("wavenet.axes_1", &[1]);
        Ok(g.op("Squeeze", &[&y, &ax1], &[]))
    }
}
