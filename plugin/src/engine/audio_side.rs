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
    /// Samples owed to the stream after an underrun: they are dropped when they
    /// arrive, so that the stream stays in time instead of playing late.
    pub(super) debt: u64,
    /// Samples left in the fade-in after an underrun.
    pub(super) fade_in: usize,
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
        if self.debt > 0 {
            let dropped = self.samples.skip(self.debt.min(self.samples.occupied_len() as u64) as usize);
            self.debt -= dropped as u64;
        }
        let got = if self.debt == 0 { self.samples.pop_slice(out) } else { 0 };
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
            let n = got.min(FADE);
            for (i, s) in out[got - n..got].iter_mut().enumerate() {
                *s *= 1.0 - (i + 1) as f32 / n as f32;
            }
            out[got..].fill(0.0);
            let missing = (out.len() - got) as u64;
            self.debt += missing;
            self.fade_in = FADE;
            self.shared.underruns.fetch_add(1, Ordering::Relaxed);
            self.shared.underrun_samples.fetch_add(missing, Ordering::Relaxed);
        }
        self.clock += out.len() as u64;
        self.shared.clock.store(self.clock, Ordering::Release);
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
