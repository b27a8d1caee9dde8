//! The allocation rules, over a [`Store`].

use std::path::{Path, PathBuf};
use std::time::{SystemTime, UNIX_EPOCH};

use crate::error::{Error, Result};
use crate::model::{Data, Lease, Mode, Owner, Pool, Protocol};
use crate::owner::{owner_of, stale_reason};
use crate::probe::is_free;
use crate::store::{PathSource, Store, resolve_path};
use crate::validate::{check_name, check_port};

/// Options of a new lease. `Default` is a permanent TCP lease, not forced.
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
}

/// What [`Registry::check`] found on a port.
#[derive(Clone, Debug, PartialEq, Eq)]
pub enum PortState {
    /// Neither leased nor bound: `register` or `allocate` could hand it out now.
    Free,
    /// Leased to a live holder.
    Leased(Lease),
    /// Not leased, but bound by a process outside the registry.
    Busy,
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
}

impl std::fmt::Debug for Registry {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("Registry")
            .field("path", &self.store.path())
            .finish()
    }
}

pub(crate) fn now() -> u64 {
    SystemTime::now()
        .duration_since(UNIX_EPOCH)
        .map(|d| d.as_secs())
        .unwrap_or(0)
}

/// The `NotFound` error for a name without a lease.
pub(crate) fn no_lease(name: &str) -> Error {
    Error::not_found(format!("no lease named {name:?}"))
}

pub(crate) fn check_ttl(ttl: Option<u64>) -> Result<Option<u64>> {
    match ttl {
        Some(0) => Err(Error::invalid(
            "invalid ttl 0: a time to live is at least 1 second",
        )),
        other => Ok(other),
    }
}

/// Removes `name`'s lease when it is stale; says whether it did.
pub(crate) fn drop_if_stale(data: &mut Data, name: &str, now: u64) -> bool {
    let stale = data
        .lease(name)
        .is_some_and(|l| stale_reason(l, now).is_some());
    stale && data.remove(name).is_some()
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
            "{name:?} already holds port {}/{}, not a {protocol} port; release it first",
            held.port, held.protocol
        )));
    }
    if let Some(port) = fixed.filter(|p| *p != held.port) {
        return Err(Error::conflict(format!(
            "{name:?} already holds port {}/{}, not {port}; release it first",
            held.port, held.protocol
        )));
    }
    Ok(Some(held.port))
}

/// Whether (port, protocol) can be leased now: no live lease holds it (a stale one is
/// removed on the way) and, with `probe`, nothing outside the registry has it bound.
fn claimable(data: &mut Data, port: u16, protocol: Protocol, probe: bool, now: u64) -> bool {
    if let Some(holder) = data.holder(port, protocol) {
        if stale_reason(holder, now).is_none() {
            return false;
        }
        let name = holder.name.clone();
        data.remove(&name);
    }
    !probe || matches!(is_free(port, protocol), Ok(true))
}

/// The first claimable port from `from` up to 65535.
pub(crate) fn take_flexible(
    data: &mut Data,
    from: u16,
    protocol: Protocol,
    now: u64,
) -> Result<u16> {
    (from..=u16::MAX)
        .find(|p| claimable(data, *p, protocol, true, now))
        .ok_or_else(|| Error::exhausted(format!("no free {protocol} port from {from} to 65535")))
}

/// The pool's next claimable port, from its cursor round the range; moves the cursor past it.
pub(crate) fn take_from_pool(
    data: &mut Data,
    pool: &str,
    protocol: Protocol,
    now: u64,
) -> Result<u16> {
    let range = data
        .pool(pool)
        .ok_or_else(|| Error::not_found(format!("no pool named {pool:?}")))?
        .clone();
    let next = |p: u16| if p >= range.end { range.start } else { p + 1 };
    let mut port = range.cursor;
    for _ in 0..range.size() {
        if claimable(data, port, protocol, range.probe, now) {
            data.pool_mut(pool).expect("checked above").cursor = next(port);
            return Ok(port);
        }
        port = next(port);
    }
    Err(Error::exhausted(format!(
        "pool {pool:?} ({}-{}) has no free {protocol} port",
        range.start, range.end
    )))
}

pub(crate) struct NewLease<'a> {
    pub(crate) name: &'a str,
    pub(crate) mode: Mode,
    pub(crate) pool: Option<&'a str>,
    pub(crate) protocol: Protocol,
    pub(crate) owner: Option<Owner>,
    pub(crate) ttl: Option<u64>,
}

