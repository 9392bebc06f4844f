//! The losses of shared/ARCHITECTURE.md.

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
    /// `pred`, `target`: `[B, N]`. Returns (total, spectral convergence, log-magnitude L1).
    pub fn loss(&self, pred: &Tensor, target: &Tensor) -> (Tensor, f64, f64) {
        let mut total = Tensor::zeros([], (Kind::Float, tch::Device::Cpu));
        let (mut sc_sum, mut mag_sum) = (0.0, 0.0);
        for (n, hop, win) in &self.resolutions {
            let spec = |x: &Tensor| x.stft(*n, *hop, *n, Some(win), false, true, true, false).abs().clamp_min(1e-5);
            let (sp, st) = (spec(pred), spec(target));
            let sc = (&st - &sp).square().sum(Kind::Float).sqrt() / st.square().sum(Kind::Float).sqrt().clamp_min(1e-5);
            let mag = (st.log() - sp.log()).abs().mean(Kind::Float);
            sc_sum += sc.double_value(&[]);
            mag_sum += mag.double_value(&[]);
            total = total + sc + mag;
        }
        (total, sc_sum, mag_sum)
    }
}
