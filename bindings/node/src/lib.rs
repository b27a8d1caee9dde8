//! The npm package `portpool`: the Node.js binding of portpool-core.
//!
//! Every registry operation is one row of [`operations!`]'s table: its arguments, the one
//! `portpool_core` call it makes, and its docs. From that row come the synchronous method
//! (`register`), the `…Async` method (`registerAsync`) and the row of `__operations()` that
//! `index.js` reads. Values JavaScript receives are core's own, serialized (values.rs);
//! options objects are declared once each (options.rs), those that carry core's lease options
//! generated from core and the options table (options_gen.rs), whose `lease()` converts each
//! field through the converter of its kind below (`flag_arg`, `protocol_arg`, …). Errors map
//! `portpool_core::ErrorKind` to an `Error` whose `code` is `PORTPOOL_<KIND>`.
//!
//! An `…Async` method of the addon makes one *attempt*: it runs on the libuv thread pool but
//! waits at most [`ATTEMPT`] for the registry's lock (core's `with_wait`), then resolves to
//! `{ value, created }` or rejects, `PORTPOOL_BUSY` when the lock stayed held. `index.js`
//! retries a busy attempt from a timer, with back-off, until the handle's lock timeout, so no
//! thread of libuv's pool waits for the lock, an `AbortSignal` ends the wait at once, and
//! `process.exit()` or `worker.terminate()` never waits on another process.

mod options;
mod options_gen;
mod values;

use std::net::IpAddr;
use std::os::fd::IntoRawFd;
use std::panic::{AssertUnwindSafe, catch_unwind};
use std::path::Path;
use std::str::FromStr;
use std::sync::Arc;
use std::time::Duration;

use napi::bindgen_prelude::{AsyncTask, Either, Object, ToNapiValue, TypeName, sys};
use napi::{Env, JsError, Task};
use napi_derive::napi;
use portpool_core as pp;

pub use options::*;
pub use options_gen::*;
pub use values::*;

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
    let result = op().map_err(|err| js_error(env, &err));
    emit_notices(env)?;
    result
}

/// Core's once-per-process warnings (a registry this process could not compact) go to
/// `process.emitWarning` with code `PORTPOOL_COMPACTION_WARNING`, as `setPool`'s go with
/// theirs.
fn emit_notices(env: &Env) -> napi::Result<()> {
    use napi::bindgen_prelude::{FnArgs, Function, JsObjectValue, Unknown};
    let notices = pp::take_warnings();
    if notices.is_empty() {
        return Ok(());
    }
    let process: Object = env.get_global()?.get_named_property("process")?;
    let emit: Function<'_, FnArgs<(String, Object)>, Unknown> =
        process.get_named_property("emitWarning")?;
    for notice in notices {
        let mut options = Object::new(env)?;
        options.set_named_property("code", "PORTPOOL_COMPACTION_WARNING")?;
        emit.apply(process, FnArgs::from((notice, options)))?;
    }
    Ok(())
}

/// The longest one `…Async` attempt waits for the registry's lock on a libuv thread: long
/// enough for a lock held for a write (tens of microseconds) to come free, short enough that
/// other work queued on the pool (`fs`, `dns.lookup`) is never held up for long.
pub const ATTEMPT: Duration = Duration::from_millis(2);

type Op<T> = Box<dyn FnOnce() -> pp::Result<(T, Made)> + Send>;

/// One attempt run on the libuv thread pool; see the crate docs.
pub struct Job<T> {
    op: Option<Op<T>>,
    failure: Option<pp::Error>,
}

/// What an attempt resolves to: `{ value, created, made }`, `created` being whether the call
/// made the lease of its name (`null` when it makes none) and `made` the names a batch
/// leased, so that `index.js` can undo what landed after its caller gave up.
pub struct Attempt<T>(T, Made);

impl<T: ToNapiValue> ToNapiValue for Attempt<T> {
    unsafe fn to_napi_value(env: sys::napi_env, val: Self) -> napi::Result<sys::napi_value> {
        let mut obj = Object::new(&Env::from(env))?;
        obj.set("value", val.0)?;
        obj.set("created", val.1.created)?;
        obj.set("made", val.1.names)?;
        // SAFETY: `env` is the live environment napi-rs handed to this conversion.
        unsafe { Object::to_napi_value(env, obj) }
    }
}

impl<T> TypeName for Attempt<T> {
    fn type_name() -> &'static str {
        "Object"
    }
    fn value_type() -> napi::ValueType {
        napi::ValueType::Object
    }
}

