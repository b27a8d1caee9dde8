//! The npm package `portpool`: the Node.js binding of portpool-core.
//!
//! Each exported call converts its JavaScript arguments, calls one `portpool_core` function and
//! maps `portpool_core::ErrorKind` to an `Error` whose `code` is `PORTPOOL_<KIND>`. Every call
//! that takes the registry's file lock also has an `…Async` twin that runs the same closure on
//! the libuv thread pool and returns a Promise, so an event loop never waits on the lock.
//!
//! Argument *types* are napi-rs's business: a conversion it refuses surfaces as a `TypeError`
//! through `index.js`. Argument *values* are core's business: ports go through
//! `port_from_i64`/`parse_port`, modes and protocols through their `FromStr`.

use std::panic::{AssertUnwindSafe, catch_unwind};
use std::path::Path;
use std::str::FromStr;
use std::sync::Arc;

use napi::bindgen_prelude::{AsyncTask, ToNapiValue, TypeName};
use napi::{Env, JsError, Task};
use napi_derive::napi;
use portpool_core as pp;

/// The `err.code` of every error portpool raises, one per `portpool_core::ErrorKind`.
fn code(kind: pp::ErrorKind) -> &'static str {
    match kind {
        pp::ErrorKind::NotFound => "PORTPOOL_NOT_FOUND",
        pp::ErrorKind::InvalidArgument => "PORTPOOL_INVALID_ARGUMENT",
        pp::ErrorKind::Conflict => "PORTPOOL_CONFLICT",
        pp::ErrorKind::Exhausted => "PORTPOOL_EXHAUSTED",
        pp::ErrorKind::Registry => "PORTPOOL_REGISTRY",
        pp::ErrorKind::Io => "PORTPOOL_IO",
        pp::ErrorKind::Busy => "PORTPOOL_BUSY",
    }
}

/// A JavaScript `Error` carrying core's message and `code`, held so napi throws or rejects
/// with this very object.
fn js_error(env: &Env, err: &pp::Error) -> napi::Error {
    let error = napi::Error::new(code(err.kind()), err.message().to_owned());
    napi::Error::from(JsError::from(error).into_unknown(*env))
}

/// Runs `op` now, on the calling thread.
fn run_now<T>(env: &Env, op: impl FnOnce() -> pp::Result<T>) -> napi::Result<T> {
    op().map_err(|err| js_error(env, &err))
}

type Op<T> = Box<dyn FnOnce() -> pp::Result<T> + Send>;

/// One call run on the libuv thread pool; its Promise settles with the call's result or with
/// the same `Error` the synchronous call throws.
pub struct Job<T> {
    op: Option<Op<T>>,
    failure: Option<pp::Error>,
}

