//! The McLeod pitch method (McLeod & Wyvill, "A smarter way to find pitch", 2005),
//! allocation-free once built, for the audio thread.
//!
//! The `pitch-detection` crate implements the same method, but plans its FFT on
//! every call (an allocation each time), which the audio thread may not do; the
//! tests check this one against it.
//!
//! The normalised square difference `n(τ) = 2·r(τ) / m(τ)` of a window (`r` its
//! autocorrelation, through one real FFT each way; `m` the summed energy of the two
//! overlapping parts, updated lag by lag) is 1 at the period of a periodic signal.
//! Its "key maxima" are the highest point of each positive lobe after the first
//! negative zero crossing; the pitch is the first key maximum within [`PEAK_RATIO`]
//! of the highest one (which keeps octave errors away), refined by a parabola
//! through its neighbours, and its height is the clarity.

use std::sync::Arc;

use realfft::num_complex::Complex32;
use realfft::{ComplexToReal, RealFftPlanner, RealToComplex};

/// A key maximum this close to the highest one is taken (MPM's `k`).
pub const PEAK_RATIO: f32 = 0.9;

#[derive(Clone, Copy, Debug, PartialEq)]
pub struct Pitch {
    pub frequency: f32,
    /// How periodic the window is at that frequency, 0..1.
    pub clarity: f32,
}

pub struct McLeod {
    size: usize,
    forward: Arc<dyn RealToComplex<f32>>,
    inverse: Arc<dyn ComplexToReal<f32>>,
    padded: Vec<f32>,
    spectrum: Vec<Complex32>,
    scratch: Vec<Complex32>,
    nsdf: Vec<f32>,
}

impl McLeod {
    /// For windows of `size` samples.
    pub fn new(size: usize) -> Self {
        let size = size.max(4);
        let n = 2 * size;
        let mut planner = RealFftPlanner::<f32>::new();
        let (forward, inverse) = (planner.plan_fft_forward(n), planner.plan_fft_inverse(n));
        let scratch = vec![Complex32::default(); forward.get_scratch_len().max(inverse.get_scratch_len())];
        Self { size, padded: vec![0.0; n], spectrum: forward.make_output_vec(), forward, inverse, scratch, nsdf: vec![0.0; size / 2] }
    }