impl<T> Task for Job<T>
where
    T: ToNapiValue + Send + 'static,
{
    type Output = Attempt<T>;
    type JsValue = Attempt<T>;

    fn compute(&mut self) -> napi::Result<Attempt<T>> {
        let op = self
            .op
            .take()
            .ok_or_else(|| napi::Error::from_reason("portpool: a job ran twice"))?;
        let wait = pp::Wait {
            timeout: Some(ATTEMPT),
            check: None,
        };
        match catch_unwind(AssertUnwindSafe(|| pp::with_wait(&wait, op))) {
            Ok(Ok((value, created))) => Ok(Attempt(value, created)),
            Ok(Err(err)) => {
                let reason = err.message().to_owned();
                self.failure = Some(err);
                Err(napi::Error::from_reason(reason))
            }
            Err(_) => Err(napi::Error::from_reason("portpool: internal error (panic)")),
        }
    }

    fn resolve(&mut self, env: Env, output: Attempt<T>) -> napi::Result<Attempt<T>> {
        emit_notices(&env)?;
        Ok(output)
    }

    fn reject(&mut self, env: Env, err: napi::Error) -> napi::Result<Attempt<T>> {
        Err(match self.failure.take() {
            Some(failure) => js_error(&env, &failure),
            None => err,
        })
    }
}

/// The Promise an `…Async` method returns (named so that `index.d.ts` says `Promise<T>`).
pub struct Promise<T: ToNapiValue + Send + 'static>(AsyncTask<Job<T>>);

impl<T: ToNapiValue + Send + 'static> Promise<T> {
    fn attempt(op: impl FnOnce() -> pp::Result<(T, Made)> + Send + 'static) -> Self {
        Promise(AsyncTask::new(Job {
            op: Some(Box::new(op)),
            failure: None,
        }))
    }
}

impl<T: ToNapiValue + Send + 'static> ToNapiValue for Promise<T> {
    unsafe fn to_napi_value(env: sys::napi_env, val: Self) -> napi::Result<sys::napi_value> {
        // SAFETY: as above.
        unsafe { AsyncTask::to_napi_value(env, val.0) }
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
/// number (1.5, NaN, Infinity) or not within 64 bits (2^64) is refused with core's words.
fn integer_arg(value: f64, what: &str) -> pp::Result<i64> {
    if value.fract() != 0.0 || !value.is_finite() {
        Err(pp::not_an_integer(what, &value.to_string()))
    } else if value >= i64::MIN as f64 && value < i64::MAX as f64 {
        Ok(value as i64)
    } else {
        Err(pp::integer_out_of_range(what, &value.to_string()))
    }
}

fn pid_arg(value: Option<f64>) -> pp::Result<Option<u32>> {
    value
        .map(|v| integer_arg(v, "pid").and_then(pp::pid_from_i64))
        .transpose()
}

fn ticket_arg(value: Option<f64>) -> pp::Result<Option<u64>> {
    value
        .map(|v| integer_arg(v, "ticket").and_then(pp::ticket_from_i64))
        .transpose()
}

/// Endings of handovers from JavaScript as core's.
fn endings_arg(endings: &[Ending]) -> pp::Result<Vec<pp::Ending<'_>>> {
    endings
        .iter()
        .enumerate()
        .map(|(i, e)| {
            let name = e.name.as_deref().ok_or_else(|| {
                pp::Error::new(
                    pp::ErrorKind::InvalidArgument,
                    format!("invalid endings[{i}]: it has no name"),
                )
            })?;
            Ok(pp::Ending {
                name,
                ticket: ticket_arg(e.ticket)?,
            })
        })
        .collect()
}

