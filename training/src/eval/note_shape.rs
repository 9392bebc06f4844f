//! How single notes are shaped, against the truth: the click of their attack, the
//! noise between their partials, the levels of their partials, and how fast each band
//! dies away. Each is measured on the notes of an item that sound alone (see
//! [`isolated_notes`]), the same notes in the truth and the estimate, and reported as
//! the estimate's figure minus the truth's. Definitions (also in docs/evaluation.md):
//!
//! - **Attack:** the energy above [`ATTACK_LOW_HZ`] in the first [`ATTACK_SECONDS`]
//!   after the onset, in dB (a rectangular window, so a click on the first sample
//!   counts in full). A hammer, a pluck or a breath puts it there.
//! - **Texture:** on the held part of the note ([`HELD_FROM_SECONDS`] after the onset to
//!   its release), the power between the partials over the power on them, in dB, below
//!   [`PARTIALS_BELOW_HZ`]. A bin belongs to partial `h` when it lies within a quarter
//!   of the fundamental of `h·f0`; the rest, from half the fundamental up, is between.
//! - **Overtone profile:** for notes from C3 to C6, the level of each of the first
//!   [`PROFILE_PARTIALS`] partials (the strongest bin within a quarter of the
//!   fundamental of `h·f0`) relative to the note's strongest partial, floored at
//!   [`PROFILE_FLOOR_DB`]; the error is the mean |difference| over the partials.
//! - **Decay:** in each of [`DECAY_BANDS`], the slope (dB/s, least squares) of the
//!   band's level over the first [`DECAY_SECONDS`] of the note, from 20 ms after the
//!   onset; the error is the estimate's slope minus the truth's.
//!
//! Every level is floored at [`FLOOR_DB`] below full scale, so bands silent in both
//! compare equal.

use melwave::features::excitation::key_frequency;
use melwave::features::{Event, RollState, TimedEvent};
use serde::Serialize;

pub const ATTACK_SECONDS: f64 = 0.02;
pub const ATTACK_LOW_HZ: f64 = 2000.0;
/// The held part of a note starts this long after its onset.
pub const HELD_FROM_SECONDS: f64 = 0.1;
pub const PARTIALS_BELOW_HZ: f64 = 8000.0;
pub const PROFILE_PARTIALS: usize = 12;
pub const PROFILE_KEYS: (u8, u8) = (48, 84);
pub const PROFILE_FLOOR_DB: f64 = -60.0;
pub const DECAY_SECONDS: f64 = 0.5;
pub const DECAY_BANDS: [(f64, f64); 4] = [(0.0, 1000.0), (1000.0, 2000.0), (2000.0, 4000.0), (4000.0, 8000.0)];
pub const FLOOR_DB: f64 = -120.0;
/// A note counts as alone when no other note starts within this of its onset or
/// while it is held.
pub const ALONE_SECONDS: f64 = 0.2;
/// The spectrum of the held part: a 4-term Blackman-Harris window, whose side lobes
/// (−92 dB) stay below any texture an instrument has, 8192 samples long (2.9 Hz bins
/// at 24 kHz, so C3's quarter fundamental is 11 bins).
const HELD_FFT: usize = 8192;
const HELD_HOP: usize = 2048;
const DECAY_FFT: usize = 1024;
const DECAY_HOP: usize = 256;

/// A note that sounds alone, at a fixed pitch.
#[derive(Clone, Copy, Debug, PartialEq)]
pub struct Note {
    pub on: usize,
    pub off: usize,
    pub key: u8,
    pub f0: f64,
}

/// The notes of `events` (host samples at `rate`) that no other note-on comes near
/// (within [`ALONE_SECONDS`] before the onset, or while held) and under which the
/// pitch bend does not move.
pub fn isolated_notes(events: &[TimedEvent], rate: f64) -> Vec<Note> {
    let mut state = RollState::default();
    let mut open: Vec<(usize, u8, f64)> = Vec::new();
    let mut notes = Vec::new();
    let mut onsets = Vec::new();
    let mut bends = Vec::new();
    for e in events {
        state.apply(&e.event);
        match e.event {
            Event::NoteOn { key, .. } => {
                onsets.push(e.time as usize);
                open.push((e.time as usize, key, key_frequency(key as usize, state.bend())));
            }
            Event::NoteOff { key } => {
                if let Some(i) = open.iter().position(|o| o.1 == key) {
                    let (on, key, f0) = open.remove(i);
                    notes.push(Note { on, off: e.time as usize, key, f0 });
                }
            }
            Event::PitchBend(_) => bends.push(e.time as usize),
            _ => {}
        }
    }
    let before = (ALONE_SECONDS * rate) as usize;
    notes.retain(|n| {
        let others = onsets.iter().filter(|&&t| t + before >= n.on && t <= n.off).count();
        others == 1 && !bends.iter().any(|&t| t >= n.on && t <= n.off)
    });
    notes.sort_by_key(|n| n.on);
    notes
}

