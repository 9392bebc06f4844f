//! The training losses: Mel2Mel's tanh-log-abs MSE (Kim et al.'s Mel2Mel) with a
//! frame-level term, and the
//! vocoder's multi-resolution STFT loss (Parallel WaveGAN) plus a log-mel L1 term
//! (HiFi-GAN), which weighs the level of every band evenly and so pulls the loudness
//! of attacks, where the STFT terms alone let the vocoder stay soft.

use std::sync::OnceLock;

use melwave::contract::{HOP, LOG_FLOOR, N_FFT, N_MELS, SAMPLE_RATE};
use melwave::features::mel::mel_filterbank;
use melwave::features::LogMel;
use tch::{Kind, Tensor};

/// Mel2Mel's loss on log-mels `[B, T, 80]`, each frame weighted by `weight`
/// `[B, T, 1]` (0 leaves it out): Kim et al.'s tanh-log-abs MSE,
/// `E(tanh(¼·log S_true) − tanh(¼·log S_pred))²` (the mels are natural logs of
/// magnitude), plus `level` times the L1 between the frames' levels.
///
/// tanh-log-abs squashes the quiet end of the range (a band at −60 dB moves it a
/// seventh as much as one at −25 dB), so alone it lets soft notes come out nearly as
/// loud as hard ones. A frame's level is the loud bands' business, and the level term
/// holds it at every velocity.
pub fn mel2mel_loss(pred: &Tensor, target: &Tensor, weight: &Tensor, level: f64) -> Tensor {
    let tanh = ((target / 4.0).tanh() - (pred / 4.0).tanh()).square().mean_dim([-1i64].as_slice(), true, Kind::Float);
    let levels = (frame_level(pred) - frame_level(target)).abs();
    frame_mean(tanh + levels * level, weight)
}

/// The mean of per-frame values `[B, T, 1]`, each frame weighted by `weight` `[B, T, 1]`.
fn frame_mean(per_frame: Tensor, weight: &Tensor) -> Tensor {
    (per_frame * weight).sum(Kind::Float) / weight.sum(Kind::Float).clamp_min(1.0)
}

/// Each band's |error| `[B, T, 80]` between two log-mels, both floored at [`BAND_FLOOR`].
fn band_errors(pred: &Tensor, target: &Tensor) -> Tensor {
    (pred.clamp_min(BAND_FLOOR) - target.clamp_min(BAND_FLOOR)).abs()
}

/// The L1 between log-mels `[B, T, 80]` band by band, in nats, both floored at
/// [`BAND_FLOOR`], each frame weighted by `weight` `[B, T, 1]`.
///
/// tanh-log-abs's gradient vanishes where the prediction sits near silence: at −80 dB
/// tanh′ is 0.04, so a band predicted silent where the truth plays at −20 dB pulls
/// 25 times more weakly than a band that is merely a little off. That is how Mel2Mel
/// left its rare high notes (keys 97–104 in a held-out piece) 26–53 dB too soft while
/// their energy went to the wrong bands, where the frame's level still matched. This
/// term pulls every band alike, however far off; the floor keeps it from chasing
/// detail below anything audible.
pub fn band_l1(pred: &Tensor, target: &Tensor, weight: &Tensor) -> Tensor {
    frame_mean(band_errors(pred, target).mean_dim([-1i64].as_slice(), true, Kind::Float), weight)
}

/// [`band_l1`] with each band weighted by its share of the true frame's power: the
/// expected error, in nats, of the bands that carry the frame's energy.
///
/// The band L1 averages over 80 bands, and a high note puts most of its power in two
/// or three of them. So a Mel2Mel trained on the band L1 can leave a high note
/// 30 dB soft *in its own training pieces*: it puts the energy in the low bands, where
/// the frame's level matches, and the 2 bands it misses are 2.5 % of the band term.
/// The vocoder then has little to play at the partials its source carries, and the
/// note comes out soft. Weighted by power, missing the bands that hold the frame's
/// energy costs the whole error however few they are; a frame is normalised to itself,
/// so a soft note's loud bands count as much as a hard note's.
pub fn loud_band_l1(pred: &Tensor, target: &Tensor, weight: &Tensor) -> Tensor {
    // The mels are log magnitudes, so a band's power is exp(2 · mel).
    let share = (target.clamp_min(BAND_FLOOR) * 2.0).softmax(-1, Kind::Float);
    frame_mean((band_errors(pred, target) * share).sum_dim_intlist([-1i64].as_slice(), true, Kind::Float), weight)
}

/// Below this a band counts as silent for [`band_l1`] and [`loud_band_l1`].
pub const BAND_FLOOR_DB: f64 = -80.0;
/// [`BAND_FLOOR_DB`] as a log-mel value (a natural log of magnitude): −9.2.
pub const BAND_FLOOR: f64 = BAND_FLOOR_DB / 20.0 * std::f64::consts::LN_10;

/// Mel2Mel's band-L1 weight: an average error of 0.6 nats then costs about as much as
/// the tanh-log-abs MSE does late in training, and a silent-predicted loud band pulls
/// about twice as hard as through tanh-log-abs alone.
pub const MEL2MEL_BAND_WEIGHT: f64 = 0.02;

/// Mel2Mel's weight on [`loud_band_l1`] for a new run unless it says otherwise: none, so
/// a run from scratch learns the frame's shape before the loud bands are weighted.
pub const MEL2MEL_LOUD_BAND_WEIGHT: f64 = 0.0;

