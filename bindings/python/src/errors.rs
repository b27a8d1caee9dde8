//! Exceptions: one class per core `ErrorKind`, and the mapping from core errors.

use portpool_core as pp;
use pyo3::exceptions::{
    PyBaseException, PyException, PyKeyError, PyOSError, PyTimeoutError, PyValueError,
};
use pyo3::prelude::*;
use pyo3::sync::PyOnceLock;
use pyo3::types::{PyDict, PyTuple, PyType};

/// The exception classes, one per [`pp::ErrorKind`] under one base.
///
/// They are made with `type(name, bases, dict)` because four of them have two bases
/// (`NotFoundError` is also a `KeyError`, `InvalidArgumentError` a `ValueError`,
/// `PortpoolIOError` an `OSError`, `BusyError` a `TimeoutError`), which `create_exception!`
/// cannot express.
pub(crate) struct Exceptions {
    base: Py<PyType>,
    not_found: Py<PyType>,
    invalid_argument: Py<PyType>,
    conflict: Py<PyType>,
    exhausted: Py<PyType>,
    registry: Py<PyType>,
    io: Py<PyType>,
    busy: Py<PyType>,
}

pub(crate) static EXCEPTIONS: PyOnceLock<Exceptions> = PyOnceLock::new();

impl Exceptions {
    pub(crate) fn get(py: Python<'_>) -> PyResult<&Exceptions> {
        EXCEPTIONS.get_or_try_init(py, || {
            let base = new_exception(
                py,
                "PortpoolError",
                vec![py.get_type::<PyException>()],
                "Base class of every error portpool raises; `str(err)` is portpool's message.",
                true,
            )?;
            let b = base.bind(py).clone();
            let sub = |name: &str, extra: Option<Bound<'_, PyType>>, doc: &str| {
                let mut bases = vec![b.clone()];
                bases.extend(extra);
                new_exception(py, name, bases, doc, false)
            };
            Ok(Exceptions {
                not_found: sub(
                    "NotFoundError",
                    Some(py.get_type::<PyKeyError>()),
                    "A lease, pool or other named thing does not exist. Also a KeyError.",
                )?,
                invalid_argument: sub(
                    "InvalidArgumentError",
                    Some(py.get_type::<PyValueError>()),
                    "An argument was rejected before anything was read or written (a port \
                     outside 1-65535, a bad name, mode, protocol, pid or ttl). Also a ValueError.",
                )?,
                conflict: sub(
                    "ConflictError",
                    None,
                    "The port is leased to another name or bound by a process outside the \
                     registry, or the name already holds something else.",
                )?,
                exhausted: sub(
                    "ExhaustedError",
                    None,
                    "No free port was left where one was asked for.",
                )?,
                registry: sub(
                    "RegistryError",
                    None,
                    "The registry file cannot be used: corrupt, of a newer format version, not \
                     a portpool registry, a symbolic link, or not accessible. It is left untouched.",
                )?,
                io: sub(
                    "PortpoolIOError",
                    Some(py.get_type::<PyOSError>()),
                    "The operating system failed a read or write (disk full, I/O error, ...). \
                     Also an OSError; `errno` is the OS error number when there is one.",
                )?,
                busy: sub(
                    "BusyError",
                    Some(py.get_type::<PyTimeoutError>()),
                    "Another process held the registry's lock for the whole lock timeout; \
                     nothing was changed, and trying again later is safe. Also a TimeoutError.",
                )?,
                base,
            })
        })
    }

    fn of(&self, kind: pp::ErrorKind) -> &Py<PyType> {
        match kind {
            pp::ErrorKind::NotFound => &self.not_found,
            pp::ErrorKind::InvalidArgument => &self.invalid_argument,
            pp::ErrorKind::Conflict => &self.conflict,
            pp::ErrorKind::Exhausted => &self.exhausted,
            pp::ErrorKind::Registry => &self.registry,
            pp::ErrorKind::Io => &self.io,
            pp::ErrorKind::Busy => &self.busy,
        }
    }

    pub(crate) fn all(&self) -> [&Py<PyType>; 8] {
        [
            &self.base,
            &self.not_found,
            &self.invalid_argument,
            &self.conflict,
            &self.exhausted,
            &self.registry,
            &self.io,
            &self.busy,
        ]
    }
}

pub(crate) fn new_exception(
    py: Python<'_>,
    name: &str,
    bases: Vec<Bound<'_, PyType>>,
    doc: &str,
    plain_str: bool,
) -> PyResult<Py<PyType>> {
    let dict = PyDict::new(py);
    dict.set_item("__module__", "portpool")?;
    dict.set_item("__doc__", doc)?;
    if plain_str {
        // `str(err)` is the message itself, also for the KeyError subclass (whose own
        // `__str__` would add quotes): the base comes before KeyError in every MRO.
        dict.set_item(
            "__str__",
            py.get_type::<PyBaseException>().getattr("__str__")?,
        )?;
    }
    let class = py
        .get_type::<PyType>()
        .call1((name, PyTuple::new(py, bases)?, dict))?;
    Ok(class.cast_into::<PyType>()?.unbind())
}

/// The Python exception for a core error, carrying core's message. A `PortpoolIOError` also
/// carries the OS error number in `errno`, as an `OSError` does (its `args` stay the message
/// alone, so `str(err)` is still core's message).
pub(crate) fn error(py: Python<'_>, err: pp::Error) -> PyErr {
    let class = match Exceptions::get(py) {
        Ok(classes) => classes.of(err.kind()).bind(py).clone(),
        Err(e) => return e,
    };
    match err.os_error() {
        Some(errno) if err.kind() == pp::ErrorKind::Io => {
            match class.call1((err.message(),)).and_then(|exc| {
                exc.setattr("errno", errno)?;
                Ok(exc)
            }) {
                Ok(exc) => PyErr::from_value(exc),
                Err(e) => e,
            }
        }
        _ => PyErr::from_type(class, err.message().to_owned()),
    }
}

pub(crate) trait OrRaise<T> {
    fn or_raise(self, py: Python<'_>) -> PyResult<T>;
}

impl<T> OrRaise<T> for pp::Result<T> {
    fn or_raise(self, py: Python<'_>) -> PyResult<T> {
        self.map_err(|e| error(py, e))
    }
}