fn db(power: f64) -> f64 {
    (10.0 * power.max(1e-30).log10()).max(FLOOR_DB)
}

/// The attack energy (dB) of a note starting at `on`.
pub fn attack_db(audio: &[f32], on: usize, rate: f64) -> f64 {
    let n = (ATTACK_SECONDS * rate) as usize;
    let fft = n.next_power_of_two();
    let mut spectrum = melwave::features::stft::Spectrum::new(fft, vec![1.0; n]);
    let bins = spectrum.frame(audio, on as i64);
    let low = (ATTACK_LOW_HZ * fft as f64 / rate).ceil() as usize;
    db(bins[low.min(bins.len())..].iter().map(|c| c.norm_sqr() as f64).sum::<f64>())
}

/// The averaged power spectrum of the held part of `note`, or None if it is shorter
/// than one window.
fn held_spectrum(audio: &[f32], note: &Note, rate: f64) -> Option<Vec<f64>> {
    let start = note.on + (HELD_FROM_SECONDS * rate) as usize;
    let end = note.off.min(audio.len());
    if end < start + HELD_FFT {
        return None;
    }
    let mut spectrum = melwave::features::stft::Spectrum::new(HELD_FFT, blackman_harris(HELD_FFT));
    let mut sum = vec![0.0f64; HELD_FFT / 2 + 1];
    let mut frames = 0;
    let mut at = start;
    while at + HELD_FFT <= end {
        for (s, c) in sum.iter_mut().zip(spectrum.frame(audio, at as i64)) {
            *s += c.norm_sqr() as f64;
        }
        frames += 1;
        at += HELD_HOP;
    }
    Some(sum.into_iter().map(|s| s / frames as f64).collect())
}

fn blackman_harris(n: usize) -> Vec<f32> {
    let a = [0.35875, 0.48829, 0.14128, 0.01168];
    (0..n)
        .map(|i| {
            let x = std::f64::consts::TAU * i as f64 / n as f64;
            (a[0] - a[1] * x.cos() + a[2] * (2.0 * x).cos() - a[3] * (3.0 * x).cos()) as f32
        })
        .collect()
}

/// The bins within a quarter fundamental of partial `h`.
fn partial_bins(h: usize, f0: f64, rate: f64, bins: usize) -> std::ops::Range<usize> {
    let hz = |b: f64| (b * HELD_FFT as f64 / rate).round() as usize;
    let centre = h as f64 * f0;
    hz(centre - f0 / 4.0).min(bins)..(hz(centre + f0 / 4.0) + 1).min(bins)
}

/// Texture (dB): power between the partials over power on them, on the held part.
pub fn texture_db(audio: &[f32], note: &Note, rate: f64) -> Option<f64> {
    let p = held_spectrum(audio, note, rate)?;
    let top = ((PARTIALS_BELOW_HZ.min(rate / 2.0)) * HELD_FFT as f64 / rate) as usize;
    let first = (note.f0 / 2.0 * HELD_FFT as f64 / rate) as usize;
    let mut on = vec![false; p.len()];
    let mut h = 1;
    while h as f64 * note.f0 < PARTIALS_BELOW_HZ.min(rate / 2.0) {
        for b in partial_bins(h, note.f0, rate, p.len()) {
            on[b] = true;
        }
        h += 1;
    }
    let (mut partials, mut between) = (0.0, 0.0);
    for b in first..top.min(p.len()) {
        if on[b] {
            partials += p[b];
        } else {
            between += p[b];
        }
    }
    // Both floored alike: a silent note has no texture to compare.
    Some(db(between) - db(partials))
}

