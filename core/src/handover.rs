//! Handovers and owners: a lease passed from one generation of a process to the next
//! (begin, commit, abort), its owner changed, and batches leased for one owner at once.

use std::collections::HashSet;
use std::time::Duration;

use crate::allocation::pool_grant;
use crate::error::{Error, Result};
use crate::model::{Data, Lease, Mode, Next, Owner};
use crate::owner::owner_of;
use crate::registry::{
    Grant, LeaseOptions, NewLease, Registry, check_maker, check_pool_options, lease_gone, no_lease,
    settle, take_flexible, take_from_pool,
};
use crate::validate::{check_name, shown};

impl Registry {
    /// Begins a zero-downtime handover of `name`: leases a port for the next generation while
    /// the current one stays valid, and returns it. Both ports are leased and listed; `get`
    /// still returns the current port until [`commit_handover`](Self::commit_handover). A pool
    /// lease's new port comes from its pool (round robin, never a port still leased); a
    /// flexible lease takes the first free port above the current one. `pid` is the next
    /// generation's process: it owns the lease after the commit, and while the handover is
    /// under way its death frees the next port and the current owner's death commits the
    /// handover (see [`gc`](Self::gc)).
    ///
    /// Begun again for the same `pid` (or again without one), returns the same port.
    /// Errors: `NotFound` for an unknown or stale name; `Conflict` when a handover for
    /// another process is under way, for a lease another user made (unless the caller is
    /// root or the handle forces, see [`set_force`](Self::set_force)), and for a fixed lease (its port is the point of it: a
    /// handover would move it); `Exhausted` when no port is free.
    pub fn begin_handover(&self, name: &str, pid: Option<u32>) -> Result<u16> {
        self.begin_handover_grant(name, pid).map(|g| g.port)
    }

    /// [`begin_handover`](Self::begin_handover), also saying whether this call began the
    /// handover (`created`) or found it under way already, so a caller that gave up can undo
    /// only what it did (with [`abort_handover`](Self::abort_handover)).
    pub fn begin_handover_grant(&self, name: &str, pid: Option<u32>) -> Result<Grant> {
        check_name(name)?;
        let owner = pid.map(owner_of).transpose()?;
        let force = self.force();
        self.store.update(|data| {
            let now = self.now();
            let lease = current(data, name, now)?;
            check_maker(&lease, force)?;
            if let Some(next) = lease.next {
                if next.owner.map(|o| o.pid) != owner.map(|o| o.pid) {
                    return Err(Error::conflict(format!(
                        "a handover of {} to {} is already under way (port {}); commit or abort it first",
                        shown(name),
                        pid_text(next.owner),
                        next.port
                    )));
                }
                return Ok((Grant::held(next.port), false));
            }
            let port = match (&lease.mode, &lease.pool) {
                (Mode::Fixed, _) => {
                    return Err(Error::conflict(format!(
                        "{} is a fixed lease of port {}/{}: a handover would move it; use a flexible or pool lease for zero-downtime reloads",
                        shown(name),
                        lease.port,
                        lease.protocol
                    )));
                }
                (Mode::Pool, Some(pool)) => {
                    take_from_pool(data, pool, lease.protocol, now, Some(name))?
                }
                _ => match lease.port.checked_add(1) {
                    Some(from) => take_flexible(data, from, lease.protocol, now, Some(name))?,
                    None => {
                        return Err(Error::exhausted(format!(
                            "no free {} port above {}",
                            lease.protocol, lease.port
                        )));
                    }
                },
            };
            let next = Next {
                port,
                created: now.as_secs(),
                owner,
            };
            data.replace(Lease {
                next: Some(next),
                ..lease
            })?;
            Ok((Grant::made(port), true))
        })
    }

    /// Completes `name`'s handover: releases the old port and makes the next one current.
    /// Returns the new port. The lease's owner becomes the next generation's process: the
    /// `pid` given when the handover began, else `pid` given here, else none (the lease then
    /// holds until it is released or its time to live ends; the old generation's process
    /// never owns the new port).
    ///
    /// `pid` names the next generation as the caller knows it: when the handover began with
    /// another process, the commit is a `Conflict`, so one supervisor cannot commit
    /// another's handover. A caller that gives no `pid` is not checked. A lease another
    /// user made is a `Conflict`, as for [`begin_handover`](Self::begin_handover).
    /// Errors: `NotFound` for an unknown or stale name, or when no handover is under way.
    pub fn commit_handover(&self, name: &str, pid: Option<u32>) -> Result<u16> {
        self.end_handover(name, pid, |lease, next, caller| Lease {
            port: next.port,
            created: next.created,
            owner: next.owner.or(caller),
            next: None,
            ..lease
        })
    }

    /// Abandons `name`'s handover: releases the next generation's port, which is returned;
    /// the current lease is untouched. `pid` is checked as in
    /// [`commit_handover`](Self::commit_handover). Errors: as `commit_handover`.
    pub fn abort_handover(&self, name: &str, pid: Option<u32>) -> Result<u16> {
        self.end_handover(name, pid, |lease, _, _| Lease {
            next: None,
            ..lease
        })
    }

