//! The note excitation that drives the vocoder (neural source-filter style).
//!
//! Four channels, each the sum over the keys that sound (or ring on after release):
//! - `sine`: the bare fundamental, so pitch is never in doubt;
//! - `sawtooth`: a band-limited sawtooth carrying **every partial below Nyquist** at
//!   1/h, so the vocoder only has to *filter* overtones, never invent them;
//! - `noise`: seeded white noise, the source for breath, bow and hammer noise;
//! - `level`: the sawtooth's expected mean square, `Σ_keys g²·A²/2·Σ_h 1/h²`, from
//!   the voices' gains and partial counts. The vocoder sets its harmonic gain against
//!   this; measuring the sawtooth over a 128-sample frame instead would swing by up to
//!   8 dB with the phase of any note whose period is longer than a frame, and the
//!   gain would flutter with it.
//!
//! The sawtooth is the running integral of a closed-form Dirichlet kernel
//! `D_H(θ) = Σ_{h=1..H} cos hθ` (a band-limited pulse train with `H = ⌊Nyquist/f⌋`),
//! so it costs two sines per key per sample however many partials it holds, and it
//! has no partial at or above Nyquist to alias. A slight leak (a 5 Hz one-pole)
//! keeps rounding from building up an offset.
//!
//! Pitch bend is interpolated per sample across each frame, from the bend at the end
//! of the previous frame to the bend at the end of this one, so a bend sweeps
//! smoothly. A note's own tuning (per-note expression) is added to it and swept the
//! same way, voice by voice. Phase is continuous for as long as a key's voice runs.
//!
//! A note's brightness expression below its centre lowers the highest partial its
//! sawtooth carries ([`NoteExpression::partial_ceiling`]); the `level` channel still
//! counts every partial, so the vocoder does not make up the loss and the note
//! sounds darker, not just re-balanced.
//!
//! **Release rule.** A released key's voice keeps running for [`RELEASE_SECONDS`],
//! decaying exponentially with time constant [`RELEASE_DECAY_SECONDS`], then fades
//! out over [`RELEASE_FADE_SECONDS`]; the mel says how loud the tail is, and the
//! vocoder's gain follows the `level` channel, so a lone ringing tail is restored to
//! the mel's level while a new note played over old tails dominates the source as it
//! dominates the sound. (Held at full level for 2 s, the tails of an arpeggio's
//! earlier notes sounded as loud as its new ones in the source and beat against
//! them; with the decay, the same trained vocoder scored 8.49 dB RMSE-CQT instead
//! of 9.21 and pitch accuracy 98.9 % instead of 88.9 %, docs/training.md.) A key
//! struck again while its voice still runs keeps its phase. A voice that starts
//! from silence starts at phase 0, so a note's attack is the same wherever it falls.
//! A choke or All Sound Off stops the voice at the end of its frame.
//!
//! The noise comes from a seeded generator so that a render is reproducible bit for
//! bit, however it is split into blocks.

use rand::rngs::Xoshiro256PlusPlus;
use rand::SeedableRng;
use rand_distr::{Distribution, StandardNormal};

use super::events::NoteExpression;
use crate::contract::{HOP, KEYS, SAMPLE_RATE};
// The source's constants are part of the model contract (a model is trained against
// them and its manifest records them); they are re-exported here, beside the code
// that uses them.
pub use crate::contract::source::{CHANNELS, NOISE_STD, RELEASE_DECAY_SECONDS, RELEASE_FADE_SECONDS, RELEASE_SECONDS, SAW_AMPLITUDE, SINE_AMPLITUDE};

/// Corner of the sawtooth integrator's leak.
const SAW_LEAK_HZ: f64 = 5.0;

const RELEASE_SAMPLES: u32 = (RELEASE_SECONDS * SAMPLE_RATE as f32) as u32;
const FADE_SAMPLES: u32 = (RELEASE_FADE_SECONDS * SAMPLE_RATE as f32) as u32;

/// Frequency of a MIDI key with a bend in semitones (A4 = key 69 = 440 Hz).
pub fn key_frequency(key: usize, bend_semitones: f32) -> f64 {
    440.0 * 2f64.powf((key as f64 - 69.0 + bend_semitones as f64) / 12.0)
}

/// `Σ_{h=1..H} cos hθ` in closed form.
fn dirichlet(theta: f64, partials: f64) -> f64 {
    let s = (0.5 * theta).sin();
    if s.abs() < 1e-9 {
        partials
    } else {
        ((partials + 0.5) * theta).sin() / (2.0 * s) - 0.5
    }
}

