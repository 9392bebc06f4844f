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

/// What the engine counts; [`Counters::snapshot`] reads them all as [`Stats`].
#[derive(Default)]
pub struct Counters {
    /// Blocks that lacked samples while sound was playing: audible dropouts.
    pub underruns: AtomicU64,
    /// Dropouts: runs of consecutive underrunning blocks, each one gap a listener
    /// hears (one stall of the machine is one dropout however many blocks it spans).
    pub dropouts: AtomicU64,
    pub underrun_samples: AtomicU64,
    /// Host samples underruns have added to the latency (see `AudioSide`).
    pub latency_grown: AtomicU64,
    /// The clock at the end of the last block that underran: where to look.
    pub last_underrun_at: AtomicU64,
    /// Rounds of the inference thread that lost the margin to the machine, not to
    /// the plugin's work: a wake-up from the fixed poll that came late (the thread
    /// runs at real-time priority) plus a group of frames, whose cost does not depend
    /// on what is played, together longer than the margin less one poll (see
    /// `Inference::stall_limit`). The soak tells such underruns from the plugin's
    /// own with this; `max_wake_late_ns` is the latest wake-up.
    pub stalls: AtomicU64,
    pub max_wake_late_ns: AtomicU64,
    pub dropped_events: AtomicU64,
    pub nan_resets: AtomicU64,
    pub model_errors: AtomicU64,
    pub stale_dropped: AtomicU64,
    /// Frames rendered as exact silence without running the models (idle).
    pub idle_frames: AtomicU64,
    /// Blocks that lacked samples while idle: the missing samples are zeros, so
    /// nothing is heard (16 idle instances on 2 cores counted 7–23 each in 20 s).
    pub idle_underruns: AtomicU64,
    /// Offline waits that gave up on a stuck inference thread.
    pub offline_timeouts: AtomicU64,
    pub model_swaps: AtomicU64,
    pub panics: AtomicU64,
    pub steps: AtomicU64,
    pub frames: AtomicU64,
    pub busy_ns: AtomicU64,
    pub max_step_ns: AtomicU64,
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

/// A snapshot of the engine's counters.
#[derive(Clone, Debug, Default, PartialEq)]
pub struct Stats {
    pub underruns: u64,
    /// Runs of consecutive underrunning blocks.
    pub dropouts: u64,
    pub underrun_samples: u64,
    /// Host samples underruns have added to the latency since the start.
    pub latency_grown: u64,
    /// Host sample at which the last underrun ended (0 if none).
    pub last_underrun_at: u64,
    /// Inference rounds that lost the margin to scheduling, and the latest wake-up.
    pub stalls: u64,
    pub max_wake_late_seconds: f64,
    pub dropped_events: u64,
    pub nan_resets: u64,
    pub model_errors: u64,
    /// Frames of exact silence rendered without running the models.
    pub idle_frames: u64,
    /// Late blocks while idle: silence late, not a dropout.
    pub idle_underruns: u64,
    /// Offline waits that gave up on a stuck inference thread.
    pub offline_timeouts: u64,
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

impl Stats {
    /// Whether anything went wrong: an underrun, a dropped event, a model fault, or an
    /// offline wait that gave up.
    pub fn troubled(&self) -> bool {
        self.underruns + self.dropped_events + self.nan_resets + self.model_errors + self.panics + self.offline_timeouts > 0 || self.failed
    }
}

/// Every counter as `name=value`, one line: the log line a user reporting a glitch
/// and the soak test read.
impl std::fmt::Display for Stats {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        write!(
            f,
            "underruns={} dropouts={} underrun_samples={} latency_grown={} last_underrun_at={} stalls={} max_wake_late_ms={:.3} stale_dropped={} dropped_events={} nan_resets={} model_errors={} panics={} failed={} offline_timeouts={} model_swaps={} steps={} frames={} idle_frames={} idle_underruns={} busy_s={:.3} max_step_ms={:.3}",
            self.underruns,
            self.dropouts,
            self.underrun_samples,
            self.latency_grown,
            self.last_underrun_at,
            self.stalls,
            self.max_wake_late_seconds * 1e3,
            self.stale_dropped,
            self.dropped_events,
            self.nan_resets,
            self.model_errors,
            self.panics,
            self.failed,
            self.offline_timeouts,
            self.model_swaps,
            self.steps,
            self.frames,
            self.idle_frames,
            self.idle_underruns,
            self.busy_seconds,
            self.max_step_seconds * 1e3
        )
    }
}

impl Counters {
    /// Every counter now; `failed` is the control flag, which the snapshot carries.
    pub fn snapshot(&self, failed: bool) -> Stats {
        let l = |a: &AtomicU64| a.load(Ordering::Relaxed);
        Stats {
            underruns: l(&self.underruns),
            dropouts: l(&self.dropouts),
            underrun_samples: l(&self.underrun_samples),
            latency_grown: l(&self.latency_grown),
            last_underrun_at: l(&self.last_underrun_at),
            stalls: l(&self.stalls),
            max_wake_late_seconds: l(&self.max_wake_late_ns) as f64 * 1e-9,
            dropped_events: l(&self.dropped_events),
            nan_resets: l(&self.nan_resets),
            model_errors: l(&self.model_errors),
            idle_frames: l(&self.idle_frames),
            idle_underruns: l(&self.idle_underruns),
            offline_timeouts: l(&self.offline_timeouts),
            stale_dropped: l(&self.stale_dropped),
            model_swaps: l(&self.model_swaps),
            panics: l(&self.panics),
            failed,
            steps: l(&self.steps),
            frames: l(&self.frames),
            busy_seconds: l(&self.busy_ns) as f64 * 1e-9,
            max_step_seconds: l(&self.max_step_ns) as f64 * 1e-9,
        }
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
