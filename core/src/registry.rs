//! The handle on one registry file ([`Registry`]: open, path, clock) and what every concern
//! shares: lease options, grants, settling stale leases, building new leases. The operations
//! are in one module per concern: allocation.rs, scoped.rs, listen.rs, handover.rs,
//! inspect.rs, import.rs.

use std::path::{Path, PathBuf};
use std::time::{Duration, SystemTime, UNIX_EPOCH};

use crate::error::{Error, Result};
use crate::owner::{Standing, owner_of, settled, standing};
use crate::paths::{PathSource, resolve_path};
use crate::store::Store;
use crate::store::model::{Data, Lease, Mode, Owner, Pool, Protocol, lease_key, split_key};
use crate::validate::{check_ttl, shown};

/// Options of a new lease. `Default` is a permanent TCP lease, not forced, that may take any
/// port its call allows, probed on the wildcard addresses.
#[derive(Clone, Debug, Default, PartialEq, Eq)]
pub struct LeaseOptions {
    /// TCP (the default), UDP, or `tcp+udp`: one port number held for both.
    pub protocol: Protocol,
    /// Take the port even when a process outside the registry has it bound (a fixed-mode
    /// `register` only; a port leased to another name is never taken), and return the port of a
    /// name whose live lease another user made, as every call of a handle opened with force does.
    pub force: bool,
    /// The process that owns the lease: once it exits, the lease is stale and is reclaimed.
    pub pid: Option<u32>,
    /// Seconds the lease lives unless renewed.
    pub ttl: Option<u64>,
    /// Ports never handed out, even when preferred or next in the pool.
    pub exclude: Vec<u16>,
    /// After the preferred ports, the ports of this range in order (inclusive), in either mode.
    /// Only with preferred ports: a pool has its own range, so `allocate` refuses one.
    pub range: Option<(u16, u16)>,
    /// Probe candidates on this one address instead of the IPv4 and IPv6 wildcards: a port
    /// bound on another address may then be handed out, and is good only for a server bound to
    /// this one. `listen` also binds there unless its listen options name an address.
    pub host: Option<std::net::IpAddr>,
    /// Probe candidates as this process will bind them, for a lease whose holder is the caller
    /// itself (as get-port's is): a port it may not bind, such as a privileged port for an
    /// unprivileged process, is unavailable. Off (the default), such a port is judged by the
    /// kernel's socket tables, as a lease may be for a privileged service.
    pub bindable: bool,
}

/// What [`Registry::check`] found on a port.
// One value per call, never stored in bulk: a boxed lease would only cost callers a deref.
#[allow(clippy::large_enum_variant)]
#[derive(Clone, Debug, PartialEq, Eq)]
pub enum PortState {
    /// Neither leased nor bound: `register` or `allocate` could hand it out now.
    Free,
    /// Leased to a live holder.
    Leased(Lease),
    /// Not leased, but bound by a process outside the registry.
    Busy,
}

impl PortState {
    /// `"free"`, `"leased"` or `"busy"`: the one spelling of every front end (and the JSON's).
    pub fn as_str(&self) -> &'static str {
        match self {
            PortState::Free => "free",
            PortState::Leased(_) => "leased",
            PortState::Busy => "busy",
        }
    }

    /// The lease holding the port, when it is leased.
    pub fn lease(&self) -> Option<&Lease> {
        match self {
            PortState::Leased(lease) => Some(lease),
            _ => None,
        }
    }

    /// Whether `register` or `allocate` could hand the port out now.
    pub fn is_free(&self) -> bool {
        matches!(self, PortState::Free)
    }
}

impl std::fmt::Display for PortState {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.write_str(self.as_str())
    }
}

/// Serializes as `{"state": "free" | "leased" | "busy", "lease": {...} | null}`.
impl serde::Serialize for PortState {
    fn serialize<S: serde::Serializer>(&self, serializer: S) -> Result<S::Ok, S::Error> {
        use serde::ser::SerializeStruct;
        let mut out = serializer.serialize_struct("PortState", 2)?;
        out.serialize_field("state", self.as_str())?;
        out.serialize_field("lease", &self.lease())?;
        out.end()
    }
}

/// The port a `register_grant` or `allocate_grant` call returned, and whether that call made
/// the lease (`created`) or the name already held it. A caller that releases on exit what it
/// leased (a `with` block, `portpool run`) releases only what it created.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub struct Grant {
    /// The port.
    pub port: u16,
    /// Whether this call made the lease.
    pub created: bool,
}