impl NewLease<'_> {
    pub(crate) fn at(&self, port: u16, now: u64) -> Lease {
        Lease {
            name: self.name.to_owned(),
            port,
            protocol: self.protocol,
            mode: self.mode,
            pool: self.pool.map(str::to_owned),
            created: now,
            owner: self.owner,
            ttl: self.ttl,
            expires: self.ttl.map(|t| now.saturating_add(t)),
            next: None,
        }
    }
}

impl Registry {
    /// A handle on the registry at `path`, or at the default path when `None`:
    /// `$PORTPOOL_REGISTRY`, else `/var/lib/portpool/registry.json` for root, else
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
        }
    }

    /// The registry file's path.
    pub fn path(&self) -> &Path {
        self.store.path()
    }

    /// Leases a port to `name` and returns it.
    ///
    /// - A `name` that already holds a lease gets its port back; nothing is written or
    ///   probed. Asking it for another fixed port, or for the other protocol, is a
    ///   `Conflict` and changes nothing.
    /// - `Mode::Flexible`: `port` when it is neither leased nor bound, else the next such port
    ///   above it (never past 65535); none left is `Exhausted`.
    /// - `Mode::Fixed`: exactly `port`. Leased to another name is a `Conflict` naming the
    ///   holder; bound by a process outside the registry is a `Conflict` unless
    ///   `options.force`.
    ///
    /// Stale leases (dead owner, expired time to live) in the way are reclaimed.
    pub fn register(
        &self,
        name: &str,
        port: u16,
        mode: Mode,
        options: &LeaseOptions,
    ) -> Result<u16> {
        self.register_grant(name, port, mode, options)
            .map(|g| g.port)
    }

    /// [`register`](Self::register), also saying whether this call made the lease.
    pub fn register_grant(
        &self,
        name: &str,
        port: u16,
        mode: Mode,
        options: &LeaseOptions,
    ) -> Result<Grant> {
        check_name(name)?;
        check_port(port)?;
        if mode == Mode::Pool {
            return Err(Error::invalid(
                "invalid mode \"pool\" for register: pool leases come from allocate",
            ));
        }
        let new = NewLease {
            name,
            mode,
            pool: None,
            protocol: options.protocol,
            owner: options.pid.map(owner_of).transpose()?,
            ttl: check_ttl(options.ttl)?,
        };
        let protocol = options.protocol;
        self.store.update(|data| {
            let now = now();
            let dropped = drop_if_stale(data, name, now);
            let fixed = (mode == Mode::Fixed).then_some(port);
            if let Some(held) = held_port(data, name, protocol, fixed)? {
                return Ok((Grant::held(held), dropped));
            }
            let chosen = if mode == Mode::Fixed {
                if let Some(holder) = data
                    .holder(port, protocol)
                    .filter(|h| stale_reason(h, now).is_none())
                {
                    return Err(Error::conflict(format!(
                        "port {port}/{protocol} is leased to {:?}",
                        holder.name
                    )));
                }
                if !claimable(data, port, protocol, !options.force, now) {
                    return Err(Error::conflict(format!(
                        "port {port}/{protocol} is in use by a process outside the registry (force takes it anyway)"
                    )));
                }
                port
            } else {
                take_flexible(data, port, protocol, now)?
            };
            data.insert(new.at(chosen, now));
            Ok((Grant::made(chosen), true))
        })
    }

    /// Leases the next free port of `pool` to `name` and returns it.
    ///
    /// Starts at the pool's cursor, skips ports leased (for this protocol) or, when the pool
    /// probes, bound by other processes, wraps from the end to the start, and leaves the cursor
    /// just after the port handed out, for every process on the host. A `name` that already
    /// holds a lease gets its port back and nothing is written. A full cycle with no free port
    /// is `Exhausted` and changes nothing; an unknown pool is `NotFound`. `options.force` has
    /// no effect here.
    pub fn allocate(&self, name: &str, pool: &str, options: &LeaseOptions) -> Result<u16> {
        self.allocate_grant(name, pool, options).map(|g| g.port)
    }

    /// [`allocate`](Self::allocate), also saying whether this call made the lease.
    pub fn allocate_grant(&self, name: &str, pool: &str, options: &LeaseOptions) -> Result<Grant> {
        check_name(name)?;
        check_name(pool).map_err(|e| Error::invalid(format!("pool: {e}")))?;
        let new = NewLease {
            name,
            mode: Mode::Pool,
            pool: Some(pool),
            protocol: options.protocol,
            owner: options.pid.map(owner_of).transpose()?,
            ttl: check_ttl(options.ttl)?,
        };
        let protocol = options.protocol;
        self.store.update(|data| {
            let now = now();
            let dropped = drop_if_stale(data, name, now);
            if let Some(held) = held_port(data, name, protocol, None)? {
                return Ok((Grant::held(held), dropped));
            }
            let port = take_from_pool(data, pool, protocol, now)?;
            data.insert(new.at(port, now));
            Ok((Grant::made(port), true))
        })
    }

    /// The lease `name` holds, as recorded (a stale lease is returned until something
    /// reclaims it), or `None`.
    pub fn get(&self, name: &str) -> Result<Option<Lease>> {
        check_name(name)?;
        self.store.read(|data| data.lease(name).cloned())
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

    /// Every lease, sorted by name.
    pub fn list(&self) -> Result<Vec<Lease>> {
        self.store.read(|data| data.leases().cloned().collect())
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
    /// one keeps its setting.
    pub fn set_pool(&self, name: &str, start: u16, end: u16, probe: Option<bool>) -> Result<Pool> {
        check_name(name).map_err(|e| Error::invalid(format!("pool: {e}")))?;
        check_port(start)?;
        check_port(end)?;
        if start > end {
            return Err(Error::invalid(format!(
                "invalid pool range {start}-{end}: start is after end"
            )));
        }
        self.store.update(|data| {
            let old = data.pool(name).cloned();
            let pool = Pool {
                name: name.to_owned(),
                start,
                end,
                cursor: old
                    .as_ref()
                    .map(|p| p.cursor)
                    .filter(|c| (start..=end).contains(c))
                    .unwrap_or(start),
                probe: probe.or(old.as_ref().map(|p| p.probe)).unwrap_or(true),
            };
            let changed = old.as_ref() != Some(&pool);
            data.set_pool(pool.clone());
            Ok((pool, changed))
        })
    }

    /// Whether `port` is free, leased (to whom) or bound outside the registry. Stale leases
    /// count as free, as `register` and `allocate` would reclaim them.
    pub fn check(&self, port: u16, protocol: Protocol) -> Result<PortState> {
        check_port(port)?;
        let now = now();
        let leased = self.store.read(|data| {
            data.holder(port, protocol)
                .filter(|l| stale_reason(l, now).is_none())
                .cloned()
        })?;
        Ok(match leased {
            Some(lease) => PortState::Leased(lease),
            None if is_free(port, protocol)? => PortState::Free,
            None => PortState::Busy,
        })
    }

    /// Releases every stale lease (owner gone or time to live over) and returns them.
    pub fn gc(&self) -> Result<Vec<Reclaimed>> {
        self.store.update(|data| {
            let now = now();
            let stale: Vec<(String, String)> = data
                .leases()
                .filter_map(|l| stale_reason(l, now).map(|why| (l.name.clone(), why)))
                .collect();
            let reclaimed: Vec<Reclaimed> = stale
                .into_iter()
                .filter_map(|(name, reason)| {
                    data.remove(&name).map(|lease| Reclaimed { lease, reason })
                })
                .collect();
            let changed = !reclaimed.is_empty();
            Ok((reclaimed, changed))
        })
    }

    /// Restarts `name`'s time to live from now, with `ttl` seconds or, when `None`, the time
    /// to live it was given. Returns the renewed lease. An unknown name is `NotFound`; a lease
    /// without a time to live, renewed without one, is `InvalidArgument`.
    pub fn renew(&self, name: &str, ttl: Option<u64>) -> Result<Lease> {
        check_name(name)?;
        let ttl = check_ttl(ttl)?;
        self.store.update(|data| {
            let lease = data.lease_mut(name).ok_or_else(|| no_lease(name))?;
            let ttl = ttl.or(lease.ttl).ok_or_else(|| {
                Error::invalid(format!(
                    "lease {name:?} has no time to live; give one to renew it"
                ))
            })?;
            lease.ttl = Some(ttl);
            lease.expires = Some(now().saturating_add(ttl));
            Ok((lease.clone(), true))
        })
    }

    /// Empties the registry: no leases, and only the default pool at 9000–9999.
    pub fn reset(&self) -> Result<()> {
        self.store.update(|data| {
            *data = Data::default();
            Ok(((), true))
        })
    }
}