/// The overtone profile (dB per partial, relative to the strongest), for notes from C3
/// to C6.
pub fn overtone_profile(audio: &[f32], note: &Note, rate: f64) -> Option<Vec<f64>> {
    if !(PROFILE_KEYS.0..=PROFILE_KEYS.1).contains(&note.key) {
        return None;
    }
    let p = held_spectrum(audio, note, rate)?;
    let levels: Vec<f64> = (1..=PROFILE_PARTIALS)
        .map(|h| if h as f64 * note.f0 < rate / 2.0 { db(partial_bins(h, note.f0, rate, p.len()).map(|b| p[b]).fold(0.0, f64::max)) } else { FLOOR_DB })
        .collect();
    let top = levels.iter().copied().fold(f64::MIN, f64::max);
    Some(levels.iter().map(|l| (l - top).max(PROFILE_FLOOR_DB)).collect())
}

/// The mean |difference| (dB) of two overtone profiles.
pub fn profile_error(estimate: &[f64], truth: &[f64]) -> f64 {
    estimate.iter().zip(truth).map(|(a, b)| (a - b).abs()).sum::<f64>() / truth.len().max(1) as f64
}

/// The decay slope (dB/s) of each of [`DECAY_BANDS`] over the note's first
/// [`DECAY_SECONDS`] (or until its release, if sooner), from 20 ms after the onset.
pub fn decay_slopes(audio: &[f32], note: &Note, rate: f64) -> Option<[f64; 4]> {
    let start = note.on + (0.02 * rate) as usize;
    let end = (note.on + (DECAY_SECONDS * rate) as usize).min(note.off).min(audio.len());
    if end < start + DECAY_FFT + 4 * DECAY_HOP {
        return None;
    }
    let mut spectrum = melwave::features::stft::Spectrum::hann(DECAY_FFT);
    let mut series: Vec<[f64; 4]> = Vec::new();
    let mut times = Vec::new();
    let mut at = start;
    while at + DECAY_FFT <= end {
        let bins = spectrum.frame(audio, at as i64);
        let mut levels = [0.0; 4];
        for (band, level) in DECAY_BANDS.iter().zip(levels.iter_mut()) {
            let lo = (band.0 * DECAY_FFT as f64 / rate) as usize;
            let hi = ((band.1 * DECAY_FFT as f64 / rate) as usize).min(bins.len());
            *level = db(bins[lo..hi].iter().map(|c| c.norm_sqr() as f64).sum());
        }
        series.push(levels);
        times.push((at + DECAY_FFT / 2 - note.on) as f64 / rate);
        at += DECAY_HOP;
    }
    let mut slopes = [0.0; 4];
    for (b, slope) in slopes.iter_mut().enumerate() {
        *slope = least_squares_slope(&times, &series.iter().map(|l| l[b]).collect::<Vec<_>>());
    }
    Some(slopes)
}

fn least_squares_slope(x: &[f64], y: &[f64]) -> f64 {
    let n = x.len() as f64;
    let (mx, my) = (x.iter().sum::<f64>() / n, y.iter().sum::<f64>() / n);
    let (mut sxy, mut sxx) = (0.0, 0.0);
    for (a, b) in x.iter().zip(y) {
        sxy += (a - mx) * (b - my);
        sxx += (a - mx) * (a - mx);
    }
    if sxx > 0.0 {
        sxy / sxx
    } else {
        0.0
    }
}

/// The four shape figures of one system against the truth, summed over notes so that
/// items and instruments can be pooled.
#[derive(Clone, Debug, Default, Serialize)]
pub struct ShapeTally {
    pub attack_notes: usize,
    /// Σ (estimate − truth) and Σ |estimate − truth| of the attack energy, dB.
    pub attack_sum: f64,
    pub attack_abs_sum: f64,
    pub texture_notes: usize,
    pub texture_sum: f64,
    pub texture_abs_sum: f64,
    /// Σ of the truth's texture, dB, to report next to the estimate's.
    pub texture_truth_sum: f64,
    pub profile_notes: usize,
    pub profile_error_sum: f64,
    pub decay_notes: usize,
    /// Per band: Σ (estimate − truth) slope, Σ |…|, Σ truth slope, dB/s.
    pub decay_sum: [f64; 4],
    pub decay_abs_sum: [f64; 4],
    pub decay_truth_sum: [f64; 4],
}

impl ShapeTally {
    pub fn add(&mut self, o: &ShapeTally) {
        self.attack_notes += o.attack_notes;
        self.attack_sum += o.attack_sum;
        self.attack_abs_sum += o.attack_abs_sum;
        self.texture_notes += o.texture_notes;
        self.texture_sum += o.texture_sum;
        self.texture_abs_sum += o.texture_abs_sum;
        self.texture_truth_sum += o.texture_truth_sum;
        self.profile_notes += o.profile_notes;
        self.profile_error_sum += o.profile_error_sum;
        self.decay_notes += o.decay_notes;
        for b in 0..4 {
            self.decay_sum[b] += o.decay_sum[b];
            self.decay_abs_sum[b] += o.decay_abs_sum[b];
            self.decay_truth_sum[b] += o.decay_truth_sum[b];
        }
    }

