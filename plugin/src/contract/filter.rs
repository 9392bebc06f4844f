//! The vocoder's per-frame filters: from a log-magnitude response to a causal,
//! minimum-phase FIR.
//!
//! The filter net predicts `log|H|` at `K = taps + 1` bins from 0 Hz to Nyquist
//! (bin `k` at `k·SR/(2·taps)`). A minimum-phase filter with that magnitude has no
//! delay beyond what its response needs, so the filter adds no latency, where a
//! linear-phase one would add `taps/2` samples. Its phase is the Hilbert transform of
//! `log|H|`, computed by the folded real cepstrum on a `N = 2·taps` point grid:
//!
//! `c = IDFT(log|H|)`, `ĉ[0] = c[0]`, `ĉ[n] = 2·c[n]` (0 < n < N/2), `ĉ[N/2] = c[N/2]`,
//! `φ = −Im DFT(ĉ)`, `H = e^{log|H|}·(cos φ + i·sin φ)`, `h = IDFT(H)[0..taps]`,
//!
//! and `h` is tapered over its last half so that the cut to `taps` samples does not
//! ring. Every step is linear except the exponential and the cos/sin, so the whole
//! design is two matrices and three element-wise ops, which training (tch) and the
//! ONNX graph compute alike from the matrices here.

use std::f64::consts::PI;

/// The design matrices for FIRs of `taps` samples.
#[derive(Clone, Debug)]
pub struct FilterDesign {
    pub taps: usize,
    /// `K = taps + 1` bins, 0 Hz to Nyquist.
    pub bins: usize,
    /// `[K, K]`, row-major: `φ = phase · log|H|`.
    pub phase: Vec<f32>,
    /// `[taps, K]`: `h = synth_cos · Re H + synth_sin · Im H` (taper included).
    pub synth_cos: Vec<f32>,
    pub synth_sin: Vec<f32>,
}

impl FilterDesign {
    pub fn new(taps: usize) -> Self {
        let n = 2 * taps;
        let k_bins = taps + 1;
        let nf = n as f64;
        // Weight of bin k in a real inverse DFT over k = 0..N/2.
        let bin_weight = |k: usize| if k == 0 || k == n / 2 { 1.0 } else { 2.0 };
        // Folding weight of cepstral index m.
        let fold = |m: usize| if m == 0 || m == n / 2 { 1.0 } else { 2.0 };
        let mut phase = vec![0f32; k_bins * k_bins];
        for k in 0..k_bins {
            for j in 0..k_bins {
                let mut acc = 0.0;
                for m in 0..=n / 2 {
                    let c = bin_weight(j) * (2.0 * PI * (j * m) as f64 / nf).cos() / nf;
                    acc -= fold(m) * c * (2.0 * PI * (k * m) as f64 / nf).sin();
                }
                phase[k * k_bins + j] = acc as f32;
            }
        }
        let mut synth_cos = vec![0f32; taps * k_bins];
        let mut synth_sin = vec![0f32; taps * k_bins];
        for t in 0..taps {
            let taper = Self::taper(t, taps);
            for k in 0..k_bins {
                let a = 2.0 * PI * (k * t) as f64 / nf;
                synth_cos[t * k_bins + k] = (taper * bin_weight(k) * a.cos() / nf) as f32;
                synth_sin[t * k_bins + k] = (-taper * bin_weight(k) * a.sin() / nf) as f32;
            }
        }
        Self { taps, bins: k_bins, phase, synth_cos, synth_sin }
    }

    /// 1 over the first half, a half-Hann down to 0 over the second.
    fn taper(t: usize, taps: usize) -> f64 {
        let half = taps / 2;
        if t < half {
            1.0
        } else {
            let x = (t - half) as f64 / (taps - half) as f64;
            0.5 + 0.5 * (PI * x).cos()
        }
    }

    /// The FIR for one log-magnitude response (`bins` values), as the graphs compute
    /// it; for tests and tools.
    pub fn impulse_response(&self, log_mag: &[f32]) -> Vec<f32> {
        assert_eq!(log_mag.len(), self.bins);
        let k = self.bins;
        let phi: Vec<f64> = (0..k).map(|r| (0..k).map(|j| self.phase[r * k + j] as f64 * log_mag[j] as f64).sum()).collect();
        let re: Vec<f64> = (0..k).map(|j| (log_mag[j] as f64).exp() * phi[j].cos()).collect();
        let im: Vec<f64> = (0..k).map(|j| (log_mag[j] as f64).exp() * phi[j].sin()).collect();
        (0..self.taps).map(|t| (0..k).map(|j| self.synth_cos[t * k + j] as f64 * re[j] + self.synth_sin[t * k + j] as f64 * im[j]).sum::<f64>() as f32).collect()
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn flat_response_is_an_impulse() {
        let d = FilterDesign::new(64);
        let h = d.impulse_response(&vec![0.0; d.bins]);
        assert!((h[0] - 1.0).abs() < 1e-5, "h[0] = {}", h[0]);
        assert!(h[1..].iter().all(|v| v.abs() < 1e-5));
    }

    #[test]
    fn magnitude_follows_the_request_and_energy_comes_first() {
        let d = FilterDesign::new(128);
        // A smooth low-pass: 0 dB up to a quarter of the band, falling 40 dB after.
        let log_mag: Vec<f32> = (0..d.bins)
            .map(|k| {
                let x = k as f32 / (d.bins - 1) as f32;
                -(4.6 * ((x - 0.25).max(0.0) / 0.75)).min(4.6)
            })
            .collect();
        let h = d.impulse_response(&log_mag);
        // Its response on the same grid, by a direct DFT of the FIR.
        let n = 2 * d.taps;
        for k in (0..d.bins).step_by(8) {
            let (mut re, mut im) = (0f64, 0f64);
            for (t, v) in h.iter().enumerate() {
                let a = 2.0 * PI * (k * t) as f64 / n as f64;
                re += *v as f64 * a.cos();
                im -= *v as f64 * a.sin();
            }
            let got = (re * re + im * im).sqrt().ln();
            assert!((got - log_mag[k] as f64).abs() < 0.1, "bin {k}: asked {} got {got}", log_mag[k]);
        }
        // Minimum phase: most of the energy in the first eighth of the taps.
        let total: f32 = h.iter().map(|v| v * v).sum();
        let early: f32 = h[..d.taps / 8].iter().map(|v| v * v).sum();
        assert!(early > 0.95 * total, "early energy {early} of {total}");
    }
}
