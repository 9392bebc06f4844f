//! State shared between the audio side and the inference thread: atomics only on the
//! audio side's path, so it never waits.

use std::sync::atomic::{AtomicBool, AtomicU32, AtomicU64, Ordering};
use std::sync::Mutex;

use crate::contract::TimbrePlane;
use crate::runtime::ModelRunner;

#[derive(Default)]
pub struct Shared {
    /// A model loaded in the background, waiting for the inference thread to take it
    /// at its next group boundary. Neither the audio thread nor (blocking) the
    /// inference thread ever locks it: the inference thread only `try_lock`s.
    pub pending_model: Mutex<Option<(ModelRunner, TimbrePlane, String)>>,
    pub model_swaps: AtomicU64,
    /// Host samples the audio side has completed; every event before it is in the ring.
    pub clock: AtomicU64,
    /// The clock value the inference thread has rendered everything up to.
    pub caught_up: AtomicU64,
    /// Pad position, f32 bits.
    pub timbre_x: AtomicU32,
    pub timbre_y: AtomicU32,
    pub underruns: AtomicU64,
    pub underrun_samples: AtomicU64,
    pub dropped_events: AtomicU64,
    pub nan_resets: AtomicU64,
    pub model_errors: AtomicU64,
    pub overflow_samples: AtomicU64,
    /// Samples the audio side missed in underruns and the inference thread has not yet
    /// dropped. Only the audio side adds and only the inference thread subtracts.
    pub debt: AtomicU64,
    pub stale_dropped: AtomicU64,
    pub steps: AtomicU64,
    pub frames: AtomicU64,
    pub busy_ns: AtomicU64,
    pub max_step_ns: AtomicU64,
    pub stop: AtomicBool,
    /// The inference thread panicked: it keeps the stream in time with silence until
    /// a restart is requested.
    pub failed: AtomicBool,
    /// Set by the audio side (plugin reset): the inference thread resets its model
    /// state and, after a panic, resumes.
    pub restart: AtomicBool,
    pub panics: AtomicU64,
    /// Fault injection for the reliability tests: hold the inference thread while set,
    /// and panic at the next step.
    pub fault_stall: AtomicBool,
    pub fault_panic: AtomicBool,
    /// Last error from the inference thread, for the log and the editor. Only
    /// non-real-time threads touch it.
    pub last_error: Mutex<Option<String>>,
}

impl Shared {
    pub fn set_timbre(&self, x: f32, y: f32) {
        self.timbre_x.store(x.to_bits(), Ordering::Relaxed);
        self.timbre_y.store(y.to_bits(), Ordering::Relaxed);
    }

    pub fn timbre(&self) -> (f32, f32) {
        (f32::from_bits(self.timbre_x.load(Ordering::Relaxed)), f32::from_bits(self.timbre_y.load(Ordering::Relaxed)))
    }
}

/// A snapshot of the engine's counters.
#[derive(Clone, Debug, Default, PartialEq)]
pub struct Stats {
    pub underruns: u64,
    pub underrun_samples: u64,
    pub dropped_events: u64,
    pub nan_resets: u64,
    pub model_errors: u64,
    pub overflow_samples: u64,
    /// Late samples the inference thread dropped after underruns.
    pub stale_dropped: u64,
    /// Models swapped in while playing.
    pub model_swaps: u64,
    /// Panics caught on the inference thread.
    pub panics: u64,
    /// True while the inference thread is failed (silent until restarted).
    pub failed: bool,
    pub steps: u64,
    pub frames: u64,
    /// Total inference time.
    pub busy_seconds: f64,
    /// Longest single step.
    pub max_step_seconds: f64,
}

impl Shared {
    pub fn stats(&self) -> Stats {
        let l = |a: &AtomicU64| a.load(Ordering::Relaxed);
        Stats {
            underruns: l(&self.underruns),
            underrun_samples: l(&self.underrun_samples),
            dropped_events: l(&self.dropped_events),
            nan_resets: l(&self.nan_resets),
            model_errors: l(&self.model_errors),
            overflow_samples: l(&self.overflow_samples),
            stale_dropped: l(&self.stale_dropped),
            model_swaps: l(&self.model_swaps),
            panics: l(&self.panics),
            failed: self.failed.load(Ordering::Relaxed),
            steps: l(&self.steps),
            frames: l(&self.frames),
            busy_seconds: l(&self.busy_ns) as f64 * 1e-9,
            max_step_seconds: l(&self.max_step_ns) as f64 * 1e-9,
        }
    }
}