    fn mean(sum: f64, n: usize) -> Option<f64> {
        (n > 0).then(|| sum / n as f64)
    }

    /// Mean signed attack error (dB).
    pub fn attack_bias(&self) -> Option<f64> {
        Self::mean(self.attack_sum, self.attack_notes)
    }
    /// Mean |attack error| (dB): the attack figure.
    pub fn attack_error(&self) -> Option<f64> {
        Self::mean(self.attack_abs_sum, self.attack_notes)
    }
    pub fn texture_bias(&self) -> Option<f64> {
        Self::mean(self.texture_sum, self.texture_notes)
    }
    /// Mean |texture error| (dB): the texture figure.
    pub fn texture_error(&self) -> Option<f64> {
        Self::mean(self.texture_abs_sum, self.texture_notes)
    }
    pub fn texture_truth(&self) -> Option<f64> {
        Self::mean(self.texture_truth_sum, self.texture_notes)
    }
    /// Mean overtone-profile error (dB): the profile figure.
    pub fn profile_error(&self) -> Option<f64> {
        Self::mean(self.profile_error_sum, self.profile_notes)
    }
    /// Mean |decay-slope error| per band (dB/s).
    pub fn decay_error(&self) -> Option<[f64; 4]> {
        (self.decay_notes > 0).then(|| self.decay_abs_sum.map(|s| s / self.decay_notes as f64))
    }
    pub fn decay_truth(&self) -> Option<[f64; 4]> {
        (self.decay_notes > 0).then(|| self.decay_truth_sum.map(|s| s / self.decay_notes as f64))
    }
}

/// Scores `estimate` against `truth` on `notes`.
pub fn shape_tally(notes: &[Note], truth: &[f32], estimate: &[f32], rate: f64) -> ShapeTally {
    let mut t = ShapeTally::default();
    for n in notes {
        if n.on + (ATTACK_SECONDS * rate) as usize <= truth.len().min(estimate.len()) {
            let d = attack_db(estimate, n.on, rate) - attack_db(truth, n.on, rate);
            t.attack_notes += 1;
            t.attack_sum += d;
            t.attack_abs_sum += d.abs();
        }
        if let (Some(e), Some(g)) = (texture_db(estimate, n, rate), texture_db(truth, n, rate)) {
            t.texture_notes += 1;
            t.texture_sum += e - g;
            t.texture_abs_sum += (e - g).abs();
            t.texture_truth_sum += g;
        }
        if let (Some(e), Some(g)) = (overtone_profile(estimate, n, rate), overtone_profile(truth, n, rate)) {
            t.profile_notes += 1;
            t.profile_error_sum += profile_error(&e, &g);
        }
        if let (Some(e), Some(g)) = (decay_slopes(estimate, n, rate), decay_slopes(truth, n, rate)) {
            t.decay_notes += 1;
            for b in 0..4 {
                t.decay_sum[b] += e[b] - g[b];
                t.decay_abs_sum[b] += (e[b] - g[b]).abs();
                t.decay_truth_sum[b] += g[b];
            }
        }
    }
    t
}

#[cfg(test)]
mod tests {
    use super::*;

    const RATE: f64 = 24_000.0;

    fn note(f0: f64, seconds: f64) -> Note {
        Note { on: 2400, off: 2400 + (seconds * RATE) as usize, key: (69.0 + 12.0 * (f0 / 440.0).log2()).round() as u8, f0 }
    }

    /// A tone of `partials` harmonics of `f0` with amplitudes `amp(h)`, from `note.on`
    /// to `note.off`, with the envelope `env(t)` (t in seconds from the onset).
    fn tone(n: &Note, amp: impl Fn(usize) -> f64, env: impl Fn(f64) -> f64) -> Vec<f32> {
        let mut x = vec![0.0f32; n.off + 4800];
        for (i, s) in x.iter_mut().enumerate().take(n.off).skip(n.on) {
            let t = (i - n.on) as f64 / RATE;
            let mut v = 0.0;
            let mut h = 1;
            while h as f64 * n.f0 < RATE / 2.0 {
                v += amp(h) * (std::f64::consts::TAU * h as f64 * n.f0 * t).sin();
                h += 1;
            }
            *s = (0.1 * env(t) * v) as f32;
        }
        x
    }

