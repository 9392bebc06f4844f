//! Audio in: a monophonic voice or instrument becomes the events the instrument plays
//! (note-ons, note-offs, the note's tuning and loudness), so Mel2Mel, the vocoder and
//! the pad re-synthesise it as any instrument. The engine, the CLI's `transfer` and
//! the tests share it.
//!
//! Every [`hop`](AudioToNotes::hop) samples (2.5 ms) it measures the last hop's level
//! and the pitch of the last [`window`](AudioToNotes::window) samples (43 ms; the
//! McLeod pitch method, [`super::pitch`], which needs about two periods of a new note
//! to find it). It allocates nothing after [`AudioToNotes::new`], so the plugin can
//! run it on the audio thread:
//! - **A note starts** when the input is pitched (clarity ≥ [`CLARITY`]) and louder
//!   than [`ON_DB`] for two hops in a row (5 ms): at 48 kHz 7.5 ms after the input's
//!   onset at E5 and above, 10 ms at A4, 17.5 ms at A3, 30 ms at A2. Its key is the nearest to the pitch, the rest is
//!   the note's tuning, and its velocity follows the input's level.
//! - **It ends** when the level stays below [`OFF_DB`] for 10 ms, or the input has
//!   been unpitched for 25 ms. Silence and noise (never clear enough) play nothing.
//! - **Vibrato and glides** bend the note: its tuning follows the pitch every hop (and
//!   the source sweeps between hops sample by sample). Only when the pitch *settles*
//!   (stays within [`SETTLED`] semitones for [`SETTLE_HOPS`] hops, 40 ms: a glide
//!   slower than about 4 semitones a second counts as settled) more than
//!   [`NEW_NOTE`] semitones from the note's key does a new note start there, legato.
//!   So a sung melody becomes its notes, a vibrato stays one bent note, and a scoop
//!   or slide is a bend of the note it started on until it settles, where the next
//!   note takes over.
//! - **A re-attack** on the same pitch (the level jumps [`REATTACK_DB`] within
//!   15 ms, as a new pluck or syllable does) strikes the key again.
//! - **Loudness:** with `follow` 1 the velocity maps the level at the note's start
//!   (−60 dBFS → 1, 0 dBFS → 127) and the note's volume expression follows the level
//!   from there; with 0 every note is velocity 100 at a steady volume.
//!
//! Events are stamped at the hop they are decided in: the decision trails the input
//! by about [`AudioToNotes::latency`] samples, which the engine reports to the host
//! and the CLI trims, as it trims the engine's own latency.

use super::events::{Event, Expression};
use super::pitch::McLeod;

/// The level a note must exceed to start, in dBFS.
pub const ON_DB: f32 = -50.0;
/// Below this level a note ends, in dBFS.
pub const OFF_DB: f32 = -58.0;
/// How clear (periodic) the input must be to be a pitch, 0..1.
pub const CLARITY: f32 = 0.8;
/// Unpitched hops that end a note (25 ms): a consonant or a breath between notes.
pub const UNPITCHED_HOPS: u32 = 10;
/// How far from its key a settled pitch starts a new note, in semitones.
pub const NEW_NOTE: f32 = 0.75;
/// A pitch that stays within this span, in semitones, over [`SETTLE_HOPS`] hops has
/// settled.
pub const SETTLED: f32 = 0.15;
pub const SETTLE_HOPS: usize = 16;
/// A level jump that re-strikes the note, in dB over [`REATTACK_HOPS`] hops (15 ms).
pub const REATTACK_DB: f32 = 9.0;
pub const REATTACK_HOPS: usize = 6;
/// Quiet hops that end a note (10 ms).
const QUIET_HOPS: u32 = 4;
/// Pitched hops that start one (5 ms).
const VOICED_HOPS: u32 = 2;
/// The pitches tracked: low E of a bass guitar's octave up to the top of a soprano.
const LOWEST_HZ: f32 = 60.0;
const HIGHEST_HZ: f32 = 1600.0;
/// The analysis hop and window, in seconds.
const HOP_SECONDS: f32 = 0.0025;
const WINDOW_SECONDS: f32 = 0.0427;

/// The user's settings for audio in.
#[derive(Clone, Copy, Debug, PartialEq)]
pub struct AudioInSettings {
    /// Semitones added to every note (-48..48).
    pub transpose: i32,
    /// How much the input's own loudness follows through: 0 (every note alike) to 1.
    pub follow: f32,
}

impl Default for AudioInSettings {
    fn default() -> Self {
        Self { transpose: 0, follow: 1.0 }
    }
}