impl<T> Job<T> {
    fn spawn(op: impl FnOnce() -> pp::Result<T> + Send + 'static) -> AsyncTask<Job<T>>
    where
        Job<T>: Task,
    {
        AsyncTask::new(Job {
            op: Some(Box::new(op)),
            failure: None,
        })
    }
}

impl<T> Task for Job<T>
where
    T: ToNapiValue + TypeName + Send + 'static,
{
    type Output = T;
    type JsValue = T;

    fn compute(&mut self) -> napi::Result<T> {
        let op = self
            .op
            .take()
            .ok_or_else(|| napi::Error::from_reason("portpool: a job ran twice"))?;
        match catch_unwind(AssertUnwindSafe(op)) {
            Ok(Ok(value)) => Ok(value),
            Ok(Err(err)) => {
                let reason = err.message().to_owned();
                self.failure = Some(err);
                Err(napi::Error::from_reason(reason))
            }
            Err(_) => Err(napi::Error::from_reason("portpool: internal error (panic)")),
        }
    }

    fn resolve(&mut self, _env: Env, output: T) -> napi::Result<T> {
        Ok(output)
    }

    fn reject(&mut self, env: Env, err: napi::Error) -> napi::Result<T> {
        Err(match self.failure.take() {
            Some(failure) => js_error(&env, &failure),
            None => err,
        })
    }
}

/// A port given as a JavaScript number, checked by core: integers through `port_from_i64`,
/// anything else (1.5, NaN, Infinity) through `parse_port`, so every bad value gets core's
/// message.
fn port_arg(value: f64) -> pp::Result<u16> {
    if value.fract() == 0.0 && value >= i64::MIN as f64 && value <= i64::MAX as f64 {
        pp::port_from_i64(value as i64)
    } else {
        pp::parse_port(&value.to_string())
    }
}

/// An integer given as a JavaScript number, for core to check: a number that is not a whole
/// number within 64 bits (1.5, NaN, Infinity, 2^64) is refused here, naming `what`.
fn integer_arg(value: f64, what: &str) -> pp::Result<i64> {
    if value.fract() == 0.0 && value >= i64::MIN as f64 && value <= i64::MAX as f64 {
        Ok(value as i64)
    } else {
        Err(pp::Error::new(
            pp::ErrorKind::InvalidArgument,
            format!("invalid {what} {value}: expected an integer"),
        ))
    }
}

fn pid_arg(value: Option<f64>) -> pp::Result<Option<u32>> {
    value
        .map(|v| integer_arg(v, "pid").and_then(pp::pid_from_i64))
        .transpose()
}

fn ttl_arg(value: Option<f64>) -> pp::Result<Option<u64>> {
    value
        .map(|v| integer_arg(v, "ttl").and_then(pp::ttl_from_i64))
        .transpose()
}

fn protocol_arg(value: Option<&str>) -> pp::Result<pp::Protocol> {
    value
        .map(pp::Protocol::from_str)
        .transpose()
        .map(Option::unwrap_or_default)
}

/// Seconds since the Unix epoch as a JavaScript number (exact up to 2^53).
fn secs(value: u64) -> i64 {
    i64::try_from(value).unwrap_or(i64::MAX)
}

/// Options of `Registry.register`.
#[napi(object)]
#[derive(Clone, Debug, Default)]
pub struct RegisterOptions {
    /// `'flexible'` (default): the port, or the next free one above it. `'fixed'`: exactly the
    /// port, or a `PORTPOOL_CONFLICT` error.
    #[napi(ts_type = "'flexible' | 'fixed'")]
    pub mode: Option<String>,
    /// `'tcp'` (default) or `'udp'`. A lease is per (port, protocol).
    #[napi(ts_type = "'tcp' | 'udp'")]
    pub protocol: Option<String>,
    /// Fixed mode only: take the port even when a process outside the registry has it bound.
    /// A port leased to another name is never taken.
    pub force: Option<bool>,
    /// The process that owns the lease; once it exits, the lease is stale and is reclaimed.
    pub pid: Option<f64>,
    /// Seconds the lease lives unless renewed.
    pub ttl: Option<f64>,
}

/// Options of `Registry.allocate`.
#[napi(object)]
#[derive(Clone, Debug, Default)]
pub struct AllocateOptions {
    /// The pool to take a port from; `'default'` (9000–9999 unless changed) when omitted.
    pub pool: Option<String>,
    /// `'tcp'` (default) or `'udp'`.
    #[napi(ts_type = "'tcp' | 'udp'")]
    pub protocol: Option<String>,
    /// The process that owns the lease; once it exits, the lease is stale and is reclaimed.
    pub pid: Option<f64>,
    /// Seconds the lease lives unless renewed.
    pub ttl: Option<f64>,
}

/// Options of `Registry.setPool`.
#[napi(object)]
#[derive(Clone, Debug, Default)]
pub struct PoolOptions {
    /// Whether `allocate` bind-probes candidate ports. A new pool probes unless told not to
    /// (off suits a range reserved for portpool); an existing pool keeps its setting.
    pub probe: Option<bool>,
}

/// One port held by one name.
#[napi(object, use_nullable = true)]
#[derive(Clone, Debug, PartialEq)]
pub struct Lease {
    /// Unique name of the holder (a service, a worker, ...).
    pub name: String,
    /// The port, 1–65535.
    pub port: u32,
    /// `'tcp'` or `'udp'`.
    #[napi(ts_type = "'tcp' | 'udp'")]
    pub protocol: String,
    /// How the lease was made: `'flexible'` or `'fixed'` by `register`, `'pool'` by `allocate`.
    #[napi(ts_type = "'flexible' | 'fixed' | 'pool'")]
    pub mode: String,
    /// The pool it came from, for `'pool'` leases.
    pub pool: Option<String>,
    /// The owning process; `null` for a permanent lease.
    pub pid: Option<u32>,
    /// When the lease was made, in seconds since the Unix epoch.
    pub created: i64,
    /// The time to live in seconds that `renew` restarts; `null` for no expiry.
    pub ttl: Option<i64>,
    /// When the lease expires, in seconds since the Unix epoch; `null` for never.
    pub expires: Option<i64>,
    /// During a handover (`beginHandover`), the next generation's port, leased too; `get`
    /// returns `port` until the handover is committed. `null` otherwise.
    pub next: Option<NextPort>,
    /// Why the lease is stale (time to live over, owner gone, a handover's owner gone), in
    /// leases from `list` and `who`; `null` for a lease that holds its ports.
    pub stale: Option<String>,
}

/// The next generation's port during a zero-downtime handover.
#[napi(object, use_nullable = true)]
#[derive(Clone, Debug, PartialEq)]
pub struct NextPort {
    /// The new port.
    pub port: u32,
    /// When the handover began, in seconds since the Unix epoch.
    pub created: i64,
    /// The next generation's process, which owns the lease once the handover is committed.
    pub pid: Option<u32>,
}

impl From<pp::Lease> for Lease {
    fn from(lease: pp::Lease) -> Self {
        Lease {
            name: lease.name,
            port: u32::from(lease.port),
            protocol: lease.protocol.as_str().to_owned(),
            mode: lease.mode.as_str().to_owned(),
            pool: lease.pool,
            pid: lease.owner.map(|owner| owner.pid),
            created: secs(lease.created),
            ttl: lease.ttl.map(secs),
            expires: lease.expires.map(secs),
            next: lease.next.map(|next| NextPort {
                port: u32::from(next.port),
                created: secs(next.created),
                pid: next.owner.map(|owner| owner.pid),
            }),
            stale: lease.stale,
        }
    }
}

fn leases(list: Vec<pp::Lease>) -> Vec<Lease> {
    list.into_iter().map(Lease::from).collect()
}

/// A named port range with a round-robin cursor shared by every process on the host.
#[napi(object)]
#[derive(Clone, Debug, PartialEq)]
pub struct Pool {
    /// The pool's name.
    pub name: String,
    /// First port of the range.
    pub start: u32,
    /// Last port of the range (inclusive).
    pub end: u32,
    /// The next port `allocate` will consider.
    pub cursor: u32,
    /// Whether `allocate` bind-probes candidate ports.
    pub probe: bool,
}

impl From<pp::Pool> for Pool {
    fn from(pool: pp::Pool) -> Self {
        Pool {
            name: pool.name,
            start: u32::from(pool.start),
            end: u32::from(pool.end),
            cursor: u32::from(pool.cursor),
            probe: pool.probe,
        }
    }
}

/// A lease that `gc` released, and why.
#[napi(object)]
#[derive(Clone, Debug, PartialEq)]
pub struct Reclaimed {
    /// The lease as it was.
    pub lease: Lease,
    /// Why it was stale, e.g. `owner pid 4242 is gone`.
    pub reason: String,
}

/// What `Registry.check` found on a port.
#[napi(object, use_nullable = true)]
#[derive(Clone, Debug, PartialEq)]
pub struct PortCheck {
    /// `'free'`: neither leased nor bound, `register` or `allocate` could hand it out now.
    /// `'leased'`: leased to a live holder (see `lease`). `'busy'`: not leased, but bound by a
    /// process outside the registry.
    #[napi(ts_type = "'free' | 'leased' | 'busy'")]
    pub state: String,
    /// The live lease on the port when `state` is `'leased'`, else `null`.
    pub lease: Option<Lease>,
}

impl From<pp::PortState> for PortCheck {
    fn from(state: pp::PortState) -> Self {
        PortCheck {
            state: state.as_str().to_owned(),
            lease: state.lease().cloned().map(Lease::from),
        }
    }
}

/// Options of `Registry.beginHandover`.
#[napi(object)]
#[derive(Clone, Debug, Default)]
pub struct HandoverOptions {
    /// The next generation's process, which owns the lease once the handover is committed.
    pub pid: Option<f64>,
}

/// Options of `new Registry`.
#[napi(object)]
#[derive(Clone, Debug, Default)]
pub struct OpenOptions {
    /// Seconds (like `ttl`; decimals allowed) a change waits for another process's lock
    /// before failing with `PORTPOOL_BUSY`; 0: not at all. Default: `$PORTPOOL_LOCK_TIMEOUT`,
    /// else 10.
    pub lock_timeout: Option<f64>,
}

/// Options of `Registry.migrate`.
#[napi(object)]
#[derive(Clone, Debug, Default)]
pub struct MigrateOptions {
    /// Return the leases `migrate` would make, and write nothing.
    pub dry_run: Option<bool>,
}

/// A process holding a socket.
#[napi(object)]
#[derive(Clone, Debug, PartialEq)]
pub struct SocketProcess {
    /// Process id.
    pub pid: u32,
    /// Its program name.
    pub program: String,
}

/// A server socket: a TCP listener, or a UDP socket that is bound and not connected.
#[napi(object)]
#[derive(Clone, Debug, PartialEq)]
pub struct ServerSocket {
    /// `'tcp'` or `'udp'`.
    #[napi(ts_type = "'tcp' | 'udp'")]
    pub protocol: String,
    /// The local address it is bound to, e.g. `0.0.0.0:8080` or `[::1]:8080`.
    pub address: String,
    /// The port it is bound to.
    pub port: u32,
    /// The processes holding it; empty when their descriptors cannot be seen (another user's
    /// process, for an unprivileged caller).
    pub processes: Vec<SocketProcess>,
}

/// Everything known about one port: what `Registry.who` returns.
#[napi(object, use_nullable = true)]
#[derive(Clone, Debug, PartialEq)]
pub struct Who {
    /// The port asked about.
    pub port: u32,
    /// The leases holding it, TCP and UDP (during a handover, as the current or next port).
    pub leases: Vec<Lease>,
    /// The server sockets bound to it with their processes, or `null` when the host's socket
    /// tables could not be read.
    pub sockets: Option<Vec<ServerSocket>>,
    /// Why `sockets` is `null`.
    pub unavailable: Option<String>,
}

impl From<pp::Who> for Who {
    fn from(who: pp::Who) -> Self {
        Who {
            port: u32::from(who.port),
            leases: leases(who.leases),
            sockets: who.sockets.map(|sockets| {
                sockets
                    .into_iter()
                    .map(|socket| ServerSocket {
                        protocol: socket.protocol.as_str().to_owned(),
                        address: socket.address.to_string(),
                        port: u32::from(socket.port()),
                        processes: socket
                            .processes
                            .into_iter()
                            .map(|p| SocketProcess {
                                pid: p.pid,
                                program: p.program,
                            })
                            .collect(),
                    })
                    .collect()
            }),
            unavailable: who.unavailable,
        }
    }
}

/// What `Registry.importFile` did.
#[napi(object)]
#[derive(Clone, Debug, PartialEq)]
pub struct ImportReport {
    /// The leases made, one per new entry of the file.
    pub imported: Vec<Lease>,
    /// Names already present with the same port, left as they were.
    pub skipped: Vec<String>,
}

/// The version of portpool, the same for every package built from this workspace.
#[napi]
pub const VERSION: &str = pp::VERSION;

/// Whether `port` can be bound for `protocol` (`'tcp'` by default) on this host right now,
/// on both the IPv4 and the IPv6 wildcard address. A snapshot: use `Registry.allocate` or
/// `Registry.register` to keep other portpool users off a port. Takes no lock.
#[napi(strict)]
pub fn is_free(
    env: Env,
    port: f64,
    #[napi(ts_arg_type = "'tcp' | 'udp'")] protocol: Option<String>,
) -> napi::Result<bool> {
    run_now(&env, || {
        pp::is_free(port_arg(port)?, protocol_arg(protocol.as_deref())?)
    })
}

/// A port the kernel picked as free for `protocol` (`'tcp'` by default), verified free on
/// both address families. Takes no lease: for tests and tools that bind it at once.
#[napi(strict)]
pub fn find_free(
    env: Env,
    #[napi(ts_arg_type = "'tcp' | 'udp'")] protocol: Option<String>,
) -> napi::Result<u32> {
    run_now(&env, || {
        pp::find_free(protocol_arg(protocol.as_deref())?).map(u32::from)
    })
}

/// A handle on one registry file, shared by every process and language on the host.
///
/// Opening does not touch the disk. A call that changes the registry takes the file's lock
/// for that call only (waiting at most the lock timeout, then `PORTPOOL_BUSY`), so any number
/// of handles, in any number of processes, may use one registry at once; a call that only
/// reads takes no lock. A change returns once it is on the disk, unless it concerns only
/// leases owned by a process (`pid`) or a pool's cursor: those survive any crash of a
/// process, but not a power loss, after which their owners are gone anyway. Every call has
/// an `…Async` twin that runs on the libuv thread pool and returns a Promise; it settles with
/// the same value, or rejects with the same `Error`, as the synchronous call.
///
/// Errors carry `err.code`: `PORTPOOL_NOT_FOUND`, `PORTPOOL_INVALID_ARGUMENT`,
/// `PORTPOOL_CONFLICT`, `PORTPOOL_EXHAUSTED`, `PORTPOOL_REGISTRY`, `PORTPOOL_IO` or
/// `PORTPOOL_BUSY`. An argument of the wrong type is a `TypeError`.
#[napi]
pub struct Registry {
    inner: Arc<pp::Registry>,
}

fn register_op(
    reg: Arc<pp::Registry>,
    name: String,
    port: f64,
    options: Option<RegisterOptions>,
) -> impl FnOnce() -> pp::Result<u32> + Send + 'static {
    move || {
        let options = options.unwrap_or_default();
        let port = port_arg(port)?;
        let mode = options
            .mode
            .as_deref()
            .map(pp::Mode::from_str)
            .transpose()?
            .unwrap_or_default();
        let lease = pp::LeaseOptions {
            protocol: protocol_arg(options.protocol.as_deref())?,
            force: options.force.unwrap_or(false),
            pid: pid_arg(options.pid)?,
            ttl: ttl_arg(options.ttl)?,
            ..pp::LeaseOptions::default()
        };
        reg.register(&name, port, mode, &lease).map(u32::from)
    }
}

