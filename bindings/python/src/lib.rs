//! `portpool._native`, the native module behind the `portpool` Python package.
//!
//! Every method converts its Python arguments, calls one `portpool_core` function with the
//! GIL released, and maps the one core error enum, [`portpool_core::ErrorKind`], to one
//! exception class. The rules (ports, names, allocation, locking) live in core only.

use std::path::PathBuf;
use std::str::FromStr;
use std::sync::{Arc, Mutex};

use portpool_core as pp;
use pyo3::exceptions::{
    PyBaseException, PyException, PyKeyError, PyOSError, PyTypeError, PyValueError,
};
use pyo3::prelude::*;
use pyo3::sync::PyOnceLock;
use pyo3::types::{PyBool, PyDict, PyInt, PyString, PyTuple, PyType};

// ---------------------------------------------------------------------------------------------
// Exceptions

/// The exception classes, one per [`pp::ErrorKind`] under one base.
///
/// They are made with `type(name, bases, dict)` because two of them have two bases
/// (`NotFoundError` is also a `KeyError`, `InvalidArgumentError` also a `ValueError`), which
/// `create_exception!` cannot express.
struct Exceptions {
    base: Py<PyType>,
    not_found: Py<PyType>,
    invalid_argument: Py<PyType>,
    conflict: Py<PyType>,
    exhausted: Py<PyType>,
    registry: Py<PyType>,
    io: Py<PyType>,
}

static EXCEPTIONS: PyOnceLock<Exceptions> = PyOnceLock::new();

impl Exceptions {
    fn get(py: Python<'_>) -> PyResult<&Exceptions> {
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
                     Also an OSError.",
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
        }
    }

    fn all(&self) -> [&Py<PyType>; 7] {
        [
            &self.base,
            &self.not_found,
            &self.invalid_argument,
            &self.conflict,
            &self.exhausted,
            &self.registry,
            &self.io,
        ]
    }
}

