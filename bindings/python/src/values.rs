//! Results: core's values become the dataclasses of `portpool._values`, from their serde form.

use std::os::fd::{AsRawFd, IntoRawFd, OwnedFd};

use portpool_core as pp;
use pyo3::IntoPyObjectExt;
use pyo3::prelude::*;
use pyo3::sync::PyOnceLock;
use pyo3::types::PyDict;
use serde::Serialize;

/// A call's result, turned into its Python value with the GIL held.
pub(crate) trait ToPython: Send {
    fn to_python(self: Box<Self>, py: Python<'_>) -> PyResult<Py<PyAny>>;
}

macro_rules! plain_results {
    ($($t:ty),*) => {$(
        impl ToPython for $t {
            fn to_python(self: Box<Self>, py: Python<'_>) -> PyResult<Py<PyAny>> {
                (*self).into_py_any(py)
            }
        }
    )*};
}
plain_results!(bool, u16, Option<u16>, Vec<u16>);

impl ToPython for () {
    fn to_python(self: Box<Self>, py: Python<'_>) -> PyResult<Py<PyAny>> {
        Ok(py.None())
    }
}

/// (name, ticket) pairs from Python as core's endings of handovers.
/// A core value, shown as the `portpool` dataclass named `kind` ("Lease", "list[Lease]").
pub(crate) struct Value<T>(pub(crate) &'static str, pub(crate) T);

impl<T: Serialize + Send> ToPython for Value<T> {
    fn to_python(self: Box<Self>, py: Python<'_>) -> PyResult<Py<PyAny>> {
        static FROM_CORE: PyOnceLock<Py<PyAny>> = PyOnceLock::new();
        let data = pythonize::pythonize(py, &self.1)?;
        let from_core = FROM_CORE.import(py, "portpool._values", "from_core")?;
        Ok(from_core.call1((self.0, data))?.unbind())
    }
}

/// A value, and core's warnings about the change that made it: each one a warnings.warn()
/// with PortpoolWarning, pointing at the caller's line.
pub(crate) struct Warned<T>(pub(crate) Value<T>, pub(crate) Vec<String>);

impl<T: Serialize + Send> ToPython for Warned<T> {
    fn to_python(self: Box<Self>, py: Python<'_>) -> PyResult<Py<PyAny>> {
        static WARN: PyOnceLock<Py<PyAny>> = PyOnceLock::new();
        static CATEGORY: PyOnceLock<Py<PyAny>> = PyOnceLock::new();
        let Warned(value, warnings) = *self;
        let warn = WARN.import(py, "warnings", "warn")?;
        let category = CATEGORY.import(py, "portpool._values", "PortpoolWarning")?;
        for message in warnings {
            warn.call1((message, category, 1))?;
        }
        Box::new(value).to_python(py)
    }
}

/// Core's once-per-process warnings (a registry this process could not compact): each one a
/// warnings.warn() with PortpoolWarning, as set_pool's are.
pub(crate) fn warn_notices(py: Python<'_>) -> PyResult<()> {
    let notices = pp::take_warnings();
    if notices.is_empty() {
        return Ok(());
    }
    let warn = py.import("warnings")?.getattr("warn")?;
    let category = py.import("portpool._values")?.getattr("PortpoolWarning")?;
    for message in notices {
        warn.call1((message, &category, 1))?;
    }
    Ok(())
}

/// A socket bound to a leased port, of the lease's protocol: becomes a `socket.socket` that
/// owns the descriptor (closed, if never handed over, when dropped).
pub(crate) struct Listening(pub(crate) OwnedFd, pub(crate) pp::Protocol);

impl ToPython for Listening {
    fn to_python(self: Box<Self>, py: Python<'_>) -> PyResult<Py<PyAny>> {
        static SOCKET: PyOnceLock<Py<PyAny>> = PyOnceLock::new();
        static KINDS: PyOnceLock<[(Py<PyAny>, Py<PyAny>); 2]> = PyOnceLock::new();
        let kinds = KINDS.get_or_try_init(py, || -> PyResult<_> {
            let socket = py.import("socket")?;
            let kind = |ty: &str, proto: &str| -> PyResult<(Py<PyAny>, Py<PyAny>)> {
                Ok((
                    socket.getattr(ty)?.unbind(),
                    socket.getattr(proto)?.unbind(),
                ))
            };
            Ok([
                kind("SOCK_STREAM", "IPPROTO_TCP")?,
                kind("SOCK_DGRAM", "IPPROTO_UDP")?,
            ])
        })?;
        let kwargs = PyDict::new(py);
        kwargs.set_item("fileno", self.0.as_raw_fd())?;
        // Given its type and protocol, socket.socket asks the kernel only for the family
        // (the system calls a listen costs are the bind's).
        let kind = match self.1 {
            pp::Protocol::Tcp => Some(&kinds[0]),
            pp::Protocol::Udp => Some(&kinds[1]),
            #[allow(unreachable_patterns)]
            _ => None,
        };
        if let Some((ty, proto)) = kind {
            kwargs.set_item("type", ty)?;
            kwargs.set_item("proto", proto)?;
        }
        let sock = SOCKET
            .import(py, "socket", "socket")?
            .call((), Some(&kwargs))?;
        // The Python socket owns the descriptor now.
        let _ = self.0.into_raw_fd();
        Ok(sock.unbind())
    }
}