/// Each log-mel frame's level `[B, T, 1]`: the log of its summed band power, floored
/// [`LEVEL_RANGE_DB`] below a full-scale sine's, so that near-silent frames, whose
/// level the net cannot and need not match, count as one.
fn frame_level(mel: &Tensor) -> Tensor {
    static FULL_SCALE: OnceLock<f64> = OnceLock::new();
    let full_scale = *FULL_SCALE.get_or_init(|| {
        let sine: Vec<f32> = (0..8 * N_FFT).map(|n| (2.0 * std::f64::consts::PI * 1000.0 * n as f64 / SAMPLE_RATE as f64).sin() as f32).collect();
        let mel = LogMel::new().compute(&sine);
        let frame = &mel[(mel.len() / N_MELS / 2) * N_MELS..][..N_MELS];
        frame.iter().map(|&m| (2.0 * m as f64).exp()).sum::<f64>().ln()
    });
    (mel * 2.0).logsumexp([-1i64].as_slice(), true).clamp_min(full_scale - LEVEL_RANGE_DB / 10.0 * std::f64::consts::LN_10)
}

/// The level range [`frame_level`] tells apart: a velocity-20 note is about 60 dB
/// below a full-scale sine, and its decay is heard 20 dB further down.
pub const LEVEL_RANGE_DB: f64 = 80.0;

/// Mel2Mel's level weight: the level L1 (in nats of power) then weighs about as much
/// as the tanh-log-abs MSE does late in training.
pub const MEL2MEL_LEVEL_WEIGHT: f64 = 0.02;

/// Multi-resolution STFT loss: spectral convergence plus log-magnitude L1, summed over
/// three (n_fft, hop) resolutions.
pub struct MultiResStft {
    resolutions: Vec<(i64, i64, Tensor)>,
}

impl Default for MultiResStft {
    fn default() -> Self {
        let r = |n: i64, hop: i64| (n, hop, Tensor::hann_window(n, (Kind::Float, tch::Device::Cpu)));
        Self { resolutions: vec![r(256, 64), r(1024, 256), r(2048, 512)] }
    }
}

impl MultiResStft {
    /// `pred`, `target`: `[B, N]`. Returns the spectral-convergence and log-magnitude
    /// terms, each summed over the resolutions.
    // New tensors, not `+=`: tch's `+=` adds in place, which autograd must not see.
    #[allow(clippy::assign_op_pattern)]
    pub fn terms(&self, pred: &Tensor, target: &Tensor) -> (Tensor, Tensor) {
        let zero = || Tensor::zeros([], (Kind::Float, pred.device()));
        let (mut sc_sum, mut mag_sum) = (zero(), zero());
        for (n, hop, win) in &self.resolutions {
            let win = win.to_device(pred.device());
            let spec = |x: &Tensor| x.stft(*n, *hop, *n, Some(&win), false, true, true, false).abs().clamp_min(1e-5);
            let (sp, st) = (spec(pred), spec(target));
            sc_sum = sc_sum + (&st - &sp).square().sum(Kind::Float).sqrt() / st.square().sum(Kind::Float).sqrt().clamp_min(1e-5);
            mag_sum = mag_sum + (st.log() - sp.log()).abs().mean(Kind::Float);
        }
        (sc_sum, mag_sum)
    }
}

/// L1 between the log-mels of two signals, computed exactly as the shared `LogMel`
/// frames them (windows centred on each hop, zeros outside the signal), so the term
/// measures the very features Mel2Mel predicts.
pub struct MelL1 {
    window: Tensor,
    /// `[n_fft/2+1, 80]`.
    filterbank: Tensor,
}

impl Default for MelL1 {
    fn default() -> Self {
        let fb = mel_filterbank(SAMPLE_RATE as f64, N_FFT, N_MELS, 0.0, SAMPLE_RATE as f64 / 2.0);
        let bins = (N_FFT / 2 + 1) as i64;
        Self {
            window: Tensor::hann_window(N_FFT as i64, (Kind::Float, tch::Device::Cpu)),
            filterbank: Tensor::from_slice(&fb).reshape([N_MELS as i64, bins]).transpose(0, 1).contiguous(),
        }
    }
}

impl MelL1 {
    /// Log-mel `[B, N/HOP, 80]` of `x` `[B, N]`.
    pub fn log_mel(&self, x: &Tensor) -> Tensor {
        let pad = (N_FFT / 2 - HOP / 2) as i64;
        let padded = x.constant_pad_nd([pad, pad]);
        let spec = padded.stft(N_FFT as i64, HOP as i64, N_FFT as i64, Some(&self.window.to_device(x.device())), false, true, true, false).abs();
        spec.transpose(1, 2).matmul(&self.filterbank.to_device(x.device())).clamp_min(LOG_FLOOR.exp() as f64).log()
    }

    pub fn loss(&self, pred: &Tensor, target: &Tensor) -> Tensor {
        (self.log_mel(pred) - self.log_mel(target)).abs().mean(Kind::Float)
    }
}

/// L1 between the frame levels (log mean square over 512-sample windows, hop 128) of
/// two signals. The log-magnitude and log-mel terms count every bin alike, and most
/// bins are the quiet ones between and above the partials; a net that cannot yet
/// shape its noise there lowers its whole gain to please them, and the loud bins,
/// which make the level, come out soft. This term sees only the level, which the loud
/// bins dominate, so it holds the loudness of attacks and notes where the ear hears it.
pub fn frame_level_l1(pred: &Tensor, target: &Tensor) -> Tensor {
    let level = |x: &Tensor| x.square().unsqueeze(1).avg_pool1d([512], [HOP as i64], [0], false, true).clamp_min(1e-8).log();
    (level(pred) - level(target)).abs().mean(Kind::Float)
}