fn allocate_op(
    reg: Arc<pp::Registry>,
    name: String,
    options: Option<AllocateOptions>,
) -> impl FnOnce() -> pp::Result<u32> + Send + 'static {
    move || {
        let options = options.unwrap_or_default();
        let lease = pp::LeaseOptions {
            protocol: protocol_arg(options.protocol.as_deref())?,
            force: false,
            pid: pid_arg(options.pid)?,
            ttl: ttl_arg(options.ttl)?,
            ..pp::LeaseOptions::default()
        };
        let pool = options.pool.as_deref();
        reg.allocate(&name, pool, &lease).map(u32::from)
    }
}

fn get_op(
    reg: Arc<pp::Registry>,
    name: String,
) -> impl FnOnce() -> pp::Result<Option<u32>> + Send + 'static {
    move || Ok(reg.get(&name)?.map(|lease| u32::from(lease.port)))
}

fn release_op(
    reg: Arc<pp::Registry>,
    name: String,
) -> impl FnOnce() -> pp::Result<bool> + Send + 'static {
    move || reg.release(&name)
}

fn list_op(reg: Arc<pp::Registry>) -> impl FnOnce() -> pp::Result<Vec<Lease>> + Send + 'static {
    move || reg.list().map(leases)
}

fn pools_op(reg: Arc<pp::Registry>) -> impl FnOnce() -> pp::Result<Vec<Pool>> + Send + 'static {
    move || Ok(reg.pools()?.into_iter().map(Pool::from).collect())
}