/// `options` as core's options of a begun handover.
fn handover_arg(options: &HandoverOptions) -> pp::Result<pp::HandoverOptions> {
    Ok(pp::HandoverOptions {
        pid: pid_arg(options.pid)?,
        ticket: ticket_arg(options.ticket)?,
        supersede: options.supersede.unwrap_or(false),
    })
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

fn mode_arg(value: Option<&str>) -> pp::Result<pp::Mode> {
    value
        .map(pp::Mode::from_str)
        .transpose()
        .map(Option::unwrap_or_default)
}

fn ports(list: Vec<u16>) -> Vec<u32> {
    list.into_iter().map(u32::from).collect()
}

/// A list of ports (`exclude`, `ports`), each checked as [`port_arg`] checks one.
fn port_list(list: Option<&[f64]>) -> pp::Result<Vec<u16>> {
    list.unwrap_or_default()
        .iter()
        .copied()
        .map(port_arg)
        .collect()
}

/// Preferred ports given as one number or an array of them.
fn preferred(ports: PortList) -> pp::Result<Vec<u16>> {
    port_list(Some(&ports.0))
}

/// `[lo, hi]` as core's range; core checks that `lo` is not after `hi`.
fn range_arg(range: Option<PortRange>) -> pp::Result<Option<(u16, u16)>> {
    range
        .map(|PortRange(lo, hi)| Ok((port_arg(lo)?, port_arg(hi)?)))
        .transpose()
}

/// An IP address (`'127.0.0.1'`, `'::1'`), parsed by core; whether it is an address of this
/// host is core's check too.
fn host_arg(host: Option<&str>) -> pp::Result<Option<IpAddr>> {
    host.map(pp::parse_host).transpose()
}

/// A count of ports (`findFree`'s `count`); core says how many it takes.
fn count_arg(value: f64) -> pp::Result<usize> {
    integer_arg(value, "count").and_then(pp::count_from_i64)
}

/// A backlog (`listen`'s); core says how long it may be and what none means.
fn backlog_arg(value: Option<f64>) -> pp::Result<u32> {
    value.map_or(Ok(pp::DEFAULT_BACKLOG), |v| {
        integer_arg(v, "backlog").and_then(pp::backlog_from_i64)
    })
}

/// A flag (`force`, `bindable`): off unless given.
fn flag_arg(value: Option<bool>) -> bool {
    value.unwrap_or(false)
}

/// Core's `Choice` from `{ pool, port, mode }`: a pool's port (the default), or with `port`
/// the preferred ports in `mode`.
fn choice(
    pool: Option<String>,
    port: Option<PortList>,
    mode: Option<&str>,
) -> pp::Result<pp::Choice> {
    let mode = mode.map(pp::Mode::from_str).transpose()?;
    pp::Choice::new(pool, port.map(preferred).transpose()?, mode)
}

/// Core's lease options, choice and bind options from `listen`'s options object.
fn listening(
    options: ListenOptions,
) -> pp::Result<(pp::LeaseOptions, pp::Choice, pp::ListenOptions)> {
    // `host` comes as a lease option, which core's `listen` both probes and binds.
    let lease = options.lease()?;
    let choice = choice(options.pool, options.port, options.mode.as_deref())?;
    let bind = pp::ListenOptions {
        backlog: backlog_arg(options.backlog)?,
        ..pp::ListenOptions::default()
    };
    Ok((lease, choice, bind))
}

/// The version of portpool, the same for every package built from this workspace.
#[napi]
pub const VERSION: &str = pp::VERSION;

/// A name for a lease its caller gave none (get-port's ports): unique on the host, as core
/// makes it for every front end (`{tool}:{pid}:{start}:{label}{serial}`).
#[napi(strict)]
pub fn unnamed_lease_name(tool: String, label: String) -> String {
    pp::unnamed_lease_name(&tool, &label)
}

/// Whether `port` can be bound for `protocol` (`'tcp'` by default) on this host right now:
/// on both the IPv4 and the IPv6 wildcard address, or with `{ host }` on that one address
/// only (a port another process has bound on another address then reads as free). A
/// snapshot: use `Registry.allocate` or `Registry.register` to keep other portpool users off
/// a port, or `Registry.listen` to hold it. Takes no lock. `host` not an address of this
/// machine is `PORTPOOL_INVALID_ARGUMENT`.
#[napi(strict)]
pub fn is_free(
    env: Env,
    port: f64,
    #[napi(ts_arg_type = "'tcp' | 'udp' | 'tcp+udp' | IsFreeOptions")] options: Option<
        ProtocolOr<IsFreeOptions>,
    >,
) -> napi::Result<bool> {
    run_now(&env, || {
        let ProtocolOr { protocol, options } = options.unwrap_or_default();
        pp::is_free_at(
            port_arg(port)?,
            protocol_arg(protocol.or(options.protocol).as_deref())?,
            host_arg(options.host.as_deref())?,
        )
    })
}

/// A port free for `protocol` (`'tcp'` by default) right now: the first free one of
/// `ports`, then of `range`, else one the kernel picks; never one of `exclude`. Each is
/// probed on both wildcard addresses, or on `host` only. With `count`, an array of that many
/// distinct free ports (fewer free than asked is `PORTPOOL_EXHAUSTED`). Takes no lease: for
/// tests and tools that bind at once; `Registry.listen` leases and binds in one step.
///
/// (types-header.d.ts declares the overloads that tell a number from an array by `count`.)
#[napi(
    strict,
    ts_args_type = "options?: 'tcp' | 'udp' | 'tcp+udp' | FindFreeOptions",
    ts_return_type = "number | number[]"
)]
pub fn find_free(
    env: Env,
    options: Option<ProtocolOr<FindFreeOptions>>,
) -> napi::Result<Either<u32, Vec<u32>>> {
    run_now(&env, || {
        let ProtocolOr { protocol, options } = options.unwrap_or_default();
        let find = pp::FindOptions {
            protocol: protocol_arg(protocol.or(options.protocol).as_deref())?,
            ports: port_list(options.ports.as_deref())?,
            range: range_arg(options.range)?,
            exclude: port_list(options.exclude.as_deref())?,
            count: options.count.map(count_arg).transpose()?.unwrap_or(1),
            host: host_arg(options.host.as_deref())?,
        };
        let found = pp::find_free_ports(&find)?;
        if let (None, &[port]) = (options.count, found.as_slice()) {
            return Ok(Either::A(u32::from(port)));
        }
        Ok(Either::B(ports(found)))
    })
}

