//! The allocation rules, over a [`Store`].

use std::path::{Path, PathBuf};
use std::time::{Duration, SystemTime, UNIX_EPOCH};

use crate::choose::{Ports, Request, Source, check_host, check_ports, check_register, held_for};
pub(crate) use crate::choose::{take_flexible, take_from_pool, take_probed};
use crate::error::{Error, Result};
use crate::model::{Data, Lease, Mode, Owner, Pool, Protocol};
use crate::owner::{Standing, owner_of, settled, standing};
use crate::paths::{PathSource, resolve_path};
use crate::probe::is_free;
use crate::store::Store;
use crate::validate::{check_name, check_port, check_ttl, shown};

/// Options of a new lease. `Default` is a permanent TCP lease, not forced, that may take any
/// port its call allows, probed on the wildcard addresses.
#[derive(Clone, Debug, Default, PartialEq, Eq)]
pub struct LeaseOptions {
    /// TCP (default) or UDP.
    pub protocol: Protocol,
    /// `register` in fixed mode only: take the port even when a process outside the registry
    /// has it bound. A port leased to another name is never taken.
    pub force: bool,
    /// The process that owns the lease: once it exits, the lease is stale and is reclaimed.
    pub pid: Option<u32>,
    /// Seconds the lease lives unless renewed.
    pub ttl: Option<u64>,
    /// `register` and `allocate`: ports never handed out, even when preferred or next in the
    /// pool.
    pub exclude: Vec<u16>,
    /// `register` only: after the preferred ports, the ports of this range in order
    /// (inclusive), in either mode. `allocate` refuses it: a pool has its own range.
    pub range: Option<(u16, u16)>,
    /// Probe candidates on this one address instead of the IPv4 and IPv6 wildcards (see
    /// [`is_free_at`](crate::is_free_at)): a port bound on another address may then be handed
    /// out. `Registry::listen` also binds there unless its own options name an address.
    pub host: Option<std::net::IpAddr>,
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
    fn made(port: u16) -> Grant {
        Grant {
            port,
            created: true,
        }
    }

    fn held(port: u16) -> Grant {
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

/// The live lease holding (port, protocol), after settling a stale one in the way (which may
/// free the port, or keep it: a committed handover keeps its next port). `keep` names a
/// lease that is never settled here: the one a handover is searching a port for.
pub(crate) fn live_holder(
    data: &mut Data,
    port: u16,
    protocol: Protocol,
    now: Duration,
    keep: Option<&str>,
) -> Result<Option<String>> {
    let Some(name) = data.holder(port, protocol).map(|h| h.name.clone()) else {
        return Ok(None);
    };
    if keep != Some(name.as_str()) {
        settle(data, &name, now)?;
    }
    Ok(data.holder(port, protocol).map(|h| h.name.clone()))
}

/// The checks of the options of a lease from a pool: no range (a pool has its own), no port
/// 0 among the excluded ones, a host of this machine.
pub(crate) fn check_pool_options(options: &LeaseOptions) -> Result<()> {
    if let Some((lo, hi)) = options.range {
        return Err(Error::invalid(format!(
            "range {lo}-{hi} applies to register, not to a pool: a pool has its own range"
        )));
    }
    check_ports(&[], None, &options.exclude)?;
    check_host(options.host)
}

pub(crate) struct NewLease<'a> {
    pub(crate) name: &'a str,
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
            mode: Mode::Fixed,
            pool: None,
            protocol,
            owner: None,
            ttl: None,
        }
    }

    pub(crate) fn at(&self, port: u16, now: Duration) -> Lease {
        Lease {
            name: self.name.to_owned(),
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
            stale: None,
        }
    }
}

impl Registry {
    /// A handle on the registry at `path`, or at the default path when `None`:
    /// `$PORTPOOL_REGISTRY`, else the host registry `/var/lib/portpool/registry.json` whenever
    /// it exists (for every user), else that path for root, else the per-user
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
        Registry {
            store: Store::new(path.into(), source),
            source,
            skew: std::sync::atomic::AtomicU64::new(0),
        }
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

    /// Leases a port to `name` and returns it. `ports` are the preferred ports in order: one
    /// port (`8080`) or a list (`vec![3000, 3001]`).
    ///
    /// - A `name` that already holds a lease gets its port back; nothing is written or
    ///   probed. Asking it for the other protocol, or in fixed mode for ports that do not
    ///   include the one it holds, is a `Conflict` and changes nothing.
    /// - Candidates, in order: the preferred ports, then `options.range` (inclusive). A port
    ///   in `options.exclude` is never chosen; a port leased to another live name is skipped.
    /// - `Mode::Flexible` skips ports bound by a process outside the registry. Without a
    ///   range it goes on upward from the first preferred port (never past 65535). None left
    ///   is `Exhausted`.
    /// - `Mode::Fixed` also skips bound ports, unless `options.force`: then the first
    ///   preferred port no live lease holds is taken even when bound. Without a range only
    ///   the preferred ports are tried; none free is a `Conflict` naming, for each port, the
    ///   holder or why it was passed over. With a range, none left is `Exhausted`.
    /// - No port and no range, port 0, a range whose start is after its end, or a `host`
    ///   that is not an address of this machine is `InvalidArgument`.
    ///
    /// Probes bind the wildcard addresses, or `options.host` only (see
    /// [`is_free_at`](crate::is_free_at)). Stale leases (dead owner, expired time to live) in
    /// the way are reclaimed.
    pub fn register(
        &self,
        name: &str,
        ports: impl Into<Ports>,
        mode: Mode,
        options: &LeaseOptions,
    ) -> Result<u16> {
        self.register_grant(name, ports, mode, options)
            .map(|g| g.port)
    }

