//! The values JavaScript receives, read from core's own serialization.
//!
//! Each type here is a `#[napi(object)]` (so `index.d.ts` declares it, with these docs) that
//! derives `Deserialize`: [`view`] serializes core's value with core's `Serialize` and reads
//! it into the JavaScript view. Nothing is copied field by field; the few differences from
//! core's shape (a lease's `owner` shown as its `pid`, a socket's `port`) are serde
//! attributes. `deny_unknown_fields` makes a field core gains and this view lacks fail every
//! call that returns it (and so the tests) instead of vanishing: adding a field to core's
//! `Lease` is one edit in core, its line (with its doc) here, and `make dts`.

use napi_derive::napi;
use portpool_core as pp;
use serde::de::DeserializeOwned;
use serde::{Deserialize, Deserializer};

/// Core's `value` as the JavaScript view `V`. A failure means this file and core disagree
/// on a shape, a bug that tests catch; it is reported as a `PORTPOOL_REGISTRY` error.
pub fn view<V: DeserializeOwned>(value: &impl serde::Serialize) -> pp::Result<V> {
    serde_json::to_value(value)
        .and_then(V::deserialize)
        .map_err(|e| {
            pp::Error::new(
                pp::ErrorKind::Registry,
                format!("portpool: internal error: core's value does not fit the Node view: {e}"),
            )
        })
}

/// A core `Owner` (`{pid, start_time, pid_ns}`) shown as its pid.
fn owner_pid<'de, D: Deserializer<'de>>(d: D) -> Result<Option<u32>, D::Error> {
    #[derive(Deserialize)]
    struct Owner {
        pid: u32,
    }
    Ok(Option::<Owner>::deserialize(d)?.map(|o| o.pid))
}

/// One port held by one name.
#[napi(object, use_nullable = true)]
#[derive(Clone, Debug, PartialEq, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct Lease {
    /// Unique name of the holder (a service, a worker, ...).
    pub name: String,
    /// The port, 1–65535.
    pub port: u32,
    /// `'tcp'`, `'udp'`, or `'tcp+udp'` (one port number held for both).
    #[napi(ts_type = "'tcp' | 'udp' | 'tcp+udp'")]
    pub protocol: String,
    /// How the lease was made: `'flexible'` or `'fixed'` by `register`, `'pool'` by `allocate`.
    #[napi(ts_type = "'flexible' | 'fixed' | 'pool'")]
    pub mode: String,
    /// The pool it came from, for `'pool'` leases.
    pub pool: Option<String>,
    /// The owning process; `null` for a permanent lease.
    #[serde(rename = "owner", deserialize_with = "owner_pid", default)]
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
    /// For a lease `migrate` made: the process bound to the port then, so that `doctor` can
    /// tell when another program has taken the port over. `null` otherwise.
    #[serde(default)]
    pub origin: Option<Origin>,
    /// Why the lease is stale (time to live over, owner gone, a handover's owner gone), in
    /// leases from `list` and `who`; `null` for a lease that holds its ports.
    #[serde(default)]
    pub stale: Option<String>,
    /// The user id of the process that made the lease; `null` in leases made before portpool
    /// recorded it. Only that user or root may release it, register its name again, hand it
    /// over or change its owner, unless the registry was opened with `force`.
    #[serde(default)]
    pub uid: Option<u32>,
    /// The namespace the name lives in; `null` for the default one.
    pub namespace: Option<String>,
    /// How many handovers were begun on the lease (a handover's ticket is the generation it
    /// began).
    pub generation: i64,
}

/// A handover under way, as `beginHandoverTicket` and `beginHandovers` return it.
#[napi(object)]
#[derive(Clone, Debug, PartialEq, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct Handover {
    /// The lease's name.
    pub name: String,
    /// The next generation's port.
    pub port: u32,
    /// The ticket that commits or aborts this handover and no other.
    pub ticket: i64,
    /// Whether this call began it (`false`: a retry that named its ticket).
    pub created: bool,
}

/// The next generation's port during a zero-downtime handover.
#[napi(object, use_nullable = true)]
#[derive(Clone, Debug, PartialEq, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct NextPort {
    /// The new port.
    pub port: u32,
    /// When the handover began, in seconds since the Unix epoch.
    pub created: i64,
    /// The next generation's process, which owns the lease once the handover is committed.
    #[serde(rename = "owner", deserialize_with = "owner_pid", default)]
    pub pid: Option<u32>,
    /// The handover's ticket: `commitHandover` and `abortHandover` given it end this handover
    /// and no other.
    pub ticket: i64,
}

/// The process bound to a port when `migrate` recorded it.
#[napi(object)]
#[derive(Clone, Debug, PartialEq, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct Origin {
    /// Process id.
    pub pid: u32,
    /// The process's start time in clock ticks after boot.
    pub start_time: i64,
    /// The program's name.
    pub program: String,
}