/// `Σ_{h=1..H} 1/h²`: summed below 64 terms, beyond by its Euler–Maclaurin tail.
fn inverse_square_sum(partials: f64) -> f64 {
    if partials < 64.0 {
        (1..=partials as u32).map(|h| 1.0 / (h as f64 * h as f64)).sum()
    } else {
        let h = partials;
        std::f64::consts::PI * std::f64::consts::PI / 6.0 - 1.0 / h + 1.0 / (2.0 * h * h) - 1.0 / (6.0 * h * h * h)
    }
}

/// One voice's pitch over a frame.
struct Pitch<'a> {
    /// Phase step per sample at the key's unbent pitch.
    base: f64,
    /// The bend's frequency ratio at each sample.
    ratio: &'a [f64; HOP],
    partials: f64,
    leak: f64,
    mean_square: f64,
    audible: bool,
    /// The note's expression gain at each sample, on its sine and sawtooth only: the
    /// `level` channel leaves it out, so the vocoder does not undo it.
    amp: &'a [f64; HOP],
}

/// The channels a voice adds into.
struct VoiceOut<'a> {
    sine: &'a mut [f32],
    saw: &'a mut [f32],
    level: &'a mut [f32],
}

/// A voice's samples with each sine evaluated: any pitch, a bend sweeping included.
fn render_voice_direct(voice: &mut Voice, p: &Pitch<'_>, gains: &[f64], out: VoiceOut<'_>) {
    for (i, &gain) in gains.iter().enumerate() {
        let step = p.base * p.ratio[i];
        if p.audible {
            voice.saw = p.leak * voice.saw + step * dirichlet(voice.phase, p.partials);
            out.sine[i] += (SINE_AMPLITUDE as f64 * gain * p.amp[i] * voice.phase.sin()) as f32;
            out.saw[i] += (SAW_AMPLITUDE as f64 * gain * p.amp[i] * voice.saw) as f32;
            out.level[i] += (gain * gain * p.mean_square) as f32;
        }
        voice.phase = (voice.phase + step).rem_euclid(std::f64::consts::TAU);
    }
}

/// The same samples at a pitch that holds over the frame (no bend moving), by
/// rotating two phasors instead of evaluating three sines per sample: `e^{iθ/2}`
/// gives `sin θ/2` and, doubled, `sin θ`; `e^{i(H+½)θ}` gives the kernel's numerator.
/// Both start from the exact phase each frame, so rounding never builds up: this is
/// what keeps 64 held notes near the cost of one.
fn render_voice_rotating(voice: &mut Voice, p: &Pitch<'_>, gains: &[f64], out: VoiceOut<'_>) {
    let step = p.base * p.ratio[0];
    if p.audible {
        let k = p.partials + 0.5;
        let (mut half, half_step) = (Phasor::at(0.5 * voice.phase), Phasor::at(0.5 * step));
        let (mut top, top_step) = (Phasor::at(k * voice.phase), Phasor::at(k * step));
        for (i, &gain) in gains.iter().enumerate() {
            let s = half.im;
            let kernel = if s.abs() < 1e-9 { p.partials } else { top.im / (2.0 * s) - 0.5 };
            voice.saw = p.leak * voice.saw + step * kernel;
            out.sine[i] += (SINE_AMPLITUDE as f64 * gain * p.amp[i] * 2.0 * half.im * half.re) as f32;
            out.saw[i] += (SAW_AMPLITUDE as f64 * gain * p.amp[i] * voice.saw) as f32;
            out.level[i] += (gain * gain * p.mean_square) as f32;
            half = half.times(half_step);
            top = top.times(top_step);
        }
    }
    voice.phase = (voice.phase + step * gains.len() as f64).rem_euclid(std::f64::consts::TAU);
}

/// A unit complex number `re + i·im`.
#[derive(Clone, Copy)]
struct Phasor {
    re: f64,
    im: f64,
}

impl Phasor {
    fn at(angle: f64) -> Self {
        let (im, re) = angle.sin_cos();
        Self { re, im }
    }

    fn times(self, o: Self) -> Self {
        Self { re: self.re * o.re - self.im * o.im, im: self.re * o.im + self.im * o.re }
    }
}

