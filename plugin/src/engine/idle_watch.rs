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
//!
//! The thread lives while some engine holds its [`Watch`]: the last one to let go
//! stops and joins it, so no thread of the plugin's runs on after its last instance,
//! when a host may unload the library.

use std::sync::atomic::{AtomicBool, Ordering};
use std::sync::{Arc, Mutex, Weak};
use std::thread::{JoinHandle, Thread};
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

/// What the watch thread and the engines share.
#[derive(Default)]
struct Inner {
    engines: Mutex<Vec<Watched>>,
    stop: AtomicBool,
}

/// The running watch. Each watched engine's inference thread holds it; dropping the
/// last one stops the thread and waits for it.
pub struct Watch {
    inner: Arc<Inner>,
    thread: Option<JoinHandle<()>>,
}

/// The watch now running, if any engine holds it.
static CURRENT: Mutex<Weak<Watch>> = Mutex::new(Weak::new());

impl Inner {
    fn run(&self) {
        // As punctual as the inference threads it stands in for.
        let _ = priority::promote(priority::REALTIME_PRIORITY);
        while !self.stop.load(Ordering::Acquire) {
            let poll = self.look();
            std::thread::park_timeout(poll.unwrap_or(NOTHING_IDLE_SLEEP));
        }
    }

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

impl Watch {
    /// Called by an inference thread going idle: the watch, perhaps asleep while
    /// nothing was idle, starts polling now.
    pub fn went_idle(&self) {
        if let Some(t) = &self.thread {
            t.thread().unpark();
        }
    }
}

impl Drop for Watch {
    fn drop(&mut self) {
        self.inner.stop.store(true, Ordering::Release);
        if let Some(t) = self.thread.take() {
            t.thread().unpark();
            let _ = t.join();
        }
    }
}

/// Puts an engine's inference thread under the watch, starting the watch if none
/// runs. The inference thread keeps what this returns for as long as it runs; `None`
/// where the watch could not start, and that engine's thread then polls by itself.
pub fn register(shared: &Arc<Shared>, inference: Thread, poll: Duration) -> Option<Arc<Watch>> {
    let mut current = CURRENT.locked();
    let watch = match current.upgrade() {
        Some(w) => w,
        None => {
            let inner = Arc::new(Inner::default());
            let runner = inner.clone();
            let thread = std::thread::Builder::new().name("melwave-idle-watch".into()).spawn(move || runner.run()).ok()?;
            let w = Arc::new(Watch { inner, thread: Some(thread) });
            *current = Arc::downgrade(&w);
            w
        }
    };
    watch.inner.engines.locked().push(Watched { shared: Arc::downgrade(shared), inference, poll });
    Some(watch)
}