fn set_pool_op(
    reg: Arc<pp::Registry>,
    name: String,
    start: f64,
    end: f64,
    options: Option<PoolOptions>,
) -> impl FnOnce() -> pp::Result<Pool> + Send + 'static {
    move || {
        let probe = options.and_then(|o| o.probe);
        reg.set_pool(&name, port_arg(start)?, port_arg(end)?, probe)
            .map(|change| change.pool)
            .map(Pool::from)
    }
}

fn reset_op(reg: Arc<pp::Registry>) -> impl FnOnce() -> pp::Result<()> + Send + 'static {
    move || reg.reset()
}

fn gc_op(reg: Arc<pp::Registry>) -> impl FnOnce() -> pp::Result<Vec<Reclaimed>> + Send + 'static {
    move || {
        Ok(reg
            .gc()?
            .into_iter()
            .map(|r| Reclaimed {
                lease: Lease::from(r.lease),
                reason: r.reason,
            })
            .collect())
    }
}

fn renew_op(
    reg: Arc<pp::Registry>,
    name: String,
    ttl: Option<f64>,
) -> impl FnOnce() -> pp::Result<Lease> + Send + 'static {
    move || reg.renew(&name, ttl_arg(ttl)?).map(Lease::from)
}

fn check_op(
    reg: Arc<pp::Registry>,
    port: f64,
    protocol: Option<String>,
) -> impl FnOnce() -> pp::Result<PortCheck> + Send + 'static {
    move || {
        reg.check(port_arg(port)?, protocol_arg(protocol.as_deref())?)
            .map(PortCheck::from)
    }
}