struct Sounding {
    key: u8,
    /// The input's pitch the key stands for (before transposition), in MIDI semitones.
    centre: f32,
    /// The level at the note's start, in dBFS.
    start_db: f32,
}

/// The streaming front end: audio in, events out.
pub struct AudioToNotes {
    rate: u32,
    hop: usize,
    /// The last `window` samples, as a ring written at `head`.
    ring: Vec<f32>,
    head: usize,
    /// The ring in time order, for the analysis.
    window: Vec<f32>,
    /// Samples since the last analysis.
    filled: usize,
    detector: McLeod,
    settings: AudioInSettings,
    note: Option<Sounding>,
    /// The last hops' levels (dBFS), newest last.
    levels: [f32; REATTACK_HOPS],
    /// The last hops' pitches (MIDI semitones, NaN when unpitched), newest last.
    pitches: [f32; SETTLE_HOPS],
    /// The level over the last 20 ms (a few periods of any tracked pitch), for the
    /// loudness the note follows.
    smooth_db: f32,
    voiced_hops: u32,
    unpitched_hops: u32,
    quiet_hops: u32,
}

fn db(x: f32) -> f32 {
    20.0 * x.max(1e-9).log10()
}

fn midi(hz: f32) -> f32 {
    69.0 + 12.0 * (hz / 440.0).log2()
}

impl AudioToNotes {
    pub fn new(sample_rate: u32, settings: AudioInSettings) -> Self {
        let rate = sample_rate.max(1000);
        let hop = Self::hop_at(rate);
        let size = (rate as f32 * WINDOW_SECONDS).round() as usize;
        Self {
            rate,
            hop,
            ring: vec![0.0; size],
            head: 0,
            window: vec![0.0; size],
            filled: 0,
            detector: McLeod::new(size),
            settings: Self::sane(settings),
            note: None,
            levels: [f32::NEG_INFINITY; REATTACK_HOPS],
            pitches: [f32::NAN; SETTLE_HOPS],
            smooth_db: f32::NEG_INFINITY,
            voiced_hops: 0,
            unpitched_hops: 0,
            quiet_hops: 0,
        }
    }

    /// New settings, from the next analysis on (the plugin's parameters, every block).
    pub fn set_settings(&mut self, settings: AudioInSettings) {
        self.settings = Self::sane(settings);
    }

    /// Forgets the input heard so far (the host's reset), allocating nothing; a note
    /// that sounded is left to the engine's own reset.
    pub fn clear(&mut self) {
        self.ring.fill(0.0);
        self.head = 0;
        self.filled = 0;
        self.note = None;
        self.levels = [f32::NEG_INFINITY; REATTACK_HOPS];
        self.pitches = [f32::NAN; SETTLE_HOPS];
        self.smooth_db = f32::NEG_INFINITY;
        self.voiced_hops = 0;
        self.unpitched_hops = 0;
        self.quiet_hops = 0;
    }

    fn sane(s: AudioInSettings) -> AudioInSettings {
        AudioInSettings { transpose: s.transpose.clamp(-48, 48), follow: if s.follow.is_finite() { s.follow.clamp(0.0, 1.0) } else { 1.0 } }
    }

    /// Samples between two analyses.
    pub fn hop(&self) -> usize {
        self.hop
    }

    /// Samples the pitch is measured over.
    pub fn window(&self) -> usize {
        self.window.len()
    }

    /// How far a note's start trails the input's, typically, in samples: two hops (a
    /// note must be pitched for two) and two periods of a note around 200 Hz, the
    /// middle of a voice's range. Lower notes come later, higher ones earlier.
    pub fn latency(&self) -> usize {
        Self::latency_at(self.rate)
    }

    /// [`AudioToNotes::latency`] at `sample_rate`, without building a front end.
    pub fn latency_at(sample_rate: u32) -> usize {
        let rate = sample_rate.max(1000);
        VOICED_HOPS as usize * Self::hop_at(rate) + (2.0 * rate as f32 / 200.0) as usize
    }

    fn hop_at(rate: u32) -> usize {
        ((rate as f32 * HOP_SECONDS).round() as usize).max(1)
    }

    /// Feeds `input` (mono, at the rate it was made for), calling `emit(offset, event)`
    /// for each event at its sample offset in `input`.
    pub fn process(&mut self, input: &[f32], mut emit: impl FnMut(usize, Event)) {
        for (i, &x) in input.iter().enumerate() {
            // A NaN or a runaway sample is heard as silence, never as a pitch.
            let x = if x.is_finite() { x.clamp(-4.0, 4.0) } else { 0.0 };
            self.ring[self.head] = x;
            self.head = (self.head + 1) % self.ring.len();
            self.filled += 1;
            if self.filled == self.hop {
                self.filled = 0;
                self.analyse(|e| emit(i, e));
            }
        }
    }