/// A handle on one registry file, shared by every process and language on the host.
///
/// Opening does not touch the disk. A call that changes the registry takes the file's lock
/// for that call only (waiting at most the lock timeout, then `PORTPOOL_BUSY`), so any number
/// of handles, in any number of processes, may use one registry at once; a call that only
/// reads takes no lock. A change returns once it is on the disk, unless it concerns only
/// leases owned by a process (`pid`) or a pool's cursor: those survive any crash of a
/// process, but not a power loss, after which their owners are gone anyway.
///
/// Every call has an `…Async` twin returning a Promise that settles with the same value, or
/// rejects with the same `Error`, as the synchronous call. It waits for the lock without
/// holding a thread (libuv's pool stays free for `fs` and `dns`), takes `{ signal }` (an
/// `AbortSignal`: rejects with an `AbortError` and leaves no lease behind), and its errors
/// carry the caller's stack.
///
/// Errors carry `err.code`: `PORTPOOL_NOT_FOUND`, `PORTPOOL_INVALID_ARGUMENT`,
/// `PORTPOOL_CONFLICT`, `PORTPOOL_EXHAUSTED`, `PORTPOOL_REGISTRY`, `PORTPOOL_IO` or
/// `PORTPOOL_BUSY`. An argument of the wrong type, or an unknown option, is a `TypeError`.
/// A `Registry` cannot be cloned or posted to a worker (a `DataCloneError` says so): send its
/// `path` and open it there.
#[napi]
pub struct Registry {
    inner: Arc<pp::Registry>,
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
            let namespace = options.as_ref().and_then(|o| o.namespace.clone());
            let force = options.as_ref().and_then(|o| o.force).unwrap_or(false);
            let reg = pp::Registry::open(path.as_deref().map(Path::new))?
                .with_namespace(namespace.as_deref())?
                .with_force(force);
            match options.and_then(|o| o.lock_timeout) {
                Some(seconds) => Ok(reg.with_lock_timeout(pp::lock_timeout_from_secs(seconds)?)),
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

    /// Seconds a call waits for another process's lock before failing with `PORTPOOL_BUSY`.
    #[napi(getter)]
    pub fn lock_timeout(&self) -> f64 {
        self.inner.lock_timeout().as_secs_f64()
    }

    /// Whether calls may change what another user made (see `OpenOptions.force`).
    #[napi(getter)]
    pub fn force(&self) -> bool {
        self.inner.force()
    }
}

/// A lease for one scope, from `Registry.lease` (or `leaseSync`): ended by `release()`, by
/// leaving an `await using` (or `using`) block, or by the owner process's exit.
///
/// The lease is always new: a name that already holds a lease is `PORTPOOL_CONFLICT`. It is
/// owned by `pid`, else by this process, so it is reclaimed if the process dies inside the
/// scope. In a worker thread, `process.pid` is the whole process's: the lease outlives the
/// worker unless released. Only the process that made it releases it, once, and only while
/// the name still holds this port (a lease released or handed over meanwhile is left alone).
#[napi]
pub struct ScopedLease {
    reg: Arc<pp::Registry>,
    scope: Arc<pp::ScopedLease>,
    fd: Option<i32>,
}

/// `Registry.lease`'s result, which always made its lease.
pub struct Scoped(ScopedLease);

impl Outcome for Scoped {
    type Value = ScopedLease;
    fn split(self) -> (ScopedLease, Made) {
        (self.0, Made::lease(true))
    }
}

#[napi]
impl ScopedLease {
    /// The lease's name.
    #[napi(getter)]
    pub fn name(&self) -> String {
        self.scope.name().to_owned()
    }

    /// The leased port.
    #[napi(getter)]
    pub fn port(&self) -> u32 {
        u32::from(self.scope.port())
    }

    /// `'tcp'`, `'udp'` or `'tcp+udp'`.
    #[napi(getter, ts_return_type = "'tcp' | 'udp' | 'tcp+udp'")]
    pub fn protocol(&self) -> &'static str {
        self.scope.protocol().as_str()
    }

    /// From `listenScoped`: the socket bound to `port` (see `Registry.listen`), yours to
    /// pass to `server.listen({ fd })` and to close. `null` from `lease`. Ending the scope
    /// releases the lease and leaves the socket open: close the server first.
    #[napi(getter)]
    pub fn fd(&self) -> Option<i32> {
        self.fd
    }

    /// Whether `release` (or leaving the block) has ended the scope in this process.
    #[napi(getter)]
    pub fn released(&self) -> bool {
        self.scope.is_ended()
    }

    /// Ends the scope: releases the lease, once. `true`: this call released it; `false`: the
    /// scope had ended, or this is not the process that made it, or the name no longer holds
    /// this lease. An error (e.g. `PORTPOOL_BUSY`) leaves the scope open to try again.
    /// `[Symbol.dispose]()` calls it.
    #[napi(strict)]
    pub fn release(&self, env: Env) -> napi::Result<bool> {
        run_now(&env, || self.scope.release(&self.reg))
    }

    /// `release` as a Promise, waiting for the lock without holding a thread.
    /// `[Symbol.asyncDispose]()` calls it.
    #[napi(strict)]
    pub fn release_async(&self) -> Promise<bool> {
        let (reg, scope) = (self.reg.clone(), self.scope.clone());
        Promise::attempt(move || Ok((scope.release(&reg)?, Made::default())))
    }

    /// The lock timeout of the registry this lease came from, for `index.js`.
    #[napi(getter, js_name = "__lockTimeout", skip_typescript)]
    pub fn lock_timeout(&self) -> f64 {
        self.reg.lock_timeout().as_secs_f64()
    }
}

