//! What the editor shows of the audio (the output meter, the keys sounding) and the
//! notes the editor plays (its on-screen keyboard, the computer keyboard), shared
//! with the audio thread without a lock on its side: atomics one way, a wait-free
//! ring the other.

use std::sync::atomic::{AtomicBool, AtomicU64, Ordering};
use std::sync::Mutex;

use nice_plug::prelude::AtomicF32;
use ringbuf::traits::{Consumer, Producer, Split};
use ringbuf::{HeapCons, HeapProd, HeapRb};

use crate::contract::KEYS;
use crate::features::{Event, RollState};
use crate::sync::LockExt;

/// How many notes the editor can queue between two blocks.
const EDITOR_NOTES: usize = 256;
/// The meter's RMS time constant, in seconds (a VU-like 300 ms).
const RMS_SECONDS: f32 = 0.3;

/// The audio thread's side.
pub struct PanelWriter {
    shared: std::sync::Arc<FrontPanel>,
    notes: HeapCons<Event>,
    /// Keys sounding from every source, the pedal included.
    roll: RollState,
    mean_square: f32,
}

/// Shared between the audio thread and the editor.
pub struct FrontPanel {
    /// Peak of the output since the editor last read it.
    peak: AtomicF32,
    rms: AtomicF32,
    /// The output reached 0 dBFS since the editor last cleared the light.
    clipped: AtomicBool,
    /// One bit per key sounding.
    keys: [AtomicU64; 2],
    /// The editor's notes, to the audio thread (the lock is the GUI's alone: the audio
    /// thread holds the consumer).
    notes: Mutex<HeapProd<Event>>,
}

impl FrontPanel {
    /// The shared panel and the audio thread's writer.
    pub fn new() -> (std::sync::Arc<FrontPanel>, PanelWriter) {
        let (prod, cons) = HeapRb::<Event>::new(EDITOR_NOTES).split();
        let shared = std::sync::Arc::new(FrontPanel {
            peak: AtomicF32::new(0.0),
            rms: AtomicF32::new(0.0),
            clipped: AtomicBool::new(false),
            keys: [AtomicU64::new(0), AtomicU64::new(0)],
            notes: Mutex::new(prod),
        });
        (shared.clone(), PanelWriter { shared, notes: cons, roll: RollState::default(), mean_square: 0.0 })
    }

    /// Plays a note from the editor (`velocity` 0 releases it). False when the queue
    /// is full.
    pub fn play(&self, key: u8, velocity: u8) -> bool {
        let event = if velocity == 0 { Event::NoteOff { key: key & 0x7f } } else { Event::NoteOn { key: key & 0x7f, velocity: velocity.min(127) } };
        self.notes.locked().try_push(event).is_ok()
    }

    /// The output's peak since the last call (cleared by reading) and its RMS, linear.
    pub fn take_levels(&self) -> (f32, f32) {
        (self.peak.swap(0.0, Ordering::Relaxed), self.rms.load(Ordering::Relaxed))
    }

    pub fn clipped(&self) -> bool {
        self.clipped.load(Ordering::Relaxed)
    }

    pub fn clear_clip(&self) {
        self.clipped.store(false, Ordering::Relaxed);
    }

    pub fn sounding(&self, key: usize) -> bool {
        key < KEYS && self.keys[key / 64].load(Ordering::Relaxed) & (1 << (key % 64)) != 0
    }
}

impl PanelWriter {
    /// The editor's next queued note, for the audio thread to play at the block's start.
    pub fn next_editor_note(&mut self) -> Option<Event> {
        self.notes.try_pop()
    }

    /// Notes what the engine was sent, for the keys the editor lights.
    pub fn saw(&mut self, event: &Event) {
        self.roll.apply(event);
    }

    /// After a block: publishes the keys sounding and the output's levels.
    pub fn block_done(&mut self, output: &[f32], sample_rate: f32) {
        let mut bits = [0u64; 2];
        for (k, b) in (0..KEYS).map(|k| (k, self.roll.sounding(k))) {
            if b {
                bits[k / 64] |= 1 << (k % 64);
            }
        }
        for (slot, b) in self.shared.keys.iter().zip(bits) {
            slot.store(b, Ordering::Relaxed);
        }
        let peak = output.iter().fold(0.0f32, |m, v| if v.is_finite() { m.max(v.abs()) } else { m });
        if peak >= 1.0 {
            self.shared.clipped.store(true, Ordering::Relaxed);
        }
        if peak > self.shared.peak.load(Ordering::Relaxed) {
            self.shared.peak.store(peak, Ordering::Relaxed);
        }
        // One pole per block on the block's mean square: a 300 ms ballistic.
        if !output.is_empty() {
            let ms = output.iter().map(|v| if v.is_finite() { v * v } else { 0.0 }).sum::<f32>() / output.len() as f32;
            let a = (-(output.len() as f32) / (RMS_SECONDS * sample_rate.max(1.0))).exp();
            self.mean_square = a * self.mean_square + (1.0 - a) * ms;
            self.shared.rms.store(self.mean_square.sqrt(), Ordering::Relaxed);
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn the_panel_shows_keys_levels_and_clips_and_carries_the_editors_notes() {
        let (panel, mut writer) = FrontPanel::new();
        assert!(panel.play(60, 100) && panel.play(60, 0));
        let got: Vec<Event> = std::iter::from_fn(|| writer.next_editor_note()).collect();
        assert_eq!(got, vec![Event::NoteOn { key: 60, velocity: 100 }, Event::NoteOff { key: 60 }]);
        writer.saw(&Event::NoteOn { key: 64, velocity: 90 });
        writer.saw(&Event::Sustain(true));
        writer.saw(&Event::NoteOn { key: 100, velocity: 90 });
        writer.saw(&Event::NoteOff { key: 100 });
        writer.block_done(&[0.5, -0.25], 48_000.0);
        assert!(panel.sounding(64) && panel.sounding(100) && !panel.sounding(60), "held and sustained keys light");
        let (peak, rms) = panel.take_levels();
        assert_eq!(peak, 0.5);
        assert!(rms > 0.0 && rms < 0.5);
        assert_eq!(panel.take_levels().0, 0.0, "reading clears the peak");
        assert!(!panel.clipped());
        writer.block_done(&[1.0, f32::NAN], 48_000.0);
        assert!(panel.clipped());
        panel.clear_clip();
        assert!(!panel.clipped());
        writer.saw(&Event::AllSoundOff);
        writer.block_done(&[], 48_000.0);
        assert!(!panel.sounding(64) && !panel.sounding(100));
        // A full queue refuses, never blocks.
        assert!((0..EDITOR_NOTES + 10).map(|_| panel.play(1, 1)).any(|ok| !ok));
    }
}
