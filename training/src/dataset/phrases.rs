//! A seeded generator of practice material: scales, arpeggios, chords, melodies,
//! two-voice counterpoint and repeated notes, with varied tempo, register, velocity,
//! duration, polyphony (1–8), sustain pedal and pitch bend. It covers the keyboard
//! more evenly than any corpus, which the real MIDI then complements.

use melwave::features::Event;
use melwave::midi_file::{Song, SongEvent};
use rand::rngs::Xoshiro256PlusPlus;
use rand::{RngExt, SeedableRng};

/// Builds a [`Song`] from notes and controller events at times in seconds.
pub(crate) struct Writer {
    events: Vec<SongEvent>,
    /// Notes above this key are played an octave (or more) lower.
    top: i32,
}

impl Default for Writer {
    fn default() -> Self {
        Self { events: Vec::new(), top: i32::MAX }
    }
}

impl Writer {
    pub(crate) fn push(&mut self, t: f64, event: Event) {
        // A bend is stored as its MIDI encoding decodes, so the features see exactly
        // the bend the SoundFont render plays.
        let event = match event {
            Event::PitchBend(s) => Event::pitch_bend_from_midi(Event::pitch_bend_to_midi(s)),
            e => e,
        };
        self.events.push(SongEvent { seconds: t, channel: 0, event });
    }

    pub(crate) fn note(&mut self, t: f64, key: i32, velocity: i32, duration: f64) {
        let key = if key > self.top { key - 12 * ((key - self.top + 11) / 12) } else { key };
        let key = key.clamp(0, 127) as u8;
        self.push(t, Event::NoteOn { key, velocity: velocity.clamp(1, 127) as u8 });
        self.push(t + duration.max(0.005), Event::NoteOff { key });
    }
}

const MAJOR: [i32; 7] = [0, 2, 4, 5, 7, 9, 11];
const MINOR: [i32; 7] = [0, 2, 3, 5, 7, 8, 10];

fn scale_key(root: i32, mode: &[i32; 7], degree: i32) -> i32 {
    let oct = degree.div_euclid(7);
    root + 12 * oct + mode[degree.rem_euclid(7) as usize]
}

/// Where a piece's sections sit on the keyboard and how hard they are played.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum Emphasis {
    /// Roots over the whole keyboard, weighted to the middle; velocities 25–120 (± a
    /// spread), as most music is played.
    Even,
    /// Roots at the keyboard's ends (sections reach up to key [`EXTREME_TOP`]) and
    /// velocities from pianissimo to fortissimo: the registers and dynamics that real
    /// music and even phrases rarely visit, where a model learns each preset's range
    /// (a string ensemble falls silent above its highest sample, a vibraphone does
    /// not) and its softest notes.
    Extremes,
}

/// The highest key an [`Emphasis::Extremes`] piece plays; sections that would climb
/// past it turn down an octave instead of piling onto one key.
pub const EXTREME_TOP: i32 = 120;

/// A piece of about `seconds` seconds (sections are never cut).
pub fn generate(seed: u64, seconds: f64) -> Song {
    generate_with(seed, seconds, Emphasis::Even)
}