/// One row of `__operations()`: what `index.js` needs to wrap a method pair.
#[napi(object)]
pub struct Operation {
    /// The synchronous method's name.
    pub sync: String,
    /// The `…Async` method's name.
    pub r#async: String,
    /// The positional arguments' names; the options object, if any, comes after them.
    pub args: Vec<String>,
}

/// The result of a row's body: the value, and whether the call made a lease.
macro_rules! outcome {
    ($out:ty; made $result:expr) => {
        $result.map(Outcome::split)
    };
    ($out:ty; $result:expr) => {{
        let result: pp::Result<$out> = $result;
        result.map(|value| (value, Made::default()))
    }};
}

#[napi]
impl Registry {
    /// Undoes a call whose caller gave up after it landed, for `index.js`: core's
    /// `Grant::undo`, which releases `name` only while it still holds `port` for `protocol`
    /// (a name released and leased again meanwhile is left alone), as Python undoes.
    #[napi(js_name = "__undo", skip_typescript)]
    pub fn undo(&self, name: String, port: f64, protocol: Option<String>) -> Promise<bool> {
        let reg = self.inner.clone();
        Promise::attempt(move || {
            let grant = pp::Grant {
                port: port_arg(port)?,
                created: true,
            };
            let protocol = protocol_arg(protocol.as_deref())?;
            Ok((grant.undo(&reg, &name, protocol)?, Made::default()))
        })
    }
}

