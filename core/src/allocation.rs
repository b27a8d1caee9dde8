//! Allocation: leasing ports (register, allocate), looking them up, releasing them, pools,
//! reclaiming stale leases (gc) and renewing. The rules of choosing a port are in choose.rs;
//! what several concerns share (the handle, settling stale leases) is in registry.rs.

use std::time::Duration;

use crate::choose::{
    Ports, Request, Source, check_pool_options, check_register, held_for, take_probed,
};
use crate::error::{Error, Result};
use crate::owner::{Standing, settled, standing};
use crate::probe::{Binder, is_free};
use crate::registry::{
    Grant, LeaseOptions, NewLease, PoolChange, PortState, Reclaimed, Registry, check_maker,
    check_pool_maker, check_ttl_option, drop_if_stale, expiry, held_port, lease_gone, marked,
    no_lease, settle,
};
use crate::store::model::{Data, Lease, Mode, Pool, Protocol};
use crate::validate::{check_name, check_port, shown};

impl Registry {
    /// Leases a port to `name` and returns it. `ports` are the preferred ports in order: one
    /// port (`8080`) or a list (`vec![3000, 3001]`).
    ///
    /// - A `name` that already holds a lease gets its port back; nothing is written or
    ///   probed. Asking it for the other protocol, or in fixed mode for ports that do not
    ///   include the one it holds, is a `Conflict` and changes nothing. So is a live lease
    ///   of `name` another user made, unless the caller is root or the handle forces (see
    ///   [`set_force`](Self::set_force)): only its maker may register the name again.
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
        let key = self.named(name)?;
        let name = key.as_str();
        check_register(&ports, mode, options.range, &options.exclude, options.host)?;
        let new = NewLease::asked(name, mode, None, options)?.forced(self.force() || options.force);
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
            if let Some(held) = data.lease(name) {
                check_maker(held, new.force)?;
            }
            if let Some(held) = held_for(data, name, &request)? {
                return Ok((Grant::held(held), dropped));
            }
            let force = mode == Mode::Fixed && options.force;
            let port = take_probed(
                data,
                &request,
                !force,
                options.host,
                Binder::of(options.bindable),
                now,
            )?;
            data.insert(new.at(port, now))?;
            Ok((Grant::made(port), true))
        })
    }

    /// Leases the next free port of `pool` to `name` and returns it.
    ///
    /// Starts at the pool's cursor, skips ports leased (for this protocol) or, when the pool
    /// probes, bound by other processes, wraps from the end to the start, and leaves the cursor
    /// just after the port handed out, for every process on the host. A `name` that already
    /// holds a lease gets its port back and nothing is written (a live lease another user
    /// made is a `Conflict`, as for [`register`](Self::register)). A full cycle with no free port
    /// is `Exhausted` and changes nothing; an unknown pool is `NotFound`. Ports in
    /// `options.exclude` are passed over; a probing pool probes on `options.host` when given.
    /// `options.force` only lets the call return a name another user's lease holds, and `options.range` is `InvalidArgument` (a pool
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
        let pool = pool.into().unwrap_or(crate::store::model::DEFAULT_POOL);
        let key = self.named(name)?;
        let name = key.as_str();
        check_name(pool).map_err(|e| Error::invalid(format!("pool: {e}")))?;
        check_pool_options(options)?;
        let new = NewLease::asked(name, Mode::Pool, Some(pool), options)?
            .forced(self.force() || options.force);
        let protocol = options.protocol;
        let request = Request {
            source: Source::Pool(pool),
            exclude: &options.exclude,
            protocol,
            keep: None,
        };
        self.store
            .update(|data| pool_grant(data, &new, &request, options, self.now()))
    }

    /// The lease `name` holds now, or `None`. A stale lease holds nothing and reads as
    /// `None`; a handover that its owners' deaths committed or abandoned reads as settled
    /// (see [`list`](Self::list) for the leases as recorded).
    pub fn get(&self, name: &str) -> Result<Option<Lease>> {
        let key = self.named(name)?;
        let name = key.as_str();
        let now = self.now();
        self.store
            .read(|data| data.lease(name).and_then(|l| settled(l, now).0))
    }

    /// The lease `name` holds, or `NotFound` (`no lease named "NAME"`): for callers for whom
    /// an unknown name is an error.
    pub fn lease(&self, name: &str) -> Result<Lease> {
        self.get(name)?
            .ok_or_else(|| no_lease(&crate::store::model::lease_key(self.namespace(), name)))
    }

    /// Releases `name`'s lease. Returns whether there was one: an unknown name is not an
    /// error. A live lease another user made is a `Conflict` naming that user, unless the
    /// caller is root or the handle forces (see [`set_force`](Self::set_force)); a stale one
    /// is anyone's to release, as `gc` would. A lease with a handover under way is a
    /// `Conflict` naming its ticket and changes nothing: releasing it would end both
    /// generations, so the caller says which ends (commit or abort the handover) or that both
    /// do ([`release_all`](Self::release_all)). A handover whose old generation's owner is
    /// gone was committed by that death (see [`gc`](Self::gc)), so the release then frees the
    /// new generation's port.
    pub fn release(&self, name: &str) -> Result<bool> {
        self.release_generations(name, false)
    }

    /// Releases `name`'s lease and, when a handover is under way, the next generation's port
    /// too. Returns whether there was a lease. Another user's live lease is a `Conflict` as
    /// for [`release`](Self::release).
    pub fn release_all(&self, name: &str) -> Result<bool> {
        self.release_generations(name, true)
    }

    fn release_generations(&self, name: &str, all: bool) -> Result<bool> {
        let key = self.named(name)?;
        let name = key.as_str();
        let force = self.force();
        self.store.update(|data| {
            let settled = drop_if_stale(data, name, self.now())?;
            if let Some(lease) = data.lease(name)
                && standing(lease, self.now()) == Standing::Held
            {
                check_maker(lease, force)?;
            }
            if let Some(next) = data.lease(name).and_then(|l| l.next).filter(|_| !all) {
                return Err(Error::conflict(format!(
                    "{} has a handover under way (ticket {}, port {}): releasing it would drop both generations' ports; commit or abort the handover first, or release all",
                    shown(name),
                    next.ticket,
                    next.port
                )));
            }
            let released = data.remove(name).is_some();
            Ok((released, released || settled))
        })
    }

    /// Every lease as recorded, sorted by name. A lease that is stale in any way (time to
    /// live over, owner gone, a handover's owner gone) carries the reason in
    /// [`Lease::stale`] until something settles it (`gc`, or a call that needs its port).
    /// Only this handle's namespace is listed (see
    /// [`list_all_namespaces`](Self::list_all_namespaces)).
    pub fn list(&self) -> Result<Vec<Lease>> {
        let now = self.now();
        crate::owner::with_liveness_memo(|| {
            self.store.read(|data| {
                data.leases()
                    .filter(|l| self.sees(l))
                    .map(|l| marked(l, now))
                    .collect()
            })
        })
    }

    /// Every lease of every namespace, as [`list`](Self::list) shows them, sorted by
    /// namespace (the default one first), then name.
    pub fn list_all_namespaces(&self) -> Result<Vec<Lease>> {
        let now = self.now();
        let mut leases: Vec<Lease> = crate::owner::with_liveness_memo(|| {
            self.store
                .read(|data| data.leases().map(|l| marked(l, now)).collect())
        })?;
        leases.sort_by(|a, b| (&a.namespace, &a.name).cmp(&(&b.namespace, &b.name)));
        Ok(leases)
    }

    /// Every pool, sorted by name. The `default` pool (9000–18999 unless changed) is always
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
    /// A new pool records the caller's user; changing a pool another user created is a
    /// `Conflict` naming that user, unless the caller is root or the handle forces (see
    /// [`set_force`](Self::set_force)).
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
        let force = self.force();
        self.store
            .update(|data| {
                let old = data.pool(name).cloned();
                if let Some(old) = &old {
                    check_pool_maker(old, force)?;
                }
                let made = Pool::with_cursor(
                    name.to_owned(),
                    start,
                    end,
                    old.as_ref().map(|p| p.cursor),
                    probe.or(old.as_ref().map(|p| p.probe)).unwrap_or(true),
                );
                let uid = old.as_ref().map_or(Some(crate::sys::geteuid()), |p| p.uid);
                let pool = Pool { uid, ..made };
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
    /// For `tcp+udp`, the port is leased when a lease holds it for TCP or for UDP, and busy
    /// when a socket of either protocol is bound to it.
    pub fn check(&self, port: u16, protocol: Protocol) -> Result<PortState> {
        check_port(port)?;
        let now = self.now();
        let leased = self.store.read(|data| {
            data.holders(port, protocol)
                .find_map(|l| settled(l, now).0.filter(|l| l.ports().any(|p| p == port)))
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
        // Each owner's liveness is read once per call, not once per lease: a farm's workers
        // hold many leases each.
        crate::owner::with_liveness_memo(|| {
            self.store.update(|data| {
                let now = self.now();
                let names: Vec<String> = data
                    .leases()
                    .filter(|l| standing(l, now) != Standing::Held)
                    .map(Lease::key)
                    .collect();
                let mut reclaimed = Vec::with_capacity(names.len());
                for name in names {
                    reclaimed.extend(settle(data, &name, now)?);
                }
                let changed = !reclaimed.is_empty();
                Ok((reclaimed, changed))
            })
        })
    }

    /// Restarts `name`'s time to live from now, with `ttl` seconds or, when `None`, the time
    /// to live it was given. Returns the renewed lease. An unknown name is `NotFound`, and so
    /// is a stale one (its time to live already over, or its owner gone): a lease that holds
    /// nothing is never revived. A lease without a time to live, renewed without one, is
    /// `InvalidArgument`.
    pub fn renew(&self, name: &str, ttl: Option<u64>) -> Result<Lease> {
        let key = self.named(name)?;
        let name = key.as_str();
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

    /// Empties the registry: no leases, and only the default pool at 9000–18999. Works on
    /// any registry file of this format version, even one whose entries no longer read back
    /// (a file of another format, or not a registry at all, is still refused untouched).
    /// While it reads back and holds a live lease another user made, it is a `Conflict`
    /// naming that user, unless the caller is root or the handle forces (see
    /// [`set_force`](Self::set_force)).
    pub fn reset(&self) -> Result<()> {
        let force = self.force();
        let now = self.now();
        if let Ok(Err(e)) = self.store.read(|data| {
            data.leases()
                .filter(|l| standing(l, now) == Standing::Held)
                .try_for_each(|l| check_maker(l, force))
        }) {
            return Err(e);
        }
        self.store.reset()
    }
}

/// One name's lease from a pool, inside an update (`allocate`, and each name of
/// `allocate_many`): the port the name holds, else the next free one of `request`'s pool,
/// leased as `new` says. Also whether `data` changed.
pub(crate) fn pool_grant(
    data: &mut Data,
    new: &NewLease<'_>,
    request: &Request<'_>,
    options: &LeaseOptions,
    now: Duration,
) -> Result<(Grant, bool)> {
    let dropped = drop_if_stale(data, new.name, now)?;
    if let Some(held) = data.lease(new.name) {
        check_maker(held, new.force)?;
    }
    if let Some(held) = held_port(data, new.name, request.protocol, None)? {
        return Ok((Grant::held(held), dropped));
    }
    let binder = Binder::of(options.bindable);
    let port = take_probed(data, request, true, options.host, binder, now)?;
    data.insert(new.at(port, now))?;
    Ok((Grant::made(port), true))
}