pub fn generate_with(seed: u64, seconds: f64, emphasis: Emphasis) -> Song {
    let mut rng = Xoshiro256PlusPlus::seed_from_u64(seed);
    let top = if emphasis == Emphasis::Extremes { EXTREME_TOP } else { i32::MAX };
    let mut w = Writer { top, ..Writer::default() };
    let mut t = 0.0;
    while t < seconds {
        let beat = 60.0 / rng.random_range(60.0..180.0);
        let (root, vel) = match emphasis {
            // Register: the root wanders over the whole keyboard, weighted to the middle.
            Emphasis::Even => ((rng.random_range(24..96) + rng.random_range(36..84)) / 2, None),
            Emphasis::Extremes => {
                let root = if rng.random_bool(0.6) { rng.random_range(80..104) } else { rng.random_range(21..40) };
                (root, Some(rng.random_range(8..127)))
            }
        };
        let mode = if rng.random_bool(0.5) { &MAJOR } else { &MINOR };
        // Drawn in this order so that even pieces stay what they were before
        // emphases existed (the test split's pieces among them).
        let vel = vel.unwrap_or_else(|| rng.random_range(25..120));
        let spread = rng.random_range(0..25);
        let v = |rng: &mut Xoshiro256PlusPlus| vel + rng.random_range(-spread..=spread);
        let pedal = rng.random_bool(0.3);
        if pedal {
            w.push(t, Event::Sustain(true));
        }
        let start = t;
        match rng.random_range(0..6) {
            0 => {
                // Scale, up or down, legato or staccato.
                let n = rng.random_range(7..22);
                let step = if rng.random_bool(0.5) { 1 } else { -1 };
                let gate = rng.random_range(0.3..1.0);
                let dur = beat * [0.25, 0.5, 1.0][rng.random_range(0..3)];
                for i in 0..n {
                    w.note(t, scale_key(root, mode, i * step), v(&mut rng), dur * gate);
                    t += dur;
                }
            }
            1 => {
                // Arpeggio over a triad or seventh chord across octaves.
                let chord: Vec<i32> = if rng.random_bool(0.5) { vec![0, 2, 4] } else { vec![0, 2, 4, 6] };
                let n = rng.random_range(8..24);
                let dur = beat * [0.25, 0.5][rng.random_range(0..2)];
                for i in 0..n {
                    let deg = chord[i % chord.len()] + 7 * (i / chord.len()) as i32 % 14;
                    w.note(t, scale_key(root, mode, deg), v(&mut rng), dur * 1.5);
                    t += dur;
                }
            }
            2 => {
                // Block chords, 2–8 notes, with bass.
                let n = rng.random_range(2..7);
                for _ in 0..n {
                    let poly = rng.random_range(2..=8);
                    let base = rng.random_range(0..7);
                    let dur = beat * rng.random_range(1.0..4.0);
                    for j in 0..poly {
                        let deg = base + 2 * j;
                        w.note(t, scale_key(root - 12 * (j == 0) as i32, mode, deg), v(&mut rng), dur * 0.9);
                    }
                    t += dur;
                }
            }
            3 => {
                // Melody: steps and leaps, varied rhythm, maybe a bend.
                let n = rng.random_range(6..20);
                let mut deg = rng.random_range(0..7);
                for _ in 0..n {
                    let dur = beat * [0.25, 0.5, 0.5, 1.0, 1.5, 2.0][rng.random_range(0..6)];
                    let key = scale_key(root + 12, mode, deg);
                    w.note(t, key, v(&mut rng), dur * rng.random_range(0.5..1.0));
                    if rng.random_bool(0.15) {
                        let depth: f32 = rng.random_range(-2.0..2.0);
                        for s in 1..=6 {
                            w.push(t + dur * 0.1 * s as f64, Event::PitchBend(depth * s as f32 / 6.0));
                        }
                        w.push(t + dur * 0.95, Event::PitchBend(0.0));
                    }
                    t += dur;
                    deg += [-2, -1, -1, 1, 1, 2, 3, -3, 4][rng.random_range(0..9)];
                    deg = deg.clamp(-7, 14);
                }
            }
            4 => {
                // Two voices in contrary motion.
                let n = rng.random_range(8..20);
                let dur = beat * [0.5, 1.0][rng.random_range(0..2)];
                for i in 0..n {
                    w.note(t, scale_key(root + 12, mode, i % 8), v(&mut rng), dur * 0.9);
                    w.note(t, scale_key(root - 12, mode, 7 - i % 8), v(&mut rng), dur * 0.9);
                    t += dur;
                }
            }
            _ => {
                // Fast repeated notes with a crescendo or decrescendo.
                let n = rng.random_range(6..24);
                let key = scale_key(root, mode, rng.random_range(0..7));
                let dur = beat * 0.25;
                let (v0, v1) = (rng.random_range(20..127), rng.random_range(20..127));
                for i in 0..n {
                    let vel = v0 + (v1 - v0) * i / n;
                    w.note(t, key, vel, dur * 0.6);
                    t += dur;
                }
            }
        }
        if pedal {
            w.push(t, Event::Sustain(false));
        }
        t = t.max(start + beat) + beat * rng.random_range(0.0..2.0);
    }
    w.finish()
}

impl Writer {
    pub(crate) fn finish(mut self) -> Song {
        // Stable, so a note-off written before a note-on at the same time stays first.
        self.events.sort_by(|a, b| a.seconds.total_cmp(&b.seconds));
        let duration = self.events.last().map_or(0.0, |e| e.seconds);
        Song { events: self.events, duration, damage: Vec::new() }
    }
}