fn begin_handover_op(
    reg: Arc<pp::Registry>,
    name: String,
    options: Option<HandoverOptions>,
) -> impl FnOnce() -> pp::Result<u32> + Send + 'static {
    move || {
        let pid = pid_arg(options.and_then(|o| o.pid))?;
        reg.begin_handover(&name, pid).map(u32::from)
    }
}

fn commit_handover_op(
    reg: Arc<pp::Registry>,
    name: String,
    options: Option<HandoverOptions>,
) -> impl FnOnce() -> pp::Result<u32> + Send + 'static {
    move || {
        let pid = pid_arg(options.and_then(|o| o.pid))?;
        reg.commit_handover(&name, pid).map(u32::from)
    }
}

fn abort_handover_op(
    reg: Arc<pp::Registry>,
    name: String,
    options: Option<HandoverOptions>,
) -> impl FnOnce() -> pp::Result<u32> + Send + 'static {
    move || {
        let pid = pid_arg(options.and_then(|o| o.pid))?;
        reg.abort_handover(&name, pid).map(u32::from)
    }
}

fn who_op(reg: Arc<pp::Registry>, port: f64) -> impl FnOnce() -> pp::Result<Who> + Send + 'static {
    move || reg.who(port_arg(port)?).map(Who::from)
}

fn migrate_op(
    reg: Arc<pp::Registry>,
    options: Option<MigrateOptions>,
) -> impl FnOnce() -> pp::Result<Vec<Lease>> + Send + 'static {
    move || {
        let dry_run = options.and_then(|o| o.dry_run).unwrap_or(false);
        reg.migrate(dry_run).map(leases)
    }
}

fn import_file_op(
    reg: Arc<pp::Registry>,
    path: String,
) -> impl FnOnce() -> pp::Result<ImportReport> + Send + 'static {
    move || {
        let report = reg.import(Path::new(&path))?;
        Ok(ImportReport {
            imported: leases(report.imported),
            skipped: report.skipped,
        })
    }
}

