//! The training losses: Mel2Mel's tanh-log-abs MSE (Kim et al.'s Mel2Mel), and the
//! vocoder's multi-resolution STFT loss (Parallel WaveGAN) plus a log-mel L1 term
//! (HiFi-GAN), which weighs the level of every band evenly and so pulls the loudness
//! of attacks, where the STFT terms alone let the vocoder stay soft.

use melwave::contract::{HOP, LOG_FLOOR, N_FFT, N_MELS, SAMPLE_RATE};
use melwave::features::mel::mel_filterbank;
use tch::{Kind, Tensor};

/// Mel2Mel: tanh-log-abs MSE, `E(tanh(¼·log S_true) − tanh(¼·log S_pred))²`. The mels are
/// already natural logs of magnitude.
pub fn tanh_log_mse(pred: &Tensor, target: &Tensor) -> Tensor {
    ((target / 4.0).tanh() - (pred / 4.0).tanh()).square().mean(Kind::Float)
}

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
        let zero = || Tensor::zeros([], (Kind::Float, tch::Device::Cpu));
        let (mut sc_sum, mut mag_sum) = (zero(), zero());
        for (n, hop, win) in &self.resolutions {
            let spec = |x: &Tensor| x.stft(*n, *hop, *n, Some(win), false, true, true, false).abs().clamp_min(1e-5);
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