#[derive(Clone, Copy, Debug, Default)]
struct Voice {
    running: bool,
    /// Samples of release left; refilled while the key sounds.
    left: u32,
    /// The release's exponential decay so far (1 while the key sounds).
    decay: f64,
    phase: f64,
    saw: f64,
    /// The note's own tuning at the end of the last frame, where its next ramp starts.
    tuning: f32,
    /// The note's expression gain there, likewise.
    amp: f64,
}

pub struct Excitation {
    voices: [Voice; KEYS],
    /// Bend at the end of the last frame, where the next frame's ramp starts.
    bend: f32,
    ratio: [f64; HOP],
    rng: Xoshiro256PlusPlus,
}

impl Excitation {
    pub fn new(seed: u64) -> Self {
        Self { voices: [Voice::default(); KEYS], bend: 0.0, ratio: [1.0; HOP], rng: Xoshiro256PlusPlus::seed_from_u64(seed) }
    }

    /// Keys whose voice is running (sounding or in its release).
    pub fn voices(&self) -> usize {
        self.voices.iter().filter(|v| v.running).count()
    }

    /// Restarts the noise as [`Excitation::new`] with `seed` would: an engine leaving
    /// idle sounds exactly as from a fresh start.
    pub fn reseed(&mut self, seed: u64) {
        self.rng = Xoshiro256PlusPlus::seed_from_u64(seed);
    }

    /// Stops a key's voice at once (choke, All Sound Off).
    pub fn stop(&mut self, key: usize) {
        self.voices[key % KEYS] = Voice::default();
    }

