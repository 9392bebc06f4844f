//! Short-time spectra of real signals: the one window, framing and FFT that the
//! log-mel features, Griffin-Lim, the CQT and the evaluation's metrics share.
//!
//! The FFTs are real-to-complex (`realfft`): every signal here is real, and a real
//! FFT of `n` points costs about half a complex one and returns only the `n/2 + 1`
//! bins that are not mirror images.
//!
//! A frame is the `window.len()` samples from a start that may lie before the signal
//! or run past its end: samples outside the signal count as zeros, so a frame never
//! depends on how much audio follows it. A window shorter than the FFT is zero-padded
//! at the end, for finer bins than the window's own length gives.

use std::sync::Arc;

use realfft::num_complex::Complex32;
use realfft::{ComplexToReal, RealFftPlanner, RealToComplex};

/// A periodic Hann window of `n` points (the DFT-even form, which sums to a constant
/// under overlap-add at any hop that divides `n / 2`).
pub fn hann(n: usize) -> Vec<f32> {
    (0..n).map(|i| (0.5 - 0.5 * (std::f64::consts::TAU * i as f64 / n as f64).cos()) as f32).collect()
}

/// Start of frame `t` when frames are centred on the middle of each hop, the framing
/// of the log-mel features: frame `t` then describes the hop `[t·hop, (t+1)·hop)`.
pub fn hop_centred_start(t: usize, hop: usize, window: usize) -> i64 {
    (t * hop + hop / 2) as i64 - (window / 2) as i64
}

/// Copies `audio[start..start + out.len()]` into `out`, with zeros outside the signal.
fn gather(audio: &[f32], start: i64, out: &mut [f32]) {
    for (i, o) in out.iter_mut().enumerate() {
        let s = start + i as i64;
        *o = if s >= 0 && (s as usize) < audio.len() { audio[s as usize] } else { 0.0 };
    }
}

/// Windowed forward spectra of frames of one size. Holds its buffers, so computing a
/// frame allocates nothing.
pub struct Spectrum {
    fft: Arc<dyn RealToComplex<f32>>,
    window: Vec<f32>,
    input: Vec<f32>,
    output: Vec<Complex32>,
    scratch: Vec<Complex32>,
}

impl Spectrum {
    /// An `n_fft`-point spectrum of frames weighted by `window` (at most `n_fft` long).
    pub fn new(n_fft: usize, window: Vec<f32>) -> Self {
        assert!(window.len() <= n_fft, "a {}-point window does not fit a {n_fft}-point FFT", window.len());
        let fft = RealFftPlanner::<f32>::new().plan_fft_forward(n_fft);
        let (input, output, scratch) = (fft.make_input_vec(), fft.make_output_vec(), fft.make_scratch_vec());
        Self { fft, window, input, output, scratch }
    }

    /// An `n`-point spectrum of Hann-windowed frames.
    pub fn hann(n: usize) -> Self {
        Self::new(n, hann(n))
    }

    pub fn n_fft(&self) -> usize {
        self.input.len()
    }

    /// Number of bins, `n_fft / 2 + 1`.
    pub fn bins(&self) -> usize {
        self.output.len()
    }

    /// The spectrum (bins 0 to Nyquist) of the frame of `audio` that starts at sample
    /// `start`.
    pub fn frame(&mut self, audio: &[f32], start: i64) -> &[Complex32] {
        let w = self.window.len();
        gather(audio, start, &mut self.input[..w]);
        for (x, g) in self.input[..w].iter_mut().zip(&self.window) {
            *x *= g;
        }
        self.input[w..].fill(0.0);
        self.fft.process_with_scratch(&mut self.input, &mut self.output, &mut self.scratch).expect("buffers are the plan's own sizes");
        &self.output
    }
}

/// Inverse of [`Spectrum`] frames: the real signal of a half spectrum.
pub struct InverseSpectrum {
    fft: Arc<dyn ComplexToReal<f32>>,
    input: Vec<Complex32>,
    output: Vec<f32>,
    scratch: Vec<Complex32>,
}

impl InverseSpectrum {
    pub fn new(n_fft: usize) -> Self {
        let fft = RealFftPlanner::<f32>::new().plan_fft_inverse(n_fft);
        let (input, output, scratch) = (fft.make_input_vec(), fft.make_output_vec(), fft.make_scratch_vec());
        Self { fft, input, output, scratch }
    }

    /// The `n_fft` samples whose spectrum is `half` (bins 0 to Nyquist), scaled by
    /// `1 / n_fft` so that it inverts [`Spectrum::frame`] of an unwindowed frame. The
    /// imaginary parts of the DC and Nyquist bins, which no real signal has, are
    /// dropped.
    pub fn frame(&mut self, half: &[Complex32]) -> &[f32] {
        self.input.copy_from_slice(half);
        let last = self.input.len() - 1;
        self.input[0].im = 0.0;
        self.input[last].im = 0.0;
        self.fft.process_with_scratch(&mut self.input, &mut self.output, &mut self.scratch).expect("buffers are the plan's own sizes, DC and Nyquist real");
        let scale = 1.0 / self.output.len() as f32;
        for x in self.output.iter_mut() {
            *x *= scale;
        }
        &self.output
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn a_bin_centred_sine_lands_in_its_bin_with_the_windows_gain() {
        let n = 256;
        let mut s = Spectrum::hann(n);
        let audio: Vec<f32> = (0..n).map(|i| (std::f32::consts::TAU * 8.0 * i as f32 / n as f32).cos()).collect();
        let spec = s.frame(&audio, 0);
        assert_eq!(spec.len(), n / 2 + 1);
        // A periodic Hann window has gain n/2; a unit cosine puts half of it in bin 8.
        assert!((spec[8].norm() - n as f32 / 4.0).abs() < 1e-3, "{}", spec[8].norm());
        // Hann leaks only into the neighbouring bins.
        assert!(spec[11].norm() < 1e-3 && spec[5].norm() < 1e-3);
    }

    #[test]
    fn samples_outside_the_signal_count_as_zeros() {
        let mut s = Spectrum::new(8, vec![1.0; 8]);
        let dc = s.frame(&[1.0, 1.0], -6)[0].re;
        assert_eq!(dc, 2.0);
        assert_eq!(s.frame(&[1.0, 1.0], 2)[0].re, 0.0);
    }

    #[test]
    fn the_inverse_returns_an_unwindowed_frame() {
        let n = 64;
        let audio: Vec<f32> = (0..n).map(|i| ((i * 7919) % 23) as f32 / 23.0 - 0.5).collect();
        let half = Spectrum::new(n, vec![1.0; n]).frame(&audio, 0).to_vec();
        let back = InverseSpectrum::new(n).frame(&half).to_vec();
        for (a, b) in audio.iter().zip(&back) {
            assert!((a - b).abs() < 1e-5);
        }
    }
}