#[napi]
impl Registry {
    /// A handle on the registry at `path`; when omitted, the default path:
    /// `$PORTPOOL_REGISTRY`, else `/var/lib/portpool/registry.json` for root, else
    /// `$XDG_STATE_HOME/portpool/registry.json` (`~/.local/state/portpool/registry.json`).
    /// The file is created on the first write. Does not touch the disk.
    #[napi(constructor, strict)]
    pub fn new(env: Env, path: Option<String>, options: Option<OpenOptions>) -> napi::Result<Self> {
        let inner = run_now(&env, || {
            let reg = pp::Registry::open(path.as_deref().map(Path::new))?;
            match options.and_then(|o| o.lock_timeout) {
                Some(seconds) => {
                    Ok(reg.with_lock_timeout(pp::parse_lock_timeout(&seconds.to_string())?))
                }
                None => Ok(reg),
            }
        })?;
        Ok(Registry {
            inner: Arc::new(inner),
        })
    }

    /// The registry file's path.
    #[napi(getter)]
    pub fn path(&self) -> String {
        self.inner.path().to_string_lossy().into_owned()
    }

    /// Leases a port to `name` and returns it.
    ///
    /// A name that already holds a lease gets its port back (asking it for another fixed port,
    /// or the other protocol, is `PORTPOOL_CONFLICT`). `'flexible'` (default): `port` when it
    /// is neither leased nor bound, else the next such port above it; none left is
    /// `PORTPOOL_EXHAUSTED`. `'fixed'`: exactly `port`; leased to another name, or bound by a
    /// process outside the registry without `force`, is `PORTPOOL_CONFLICT`. Stale leases in
    /// the way are reclaimed.
    #[napi(strict)]
    pub fn register(
        &self,
        env: Env,
        name: String,
        port: f64,
        options: Option<RegisterOptions>,
    ) -> napi::Result<u32> {
        run_now(&env, register_op(self.inner.clone(), name, port, options))
    }

    /// `register` off the main thread: resolves to the port.
    #[napi(strict, ts_return_type = "Promise<number>")]
    pub fn register_async(
        &self,
        name: String,
        port: f64,
        options: Option<RegisterOptions>,
    ) -> AsyncTask<Job<u32>> {
        Job::spawn(register_op(self.inner.clone(), name, port, options))
    }

    /// Leases the next free port of a pool (`'default'` unless `options.pool` names another)
    /// to `name` and returns it. Starts at the pool's cursor, skips leased and (when the pool
    /// probes) bound ports, wraps around, and leaves the cursor after the port handed out for
    /// every process on the host. A name that already holds a lease gets its port back. No
    /// free port is `PORTPOOL_EXHAUSTED`; an unknown pool is `PORTPOOL_NOT_FOUND`.
    #[napi(strict)]
    pub fn allocate(
        &self,
        env: Env,
        name: String,
        options: Option<AllocateOptions>,
    ) -> napi::Result<u32> {
        run_now(&env, allocate_op(self.inner.clone(), name, options))
    }

    /// `allocate` off the main thread: resolves to the port.
    #[napi(strict, ts_return_type = "Promise<number>")]
    pub fn allocate_async(
        &self,
        name: String,
        options: Option<AllocateOptions>,
    ) -> AsyncTask<Job<u32>> {
        Job::spawn(allocate_op(self.inner.clone(), name, options))
    }

    /// The port `name` holds, or `null`. A stale lease is reported until something reclaims
    /// it.
    #[napi(strict)]
    pub fn get(&self, env: Env, name: String) -> napi::Result<Option<u32>> {
        run_now(&env, get_op(self.inner.clone(), name))
    }

    /// `get` off the main thread: resolves to the port or `null`.
    #[napi(strict, ts_return_type = "Promise<number | null>")]
    pub fn get_async(&self, name: String) -> AsyncTask<Job<Option<u32>>> {
        Job::spawn(get_op(self.inner.clone(), name))
    }

    /// Releases `name`'s lease; returns whether there was one (an unknown name is not an
    /// error).
    #[napi(strict)]
    pub fn release(&self, env: Env, name: String) -> napi::Result<bool> {
        run_now(&env, release_op(self.inner.clone(), name))
    }

    /// `release` off the main thread: resolves to whether there was a lease.
    #[napi(strict, ts_return_type = "Promise<boolean>")]
    pub fn release_async(&self, name: String) -> AsyncTask<Job<bool>> {
        Job::spawn(release_op(self.inner.clone(), name))
    }

    /// Every lease, sorted by name.
    #[napi(strict)]
    pub fn list(&self, env: Env) -> napi::Result<Vec<Lease>> {
        run_now(&env, list_op(self.inner.clone()))
    }

    /// `list` off the main thread.
    #[napi(strict, ts_return_type = "Promise<Array<Lease>>")]
    pub fn list_async(&self) -> AsyncTask<Job<Vec<Lease>>> {
        Job::spawn(list_op(self.inner.clone()))
    }

    /// Every pool, sorted by name. The `'default'` pool (9000–9999 unless changed) is always
    /// there.
    #[napi(strict)]
    pub fn pools(&self, env: Env) -> napi::Result<Vec<Pool>> {
        run_now(&env, pools_op(self.inner.clone()))
    }

