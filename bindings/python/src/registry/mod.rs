//! The `Registry` class: one table of operations, each a method and its `_async` twin.

use std::path::PathBuf;
use std::str::FromStr;
use std::sync::{Arc, Mutex};

use portpool_core as pp;
use pyo3::exceptions::PyTypeError;
use pyo3::prelude::*;
use pyo3::types::{PyDict, PyString};

use crate::args::{
    backlog_arg, choice_arg, endings_of, pid_arg, port_arg, ports_arg, protocol_arg, repr_str,
    timeout_arg, ttl_arg,
};
use crate::calls::{Done, Undo, Work, leasing, release_if, wait_on, work};
use crate::errors::OrRaise;
use crate::guard::{GuardState, LeaseGuard};
use crate::jobs::Job;
use crate::keywords::Keywords;
use crate::leases::Leases;
use crate::options_gen;
use crate::values::{Listening, Value, Warned, warn_notices};

#[macro_use]
mod leases;
#[macro_use]
mod handovers;
#[macro_use]
mod reads;
#[macro_use]
mod upkeep;

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
/// A Registry pickles as its path, lock timeout, force and namespace, and is opened again when unpickled.
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
///     namespace: Read and write only this namespace's names (None: the default one), so
///         two supervisors may both name a worker "worker-1"; ports stay unique across
///         every namespace, and list() lists this namespace only.
///
/// Raises:
///     InvalidArgumentError: path is empty, or None and no default path can be found; a
///         lock_timeout (or $PORTPOOL_LOCK_TIMEOUT) that is negative, not a number or over
///         a year.
///     TypeError: path is not a str or os.PathLike.
#[pyclass(frozen, module = "portpool", name = "Registry")]
pub(crate) struct Registry {
    inner: Arc<pp::Registry>,
}

impl Registry {
    /// The core handle (for the module's private functions).
    pub(crate) fn core(&self) -> &pp::Registry {
        &self.inner
    }

    fn call(
        &self,
        py: Python<'_>,
        timeout: Option<f64>,
        work: PyResult<Work>,
    ) -> PyResult<Py<PyAny>> {
        let timeout = timeout_arg(py, timeout)?;
        let done = wait_on(py, &self.inner, timeout, None, work?)?;
        warn_notices(py)?;
        done.value.to_python(py)
    }

    /// lease() and lease_async(): a guard that leases `name` on entry.
    #[allow(clippy::too_many_arguments)]
    fn guard(
        &self,
        py: Python<'_>,
        name: &str,
        pool: Option<&str>,
        port: Option<&Bound<'_, PyAny>>,
        mode: &str,
        timeout: Option<f64>,
        options: &Keywords<'_, '_>,
    ) -> PyResult<LeaseGuard> {
        let choice = choice_arg(py, pool, port, mode)?;
        Ok(LeaseGuard {
            registry: Arc::clone(&self.inner),
            name: name.to_owned(),
            choice,
            options: options_gen::lease(options)?,
            timeout: timeout_arg(py, timeout)?,
            state: Arc::new(Mutex::new(GuardState::Idle)),
        })
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
///
/// pyo3 takes one `#[pymethods]` block per class, so the table is expanded here in one piece;
/// its entries are written in parts by concern (`leases.rs`, `handovers.rs`, `reads.rs`,
/// `upkeep.rs`). Each part is a macro that appends its entries to the table it is given and
/// hands the result to the next macro of the list in brackets; this one comes last, with the
/// list empty.
///
/// An entry whose arguments end in `; **options` takes its operation's lease options as
/// keywords (`**options` at the end of its signature): in its body, `options` is then the
/// [`Keywords`] that its generated reader in `options_gen.rs` turns into core's options.
macro_rules! registry_methods {
    (
        []
        plain { $($plain:tt)* }
        $(
            $(#[doc = $doc:literal])*
            #[pyo3(signature = ($($sig:tt)*))]
            fn $name:ident / $name_async:ident (
                $py:ident $(, $arg:ident: $ty:ty)* $(,)? $(; ** $options:ident)?
            ) $body:block
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
                    $($options: Option<&Bound<'_, PyDict>>,)?
                ) -> PyResult<Py<PyAny>> {
                    $(let $options = Keywords::new($py, concat!("Registry.", stringify!($name), "()"), $options);)?
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
                    "closed), the handovers begin_handover_async, begin_handover_ticket_async or ",
                    "begin_handovers_async began (aborted, by their tickets); any other ",
                    "change stays."
                )]
                #[pyo3(signature = ($($sig)*))]
                #[allow(clippy::too_many_arguments)]
                fn $name_async<'py>(
                    &self,
                    $py: Python<'py>,
                    $($arg: $ty,)*
                    timeout: Option<f64>,
                    $($options: Option<&Bound<'py, PyDict>>,)?
                ) -> PyResult<Bound<'py, PyAny>> {
                    $(let $options = Keywords::new($py, concat!("Registry.", stringify!($name_async), "()"), $options);)?
                    #[allow(clippy::redundant_closure_call)]
                    let work = (|| -> PyResult<Work> { $body })();
                    self.call_async($py, timeout, work)
                }
            )*
        }
    };
}