impl Grant {
    pub(crate) fn made(port: u16) -> Grant {
        Grant {
            port,
            created: true,
        }
    }

    pub(crate) fn held(port: u16) -> Grant {
        Grant {
            port,
            created: false,
        }
    }
}

/// What [`Registry::set_pool`] did: the pool as it is now, and warnings for the user.
#[derive(Clone, Debug, PartialEq, Eq, serde::Serialize)]
pub struct PoolChange {
    /// The pool as set.
    pub pool: Pool,
    /// One sentence each, e.g. that the range overlaps the kernel's ephemeral ports.
    pub warnings: Vec<String>,
}

/// A lease that [`Registry::gc`] released, and why. Serializes as `{"lease": {...}, "reason": "..."}`.
#[derive(Clone, Debug, PartialEq, Eq, serde::Serialize)]
pub struct Reclaimed {
    /// The lease as it was.
    pub lease: Lease,
    /// Why it was stale, e.g. `owner pid 4242 is gone`.
    pub reason: String,
}

/// A handle on one registry file, safe to share between threads.
///
/// Opening does not touch the disk. A call that changes the registry takes the file's lock
/// for that call only (waiting at most [`lock_timeout`](Self::lock_timeout), then `Busy`), so
/// any number of handles, in any number of processes and languages, may use one registry at
/// once. Such a call costs the lock, a parse of what other processes appended since this
/// handle last looked, and one appended line of about 100 bytes; unless the change concerns
/// only leases owned by a process (and pools' cursors), it returns once that line is flushed
/// to the disk. A call that only reads takes no lock, and costs a `stat` when the file is
/// unchanged, or a parse of what was appended since.
pub struct Registry {
    pub(crate) store: Store,
    source: PathSource,
    /// Seconds added to this handle's clock: lets tests drive expiries without sleeping.
    skew: std::sync::atomic::AtomicU64,
    /// Whether calls may change leases and pools that other users made (see
    /// [`set_force`](Registry::set_force)).
    force: std::sync::atomic::AtomicBool,
    /// The namespace whose names this handle reads and writes; `None`: the default one.
    namespace: Option<String>,
}

impl std::fmt::Debug for Registry {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("Registry")
            .field("path", &self.store.path())
            .finish()
    }
}

/// The time since the Unix epoch, to the nanosecond: staleness is decided at this precision,
/// so a time to live of N seconds lasts at least N seconds.
pub(crate) fn now_exact() -> Duration {
    SystemTime::now()
        .duration_since(UNIX_EPOCH)
        .unwrap_or(Duration::ZERO)
}

/// When a time to live of `ttl` seconds (already checked: at most 100 years) begun at `now`
/// ends, rounded up to the next whole second so that the lease never ends early.
pub(crate) fn expiry(now: Duration, ttl: u64) -> u64 {
    let end = now.saturating_add(Duration::from_secs(ttl));
    end.as_secs()
        .saturating_add(u64::from(end.subsec_nanos() > 0))
}

/// The `NotFound` error for a name without a lease.
pub(crate) fn no_lease(name: &str) -> Error {
    Error::not_found(format!("no lease named {}", shown(name)))
}

/// The `NotFound` error for a name whose lease was stale.
pub(crate) fn lease_gone(name: &str, reason: &str) -> Error {
    Error::not_found(format!(
        "no lease named {}: it was stale ({reason}) and holds no port any more",
        shown(name)
    ))
}

pub(crate) fn check_ttl_option(ttl: Option<u64>) -> Result<Option<u64>> {
    ttl.map(check_ttl).transpose()
}

/// Brings `name`'s lease in line with how it stands at `now` (see [`standing`]): removes it
/// when it holds nothing any more, applies a handover that its owners' deaths committed or
/// abandoned. Returns the lease as it was and why, when anything changed.
pub(crate) fn settle(data: &mut Data, name: &str, now: Duration) -> Result<Option<Reclaimed>> {
    let Some(lease) = data.lease(name) else {
        return Ok(None);
    };
    let (view, standing) = settled(lease, now);
    let Some(reason) = standing.reason() else {
        return Ok(None);
    };
    let reclaimed = Reclaimed {
        lease: lease.clone(),
        reason: reason.to_owned(),
    };
    match view {
        None => {
            data.remove(name);
        }
        Some(view) => data.replace(view)?,
    }
    Ok(Some(reclaimed))
}

