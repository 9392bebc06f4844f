//! Griffin-Lim from a log-mel spectrogram: the spectrogram-inversion path that
//! Melwave's vocoder replaces, as a baseline. The STFT uses exactly the log-mel's
//! framing (n_fft 1024, hop 128, periodic Hann, frame `t` centred on the middle of
//! hop `t`), so the ground-truth mel describes the magnitudes being inverted.
//!
//! Mel → linear magnitude: each mel band's energy is spread back over the FFT bins it
//! covers, divided by the band's total weight, and the bands overlapping a bin are
//! averaged with their filter weights (a fast, non-negative stand-in for NNLS). Then
//! the fast Griffin-Lim of Perraudin et al. (momentum 0.99), phase seeded.

use melwave::contract::{N_FFT, N_MELS, SAMPLE_RATE};
use melwave::features::mel::{frame_start, mel_filterbank};
use melwave::features::stft::{hann, InverseSpectrum, Spectrum};
use rand::rngs::Xoshiro256PlusPlus;
use rand::{RngExt, SeedableRng};
use realfft::num_complex::Complex32;

pub const BINS: usize = N_FFT / 2 + 1;
const MOMENTUM: f32 = 0.99;

/// The log-mel's STFT, forward and least-squares inverse.
pub struct Stft {
    forward: Spectrum,
    inverse: InverseSpectrum,
    window: Vec<f32>,
}

impl Default for Stft {
    fn default() -> Self {
        Self::new()
    }
}

impl Stft {
    pub fn new() -> Self {
        Self { forward: Spectrum::hann(N_FFT), inverse: InverseSpectrum::new(N_FFT), window: hann(N_FFT) }
    }

    /// `frames × BINS` complex spectrum of `audio`.
    pub fn analyse(&mut self, audio: &[f32], frames: usize) -> Vec<Complex32> {
        let mut out = Vec::with_capacity(frames * BINS);
        for t in 0..frames {
            out.extend_from_slice(self.forward.frame(audio, frame_start(t)));
        }
        out
    }

    /// Least-squares overlap-add inverse of [`Stft::analyse`], `len` samples.
    pub fn synthesise(&mut self, spec: &[Complex32], len: usize) -> Vec<f32> {
        let frames = spec.len() / BINS;
        let mut out = vec![0.0f32; len];
        let mut norm = vec![0.0f32; len];
        for t in 0..frames {
            let frame = self.inverse.frame(&spec[t * BINS..(t + 1) * BINS]);
            let start = frame_start(t);
            for (i, (b, w)) in frame.iter().zip(&self.window).enumerate() {
                let s = start + i as i64;
                if s >= 0 && (s as usize) < len {
                    out[s as usize] += b * w;
                    norm[s as usize] += w * w;
                }
            }
        }
        for (o, n) in out.iter_mut().zip(&norm) {
            if *n > 1e-6 {
                *o /= n;
            }
        }
        out
    }
}

/// Linear STFT magnitudes (`frames × BINS`) from log-mel frames (`frames × N_MELS`).
pub fn mel_to_linear(log_mel: &[f32]) -> Vec<f32> {
    let fb = mel_filterbank(SAMPLE_RATE as f64, N_FFT, N_MELS, 0.0, SAMPLE_RATE as f64 / 2.0);
    let band_weight: Vec<f32> = (0..N_MELS).map(|m| fb[m * BINS..(m + 1) * BINS].iter().sum()).collect();
    let frames = log_mel.len() / N_MELS;
    let mut out = vec![0.0f32; frames * BINS];
    for t in 0..frames {
        let mel = &log_mel[t * N_MELS..(t + 1) * N_MELS];
        for b in 0..BINS {
            let (mut num, mut den) = (0.0f32, 0.0f32);
            for m in 0..N_MELS {
                let w = fb[m * BINS + b];
                if w > 0.0 && band_weight[m] > 0.0 {
                    num += w * mel[m].exp() / band_weight[m];
                    den += w;
                }
            }
            out[t * BINS + b] = if den > 0.0 { num / den } else { 0.0 };
        }
    }
    out
}

/// Spectral convergence ‖|X| − S‖ / ‖S‖ of a spectrum against target magnitudes.
pub fn spectral_convergence(spec: &[Complex32], target: &[f32]) -> f64 {
    let (mut num, mut den) = (0.0f64, 0.0f64);
    for (c, &s) in spec.iter().zip(target) {
        num += (c.norm() as f64 - s as f64).powi(2);
        den += (s as f64).powi(2);
    }
    (num / den.max(1e-20)).sqrt()
}

/// Fast Griffin-Lim: `len` samples whose STFT magnitude approaches `magnitude`
/// (`frames × BINS`). Returns the audio and the spectral convergence after each
/// iteration.
pub fn griffin_lim(stft: &mut Stft, magnitude: &[f32], len: usize, iterations: usize, seed: u64) -> (Vec<f32>, Vec<f64>) {
    let frames = magnitude.len() / BINS;
    let mut rng = Xoshiro256PlusPlus::seed_from_u64(seed);
    let mut spec: Vec<Complex32> = magnitude.iter().map(|&m| Complex32::from_polar(m, rng.random_range(0.0..std::f32::consts::TAU))).collect();
    let mut previous = vec![Complex32::default(); spec.len()];
    let mut history = Vec::with_capacity(iterations);
    let mut audio = stft.synthesise(&spec, len);
    for _ in 0..iterations {
        let rebuilt = stft.analyse(&audio, frames);
        history.push(spectral_convergence(&rebuilt, magnitude));
        for ((s, (r, p)), &m) in spec.iter_mut().zip(rebuilt.iter().zip(previous.iter_mut())).zip(magnitude) {
            let accelerated = *r + (*r - *p) * MOMENTUM;
            *p = *r;
            let n = accelerated.norm();
            *s = if n > 1e-12 { accelerated * (m / n) } else { Complex32::new(m, 0.0) };
        }
        audio = stft.synthesise(&spec, len);
    }
    (audio, history)
}
