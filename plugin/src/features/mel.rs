//! The log-mel spectrogram: the Mel2Mel target and the vocoder's conditioning.
//!
//! 80 Slaney-scale bands with Slaney area normalisation (librosa's defaults) from
//! 0 Hz to Nyquist, n_fft 1024 with a periodic Hann window, hop 128, natural log
//! of the magnitude clipped at −100 dB (ln 1e-5).
//!
//! Frame `t` describes the hop `[t·128, (t+1)·128)`: its window is centred on the
//! middle of that hop, so the vocoder block it conditions sits at the window's centre.
//! Samples before the start or past the end of the signal count as zeros.

use super::stft::{hop_centred_start, Spectrum};
use crate::contract::{HOP, LOG_FLOOR, N_FFT, N_MELS, SAMPLE_RATE};

// The Slaney mel scale: linear below 1 kHz, logarithmic above.
const F_SP: f64 = 200.0 / 3.0;
const MIN_LOG_HZ: f64 = 1000.0;
const MIN_LOG_MEL: f64 = MIN_LOG_HZ / F_SP;

fn log_step() -> f64 {
    (6.4f64).ln() / 27.0
}

fn hz_to_mel(hz: f64) -> f64 {
    if hz >= MIN_LOG_HZ {
        MIN_LOG_MEL + (hz / MIN_LOG_HZ).ln() / log_step()
    } else {
        hz / F_SP
    }
}

fn mel_to_hz(mel: f64) -> f64 {
    if mel >= MIN_LOG_MEL {
        MIN_LOG_HZ * (log_step() * (mel - MIN_LOG_MEL)).exp()
    } else {
        mel * F_SP
    }
}

/// Mel filterbank, `n_mels × (n_fft/2 + 1)`, row-major (librosa `mel(htk=False, norm='slaney')`).
pub fn mel_filterbank(sample_rate: f64, n_fft: usize, n_mels: usize, fmin: f64, fmax: f64) -> Vec<f32> {
    let n_bins = n_fft / 2 + 1;
    let fft_freqs: Vec<f64> = (0..n_bins).map(|i| i as f64 * sample_rate / n_fft as f64).collect();
    let (mmin, mmax) = (hz_to_mel(fmin), hz_to_mel(fmax));
    let pts: Vec<f64> = (0..n_mels + 2).map(|i| mel_to_hz(mmin + (mmax - mmin) * i as f64 / (n_mels + 1) as f64)).collect();
    let mut fb = vec![0f32; n_mels * n_bins];
    for m in 0..n_mels {
        let (lo, c, hi) = (pts[m], pts[m + 1], pts[m + 2]);
        let enorm = 2.0 / (hi - lo);
        for (b, &f) in fft_freqs.iter().enumerate() {
            let up = (f - lo) / (c - lo);
            let down = (hi - f) / (hi - c);
            let w = up.min(down).max(0.0);
            fb[m * n_bins + b] = (w * enorm) as f32;
        }
    }
    fb
}

/// Start of the window of log-mel frame `t`: centred on the middle of hop `t`.
pub fn frame_start(t: usize) -> i64 {
    hop_centred_start(t, HOP, N_FFT)
}

pub struct LogMel {
    spectrum: Spectrum,
    filterbank: Vec<f32>,
    mag: Vec<f32>,
}

impl Default for LogMel {
    fn default() -> Self {
        Self::new()
    }
}

impl LogMel {
    pub fn new() -> Self {
        Self { spectrum: Spectrum::hann(N_FFT), filterbank: mel_filterbank(SAMPLE_RATE as f64, N_FFT, N_MELS, 0.0, SAMPLE_RATE as f64 / 2.0), mag: vec![0.0; N_FFT / 2 + 1] }
    }

    /// Number of frames for a signal of `len` samples: one per started hop.
    pub fn n_frames(len: usize) -> usize {
        len.div_ceil(HOP)
    }

    /// Log-mel of frame `t` of `audio`, written into `out` (length `N_MELS`).
    pub fn frame(&mut self, audio: &[f32], t: usize, out: &mut [f32]) {
        for (m, c) in self.mag.iter_mut().zip(self.spectrum.frame(audio, frame_start(t))) {
            *m = c.norm();
        }
        let n_bins = self.mag.len();
        for (m, o) in out.iter_mut().enumerate() {
            let row = &self.filterbank[m * n_bins..(m + 1) * n_bins];
            let e: f32 = row.iter().zip(&self.mag).map(|(w, x)| w * x).sum();
            *o = e.max(LOG_FLOOR.exp()).ln();
        }
    }

    /// Whole-signal log-mel, `n_frames × N_MELS`, row-major.
    pub fn compute(&mut self, audio: &[f32]) -> Vec<f32> {
        let n = Self::n_frames(audio.len());
        let mut out = vec![0.0; n * N_MELS];
        for t in 0..n {
            self.frame(audio, t, &mut out[t * N_MELS..(t + 1) * N_MELS]);
        }
        out
    }
}
