//! One rule for the locks outside the audio thread (the editor, the loader, the
//! engine's control side): a lock whose holder panicked still guards consistent data
//! (every critical section here writes whole values), so it is taken anyway. A panic
//! on one thread must not turn every later lock into another panic in a host.

use std::sync::{Mutex, MutexGuard};

pub trait LockExt<T> {
    /// The guard, poisoned or not.
    fn locked(&self) -> MutexGuard<'_, T>;
}

impl<T> LockExt<T> for Mutex<T> {
    fn locked(&self) -> MutexGuard<'_, T> {
        self.lock().unwrap_or_else(|p| p.into_inner())
    }
}
