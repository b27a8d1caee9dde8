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
    PyBaseException, PyException, PyKeyError, PyOSError, PyRuntimeError, PyTimeoutError,
    PyTypeError, PyValueError,
};
use pyo3::prelude::*;
use pyo3::sync::PyOnceLock;
use pyo3::types::{PyBool, PyDict, PyInt, PyString, PyTuple, PyType};

// ---------------------------------------------------------------------------------------------
// Exceptions

/// The exception classes, one per [`pp::ErrorKind`] under one base.
///
/// They are made with `type(name, bases, dict)` because four of them have two bases
/// (`NotFoundError` is also a `KeyError`, `InvalidArgumentError` a `ValueError`,
/// `PortpoolIOError` an `OSError`, `BusyError` a `TimeoutError`), which `create_exception!`
/// cannot express.
struct Exceptions {
    base: Py<PyType>,
    not_found: Py<PyType>,
    invalid_argument: Py<PyType>,
    conflict: Py<PyType>,
    exhausted: Py<PyType>,
    registry: Py<PyType>,
    io: Py<PyType>,
    busy: Py<PyType>,
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

    fn all(&self) -> [&Py<PyType>; 8] {
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

/// The Python exception for a core error, carrying core's message. A `PortpoolIOError` also
/// carries the OS error number in `errno`, as an `OSError` does (its `args` stay the message
/// alone, so `str(err)` is still core's message).
fn error(py: Python<'_>, err: pp::Error) -> PyErr {
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

impl Int {
    /// The value as core's `*_from_i64` checks take it. An int beyond 64 bits is outside
    /// every range core accepts; core has no check that takes it, so its message is worded
    /// here.
    fn to_i64(&self, py: Python<'_>, what: &str) -> PyResult<i64> {
        match self {
            Int::Small(n) => Ok(*n),
            Int::Big(text) => Err(error(
                py,
                pp::Error::new(
                    pp::ErrorKind::InvalidArgument,
                    format!("invalid {what} {text}: out of range"),
                ),
            )),
        }
    }
}

/// Reads an int argument, as `operator.index` does (an int, or an object with
/// `__index__`); anything else, `bool` included, is a `TypeError`.
fn int_arg(value: &Bound<'_, PyAny>, what: &str) -> PyResult<Int> {
    static INDEX: PyOnceLock<Py<PyAny>> = PyOnceLock::new();
    let py = value.py();
    let int = if value.is_instance_of::<PyBool>() {
        None
    } else if value.is_instance_of::<PyInt>() {
        Some(value.clone())
    } else {
        match INDEX.import(py, "operator", "index")?.call1((value,)) {
            Ok(int) => Some(int),
            Err(err) if err.is_instance_of::<PyTypeError>(py) => None,
            Err(err) => return Err(err),
        }
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

fn pid_arg(py: Python<'_>, value: Option<&Bound<'_, PyAny>>) -> PyResult<Option<u32>> {
    let Some(value) = value else { return Ok(None) };
    let pid = int_arg(value, "pid")?.to_i64(py, "pid")?;
    pp::pid_from_i64(pid).map(Some).or_raise(py)
}

fn ttl_arg(py: Python<'_>, value: Option<&Bound<'_, PyAny>>) -> PyResult<Option<u64>> {
    let Some(value) = value else { return Ok(None) };
    let ttl = int_arg(value, "ttl")?.to_i64(py, "ttl")?;
    pp::ttl_from_i64(ttl).map(Some).or_raise(py)
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
        ..pp::LeaseOptions::default()
    })
}

fn repr_str(py: Python<'_>, text: &str) -> PyResult<String> {
    Ok(PyString::new(py, text).repr()?.to_string())
}

fn repr_list<T>(items: &[T], repr: impl Fn(&T) -> PyResult<String>) -> PyResult<String> {
    let items = items.iter().map(repr).collect::<PyResult<Vec<_>>>()?;
    Ok(format!("[{}]", items.join(", ")))
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
    /// The next generation's port while a handover is under way; else None.
    #[pyo3(get)]
    next: Option<Next>,
    /// Why the lease is stale (time to live over, owner gone, a handover's owner gone), in
    /// leases from list() and who(); None for a lease that holds its ports.
    #[pyo3(get)]
    stale: Option<String>,
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
            next: l.next.map(Next::from),
            stale: l.stale,
        }
    }
}

#[pymethods]
impl Lease {
    fn __repr__(&self, py: Python<'_>) -> PyResult<String> {
        Ok(format!(
            "Lease(name={}, port={}, protocol={}, mode={}, pool={}, pid={}, created={}, ttl={}, expires={}, next={}, stale={})",
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
            match &self.next {
                Some(next) => next.__repr__(),
                None => "None".to_owned(),
            },
            match &self.stale {
                Some(why) => repr_str(py, why)?,
                None => "None".to_owned(),
            },
        ))
    }
}

/// The next generation's port during a handover (Lease.next). Immutable.
#[pyclass(frozen, eq, hash, module = "portpool", name = "Next")]
#[derive(Clone, Debug, PartialEq, Eq, Hash)]
struct Next {
    /// The new port, leased beside the current one until the handover is committed.
    #[pyo3(get)]
    port: u16,
    /// When the handover began, in seconds since the Unix epoch.
    #[pyo3(get)]
    created: u64,
    /// The next generation's process, which owns the lease after the commit; or None.
    #[pyo3(get)]
    pid: Option<u32>,
}

impl From<pp::Next> for Next {
    fn from(n: pp::Next) -> Self {
        Next {
            port: n.port,
            created: n.created,
            pid: n.owner.map(|o| o.pid),
        }
    }
}

#[pymethods]
impl Next {
    fn __repr__(&self) -> String {
        format!(
            "Next(port={}, created={}, pid={})",
            self.port,
            self.created,
            repr_opt(self.pid)
        )
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

/// What Registry.import_() did. Immutable.
#[pyclass(frozen, eq, hash, module = "portpool", name = "ImportReport")]
#[derive(Clone, Debug, PartialEq, Eq, Hash)]
struct ImportReport {
    /// Leases made, one per new entry of the file.
    #[pyo3(get)]
    imported: Vec<Lease>,
    /// Names already present with the same port, left as they were.
    #[pyo3(get)]
    skipped: Vec<String>,
}

#[pymethods]
impl ImportReport {
    fn __repr__(&self, py: Python<'_>) -> PyResult<String> {
        Ok(format!(
            "ImportReport(imported={}, skipped={})",
            repr_list(&self.imported, |l| l.__repr__(py))?,
            repr_list(&self.skipped, |n| repr_str(py, n))?,
        ))
    }
}

/// A process holding a socket. Immutable.
#[pyclass(frozen, eq, hash, module = "portpool", name = "Process")]
#[derive(Clone, Debug, PartialEq, Eq, Hash)]
struct Process {
    /// Process id.
    #[pyo3(get)]
    pid: u32,
    /// Its program name (/proc/PID/comm).
    #[pyo3(get)]
    program: String,
}

#[pymethods]
impl Process {
    fn __repr__(&self, py: Python<'_>) -> PyResult<String> {
        Ok(format!(
            "Process(pid={}, program={})",
            self.pid,
            repr_str(py, &self.program)?
        ))
    }
}

/// A server socket: a TCP listener, or a bound, unconnected UDP socket. Immutable.
#[pyclass(frozen, eq, hash, module = "portpool", name = "Socket")]
#[derive(Clone, Debug, PartialEq, Eq, Hash)]
struct Socket {
    /// "tcp" or "udp".
    #[pyo3(get)]
    protocol: String,
    /// The local address it is bound to, e.g. "0.0.0.0:8080" or "[::1]:8080".
    #[pyo3(get)]
    address: String,
    /// The port it is bound to.
    #[pyo3(get)]
    port: u16,
    /// The processes holding it; empty when their descriptors cannot be seen.
    #[pyo3(get)]
    processes: Vec<Process>,
}

impl From<pp::Socket> for Socket {
    fn from(s: pp::Socket) -> Self {
        Socket {
            protocol: s.protocol.as_str().to_owned(),
            address: s.address.to_string(),
            port: s.port(),
            processes: s
                .processes
                .into_iter()
                .map(|p| Process {
                    pid: p.pid,
                    program: p.program,
                })
                .collect(),
        }
    }
}

#[pymethods]
impl Socket {
    fn __repr__(&self, py: Python<'_>) -> PyResult<String> {
        Ok(format!(
            "Socket(protocol={}, address={}, processes={})",
            repr_str(py, &self.protocol)?,
            repr_str(py, &self.address)?,
            repr_list(&self.processes, |p| p.__repr__(py))?,
        ))
    }
}

/// Everything known about one port: Registry.who(). Immutable.
#[pyclass(frozen, eq, hash, module = "portpool", name = "Who")]
#[derive(Clone, Debug, PartialEq, Eq, Hash)]
struct Who {
    /// The port asked about.
    #[pyo3(get)]
    port: u16,
    /// Leases holding it, TCP and UDP (during a handover, as the current or the next port).
    #[pyo3(get)]
    leases: Vec<Lease>,
    /// Server sockets bound to it, or None when /proc could not be read.
    #[pyo3(get)]
    sockets: Option<Vec<Socket>>,
    /// Why `sockets` is None; else None.
    #[pyo3(get)]
    unavailable: Option<String>,
}

#[pymethods]
impl Who {
    fn __repr__(&self, py: Python<'_>) -> PyResult<String> {
        Ok(format!(
            "Who(port={}, leases={}, sockets={}, unavailable={})",
            self.port,
            repr_list(&self.leases, |l| l.__repr__(py))?,
            match &self.sockets {
                Some(sockets) => repr_list(sockets, |s| s.__repr__(py))?,
                None => "None".to_owned(),
            },
            match &self.unavailable {
                Some(why) => repr_str(py, why)?,
                None => "None".to_owned(),
            },
        ))
    }
}

/// One problem Registry.doctor() found. Immutable.
#[pyclass(frozen, eq, hash, module = "portpool", name = "Finding")]
#[derive(Clone, Debug, PartialEq, Eq, Hash)]
struct Finding {
    /// "not_listening", "foreign_listener", "stale_owner", "stale_next_owner", "expired",
    /// "taken_over", "ephemeral_overlap" or "split_registry".
    #[pyo3(get)]
    kind: String,
    /// "info" for "not_listening", "warning" for every other kind.
    #[pyo3(get)]
    severity: String,
    /// The lease or pool concerned.
    #[pyo3(get)]
    subject: String,
    /// The port concerned, for findings about a lease; else None.
    #[pyo3(get)]
    port: Option<u16>,
    /// "tcp" or "udp", for findings about a lease; else None.
    #[pyo3(get)]
    protocol: Option<String>,
    /// A sentence for people.
    #[pyo3(get)]
    message: String,
}

#[pymethods]
impl Finding {
    fn __repr__(&self, py: Python<'_>) -> PyResult<String> {
        Ok(format!(
            "Finding(kind={}, severity={}, subject={}, port={}, protocol={}, message={})",
            repr_str(py, &self.kind)?,
            repr_str(py, &self.severity)?,
            repr_str(py, &self.subject)?,
            repr_opt(self.port),
            match &self.protocol {
                Some(p) => repr_str(py, p)?,
                None => "None".to_owned(),
            },
            repr_str(py, &self.message)?
        ))
    }
}

/// The result of Registry.doctor(). Immutable.
#[pyclass(frozen, eq, hash, module = "portpool", name = "DoctorReport")]
#[derive(Clone, Debug, PartialEq, Eq, Hash)]
struct DoctorReport {
    /// Problems found; empty when all is well.
    #[pyo3(get)]
    findings: Vec<Finding>,
    /// Why listener checks were skipped (no /proc); else None.
    #[pyo3(get)]
    unavailable: Option<String>,
}

#[pymethods]
impl DoctorReport {
    fn __repr__(&self, py: Python<'_>) -> PyResult<String> {
        Ok(format!(
            "DoctorReport(findings={}, unavailable={})",
            repr_list(&self.findings, |f| f.__repr__(py))?,
            match &self.unavailable {
                Some(why) => repr_str(py, why)?,
                None => "None".to_owned(),
            },
        ))
    }
}

// ---------------------------------------------------------------------------------------------
// Registry

/// A handle on one registry file: the host's record of which name holds which port.
///
/// Opening touches nothing on disk; the file is created on the first change. Each call that
/// changes the registry locks the file for that call only, with the GIL released, so any
/// number of handles, threads, processes and languages may use one registry at once; calls
/// that only read take no lock. One Registry may be shared between threads.
///
/// A change returns once it is on the disk, unless it concerns only leases owned by a
/// process (`pid=`) or a pool's cursor: those survive any crash of a process, but not a
/// power loss, after which their owners are gone anyway.
///
/// Args:
///     path: The registry file (str or os.PathLike). None: $PORTPOOL_REGISTRY, else
///         /var/lib/portpool/registry.json for root, else
///         $XDG_STATE_HOME/portpool/registry.json (~/.local/state/portpool/registry.json).
///     lock_timeout: Seconds a change waits for another process's lock before raising
///         BusyError (0: not at all). None: $PORTPOOL_LOCK_TIMEOUT, else 10.
///
/// Raises:
///     InvalidArgumentError: path is empty, or None and no default path can be found; a
///         lock_timeout (or $PORTPOOL_LOCK_TIMEOUT) that is negative, not a number or over
///         a year.
///     TypeError: path is not a str or os.PathLike.
#[pyclass(frozen, module = "portpool", name = "Registry")]
struct Registry {
    inner: Arc<pp::Registry>,
}

#[pymethods]
impl Registry {
    #[new]
    #[pyo3(signature = (path=None, *, lock_timeout=None))]
    fn new(py: Python<'_>, path: Option<PathBuf>, lock_timeout: Option<f64>) -> PyResult<Self> {
        let mut inner = pp::Registry::open(path.as_deref()).or_raise(py)?;
        if let Some(seconds) = lock_timeout {
            let timeout = pp::parse_lock_timeout(&seconds.to_string()).or_raise(py)?;
            inner = inner.with_lock_timeout(timeout);
        }
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
    ///     PortpoolIOError: the operating system failed a read or write.
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
    ///     pool: The pool's name; None (the default) means the "default" pool (9000-9999
    ///         unless changed), which always exists.
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
    ///     PortpoolIOError: the operating system failed a read or write.
    ///     TypeError: an argument of the wrong type.
    #[pyo3(signature = (name, pool=None, *, protocol="tcp", pid=None, ttl=None))]
    fn allocate(
        &self,
        py: Python<'_>,
        name: &str,
        pool: Option<&str>,
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
    /// A stale lease (time to live over, owner gone) holds nothing, and gives `default`.
    ///
    /// Args:
    ///     name: The holder's name.
    ///     default: What to return when `name` holds no lease: None, or a port (1-65535),
    ///         checked as the command line checks `portpool get NAME DEFAULT`.
    ///
    /// Returns:
    ///     The port, or `default`.
    ///
    /// Raises:
    ///     InvalidArgumentError: a bad name, or a default that is not a port.
    ///     RegistryError: the registry file cannot be used.
    ///     PortpoolIOError: the operating system failed a read or write.
    #[pyo3(signature = (name, default=None))]
    fn get(
        &self,
        py: Python<'_>,
        name: &str,
        default: Option<&Bound<'_, PyAny>>,
    ) -> PyResult<Option<u16>> {
        let default = default.map(|d| port_arg(py, d)).transpose()?;
        let inner = &*self.inner;
        let lease = py.detach(|| inner.get(name)).or_raise(py)?;
        Ok(lease.map(|l| l.port).or(default))
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
    ///     PortpoolIOError: the operating system failed a read or write.
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
    ///     PortpoolIOError: the operating system failed a read or write.
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
    ///     PortpoolIOError: the operating system failed a read or write.
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
    ///     PortpoolIOError: the operating system failed a read or write.
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
            .detach(|| inner.set_pool(name, start, end, probe).map(|c| c.pool))
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
    ///     PortpoolIOError: the operating system failed a read or write.
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
        Ok(PortState {
            status: state.as_str().to_owned(),
            lease: state.lease().cloned().map(Lease::from),
        })
    }

    /// Releases every stale lease (owner gone or time to live over).
    ///
    /// Returns:
    ///     A list of Reclaimed: each released lease and why it was stale.
    ///
    /// Raises:
    ///     RegistryError: the registry file cannot be used.
    ///     PortpoolIOError: the operating system failed a read or write.
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
    ///     PortpoolIOError: the operating system failed a read or write.
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
    ///     PortpoolIOError: the operating system failed a read or write.
    fn reset(&self, py: Python<'_>) -> PyResult<()> {
        let inner = &*self.inner;
        py.detach(|| inner.reset()).or_raise(py)
    }

    /// Begins a zero-downtime handover of `name`: leases a port for the next generation
    /// while the current one stays valid, and returns it.
    ///
    /// Both ports are leased and listed (the new one as Lease.next); get() returns the
    /// current port until commit_handover(). A pool lease's new port comes from its pool,
    /// other leases take the first free port above the current one. Begun twice, returns
    /// the same port.
    ///
    /// Args:
    ///     name: The lease's name.
    ///     pid: The next generation's process, which owns the lease after the commit.
    ///
    /// Returns:
    ///     The next generation's port.
    ///
    /// Raises:
    ///     NotFoundError: `name` holds no lease.
    ///     ExhaustedError: no port is free for the next generation.
    ///     InvalidArgumentError: a bad name or pid.
    ///     RegistryError: the registry file cannot be used.
    ///     PortpoolIOError: the operating system failed a read or write.
    #[pyo3(signature = (name, pid=None))]
    fn begin_handover(
        &self,
        py: Python<'_>,
        name: &str,
        pid: Option<&Bound<'_, PyAny>>,
    ) -> PyResult<u16> {
        let pid = pid_arg(py, pid)?;
        let inner = &*self.inner;
        py.detach(|| inner.begin_handover(name, pid)).or_raise(py)
    }

    /// Completes `name`'s handover: releases the old port and makes the next one current.
    ///
    /// The lease's owner becomes the next generation's process: the pid given to
    /// begin_handover(), else `pid`, else none (the old generation's process never owns
    /// the new port).
    ///
    /// Args:
    ///     name: The lease's name.
    ///     pid: The next generation's process as this caller knows it. A handover begun
    ///         for another process raises ConflictError; None is not checked.
    ///
    /// Returns:
    ///     The new current port.
    ///
    /// Raises:
    ///     NotFoundError: `name` holds no lease (or a stale one), or no handover of it is
    ///         under way.
    ///     ConflictError: the handover was begun for another process.
    ///     InvalidArgumentError: a bad name or pid.
    ///     RegistryError: the registry file cannot be used.
    ///     PortpoolIOError: the operating system failed a read or write.
    #[pyo3(signature = (name, pid=None))]
    fn commit_handover(
        &self,
        py: Python<'_>,
        name: &str,
        pid: Option<&Bound<'_, PyAny>>,
    ) -> PyResult<u16> {
        let pid = pid_arg(py, pid)?;
        let inner = &*self.inner;
        py.detach(|| inner.commit_handover(name, pid)).or_raise(py)
    }

    /// Abandons `name`'s handover: releases the next generation's port; the current lease
    /// is untouched.
    ///
    /// Args:
    ///     name: The lease's name.
    ///     pid: Checked as by commit_handover().
    ///
    /// Returns:
    ///     The port released.
    ///
    /// Raises:
    ///     NotFoundError: `name` holds no lease (or a stale one), or no handover of it is
    ///         under way.
    ///     ConflictError: the handover was begun for another process.
    ///     InvalidArgumentError: a bad name or pid.
    ///     RegistryError: the registry file cannot be used.
    ///     PortpoolIOError: the operating system failed a read or write.
    #[pyo3(signature = (name, pid=None))]
    fn abort_handover(
        &self,
        py: Python<'_>,
        name: &str,
        pid: Option<&Bound<'_, PyAny>>,
    ) -> PyResult<u16> {
        let pid = pid_arg(py, pid)?;
        let inner = &*self.inner;
        py.detach(|| inner.abort_handover(name, pid)).or_raise(py)
    }

    /// Allocates a port of `pool` to each of `names` in one locked write: all or none.
    ///
    /// Names that already hold a lease get theirs back.
    ///
    /// Args:
    ///     names: The holders' unique names (a list or other iterable of str).
    ///     pool: The pool's name.
    ///     protocol: "tcp" (default) or "udp".
    ///     pid: The owning process of every lease made.
    ///     ttl: Seconds the leases live unless renewed.
    ///
    /// Returns:
    ///     The ports, in the order of `names`.
    ///
    /// Raises:
    ///     NotFoundError: no pool named `pool`.
    ///     ExhaustedError: the pool has too few free ports; nothing is leased.
    ///     InvalidArgumentError: a bad name (or one given twice), pool, protocol, pid or ttl.
    ///     RegistryError: the registry file cannot be used.
    ///     PortpoolIOError: the operating system failed a read or write.
    ///     TypeError: `names` is a str, or holds something else than str.
    #[pyo3(signature = (names, pool=None, *, protocol="tcp", pid=None, ttl=None))]
    fn allocate_many(
        &self,
        py: Python<'_>,
        names: &Bound<'_, PyAny>,
        pool: Option<&str>,
        protocol: &str,
        pid: Option<&Bound<'_, PyAny>>,
        ttl: Option<&Bound<'_, PyAny>>,
    ) -> PyResult<Vec<u16>> {
        if names.is_instance_of::<PyString>() {
            return Err(PyTypeError::new_err(
                "names must be an iterable of str, not a str",
            ));
        }
        let names: Vec<String> = names
            .try_iter()?
            .map(|name| name?.extract::<String>())
            .collect::<PyResult<_>>()?;
        let opts = options(py, protocol, false, pid, ttl)?;
        let inner = &*self.inner;
        py.detach(|| {
            let names: Vec<&str> = names.iter().map(String::as_str).collect();
            inner.allocate_many(&names, pool, &opts)
        })
        .or_raise(py)
    }

    /// Makes process `pid` the owner of `name`'s lease; None makes it permanent.
    ///
    /// Args:
    ///     name: The lease's name.
    ///     pid: The new owner; once it exits, the lease is stale and reclaimed.
    ///
    /// Returns:
    ///     The Lease as it now is.
    ///
    /// Raises:
    ///     NotFoundError: `name` holds no lease.
    ///     InvalidArgumentError: a bad name, or no process `pid`.
    ///     RegistryError: the registry file cannot be used.
    ///     PortpoolIOError: the operating system failed a read or write.
    #[pyo3(signature = (name, pid=None))]
    fn set_owner(
        &self,
        py: Python<'_>,
        name: &str,
        pid: Option<&Bound<'_, PyAny>>,
    ) -> PyResult<Lease> {
        let pid = pid_arg(py, pid)?;
        let inner = &*self.inner;
        let lease = py.detach(|| inner.set_owner(name, pid)).or_raise(py)?;
        Ok(lease.into())
    }

    /// Reads a flat {"name": port, ...} JSON file into fixed, permanent TCP leases, in one
    /// write (named with a trailing underscore, as `import` is a Python keyword).
    ///
    /// Names already present with the same port are skipped. Any problem refuses the whole
    /// file, with every problem listed, and writes nothing. Ports are not probed.
    ///
    /// Args:
    ///     file: The JSON file (str or os.PathLike).
    ///
    /// Returns:
    ///     An ImportReport: the leases made and the names skipped.
    ///
    /// Raises:
    ///     NotFoundError: no such file.
    ///     InvalidArgumentError: not a {"name": port} map, or a bad name or port in it.
    ///     ConflictError: a port leased to another name, or a name holding another port.
    ///     RegistryError: the registry file cannot be used.
    ///     PortpoolIOError: the file cannot be read.
    #[pyo3(name = "import_", signature = (file))]
    fn import(&self, py: Python<'_>, file: PathBuf) -> PyResult<ImportReport> {
        let inner = &*self.inner;
        let report = py.detach(|| inner.import(&file)).or_raise(py)?;
        Ok(ImportReport {
            imported: report.imported.into_iter().map(Lease::from).collect(),
            skipped: report.skipped,
        })
    }

    /// Everything known about `port`: the leases holding it (TCP and UDP, current or next)
    /// and the server sockets bound to it with their processes, read from /proc.
    ///
    /// Args:
    ///     port: The port, 1-65535.
    ///
    /// Returns:
    ///     A Who.
    ///
    /// Raises:
    ///     InvalidArgumentError: a bad port.
    ///     RegistryError: the registry file cannot be used.
    ///     PortpoolIOError: the operating system failed a read or write.
    fn who(&self, py: Python<'_>, port: &Bound<'_, PyAny>) -> PyResult<Who> {
        let port = port_arg(py, port)?;
        let inner = &*self.inner;
        let who = py.detach(|| inner.who(port)).or_raise(py)?;
        Ok(Who {
            port: who.port,
            leases: who.leases.into_iter().map(Lease::from).collect(),
            sockets: who
                .sockets
                .map(|all| all.into_iter().map(Socket::from).collect()),
            unavailable: who.unavailable,
        })
    }

    /// Registers every port a server socket is bound to now as a fixed, permanent lease
    /// named after its program ("nginx", "nginx-2", ...; "port-N" when unseen).
    ///
    /// Ports already leased are left alone, so a second run changes nothing.
    ///
    /// Args:
    ///     dry_run: Return the plan and write nothing.
    ///
    /// Returns:
    ///     The leases made (or, with dry_run, that would be made).
    ///
    /// Raises:
    ///     PortpoolIOError: /proc cannot be read.
    ///     RegistryError: the registry file cannot be used.
    #[pyo3(signature = (dry_run=false))]
    fn migrate(&self, py: Python<'_>, dry_run: bool) -> PyResult<Vec<Lease>> {
        let inner = &*self.inner;
        let made = py.detach(|| inner.migrate(dry_run)).or_raise(py)?;
        Ok(made.into_iter().map(Lease::from).collect())
    }

    /// Checks the registry against the host: leases nothing listens on, listeners on leased
    /// ports that are not the owner (or its descendants), stale owners, expired leases, and
    /// pools overlapping the kernel's ephemeral ports. Reads only.
    ///
    /// Returns:
    ///     A DoctorReport; its findings are empty when all is well.
    ///
    /// Raises:
    ///     RegistryError: the registry file cannot be used.
    ///     PortpoolIOError: the operating system failed a read or write.
    fn doctor(&self, py: Python<'_>) -> PyResult<DoctorReport> {
        let inner = &*self.inner;
        let report = py.detach(|| inner.doctor()).or_raise(py)?;
        Ok(DoctorReport {
            findings: report
                .findings
                .into_iter()
                .map(|f| Finding {
                    kind: f.kind.as_str().to_owned(),
                    severity: f.severity.as_str().to_owned(),
                    subject: f.subject,
                    port: f.port,
                    protocol: f.protocol.map(|p| p.as_str().to_owned()),
                    message: f.message,
                })
                .collect(),
            unavailable: report.unavailable,
        })
    }

    /// A context manager that allocates a port from `pool` on entry and releases it on exit,
    /// also when the block raises. A name that already held a lease gets its port back and
    /// keeps its lease after the block.
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
    #[pyo3(signature = (name, pool=None, *, protocol="tcp", pid=None, ttl=None))]
    fn lease(
        &self,
        py: Python<'_>,
        name: &str,
        pool: Option<&str>,
        protocol: &str,
        pid: Option<&Bound<'_, PyAny>>,
        ttl: Option<&Bound<'_, PyAny>>,
    ) -> PyResult<LeaseGuard> {
        Ok(LeaseGuard {
            registry: Arc::clone(&self.inner),
            name: name.to_owned(),
            pool: pool.map(str::to_owned),
            options: options(py, protocol, false, pid, ttl)?,
            state: Mutex::new(None),
        })
    }
}

/// A port leased from a pool for the length of a `with` block; made by Registry.lease().
#[pyclass(frozen, module = "portpool", name = "LeaseGuard")]
struct LeaseGuard {
    registry: Arc<pp::Registry>,
    name: String,
    /// None: the default pool.
    pool: Option<String>,
    options: pp::LeaseOptions,
    /// The port while inside the block, and whether entering made the lease.
    state: Mutex<Option<pp::Grant>>,
}

impl LeaseGuard {
    fn state(&self) -> std::sync::MutexGuard<'_, Option<pp::Grant>> {
        self.state.lock().unwrap_or_else(|e| e.into_inner())
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
        self.state().map(|grant| grant.port)
    }

    /// Allocates the port (as Registry.allocate) and returns it. A guard is entered once at
    /// a time: entering it again inside its block is a RuntimeError.
    fn __enter__(&self, py: Python<'_>) -> PyResult<u16> {
        if self.state().is_some() {
            return Err(PyRuntimeError::new_err(format!(
                "the lease guard of {} is already entered",
                repr_str(py, &self.name)?
            )));
        }
        let mut options = self.options.clone();
        options.pid = options.pid.or(Some(std::process::id()));
        let grant = py
            .detach(|| {
                self.registry
                    .allocate_grant(&self.name, self.pool.as_deref(), &options)
            })
            .or_raise(py)?;
        *self.state() = Some(grant);
        Ok(grant.port)
    }

    /// Releases the lease when entering made it (a lease the name already held is left as
    /// it was); never suppresses the block's exception.
    #[pyo3(signature = (exc_type, exc_value, traceback))]
    fn __exit__(
        &self,
        py: Python<'_>,
        exc_type: Option<&Bound<'_, PyAny>>,
        exc_value: Option<&Bound<'_, PyAny>>,
        traceback: Option<&Bound<'_, PyAny>>,
    ) -> PyResult<bool> {
        let _ = (exc_type, exc_value, traceback);
        let grant = self.state().take();
        if grant.is_some_and(|g| g.created) {
            py.detach(|| self.registry.release(&self.name))
                .or_raise(py)?;
        }
        Ok(false)
    }

    fn __repr__(&self, py: Python<'_>) -> PyResult<String> {
        Ok(format!(
            "LeaseGuard(name={}, pool={}, port={})",
            repr_str(py, &self.name)?,
            match &self.pool {
                Some(pool) => repr_str(py, pool)?,
                None => "None".to_owned(),
            },
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
    m.add("DEFAULT_POOL", pp::DEFAULT_POOL)?;
    m.add("DEFAULT_POOL_START", pp::DEFAULT_POOL_START)?;
    m.add("DEFAULT_POOL_END", pp::DEFAULT_POOL_END)?;
    m.add("MAX_NAME_BYTES", pp::MAX_NAME_BYTES)?;
    m.add("FORMAT_VERSION", pp::FORMAT_VERSION)?;
    m.add_class::<Registry>()?;
    m.add_class::<Lease>()?;
    m.add_class::<Pool>()?;
    m.add_class::<PortState>()?;
    m.add_class::<Reclaimed>()?;
    m.add_class::<LeaseGuard>()?;
    m.add_class::<Next>()?;
    m.add_class::<ImportReport>()?;
    m.add_class::<Who>()?;
    m.add_class::<Socket>()?;
    m.add_class::<Process>()?;
    m.add_class::<Finding>()?;
    m.add_class::<DoctorReport>()?;
    m.add_function(wrap_pyfunction!(is_free, m)?)?;
    m.add_function(wrap_pyfunction!(find_free, m)?)?;
    for class in Exceptions::get(py)?.all() {
        let class = class.bind(py);
        m.add(class.name()?.to_string(), class)?;
    }
    Ok(())
}
