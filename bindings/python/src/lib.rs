//! `portpool._native`, the native module behind the `portpool` Python package.
//!
//! Every method converts its Python arguments, calls one `portpool_core` function with the
//! GIL released, and maps the one core error enum, [`portpool_core::ErrorKind`], to one
//! exception class. The rules (ports, names, allocation, locking) live in core only.

use std::cell::Cell;
use std::net::IpAddr;
use std::os::fd::{AsRawFd, IntoRawFd, OwnedFd};
use std::path::PathBuf;
use std::str::FromStr;
use std::sync::atomic::{AtomicBool, Ordering};
use std::sync::{Arc, Mutex, MutexGuard};
use std::time::{Duration, Instant};

use portpool_core as pp;
use pyo3::IntoPyObjectExt;
use pyo3::exceptions::{
    PyBaseException, PyException, PyKeyError, PyOSError, PyRuntimeError, PyTimeoutError,
    PyTypeError, PyValueError,
};
use pyo3::prelude::*;
use pyo3::sync::PyOnceLock;
use pyo3::types::{PyBool, PyBytes, PyDict, PyInt, PyString, PyTuple, PyType};
use serde::Serialize;

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

/// Ports given as an iterable of ints (not a str or bytes), each checked as a port.
fn port_list(py: Python<'_>, value: &Bound<'_, PyAny>, what: &str) -> PyResult<Vec<u16>> {
    if value.is_instance_of::<PyString>() || value.is_instance_of::<PyBytes>() {
        let type_name = value.get_type().name()?;
        return Err(PyTypeError::new_err(format!(
            "{what} must be an iterable of int, not '{type_name}'"
        )));
    }
    value.try_iter()?.map(|p| port_arg(py, &p?)).collect()
}

/// The preferred ports: one int, or a sequence of them in order.
fn ports_arg(py: Python<'_>, value: &Bound<'_, PyAny>) -> PyResult<Vec<u16>> {
    if value.is_instance_of::<PyInt>() || value.hasattr("__index__")? {
        return Ok(vec![port_arg(py, value)?]);
    }
    port_list(py, value, "port")
}

/// A `(start, end)` pair of ports, inclusive.
fn range_arg(py: Python<'_>, value: Option<&Bound<'_, PyAny>>) -> PyResult<Option<(u16, u16)>> {
    let Some(value) = value else { return Ok(None) };
    match port_list(py, value, "range")?[..] {
        [start, end] => Ok(Some((start, end))),
        _ => Err(PyTypeError::new_err(
            "range must be a (start, end) pair of ports",
        )),
    }
}

/// One IP address, as text ("127.0.0.1", "::1") or an `ipaddress` object; core parses it.
fn host_arg(py: Python<'_>, value: Option<&Bound<'_, PyAny>>) -> PyResult<Option<IpAddr>> {
    let Some(value) = value else { return Ok(None) };
    let text = value.str()?.to_string();
    pp::parse_host(&text).map(Some).or_raise(py)
}

fn exclude_arg(py: Python<'_>, value: Option<&Bound<'_, PyAny>>) -> PyResult<Vec<u16>> {
    value.map_or(Ok(Vec::new()), |v| port_list(py, v, "exclude"))
}

/// `options` with the port choices: `range`, `exclude`, `host`.
fn choosing(
    py: Python<'_>,
    options: pp::LeaseOptions,
    range: Option<&Bound<'_, PyAny>>,
    exclude: Option<&Bound<'_, PyAny>>,
    host: Option<&Bound<'_, PyAny>>,
) -> PyResult<pp::LeaseOptions> {
    Ok(pp::LeaseOptions {
        range: range_arg(py, range)?,
        exclude: exclude_arg(py, exclude)?,
        host: host_arg(py, host)?,
        ..options
    })
}

fn repr_str(py: Python<'_>, text: &str) -> PyResult<String> {
    Ok(PyString::new(py, text).repr()?.to_string())
}

/// A per-call `timeout=` in seconds, checked as the handle's lock timeout is.
fn timeout_arg(py: Python<'_>, seconds: Option<f64>) -> PyResult<Option<Duration>> {
    seconds
        .map(|s| pp::parse_lock_timeout(&s.to_string()))
        .transpose()
        .or_raise(py)
}

fn lock<T>(mutex: &Mutex<T>) -> MutexGuard<'_, T> {
    mutex.lock().unwrap_or_else(|e| e.into_inner())
}

// ---------------------------------------------------------------------------------------------
// Results: core's values become the dataclasses of `portpool._values`, from their serde form.

