//! The note excitation that drives the vocoder (neural source-filter style): a sum of
//! sines at the sounding keys' pitches, bent, with continuous phase, plus noise.
//!
//! Channel 0 ("harmonic") carries the sines plus a faint noise floor; channel 1 is
//! independent noise, the source for breath, bow and hammer noise. The noise comes
//! from a seeded generator so that a render is reproducible bit for bit, however it
//! is split into blocks.

use rand::rngs::Xoshiro256PlusPlus;
use rand::SeedableRng;
use rand_distr::{Distribution, StandardNormal};

use crate::contract::{KEYS, SAMPLE_RATE};

/// Amplitude of each key's sine.
pub const SINE_AMPLITUDE: f32 = 0.1;
/// Standard deviation of the noise added to the harmonic channel.
pub const HARMONIC_NOISE_STD: f32 = 0.003;
/// Standard deviation of the noise channel.
pub const NOISE_STD: f32 = 0.033;

/// Frequency of a MIDI key with a bend in semitones (A4 = key 69 = 440 Hz).
pub fn key_frequency(key: usize, bend_semitones: f32) -> f64 {
    440.0 * 2f64.powf((key as f64 - 69.0 + bend_semitones as f64) / 12.0)
}

pub struct Excitation {
    phase: [f64; KEYS],
    active: [bool; KEYS],
    rng: Xoshiro256PlusPlus,
}

impl Excitation {
    pub fn new(seed: u64) -> Self {
        Self { phase: [0.0; KEYS], active: [false; KEYS], rng: Xoshiro256PlusPlus::seed_from_u64(seed) }
    }

    /// Renders one frame. `frame_flags[k]` > 0.5 means key `k` sounds in this frame.
    /// A key that starts sounding starts at phase 0, so a note's attack is the same
    /// wherever it falls; a key that keeps sounding keeps its phase across frames.
    pub fn render_frame(&mut self, frame_flags: &[f32], bend: f32, harmonic: &mut [f32], noise: &mut [f32]) {
        let nyquist = SAMPLE_RATE as f64 / 2.0;
        for (h, n) in harmonic.iter_mut().zip(noise.iter_mut()) {
            let a: f32 = StandardNormal.sample(&mut self.rng);
            let b: f32 = StandardNormal.sample(&mut self.rng);
            *h = a * HARMONIC_NOISE_STD;
            *n = b * NOISE_STD;
        }
        for k in 0..KEYS {
            if frame_flags[k] <= 0.5 {
                self.active[k] = false;
                continue;
            }
            if !self.active[k] {
                self.active[k] = true;
                self.phase[k] = 0.0;
            }
            let f = key_frequency(k, bend);
            let step = std::f64::consts::TAU * f / SAMPLE_RATE as f64;
            let mut phase = self.phase[k];
            // Keys bent above Nyquist would alias; they keep their phase but add nothing.
            let audible = f < nyquist;
            for h in harmonic.iter_mut() {
                if audible {
                    *h += SINE_AMPLITUDE * phase.sin() as f32;
                }
                phase += step;
            }
            self.phase[k] = phase.rem_euclid(std::f64::consts::TAU);
        }
    }
}