    /// `pools` off the main thread.
    #[napi(strict, ts_return_type = "Promise<Array<Pool>>")]
    pub fn pools_async(&self) -> AsyncTask<Job<Vec<Pool>>> {
        Job::spawn(pools_op(self.inner.clone()))
    }

    /// Creates pool `name` over `start`–`end` (inclusive), or changes its range, and returns
    /// it. A cursor outside the new range restarts at `start`; leases already made are kept.
    /// `start` after `end` is `PORTPOOL_INVALID_ARGUMENT`.
    #[napi(strict)]
    pub fn set_pool(
        &self,
        env: Env,
        name: String,
        start: f64,
        end: f64,
        options: Option<PoolOptions>,
    ) -> napi::Result<Pool> {
        run_now(
            &env,
            set_pool_op(self.inner.clone(), name, start, end, options),
        )
    }

    /// `setPool` off the main thread: resolves to the pool.
    #[napi(strict, ts_return_type = "Promise<Pool>")]
    pub fn set_pool_async(
        &self,
        name: String,
        start: f64,
        end: f64,
        options: Option<PoolOptions>,
    ) -> AsyncTask<Job<Pool>> {
        Job::spawn(set_pool_op(self.inner.clone(), name, start, end, options))
    }

    /// Empties the registry: no leases, and only the `'default'` pool at 9000–9999.
    #[napi(strict)]
    pub fn reset(&self, env: Env) -> napi::Result<()> {
        run_now(&env, reset_op(self.inner.clone()))
    }

    /// `reset` off the main thread.
    #[napi(strict, ts_return_type = "Promise<void>")]
    pub fn reset_async(&self) -> AsyncTask<Job<()>> {
        Job::spawn(reset_op(self.inner.clone()))
    }

    /// Releases every stale lease (owner process gone, or time to live over) and returns
    /// them with the reason each was stale.
    #[napi(strict)]
    pub fn gc(&self, env: Env) -> napi::Result<Vec<Reclaimed>> {
        run_now(&env, gc_op(self.inner.clone()))
    }

    /// `gc` off the main thread.
    #[napi(strict, ts_return_type = "Promise<Array<Reclaimed>>")]
    pub fn gc_async(&self) -> AsyncTask<Job<Vec<Reclaimed>>> {
        Job::spawn(gc_op(self.inner.clone()))
    }

    /// Restarts `name`'s time to live from now, with `ttl` seconds or, when omitted, the time
    /// to live it was given; returns the renewed lease. An unknown name is
    /// `PORTPOOL_NOT_FOUND`; a lease without a time to live, renewed without one, is
    /// `PORTPOOL_INVALID_ARGUMENT`.
    #[napi(strict)]
    pub fn renew(&self, env: Env, name: String, ttl: Option<f64>) -> napi::Result<Lease> {
        run_now(&env, renew_op(self.inner.clone(), name, ttl))
    }

    /// `renew` off the main thread: resolves to the renewed lease.
    #[napi(strict, ts_return_type = "Promise<Lease>")]
    pub fn renew_async(&self, name: String, ttl: Option<f64>) -> AsyncTask<Job<Lease>> {
        Job::spawn(renew_op(self.inner.clone(), name, ttl))
    }

    /// Whether `port` is free, leased (to whom) or bound outside the registry, for `protocol`
    /// (`'tcp'` by default). Stale leases count as free, as `register` and `allocate` would
    /// reclaim them.
    #[napi(strict)]
    pub fn check(
        &self,
        env: Env,
        port: f64,
        #[napi(ts_arg_type = "'tcp' | 'udp'")] protocol: Option<String>,
    ) -> napi::Result<PortCheck> {
        run_now(&env, check_op(self.inner.clone(), port, protocol))
    }

    /// `check` off the main thread.
    #[napi(strict, ts_return_type = "Promise<PortCheck>")]
    pub fn check_async(
        &self,
        port: f64,
        #[napi(ts_arg_type = "'tcp' | 'udp'")] protocol: Option<String>,
    ) -> AsyncTask<Job<PortCheck>> {
        Job::spawn(check_op(self.inner.clone(), port, protocol))
    }

    /// Begins a zero-downtime handover of `name`: leases a port for the next generation while
    /// the current one stays valid, and returns it. Both ports are leased and listed (the new
    /// one as the lease's `next`); `get` returns the current port until `commitHandover`. A
    /// pool lease's new port comes from its pool, other leases take the first free port above
    /// the current one. `options.pid` is the next generation's process. Begun twice, returns
    /// the same port. An unknown name is `PORTPOOL_NOT_FOUND`; no free port is
    /// `PORTPOOL_EXHAUSTED`.
    #[napi(strict)]
    pub fn begin_handover(
        &self,
        env: Env,
        name: String,
        options: Option<HandoverOptions>,
    ) -> napi::Result<u32> {
        run_now(&env, begin_handover_op(self.inner.clone(), name, options))
    }