    /// The pitch of `window` (`size` samples at `rate`) between `lowest` and
    /// `highest` Hz, or None when it has no clear period there or is too quiet (mean
    /// square below `floor`).
    pub fn pitch(&mut self, window: &[f32], rate: f32, lowest: f32, highest: f32, floor: f32) -> Option<Pitch> {
        debug_assert_eq!(window.len(), self.size);
        let energy: f32 = window.iter().map(|v| v * v).sum();
        // A NaN energy fails this too.
        let loud_enough = energy / self.size as f32 >= floor;
        if !loud_enough {
            return None;
        }
        self.padded[..self.size].copy_from_slice(window);
        self.padded[self.size..].fill(0.0);
        self.forward.process_with_scratch(&mut self.padded, &mut self.spectrum, &mut self.scratch).ok()?;
        for c in self.spectrum.iter_mut() {
            *c = Complex32::new(c.norm_sqr(), 0.0);
        }
        self.inverse.process_with_scratch(&mut self.spectrum, &mut self.padded, &mut self.scratch).ok()?;
        // The inverse is unnormalised: r(τ) = padded[τ] / n.
        let scale = 1.0 / (2 * self.size) as f32;
        // Lags up to half the window: a lobe at the lowest pitch's period must close
        // before the end to have a top.
        let max_lag = self.nsdf.len();
        let longest = (rate / lowest.max(1.0)) as usize + 1;
        let min_lag = ((rate / highest.max(1.0)) as usize).max(1);
        let mut m = 2.0 * energy;
        for tau in 0..max_lag {
            if tau > 0 {
                m -= window[tau - 1] * window[tau - 1] + window[self.size - tau] * window[self.size - tau];
            }
            self.nsdf[tau] = if m > 1e-12 { 2.0 * self.padded[tau] * scale / m } else { 0.0 };
        }
        let n = &self.nsdf[..max_lag];
        // Key maxima: the top of each positive lobe after the first negative crossing.
        let mut key: [(usize, f32); 32] = [(0, 0.0); 32];
        let mut count = 0;
        let mut tau = n.iter().position(|&v| v < 0.0)?;
        while tau < n.len() && count < key.len() {
            while tau < n.len() && n[tau] <= 0.0 {
                tau += 1;
            }
            let mut best = (tau, f32::NEG_INFINITY);
            while tau < n.len() && n[tau] > 0.0 {
                if n[tau] > best.1 {
                    best = (tau, n[tau]);
                }
                tau += 1;
            }
            // A lobe cut off by the end of the lags has no top yet.
            if best.1.is_finite() && tau < n.len() {
                key[count] = best;
                count += 1;
            }
        }
        let highest_peak = key[..count].iter().map(|k| k.1).fold(0.0f32, f32::max);
        let &(t, _) = key[..count].iter().find(|k| k.1 >= PEAK_RATIO * highest_peak && k.0 >= min_lag && k.0 <= longest)?;
        if t == 0 || t + 1 >= n.len() {
            return None;
        }
        let (a, b, c) = (n[t - 1], n[t], n[t + 1]);
        let denom = a - 2.0 * b + c;
        let shift = if denom.abs() > 1e-12 { (0.5 * (a - c) / denom).clamp(-0.5, 0.5) } else { 0.0 };
        let clarity = (b - 0.25 * (a - c) * shift).clamp(0.0, 1.0);
        let frequency = rate / (t as f32 + shift);
        (frequency.is_finite() && (lowest..=highest).contains(&frequency)).then_some(Pitch { frequency, clarity })
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use pitch_detection::detector::mcleod::McLeodDetector;
    use pitch_detection::detector::PitchDetector;

    fn tone(f: f32, rate: f32, n: usize, harmonics: &[f32]) -> Vec<f32> {
        (0..n).map(|i| harmonics.iter().enumerate().map(|(h, a)| a * (std::f32::consts::TAU * f * (h + 1) as f32 * i as f32 / rate).sin()).sum()).collect()
    }

    /// Tones across the tracked range, pure and with a weak fundamental, agree with the
    /// `pitch-detection` crate's McLeod detector (where it finds one; its estimate
    /// strays up to ~10 cents at low pitches), and with the truth within two cents.
    #[test]
    fn finds_the_pitch_the_reference_implementation_finds() {
        let (rate, n) = (48_000.0, 2048);
        let mut ours = McLeod::new(n);
        let mut reference = McLeodDetector::<f32>::new(n, n);
        for f in [65.0, 110.0, 196.0, 261.6, 440.0, 880.0, 1500.0] {
            for harmonics in [vec![1.0], vec![0.3, 1.0, 0.6, 0.4, 0.2]] {
                let x = tone(f, rate, n, &harmonics);
                let p = ours.pitch(&x, rate, 60.0, 1600.0, 1e-8).unwrap_or_else(|| panic!("{f} Hz {harmonics:?}"));
                let cents = |a: f32, b: f32| 1200.0 * (a / b).log2();
                // The crate looks at lags up to a quarter of the window: it finds
                // nothing below about 90 Hz here, where ours (half the window) does.
                match reference.get_pitch(&x, rate as usize, 1e-8, 0.7) {
                    // The crate's own estimate strays up to ~10 cents at low pitches.
                    Some(r) => assert!(cents(p.frequency, r.frequency).abs() < 15.0, "{f} Hz: ours {} reference {}", p.frequency, r.frequency),
                    None => assert!(f < 90.0, "the reference finds {f} Hz {harmonics:?}"),
                }
                assert!(cents(p.frequency, f).abs() < 2.0, "{f} Hz: {}", p.frequency);
                assert!(p.clarity > 0.9, "{f} Hz: clarity {}", p.clarity);
            }
        }
    }

    #[test]
    fn silence_and_noise_have_no_clear_pitch() {
        let mut ours = McLeod::new(2048);
        assert_eq!(ours.pitch(&[0.0; 2048], 48_000.0, 60.0, 1600.0, 1e-8), None);
        let mut seed = 3u32;
        let noise: Vec<f32> = (0..2048)
            .map(|_| {
                seed = seed.wrapping_mul(1_664_525).wrapping_add(1_013_904_223);
                (seed >> 8) as f32 / (1u32 << 24) as f32 - 0.5
            })
            .collect();
        assert!(ours.pitch(&noise, 48_000.0, 60.0, 1600.0, 1e-8).is_none_or(|p| p.clarity < 0.6), "white noise is not a pitch");
    }
}