/// `lease` as `list` and `who` show it: as recorded, with [`Lease::stale`] saying why it is
/// stale, when it is.
pub(crate) fn marked(lease: &Lease, now: Duration) -> Lease {
    Lease {
        stale: standing(lease, now).reason().map(str::to_owned),
        ..lease.clone()
    }
}

/// Settles `name`'s lease and says whether anything changed.
pub(crate) fn drop_if_stale(data: &mut Data, name: &str, now: Duration) -> Result<bool> {
    settle(data, name, now).map(|r| r.is_some())
}

/// The port `name` already holds, checked against what is asked now.
pub(crate) fn held_port(
    data: &Data,
    name: &str,
    protocol: Protocol,
    fixed: Option<u16>,
) -> Result<Option<u16>> {
    let Some(held) = data.lease(name) else {
        return Ok(None);
    };
    if held.protocol != protocol {
        return Err(Error::conflict(format!(
            "{} already holds port {}/{}, not a {protocol} port; release it first",
            shown(name),
            held.port,
            held.protocol
        )));
    }
    if let Some(port) = fixed.filter(|p| *p != held.port) {
        return Err(Error::conflict(format!(
            "{} already holds port {}/{}, not {port}; release it first",
            shown(name),
            held.port,
            held.protocol
        )));
    }
    Ok(Some(held.port))
}

/// The live lease holding (port, protocol), after settling each stale one in the way (which
/// may free the port, or keep it: a committed handover keeps its next port); for `tcp+udp`,
/// the leases holding it for TCP and for UDP are each settled. `keep` names a lease that is
/// never settled here: the one a handover is searching a port for.
pub(crate) fn live_holder(
    data: &mut Data,
    port: u16,
    protocol: Protocol,
    now: Duration,
    keep: Option<&str>,
) -> Result<Option<String>> {
    // A lease that holds its ports (the common case, and every port of an exhausted pool)
    // has nothing to settle: it is neither copied nor looked up by name.
    let names: Vec<String> = data
        .holders(port, protocol)
        .filter(|lease| standing(lease, now) != Standing::Held)
        .map(Lease::key)
        .collect();
    for name in names.iter().filter(|name| keep != Some(name.as_str())) {
        settle(data, name, now)?;
    }
    Ok(data.holder(port, protocol).map(Lease::key))
}

pub(crate) struct NewLease<'a> {
    pub(crate) name: &'a str,
    /// The user making it: the caller's effective uid.
    pub(crate) uid: u32,
    /// Whether the caller may re-register a name another user's lease holds.
    pub(crate) force: bool,
    pub(crate) mode: Mode,
    pub(crate) pool: Option<&'a str>,
    pub(crate) protocol: Protocol,
    pub(crate) owner: Option<Owner>,
    pub(crate) ttl: Option<u64>,
}

impl<'a> NewLease<'a> {
    /// A lease a caller asked for: its owner (`options.pid`, checked to be a live process)
    /// and time to live (checked) come from `options`.
    pub(crate) fn asked(
        name: &'a str,
        mode: Mode,
        pool: Option<&'a str>,
        options: &LeaseOptions,
    ) -> Result<NewLease<'a>> {
        Ok(NewLease {
            name,
            uid: crate::sys::geteuid(),
            force: false,
            mode,
            pool,
            protocol: options.protocol,
            owner: options.pid.map(owner_of).transpose()?,
            ttl: check_ttl_option(options.ttl)?,
        })
    }

    /// A permanent fixed lease with no owner, as `import` and `migrate` record them.
    pub(crate) fn recorded(name: &'a str, protocol: Protocol) -> NewLease<'a> {
        NewLease {
            name,
            uid: crate::sys::geteuid(),
            force: false,
            mode: Mode::Fixed,
            pool: None,
            protocol,
            owner: None,
            ttl: None,
        }
    }

    /// The lease made at `now` of `port`; `name` is a key (see [`Registry::named`]), and
    /// the lease lives in its namespace.
    pub(crate) fn at(&self, port: u16, now: Duration) -> Lease {
        let (namespace, name) = split_key(self.name);
        Lease {
            name: name.to_owned(),
            namespace: namespace.map(str::to_owned),
            generation: 0,
            port,
            protocol: self.protocol,
            mode: self.mode,
            pool: self.pool.map(str::to_owned),
            created: now.as_secs(),
            owner: self.owner,
            ttl: self.ttl,
            expires: self.ttl.map(|t| expiry(now, t)),
            next: None,
            origin: None,
            uid: Some(self.uid),
            stale: None,
        }
    }

    /// This lease as a handle whose [`force`](Registry::force) is `force` asks for it.
    pub(crate) fn forced(self, force: bool) -> NewLease<'a> {
        NewLease { force, ..self }
    }
}

