//! One thread per process that looks in on every idle engine, so that an idle
//! instance costs next to nothing.
//!
//! An engine's inference thread must notice a note soon after the block that brought
//! it (within the margin less its steps), and the audio thread may not wake it (that
//! would be a syscall). Polling from each inference thread costs each idle instance a
//! real-time wake-up every poll, hundreds a second for nothing; a session of idle
//! tracks multiplies that. Instead, an idle inference thread sleeps long
//! ([`IDLE_SLEEP`]), and this one thread polls for all of them: it compares each idle
//! engine's count of events pushed by the audio side with the count its inference
//! thread has taken, and wakes the thread that has a note waiting. It looks as often
//! as the most demanding idle engine needs ([`super::calibrate::Calibration::idle_poll`]:
//! the margin its safety factor's steps leave over), so the first group after idle
//! still has that safety factor's time to render in; the idle instances share one
//! poll.

use std::sync::atomic::Ordering;
use std::sync::{Arc, Mutex, OnceLock, Weak};
use std::thread::Thread;
use std::time::Duration;

use super::priority;
use super::shared::Shared;
use crate::sync::LockExt;

/// How long an idle inference thread sleeps when the watch looks in on it. It still
/// wakes this often to answer a restart, a model swap or a stop, and to push the
/// silence it owes (an idle ring that runs dry only plays zeros, counted apart).
pub const IDLE_SLEEP: Duration = Duration::from_millis(25);

/// How long the watch sleeps while no engine is idle; an engine going idle wakes it.
const NOTHING_IDLE_SLEEP: Duration = Duration::from_millis(100);

struct Watched {
    shared: Weak<Shared>,
    inference: Thread,
    /// How often this engine needs a look while idle (its calibrated idle poll).
    poll: Duration,
}

struct Watch {
    engines: Mutex<Vec<Watched>>,
    thread: Thread,
}

static WATCH: OnceLock<Option<Watch>> = OnceLock::new();

fn watch() -> Option<&'static Watch> {
    WATCH
        .get_or_init(|| {
            let thread = std::thread::Builder::new()
                .name("melwave-idle-watch".into())
                .spawn(|| {
                    // As punctual as the inference threads it stands in for.
                    let _ = priority::promote(priority::REALTIME_PRIORITY);
                    loop {
                        let poll = watch().and_then(Watch::look);
                        std::thread::park_timeout(poll.unwrap_or(NOTHING_IDLE_SLEEP));
                    }
                })
                .ok()?
                .thread()
                .clone();
            Some(Watch { engines: Mutex::new(Vec::new()), thread })
        })
        .as_ref()
}

impl Watch {
    /// Wakes every idle engine's thread that has an event waiting; forgets engines
    /// that are gone. Returns when to look again: the shortest poll of the idle
    /// engines, or `None` when none is idle.
    fn look(&self) -> Option<Duration> {
        let mut engines = self.engines.locked();
        let mut next: Option<Duration> = None;
        engines.retain(|w| {
            let Some(shared) = w.shared.upgrade() else { return false };
            if shared.timeline.idle.load(Ordering::Acquire) {
                next = Some(next.map_or(w.poll, |p| p.min(w.poll)));
                if shared.timeline.events_pushed.load(Ordering::Acquire) != shared.timeline.events_taken.load(Ordering::Acquire) {
                    w.inference.unpark();
                }
            }
            true
        });
        next
    }
}

/// Puts an engine's inference thread under the watch. Returns false where the watch
/// could not start: that engine's thread then keeps polling by itself while idle.
pub fn register(shared: &Arc<Shared>, inference: Thread, poll: Duration) -> bool {
    let Some(watch) = watch() else { return false };
    watch.engines.locked().push(Watched { shared: Arc::downgrade(shared), inference, poll });
    true
}

/// Called by an inference thread going idle: the watch, perhaps asleep while nothing
/// was idle, starts polling now.
pub fn went_idle() {
    if let Some(watch) = watch() {
        watch.thread.unpark();
    }
}