    /// Renders one frame into `out` (`CHANNELS.len() × HOP`, channel-major).
    /// `frame_flags[k]` > 0.5 means key `k` sounds in this frame; `bend` is the bend
    /// in semitones at the frame's end, and `expression[k]` key `k`'s tuning and
    /// brightness there.
    pub fn render_frame(&mut self, frame_flags: &[f32], bend: f32, expression: &[NoteExpression; KEYS], out: &mut [f32]) {
        debug_assert_eq!(out.len(), CHANNELS.len() * HOP);
        let (sine, rest) = out.split_at_mut(HOP);
        let (saw, rest) = rest.split_at_mut(HOP);
        let (noise, level) = rest.split_at_mut(HOP);
        sine.fill(0.0);
        saw.fill(0.0);
        level.fill(0.0);
        for n in noise.iter_mut() {
            let x: f32 = StandardNormal.sample(&mut self.rng);
            *n = x * NOISE_STD;
        }
        let from = self.bend;
        for (i, r) in self.ratio.iter_mut().enumerate() {
            let b = from + (bend - from) * (i + 1) as f32 / HOP as f32;
            *r = (b as f64 / 12.0).exp2();
        }
        self.bend = bend;
        let rate = SAMPLE_RATE as f64;
        let nyquist = rate / 2.0;
        let leak = 1.0 - std::f64::consts::TAU * SAW_LEAK_HZ / rate;
        let decay = (-1.0 / (RELEASE_DECAY_SECONDS as f64 * rate)).exp();
        let mut own_ratio = [1.0f64; HOP];
        let mut own_amp = [1.0f64; HOP];
        for (k, voice) in self.voices.iter_mut().enumerate() {
            let sounding = frame_flags[k] > 0.5;
            if !sounding && !voice.running {
                continue;
            }
            let expr = &expression[k];
            let tuning = if expr.tuning.is_finite() { expr.tuning } else { 0.0 };
            let f0 = key_frequency(k, 0.0);
            let amp = expr.gain();
            if sounding && !voice.running {
                // A new voice starts at its note's tuning and gain, not gliding from neutral.
                voice.tuning = tuning;
                voice.amp = amp;
            }
            // Ramped across the frame, as the bend is, so pressure never zips.
            let from_amp = voice.amp;
            for (i, a) in own_amp.iter_mut().enumerate() {
                *a = if from_amp == amp { amp } else { from_amp + (amp - from_amp) * (i + 1) as f64 / HOP as f64 };
            }
            // The note's own tuning: a constant factor when it holds over the frame
            // (the rotating path stays open), else its own ramp on top of the bend's.
            let from_tuning = voice.tuning;
            let ratio: &[f64; HOP] = if from_tuning == tuning {
                &self.ratio
            } else {
                for (i, r) in own_ratio.iter_mut().enumerate() {
                    let t = from_tuning + (tuning - from_tuning) * (i + 1) as f32 / HOP as f32;
                    *r = self.ratio[i] * ((t - tuning) as f64 / 12.0).exp2();
                }
                &own_ratio
            };
            let f0 = f0 * (tuning as f64 / 12.0).exp2();
            let ceiling = expr.partial_ceiling(f0, nyquist);
            if sounding {
                if !voice.running {
                    // Starts the integral half-way down the first pulse, so the
                    // sawtooth is centred on zero from its first sample.
                    let f = f0 * ratio[0];
                    let h = (ceiling / f).floor().max(1.0);
                    *voice = Voice { running: true, left: 0, decay: 1.0, phase: 0.0, saw: -0.5 * h * std::f64::consts::TAU * f / rate, tuning, amp };
                }
                voice.left = RELEASE_SAMPLES;
                voice.decay = 1.0;
            }
            voice.tuning = tuning;
            voice.amp = amp;
            let base = std::f64::consts::TAU * f0 / rate;
            let f_top = f0 * ratio[0].max(ratio[HOP - 1]);
            // Bent to or past Nyquist, a key keeps its phase but adds nothing.
            let audible = f_top < nyquist;
            let all_partials = (nyquist / f_top).floor().max(1.0);
            let partials = (ceiling / f_top).floor().clamp(1.0, all_partials);
            let mean_square = 0.5 * (SAW_AMPLITUDE as f64).powi(2) * inverse_square_sum(all_partials);
            let mut gains = [1.0f64; HOP];
            let mut samples = HOP;
            if !sounding {
                for (i, g) in gains.iter_mut().enumerate() {
                    if voice.left == 0 {
                        samples = i;
                        break;
                    }
                    voice.left -= 1;
                    voice.decay *= decay;
                    let fade = if voice.left < FADE_SAMPLES {
                        let x = voice.left as f64 / FADE_SAMPLES as f64;
                        0.5 - 0.5 * (std::f64::consts::PI * x).cos()
                    } else {
                        1.0
                    };
                    *g = fade * voice.decay;
                }
            }
            let out = VoiceOut { sine: &mut *sine, saw: &mut *saw, level: &mut *level };
            let pitch = Pitch { base, ratio, partials, leak, mean_square, audible, amp: &own_amp };
            if ratio[0] == ratio[HOP - 1] {
                render_voice_rotating(voice, &pitch, &gains[..samples], out);
            } else {
                render_voice_direct(voice, &pitch, &gains[..samples], out);
            }
            if samples < HOP {
                *voice = Voice::default();
            }
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    /// The phasor path gives the samples the direct path gives, for keys across the
    /// keyboard, phases all round the circle (the kernel's 0/0 point included) and
    /// release gains, within rounding.
    #[test]
    fn rotating_phasors_give_the_direct_samples() {
        let rate = SAMPLE_RATE as f64;
        let ratio = [1.0f64; HOP];
        for key in [21usize, 33, 60, 69, 96, 108, 120] {
            let f0 = key_frequency(key, 0.0);
            let partials = (rate / 2.0 / f0).floor().max(1.0);
            let pitch = Pitch { base: std::f64::consts::TAU * f0 / rate, ratio: &ratio, partials, leak: 0.999, mean_square: 0.01, audible: true, amp: &[0.7; HOP] };
            for start in [0.0, 1e-12, 0.3, 3.1, std::f64::consts::TAU - 1e-3] {
                let gains: Vec<f64> = (0..HOP).map(|i| 1.0 - i as f64 / 300.0).collect();
                let (mut a, mut b) =
                    (Voice { running: true, phase: start, saw: 0.01, ..Default::default() }, Voice { running: true, phase: start, saw: 0.01, ..Default::default() });
                let mut direct = [[0.0f32; HOP]; 3];
                let mut rotating = [[0.0f32; HOP]; 3];
                for _ in 0..4 {
                    let [s, w, l] = &mut direct;
                    render_voice_direct(&mut a, &pitch, &gains, VoiceOut { sine: s, saw: w, level: l });
                    let [s, w, l] = &mut rotating;
                    render_voice_rotating(&mut b, &pitch, &gains, VoiceOut { sine: s, saw: w, level: l });
                }
                for c in 0..3 {
                    let worst = direct[c].iter().zip(&rotating[c]).map(|(x, y)| (x - y).abs()).fold(0.0f32, f32::max);
                    assert!(worst < 1e-6, "key {key}, phase {start}, channel {c}: {worst}");
                }
                assert!((a.phase - b.phase).abs() < 1e-9 && (a.saw - b.saw).abs() < 1e-9, "key {key}: the voices' state agrees");
            }
        }
    }
}