/// A call's result, turned into its Python value with the GIL held.
trait ToPython: Send {
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

/// A core value, shown as the `portpool` dataclass named `kind` ("Lease", "list[Lease]").
struct Value<T>(&'static str, T);

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
struct Warned<T>(Value<T>, Vec<String>);

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

/// How a scoped lease chooses its port: from `pool`, or `port` in `mode`.
fn choice_arg(
    py: Python<'_>,
    pool: Option<&str>,
    port: Option<&Bound<'_, PyAny>>,
    mode: &str,
) -> PyResult<pp::Choice> {
    let mode = pp::Mode::from_str(mode).or_raise(py)?;
    let ports = port.map(|port| ports_arg(py, port)).transpose()?;
    pp::Choice::new(pool.map(str::to_owned), ports, Some(mode)).or_raise(py)
}

// ---------------------------------------------------------------------------------------------
// Calls: every registry call runs through `wait_on`, its asyncio twin through `Job`.

/// Gives back the lease a call made, for an asyncio twin cancelled after its change landed.
type Undo = Box<dyn FnOnce(&pp::Registry) + Send>;

/// A call's result, and how to give back the lease it made, if it made one.
struct Done {
    value: Box<dyn ToPython>,
    undo: Option<Undo>,
}

/// One registry call with its Python arguments converted: runs on any thread, GIL released.
type Work = Box<dyn FnOnce(&pp::Registry) -> pp::Result<Done> + Send>;

/// A call that leases nothing a cancelled caller would give back.
fn work<T: ToPython + 'static>(
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
fn leasing(
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

/// Releases `name` again, when the call made its lease and the name still holds that port
/// (core's `release_holding`: a name somebody else leased again meanwhile is left alone).
fn release_if(grant: pp::Grant, name: String, protocol: pp::Protocol) -> Option<Undo> {
    grant.created.then(|| -> Undo {
        Box::new(move |reg| {
            // Best effort, on a thread nobody waits for an answer on.
            let _ = reg.release_holding(&name, grant.port, protocol);
        })
    })
}

/// A socket bound to a leased port: becomes a `socket.socket` that owns the descriptor
/// (closed, if never handed over, when dropped).
struct Listening(OwnedFd);

impl ToPython for Listening {
    fn to_python(self: Box<Self>, py: Python<'_>) -> PyResult<Py<PyAny>> {
        static SOCKET: PyOnceLock<Py<PyAny>> = PyOnceLock::new();
        let kwargs = PyDict::new(py);
        kwargs.set_item("fileno", self.0.as_raw_fd())?;
        let sock = SOCKET
            .import(py, "socket", "socket")?
            .call((), Some(&kwargs))?;
        // The Python socket owns the descriptor now.
        let _ = self.0.into_raw_fd();
        Ok(sock.unbind())
    }
}

/// A TCP backlog: a non-negative int (core caps it).
fn backlog_arg(py: Python<'_>, n: i64) -> PyResult<u32> {
    u32::try_from(n).map_err(|_| {
        error(
            py,
            pp::Error::new(
                pp::ErrorKind::InvalidArgument,
                format!("invalid backlog {n}: expected 0 or more"),
            ),
        )
    })
}

/// How often a call waiting for the lock runs Python's signal handlers.
const SIGNAL_POLL: Duration = Duration::from_millis(2);

/// Runs `work` with the GIL released. Its lock waits end early after `timeout` (BusyError),
/// once `cancel` is set, or when a Python signal handler raises (Ctrl-C's KeyboardInterrupt),
/// whose exception is then raised as it is; a handler that returns lets the wait go on.
fn wait_on(
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

/// What a finished asyncio twin leaves for its caller.
#[derive(Default)]
struct JobEnd {
    /// The caller was cancelled: a lease landing now is given back at once.
    cancelled: bool,
    /// The lease the finished call made, until the caller takes the result or gives it back.
    undo: Option<Undo>,
}

/// One call of an asyncio twin, run on the event loop's executor by `portpool._aio.run`,
/// which also drives the cancellation protocol: `cancel`, wait for `run` to end, `abandon`.
#[pyclass(frozen, module = "portpool._native", name = "_Job")]
struct Job {
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
    fn start<'py>(
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

// ---------------------------------------------------------------------------------------------
// Registry

/// A handle on one registry file: the host's record of which name holds which port.
///
/// Opening touches nothing on disk; the file is created on the first change. Each call that
/// changes the registry locks the file for that call only, with the GIL released, so any
/// number of handles, threads, processes and languages may use one registry at once; calls
/// that only read take no lock. One Registry may be shared between threads.
///
/// Every call that touches the file takes `timeout=` (seconds it may wait for the lock, on
/// top of `lock_timeout`: the shorter wins) and has an awaitable twin named `<call>_async`.
/// While a call waits, Python's signal handlers run: Ctrl-C raises KeyboardInterrupt at once.
/// A Registry pickles as its path, lock timeout and force, and is opened again when unpickled.
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
///     force: Let calls change what another user made: release, register, allocate (of a
///         name another user's lease holds), the handover calls and set_owner act on leases
///         another user made, set_pool changes pools another user created, and reset
///         empties a registry where another user holds a live lease. False (the default):
///         each of those raises ConflictError naming that user, unless the caller is root.
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

impl Registry {
    fn call(
        &self,
        py: Python<'_>,
        timeout: Option<f64>,
        work: PyResult<Work>,
    ) -> PyResult<Py<PyAny>> {
        let timeout = timeout_arg(py, timeout)?;
        let done = wait_on(py, &self.inner, timeout, None, work?)?;
        done.value.to_python(py)
    }

    fn call_async<'py>(
        &self,
        py: Python<'py>,
        timeout: Option<f64>,
        work: PyResult<Work>,
    ) -> PyResult<Bound<'py, PyAny>> {
        Job::start(py, &self.inner, timeout, work, true)
    }
}

/// The Registry's methods. Each operation is one entry that converts its arguments and says
/// which core call it makes; the entry becomes the method and its awaitable `_async` twin,
/// both with `timeout=`, both through `wait_on`.
macro_rules! registry_methods {
    (
        plain { $($plain:tt)* }
        $(
            $(#[doc = $doc:literal])*
            #[pyo3(signature = ($($sig:tt)*))]
            fn $name:ident / $name_async:ident ($py:ident $(, $arg:ident: $ty:ty)* $(,)?) $body:block
        )*
    ) => {
        #[pymethods]
        impl Registry {
            $($plain)*
            $(
                $(#[doc = $doc])*
                #[pyo3(signature = ($($sig)*))]
                #[allow(clippy::too_many_arguments)]
                fn $name(
                    &self,
                    $py: Python<'_>,
                    $($arg: $ty,)*
                    timeout: Option<f64>,
                ) -> PyResult<Py<PyAny>> {
                    // The body's `?` ends the closure, not the method, so that the async twin
                    // raises argument errors when awaited (and both share the one body).
                    #[allow(clippy::redundant_closure_call)]
                    let work = (|| -> PyResult<Work> { $body })();
                    self.call($py, timeout, work)
                }

                #[doc = concat!(
                    "The awaitable twin of ", stringify!($name), "(): the same arguments, result ",
                    "and errors, run on the event loop's default executor so that the loop ",
                    "never blocks.\n\nCancelled (asyncio.wait_for, asyncio.timeout, anyio's ",
                    "cancel scopes), the call gives up its lock wait having changed nothing. ",
                    "If its change landed anyway, what it made is given back before the ",
                    "CancelledError reaches the caller: the leases register_async, ",
                    "allocate_async, allocate_many_async or listen_async made (a socket ",
                    "closed), the handover begin_handover_async began (aborted); any other ",
                    "change stays."
                )]
                #[pyo3(signature = ($($sig)*))]
                #[allow(clippy::too_many_arguments)]
                fn $name_async<'py>(
                    &self,
                    $py: Python<'py>,
                    $($arg: $ty,)*
                    timeout: Option<f64>,
                ) -> PyResult<Bound<'py, PyAny>> {
                    #[allow(clippy::redundant_closure_call)]
                    let work = (|| -> PyResult<Work> { $body })();
                    self.call_async($py, timeout, work)
                }
            )*
        }
    };
}

registry_methods! {
    plain {
        #[new]
        #[pyo3(signature = (path=None, *, lock_timeout=None, force=false))]
        fn new(
            py: Python<'_>,
            path: Option<PathBuf>,
            lock_timeout: Option<f64>,
            force: bool,
        ) -> PyResult<Self> {
            let mut inner = pp::Registry::open(path.as_deref()).or_raise(py)?.with_force(force);
            if let Some(timeout) = timeout_arg(py, lock_timeout)? {
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

        /// Seconds a change waits for another process's lock before raising BusyError.
        #[getter]
        fn lock_timeout(&self) -> f64 {
            self.inner.lock_timeout().as_secs_f64()
        }

        /// Whether calls may change what another user made (see `force=`).
        #[getter]
        fn force(&self) -> bool {
            self.inner.force()
        }

        fn __repr__(&self, py: Python<'_>) -> PyResult<String> {
            Ok(format!(
                "Registry({})",
                repr_str(py, &self.inner.path().to_string_lossy())?
            ))
        }

        /// Pickles as the path and lock timeout: unpickling opens the registry again.
        fn __getnewargs_ex__<'py>(
            &self,
            py: Python<'py>,
        ) -> PyResult<((PathBuf,), Bound<'py, PyDict>)> {
            let kwargs = PyDict::new(py);
            kwargs.set_item("lock_timeout", self.lock_timeout())?;
            kwargs.set_item("force", self.force())?;
            Ok(((self.path(),), kwargs))
        }

        /// A context manager that leases a new port to `name` on entry and releases it on
        /// exit, also when the block raises: `with reg.lease("worker-1") as port: ...`, or
        /// `async with` (see lease_async()).
        ///
        /// One behaviour in every front end (the CLI's `portpool run` too): entering always
        /// makes a new lease, and a name that already holds a live lease is a ConflictError.
        /// The lease is owned by the process that enters the block (unless `pid` says
        /// otherwise), so it is reclaimed even when that process is killed inside the block.
        /// Only that process releases it: a forked child that leaves the block leaves its
        /// parent's lease alone. A guard is entered by one thread at a time.
        ///
        /// Args:
        ///     name: The holder's unique name.
        ///     pool: The pool to allocate from; None: the default pool (unless `port`).
        ///     port: Register this port (or the first free of a sequence of ports) instead of
        ///         allocating from a pool, as register() chooses.
        ///     mode: With `port`: "flexible" (default) or "fixed", as for register().
        ///     range: With `port`: the range to fall back to, as for register().
        ///     exclude: Ports never leased (iterable of int), as for register() and allocate().
        ///     host: Probe candidate ports on this address only, as for register().
        ///     protocol: "tcp" (default) or "udp".
        ///     pid: The owning process; None: the process entering the block.
        ///     ttl: Seconds the lease lives unless renewed.
        ///     timeout: Seconds entering and leaving may wait for the registry's lock, on top
        ///         of the handle's lock_timeout (the shorter wins).
        ///
        /// Returns:
        ///     A LeaseGuard; entering it returns the port.
        ///
        /// Raises:
        ///     InvalidArgumentError: a bad port, mode, protocol, pid or ttl, or both `pool`
        ///         and `port` (on entry: a bad name or pool).
        ///     ConflictError: on entry, `name` already holds a lease, or "fixed" and the port
        ///         is taken.
        ///     RuntimeError: on entry, the guard is already entered (by this or another
        ///         thread).
        ///     TypeError: an argument of the wrong type.
        #[pyo3(signature = (name, pool=None, *, port=None, mode="flexible", range=None, exclude=None, host=None, protocol="tcp", pid=None, ttl=None, timeout=None))]
        #[allow(clippy::too_many_arguments)]
        fn lease(
            &self,
            py: Python<'_>,
            name: &str,
            pool: Option<&str>,
            port: Option<&Bound<'_, PyAny>>,
            mode: &str,
            range: Option<&Bound<'_, PyAny>>,
            exclude: Option<&Bound<'_, PyAny>>,
            host: Option<&Bound<'_, PyAny>>,
            protocol: &str,
            pid: Option<&Bound<'_, PyAny>>,
            ttl: Option<&Bound<'_, PyAny>>,
            timeout: Option<f64>,
        ) -> PyResult<LeaseGuard> {
            let choice = choice_arg(py, pool, port, mode)?;
            Ok(LeaseGuard {
                registry: Arc::clone(&self.inner),
                name: name.to_owned(),
                choice,
                options: choosing(py, options(py, protocol, false, pid, ttl)?, range, exclude, host)?,
                timeout: timeout_arg(py, timeout)?,
                state: Arc::new(Mutex::new(GuardState::Idle)),
            })
        }

        /// The same guard as lease(), for `async with reg.lease_async("worker-1") as port:`.
        ///
        /// Entering and leaving run on the event loop's default executor, so the loop never
        /// blocks. A block cancelled while entering makes no lease, or releases the one that
        /// landed; leaving always releases, also when cancelled.
        ///
        /// Args:
        ///     name: As for lease().
        ///     pool: As for lease().
        ///     port: As for lease().
        ///     mode: As for lease().
        ///     range: As for lease().
        ///     exclude: As for lease().
        ///     host: As for lease().
        ///     protocol: As for lease().
        ///     pid: As for lease().
        ///     ttl: As for lease().
        ///     timeout: As for lease().
        ///
        /// Returns:
        ///     A LeaseGuard; `async with` it gives the port.
        ///
        /// Raises:
        ///     The errors of lease().
        #[pyo3(signature = (name, pool=None, *, port=None, mode="flexible", range=None, exclude=None, host=None, protocol="tcp", pid=None, ttl=None, timeout=None))]
        #[allow(clippy::too_many_arguments)]
        fn lease_async(
            &self,
            py: Python<'_>,
            name: &str,
            pool: Option<&str>,
            port: Option<&Bound<'_, PyAny>>,
            mode: &str,
            range: Option<&Bound<'_, PyAny>>,
            exclude: Option<&Bound<'_, PyAny>>,
            host: Option<&Bound<'_, PyAny>>,
            protocol: &str,
            pid: Option<&Bound<'_, PyAny>>,
            ttl: Option<&Bound<'_, PyAny>>,
            timeout: Option<f64>,
        ) -> PyResult<LeaseGuard> {
            self.lease(
                py, name, pool, port, mode, range, exclude, host, protocol, pid, ttl, timeout,
            )
        }
    }

    /// Leases a port to `name` and returns it.
    ///
    /// A name that already holds a lease gets its port back. Candidates, in order: the
    /// preferred ports, then `range`; without a range, "flexible" goes on upward from the
    /// first preferred port, and "fixed" takes only the preferred ports or raises
    /// ConflictError. A candidate is taken when it is neither leased nor bound (nor
    /// excluded). Stale leases (owner gone, ttl over) in the way are reclaimed.
    ///
    /// Args:
    ///     name: The holder's unique name (1-128 bytes, no whitespace or control characters).
    ///     port: The port wanted, 1-65535, or a sequence of preferred ports in order
    ///         (`[3000, 3001]`).
    ///     mode: "flexible" (default) or "fixed".
    ///     range: A (start, end) pair of ports (inclusive) to try after the preferred ones.
    ///     exclude: Ports never leased, even when preferred (an iterable of int).
    ///     host: Probe candidates on this one address (e.g. "127.0.0.1") instead of the IPv4
    ///         and IPv6 wildcards: a port some process has bound on another address may
    ///         then be leased, and is only good for `host`.
    ///     bindable: Probe as this process will bind: a port it may not bind (a privileged
    ///         port, for an unprivileged process) is unavailable. For a lease this process
    ///         serves on itself; False (default): such a port is judged by the kernel's
    ///         socket tables, as a lease may be for a privileged service.
    ///     protocol: "tcp" (default) or "udp".
    ///     force: "fixed" only: take the port even when a process outside the registry has
    ///         it bound. A port leased to another name is never taken. Any mode: also return
    ///         the port of a name whose live lease another user made.
    ///     pid: The owning process; once it exits, the lease is stale and reclaimed.
    ///     ttl: Seconds the lease lives unless renewed.
    ///     timeout: Seconds this call may wait for the registry's lock, on top of the
    ///         handle's lock_timeout (the shorter wins).
    ///
    /// Returns:
    ///     The port leased to `name`.
    ///
    /// Raises:
    ///     ConflictError: "fixed" and every candidate is taken, or `name` holds another port
    ///         or protocol.
    ///     ExhaustedError: "flexible" and no free candidate (to 65535 without a range).
    ///     InvalidArgumentError: a bad name, port, mode, range, exclude, host (not an
    ///         address of this machine), protocol, pid, ttl or timeout.
    ///     BusyError: the registry's lock stayed held for the whole timeout.
    ///     RegistryError: the registry file cannot be used.
    ///     PortpoolIOError: the operating system failed a read or write.
    ///     TypeError: an argument of the wrong type.
    #[pyo3(signature = (name, port, mode="flexible", *, range=None, exclude=None, host=None, bindable=false, protocol="tcp", force=false, pid=None, ttl=None, timeout=None))]
    fn register / register_async(
        py,
        name: &str,
        port: &Bound<'_, PyAny>,
        mode: &str,
        range: Option<&Bound<'_, PyAny>>,
        exclude: Option<&Bound<'_, PyAny>>,
        host: Option<&Bound<'_, PyAny>>,
        bindable: bool,
        protocol: &str,
        force: bool,
        pid: Option<&Bound<'_, PyAny>>,
        ttl: Option<&Bound<'_, PyAny>>,
    ) {
        let ports = ports_arg(py, port)?;
        let mode = pp::Mode::from_str(mode).or_raise(py)?;
        let opts = options(py, protocol, force, pid, ttl)?;
        let opts = pp::LeaseOptions {
            bindable,
            ..choosing(py, opts, range, exclude, host)?
        };
        let protocol = opts.protocol;
        leasing(name, protocol, move |reg, name| {
            reg.register_grant(name, ports, mode, &opts)
        })
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
    ///     exclude: Ports of the pool never leased (an iterable of int).
    ///     bindable: Probe as this process will bind: a port it may not bind (a privileged
    ///         port, for an unprivileged process) is unavailable. For a lease this process
    ///         serves on itself; False (default): such a port is judged by the kernel's
    ///         socket tables, as a lease may be for a privileged service.
    ///     protocol: "tcp" (default) or "udp".
    ///     pid: The owning process; once it exits, the lease is stale and reclaimed.
    ///     ttl: Seconds the lease lives unless renewed.
    ///     timeout: Seconds this call may wait for the registry's lock, on top of the
    ///         handle's lock_timeout (the shorter wins).
    ///
    /// Returns:
    ///     The port leased to `name`.
    ///
    /// Raises:
    ///     NotFoundError: no pool named `pool`.
    ///     ExhaustedError: every port of the pool is taken.
    ///     ConflictError: `name` holds a port of the other protocol.
    ///     InvalidArgumentError: a bad name, pool, exclude, protocol, pid, ttl or timeout.
    ///     BusyError: the registry's lock stayed held for the whole timeout.
    ///     RegistryError: the registry file cannot be used.
    ///     PortpoolIOError: the operating system failed a read or write.
    ///     TypeError: an argument of the wrong type.
    #[pyo3(signature = (name, pool=None, *, exclude=None, bindable=false, protocol="tcp", pid=None, ttl=None, timeout=None))]
    fn allocate / allocate_async(
        py,
        name: &str,
        pool: Option<&str>,
        exclude: Option<&Bound<'_, PyAny>>,
        bindable: bool,
        protocol: &str,
        pid: Option<&Bound<'_, PyAny>>,
        ttl: Option<&Bound<'_, PyAny>>,
    ) {
        let opts = options(py, protocol, false, pid, ttl)?;
        let opts = pp::LeaseOptions {
            bindable,
            ..choosing(py, opts, None, exclude, None)?
        };
        let pool = pool.map(str::to_owned);
        let protocol = opts.protocol;
        leasing(name, protocol, move |reg, name| {
            reg.allocate_grant(name, pool.as_deref(), &opts)
        })
    }

    /// The port leased to `name`, or `default` when it holds none.
    ///
    /// A stale lease (time to live over, owner gone) holds nothing, and gives `default`.
    ///
    /// Args:
    ///     name: The holder's name.
    ///     default: What to return when `name` holds no lease: None, or a port (1-65535),
    ///         checked as the command line checks `portpool get NAME DEFAULT`.
    ///     timeout: Seconds this call may wait behind another thread's call, on top of the
    ///         handle's lock_timeout (the shorter wins).
    ///
    /// Returns:
    ///     The port, or `default`.
    ///
    /// Raises:
    ///     InvalidArgumentError: a bad name, default or timeout.
    ///     BusyError: another thread's call held the registry for the whole timeout.
    ///     RegistryError: the registry file cannot be used.
    ///     PortpoolIOError: the operating system failed a read or write.
    #[pyo3(signature = (name, default=None, *, timeout=None))]
    fn get / get_async(py, name: &str, default: Option<&Bound<'_, PyAny>>) {
        let default = default.map(|d| port_arg(py, d)).transpose()?;
        let name = name.to_owned();
        work(move |reg| Ok(reg.get(&name)?.map(|l| l.port).or(default)))
    }

    /// Releases `name`'s lease.
    ///
    /// Args:
    ///     name: The holder's name.
    ///     timeout: Seconds this call may wait for the registry's lock, on top of the
    ///         handle's lock_timeout (the shorter wins).
    ///
    /// Returns:
    ///     True when there was a lease; an unknown name is not an error.
    ///
    /// Raises:
    ///     InvalidArgumentError: a bad name or timeout.
    ///     BusyError: the registry's lock stayed held for the whole timeout.
    ///     RegistryError: the registry file cannot be used.
    ///     PortpoolIOError: the operating system failed a read or write.
    #[pyo3(signature = (name, *, timeout=None))]
    fn release / release_async(py, name: &str) {
        let name = name.to_owned();
        work(move |reg| reg.release(&name))
    }

    /// Every lease, sorted by name.
    ///
    /// Args:
    ///     timeout: Seconds this call may wait behind another thread's call, on top of the
    ///         handle's lock_timeout (the shorter wins).
    ///
    /// Returns:
    ///     A list of Lease.
    ///
    /// Raises:
    ///     BusyError: another thread's call held the registry for the whole timeout.
    ///     RegistryError: the registry file cannot be used.
    ///     PortpoolIOError: the operating system failed a read or write.
    #[pyo3(signature = (*, timeout=None))]
    fn list / list_async(py) {
        work(|reg| Ok(Value("list[Lease]", reg.list()?)))
    }

    /// Every pool, sorted by name; "default" is always there.
    ///
    /// Args:
    ///     timeout: Seconds this call may wait behind another thread's call, on top of the
    ///         handle's lock_timeout (the shorter wins).
    ///
    /// Returns:
    ///     A list of Pool.
    ///
    /// Raises:
    ///     BusyError: another thread's call held the registry for the whole timeout.
    ///     RegistryError: the registry file cannot be used.
    ///     PortpoolIOError: the operating system failed a read or write.
    #[pyo3(signature = (*, timeout=None))]
    fn pools / pools_async(py) {
        work(|reg| Ok(Value("list[Pool]", reg.pools()?)))
    }

    /// Creates pool `name` over start..end (inclusive), or changes its range.
    ///
    /// Leases already made are kept; a cursor outside the new range restarts at `start`.
    /// What deserves a look (a range overlapping the kernel's ephemeral ports, where
    /// outgoing connections take ports at any moment) is a warnings.warn() with
    /// PortpoolWarning; the pool is set all the same.
    ///
    /// Args:
    ///     name: The pool's name.
    ///     start: First port, 1-65535.
    ///     end: Last port, 1-65535, not below `start`.
    ///     probe: Whether allocate() bind-probes candidates (off suits a range reserved for
    ///         portpool). None: on for a new pool, unchanged for an existing one.
    ///     timeout: Seconds this call may wait for the registry's lock, on top of the
    ///         handle's lock_timeout (the shorter wins).
    ///
    /// Returns:
    ///     The pool as it now is.
    ///
    /// Raises:
    ///     InvalidArgumentError: a bad name, range or timeout.
    ///     BusyError: the registry's lock stayed held for the whole timeout.
    ///     RegistryError: the registry file cannot be used.
    ///     PortpoolIOError: the operating system failed a read or write.
    ///     TypeError: an argument of the wrong type.
    #[pyo3(signature = (name, start, end, *, probe=None, timeout=None))]
    fn set_pool / set_pool_async(
        py,
        name: &str,
        start: &Bound<'_, PyAny>,
        end: &Bound<'_, PyAny>,
        probe: Option<bool>,
    ) {
        let start = port_arg(py, start)?;
        let end = port_arg(py, end)?;
        let name = name.to_owned();
        work(move |reg| {
            let change = reg.set_pool(&name, start, end, probe)?;
            Ok(Warned(Value("Pool", change.pool), change.warnings))
        })
    }

    /// Whether `port` is free, leased (to whom) or bound outside the registry.
    ///
    /// Stale leases count as free, as register() and allocate() would reclaim them.
    ///
    /// Args:
    ///     port: The port, 1-65535.
    ///     protocol: "tcp" (default) or "udp".
    ///     timeout: Seconds this call may wait behind another thread's call, on top of the
    ///         handle's lock_timeout (the shorter wins).
    ///
    /// Returns:
    ///     A PortState.
    ///
    /// Raises:
    ///     InvalidArgumentError: a bad port, protocol or timeout.
    ///     BusyError: another thread's call held the registry for the whole timeout.
    ///     RegistryError: the registry file cannot be used.
    ///     PortpoolIOError: the operating system failed a read or write.
    #[pyo3(signature = (port, protocol="tcp", *, timeout=None))]
    fn check / check_async(py, port: &Bound<'_, PyAny>, protocol: &str) {
        let port = port_arg(py, port)?;
        let protocol = protocol_arg(py, protocol)?;
        work(move |reg| Ok(Value("PortState", reg.check(port, protocol)?)))
    }

    /// Releases every stale lease (owner gone or time to live over).
    ///
    /// Args:
    ///     timeout: Seconds this call may wait for the registry's lock, on top of the
    ///         handle's lock_timeout (the shorter wins).
    ///
    /// Returns:
    ///     A list of Reclaimed: each released lease and why it was stale.
    ///
    /// Raises:
    ///     BusyError: the registry's lock stayed held for the whole timeout.
    ///     RegistryError: the registry file cannot be used.
    ///     PortpoolIOError: the operating system failed a read or write.
    #[pyo3(signature = (*, timeout=None))]
    fn gc / gc_async(py) {
        work(|reg| Ok(Value("list[Reclaimed]", reg.gc()?)))
    }

    /// Restarts `name`'s time to live from now.
    ///
    /// Args:
    ///     name: The holder's name.
    ///     ttl: New time to live in seconds; None keeps the one the lease was given.
    ///     timeout: Seconds this call may wait for the registry's lock, on top of the
    ///         handle's lock_timeout (the shorter wins).
    ///
    /// Returns:
    ///     The renewed Lease.
    ///
    /// Raises:
    ///     NotFoundError: `name` holds no lease.
    ///     InvalidArgumentError: a bad name, ttl or timeout, or no ttl given for a lease
    ///         without one.
    ///     BusyError: the registry's lock stayed held for the whole timeout.
    ///     RegistryError: the registry file cannot be used.
    ///     PortpoolIOError: the operating system failed a read or write.
    #[pyo3(signature = (name, ttl=None, *, timeout=None))]
    fn renew / renew_async(py, name: &str, ttl: Option<&Bound<'_, PyAny>>) {
        let ttl = ttl_arg(py, ttl)?;
        let name = name.to_owned();
        work(move |reg| Ok(Value("Lease", reg.renew(&name, ttl)?)))
    }

    /// Empties the registry: no leases, and only the "default" pool at 9000-9999.
    ///
    /// Args:
    ///     timeout: Seconds this call may wait for the registry's lock, on top of the
    ///         handle's lock_timeout (the shorter wins).
    ///
    /// Raises:
    ///     BusyError: the registry's lock stayed held for the whole timeout.
    ///     RegistryError: the registry file cannot be used.
    ///     PortpoolIOError: the operating system failed a read or write.
    #[pyo3(signature = (*, timeout=None))]
    fn reset / reset_async(py) {
        work(|reg| reg.reset())
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
    ///     timeout: Seconds this call may wait for the registry's lock, on top of the
    ///         handle's lock_timeout (the shorter wins).
    ///
    /// Returns:
    ///     The next generation's port.
    ///
    /// Raises:
    ///     NotFoundError: `name` holds no lease.
    ///     ExhaustedError: no port is free for the next generation.
    ///     InvalidArgumentError: a bad name, pid or timeout.
    ///     BusyError: the registry's lock stayed held for the whole timeout.
    ///     RegistryError: the registry file cannot be used.
    ///     PortpoolIOError: the operating system failed a read or write.
    #[pyo3(signature = (name, pid=None, *, timeout=None))]
    fn begin_handover / begin_handover_async(py, name: &str, pid: Option<&Bound<'_, PyAny>>) {
        let pid = pid_arg(py, pid)?;
        let name = name.to_owned();
        Ok(Box::new(move |reg: &pp::Registry| {
            let grant = reg.begin_handover_grant(&name, pid)?;
            // A cancelled caller's handover is aborted again, if this call began it.
            let undo = grant.created.then(|| -> Undo {
                Box::new(move |reg| {
                    let _ = reg.abort_handover(&name, pid);
                })
            });
            Ok(Done {
                value: Box::new(grant.port),
                undo,
            })
        }))
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
    ///     timeout: Seconds this call may wait for the registry's lock, on top of the
    ///         handle's lock_timeout (the shorter wins).
    ///
    /// Returns:
    ///     The new current port.
    ///
    /// Raises:
    ///     NotFoundError: `name` holds no lease (or a stale one), or no handover of it is
    ///         under way.
    ///     ConflictError: the handover was begun for another process.
    ///     InvalidArgumentError: a bad name, pid or timeout.
    ///     BusyError: the registry's lock stayed held for the whole timeout.
    ///     RegistryError: the registry file cannot be used.
    ///     PortpoolIOError: the operating system failed a read or write.
    #[pyo3(signature = (name, pid=None, *, timeout=None))]
    fn commit_handover / commit_handover_async(py, name: &str, pid: Option<&Bound<'_, PyAny>>) {
        let pid = pid_arg(py, pid)?;
        let name = name.to_owned();
        work(move |reg| reg.commit_handover(&name, pid))
    }

    /// Abandons `name`'s handover: releases the next generation's port; the current lease
    /// is untouched.
    ///
    /// Args:
    ///     name: The lease's name.
    ///     pid: Checked as by commit_handover().
    ///     timeout: Seconds this call may wait for the registry's lock, on top of the
    ///         handle's lock_timeout (the shorter wins).
    ///
    /// Returns:
    ///     The port released.
    ///
    /// Raises:
    ///     NotFoundError: `name` holds no lease (or a stale one), or no handover of it is
    ///         under way.
    ///     ConflictError: the handover was begun for another process.
    ///     InvalidArgumentError: a bad name, pid or timeout.
    ///     BusyError: the registry's lock stayed held for the whole timeout.
    ///     RegistryError: the registry file cannot be used.
    ///     PortpoolIOError: the operating system failed a read or write.
    #[pyo3(signature = (name, pid=None, *, timeout=None))]
    fn abort_handover / abort_handover_async(py, name: &str, pid: Option<&Bound<'_, PyAny>>) {
        let pid = pid_arg(py, pid)?;
        let name = name.to_owned();
        work(move |reg| reg.abort_handover(&name, pid))
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
    ///     timeout: Seconds this call may wait for the registry's lock, on top of the
    ///         handle's lock_timeout (the shorter wins).
    ///
    /// Returns:
    ///     The ports, in the order of `names`.
    ///
    /// Raises:
    ///     NotFoundError: no pool named `pool`.
    ///     ExhaustedError: the pool has too few free ports; nothing is leased.
    ///     InvalidArgumentError: a bad name (or one given twice), pool, protocol, pid, ttl
    ///         or timeout.
    ///     BusyError: the registry's lock stayed held for the whole timeout.
    ///     RegistryError: the registry file cannot be used.
    ///     PortpoolIOError: the operating system failed a read or write.
    ///     TypeError: `names` is a str, or holds something else than str.
    #[pyo3(signature = (names, pool=None, *, protocol="tcp", pid=None, ttl=None, timeout=None))]
    fn allocate_many / allocate_many_async(
        py,
        names: &Bound<'_, PyAny>,
        pool: Option<&str>,
        protocol: &str,
        pid: Option<&Bound<'_, PyAny>>,
        ttl: Option<&Bound<'_, PyAny>>,
    ) {
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
        let pool = pool.map(str::to_owned);
        Ok(Box::new(move |reg: &pp::Registry| {
            let borrowed: Vec<&str> = names.iter().map(String::as_str).collect();
            let grants = reg.allocate_many_grants(&borrowed, pool.as_deref(), &opts)?;
            let ports: Vec<u16> = grants.iter().map(|g| g.port).collect();
            // A cancelled caller gives back exactly the leases this call made.
            let made: Vec<(String, pp::Grant)> = names
                .into_iter()
                .zip(grants)
                .filter(|(_, g)| g.created)
                .collect();
            let protocol = opts.protocol;
            let undo = (!made.is_empty()).then(|| -> Undo {
                Box::new(move |reg| {
                    for (name, grant) in made {
                        let _ = reg.release_holding(&name, grant.port, protocol);
                    }
                })
            });
            Ok(Done {
                value: Box::new(ports),
                undo,
            })
        }))
    }

    /// Makes process `pid` the owner of `name`'s lease; None makes it permanent.
    ///
    /// Args:
    ///     name: The lease's name.
    ///     pid: The new owner; once it exits, the lease is stale and reclaimed.
    ///     timeout: Seconds this call may wait for the registry's lock, on top of the
    ///         handle's lock_timeout (the shorter wins).
    ///
    /// Returns:
    ///     The Lease as it now is.
    ///
    /// Raises:
    ///     NotFoundError: `name` holds no lease.
    ///     InvalidArgumentError: a bad name or timeout, or no process `pid`.
    ///     BusyError: the registry's lock stayed held for the whole timeout.
    ///     RegistryError: the registry file cannot be used.
    ///     PortpoolIOError: the operating system failed a read or write.
    #[pyo3(signature = (name, pid=None, *, timeout=None))]
    fn set_owner / set_owner_async(py, name: &str, pid: Option<&Bound<'_, PyAny>>) {
        let pid = pid_arg(py, pid)?;
        let name = name.to_owned();
        work(move |reg| Ok(Value("Lease", reg.set_owner(&name, pid)?)))
    }

    /// Reads a flat {"name": port, ...} JSON file into fixed, permanent TCP leases, in one
    /// write (named with a trailing underscore, as `import` is a Python keyword).
    ///
    /// Names already present with the same port are skipped. Any problem refuses the whole
    /// file, with every problem listed, and writes nothing. Ports are not probed.
    ///
    /// Args:
    ///     file: The JSON file (str or os.PathLike).
    ///     timeout: Seconds this call may wait for the registry's lock, on top of the
    ///         handle's lock_timeout (the shorter wins).
    ///
    /// Returns:
    ///     An ImportReport: the leases made and the names skipped.
    ///
    /// Raises:
    ///     NotFoundError: no such file.
    ///     InvalidArgumentError: not a {"name": port} map, a bad name or port in it, or a
    ///         bad timeout.
    ///     ConflictError: a port leased to another name, or a name holding another port.
    ///     BusyError: the registry's lock stayed held for the whole timeout.
    ///     RegistryError: the registry file cannot be used.
    ///     PortpoolIOError: the file cannot be read.
    #[pyo3(signature = (file, *, timeout=None))]
    fn import_ / import_async(py, file: PathBuf) {
        work(move |reg| Ok(Value("ImportReport", reg.import(&file)?)))
    }

    /// Everything known about `port`: the leases holding it (TCP and UDP, current or next)
    /// and the server sockets bound to it with their processes, read from /proc.
    ///
    /// Args:
    ///     port: The port, 1-65535.
    ///     timeout: Seconds this call may wait behind another thread's call, on top of the
    ///         handle's lock_timeout (the shorter wins).
    ///
    /// Returns:
    ///     A Who.
    ///
    /// Raises:
    ///     InvalidArgumentError: a bad port or timeout.
    ///     BusyError: another thread's call held the registry for the whole timeout.
    ///     RegistryError: the registry file cannot be used.
    ///     PortpoolIOError: the operating system failed a read or write.
    #[pyo3(signature = (port, *, timeout=None))]
    fn who / who_async(py, port: &Bound<'_, PyAny>) {
        let port = port_arg(py, port)?;
        work(move |reg| Ok(Value("Who", reg.who(port)?)))
    }

    /// Registers every port a server socket is bound to now as a fixed, permanent lease
    /// named after its program ("nginx", "nginx-2", ...; "port-N" when unseen).
    ///
    /// Ports already leased are left alone, so a second run changes nothing.
    ///
    /// Args:
    ///     dry_run: Return the plan and write nothing.
    ///     timeout: Seconds this call may wait for the registry's lock, on top of the
    ///         handle's lock_timeout (the shorter wins).
    ///
    /// Returns:
    ///     The leases made (or, with dry_run, that would be made).
    ///
    /// Raises:
    ///     InvalidArgumentError: a bad timeout.
    ///     BusyError: the registry's lock stayed held for the whole timeout.
    ///     PortpoolIOError: /proc cannot be read.
    ///     RegistryError: the registry file cannot be used.
    #[pyo3(signature = (dry_run=false, *, timeout=None))]
    fn migrate / migrate_async(py, dry_run: bool) {
        work(move |reg| Ok(Value("list[Lease]", reg.migrate(dry_run)?)))
    }

    /// Checks the registry against the host: leases nothing listens on, listeners on leased
    /// ports that are not the owner (or its descendants), stale owners, expired leases, and
    /// pools overlapping the kernel's ephemeral ports. Reads only.
    ///
    /// Args:
    ///     timeout: Seconds this call may wait behind another thread's call, on top of the
    ///         handle's lock_timeout (the shorter wins).
    ///
    /// Returns:
    ///     A DoctorReport; its findings are empty when all is well.
    ///
    /// Raises:
    ///     BusyError: another thread's call held the registry for the whole timeout.
    ///     RegistryError: the registry file cannot be used.
    ///     PortpoolIOError: the operating system failed a read or write.
    #[pyo3(signature = (*, timeout=None))]
    fn doctor / doctor_async(py) {
        work(|reg| Ok(Value("DoctorReport", reg.doctor()?)))
    }

    /// Leases a port to `name` and returns a socket bound to it, in one step: no process,
    /// in the registry or outside it, can take the port between the lease and the bind.
    ///
    /// Under the registry's lock, the port is chosen as allocate() (from `pool`) or
    /// register() (from `port`) would choose it, bound, and only then leased. TCP sockets
    /// listen (with SO_REUSEADDR, as servers set it); UDP sockets are bound. The address is
    /// `host`, else the IPv6 wildcard in dual-stack mode (IPv4 too) where the host has IPv6,
    /// else 0.0.0.0. A name that already holds a lease gets a socket on that lease's port.
    ///
    /// The caller owns the socket and closes it (`with reg.listen(...) as sock:`); it is not
    /// inherited across exec. Closing it does not release the lease, and releasing does not
    /// close it: release() ends the lease, or owner-pid reclaim does once the owning process
    /// (this one, unless `pid`) has exited.
    ///
    /// Args:
    ///     name: The holder's unique name.
    ///     pool: The pool to allocate from; None: the default pool (unless `port`).
    ///     port: A port, or a sequence of preferred ports, as for register().
    ///     mode: With `port`: "flexible" (default) or "fixed".
    ///     range: With `port`: a (start, end) pair of ports to fall back to.
    ///     exclude: Ports never leased (an iterable of int).
    ///     protocol: "tcp" (default: a listening socket) or "udp" (a bound socket).
    ///     host: The address to bind, e.g. "127.0.0.1"; None: the wildcard.
    ///     backlog: TCP: the queue of connections not yet accepted (default 128).
    ///     pid: The owning process; None: this process.
    ///     ttl: Seconds the lease lives unless renewed.
    ///     timeout: Seconds this call may wait for the registry's lock, on top of the
    ///         handle's lock_timeout (the shorter wins).
    ///
    /// Returns:
    ///     A socket.socket bound to the leased port (`sock.getsockname()[1]`).
    ///
    /// Raises:
    ///     NotFoundError: no pool named `pool`.
    ///     ExhaustedError: no candidate port could be bound.
    ///     ConflictError: "fixed" and every candidate is taken, `name` holds a port of the
    ///         other protocol, or its port is bound by another process.
    ///     InvalidArgumentError: a bad name, pool, port, mode, range, exclude, protocol,
    ///         host (not an address of this machine), backlog, pid, ttl or timeout, or both
    ///         `pool` and `port`.
    ///     BusyError: the registry's lock stayed held for the whole timeout.
    ///     RegistryError: the registry file cannot be used.
    ///     PortpoolIOError: the operating system refused the socket, or failed a read or
    ///         write.
    ///     TypeError: an argument of the wrong type.
    #[pyo3(signature = (name, *, pool=None, port=None, mode="flexible", range=None, exclude=None, protocol="tcp", host=None, backlog=128, pid=None, ttl=None, timeout=None))]
    fn listen / listen_async(
        py,
        name: &str,
        pool: Option<&str>,
        port: Option<&Bound<'_, PyAny>>,
        mode: &str,
        range: Option<&Bound<'_, PyAny>>,
        exclude: Option<&Bound<'_, PyAny>>,
        protocol: &str,
        host: Option<&Bound<'_, PyAny>>,
        backlog: i64,
        pid: Option<&Bound<'_, PyAny>>,
        ttl: Option<&Bound<'_, PyAny>>,
    ) {
        let choice = choice_arg(py, pool, port, mode)?;
        let opts = choosing(py, options(py, protocol, false, pid, ttl)?, range, exclude, None)?;
        let listen = pp::ListenOptions {
            host: host_arg(py, host)?,
            backlog: backlog_arg(py, backlog)?,
        };
        let name = name.to_owned();
        Ok(Box::new(move |reg: &pp::Registry| {
            let bound = reg.listen(&name, &choice, &opts, &listen)?;
            let grant = pp::Grant {
                port: bound.port,
                created: bound.created,
            };
            Ok(Done {
                value: Box::new(Listening(bound.fd)),
                undo: release_if(grant, name, opts.protocol),
            })
        }))
    }
}

/// Where a guard is: one thread at a time moves it from Idle through Entering to Entered.
enum GuardState {
    Idle,
    Entering,
    Entered(Arc<pp::ScopedLease>),
}

/// The right to enter a guard, taken atomically; dropped unused, it leaves the guard Idle.
struct Entry(Arc<Mutex<GuardState>>);

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
struct LeaseGuard {
    registry: Arc<pp::Registry>,
    name: String,
    choice: pp::Choice,
    options: pp::LeaseOptions,
    timeout: Option<Duration>,
    state: Arc<Mutex<GuardState>>,
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

/// Free ports, like portpicker.pick_unused_port() and get-port: `count` distinct ports that
/// nothing has bound right now. Takes no lease: use Registry.register() or allocate() to keep
/// other portpool users off them.
///
/// Candidates in order: `ports`, then `range`; without a range, ports the kernel picks.
/// Each is probed on the IPv4 and IPv6 wildcards, or on `host` only.
///
/// Args:
///     protocol: "tcp" (default) or "udp".
///     ports: Ports to try first, in order (an iterable of int).
///     range: Then this (start, end) pair of ports, inclusive.
///     exclude: Ports never returned (an iterable of int).
///     count: How many distinct ports to return; None: one, returned as an int.
///     host: Probe this one address (e.g. "127.0.0.1") instead of the wildcards: a port
///         bound on another address then reads as free.
///
/// Returns:
///     A port (count None), else a list of `count` ports.
///
/// Raises:
///     InvalidArgumentError: a bad protocol, port, range, count or host (not an address of
///         this machine).
///     ExhaustedError: fewer free ports than asked for.
///     PortpoolIOError: the kernel refused a socket.
///     TypeError: an argument of the wrong type.
#[pyfunction]
#[pyo3(signature = (protocol="tcp", *, ports=None, range=None, exclude=None, count=None, host=None))]
fn find_free(
    py: Python<'_>,
    protocol: &str,
    ports: Option<&Bound<'_, PyAny>>,
    range: Option<&Bound<'_, PyAny>>,
    exclude: Option<&Bound<'_, PyAny>>,
    count: Option<&Bound<'_, PyAny>>,
    host: Option<&Bound<'_, PyAny>>,
) -> PyResult<Py<PyAny>> {
    let asked = count
        .map(|c| int_arg(c, "count")?.to_i64(py, "count"))
        .transpose()?;
    let options = pp::FindOptions {
        protocol: protocol_arg(py, protocol)?,
        ports: ports.map_or(Ok(Vec::new()), |p| port_list(py, p, "ports"))?,
        range: range_arg(py, range)?,
        exclude: exclude_arg(py, exclude)?,
        count: match asked {
            None => 1,
            Some(n) => usize::try_from(n).map_err(|_| {
                error(
                    py,
                    pp::Error::new(
                        pp::ErrorKind::InvalidArgument,
                        format!("invalid count {n}: ask for at least 1 port"),
                    ),
                )
            })?,
        },
        host: host_arg(py, host)?,
    };
    let found = py.detach(|| pp::find_free_ports(&options)).or_raise(py)?;
    match asked {
        None => found[0].into_py_any(py),
        Some(_) => found.into_py_any(py),
    }
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
    m.add_class::<LeaseGuard>()?;
    m.add_function(wrap_pyfunction!(is_free, m)?)?;
    m.add_function(wrap_pyfunction!(find_free, m)?)?;
    for class in Exceptions::get(py)?.all() {
        let class = class.bind(py);
        m.add(class.name()?.to_string(), class)?;
    }
    Ok(())
}
