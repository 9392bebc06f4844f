//! Real-time scheduling for the inference thread. It has a deadline every frame, like
//! the host's audio thread, and at normal priority a busy desktop (a browser, a
//! compile) can hold it off the CPU for longer than the latency margin. Asked for
//! where the OS grants it; refused, the thread runs at normal priority and says so.

/// The lowest real-time priority: above every thread that is not real-time (a
/// browser, a compile), which is all the inference thread needs, and below any host's
/// audio thread, which must never wait for it. Hosts run theirs anywhere from 10
/// (JACK2's default `-P 10`) to 95, and RTKit caps what a desktop session may ask for;
/// any fixed value above 1 could land above some host's audio thread.
pub const REALTIME_PRIORITY: u8 = 1;

#[derive(Clone, Debug, PartialEq, Eq)]
pub enum Priority {
    /// Not asked for (offline, tests).
    NotAsked,
    /// Granted: the policy and priority.
    RealTime(String),
    /// Refused; the OS's reason.
    Refused(String),
}

impl std::fmt::Display for Priority {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        match self {
            Priority::NotAsked => write!(f, "normal priority (real-time not asked for)"),
            Priority::RealTime(how) => write!(f, "real-time priority ({how})"),
            Priority::Refused(why) => write!(f, "normal priority: the OS refused real-time priority ({why})"),
        }
    }
}

/// Moves the calling thread to real-time scheduling at `priority` (0–99), if the OS
/// allows it. The engine uses [`REALTIME_PRIORITY`]; a test host, standing in for a
/// sound card's thread, goes above it.
pub fn promote(priority: u8) -> Priority {
    use thread_priority::{ThreadPriority, ThreadPriorityValue};
    let Ok(value) = ThreadPriorityValue::try_from(priority) else {
        return Priority::Refused("priority out of range".into());
    };
    #[cfg(unix)]
    {
        use thread_priority::unix::{set_thread_priority_and_policy, thread_native_id, RealtimeThreadSchedulePolicy, ThreadSchedulePolicy};
        match set_thread_priority_and_policy(thread_native_id(), ThreadPriority::Crossplatform(value), ThreadSchedulePolicy::Realtime(RealtimeThreadSchedulePolicy::Fifo)) {
            Ok(()) => Priority::RealTime(format!("SCHED_FIFO {priority}")),
            Err(e) => Priority::Refused(format!("{e:?}")),
        }
    }
    #[cfg(not(unix))]
    match thread_priority::set_current_thread_priority(ThreadPriority::Crossplatform(value)) {
        Ok(()) => Priority::RealTime(format!("priority {priority}")),
        Err(e) => Priority::Refused(format!("{e:?}")),
    }
}

/// Moves the calling thread back to normal scheduling (nice 0), as it was before
/// [`promote`]. Giving up a privilege needs none, so only a missing thread fails.
pub fn relax() -> bool {
    #[cfg(target_os = "linux")]
    {
        let param = libc::sched_param { sched_priority: 0 };
        // SAFETY: `param` outlives the call; pid 0 is the calling thread.
        unsafe { libc::sched_setscheduler(0, libc::SCHED_OTHER, &param) == 0 }
    }
    #[cfg(not(target_os = "linux"))]
    {
        thread_priority::set_current_thread_priority(thread_priority::ThreadPriority::Crossplatform(50u8.try_into().expect("in range"))).is_ok()
    }
}
