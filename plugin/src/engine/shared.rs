//! State shared between the audio side and the inference thread: atomics only on the
//! audio side's path, so it never waits.

use std::sync::atomic::{AtomicBool, AtomicU64, Ordering};
use std::sync::mpsc::Sender;
use std::sync::Mutex;

use crate::contract::TimbrePlane;
use crate::runtime::ModelRunner;
use crate::sync::LockExt;

/// A model loaded in the background, and where the inference thread sends the one it
/// replaces, so that tearing down its sessions costs the loader's time, not a
/// deadline of the inference thread.
pub struct PendingModel {
    pub runner: ModelRunner,
    pub plane: TimbrePlane,
    pub origin: String,
    pub retired: Sender<ModelRunner>,
}

/// Everything the audio side, the inference thread and the handles share, in the
/// parts that change together.
#[derive(Default)]
pub struct Shared {
    pub timeline: Timeline,
    pub control: Control,
    pub counters: Counters,
    pub messages: Messages,
    /// A model loaded in the background, waiting for the inference thread to take it
    /// at its next group boundary. Neither the audio thread nor (blocking) the
    /// inference thread ever locks it: the inference thread only `try_lock`s.
    pub pending_model: Mutex<Option<PendingModel>>,
    #[cfg(feature = "fault-injection")]
    pub faults: Faults,
}

/// Where the stream is: what the audio side has played and the inference thread has
/// rendered.
#[derive(Default)]
pub struct Timeline {
    /// Host samples the audio side has completed; every event before it is in the ring.
    pub clock: AtomicU64,
    /// The clock value the inference thread has rendered everything up to.
    pub caught_up: AtomicU64,
    /// The inference thread is idle: what it renders now is exact silence.
    pub idle: AtomicBool,
    /// Events the audio side has pushed, and those the inference thread has taken:
    /// while they differ an idle engine has a note waiting (see `idle_watch`).
    pub events_pushed: AtomicU64,
    pub events_taken: AtomicU64,
    /// Host samples the audio side played as zeros for want of them and will drop
    /// when they arrive: what of the ring is stale.
    pub owed: AtomicU64,
}

/// Requests between the threads.
#[derive(Default)]
pub struct Control {
    pub stop: AtomicBool,
    /// The inference thread has returned and dropped its model.
    pub exited: AtomicBool,
    /// The inference thread panicked: it keeps the stream in time with silence until
    /// a restart is requested.
    pub failed: AtomicBool,
    /// Set by the audio side (plugin reset) or the editor: the inference thread resets
    /// its model state and, after a panic, resumes.
    pub restart: AtomicBool,
    /// Silence instead of the current model until a model loading in the background
    /// is swapped in (or the hold is released): an instance whose chosen model is
    /// still loading plays nothing rather than another model.
    pub hold_for_model: AtomicBool,
}

/// Fault injection for the reliability tests: hold the inference thread while set,
/// and panic at the next step.
#[cfg(feature = "fault-injection")]
#[derive(Default)]
pub struct Faults {
    pub stall: AtomicBool,
    /// Steps left that panic, each before it renders anything.
    pub panics: AtomicU64,
    /// Panic in the next round, outside any step.
    pub panic_in_round: AtomicBool,
    /// Hold the next round this many milliseconds, deaf to `stop`.
    pub hang_ms: AtomicU64,
}