    /// Ends the note that sounds, if any (the input stopped).
    pub fn finish(&mut self, mut emit: impl FnMut(Event)) {
        if let Some(n) = self.note.take() {
            emit(Event::NoteOff { key: n.key });
        }
    }

    fn key_for(&self, pitch: f32) -> Option<u8> {
        let k = pitch.round() as i32 + self.settings.transpose;
        (0..=127).contains(&k).then_some(k as u8)
    }

    fn velocity(&self, level_db: f32) -> u8 {
        let tracked = ((level_db + 60.0) / 60.0 * 127.0).clamp(1.0, 127.0);
        (100.0 + self.settings.follow * (tracked - 100.0)).round().clamp(1.0, 127.0) as u8
    }

    fn analyse(&mut self, mut emit: impl FnMut(Event)) {
        let (older, newer) = self.ring.split_at(self.head);
        let n = newer.len();
        self.window[..n].copy_from_slice(newer);
        self.window[n..].copy_from_slice(older);
        let hop = &self.window[self.window.len() - self.hop.min(self.window.len())..];
        let level = db((hop.iter().map(|v| v * v).sum::<f32>() / hop.len() as f32).sqrt());
        self.levels.rotate_left(1);
        self.levels[REATTACK_HOPS - 1] = level;
        // The window's mean square must reach the level a note ends below, spread
        // over its length.
        let floor = 10f32.powf(OFF_DB / 10.0) * self.hop as f32 / self.window.len() as f32;
        let pitch = self.detector.pitch(&self.window, self.rate as f32, LOWEST_HZ, HIGHEST_HZ, floor).filter(|p| p.clarity >= CLARITY).map(|p| midi(p.frequency));
        let pitch = pitch.filter(|_| level >= OFF_DB);
        self.pitches.rotate_left(1);
        self.pitches[SETTLE_HOPS - 1] = pitch.unwrap_or(f32::NAN);
        let span = (self.rate as usize / 50).min(self.window.len());
        let recent = &self.window[self.window.len() - span..];
        self.smooth_db = db((recent.iter().map(|v| v * v).sum::<f32>() / span as f32).sqrt());
        if pitch.is_some() {
            self.voiced_hops += 1;
            self.unpitched_hops = 0;
        } else {
            self.voiced_hops = 0;
            self.unpitched_hops += 1;
        }
        self.quiet_hops = if level < OFF_DB { self.quiet_hops + 1 } else { 0 };

        if self.note.is_some() && (self.quiet_hops >= QUIET_HOPS || self.unpitched_hops >= UNPITCHED_HOPS) {
            let n = self.note.take().expect("checked");
            emit(Event::NoteOff { key: n.key });
            return;
        }
        let Some(p) = pitch else { return };
        let (lo, hi) = self.pitches.iter().fold((f32::INFINITY, f32::NEG_INFINITY), |(l, h), &v| (l.min(v), h.max(v)));
        let settled = lo.is_finite() && hi - lo < SETTLED;
        match &self.note {
            None => {
                if self.voiced_hops >= VOICED_HOPS && level >= ON_DB {
                    self.start(p, level, &mut emit);
                }
            }
            Some(n) => {
                let off_key = (p - n.centre).abs() > NEW_NOTE;
                let reattack = level - self.levels[0] >= REATTACK_DB && self.levels[0].is_finite();
                if (off_key && settled) || reattack {
                    let old = n.key;
                    emit(Event::NoteOff { key: old });
                    self.note = None;
                    self.start(p, level, &mut emit);
                } else {
                    let key = n.key;
                    let tuning = p - n.centre;
                    let start_db = n.start_db;
                    emit(Event::Expression { key, expression: Expression::Tuning(tuning) });
                    if self.settings.follow > 0.0 {
                        let gain = 10f32.powf(self.settings.follow * (self.smooth_db - start_db) / 20.0).clamp(0.0, 4.0);
                        emit(Event::Expression { key, expression: Expression::Volume(gain) });
                    }
                }
            }
        }
    }

