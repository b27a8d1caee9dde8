//! The asyncio twins: one `Job` per awaited call.

use std::sync::atomic::{AtomicBool, Ordering};
use std::sync::{Arc, Mutex};
use std::time::Duration;

use portpool_core as pp;
use pyo3::exceptions::PyRuntimeError;
use pyo3::prelude::*;
use pyo3::sync::PyOnceLock;

use crate::args::timeout_arg;
use crate::calls::{Undo, Work, lock, wait_on};
use crate::values::warn_notices;

/// What a finished asyncio twin leaves for its caller.
#[derive(Default)]
pub(crate) struct JobEnd {
    /// The caller was cancelled: a lease landing now is given back at once.
    cancelled: bool,
    /// The lease the finished call made, until the caller takes the result or gives it back.
    undo: Option<Undo>,
}

/// One call of an asyncio twin, run on the event loop's executor by `portpool._aio.run`,
/// which also drives the cancellation protocol: `cancel`, wait for `run` to end, `abandon`.
#[pyclass(frozen, module = "portpool._native", name = "_Job")]
pub(crate) struct Job {
    registry: Arc<pp::Registry>,
    timeout: Option<Duration>,
    /// Whether cancelling ends the call early (a guard's exit is not: it always releases).
    cancellable: bool,
    /// Set by `cancel` when cancellable; read by the call's lock waits.
    cancelled: AtomicBool,
    work: Mutex<Option<Work>>,
    end: Mutex<JobEnd>,
}

impl Job {
    /// The awaitable of an asyncio twin: an error in the arguments raises when awaited.
    pub(crate) fn start<'py>(
        py: Python<'py>,
        registry: &Arc<pp::Registry>,
        timeout: Option<f64>,
        work: PyResult<Work>,
        cancellable: bool,
    ) -> PyResult<Bound<'py, PyAny>> {
        static RUN: PyOnceLock<Py<PyAny>> = PyOnceLock::new();
        static FAIL: PyOnceLock<Py<PyAny>> = PyOnceLock::new();
        let job = timeout_arg(py, timeout).and_then(|timeout| {
            Ok(Job {
                registry: Arc::clone(registry),
                timeout,
                cancellable,
                cancelled: AtomicBool::new(false),
                work: Mutex::new(Some(work?)),
                end: Mutex::new(JobEnd::default()),
            })
        });
        match job {
            Ok(job) => RUN.import(py, "portpool._aio", "run")?.call1((job,)),
            Err(err) => FAIL
                .import(py, "portpool._aio", "fail")?
                .call1((err.into_value(py),)),
        }
    }
}

#[pymethods]
impl Job {
    /// Runs the call (blocking, GIL released); None when it was cancelled first.
    fn run(&self, py: Python<'_>) -> PyResult<Py<PyAny>> {
        let Some(work) = lock(&self.work).take() else {
            return Err(PyRuntimeError::new_err("a portpool call runs once"));
        };
        if self.cancelled.load(Ordering::SeqCst) {
            return Ok(py.None());
        }
        let cancel = self.cancellable.then_some(&self.cancelled);
        let done = wait_on(py, &self.registry, self.timeout, cancel, work)?;
        let mut end = lock(&self.end);
        if end.cancelled && self.cancellable {
            drop(end);
            if let Some(undo) = done.undo {
                py.detach(|| undo(&self.registry));
            }
            return Ok(py.None());
        }
        end.undo = done.undo;
        drop(end);
        warn_notices(py)?;
        done.value.to_python(py)
    }

    /// The caller was cancelled: ends a lock wait, and makes a lease landing later go back.
    fn cancel(&self) {
        let mut end = lock(&self.end);
        end.cancelled = true;
        if self.cancellable {
            self.cancelled.store(true, Ordering::SeqCst);
        }
    }

    /// Whether the finished call left a lease its cancelled caller must give back.
    fn leased(&self) -> bool {
        self.cancellable && lock(&self.end).undo.is_some()
    }

    /// Gives back the lease the call made (blocking, GIL released).
    fn abandon(&self, py: Python<'_>) {
        let undo = lock(&self.end).undo.take();
        if let Some(undo) = undo {
            py.detach(|| undo(&self.registry));
        }
    }

    /// The caller took the result: the lease is its own.
    fn keep(&self) {
        lock(&self.end).undo = None;
    }
}