/// Refuses (a `Conflict` naming the user) a change by this caller of `lease`, made by another
/// user: releasing it, re-registering its name, handing it over or changing its owner. Root
/// may, and so may a caller that forces it; a lease that records no user is anyone's.
pub(crate) fn check_maker(lease: &Lease, force: bool) -> Result<()> {
    match lease.uid {
        Some(uid) if !may_override(uid, force) => Err(Error::conflict(format!(
            "lease {} was made by {}: only that user or root may release it, register its name again, hand it over or change its owner (force does it anyway)",
            shown(&lease.name),
            crate::account::user_text(uid)
        ))),
        _ => Ok(()),
    }
}

/// Refuses (a `Conflict` naming the user) a change by this caller of `pool`, created by
/// another user; as [`check_maker`].
pub(crate) fn check_pool_maker(pool: &Pool, force: bool) -> Result<()> {
    match pool.uid {
        Some(uid) if !may_override(uid, force) => Err(Error::conflict(format!(
            "pool {} was created by {}: only that user or root may change it (force does it anyway)",
            shown(&pool.name),
            crate::account::user_text(uid)
        ))),
        _ => Ok(()),
    }
}

/// Whether this caller may change what user `uid` made: it is that user or root, or forces.
fn may_override(uid: u32, force: bool) -> bool {
    let me = crate::sys::geteuid();
    force || me == uid || me == 0
}

impl Registry {
    /// A handle on the registry at `path`, or at the default path when `None`:
    /// `$PORTPOOL_REGISTRY`, else the host registry `/var/lib/portpool/registry.json` whenever
    /// `portpool init` set up its directory or it exists (for every user; there, a missing
    /// file is a `Registry` error saying what to do), else that path for root, else the per-user
    /// `$XDG_STATE_HOME/portpool/registry.json` (`~/.local/state/portpool/registry.json`).
    /// Files are created on the first write: mode 0600 under the per-user default path,
    /// 0644 elsewhere. Calls wait for the lock as long as `$PORTPOOL_LOCK_TIMEOUT` says
    /// (seconds), 10 s when unset; an invalid value is `InvalidArgument`.
    pub fn open(path: Option<&Path>) -> Result<Registry> {
        let (path, source) = resolve_path(path)?;
        Registry::with_source(path, source).with_env_lock_timeout()
    }

    /// A handle on `path`, creating files with the mode that `source` calls for.
    pub fn with_source(path: impl Into<PathBuf>, source: PathSource) -> Registry {
        let mut store = Store::new(path.into(), crate::ownership::policy_for(source));
        if crate::sys::geteuid() == 0 {
            // Root's changes keep the kernel's reserved ports in sync, once `reserve` ran.
            store.set_hook(crate::reserved::hook());
        }
        Registry {
            store,
            source,
            skew: std::sync::atomic::AtomicU64::new(0),
            force: std::sync::atomic::AtomicBool::new(false),
            namespace: None,
        }
    }

    /// This handle, forcing as [`set_force`](Self::set_force) says.
    pub fn with_force(self, force: bool) -> Registry {
        self.set_force(force);
        self
    }

    /// With `force`, calls on this handle may release, re-register, hand over and change the
    /// owner of leases another user made, and change pools another user created; without
    /// (the default), each of those is a `Conflict` naming that user, unless the caller is
    /// root. A rail against accidents, not a wall: any member of the registry's group may
    /// set it (see the README's trust table).
    pub fn set_force(&self, force: bool) {
        self.force
            .store(force, std::sync::atomic::Ordering::Relaxed);
    }

    /// Whether this handle forces (see [`set_force`](Self::set_force)); off unless set.
    pub fn force(&self) -> bool {
        self.force.load(std::sync::atomic::Ordering::Relaxed)
    }