fn new_exception(
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

/// The Python exception for a core error, carrying core's message.
fn error(py: Python<'_>, err: pp::Error) -> PyErr {
    match Exceptions::get(py) {
        Ok(classes) => PyErr::from_type(
            classes.of(err.kind()).bind(py).clone(),
            err.message().to_owned(),
        ),
        Err(e) => e,
    }
}

trait OrRaise<T> {
    fn or_raise(self, py: Python<'_>) -> PyResult<T>;
}

impl<T> OrRaise<T> for pp::Result<T> {
    fn or_raise(self, py: Python<'_>) -> PyResult<T> {
        self.map_err(|e| error(py, e))
    }
}

// ---------------------------------------------------------------------------------------------
// Argument conversion: type checks here, value checks in core.

/// A Python int: one that fits an i64, or the decimal text of one that does not.
enum Int {
    Small(i64),
    Big(String),
}

/// Reads an int argument; anything else (including `bool`) is a `TypeError`.
fn int_arg(value: &Bound<'_, PyAny>, what: &str) -> PyResult<Int> {
    let int = if value.is_instance_of::<PyBool>() {
        None
    } else if value.is_instance_of::<PyInt>() {
        Some(value.clone())
    } else if value.hasattr("__index__")? {
        Some(value.call_method0("__index__")?)
    } else {
        None
    };
    let Some(int) = int else {
        let type_name = value.get_type().name()?;
        return Err(PyTypeError::new_err(format!(
            "{what} must be an int, not '{type_name}'"
        )));
    };
    Ok(match int.extract::<i64>() {
        Ok(small) => Int::Small(small),
        Err(_) => Int::Big(int.str()?.to_string()),
    })
}

fn port_arg(py: Python<'_>, value: &Bound<'_, PyAny>) -> PyResult<u16> {
    match int_arg(value, "port")? {
        Int::Small(n) => pp::port_from_i64(n),
        Int::Big(text) => pp::parse_port(&text),
    }
    .or_raise(py)
}

fn invalid(py: Python<'_>, message: String) -> PyErr {
    error(py, pp::Error::new(pp::ErrorKind::InvalidArgument, message))
}

fn pid_arg(py: Python<'_>, value: Option<&Bound<'_, PyAny>>) -> PyResult<Option<u32>> {
    let Some(value) = value else { return Ok(None) };
    let shown = match int_arg(value, "pid")? {
        Int::Small(n) => match u32::try_from(n) {
            Ok(pid) => return Ok(Some(pid)),
            Err(_) => n.to_string(),
        },
        Int::Big(text) => text,
    };
    Err(invalid(py, format!("invalid pid {shown}: no such process")))
}

fn ttl_arg(py: Python<'_>, value: Option<&Bound<'_, PyAny>>) -> PyResult<Option<u64>> {
    let Some(value) = value else { return Ok(None) };
    let shown = match int_arg(value, "ttl")? {
        Int::Small(n) => match u64::try_from(n) {
            Ok(ttl) => return Ok(Some(ttl)),
            Err(_) => n.to_string(),
        },
        Int::Big(text) => text,
    };
    Err(invalid(
        py,
        format!("invalid ttl {shown}: a time to live is at least 1 second"),
    ))
}

fn protocol_arg(py: Python<'_>, protocol: &str) -> PyResult<pp::Protocol> {
    pp::Protocol::from_str(protocol).or_raise(py)
}

fn options(
    py: Python<'_>,
    protocol: &str,
    force: bool,
    pid: Option<&Bound<'_, PyAny>>,
    ttl: Option<&Bound<'_, PyAny>>,
) -> PyResult<pp::LeaseOptions> {
    Ok(pp::LeaseOptions {
        protocol: protocol_arg(py, protocol)?,
        force,
        pid: pid_arg(py, pid)?,
        ttl: ttl_arg(py, ttl)?,
    })
}

fn repr_str(py: Python<'_>, text: &str) -> PyResult<String> {
    Ok(PyString::new(py, text).repr()?.to_string())
}

fn repr_opt<T: std::fmt::Display>(value: Option<T>) -> String {
    value.map_or_else(|| "None".to_owned(), |v| v.to_string())
}

// ---------------------------------------------------------------------------------------------
// Values

/// One port held by one name, as the registry recorded it. Immutable; equal when every field
/// is.
#[pyclass(frozen, eq, hash, module = "portpool", name = "Lease")]
#[derive(Clone, Debug, PartialEq, Eq, Hash)]
struct Lease {
    /// Unique name of the holder.
    #[pyo3(get)]
    name: String,
    /// The port, 1-65535.
    #[pyo3(get)]
    port: u16,
    /// "tcp" or "udp".
    #[pyo3(get)]
    protocol: String,
    /// "fixed", "flexible" or "pool": how the lease was made.
    #[pyo3(get)]
    mode: String,
    /// The pool it came from, for "pool" leases; else None.
    #[pyo3(get)]
    pool: Option<String>,
    /// The owning process's pid; None for a lease no process owns.
    #[pyo3(get)]
    pid: Option<u32>,
    /// When the lease was made, in seconds since the Unix epoch.
    #[pyo3(get)]
    created: u64,
    /// The time to live in seconds that renew() restarts; None for no expiry.
    #[pyo3(get)]
    ttl: Option<u64>,
    /// When the lease expires, in seconds since the Unix epoch; None for never.
    #[pyo3(get)]
    expires: Option<u64>,
}

impl From<pp::Lease> for Lease {
    fn from(l: pp::Lease) -> Self {
        Lease {
            name: l.name,
            port: l.port,
            protocol: l.protocol.as_str().to_owned(),
            mode: l.mode.as_str().to_owned(),
            pool: l.pool,
            pid: l.owner.map(|o| o.pid),
            created: l.created,
            ttl: l.ttl,
            expires: l.expires,
        }
    }
}

#[pymethods]
impl Lease {
    fn __repr__(&self, py: Python<'_>) -> PyResult<String> {
        Ok(format!(
            "Lease(name={}, port={}, protocol={}, mode={}, pool={}, pid={}, created={}, ttl={}, expires={})",
            repr_str(py, &self.name)?,
            self.port,
            repr_str(py, &self.protocol)?,
            repr_str(py, &self.mode)?,
            match &self.pool {
                Some(pool) => repr_str(py, pool)?,
                None => "None".to_owned(),
            },
            repr_opt(self.pid),
            self.created,
            repr_opt(self.ttl),
            repr_opt(self.expires),
        ))
    }
}

/// A named port range whose round-robin cursor every process on the host shares. Immutable.
#[pyclass(frozen, eq, hash, module = "portpool", name = "Pool")]
#[derive(Clone, Debug, PartialEq, Eq, Hash)]
struct Pool {
    /// The pool's name.
    #[pyo3(get)]
    name: String,
    /// First port of the range.
    #[pyo3(get)]
    start: u16,
    /// Last port of the range (inclusive).
    #[pyo3(get)]
    end: u16,
    /// The next port allocate() will consider.
    #[pyo3(get)]
    cursor: u16,
    /// Whether allocate() bind-probes candidate ports.
    #[pyo3(get)]
    probe: bool,
}

impl From<pp::Pool> for Pool {
    fn from(p: pp::Pool) -> Self {
        Pool {
            name: p.name,
            start: p.start,
            end: p.end,
            cursor: p.cursor,
            probe: p.probe,
        }
    }
}

#[pymethods]
impl Pool {
    fn __repr__(&self, py: Python<'_>) -> PyResult<String> {
        Ok(format!(
            "Pool(name={}, start={}, end={}, cursor={}, probe={})",
            repr_str(py, &self.name)?,
            self.start,
            self.end,
            self.cursor,
            if self.probe { "True" } else { "False" },
        ))
    }
}

/// What Registry.check() found on a port. Immutable.
#[pyclass(frozen, eq, hash, module = "portpool", name = "PortState")]
#[derive(Clone, Debug, PartialEq, Eq, Hash)]
struct PortState {
    /// "free" (neither leased nor bound), "leased" (to a live holder) or "busy" (bound by a
    /// process outside the registry).
    #[pyo3(get)]
    status: String,
    /// The lease holding the port when status is "leased"; else None.
    #[pyo3(get)]
    lease: Option<Lease>,
}

#[pymethods]
impl PortState {
    fn __repr__(&self, py: Python<'_>) -> PyResult<String> {
        Ok(format!(
            "PortState(status={}, lease={})",
            repr_str(py, &self.status)?,
            match &self.lease {
                Some(lease) => lease.__repr__(py)?,
                None => "None".to_owned(),
            }
        ))
    }
}

/// A stale lease that Registry.gc() released, and why. Immutable.
#[pyclass(frozen, eq, hash, module = "portpool", name = "Reclaimed")]
#[derive(Clone, Debug, PartialEq, Eq, Hash)]
struct Reclaimed {
    /// The lease as it was.
    #[pyo3(get)]
    lease: Lease,
    /// Why it was stale, e.g. "owner pid 4242 is gone".
    #[pyo3(get)]
    reason: String,
}

#[pymethods]
impl Reclaimed {
    fn __repr__(&self, py: Python<'_>) -> PyResult<String> {
        Ok(format!(
            "Reclaimed(lease={}, reason={})",
            self.lease.__repr__(py)?,
            repr_str(py, &self.reason)?
        ))
    }
}

// ---------------------------------------------------------------------------------------------
// Registry

/// A handle on one registry file: the host's record of which name holds which port.
///
/// Opening touches nothing on disk; the file is created on the first change. Each call locks
/// the file for that call only, with the GIL released, so any number of handles, threads,
/// processes and languages may use one registry at once. One Registry may be shared between
/// threads.
///
/// Args:
///     path: The registry file (str or os.PathLike). None: $PORTPOOL_REGISTRY, else
///         /var/lib/portpool/registry.json for root, else
///         $XDG_STATE_HOME/portpool/registry.json (~/.local/state/portpool/registry.json).
///
/// Raises:
///     InvalidArgumentError: path is empty, or None and no default path can be found.
///     TypeError: path is not a str or os.PathLike.
#[pyclass(frozen, module = "portpool", name = "Registry")]
struct Registry {
    inner: Arc<pp::Registry>,
}

#[pymethods]
impl Registry {
    #[new]
    #[pyo3(signature = (path=None))]
    fn new(py: Python<'_>, path: Option<PathBuf>) -> PyResult<Self> {
        let inner = pp::Registry::open(path.as_deref()).or_raise(py)?;
        Ok(Registry {
            inner: Arc::new(inner),
        })
    }

    /// The registry file's path (a pathlib.Path).
    #[getter]
    fn path(&self) -> PathBuf {
        self.inner.path().to_owned()
    }

    fn __repr__(&self, py: Python<'_>) -> PyResult<String> {
        Ok(format!(
            "Registry({})",
            repr_str(py, &self.inner.path().to_string_lossy())?
        ))
    }

    /// Leases a port to `name` and returns it.
    ///
    /// A name that already holds a lease gets its port back. "flexible" gives `port` when it
    /// is neither leased nor bound, else the next such port above it; "fixed" gives exactly
    /// `port` or raises ConflictError. Stale leases (owner gone, ttl over) in the way are
    /// reclaimed.
    ///
    /// Args:
    ///     name: The holder's unique name (1-128 bytes, no whitespace or control characters).
    ///     port: The port wanted, 1-65535.
    ///     mode: "flexible" (default) or "fixed".
    ///     protocol: "tcp" (default) or "udp".
    ///     force: "fixed" only: take the port even when a process outside the registry has
    ///         it bound. A port leased to another name is never taken.
    ///     pid: The owning process; once it exits, the lease is stale and reclaimed.
    ///     ttl: Seconds the lease lives unless renewed.
    ///
    /// Returns:
    ///     The port leased to `name`.
    ///
    /// Raises:
    ///     ConflictError: "fixed" and the port is taken, or `name` holds another port or
    ///         protocol.
    ///     ExhaustedError: "flexible" and no free port from `port` to 65535.
    ///     InvalidArgumentError: a bad name, port, mode, protocol, pid or ttl.
    ///     RegistryError: the registry file cannot be used.
    ///     TypeError: an argument of the wrong type.
    #[pyo3(signature = (name, port, mode="flexible", *, protocol="tcp", force=false, pid=None, ttl=None))]
    #[allow(clippy::too_many_arguments)]
    fn register(
        &self,
        py: Python<'_>,
        name: &str,
        port: &Bound<'_, PyAny>,
        mode: &str,
        protocol: &str,
        force: bool,
        pid: Option<&Bound<'_, PyAny>>,
        ttl: Option<&Bound<'_, PyAny>>,
    ) -> PyResult<u16> {
        let port = port_arg(py, port)?;
        let mode = pp::Mode::from_str(mode).or_raise(py)?;
        let opts = options(py, protocol, force, pid, ttl)?;
        let inner = &*self.inner;
        py.detach(|| inner.register(name, port, mode, &opts))
            .or_raise(py)
    }

    /// Leases the next free port of `pool` to `name` and returns it.
    ///
    /// Starts at the pool's shared cursor, skips leased (and, when the pool probes, bound)
    /// ports, and wraps around once. A name that already holds a lease gets its port back.
    ///
    /// Args:
    ///     name: The holder's unique name.
    ///     pool: The pool's name; "default" (9000-9999 unless changed) always exists.
    ///     protocol: "tcp" (default) or "udp".
    ///     pid: The owning process; once it exits, the lease is stale and reclaimed.
    ///     ttl: Seconds the lease lives unless renewed.
    ///
    /// Returns:
    ///     The port leased to `name`.
    ///
    /// Raises:
    ///     NotFoundError: no pool named `pool`.
    ///     ExhaustedError: every port of the pool is taken.
    ///     ConflictError: `name` holds a port of the other protocol.
    ///     InvalidArgumentError: a bad name, pool, protocol, pid or ttl.
    ///     RegistryError: the registry file cannot be used.
    ///     TypeError: an argument of the wrong type.
    #[pyo3(signature = (name, pool="default", *, protocol="tcp", pid=None, ttl=None))]
    fn allocate(
        &self,
        py: Python<'_>,
        name: &str,
        pool: &str,
        protocol: &str,
        pid: Option<&Bound<'_, PyAny>>,
        ttl: Option<&Bound<'_, PyAny>>,
    ) -> PyResult<u16> {
        let opts = options(py, protocol, false, pid, ttl)?;
        let inner = &*self.inner;
        py.detach(|| inner.allocate(name, pool, &opts)).or_raise(py)
    }

    /// The port leased to `name`, or `default` when it holds none.
    ///
    /// A stale lease is reported until something reclaims it.
    ///
    /// Args:
    ///     name: The holder's name.
    ///     default: What to return when `name` holds no lease.
    ///
    /// Returns:
    ///     The port, or `default`.
    ///
    /// Raises:
    ///     InvalidArgumentError: a bad name.
    ///     RegistryError: the registry file cannot be used.
    #[pyo3(signature = (name, default=None))]
    fn get(&self, py: Python<'_>, name: &str, default: Option<Py<PyAny>>) -> PyResult<Py<PyAny>> {
        let inner = &*self.inner;
        match py.detach(|| inner.get(name)).or_raise(py)? {
            Some(lease) => Ok(lease.port.into_pyobject(py)?.into_any().unbind()),
            None => Ok(default.unwrap_or_else(|| py.None())),
        }
    }

    /// Releases `name`'s lease.
    ///
    /// Args:
    ///     name: The holder's name.
    ///
    /// Returns:
    ///     True when there was a lease; an unknown name is not an error.
    ///
    /// Raises:
    ///     InvalidArgumentError: a bad name.
    ///     RegistryError: the registry file cannot be used.
    fn release(&self, py: Python<'_>, name: &str) -> PyResult<bool> {
        let inner = &*self.inner;
        py.detach(|| inner.release(name)).or_raise(py)
    }

    /// Every lease, sorted by name.
    ///
    /// Returns:
    ///     A list of Lease.
    ///
    /// Raises:
    ///     RegistryError: the registry file cannot be used.
    fn list(&self, py: Python<'_>) -> PyResult<Vec<Lease>> {
        let inner = &*self.inner;
        let leases = py.detach(|| inner.list()).or_raise(py)?;
        Ok(leases.into_iter().map(Lease::from).collect())
    }

    /// Every pool, sorted by name; "default" is always there.
    ///
    /// Returns:
    ///     A list of Pool.
    ///
    /// Raises:
    ///     RegistryError: the registry file cannot be used.
    fn pools(&self, py: Python<'_>) -> PyResult<Vec<Pool>> {
        let inner = &*self.inner;
        let pools = py.detach(|| inner.pools()).or_raise(py)?;
        Ok(pools.into_iter().map(Pool::from).collect())
    }

    /// Creates pool `name` over start..end (inclusive), or changes its range.
    ///
    /// Leases already made are kept; a cursor outside the new range restarts at `start`.
    ///
    /// Args:
    ///     name: The pool's name.
    ///     start: First port, 1-65535.
    ///     end: Last port, 1-65535, not below `start`.
    ///     probe: Whether allocate() bind-probes candidates (off suits a range reserved for
    ///         portpool). None: on for a new pool, unchanged for an existing one.
    ///
    /// Returns:
    ///     The pool as it now is.
    ///
    /// Raises:
    ///     InvalidArgumentError: a bad name or range.
    ///     RegistryError: the registry file cannot be used.
    ///     TypeError: an argument of the wrong type.
    #[pyo3(signature = (name, start, end, *, probe=None))]
    fn set_pool(
        &self,
        py: Python<'_>,
        name: &str,
        start: &Bound<'_, PyAny>,
        end: &Bound<'_, PyAny>,
        probe: Option<bool>,
    ) -> PyResult<Pool> {
        let start = port_arg(py, start)?;
        let end = port_arg(py, end)?;
        let inner = &*self.inner;
        let pool = py
            .detach(|| inner.set_pool(name, start, end, probe))
            .or_raise(py)?;
        Ok(pool.into())
    }

    /// Whether `port` is free, leased (to whom) or bound outside the registry.
    ///
    /// Stale leases count as free, as register() and allocate() would reclaim them.
    ///
    /// Args:
    ///     port: The port, 1-65535.
    ///     protocol: "tcp" (default) or "udp".
    ///
    /// Returns:
    ///     A PortState.
    ///
    /// Raises:
    ///     InvalidArgumentError: a bad port or protocol.
    ///     RegistryError: the registry file cannot be used.
    #[pyo3(signature = (port, protocol="tcp"))]
    fn check(
        &self,
        py: Python<'_>,
        port: &Bound<'_, PyAny>,
        protocol: &str,
    ) -> PyResult<PortState> {
        let port = port_arg(py, port)?;
        let protocol = protocol_arg(py, protocol)?;
        let inner = &*self.inner;
        let state = py.detach(|| inner.check(port, protocol)).or_raise(py)?;
        Ok(match state {
            pp::PortState::Free => PortState {
                status: "free".into(),
                lease: None,
            },
            pp::PortState::Busy => PortState {
                status: "busy".into(),
                lease: None,
            },
            pp::PortState::Leased(lease) => PortState {
                status: "leased".into(),
                lease: Some(lease.into()),
            },
        })
    }

    /// Releases every stale lease (owner gone or time to live over).
    ///
    /// Returns:
    ///     A list of Reclaimed: each released lease and why it was stale.
    ///
    /// Raises:
    ///     RegistryError: the registry file cannot be used.
    fn gc(&self, py: Python<'_>) -> PyResult<Vec<Reclaimed>> {
        let inner = &*self.inner;
        let reclaimed = py.detach(|| inner.gc()).or_raise(py)?;
        Ok(reclaimed
            .into_iter()
            .map(|r| Reclaimed {
                lease: r.lease.into(),
                reason: r.reason,
            })
            .collect())
    }

    /// Restarts `name`'s time to live from now.
    ///
    /// Args:
    ///     name: The holder's name.
    ///     ttl: New time to live in seconds; None keeps the one the lease was given.
    ///
    /// Returns:
    ///     The renewed Lease.
    ///
    /// Raises:
    ///     NotFoundError: `name` holds no lease.
    ///     InvalidArgumentError: a bad name or ttl, or no ttl given for a lease without one.
    ///     RegistryError: the registry file cannot be used.
    #[pyo3(signature = (name, ttl=None))]
    fn renew(&self, py: Python<'_>, name: &str, ttl: Option<&Bound<'_, PyAny>>) -> PyResult<Lease> {
        let ttl = ttl_arg(py, ttl)?;
        let inner = &*self.inner;
        let lease = py.detach(|| inner.renew(name, ttl)).or_raise(py)?;
        Ok(lease.into())
    }

    /// Empties the registry: no leases, and only the "default" pool at 9000-9999.
    ///
    /// Raises:
    ///     RegistryError: the registry file cannot be used.
    fn reset(&self, py: Python<'_>) -> PyResult<()> {
        let inner = &*self.inner;
        py.detach(|| inner.reset()).or_raise(py)
    }

    /// A context manager that allocates a port from `pool` on entry and releases it on exit,
    /// also when the block raises.
    ///
    /// `with reg.lease("worker-1") as port: ...`. The lease is owned by the process that
    /// enters the block (unless `pid` says otherwise), so it is reclaimed even when that
    /// process is killed inside the block.
    ///
    /// Args:
    ///     name: The holder's unique name.
    ///     pool: The pool's name.
    ///     protocol: "tcp" (default) or "udp".
    ///     pid: The owning process; None: the process entering the block.
    ///     ttl: Seconds the lease lives unless renewed.
    ///
    /// Returns:
    ///     A LeaseGuard; entering it returns the port, as allocate() does.
    ///
    /// Raises:
    ///     InvalidArgumentError: a bad protocol, pid or ttl (on entry: a bad name or pool).
    ///     TypeError: an argument of the wrong type.
    #[pyo3(signature = (name, pool="default", *, protocol="tcp", pid=None, ttl=None))]
    fn lease(
        &self,
        py: Python<'_>,
        name: &str,
        pool: &str,
        protocol: &str,
        pid: Option<&Bound<'_, PyAny>>,
        ttl: Option<&Bound<'_, PyAny>>,
    ) -> PyResult<LeaseGuard> {
        Ok(LeaseGuard {
            registry: Arc::clone(&self.inner),
            name: name.to_owned(),
            pool: pool.to_owned(),
            options: options(py, protocol, false, pid, ttl)?,
            port: Mutex::new(None),
        })
    }
}

/// A port leased from a pool for the length of a `with` block; made by Registry.lease().
#[pyclass(frozen, module = "portpool", name = "LeaseGuard")]
struct LeaseGuard {
    registry: Arc<pp::Registry>,
    name: String,
    pool: String,
    options: pp::LeaseOptions,
    port: Mutex<Option<u16>>,
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
        *self.port.lock().unwrap_or_else(|e| e.into_inner())
    }

    /// Allocates the port (as Registry.allocate) and returns it.
    fn __enter__(&self, py: Python<'_>) -> PyResult<u16> {
        let mut options = self.options.clone();
        options.pid = options.pid.or(Some(std::process::id()));
        let port = py
            .detach(|| self.registry.allocate(&self.name, &self.pool, &options))
            .or_raise(py)?;
        *self.port.lock().unwrap_or_else(|e| e.into_inner()) = Some(port);
        Ok(port)
    }

    /// Releases the lease; never suppresses the block's exception.
    #[pyo3(signature = (exc_type, exc_value, traceback))]
    fn __exit__(
        &self,
        py: Python<'_>,
        exc_type: Option<&Bound<'_, PyAny>>,
        exc_value: Option<&Bound<'_, PyAny>>,
        traceback: Option<&Bound<'_, PyAny>>,
    ) -> PyResult<bool> {
        let _ = (exc_type, exc_value, traceback);
        *self.port.lock().unwrap_or_else(|e| e.into_inner()) = None;
        py.detach(|| self.registry.release(&self.name))
            .or_raise(py)?;
        Ok(false)
    }

    fn __repr__(&self, py: Python<'_>) -> PyResult<String> {
        Ok(format!(
            "LeaseGuard(name={}, pool={}, port={})",
            repr_str(py, &self.name)?,
            repr_str(py, &self.pool)?,
            repr_opt(self.port())
        ))
    }
}

// ---------------------------------------------------------------------------------------------
// Functions

/// Whether `port` can be bound for `protocol` on this host right now (IPv4 and IPv6
/// wildcards). Consults no registry; the answer is a snapshot.
///
/// Args:
///     port: The port, 1-65535.
///     protocol: "tcp" (default) or "udp".
///
/// Returns:
///     True when nothing has the port bound.
///
/// Raises:
///     InvalidArgumentError: a bad port or protocol.
///     TypeError: an argument of the wrong type.
#[pyfunction]
#[pyo3(signature = (port, protocol="tcp"))]
fn is_free(py: Python<'_>, port: &Bound<'_, PyAny>, protocol: &str) -> PyResult<bool> {
    let port = port_arg(py, port)?;
    let protocol = protocol_arg(py, protocol)?;
    py.detach(|| pp::is_free(port, protocol)).or_raise(py)
}

/// A port the kernel picked as free, verified free for IPv4 and IPv6, like
/// portpicker.pick_unused_port(). Takes no lease: use Registry.allocate() to keep other
/// portpool users off it.
///
/// Args:
///     protocol: "tcp" (default) or "udp".
///
/// Returns:
///     The port.
///
/// Raises:
///     InvalidArgumentError: a bad protocol.
///     ExhaustedError: no free port found.
///     PortpoolIOError: the kernel refused a socket.
#[pyfunction]
#[pyo3(signature = (protocol="tcp"))]
fn find_free(py: Python<'_>, protocol: &str) -> PyResult<u16> {
    let protocol = protocol_arg(py, protocol)?;
    py.detach(|| pp::find_free(protocol)).or_raise(py)
}

/// portpool's native module; import `portpool` instead.
#[pymodule]
#[pyo3(name = "_native")]
fn native(m: &Bound<'_, PyModule>) -> PyResult<()> {
    let py = m.py();
    m.add("__version__", pp::VERSION)?;
    m.add_class::<Registry>()?;
    m.add_class::<Lease>()?;
    m.add_class::<Pool>()?;
    m.add_class::<PortState>()?;
    m.add_class::<Reclaimed>()?;
    m.add_class::<LeaseGuard>()?;
    m.add_function(wrap_pyfunction!(is_free, m)?)?;
    m.add_function(wrap_pyfunction!(find_free, m)?)?;
    for class in Exceptions::get(py)?.all() {
        let class = class.bind(py);
        m.add(class.name()?.to_string(), class)?;
    }
    Ok(())
}