    fn start(&mut self, pitch: f32, level: f32, emit: &mut impl FnMut(Event)) {
        let Some(key) = self.key_for(pitch) else { return };
        let centre = pitch.round();
        emit(Event::NoteOn { key, velocity: self.velocity(level) });
        emit(Event::Expression { key, expression: Expression::Tuning(pitch - centre) });
        self.note = Some(Sounding { key, centre, start_db: self.smooth_db.max(level - 12.0) });
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    const RATE: u32 = 48_000;

    fn sine(hz: f32, seconds: f32, amp: f32) -> Vec<f32> {
        (0..(seconds * RATE as f32) as usize).map(|i| amp * (std::f32::consts::TAU * hz * i as f32 / RATE as f32).sin()).collect()
    }

    fn events(audio: &[f32], settings: AudioInSettings) -> Vec<(usize, Event)> {
        let mut a = AudioToNotes::new(RATE, settings);
        let mut out = Vec::new();
        for (b, block) in audio.chunks(128).enumerate() {
            a.process(block, |i, e| out.push((b * 128 + i, e)));
        }
        out
    }

    fn hz(key: f32) -> f32 {
        440.0 * 2f32.powf((key - 69.0) / 12.0)
    }

    #[test]
    fn a_held_sine_is_one_note_at_its_key_with_its_cents() {
        let mut audio = vec![0.0; RATE as usize / 10];
        audio.extend(sine(hz(60.3), 0.5, 0.3));
        audio.extend(vec![0.0; RATE as usize / 5]);
        let ev = events(&audio, AudioInSettings { transpose: 2, follow: 1.0 });
        let ons: Vec<&(usize, Event)> = ev.iter().filter(|e| matches!(e.1, Event::NoteOn { .. })).collect();
        assert_eq!(ons.len(), 1, "{ev:?}");
        let (at, on) = ons[0];
        assert!(matches!(on, Event::NoteOn { key: 62, .. }), "transposed two up: {on:?}");
        let late = *at as f32 / RATE as f32 - 0.1;
        assert!(late > 0.0 && late < 0.03, "found {late} s after it started");
        let tunings: Vec<f32> = ev
            .iter()
            .filter_map(|e| match e.1 {
                Event::Expression { expression: Expression::Tuning(t), .. } => Some(t),
                _ => None,
            })
            .collect();
        assert!(tunings.iter().skip(2).all(|t| (t - 0.3).abs() < 0.05), "{tunings:?}");
        let offs: Vec<usize> = ev.iter().filter(|e| matches!(e.1, Event::NoteOff { key: 62 })).map(|e| e.0).collect();
        assert_eq!(offs.len(), 1);
        assert!((offs[0] as f32 / RATE as f32 - 0.6).abs() < 0.03, "ends with the sine: {}", offs[0]);
    }

    #[test]
    fn silence_and_noise_play_nothing() {
        assert!(events(&vec![0.0; RATE as usize], AudioInSettings::default()).is_empty());
        let mut seed = 1u32;
        let noise: Vec<f32> = (0..RATE as usize * 2)
            .map(|_| {
                seed = seed.wrapping_mul(1_664_525).wrapping_add(1_013_904_223);
                (seed >> 8) as f32 / (1u32 << 24) as f32 - 0.5
            })
            .collect();
        let ev = events(&noise, AudioInSettings::default());
        assert!(ev.is_empty(), "{} events from white noise", ev.len());
        let nan = vec![f32::NAN; RATE as usize / 2];
        assert!(events(&nan, AudioInSettings::default()).is_empty());
    }

    #[test]
    fn vibrato_bends_one_note_and_a_settled_step_starts_the_next() {
        // 5.5 Hz vibrato of ±0.5 semitones around A3 for 0.6 s, then straight to C4.
        // (The 43 ms window sees about ±0.35 of it.)
        let mut phase = 0.0f32;
        let mut audio = Vec::new();
        for i in 0..(0.6 * RATE as f32) as usize {
            let t = i as f32 / RATE as f32;
            let key = 57.0 + 0.5 * (std::f32::consts::TAU * 5.5 * t).sin();
            phase += std::f32::consts::TAU * hz(key) / RATE as f32;
            audio.push(0.3 * phase.sin());
        }
        for _ in 0..(0.4 * RATE as f32) as usize {
            phase += std::f32::consts::TAU * hz(60.0) / RATE as f32;
            audio.push(0.3 * phase.sin());
        }
        let ev = events(&audio, AudioInSettings::default());
        let ons: Vec<u8> = ev.iter().filter_map(|e| if let Event::NoteOn { key, .. } = e.1 { Some(key) } else { None }).collect();
        assert_eq!(ons, vec![57, 60], "{ev:?}");
        let bends: Vec<f32> = ev
            .iter()
            .filter_map(|e| match e.1 {
                Event::Expression { key: 57, expression: Expression::Tuning(t) } => Some(t),
                _ => None,
            })
            .collect();
        let (lo, hi) = bends.iter().fold((0.0f32, 0.0f32), |(l, h), &b| (l.min(b), h.max(b)));
        assert!(lo < -0.3 && hi > 0.3, "the vibrato bends the note: {lo}..{hi}");
    }

    /// A slide from G3 up to A3 over 0.3 s bends the G3 upward as it goes; where it
    /// settles, A3 takes over with little tuning left.
    #[test]
    fn a_glide_bends_its_note_until_it_settles_on_the_next() {
        let mut phase = 0.0f32;
        let mut audio = Vec::new();
        for i in 0..RATE as usize {
            let t = i as f32 / RATE as f32;
            let key = 55.0 + 2.0 * (t / 0.3).min(1.0);
            phase += std::f32::consts::TAU * hz(key) / RATE as f32;
            audio.push(0.3 * phase.sin());
        }
        let ev = events(&audio, AudioInSettings::default());
        let ons: Vec<(usize, u8)> = ev.iter().filter_map(|e| if let Event::NoteOn { key, .. } = e.1 { Some((e.0, key)) } else { None }).collect();
        assert_eq!(ons.iter().map(|o| o.1).collect::<Vec<_>>(), vec![55, 57], "{ons:?}");
        let bend = ev
            .iter()
            .filter_map(|e| match e.1 {
                Event::Expression { key: 55, expression: Expression::Tuning(t) } => Some(t),
                _ => None,
            })
            .fold(0.0f32, f32::max);
        assert!(bend > 1.0, "the glide bent G3 up {bend} semitones before A3 took over");
        let settled_at = ons[1].0 as f32 / RATE as f32;
        assert!(settled_at > 0.3 && settled_at < 0.45, "A3 takes over {settled_at} s in");
    }

    #[test]
    fn loudness_follows_through_as_much_as_asked() {
        let mut audio = sine(hz(64.0), 0.3, 0.05);
        audio.extend(sine(hz(64.0), 0.3, 0.05).iter().enumerate().map(|(i, v)| v * (1.0 + 3.0 * i as f32 / (0.3 * RATE as f32))));
        let last_gain = |follow: f32| {
            events(&audio, AudioInSettings { transpose: 0, follow })
                .iter()
                .filter_map(|e| match e.1 {
                    Event::Expression { expression: Expression::Volume(g), .. } => Some(g),
                    _ => None,
                })
                .next_back()
        };
        let full = last_gain(1.0).expect("a volume expression");
        assert!((db(full) - 12.0).abs() < 1.5, "the swell is heard: {:.1} dB", db(full));
        assert_eq!(last_gain(0.0), None, "no follow: no volume changes");
        let velocities: Vec<u8> = [0.0, 1.0]
            .iter()
            .map(|&f| {
                events(&audio, AudioInSettings { transpose: 0, follow: f })
                    .iter()
                    .find_map(|e| if let Event::NoteOn { velocity, .. } = e.1 { Some(velocity) } else { None })
                    .unwrap()
            })
            .collect();
        assert_eq!(velocities[0], 100);
        assert!(velocities[1] < 80, "a quiet start is a soft strike: {}", velocities[1]);
    }
}
#[cfg(test)]
mod delay {
    use super::*;

