//! Lease guards: `Registry.lease()` as a context manager.

use std::sync::{Arc, Mutex};
use std::time::Duration;

use portpool_core as pp;
use pyo3::exceptions::PyRuntimeError;
use pyo3::prelude::*;

use crate::args::repr_str;
use crate::calls::{Done, Undo, Work, lock, wait_on};
use crate::jobs::Job;

/// Where a guard is: one thread at a time moves it from Idle through Entering to Entered.
pub(crate) enum GuardState {
    Idle,
    Entering,
    Entered(Arc<pp::ScopedLease>),
}

/// The right to enter a guard, taken atomically; dropped unused, it leaves the guard Idle.
pub(crate) struct Entry(Arc<Mutex<GuardState>>);

impl Entry {
    fn entered(self, scoped: Arc<pp::ScopedLease>) {
        *lock(&self.0) = GuardState::Entered(scoped);
    }
}

impl Drop for Entry {
    fn drop(&mut self) {
        let mut state = lock(&self.0);
        if matches!(*state, GuardState::Entering) {
            *state = GuardState::Idle;
        }
    }
}

/// A scoped lease for one `with` or `async with` block; made by Registry.lease() and
/// Registry.lease_async(). See Registry.lease() for what entering and leaving do.
#[pyclass(frozen, module = "portpool", name = "LeaseGuard")]
pub(crate) struct LeaseGuard {
    pub(crate) registry: Arc<pp::Registry>,
    pub(crate) name: String,
    pub(crate) choice: pp::Choice,
    pub(crate) options: pp::LeaseOptions,
    pub(crate) timeout: Option<Duration>,
    pub(crate) state: Arc<Mutex<GuardState>>,
}

impl LeaseGuard {
    /// Entering's work: the scoped lease, kept in the guard; given back when cancelled.
    fn enter(&self, py: Python<'_>) -> PyResult<Work> {
        let entry = {
            let mut state = lock(&self.state);
            if !matches!(*state, GuardState::Idle) {
                return Err(PyRuntimeError::new_err(format!(
                    "the lease guard of {} is already entered",
                    repr_str(py, &self.name)?
                )));
            }
            *state = GuardState::Entering;
            Entry(Arc::clone(&self.state))
        };
        let name = self.name.clone();
        let (choice, options) = (self.choice.clone(), self.options.clone());
        let state = Arc::clone(&self.state);
        Ok(Box::new(move |reg| {
            let scoped = Arc::new(reg.lease_scoped(&name, &choice, &options)?);
            entry.entered(Arc::clone(&scoped));
            let port = scoped.port();
            let undo: Undo = Box::new(move |reg| {
                *lock(&state) = GuardState::Idle;
                let _ = scoped.release(reg);
            });
            Ok(Done {
                value: Box::new(port),
                undo: Some(undo),
            })
        }))
    }

    /// Leaving's work: releases the scoped lease (see ScopedLease::release); an error puts
    /// it back, so that leaving can be tried again.
    fn exit(&self) -> Work {
        let taken = std::mem::replace(&mut *lock(&self.state), GuardState::Idle);
        let state = Arc::clone(&self.state);
        Box::new(move |reg| {
            if let GuardState::Entered(scoped) = taken
                && let Err(err) = scoped.release(reg)
            {
                *lock(&state) = GuardState::Entered(scoped);
                return Err(err);
            }
            Ok(Done {
                value: Box::new(false),
                undo: None,
            })
        })
    }
}

#[pymethods]
impl LeaseGuard {
    /// The lease's name.
    #[getter]
    fn name(&self) -> &str {
        &self.name
    }

    /// The port while inside the block; None before and after.
    #[getter]
    fn port(&self) -> Option<u16> {
        match &*lock(&self.state) {
            GuardState::Entered(scoped) => Some(scoped.port()),
            _ => None,
        }
    }

    /// Leases the port and returns it. Entering a guard that is already entered, by this
    /// or another thread, is a RuntimeError.
    fn __enter__(&self, py: Python<'_>) -> PyResult<Py<PyAny>> {
        let work = self.enter(py)?;
        wait_on(py, &self.registry, self.timeout, None, work)?
            .value
            .to_python(py)
    }

    /// Releases the lease (only in the process that entered); never suppresses the
    /// block's exception.
    #[pyo3(signature = (exc_type, exc_value, traceback))]
    fn __exit__(
        &self,
        py: Python<'_>,
        exc_type: Option<&Bound<'_, PyAny>>,
        exc_value: Option<&Bound<'_, PyAny>>,
        traceback: Option<&Bound<'_, PyAny>>,
    ) -> PyResult<Py<PyAny>> {
        let _ = (exc_type, exc_value, traceback);
        wait_on(py, &self.registry, self.timeout, None, self.exit())?
            .value
            .to_python(py)
    }

    /// As __enter__, awaitable: a cancelled entry leaves no lease.
    fn __aenter__<'py>(&self, py: Python<'py>) -> PyResult<Bound<'py, PyAny>> {
        let timeout = self.timeout.map(|t| t.as_secs_f64());
        Job::start(py, &self.registry, timeout, self.enter(py), true)
    }

    /// As __exit__, awaitable: it releases also when cancelled.
    #[pyo3(signature = (exc_type, exc_value, traceback))]
    fn __aexit__<'py>(
        &self,
        py: Python<'py>,
        exc_type: Option<&Bound<'_, PyAny>>,
        exc_value: Option<&Bound<'_, PyAny>>,
        traceback: Option<&Bound<'_, PyAny>>,
    ) -> PyResult<Bound<'py, PyAny>> {
        let _ = (exc_type, exc_value, traceback);
        let timeout = self.timeout.map(|t| t.as_secs_f64());
        Job::start(py, &self.registry, timeout, Ok(self.exit()), false)
    }

    fn __repr__(&self, py: Python<'_>) -> PyResult<String> {
        let choice = match &self.choice {
            pp::Choice::Pool(Some(pool)) => format!("pool={}", repr_str(py, pool)?),
            pp::Choice::Pool(None) => "pool=None".to_owned(),
            pp::Choice::Ports { ports, mode } => {
                format!("ports={ports:?}, mode={}", repr_str(py, mode.as_str())?)
            }
        };
        let port = self
            .port()
            .map_or_else(|| "None".to_owned(), |p| p.to_string());
        Ok(format!(
            "LeaseGuard(name={}, {choice}, port={port})",
            repr_str(py, &self.name)?
        ))
    }
}