/// The engine's counters, listed once: the atomics both threads bump
/// ([`Counters`]), their snapshot ([`Stats`]), and its one-line `name=value` form for
/// the log a user reporting a glitch sends and the soak reads. Times are kept in
/// nanoseconds, read as seconds and written as milliseconds.
macro_rules! counters {
    (
        counts { $( $(#[doc = $cdoc:literal])* $count:ident, )* }
        times { $( $(#[doc = $tdoc:literal])* $ns:ident => $secs:ident as $ms:literal, )* }
    ) => {
        /// What the engine counts; [`Counters::snapshot`] reads them all as [`Stats`].
        #[derive(Default)]
        pub struct Counters {
            $( $(#[doc = $cdoc])* pub $count: AtomicU64, )*
            $( $(#[doc = $tdoc])* pub $ns: AtomicU64, )*
        }

        /// A snapshot of the engine's counters.
        #[derive(Clone, Debug, Default, PartialEq)]
        pub struct Stats {
            $( $(#[doc = $cdoc])* pub $count: u64, )*
            $( $(#[doc = $tdoc])* pub $secs: f64, )*
            /// True while the inference thread is failed (silent until restarted).
            pub failed: bool,
        }

        impl Counters {
            /// Every counter now; `failed` is the control flag, which the snapshot carries.
            pub fn snapshot(&self, failed: bool) -> Stats {
                Stats {
                    $( $count: self.$count.load(Ordering::Relaxed), )*
                    $( $secs: self.$ns.load(Ordering::Relaxed) as f64 * 1e-9, )*
                    failed,
                }
            }
        }

        impl std::fmt::Display for Stats {
            fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
                $( write!(f, concat!(stringify!($count), "={} "), self.$count)?; )*
                $( write!(f, concat!($ms, "={:.3} "), self.$secs * 1e3)?; )*
                write!(f, "failed={}", self.failed)
            }
        }
    };
}

counters! {
    counts {
        /// Blocks that lacked samples while sound was playing: audible dropouts.
        underruns,
        /// Dropouts: runs of consecutive underrunning blocks, each one gap a listener
        /// hears (one stall of the machine is one dropout however many blocks it spans).
        dropouts,
        underrun_samples,
        /// Host samples underruns have added to the latency (see `AudioSide`).
        latency_grown,
        /// The clock at the end of the last block that underran: where to look.
        last_underrun_at,
        /// Rounds of the inference thread that lost the margin to the machine, not to
        /// the plugin's work: a wake-up that came late plus a group of frames, whose
        /// cost does not depend on what is played, together longer than the margin
        /// less one poll (see `Inference::stall_limit`). The soak tells such underruns
        /// from the plugin's own with this; `max_wake_late` is the latest wake-up.
        stalls,
        /// Late samples the inference thread dropped after underruns.
        stale_dropped,
        dropped_events,
        nan_resets,
        model_errors,
        /// Panics caught on the inference thread.
        panics,
        /// Offline waits that gave up on a stuck inference thread.
        offline_timeouts,
        /// Models swapped in while playing.
        model_swaps,
        steps,
        frames,
        /// Frames rendered as exact silence without running the models (idle).
        idle_frames,
        /// Blocks that lacked samples while idle: the missing samples are zeros, so
        /// nothing is heard. Expected: an idle inference thread under the idle watch
        /// sleeps longer than the ring's lead, and catches up when it wakes.
        idle_underruns,
        /// Times the engine left idle for a note.
        idle_exits,
    }
    times {
        /// The latest wake-up of the inference thread, beyond the sleep it asked for.
        max_wake_late_ns => max_wake_late_seconds as "max_wake_late_ms",
        /// Total inference time.
        busy_ns => busy_seconds as "busy_ms",
        /// Longest single step.
        max_step_ns => max_step_seconds as "max_step_ms",
        /// The least time to spare of a first group after idle: how much fresh audio
        /// the audio side still had to play when it arrived, stale samples not
        /// counted (meaningful once `idle_exits` > 0; 0 means it came late).
        idle_exit_min_lead_ns => idle_exit_min_lead_seconds as "idle_exit_min_lead_ms",
    }
}

/// Messages for the log and the editor. Only non-real-time threads touch them.
#[derive(Default)]
pub struct Messages {
    /// Last fault the inference thread reported (a panic, a failed or diverging model
    /// run), for the log and the editor's warning.
    last_error: Mutex<Option<String>>,
    /// Last ordinary event worth showing ("now playing …", "restarted"): not a fault,
    /// so the editor shows it as information and a restart clears `last_error`.
    last_notice: Mutex<Option<String>>,
}

impl Stats {
    /// Whether anything went wrong: an underrun, a dropped event, a model fault, or an
    /// offline wait that gave up.
    pub fn troubled(&self) -> bool {
        self.underruns + self.dropped_events + self.nan_resets + self.model_errors + self.panics + self.offline_timeouts > 0 || self.failed
    }
}

impl Messages {
    pub fn report_error(&self, message: String) {
        *self.last_error.locked() = Some(message);
    }

    /// A restart ends the fault it was reported for.
    pub fn clear_error(&self) {
        *self.last_error.locked() = None;
    }

    pub fn report_notice(&self, message: String) {
        *self.last_notice.locked() = Some(message);
    }

    pub fn last_error(&self) -> Option<String> {
        self.last_error.locked().clone()
    }

    pub fn last_notice(&self) -> Option<String> {
        self.last_notice.locked().clone()
    }
}

impl Shared {
    pub fn stats(&self) -> Stats {
        self.counters.snapshot(self.control.failed.load(Ordering::Relaxed))
    }
}
