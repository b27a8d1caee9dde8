//! Warnings core gives at most once per process, whatever call ran into them, for front ends
//! to show: the CLI prints them on stderr after each command.

use std::sync::atomic::{AtomicBool, Ordering};

use parking_lot::Mutex;

/// What is said once per process.
#[derive(Clone, Copy, Debug)]
pub(crate) enum Once {
    /// A writer appended because it could not compact the registry.
    Compaction,
}

static SAID: [AtomicBool; 1] = [AtomicBool::new(false)];
static PENDING: Mutex<Vec<String>> = Mutex::new(Vec::new());

/// Records `message` as a warning, unless `which` was said before in this process.
pub(crate) fn once(which: Once, message: &str) {
    if !SAID[which as usize].swap(true, Ordering::Relaxed) {
        PENDING.lock().push(format!(
            "{message}; the file grows until someone who can compact it writes (see `portpool doctor`)"
        ));
    }
}

/// The warnings recorded since the last call, oldest first; each is given once.
pub fn take_warnings() -> Vec<String> {
    std::mem::take(&mut *PENDING.lock())
}