    /// A note is found within two and a half of its periods and four hops (two to be
    /// sure, two of slack): at 48 kHz 7.5 ms at E5 and above, 10 ms at A4, 17.5 ms at A3, 30 ms at
    /// A2 (counted in samples, not timed).
    #[test]
    fn a_note_is_found_within_two_hops_and_a_few_periods() {
        let rate = 48_000u32;
        for key in [45.0f32, 52.0, 57.0, 64.0, 69.0, 76.0, 84.0] {
            let f = 440.0 * 2f32.powf((key - 69.0) / 12.0);
            let mut audio = vec![0.0f32; 4800];
            audio.extend((0..24000).map(|i| 0.3 * (std::f32::consts::TAU * f * i as f32 / rate as f32).sin()));
            let mut a = AudioToNotes::new(rate, AudioInSettings::default());
            let mut on = None;
            for (b, block) in audio.chunks(128).enumerate() {
                a.process(block, |i, e| {
                    if matches!(e, Event::NoteOn { .. }) && on.is_none() {
                        on = Some(b * 128 + i)
                    }
                });
            }
            let found = on.expect("the note is found") - 4800;
            let bound = 4 * a.hop() + (2.5 * rate as f32 / f) as usize;
            eprintln!("key {key}: found {:.1} ms after its onset (bound {:.1} ms)", found as f32 / 48.0, bound as f32 / 48.0);
            assert!(found <= bound, "key {key}: {found} samples late, more than {bound}");
        }
    }
}
