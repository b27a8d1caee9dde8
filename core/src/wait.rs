//! How long a call waits for the registry's lock, and what may end the wait early: the
//! caller's own bound and check, for one thread, for the length of one [`with_wait`].
//!
//! A binding uses this to give its users a per-call timeout, cancellation (Python's
//! `asyncio`, Node's `AbortSignal`) and prompt signal handling (Python's Ctrl-C) without
//! a parallel code path: the call itself is the same core call.

use std::cell::Cell;
use std::time::{Duration, Instant};

use crate::error::Result;

/// What governs the lock waits of calls made inside [`with_wait`].
#[derive(Clone, Copy, Default)]
pub struct Wait<'a> {
    /// Waits for the registry's lock end after this long with `Busy`. The handle's own lock
    /// timeout still applies: the shorter one wins. `None`: the handle's timeout only.
    pub timeout: Option<Duration>,
    /// Called between polls of the lock (every 5 ms at most) while a call waits; an `Err`
    /// ends the wait with that error. A call whose wait ends early has read and written
    /// nothing.
    pub check: Option<&'a dyn Fn() -> Result<()>>,
}

impl std::fmt::Debug for Wait<'_> {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("Wait")
            .field("timeout", &self.timeout)
            .field("check", &self.check.is_some())
            .finish()
    }
}

thread_local! {
    /// The `Wait` of the innermost `with_wait` running on this thread, or null.
    static CURRENT: Cell<*const Wait<'static>> = const { Cell::new(std::ptr::null()) };
}

/// Runs `f` with `wait` governing every lock wait that calls on this thread make during `f`
/// (a `with_wait` inside `f` governs its own inner calls). Calls that find the lock free are
/// not affected at all.
///
/// ```no_run
/// use std::time::Duration;
/// use portpool_core::{LeaseOptions, Registry, Wait, with_wait};
///
/// let reg = Registry::open(None)?;
/// let wait = Wait { timeout: Some(Duration::from_millis(250)), check: None };
/// // `Busy` after 250 ms if another process holds the registry's lock all that time.
/// let port = with_wait(&wait, || reg.allocate("worker-1", None, &LeaseOptions::default()))?;
/// # Ok::<(), portpool_core::Error>(())
/// ```
pub fn with_wait<T>(wait: &Wait<'_>, f: impl FnOnce() -> T) -> T {
    struct Restore(*const Wait<'static>);
    impl Drop for Restore {
        fn drop(&mut self) {
            CURRENT.with(|current| current.set(self.0));
        }
    }
    // The pointer is only read while `f` runs (the guard restores the previous one on the way
    // out, also when `f` unwinds), and `wait` outlives `f`.
    let ptr = (wait as *const Wait<'_>).cast::<Wait<'static>>();
    let _restore = Restore(CURRENT.with(|current| current.replace(ptr)));
    f()
}

/// Runs `f` on the `Wait` governing this thread, if any.
fn current<R>(f: impl FnOnce(Option<&Wait<'_>>) -> R) -> R {
    let ptr = CURRENT.with(Cell::get);
    // SAFETY: a non-null pointer was set by `with_wait`, whose `wait` outlives the call
    // running now on this thread (see there).
    f(unsafe { ptr.as_ref() })
}

/// Whether this thread's calls run under a `with_wait`.
pub(crate) fn governed() -> bool {
    current(|wait| wait.is_some())
}

/// When a lock wait that starts now and would last at most `timeout` must end.
pub(crate) fn deadline(timeout: Duration) -> Option<Instant> {
    let timeout = current(|wait| match wait.and_then(|w| w.timeout) {
        Some(own) => own.min(timeout),
        None => timeout,
    });
    Instant::now().checked_add(timeout)
}

/// The caller's check: `Err` ends the wait.
pub(crate) fn check() -> Result<()> {
    current(|wait| match wait.and_then(|w| w.check) {
        Some(check) => check(),
        None => Ok(()),
    })
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::error::{Error, ErrorKind};

    #[test]
    fn a_wait_governs_only_the_calls_inside_it_and_nests() {
        assert!(!governed());
        let fail = || Err(Error::new(ErrorKind::Busy, "outer"));
        let outer = Wait {
            timeout: Some(Duration::from_secs(1)),
            check: Some(&fail),
        };
        with_wait(&outer, || {
            assert!(governed());
            assert_eq!(check().unwrap_err().message(), "outer");
            let inner = Wait::default();
            with_wait(&inner, || assert!(check().is_ok()));
            assert_eq!(check().unwrap_err().message(), "outer");
        });
        assert!(!governed());
        assert!(check().is_ok());
    }

    #[test]
    fn the_shorter_of_the_two_timeouts_wins() {
        let short = Wait {
            timeout: Some(Duration::from_millis(10)),
            check: None,
        };
        let before = Instant::now();
        let end = with_wait(&short, || deadline(Duration::from_secs(60))).unwrap();
        assert!(end <= before + Duration::from_secs(1));
        let long = Wait {
            timeout: Some(Duration::from_secs(600)),
            check: None,
        };
        let end = with_wait(&long, || deadline(Duration::from_millis(10))).unwrap();
        assert!(end <= Instant::now() + Duration::from_secs(1));
    }

    #[test]
    fn a_panic_inside_restores_the_outer_wait() {
        let outer = Wait::default();
        with_wait(&outer, || {
            let inner = Wait::default();
            let caught = std::panic::catch_unwind(std::panic::AssertUnwindSafe(|| {
                with_wait(&inner, || panic!("inside"))
            }));
            assert!(caught.is_err());
            let now = CURRENT.with(Cell::get);
            assert_eq!(now, (&outer as *const Wait<'_>).cast::<Wait<'static>>());
        });
    }
}