    fn saw(h: usize) -> f64 {
        1.0 / h as f64
    }

    fn square(h: usize) -> f64 {
        if h % 2 == 1 {
            1.0 / h as f64
        } else {
            0.0
        }
    }

    #[test]
    fn the_truth_scores_zero_against_itself() {
        let n = note(261.63, 0.6);
        let x = tone(&n, saw, |t| (-3.0 * t).exp());
        let t = shape_tally(&[n], &x, &x, RATE);
        assert_eq!((t.attack_notes, t.texture_notes, t.profile_notes, t.decay_notes), (1, 1, 1, 1));
        assert_eq!(t.attack_error(), Some(0.0));
        assert_eq!(t.texture_error(), Some(0.0));
        assert_eq!(t.profile_error(), Some(0.0));
        assert_eq!(t.decay_error(), Some([0.0; 4]));
    }

    #[test]
    fn a_click_at_the_onset_raises_the_attack_and_a_slow_swell_lowers_it() {
        let n = note(220.0, 0.6);
        let plain = tone(&n, |h| if h == 1 { 1.0 } else { 0.0 }, |_| 1.0);
        let mut click = plain.clone();
        click[n.on] += 0.5;
        let swell = tone(&n, |h| if h == 1 { 1.0 } else { 0.0 }, |t| (t / 0.3).min(1.0));
        // A sine has no energy above 2 kHz but its onset step's; a click's is broadband.
        let clicked = attack_db(&click, n.on, RATE) - attack_db(&plain, n.on, RATE);
        assert!(clicked > 10.0, "a click adds {clicked} dB above 2 kHz");
        // The click puts 0.5² in every bin of the 512-point spectrum; 214 of its 257
        // bins lie above 2 kHz (the tone's own leakage there is 10 dB below that).
        let expected = db(0.25 * 214.0);
        assert!((attack_db(&click, n.on, RATE) - expected).abs() < 1.0, "{} vs {expected}", attack_db(&click, n.on, RATE));
        let swelled = attack_db(&swell, n.on, RATE) - attack_db(&plain, n.on, RATE);
        assert!(swelled < -6.0, "a swell's first 20 ms are softer above 2 kHz: {swelled}");
        let t = shape_tally(&[n], &plain, &click, RATE);
        assert!((t.attack_bias().unwrap() - clicked).abs() < 1e-9);
    }

    #[test]
    fn texture_is_the_noise_between_the_partials_over_the_partials() {
        let n = note(261.63, 0.8);
        let clean = tone(&n, saw, |_| 1.0);
        let clean_texture = texture_db(&clean, &n, RATE).unwrap();
        assert!(clean_texture < -80.0, "a pure harmonic tone has nothing between its partials: {clean_texture}");
        // White noise whose power is 1e-4 of the tone's (−40 dB): about 3/4 of it falls
        // between the partials (all but a quarter fundamental either side of each).
        let mut noisy = clean.clone();
        let mut state = 1u64;
        let power = |x: &[f32]| x[n.on..n.off].iter().map(|v| (*v as f64).powi(2)).sum::<f64>() / (n.off - n.on) as f64;
        let noise: Vec<f32> = (0..noisy.len())
            .map(|_| {
                state = state.wrapping_mul(6364136223846793005).wrapping_add(1442695040888963407);
                ((state >> 11) as f64 / (1u64 << 53) as f64 * 2.0 - 1.0) as f32
            })
            .collect();
        let scale = (1e-4 * power(&clean) / (noise.iter().map(|v| (*v as f64).powi(2)).sum::<f64>() / noise.len() as f64)).sqrt();
        for (i, s) in noisy.iter_mut().enumerate().take(n.off).skip(n.on) {
            *s += (scale * noise[i] as f64) as f32;
        }
        // Between half the fundamental and 8 kHz, half of each harmonic spacing is
        // between partials; the noise over that span is (8000 − 131) / 12000 of it.
        let expected = 10.0 * (1e-4 * 0.5 * (8000.0 - 130.8) / 12_000.0f64).log10();
        let got = texture_db(&noisy, &n, RATE).unwrap();
        assert!((got - expected).abs() < 1.5, "texture {got} dB, expected {expected}");
        // A detuned pair a hertz apart beats, but its energy is on the partials.
        let pair = tone(&n, saw, |_| 1.0).iter().zip(tone(&note(262.63, 0.8), saw, |_| 1.0)).map(|(a, b)| a + b).collect::<Vec<f32>>();
        assert!(texture_db(&pair, &n, RATE).unwrap() < -60.0);
    }