    /// This handle, reading and writing only the names of `namespace` (`None`: the default
    /// namespace, every name made before namespaces). A name lives in one namespace, so two
    /// supervisors may both name a worker `worker-1`; ports stay unique across all
    /// namespaces. A namespace is named like a lease (see [`check_name`](crate::check_name));
    /// an invalid one is `InvalidArgument`.
    pub fn with_namespace(mut self, namespace: Option<&str>) -> Result<Registry> {
        if let Some(ns) = namespace {
            crate::validate::check_name(ns)
                .map_err(|e| Error::invalid(format!("namespace: {e}")))?;
        }
        self.namespace = namespace.map(str::to_owned);
        Ok(self)
    }

    /// The namespace this handle works in; `None` for the default one.
    pub fn namespace(&self) -> Option<&str> {
        self.namespace.as_deref()
    }

    /// `name`, checked, as the key of this handle's namespace that every rule looks it up
    /// by (and that error messages show as the name and its namespace).
    pub(crate) fn named(&self, name: &str) -> Result<String> {
        crate::validate::check_name(name)?;
        Ok(lease_key(self.namespace.as_deref(), name))
    }

    /// Whether `lease` is one of this handle's namespace.
    pub(crate) fn sees(&self, lease: &Lease) -> bool {
        lease.namespace == self.namespace
    }

    /// The time this handle judges expiries by: the system clock, plus any test skew.
    pub(crate) fn now(&self) -> Duration {
        let skew = self.skew.load(std::sync::atomic::Ordering::Relaxed);
        now_exact().saturating_add(Duration::from_secs(skew))
    }

    /// Moves this handle's clock `secs` seconds ahead, for tests that drive expiries (a
    /// property test over random operations, say) without sleeping. Other handles and
    /// processes are unaffected. Not for production use.
    #[doc(hidden)]
    pub fn advance_clock_for_tests(&self, secs: u64) {
        self.skew
            .fetch_add(secs, std::sync::atomic::Ordering::Relaxed);
    }

    /// The registry file's path.
    pub fn path(&self) -> &Path {
        self.store.path()
    }

    /// Which rule chose the path (see [`resolve_path`]).
    pub fn source(&self) -> PathSource {
        self.source
    }
}

impl Registry {
    /// This handle, waiting at most `timeout` for another process's lock before a call that
    /// changes the registry fails with `Busy` (zero: fail at once when the lock is held).
    /// Reads never wait: they take no lock.
    pub fn with_lock_timeout(self, timeout: Duration) -> Registry {
        self.set_lock_timeout(timeout);
        self
    }

    /// Changes how long calls on this handle wait for the lock, as
    /// [`with_lock_timeout`](Self::with_lock_timeout), for every thread using it.
    pub fn set_lock_timeout(&self, timeout: Duration) {
        self.store.journal().set_lock_timeout(timeout);
    }

    /// How long calls on this handle wait for the lock: 10 s unless set by
    /// [`set_lock_timeout`](Self::set_lock_timeout) or, for [`open`](Self::open),
    /// `$PORTPOOL_LOCK_TIMEOUT`.
    pub fn lock_timeout(&self) -> Duration {
        self.store.journal().lock_timeout()
    }

    /// Brings a damaged registry back: keeps every line of it that reads back, moves the
    /// damaged file aside as `NAME.damaged-SECONDS` (never deleting it), rewrites the registry
    /// from what was kept with the owner, group and mode its directory gives it, and moves
    /// aside whatever else is at the registry's, the lock's or the spare's name that is not a
    /// plain file of the directory's owner (a FIFO, a directory, another user's file, a file
    /// with more than one link). Reports what it kept, exactly what it could not keep, and
    /// what it moved. A registry that reads back is left as it is. Run as root on the host
    /// registry, as its directory's owner elsewhere; a newer version's file is refused.
    pub fn repair(&self) -> Result<crate::store::RepairReport> {
        self.store.repair()
    }

    /// Applies `$PORTPOOL_LOCK_TIMEOUT` (seconds) when it is set and not empty.
    pub(crate) fn with_env_lock_timeout(self) -> Result<Registry> {
        match std::env::var("PORTPOOL_LOCK_TIMEOUT") {
            Ok(text) if !text.trim().is_empty() => {
                let timeout = crate::store::parse_lock_timeout(&text).map_err(|_| {
                    Error::invalid(format!(
                        "invalid $PORTPOOL_LOCK_TIMEOUT {text:?}: expected seconds, from 0 to a year"
                    ))
                })?;
                Ok(self.with_lock_timeout(timeout))
            }
            _ => Ok(self),
        }
    }
}