// The table: the methods without a twin (`plain`), then each part's entries, in this order.
leases_entries! { [handovers_entries! reads_entries! upkeep_entries! registry_methods!]
    plain {
        #[new]
        #[pyo3(signature = (path=None, *, lock_timeout=None, force=false, namespace=None))]
        fn new(
            py: Python<'_>,
            path: Option<PathBuf>,
            lock_timeout: Option<f64>,
            force: bool,
            namespace: Option<&str>,
        ) -> PyResult<Self> {
            let mut inner = pp::Registry::open(path.as_deref())
                .and_then(|reg| reg.with_namespace(namespace))
                .or_raise(py)?
                .with_force(force);
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

        /// The namespace whose names this handle reads and writes; None for the default one.
        #[getter]
        fn namespace(&self) -> Option<String> {
            self.inner.namespace().map(str::to_owned)
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
            kwargs.set_item("namespace", self.namespace())?;
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
        ///     timeout: Seconds entering and leaving may wait for the registry's lock, on top
        ///         of the handle's lock_timeout (the shorter wins).
        ///     **options: The lease options, as keywords (`protocol="udp"`, `ttl=60`): the
        ///         keys of portpool.LeaseOptions, each with its type, default and meaning.
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
        ///     TypeError: an argument of the wrong type, or a keyword the call does not take.
        #[pyo3(signature = (name, pool=None, *, port=None, mode="flexible", timeout=None, **options))]
        #[allow(clippy::too_many_arguments)]
        fn lease(
            &self,
            py: Python<'_>,
            name: &str,
            pool: Option<&str>,
            port: Option<&Bound<'_, PyAny>>,
            mode: &str,
            timeout: Option<f64>,
            options: Option<&Bound<'_, PyDict>>,
        ) -> PyResult<LeaseGuard> {
            let options = Keywords::new(py, "Registry.lease()", options);
            self.guard(py, name, pool, port, mode, timeout, &options)
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
        ///     timeout: As for lease().
        ///     **options: As for lease(): the keys of portpool.LeaseOptions.
        ///
        /// Returns:
        ///     A LeaseGuard; `async with` it gives the port.
        ///
        /// Raises:
        ///     The errors of lease().
        #[pyo3(signature = (name, pool=None, *, port=None, mode="flexible", timeout=None, **options))]
        #[allow(clippy::too_many_arguments)]
        fn lease_async(
            &self,
            py: Python<'_>,
            name: &str,
            pool: Option<&str>,
            port: Option<&Bound<'_, PyAny>>,
            mode: &str,
            timeout: Option<f64>,
            options: Option<&Bound<'_, PyDict>>,
        ) -> PyResult<LeaseGuard> {
            let options = Keywords::new(py, "Registry.lease_async()", options);
            self.guard(py, name, pool, port, mode, timeout, &options)
        }
    }
}