/// A named port range with a round-robin cursor shared by every process on the host.
#[napi(object)]
#[derive(Clone, Debug, PartialEq, Deserialize)]
#[serde(deny_unknown_fields)]
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
    /// The user id of the process that created the pool; `null` for the default pool and
    /// pools created before portpool recorded it. Only that user or root may change it,
    /// unless the registry was opened with `force`.
    #[serde(default)]
    pub uid: Option<u32>,
}

/// A lease that `gc` released, and why.
#[napi(object)]
#[derive(Clone, Debug, PartialEq, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct Reclaimed {
    /// The lease as it was.
    pub lease: Lease,
    /// Why it was stale, e.g. `owner pid 4242 is gone`.
    pub reason: String,
}

/// What `Registry.check` found on a port.
#[napi(object, use_nullable = true)]
#[derive(Clone, Debug, PartialEq, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct PortState {
    /// `'free'`: neither leased nor bound, `register` or `allocate` could hand it out now.
    /// `'leased'`: leased to a live holder (see `lease`). `'busy'`: not leased, but bound by a
    /// process outside the registry.
    #[napi(ts_type = "'free' | 'leased' | 'busy'")]
    pub state: String,
    /// The live lease on the port when `state` is `'leased'`, else `null`.
    pub lease: Option<Lease>,
}

/// A process holding a socket.
#[napi(object)]
#[derive(Clone, Debug, PartialEq, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct SocketProcess {
    /// Process id.
    pub pid: u32,
    /// Its program name.
    pub program: String,
}

/// A server socket: a TCP listener, or a UDP socket that is bound and not connected.
#[napi(object)]
#[derive(Clone, Debug, PartialEq, Deserialize)]
#[serde(from = "CoreSocket")]
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

/// Core's `Socket` as it serializes; `port` is read from the address.
#[derive(Deserialize)]
#[serde(deny_unknown_fields)]
struct CoreSocket {
    protocol: String,
    address: std::net::SocketAddr,
    processes: Vec<SocketProcess>,
}

impl From<CoreSocket> for ServerSocket {
    fn from(s: CoreSocket) -> Self {
        ServerSocket {
            protocol: s.protocol,
            address: s.address.to_string(),
            port: u32::from(s.address.port()),
            processes: s.processes,
        }
    }
}

/// Everything known about one port: what `Registry.who` returns.
#[napi(object, use_nullable = true)]
#[derive(Clone, Debug, PartialEq, Deserialize)]
#[serde(deny_unknown_fields)]
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

/// What `Registry.importFile` did.
#[napi(object)]
#[derive(Clone, Debug, PartialEq, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct ImportReport {
    /// The leases made, one per new entry of the file.
    pub imported: Vec<Lease>,
    /// Names already present with the same port, left as they were.
    pub skipped: Vec<String>,
}

/// One problem `Registry.doctor` found.
#[napi(object, use_nullable = true)]
#[derive(Clone, Debug, PartialEq, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct Finding {
    /// What kind of problem, e.g. `'stale_lease'` or `'pool_overlaps_ephemeral'` (the CLI's
    /// `doctor --fail-on` names).
    pub kind: String,
    /// How much it matters.
    #[napi(ts_type = "'info' | 'warning' | 'error'")]
    pub severity: String,
    /// The lease or pool concerned.
    pub subject: String,
    /// The port concerned, for findings about a lease; else `null`.
    pub port: Option<u32>,
    /// The port's protocol, for findings about a lease; else `null`.
    #[napi(ts_type = "'tcp' | 'udp' | 'tcp+udp'")]
    pub protocol: Option<String>,
    /// A sentence for people.
    pub message: String,
}

/// What `Registry.doctor` found.
#[napi(object, use_nullable = true)]
#[derive(Clone, Debug, PartialEq, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct DoctorReport {
    /// Problems found; empty when all is well.
    pub findings: Vec<Finding>,
    /// Set when sockets could not be inspected (no /proc), so listener checks were skipped.
    pub unavailable: Option<String>,
}

/// What `Registry.repair` did.
#[napi(object, use_nullable = true)]
#[derive(Clone, Debug, PartialEq, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct RepairReport {
    /// False when the registry read back and every file beside it was as it should be
    /// (nothing was touched).
    pub repaired: bool,
    /// How many leases the registry holds now.
    pub kept: u32,
    /// What could not be kept, one sentence each, naming its line and its lease.
    pub lost: Vec<String>,
    /// Where damaged or foreign files were moved; nothing is deleted.
    pub moved_aside: Vec<String>,
}

pub mod warned {
    //! `setPool`'s result: core's `PoolChange`, given to JavaScript as the pool after each
    //! warning has gone to `process.emitWarning` (code `PORTPOOL_POOL_WARNING`). Named `Pool`
    //! so that `index.d.ts` declares the value JavaScript receives.

    use napi::Env;
    use napi::bindgen_prelude::{
        FnArgs, Function, JsObjectValue, Object, ToNapiValue, Unknown, sys,
    };
    use serde::Deserialize;

