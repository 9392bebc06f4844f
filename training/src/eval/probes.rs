//! The fixed procedural probes: the same short pieces for every model, so that figures
//! from different models and designs are comparable. Each isolates one thing a player
//! would notice: the range and dynamics of single notes, chords, fast repeats, long
//! sustains (with the pedal) and pitch bends.

use melwave::features::Event;
use melwave::midi_file::Song;

use crate::dataset::phrases::Writer;

/// Velocities of the single-note probe: soft, medium, loud.
pub const VELOCITIES: [i32; 3] = [40, 80, 120];

pub struct Probe {
    pub name: &'static str,
    pub song: Song,
}

/// Single notes from C1 to C7 (quick: C3, C4, C5) at three velocities.
fn single_notes(quick: bool) -> Song {
    let keys: Vec<i32> = if quick { vec![48, 60, 72] } else { (24..=96).step_by(12).collect() };
    let mut w = Writer::default();
    let mut t = 0.05;
    for &k in &keys {
        for v in VELOCITIES {
            w.note(t, k, v, 0.5);
            t += 0.8;
        }
    }
    w.finish()
}

fn chords(quick: bool) -> Song {
    let all: [&[i32]; 4] = [&[48, 52, 55, 60], &[45, 57, 60, 64, 67], &[38, 50, 53, 57, 60, 65], &[55, 59, 62, 65, 71, 74, 77, 83]];
    let mut w = Writer::default();
    let mut t = 0.05;
    for (i, chord) in all.iter().enumerate().take(if quick { 1 } else { 4 }) {
        for &k in chord.iter() {
            w.note(t, k, 70 + 10 * i as i32, 1.0);
        }
        t += 1.4;
    }
    w.finish()
}

/// 16ths at 150 bpm (100 ms apart), then a faster run at 80 ms.
fn repeated(quick: bool) -> Song {
    let mut w = Writer::default();
    let mut t = 0.05;
    for (key, step, n) in [(60, 0.1, 16), (72, 0.08, 20)].into_iter().take(if quick { 1 } else { 2 }) {
        for i in 0..n {
            w.note(t, key, 70 + (i % 4) * 10, step * 0.6);
            t += step;
        }
        t += 0.4;
    }
    w.finish()
}

/// A held low note, then a held note under the pedal with a repeated note on top.
fn sustains() -> Song {
    let mut w = Writer::default();
    w.note(0.05, 43, 90, 3.0);
    w.push(3.3, Event::Sustain(true));
    w.note(3.35, 67, 80, 0.3);
    w.note(4.0, 71, 80, 0.3);
    w.push(6.3, Event::Sustain(false));
    w.finish()
}

/// A held A4 bent up a whole tone, down a whole tone and back, in 50 ms steps; then a
/// note struck while bent (its onset pitch includes the bend).
fn bends(quick: bool) -> Song {
    let mut w = Writer::default();
    w.note(0.05, 69, 90, 2.2);
    let steps = 40;
    for i in 0..=steps {
        let x = i as f32 / steps as f32;
        // 0 → +2 → −2 → 0 semitones.
        let semi = if x < 0.25 {
            8.0 * x
        } else if x < 0.75 {
            2.0 - 8.0 * (x - 0.25)
        } else {
            -2.0 + 8.0 * (x - 0.75)
        };
        w.push(0.2 + 1.8 * x as f64, Event::PitchBend(semi));
    }
    if !quick {
        w.push(2.6, Event::PitchBend(1.0));
        w.note(2.65, 60, 90, 0.8);
        w.push(3.6, Event::PitchBend(0.0));
    }
    w.finish()
}

pub fn probes(quick: bool) -> Vec<Probe> {
    let mut v = vec![
        Probe { name: "single notes", song: single_notes(quick) },
        Probe { name: "chords", song: chords(quick) },
        Probe { name: "repeated notes", song: repeated(quick) },
        Probe { name: "pitch bends", song: bends(quick) },
    ];
    if !quick {
        v.insert(3, Probe { name: "long sustains", song: sustains() });
    }
    v
}

/// The phrase rendered along each morph path: an arpeggio into a held chord.
pub fn morph_phrase() -> Song {
    let mut w = Writer::default();
    for (i, k) in [48, 55, 60, 64, 67].into_iter().enumerate() {
        w.note(0.05 + 0.15 * i as f64, k, 90, 1.2 - 0.15 * i as f64);
    }
    w.finish()
}