    /// Commit or abort: `name`'s handover, checked for `pid`, ends with the lease `end`
    /// makes of the current lease, the handover and the caller. Returns the next port.
    fn end_handover(
        &self,
        name: &str,
        pid: Option<u32>,
        end: impl Fn(Lease, Next, Option<Owner>) -> Lease,
    ) -> Result<u16> {
        check_name(name)?;
        let caller = pid.map(owner_of).transpose()?;
        let force = self.force();
        self.store.update(|data| {
            let now = self.now();
            let lease = current(data, name, now)?;
            check_maker(&lease, force)?;
            let (lease, next) = under_way(lease, name)?;
            check_handover_caller(name, &next, caller.as_ref())?;
            data.replace(end(lease, next, caller))?;
            Ok((next.port, true))
        })
    }

    /// Allocates a port of `pool` to each of `names` in one locked write: all or none. Names
    /// that already hold a lease get theirs back. Returns the ports in the order of `names`.
    /// Errors and options as [`allocate`](Self::allocate); a name given twice is
    /// `InvalidArgument`. `pool` `None` is the default pool, as for `allocate`.
    pub fn allocate_many<'p>(
        &self,
        names: &[&str],
        pool: impl Into<Option<&'p str>>,
        options: &LeaseOptions,
    ) -> Result<Vec<u16>> {
        self.allocate_many_grants(names, pool, options)
            .map(|grants| grants.into_iter().map(|g| g.port).collect())
    }

    /// [`allocate_many`](Self::allocate_many), also saying for each name whether this call
    /// made its lease, so a caller that gave up can release only those
    /// ([`release_holding`](Self::release_holding)).
    pub fn allocate_many_grants<'p>(
        &self,
        names: &[&str],
        pool: impl Into<Option<&'p str>>,
        options: &LeaseOptions,
    ) -> Result<Vec<Grant>> {
        let pool = pool.into().unwrap_or(crate::model::DEFAULT_POOL);
        let mut seen = HashSet::new();
        for name in names {
            check_name(name)?;
            if !seen.insert(*name) {
                return Err(Error::invalid(format!("name {name:?} is given twice")));
            }
        }
        check_name(pool).map_err(|e| Error::invalid(format!("pool: {e}")))?;
        check_pool_options(options)?;
        // Owner and time to live are checked once, for every name.
        let template = NewLease::asked("", Mode::Pool, Some(pool), options)?
            .forced(self.force() || options.force);
        let protocol = options.protocol;
        let request = crate::choose::Request {
            source: crate::choose::Source::Pool(pool),
            exclude: &options.exclude,
            protocol,
            keep: None,
        };
        self.store.update(|data| {
            let now = self.now();
            let mut changed = false;
            let mut ports = Vec::with_capacity(names.len());
            for name in names {
                let new = NewLease { name, ..template };
                let (grant, made) = pool_grant(data, &new, &request, options, now)?;
                changed |= made;
                ports.push(grant);
            }
            Ok((ports, changed))
        })
    }

    /// Makes process `pid` the owner of `name`'s lease (`None`: permanent). Returns the lease.
    /// `portpool run` uses it to hand its lease to the child it started. A lease another
    /// user made is a `Conflict` naming that user, unless the caller is root or the handle
    /// forces (see [`set_force`](Self::set_force)).
    pub fn set_owner(&self, name: &str, pid: Option<u32>) -> Result<Lease> {
        check_name(name)?;
        let owner = pid.map(owner_of).transpose()?;
        let force = self.force();
        self.store.update(|data| {
            let now = self.now();
            check_maker(&current(data, name, now)?, force)?;
            let lease = data.lease_mut(name).ok_or_else(|| no_lease(name))?;
            lease.owner = owner;
            Ok((lease.clone(), true))
        })
    }
}

/// `name`'s lease as it stands now, settled in `data`; `NotFound` when there is none or it
/// was stale.
fn current(data: &mut Data, name: &str, now: Duration) -> Result<Lease> {
    match settle(data, name, now)? {
        Some(gone) if data.lease(name).is_none() => Err(lease_gone(name, &gone.reason)),
        _ => data.lease(name).cloned().ok_or_else(|| no_lease(name)),
    }
}

/// `name`'s lease and its handover, or `NotFound`.
fn under_way(lease: Lease, name: &str) -> Result<(Lease, Next)> {
    let next = lease
        .next
        .ok_or_else(|| Error::not_found(format!("no handover of {} is under way", shown(name))))?;
    Ok((lease, next))
}

/// A commit or abort by `caller` of a handover begun for `next.owner`: refused when both are
/// known and differ.
fn check_handover_caller(name: &str, next: &Next, caller: Option<&Owner>) -> Result<()> {
    match (next.owner, caller) {
        (Some(pending), Some(caller)) if pending != *caller => Err(Error::conflict(format!(
            "the handover of {} is for {}, not pid {}; only its supervisor may commit or abort it",
            shown(name),
            pid_text(next.owner),
            caller.pid
        ))),
        _ => Ok(()),
    }
}

fn pid_text(owner: Option<Owner>) -> String {
    owner.map_or_else(|| "no process".to_owned(), |o| format!("pid {}", o.pid))
}
