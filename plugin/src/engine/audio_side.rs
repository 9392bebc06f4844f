//! The half of the engine that lives on the host's audio thread. It only moves
//! events in and samples out through lock-free SPSC rings and atomics: no
//! allocation, no lock, no syscall, and every loop is bounded by the block length.

use std::sync::atomic::Ordering;
use std::sync::Arc;

use ringbuf::traits::{Consumer, Observer, Producer};
use ringbuf::{HeapCons, HeapProd};

use super::shared::Shared;
use crate::features::{Event, TimedEvent};

/// Samples over which audio fades out at an underrun and back in afterwards, so that
/// a stall is a short dip rather than a click.
pub const FADE: usize = 64;

pub struct AudioSide {
    pub(super) events: HeapProd<TimedEvent>,
    pub(super) samples: HeapCons<f32>,
    pub(super) shared: Arc<Shared>,
    pub(super) inference: std::thread::Thread,
    /// Host samples processed so far.
    pub(super) clock: u64,
    /// Samples left in the fade-in after an underrun.
    pub(super) fade_in: usize,
    /// The last sample handed to the host, for a fade-out that starts from it when an
    /// underrun begins right at a block boundary.
    pub(super) last: f32,
}

impl AudioSide {
    /// Queues an event at `offset` samples into the block about to be processed.
    /// Returns false (and counts it) if the event ring is full.
    pub fn push_event(&mut self, offset: usize, event: Event) -> bool {
        let ev = TimedEvent { time: self.clock + offset as u64, event };
        if self.events.try_push(ev).is_err() {
            self.shared.dropped_events.fetch_add(1, Ordering::Relaxed);
            return false;
        }
        true
    }

    /// Sets the pad position (0..1 on each axis).
    pub fn set_timbre(&self, x: f32, y: f32) {
        self.shared.set_timbre(x, y);
    }

    /// Host samples processed so far.
    pub fn clock(&self) -> u64 {
        self.clock
    }

    /// Fills `out` with the next block of audio and advances the clock. Events for
    /// this block must have been pushed before the call.
    pub fn process(&mut self, out: &mut [f32]) {
        let got = self.samples.pop_slice(out);
        for s in &mut out[..got] {
            if !s.is_finite() {
                *s = 0.0;
            }
        }
        if self.fade_in > 0 {
            for s in out[..got].iter_mut() {
                if self.fade_in == 0 {
                    break;
                }
                *s *= 1.0 - self.fade_in as f32 / FADE as f32;
                self.fade_in -= 1;
            }
        }
        if got < out.len() {
            out[got..].fill(0.0);
            if got >= FADE {
                for (i, s) in out[got - FADE..got].iter_mut().enumerate() {
                    *s *= 1.0 - (i + 1) as f32 / FADE as f32;
                }
            } else {
                // Too few fresh samples to fade within: continue from the last sample
                // heard (from this block, or else the previous one) down to zero over
                // FADE samples, so the stall never starts with a step.
                let from = if got > 0 { out[got - 1] } else { self.last };
                let n = FADE.min(out.len() - got);
                for (i, s) in out[got..got + n].iter_mut().enumerate() {
                    *s = from * (1.0 - (i + 1) as f32 / FADE as f32);
                }
            }
            // The samples this block lacked are owed: the inference thread drops that
            // many before pushing again, so the stream stays in time instead of
            // playing late, and stale audio never enters the ring.
            let missing = (out.len() - got) as u64;
            self.shared.debt.fetch_add(missing, Ordering::AcqRel);
            self.fade_in = FADE;
            self.shared.underruns.fetch_add(1, Ordering::Relaxed);
            self.shared.underrun_samples.fetch_add(missing, Ordering::Relaxed);
        }
        self.last = out.last().copied().unwrap_or(self.last);
        self.clock += out.len() as u64;
        self.shared.clock.store(self.clock, Ordering::Release);
    }

    /// Asks the inference thread to reset its model state and, if it had failed (a
    /// panic), to resume. One atomic store: safe on the audio thread (plugin `reset()`).
    pub fn request_restart(&self) {
        self.shared.restart.store(true, Ordering::Release);
    }

    /// Offline rendering only: blocks until the inference thread has rendered all it
    /// can for the events so far, or the ring already holds `block` samples. Never
    /// call this on a real-time thread.
    pub fn wait_for_inference(&mut self, block: usize) {
        let mut spins = 0u32;
        while self.samples.occupied_len() < block && self.shared.caught_up.load(Ordering::Acquire) < self.clock {
            if self.shared.stop.load(Ordering::Relaxed) {
                return;
            }
            self.inference.unpark();
            spins += 1;
            if spins < 64 {
                std::thread::yield_now();
            } else {
                std::thread::sleep(std::time::Duration::from_micros(50));
            }
        }
    }
}