    /// `beginHandover` off the main thread: resolves to the next generation's port.
    #[napi(strict, ts_return_type = "Promise<number>")]
    pub fn begin_handover_async(
        &self,
        name: String,
        options: Option<HandoverOptions>,
    ) -> AsyncTask<Job<u32>> {
        Job::spawn(begin_handover_op(self.inner.clone(), name, options))
    }

    /// Completes `name`'s handover: releases the old port and makes the next one current;
    /// returns the new port. The lease's owner becomes the next generation's process (the
    /// pid given to `beginHandover`, else `options.pid`, else none: the old generation's
    /// process never owns the new port). `options.pid` is the next generation as this caller
    /// knows it: a handover begun for another process is `PORTPOOL_CONFLICT`; without it,
    /// nothing is checked. An unknown or stale name, or no handover under way, is
    /// `PORTPOOL_NOT_FOUND`.
    #[napi(strict)]
    pub fn commit_handover(
        &self,
        env: Env,
        name: String,
        options: Option<HandoverOptions>,
    ) -> napi::Result<u32> {
        run_now(&env, commit_handover_op(self.inner.clone(), name, options))
    }

    /// `commitHandover` off the main thread: resolves to the new port.
    #[napi(strict, ts_return_type = "Promise<number>")]
    pub fn commit_handover_async(
        &self,
        name: String,
        options: Option<HandoverOptions>,
    ) -> AsyncTask<Job<u32>> {
        Job::spawn(commit_handover_op(self.inner.clone(), name, options))
    }

    /// Abandons `name`'s handover: releases the next generation's port and returns it; the
    /// current lease is untouched. `options.pid` is checked as by `commitHandover`. An
    /// unknown or stale name, or no handover under way, is `PORTPOOL_NOT_FOUND`.
    #[napi(strict)]
    pub fn abort_handover(
        &self,
        env: Env,
        name: String,
        options: Option<HandoverOptions>,
    ) -> napi::Result<u32> {
        run_now(&env, abort_handover_op(self.inner.clone(), name, options))
    }

    /// `abortHandover` off the main thread: resolves to the released port.
    #[napi(strict, ts_return_type = "Promise<number>")]
    pub fn abort_handover_async(
        &self,
        name: String,
        options: Option<HandoverOptions>,
    ) -> AsyncTask<Job<u32>> {
        Job::spawn(abort_handover_op(self.inner.clone(), name, options))
    }

    /// The leases holding `port` (TCP and UDP) and the server sockets bound to it with their
    /// processes. Where the host's socket tables cannot be read, the leases only, and
    /// `unavailable` says why. Costs a walk over every process's file descriptors.
    #[napi(strict)]
    pub fn who(&self, env: Env, port: f64) -> napi::Result<Who> {
        run_now(&env, who_op(self.inner.clone(), port))
    }

    /// `who` off the main thread.
    #[napi(strict, ts_return_type = "Promise<Who>")]
    pub fn who_async(&self, port: f64) -> AsyncTask<Job<Who>> {
        Job::spawn(who_op(self.inner.clone(), port))
    }

    /// Registers every port a server socket is bound to now as a fixed, permanent lease named
    /// after its program (`nginx`, `nginx-2`, ...; `port-N` when the program cannot be seen),
    /// and returns the leases made. Ports already leased are left alone, so a second run makes
    /// none. With `options.dryRun`, returns the plan and writes nothing. Unreadable socket
    /// tables are `PORTPOOL_IO`.
    #[napi(strict)]
    pub fn migrate(&self, env: Env, options: Option<MigrateOptions>) -> napi::Result<Vec<Lease>> {
        run_now(&env, migrate_op(self.inner.clone(), options))
    }

    /// `migrate` off the main thread.
    #[napi(strict, ts_return_type = "Promise<Array<Lease>>")]
    pub fn migrate_async(&self, options: Option<MigrateOptions>) -> AsyncTask<Job<Vec<Lease>>> {
        Job::spawn(migrate_op(self.inner.clone(), options))
    }

    /// Reads a flat `{"name": port, ...}` JSON file (a hand-kept port map) into fixed,
    /// permanent TCP leases, in one write; names already present with the same port are
    /// skipped. Any problem (invalid JSON, a bad name or port, one port given to two names, a
    /// port leased to another name) refuses the whole file with every problem listed, and
    /// writes nothing. Ports are not probed.
    #[napi(strict)]
    pub fn import_file(&self, env: Env, path: String) -> napi::Result<ImportReport> {
        run_now(&env, import_file_op(self.inner.clone(), path))
    }

    /// `importFile` off the main thread.
    #[napi(strict, ts_return_type = "Promise<ImportReport>")]
    pub fn import_file_async(&self, path: String) -> AsyncTask<Job<ImportReport>> {
        Job::spawn(import_file_op(self.inner.clone(), path))
    }
}