    #[test]
    fn a_square_wave_has_no_even_partials_in_its_profile() {
        let n = note(261.63, 0.6);
        let sq = overtone_profile(&tone(&n, square, |_| 1.0), &n, RATE).unwrap();
        let sw = overtone_profile(&tone(&n, saw, |_| 1.0), &n, RATE).unwrap();
        for h in 1..=PROFILE_PARTIALS {
            let expected_saw = (-20.0 * (h as f64).log10()).max(PROFILE_FLOOR_DB);
            // Within the window's scalloping (at most 0.83 dB for Blackman-Harris).
            assert!((sw[h - 1] - expected_saw).abs() < 1.0, "saw partial {h}: {} vs {expected_saw}", sw[h - 1]);
            let expected_square = if h % 2 == 1 { expected_saw } else { PROFILE_FLOOR_DB };
            assert!((sq[h - 1] - expected_square).abs() < 1.0, "square partial {h}: {} vs {expected_square}", sq[h - 1]);
        }
        // Half the partials differ by floor − saw level; the error is their mean.
        let expected: f64 = (2..=PROFILE_PARTIALS).step_by(2).map(|h| -20.0 * (h as f64).log10() - PROFILE_FLOOR_DB).sum::<f64>() / PROFILE_PARTIALS as f64;
        assert!((profile_error(&sq, &sw) - expected).abs() < 1.0);
        // Outside C3–C6 no profile is taken.
        assert_eq!(overtone_profile(&tone(&note(65.41, 0.6), saw, |_| 1.0), &note(65.41, 0.6), RATE), None);
    }

    #[test]
    fn decay_is_the_slope_of_each_band_and_upper_bands_can_fall_faster() {
        let n = note(220.0, 0.6);
        // The partials below 1 kHz fall as e^{−3t} (26 dB/s), those above as e^{−12t}
        // (104 dB/s), as a struck string's upper partials die first.
        let rate_of = |h: usize| if h as f64 * 220.0 > 1000.0 { 12.0 } else { 3.0 };
        let mut x = vec![0.0f32; n.off + 4800];
        for (i, s) in x.iter_mut().enumerate().take(n.off).skip(n.on) {
            let t = (i - n.on) as f64 / RATE;
            let mut v = 0.0;
            for h in 1..=36 {
                v += (std::f64::consts::TAU * h as f64 * 220.0 * t).sin() * (-rate_of(h) * t).exp() / h as f64;
            }
            *s = (0.1 * v) as f32;
        }
        let slopes = decay_slopes(&x, &n, RATE).unwrap();
        let per_second = |rate: f64| -20.0 * rate / std::f64::consts::LN_10;
        assert!((slopes[0] - per_second(3.0)).abs() < 5.0, "low band {} dB/s", slopes[0]);
        for &b in &slopes[1..] {
            assert!((b - per_second(12.0)).abs() < 15.0, "upper band {b} dB/s vs {}", per_second(12.0));
        }
        // A swell rises.
        let swell = tone(&n, saw, |t| (t / 0.5).min(1.0));
        assert!(decay_slopes(&swell, &n, RATE).unwrap()[0] > 5.0);
    }

    #[test]
    fn only_notes_that_sound_alone_at_a_fixed_pitch_are_measured() {
        let e = |t: u64, event| TimedEvent { time: t, event };
        let events = vec![
            e(0, Event::NoteOn { key: 60, velocity: 90 }),
            e(12_000, Event::NoteOff { key: 60 }),
            // Two notes together: neither is alone.
            e(24_000, Event::NoteOn { key: 64, velocity: 90 }),
            e(24_100, Event::NoteOn { key: 67, velocity: 90 }),
            e(36_000, Event::NoteOff { key: 64 }),
            e(36_000, Event::NoteOff { key: 67 }),
            // A bent note.
            e(48_000, Event::NoteOn { key: 69, velocity: 90 }),
            e(50_000, Event::PitchBend(1.0)),
            e(60_000, Event::NoteOff { key: 69 }),
        ];
        let notes = isolated_notes(&events, RATE);
        assert_eq!(notes.len(), 1);
        assert_eq!((notes[0].on, notes[0].off, notes[0].key), (0, 12_000, 60));
    }
}