    /// A pool and the warnings setting it raised.
    #[derive(Deserialize)]
    #[serde(deny_unknown_fields)]
    pub struct Pool {
        pool: super::Pool,
        warnings: Vec<String>,
    }

    impl ToNapiValue for Pool {
        unsafe fn to_napi_value(env: sys::napi_env, val: Self) -> napi::Result<sys::napi_value> {
            let js = Env::from(env);
            if !val.warnings.is_empty() {
                let process: Object = js.get_global()?.get_named_property("process")?;
                let emit: Function<'_, FnArgs<(String, Object)>, Unknown> =
                    process.get_named_property("emitWarning")?;
                for warning in val.warnings {
                    let mut options = Object::new(&js)?;
                    options.set_named_property("code", "PORTPOOL_POOL_WARNING")?;
                    emit.apply(process, FnArgs::from((warning, options)))?;
                }
            }
            // SAFETY: `env` is the live environment napi-rs handed to this conversion.
            unsafe { super::Pool::to_napi_value(env, val.pool) }
        }
    }
}

/// A socket bound to a leased port: what `Registry.listen` returns.
#[napi(object)]
#[derive(Clone, Debug, PartialEq)]
pub struct Bound {
    /// The socket's file descriptor: yours to pass to `server.listen({ fd })` (TCP) or
    /// `socket.bind({ fd })` (UDP, `dgram`), which then close it; close it yourself
    /// (`fs.closeSync(fd)`) if you use neither. Close-on-exec.
    pub fd: i32,
    /// The port it is bound to, which the lease holds.
    pub port: u32,
    /// Whether this call made the lease (`false`: the name held it already).
    pub created: bool,
}

pub mod socket {
    //! `listen`'s result: core's `Bound`, whose descriptor stays owned (closed if the value
    //! never reaches JavaScript) until it is handed over as the JavaScript `Bound`.

    use std::os::fd::IntoRawFd;

    use napi::bindgen_prelude::{ToNapiValue, sys};
    use portpool_core as pp;

    /// A socket bound to a leased port.
    pub struct Bound(pub pp::Bound);

    impl ToNapiValue for Bound {
        unsafe fn to_napi_value(env: sys::napi_env, val: Self) -> napi::Result<sys::napi_value> {
            let pp::Bound { fd, port, created } = val.0;
            let bound = super::Bound {
                fd: fd.into_raw_fd(),
                port: u32::from(port),
                created,
            };
            // SAFETY: `env` is the live environment napi-rs handed to this conversion.
            unsafe { super::Bound::to_napi_value(env, bound) }
        }
    }

    impl super::Outcome for Bound {
        type Value = Bound;
        fn split(self) -> (Bound, super::Made) {
            let created = self.0.created;
            (self, super::Made::lease(created))
        }
    }
}

/// What a call made, for a call that is abandoned (its `AbortSignal` fired) after it landed:
/// `index.js` undoes exactly that.
#[derive(Default)]
pub struct Made {
    /// Whether the call made the lease of its name (or began its handover); `None` for a
    /// call that makes none.
    pub created: Option<bool>,
    /// For a batch: the names whose leases this call made (not those they held already).
    pub names: Option<Vec<String>>,
}

impl Made {
    /// A call on one name that did, or did not, make its lease.
    pub fn lease(created: bool) -> Made {
        Made {
            created: Some(created),
            names: None,
        }
    }
}

/// Whether a value is a lease this very call made, for a call that is abandoned (its
/// `AbortSignal` fired) after it landed: such a lease is released again.
pub trait Outcome {
    /// What JavaScript receives.
    type Value;
    /// The value, and what the call made, to undo on abort.
    fn split(self) -> (Self::Value, Made);
}

/// The ports of a batch (core's grants, in the order of its names) and which names it leased.
pub struct GrantedMany(pub Vec<String>, pub Vec<pp::Grant>);

impl Outcome for GrantedMany {
    type Value = Vec<u32>;
    fn split(self) -> (Vec<u32>, Made) {
        let ports = self.1.iter().map(|g| u32::from(g.port)).collect();
        let names = self
            .0
            .into_iter()
            .zip(&self.1)
            .filter(|(_, g)| g.created)
            .map(|(name, _)| name)
            .collect();
        let made = Made {
            created: None,
            names: Some(names),
        };
        (ports, made)
    }
}

/// Handovers a call began (or, retried with a ticket, found): aborted again by their tickets
/// when the call is abandoned after it landed, if it began them.
pub struct Begun<T>(pub T, pub bool);

impl<T> Outcome for Begun<T> {
    type Value = T;
    fn split(self) -> (T, Made) {
        (self.0, Made::lease(self.1))
    }
}

/// A port and whether this call leased it (core's `Grant`).
pub struct Granted(pub pp::Grant);

impl Outcome for Granted {
    type Value = u32;
    fn split(self) -> (u32, Made) {
        (u32::from(self.0.port), Made::lease(self.0.created))
    }
}