    /// [`register`](Self::register), also saying whether this call made the lease.
    pub fn register_grant(
        &self,
        name: &str,
        ports: impl Into<Ports>,
        mode: Mode,
        options: &LeaseOptions,
    ) -> Result<Grant> {
        let Ports(ports) = ports.into();
        check_name(name)?;
        check_register(&ports, mode, options.range, &options.exclude, options.host)?;
        let new = NewLease::asked(name, mode, None, options)?;
        let request = Request {
            source: Source::Ports {
                ports: &ports,
                mode,
                range: options.range,
            },
            exclude: &options.exclude,
            protocol: options.protocol,
            keep: None,
        };
        self.store.update(|data| {
            let now = self.now();
            let dropped = drop_if_stale(data, name, now)?;
            if let Some(held) = held_for(data, name, &request)? {
                return Ok((Grant::held(held), dropped));
            }
            let force = mode == Mode::Fixed && options.force;
            let port = take_probed(data, &request, !force, options.host, now)?;
            data.insert(new.at(port, now))?;
            Ok((Grant::made(port), true))
        })
    }

    /// Leases the next free port of `pool` to `name` and returns it.
    ///
    /// Starts at the pool's cursor, skips ports leased (for this protocol) or, when the pool
    /// probes, bound by other processes, wraps from the end to the start, and leaves the cursor
    /// just after the port handed out, for every process on the host. A `name` that already
    /// holds a lease gets its port back and nothing is written. A full cycle with no free port
    /// is `Exhausted` and changes nothing; an unknown pool is `NotFound`. Ports in
    /// `options.exclude` are passed over; a probing pool probes on `options.host` when given.
    /// `options.force` has no effect here, and `options.range` is `InvalidArgument` (a pool
    /// has its own range). `pool` is a name, or `None` for the default pool
    /// ([`DEFAULT_POOL`](crate::DEFAULT_POOL)): this is the one place that fills it in.
    pub fn allocate<'p>(
        &self,
        name: &str,
        pool: impl Into<Option<&'p str>>,
        options: &LeaseOptions,
    ) -> Result<u16> {
        self.allocate_grant(name, pool, options).map(|g| g.port)
    }

    /// [`allocate`](Self::allocate), also saying whether this call made the lease.
    pub fn allocate_grant<'p>(
        &self,
        name: &str,
        pool: impl Into<Option<&'p str>>,
        options: &LeaseOptions,
    ) -> Result<Grant> {
        let pool = pool.into().unwrap_or(crate::model::DEFAULT_POOL);
        check_name(name)?;
        check_name(pool).map_err(|e| Error::invalid(format!("pool: {e}")))?;
        check_pool_options(options)?;
        let new = NewLease::asked(name, Mode::Pool, Some(pool), options)?;
        let protocol = options.protocol;
        let request = Request {
            source: Source::Pool(pool),
            exclude: &options.exclude,
            protocol,
            keep: None,
        };
        self.store.update(|data| {
            let now = self.now();
            let dropped = drop_if_stale(data, name, now)?;
            if let Some(held) = held_port(data, name, protocol, None)? {
                return Ok((Grant::held(held), dropped));
            }
            let port = take_probed(data, &request, true, options.host, now)?;
            data.insert(new.at(port, now))?;
            Ok((Grant::made(port), true))
        })
    }

    /// The lease `name` holds now, or `None`. A stale lease holds nothing and reads as
    /// `None`; a handover that its owners' deaths committed or abandoned reads as settled
    /// (see [`list`](Self::list) for the leases as recorded).
    pub fn get(&self, name: &str) -> Result<Option<Lease>> {
        check_name(name)?;
        let now = self.now();
        self.store
            .read(|data| data.lease(name).and_then(|l| settled(l, now).0))
    }

    /// The lease `name` holds, or `NotFound` (`no lease named "NAME"`): for callers for whom
    /// an unknown name is an error.
    pub fn lease(&self, name: &str) -> Result<Lease> {
        self.get(name)?.ok_or_else(|| no_lease(name))
    }

    /// Releases `name`'s lease. Returns whether there was one: an unknown name is not an
    /// error.
    pub fn release(&self, name: &str) -> Result<bool> {
        check_name(name)?;
        self.store.update(|data| {
            let released = data.remove(name).is_some();
            Ok((released, released))
        })
    }

    /// Every lease as recorded, sorted by name. A lease that is stale in any way (time to
    /// live over, owner gone, a handover's owner gone) carries the reason in
    /// [`Lease::stale`] until something settles it (`gc`, or a call that needs its port).
    pub fn list(&self) -> Result<Vec<Lease>> {
        let now = self.now();
        self.store
            .read(|data| data.leases().map(|l| marked(l, now)).collect())
    }

    /// Every pool, sorted by name. The `default` pool (9000–9999 unless changed) is always
    /// there.
    pub fn pools(&self) -> Result<Vec<Pool>> {
        self.store.read(|data| data.pools().cloned().collect())
    }

    /// Creates pool `name` over `start..=end`, or changes its range. A cursor outside the new
    /// range restarts at `start`, so no port outside the range is handed out; leases already
    /// made are kept. `probe`, when given, turns bind-probing of candidates on or off (off
    /// suits a range reserved for portpool); when `None` a new pool probes and an existing
    /// one keeps its setting. Returns the pool as set, and warnings about it (today: the
    /// range overlaps the kernel's ephemeral ports) that every front end shows its user.
    pub fn set_pool(
        &self,
        name: &str,
        start: u16,
        end: u16,
        probe: Option<bool>,
    ) -> Result<PoolChange> {
        check_name(name).map_err(|e| Error::invalid(format!("pool: {e}")))?;
        check_port(start)?;
        check_port(end)?;
        if start > end {
            return Err(Error::invalid(format!(
                "invalid pool range {start}-{end}: start is after end"
            )));
        }
        self.store
            .update(|data| {
                let old = data.pool(name).cloned();
                let pool = Pool::with_cursor(
                    name.to_owned(),
                    start,
                    end,
                    old.as_ref().map(|p| p.cursor),
                    probe.or(old.as_ref().map(|p| p.probe)).unwrap_or(true),
                );
                let changed = old.as_ref() != Some(&pool);
                data.set_pool(pool.clone());
                Ok((pool, changed))
            })
            .map(|pool| PoolChange {
                warnings: crate::inspect::ephemeral_warning(&pool)
                    .into_iter()
                    .collect(),
                pool,
            })
    }

    /// Whether `port` is free, leased (to whom) or bound outside the registry. A stale
    /// lease's port counts as free, as `register` and `allocate` would reclaim it; the
    /// returned lease is as it stands now (a handover its owners' deaths settled, applied).
    pub fn check(&self, port: u16, protocol: Protocol) -> Result<PortState> {
        check_port(port)?;
        let now = self.now();
        let leased = self.store.read(|data| {
            data.holder(port, protocol)
                .and_then(|l| settled(l, now).0)
                .filter(|l| l.ports().any(|p| p == port))
        })?;
        Ok(match leased {
            Some(lease) => PortState::Leased(lease),
            None if is_free(port, protocol)? => PortState::Free,
            None => PortState::Busy,
        })
    }

    /// Settles every stale lease and returns each as it was, with why: leases whose time to
    /// live is over or whose owners are gone are released; a handover whose current owner is
    /// gone while its next generation lives is committed; one whose next generation's owner
    /// is gone releases only the next port.
    pub fn gc(&self) -> Result<Vec<Reclaimed>> {
        self.store.update(|data| {
            let now = self.now();
            let names: Vec<String> = data
                .leases()
                .filter(|l| standing(l, now) != Standing::Held)
                .map(|l| l.name.clone())
                .collect();
            let mut reclaimed = Vec::with_capacity(names.len());
            for name in names {
                reclaimed.extend(settle(data, &name, now)?);
            }
            let changed = !reclaimed.is_empty();
            Ok((reclaimed, changed))
        })
    }

    /// Restarts `name`'s time to live from now, with `ttl` seconds or, when `None`, the time
    /// to live it was given. Returns the renewed lease. An unknown name is `NotFound`, and so
    /// is a stale one (its time to live already over, or its owner gone): a lease that holds
    /// nothing is never revived. A lease without a time to live, renewed without one, is
    /// `InvalidArgument`.
    pub fn renew(&self, name: &str, ttl: Option<u64>) -> Result<Lease> {
        check_name(name)?;
        let ttl = check_ttl_option(ttl)?;
        self.store.update(|data| {
            let now = self.now();
            let recorded = data.lease(name).ok_or_else(|| no_lease(name))?;
            match standing(recorded, now) {
                Standing::Expired(why) | Standing::Gone(why) => {
                    return Err(lease_gone(name, &why));
                }
                _ => {}
            }
            settle(data, name, now)?;
            let lease = data.lease_mut(name).ok_or_else(|| no_lease(name))?;
            let ttl = ttl.or(lease.ttl).ok_or_else(|| {
                Error::invalid(format!(
                    "lease {} has no time to live; give one to renew it",
                    shown(name)
                ))
            })?;
            lease.ttl = Some(ttl);
            lease.expires = Some(expiry(now, ttl));
            Ok((lease.clone(), true))
        })
    }

    /// Empties the registry: no leases, and only the default pool at 9000–9999. Works on
    /// any registry file of this format version, even one whose entries no longer read back
    /// (a file of another format, or not a registry at all, is still refused untouched).
    pub fn reset(&self) -> Result<()> {
        self.store.reset()
    }
}
