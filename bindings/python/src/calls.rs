//! Calls: every registry call runs through `wait_on`, its asyncio twin through `Job`.

use std::cell::Cell;
use std::sync::atomic::{AtomicBool, Ordering};
use std::sync::{Mutex, MutexGuard};
use std::time::{Duration, Instant};

use portpool_core as pp;
use pyo3::prelude::*;

use crate::errors::OrRaise;
use crate::values::ToPython;

/// Gives back the lease a call made, for an asyncio twin cancelled after its change landed.
pub(crate) type Undo = Box<dyn FnOnce(&pp::Registry) + Send>;

/// A call's result, and how to give back the lease it made, if it made one.
pub(crate) struct Done {
    pub(crate) value: Box<dyn ToPython>,
    pub(crate) undo: Option<Undo>,
}

/// One registry call with its Python arguments converted: runs on any thread, GIL released.
pub(crate) type Work = Box<dyn FnOnce(&pp::Registry) -> pp::Result<Done> + Send>;

/// A call that leases nothing a cancelled caller would give back.
pub(crate) fn work<T: ToPython + 'static>(
    f: impl FnOnce(&pp::Registry) -> pp::Result<T> + Send + 'static,
) -> PyResult<Work> {
    Ok(Box::new(move |reg| {
        Ok(Done {
            value: Box::new(f(reg)?),
            undo: None,
        })
    }))
}

/// A call that leases a port to `name`; the lease is given back by a cancelled asyncio twin
/// when this call made it.
pub(crate) fn leasing(
    name: &str,
    protocol: pp::Protocol,
    f: impl FnOnce(&pp::Registry, &str) -> pp::Result<pp::Grant> + Send + 'static,
) -> PyResult<Work> {
    let name = name.to_owned();
    Ok(Box::new(move |reg| {
        let grant = f(reg, &name)?;
        Ok(Done {
            value: Box::new(grant.port),
            undo: release_if(grant, name, protocol),
        })
    }))
}

/// Undoes the call that returned `grant` for `name` (core's `Grant::undo`: only a lease the
/// call made and the name still holds is released).
pub(crate) fn release_if(grant: pp::Grant, name: String, protocol: pp::Protocol) -> Option<Undo> {
    grant.created.then(|| -> Undo {
        Box::new(move |reg| {
            // Best effort, on a thread nobody waits for an answer on.
            let _ = grant.undo(reg, &name, protocol);
        })
    })
}

/// How often a call waiting for the lock runs Python's signal handlers.
pub(crate) const SIGNAL_POLL: Duration = Duration::from_millis(2);

/// Runs `work` with the GIL released. Its lock waits end early after `timeout` (BusyError),
/// once `cancel` is set, or when a Python signal handler raises (Ctrl-C's KeyboardInterrupt),
/// whose exception is then raised as it is; a handler that returns lets the wait go on.
pub(crate) fn wait_on(
    py: Python<'_>,
    registry: &pp::Registry,
    timeout: Option<Duration>,
    cancel: Option<&AtomicBool>,
    work: Work,
) -> PyResult<Done> {
    let raised: Mutex<Option<PyErr>> = Mutex::new(None);
    let result = py.detach(|| {
        let last = Cell::new(Instant::now());
        let check = || {
            if cancel.is_some_and(|c| c.load(Ordering::SeqCst)) {
                return Err(pp::Error::new(pp::ErrorKind::Busy, "cancelled"));
            }
            if last.get().elapsed() >= SIGNAL_POLL {
                last.set(Instant::now());
                if let Err(err) = Python::attach(|py| py.check_signals()) {
                    *lock(&raised) = Some(err);
                    return Err(pp::Error::new(pp::ErrorKind::Busy, "interrupted"));
                }
            }
            Ok(())
        };
        let wait = pp::Wait {
            timeout,
            check: Some(&check),
        };
        pp::with_wait(&wait, || work(registry))
    });
    match lock(&raised).take() {
        Some(err) => Err(err),
        None => result.or_raise(py),
    }
}

pub(crate) fn lock<T>(mutex: &Mutex<T>) -> MutexGuard<'_, T> {
    mutex.lock().unwrap_or_else(|e| e.into_inner())
}