/// One row of the table: a `#[napi] impl Registry` block with both methods.
macro_rules! operation {
    (
        [$($doc:tt)*] $sync:ident $async:ident
        ( $($(#[$am:meta])* $arg:ident : $ty:ty),* ; $opt:ident : $opts:ty )
        -> $out:ty, [$($made:ident)?] |$reg:ident| $body:expr
    ) => {
        #[napi]
        impl Registry {
            $($doc)*
            #[napi(strict)]
            pub fn $sync(
                &self, env: Env, $($(#[$am])* $arg: $ty,)* $opt: Option<$opts>
            ) -> napi::Result<$out> {
                let $reg = self.inner.clone();
                let $opt = $opt.unwrap_or_default();
                run_now(&env, move || outcome!($out; $($made)? $body).map(|(value, _)| value))
            }

            /// The Promise form: see the synchronous method. `signal` aborts it.
            #[napi(strict)]
            pub fn $async(
                &self, $($(#[$am])* $arg: $ty,)* $opt: Option<WithSignal<$opts>>
            ) -> Promise<$out> {
                let $reg = self.inner.clone();
                let $opt = $opt.map(|o| o.0).unwrap_or_default();
                Promise::attempt(move || outcome!($out; $($made)? $body))
            }
        }
    };
    (
        [$($doc:tt)*] $sync:ident $async:ident
        ( $($(#[$am:meta])* $arg:ident : $ty:ty),* )
        -> $out:ty, [$($made:ident)?] |$reg:ident| $body:expr
    ) => {
        #[napi]
        impl Registry {
            $($doc)*
            #[napi(strict)]
            pub fn $sync(&self, env: Env, $($(#[$am])* $arg: $ty),*) -> napi::Result<$out> {
                let $reg = self.inner.clone();
                run_now(&env, move || outcome!($out; $($made)? $body).map(|(value, _)| value))
            }

            /// The Promise form: see the synchronous method. `signal` aborts it.
            #[napi(strict)]
            pub fn $async(
                &self, $($(#[$am])* $arg: $ty,)* options: Option<AsyncOptions>
            ) -> Promise<$out> {
                let _ = options;
                let $reg = self.inner.clone();
                Promise::attempt(move || outcome!($out; $($made)? $body))
            }
        }
    };
}

/// The names of a row's positional arguments.
macro_rules! arg_names {
    ($($(#[$am:meta])* $arg:ident : $ty:ty),* $(; $opt:ident : $opts:ty)?) => {
        vec![$(stringify!($arg).to_owned()),*]
    };
}

/// The operation list: each row makes a method pair (see [`operation!`]) and a row of
/// `__operations()`. A row: docs, `fn sync / async (positional args; options: Type)`, the
/// JavaScript value type, `made` when the call may make a lease (its body then returns an
/// [`Outcome`] saying whether it did), and the body, which calls core once.
macro_rules! operations {
    ($(
        $(#[doc = $doc:literal])*
        fn $sync:ident / $async:ident ( $($args:tt)* ) -> $out:ty $(, $made:ident)?
            = |$reg:ident| $body:expr;
    )*) => {
        $( operation! {
            [$(#[doc = $doc])*] $sync $async ( $($args)* ) -> $out, [$($made)?] |$reg| $body
        } )*

        /// The registry operations, for `index.js`.
        #[napi(js_name = "__operations", skip_typescript)]
        pub fn operations() -> Vec<Operation> {
            vec![$(Operation {
                sync: camel(stringify!($sync)),
                r#async: camel(stringify!($async)),
                args: arg_names!($($args)*),
            }),*]
        }
    };
}

operations! {
    /// Leases a port to `name` and returns it: the first free of the preferred `port` (a
    /// number, or an array in order of preference), then of `options.range`; never one of
    /// `options.exclude`.
    ///
    /// A name that already holds a lease gets its port back (asking it for other fixed
    /// ports, or the other protocol, is `PORTPOOL_CONFLICT`). `'flexible'` (default): without
    /// a range, the next port above the first preferred one that is neither leased nor
    /// bound; none left is `PORTPOOL_EXHAUSTED`. `'fixed'`: a preferred port or one of the
    /// range; leased to another name, or bound by a process outside the registry without
    /// `force`, is passed over, and none left is `PORTPOOL_CONFLICT` (`PORTPOOL_EXHAUSTED`
    /// when a range was searched). Stale leases in the way are reclaimed.
    fn register / register_async (
        name: String,
        #[napi(ts_arg_type = "number | number[]")] port: PortList;
        options: RegisterOptions
    ) -> u32, made
        = |reg| {
            let lease = options.lease()?;
            let mode = mode_arg(options.mode.as_deref())?;
            reg.register_grant(&name, preferred(port)?, mode, &lease).map(Granted)
        };

    /// Leases the next free port of a pool (`'default'` unless `options.pool` names another)
    /// to `name` and returns it. Starts at the pool's cursor, skips leased, excluded
    /// (`options.exclude`) and (when the pool probes) bound ports, wraps around, and leaves
    /// the cursor after the port handed out for every process on the host. A name that
    /// already holds a lease gets its port back. No free port is `PORTPOOL_EXHAUSTED`; an
    /// unknown pool is `PORTPOOL_NOT_FOUND`.
    fn allocate / allocate_async (name: String; options: AllocateOptions) -> u32, made
        = |reg| {
            let lease = options.lease()?;
            reg.allocate_grant(&name, options.pool.as_deref(), &lease).map(Granted)
        };

    /// Leases a port of one pool to each of `names`, in one write, and returns the ports in
    /// the order of `names`: all of them or, on any error (a bad or repeated name, too few
    /// free ports), none. Names that already hold a lease get their port back.
    fn allocate_many / allocate_many_async (names: Vec<String>; options: AllocateOptions) -> Vec<u32>, made
        = |reg| {
            let lease = options.lease()?;
            let borrowed: Vec<&str> = names.iter().map(String::as_str).collect();
            let grants = reg.allocate_many_grants(&borrowed, options.pool.as_deref(), &lease)?;
            Ok(GrantedMany(names, grants))
        };

    /// A new lease for one scope, owned by this process (or `options.pid`), from a pool or,
    /// with `options.port`, as `register` chooses: use it with `using l = reg.leaseSync(…)`,
    /// or release it with `l.release()`. See `ScopedLease`.
    fn lease_sync / lease (name: String; options: ScopeOptions) -> ScopedLease, made
        = |reg| {
            let lease = options.lease()?;
            let choice = choice(options.pool, options.port, options.mode.as_deref())?;
            let scope = reg.lease_scoped(&name, &choice, &lease)?;
            Ok(Scoped(ScopedLease { reg: reg.clone(), scope: Arc::new(scope), fd: None }))
        };

    /// Leases a port to `name` and binds it, in one step, under the registry's lock: no
    /// process, inside the registry or outside it, can take the port between the lease and
    /// the bind. Returns `{ fd, port, created }`: for TCP a listening socket (`SO_REUSEADDR`),
    /// for UDP a bound one, on `options.host`, else `::` dual-stack where the host has IPv6,
    /// else `0.0.0.0`; close-on-exec.
    ///
    /// The port comes from a pool (`options.pool`, `'default'` when omitted), or with
    /// `options.port` as `register` chooses it (`mode`, `range`); `exclude` applies to both.
    /// A name that already holds a lease gets a socket on its port (`created: false`); when
    /// another process has that port bound, `PORTPOOL_CONFLICT`.
    ///
    /// The fd is yours: `http.createServer(app).listen({ fd })` (or `net`), or for UDP
    /// `dgram.createSocket('udp6').bind({ fd })` (`'udp4'` with an IPv4 `host`); closing the
    /// server closes it. Closing does not release the lease: `release(name)` does, or, as
    /// the lease is owned by this process (or `options.pid`), its reclaim once that process
    /// has exited.
    fn listen / listen_async (name: String; options: ListenOptions) -> socket::Bound, made
        = |reg| {
            let (lease, choice, bind) = listening(options)?;
            reg.listen(&name, &choice, &lease, &bind).map(socket::Bound)
        };

    /// `listen` for one scope, as `lease` makes one: always a new lease (a name that holds
    /// one is `PORTPOOL_CONFLICT`, and nothing is bound), whose `ScopedLease` carries the
    /// socket as `fd`. `await using l = await reg.listenScoped(name, …)` releases the lease
    /// when the block ends; the socket stays open until you close it (close the server before
    /// the block ends).
    fn listen_scoped_sync / listen_scoped (name: String; options: ListenOptions) -> ScopedLease, made
        = |reg| {
            let (lease, choice, bind) = listening(options)?;
            let (scope, fd) = reg.listen_scoped(&name, &choice, &lease, &bind)?;
            let fd = Some(fd.into_raw_fd());
            Ok(Scoped(ScopedLease { reg: reg.clone(), scope: Arc::new(scope), fd }))
        };

    /// The port `name` holds, or `null`. A stale lease is reported until something reclaims
    /// it.
    fn get / get_async (name: String) -> Option<u32>
        = |reg| Ok(reg.get(&name)?.map(|lease| u32::from(lease.port)));

    /// Releases `name`'s lease; returns whether there was one (an unknown name is not an
    /// error).
    fn release / release_async (name: String) -> bool = |reg| reg.release(&name);

    /// Releases `name`'s lease and, when a handover is under way, its next generation's port
    /// too (`release` refuses such a lease with `PORTPOOL_CONFLICT`); returns whether there
    /// was a lease.
    fn release_all / release_all_async (name: String) -> bool = |reg| reg.release_all(&name);

    /// Every lease of every namespace, sorted by namespace (the default one first), then name.
    fn list_all_namespaces / list_all_namespaces_async () -> Vec<Lease>
        = |reg| view(&reg.list_all_namespaces()?);

    /// Every lease, sorted by name.
    fn list / list_async () -> Vec<Lease> = |reg| view(&reg.list()?);

    /// Every pool, sorted by name. The `'default'` pool (9000–18999 unless changed) is always
    /// there.
    fn pools / pools_async () -> Vec<Pool> = |reg| view(&reg.pools()?);

    /// Creates pool `name` over `start`–`end` (inclusive), or changes its range, and returns
    /// it. A cursor outside the new range restarts at `start`; leases already made are kept.
    /// `start` after `end` is `PORTPOOL_INVALID_ARGUMENT`. Each warning (e.g. a range that
    /// overlaps the kernel's ephemeral ports) goes to `process.emitWarning` with code
    /// `PORTPOOL_POOL_WARNING`.
    fn set_pool / set_pool_async (name: String, start: f64, end: f64; options: PoolOptions) -> warned::Pool
        = |reg| view(&reg.set_pool(&name, port_arg(start)?, port_arg(end)?, options.probe)?);

    /// Empties the registry: no leases, and only the `'default'` pool at 9000–18999.
    fn reset / reset_async () -> () = |reg| reg.reset();

    /// Brings a damaged registry back, as `portpool repair` does: keeps every line that reads
    /// back, moves the damaged file (and FIFOs, directories or other users' files planted at
    /// the registry's, the lock's or the spare's name) aside as `NAME.damaged-SECONDS`, never
    /// deleting them, rewrites the registry from what was kept, and reports exactly what it
    /// could not keep. A registry that reads back is left as it is; a newer version's file is
    /// `PORTPOOL_REGISTRY`.
    fn repair / repair_async () -> RepairReport = |reg| view(&reg.repair()?);

    /// Releases every stale lease (owner process gone, or time to live over) and returns
    /// them with the reason each was stale.
    fn gc / gc_async () -> Vec<Reclaimed> = |reg| view(&reg.gc()?);

    /// Restarts `name`'s time to live from now, with `ttl` seconds or, when omitted, the time
    /// to live it was given; returns the renewed lease. An unknown name is
    /// `PORTPOOL_NOT_FOUND`; a lease without a time to live, renewed without one, is
    /// `PORTPOOL_INVALID_ARGUMENT`.
    fn renew / renew_async (name: String, ttl: Option<f64>) -> Lease
        = |reg| view(&reg.renew(&name, ttl_arg(ttl)?)?);

    /// Whether `port` is free, leased (to whom) or bound outside the registry, for `protocol`
    /// (`'tcp'` by default). Stale leases count as free, as `register` and `allocate` would
    /// reclaim them.
    fn check / check_async (
        port: f64,
        #[napi(ts_arg_type = "'tcp' | 'udp' | 'tcp+udp'")] protocol: Option<String>
    ) -> PortState
        = |reg| view(&reg.check(port_arg(port)?, protocol_arg(protocol.as_deref())?)?);

    /// Begins a zero-downtime handover of `name`: leases a port for the next generation while
    /// the current one stays valid, and returns it. Both ports are leased and listed (the new
    /// one as the lease's `next`); `get` returns the current port until `commitHandover`. A
    /// pool lease's new port comes from its pool, other leases take the first free port above
    /// the current one. `options.pid` is the next generation's process. Begun while a
    /// handover is under way, `PORTPOOL_CONFLICT` naming its ticket (see `beginHandoverTicket`). An unknown name is `PORTPOOL_NOT_FOUND`; no free port is
    /// `PORTPOOL_EXHAUSTED`.
    fn begin_handover / begin_handover_async (name: String; options: HandoverOptions) -> u32, made
        = |reg| reg.begin_handover_grant(&name, pid_arg(options.pid)?).map(Granted);

    /// Completes `name`'s handover: releases the old port and makes the next one current;
    /// returns the new port. The lease's owner becomes the next generation's process (the
    /// pid given to `beginHandover`, else `options.pid`, else none: the old generation's
    /// process never owns the new port). `options.pid` is the next generation as this caller
    /// knows it: a handover begun for another process is `PORTPOOL_CONFLICT`; without it,
    /// nothing is checked. An unknown or stale name, or no handover under way, is
    /// `PORTPOOL_NOT_FOUND`.
    fn commit_handover / commit_handover_async (name: String; options: HandoverOptions) -> u32
        = |reg| {
            let ticket = ticket_arg(options.ticket)?;
            reg.commit_handover_ticket(&name, pid_arg(options.pid)?, ticket).map(u32::from)
        };

    /// Abandons `name`'s handover: releases the next generation's port and returns it; the
    /// current lease is untouched. `options.pid` is checked as by `commitHandover`. An
    /// unknown or stale name, or no handover under way, is `PORTPOOL_NOT_FOUND`.
    fn abort_handover / abort_handover_async (name: String; options: HandoverOptions) -> u32
        = |reg| {
            let ticket = ticket_arg(options.ticket)?;
            reg.abort_handover_ticket(&name, pid_arg(options.pid)?, ticket).map(u32::from)
        };

    /// Begins `name`'s handover as `beginHandover` does and returns it with its ticket. A
    /// handover already under way is `PORTPOOL_CONFLICT` naming its ticket and port, whoever
    /// asks, unless `options.ticket` is that ticket (a retry: the same handover, `created`
    /// false) or `options.supersede` (it is aborted and a new one begun, in one change).
    fn begin_handover_ticket / begin_handover_ticket_async (name: String; options: HandoverOptions) -> Handover, made
        = |reg| {
            let handover = reg.begin_handover_with(&name, &handover_arg(&options)?)?;
            Ok(Begun(view(&handover)?, handover.created))
        };

    /// Begins a handover of each of `names` in one change: all begin, or none does (the first
    /// refusal is the error). `options.pid` and `options.supersede` apply to every name; a
    /// ticket names one handover, so `options.ticket` is `PORTPOOL_INVALID_ARGUMENT`.
    fn begin_handovers / begin_handovers_async (names: Vec<String>; options: HandoverOptions) -> Vec<Handover>, made
        = |reg| {
            let names: Vec<&str> = names.iter().map(String::as_str).collect();
            Ok(Begun(view(&reg.begin_handovers(&names, &handover_arg(&options)?)?)?, true))
        };

    /// Commits the handover of each of `endings` in one change, each checked against its
    /// ticket and `options.pid` as `commitHandover` checks them: all, or none. Returns the new
    /// ports in order.
    fn commit_handovers / commit_handovers_async (endings: Vec<Ending>; options: HandoverOptions) -> Vec<u32>
        = |reg| Ok(ports(reg.commit_handovers(&endings_arg(&endings)?, pid_arg(options.pid)?)?));

    /// Aborts the handover of each of `endings` in one change, all or none, checked as
    /// `commitHandovers` checks them. Returns the released next ports in order.
    fn abort_handovers / abort_handovers_async (endings: Vec<Ending>; options: HandoverOptions) -> Vec<u32>
        = |reg| Ok(ports(reg.abort_handovers(&endings_arg(&endings)?, pid_arg(options.pid)?)?));

    /// Makes process `pid` the owner of `name`'s lease (omitted or `null`: nobody, the lease
    /// becomes permanent) and returns the lease. An unknown name is `PORTPOOL_NOT_FOUND`.
    fn set_owner / set_owner_async (name: String, pid: Option<f64>) -> Lease
        = |reg| view(&reg.set_owner(&name, pid_arg(pid)?)?);

    /// The leases holding `port` (TCP and UDP) and the server sockets bound to it with their
    /// processes. Where the host's socket tables cannot be read, the leases only, and
    /// `unavailable` says why. Costs a walk over every process's file descriptors.
    fn who / who_async (port: f64) -> Who = |reg| view(&reg.who(port_arg(port)?)?);

    /// Registers every port a server socket is bound to now as a fixed, permanent lease named
    /// after its program (`nginx`, `nginx-2`, ...; `port-N` when the program cannot be seen),
    /// and returns the leases made. Ports already leased are left alone, so a second run makes
    /// none. With `options.dryRun`, returns the plan and writes nothing. Unreadable socket
    /// tables are `PORTPOOL_IO`.
    fn migrate / migrate_async (; options: MigrateOptions) -> Vec<Lease>
        = |reg| view(&reg.migrate(options.dry_run.unwrap_or(false))?);

    /// Reads a flat `{"name": port, ...}` JSON file (a hand-kept port map), or another
    /// portpool registry file, into leases, in one write; names already present with the same
    /// port are skipped. Any problem (invalid JSON, a bad name or port, one port given to two
    /// names, a port leased to another name) refuses the whole file with every problem listed,
    /// and writes nothing. Ports are not probed.
    fn import_file / import_file_async (path: String) -> ImportReport
        = |reg| view(&reg.import(Path::new(&path))?);

    /// Checks the registry against the host: stale leases, leases whose port another program
    /// has taken, pools overlapping the kernel's ephemeral range, and more (see `Finding`).
    /// Changes nothing. Costs a walk over every process's file descriptors.
    fn doctor / doctor_async () -> DoctorReport = |reg| view(&reg.doctor()?);
}
