//! Handovers and owners: a lease passed from one generation of a process to the next
//! (begin, commit, abort), its owner changed, and batches leased for one owner at once.

use std::collections::HashSet;
use std::time::Duration;

use crate::allocation::pool_grant;
use crate::choose::{check_pool_options, take_flexible, take_from_pool};
use crate::error::{Error, Result};
use crate::owner::{owner_of, with_liveness_memo};
use crate::registry::{
    Grant, LeaseOptions, NewLease, Registry, check_maker, lease_gone, no_lease, settle,
};
use crate::store::model::{Data, Lease, Mode, Next, Owner};
use crate::validate::{check_name, shown};

/// How [`Registry::begin_handover_with`] begins a handover. `Default` is a begin for no
/// particular process that a handover already under way refuses.
#[derive(Clone, Debug, Default, PartialEq, Eq)]
pub struct HandoverOptions {
    /// The next generation's process: it owns the lease after the commit, and its death
    /// while the handover is under way frees the next port.
    pub pid: Option<u32>,
    /// The ticket the caller holds, for a retried begin: when it is the handover under way,
    /// that handover is returned unchanged (`created` false).
    pub ticket: Option<u64>,
    /// Abort the handover under way, whichever it is, and begin a new one, in one change.
    pub supersede: bool,
}

/// A handover under way, as a begin returns it.
#[derive(Clone, Debug, PartialEq, Eq, serde::Serialize)]
pub struct Handover {
    /// The lease's name.
    pub name: String,
    /// The next generation's port.
    pub port: u16,
    /// The ticket that commits or aborts this handover and no other.
    pub ticket: u64,
    /// Whether this call began it (false: a retry that named its ticket found it).
    pub created: bool,
}

/// A handover that a batch commit or abort ends: `name` and the `ticket` the caller holds
/// (`None`: whatever handover is under way, unchecked).
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub struct Ending<'a> {
    /// The lease's name.
    pub name: &'a str,
    /// The handover's ticket, checked when given.
    pub ticket: Option<u64>,
}

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
    /// Errors: `NotFound` for an unknown or stale name; `Conflict` when a handover is
    /// already under way (whoever asks: see [`begin_handover_with`](Self::begin_handover_with)
    /// for retrying with its ticket or superseding it), for a lease another user made (unless
    /// the caller is root or the handle forces, see [`set_force`](Self::set_force)), and for a
    /// fixed lease (its port is the point of it: a handover would move it); `Exhausted` when
    /// no port is free.
    pub fn begin_handover(&self, name: &str, pid: Option<u32>) -> Result<u16> {
        let options = HandoverOptions {
            pid,
            ..HandoverOptions::default()
        };
        self.begin_handover_with(name, &options).map(|h| h.port)
    }

    /// [`begin_handover`](Self::begin_handover), also saying whether this call began the
    /// handover (`created`), so a caller that gave up can undo only what it did (with
    /// [`abort_handover`](Self::abort_handover)).
    pub fn begin_handover_grant(&self, name: &str, pid: Option<u32>) -> Result<Grant> {
        let options = HandoverOptions {
            pid,
            ..HandoverOptions::default()
        };
        let handover = self.begin_handover_with(name, &options)?;
        Ok(Grant {
            port: handover.port,
            created: handover.created,
        })
    }

    /// Begins `name`'s handover and returns it with its ticket: the lease's next generation.
    /// A handover already under way is a `Conflict` naming its ticket and port, whoever asks,
    /// unless `options.ticket` is that ticket (a retry: the handover is returned, `created`
    /// false) or `options.supersede` (it is aborted and a new one begun, with a new ticket,
    /// in one change). A ticket that is not the one under way is a `Conflict` and changes
    /// nothing. Other errors and rules as [`begin_handover`](Self::begin_handover).
    pub fn begin_handover_with(&self, name: &str, options: &HandoverOptions) -> Result<Handover> {
        let key = self.named(name)?;
        let owner = options.pid.map(owner_of).transpose()?;
        let force = self.force();
        self.store.update(|data| {
            with_liveness_memo(|| {
                let now = self.now();
                check_maker(&current(data, &key, now)?, force)?;
                let handover = begin_in(data, &key, owner, options, now)?;
                let created = handover.created;
                Ok((handover, created))
            })
        })
    }

    /// Begins a handover of each of `names` in one change: all begin, or none does and the
    /// first refusal is the error. Each is begun as by
    /// [`begin_handover_with`](Self::begin_handover_with) with `options` (a retry's ticket
    /// cannot be one for several names: `options.ticket` is `InvalidArgument`). A name given
    /// twice is `InvalidArgument`. A rolling restart of N instances is then one decision: a
    /// crash leaves all of them pending or none.
    pub fn begin_handovers(
        &self,
        names: &[&str],
        options: &HandoverOptions,
    ) -> Result<Vec<Handover>> {
        if let Some(ticket) = options.ticket {
            return Err(Error::invalid(format!(
                "ticket {ticket} names one handover, not a batch; retry a batch by committing or aborting its tickets"
            )));
        }
        let keys = self.named_once(names.iter().copied())?;
        let owner = options.pid.map(owner_of).transpose()?;
        let force = self.force();
        self.store.update(|data| {
            with_liveness_memo(|| {
                let now = self.now();
                let handovers = keys
                    .iter()
                    .map(|key| {
                        check_maker(&current(data, key, now)?, force)?;
                        begin_in(data, key, owner, options, now)
                    })
                    .collect::<Result<Vec<_>>>()?;
                Ok((handovers, true))
            })
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
    /// Without a ticket, whatever handover is under way is committed; with one, see
    /// [`commit_handover_ticket`](Self::commit_handover_ticket).
    pub fn commit_handover(&self, name: &str, pid: Option<u32>) -> Result<u16> {
        self.commit_handover_ticket(name, pid, None)
    }

    /// [`commit_handover`](Self::commit_handover) of the handover `ticket` names (`None`:
    /// whichever is under way). A ticket of a handover that has ended (committed, aborted,
    /// superseded) or is not the one under way is a `Conflict` and changes nothing.
    pub fn commit_handover_ticket(
        &self,
        name: &str,
        pid: Option<u32>,
        ticket: Option<u64>,
    ) -> Result<u16> {
        let ending = [Ending { name, ticket }];
        self.end_handovers(&ending, pid, true).map(|ports| ports[0])
    }

    /// Abandons `name`'s handover: releases the next generation's port, which is returned;
    /// the current lease is untouched. `pid` is checked as in
    /// [`commit_handover`](Self::commit_handover). Errors: as `commit_handover`.
    pub fn abort_handover(&self, name: &str, pid: Option<u32>) -> Result<u16> {
        self.abort_handover_ticket(name, pid, None)
    }

    /// [`abort_handover`](Self::abort_handover) of the handover `ticket` names, checked as
    /// by [`commit_handover_ticket`](Self::commit_handover_ticket).
    pub fn abort_handover_ticket(
        &self,
        name: &str,
        pid: Option<u32>,
        ticket: Option<u64>,
    ) -> Result<u16> {
        let ending = [Ending { name, ticket }];
        self.end_handovers(&ending, pid, false)
            .map(|ports| ports[0])
    }

    /// Commits the handover of each of `endings` in one change, each checked against its
    /// ticket and `pid` as by [`commit_handover_ticket`](Self::commit_handover_ticket): all
    /// are committed, or none is and the first refusal is the error. Returns the new ports
    /// in order. A name given twice is `InvalidArgument`.
    pub fn commit_handovers(&self, endings: &[Ending<'_>], pid: Option<u32>) -> Result<Vec<u16>> {
        self.end_handovers(endings, pid, true)
    }

    /// Aborts the handover of each of `endings` in one change, all or none, as
    /// [`commit_handovers`](Self::commit_handovers) commits them. Returns the released next
    /// ports in order.
    pub fn abort_handovers(&self, endings: &[Ending<'_>], pid: Option<u32>) -> Result<Vec<u16>> {
        self.end_handovers(endings, pid, false)
    }

    /// Commit (`commit`) or abort each of `endings`, checked for `pid`, in one change.
    fn end_handovers(
        &self,
        endings: &[Ending<'_>],
        pid: Option<u32>,
        commit: bool,
    ) -> Result<Vec<u16>> {
        let keys = self.named_once(endings.iter().map(|e| e.name))?;
        let caller = pid.map(owner_of).transpose()?;
        let force = self.force();
        self.store.update(|data| {
            with_liveness_memo(|| {
                let now = self.now();
                let ports = keys
                    .iter()
                    .zip(endings)
                    .map(|(key, e)| {
                        check_maker(&current(data, key, now)?, force)?;
                        end_in(data, key, e.ticket, caller, commit, now)
                    })
                    .collect::<Result<Vec<_>>>()?;
                Ok((ports, true))
            })
        })
    }

    /// `names`, checked, as keys of this handle's namespace; a name given twice is
    /// `InvalidArgument`.
    fn named_once<'n>(&self, names: impl Iterator<Item = &'n str>) -> Result<Vec<String>> {
        let mut seen = HashSet::new();
        names
            .map(|name| {
                let key = self.named(name)?;
                if !seen.insert(key.clone()) {
                    return Err(Error::invalid(format!(
                        "name {} is given twice",
                        shown(name)
                    )));
                }
                Ok(key)
            })
            .collect()
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
        let pool = pool.into().unwrap_or(crate::store::model::DEFAULT_POOL);
        let keys = self.named_once(names.iter().copied())?;
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
            for name in &keys {
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
        let key = self.named(name)?;
        let name = key.as_str();
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

/// Begins the handover of the lease under `key` in `data` (see
/// [`Registry::begin_handover_with`]).
fn begin_in(
    data: &mut Data,
    key: &str,
    owner: Option<Owner>,
    options: &HandoverOptions,
    now: Duration,
) -> Result<Handover> {
    let mut lease = current(data, key, now)?;
    if let Some(next) = lease.next {
        if options.ticket == Some(next.ticket) && !options.supersede {
            if next.owner.map(|o| o.pid) != owner.map(|o| o.pid) {
                return Err(pending_conflict(
                    key,
                    &next,
                    "its ticket was given for another process",
                ));
            }
            return Ok(handed(&lease, &next, false));
        }
        if !options.supersede {
            let why = match options.ticket {
                Some(t) => format!("ticket {t} is not it"),
                None => "retry with its ticket, supersede it, or commit or abort it first".into(),
            };
            return Err(pending_conflict(key, &next, &why));
        }
        // Superseded: the pending handover is aborted in this same change.
        lease.next = None;
        data.replace(lease.clone())?;
    } else if let Some(t) = options.ticket.filter(|_| !options.supersede) {
        return Err(ended_ticket(key, t, &lease));
    }
    let port = next_port(data, &lease, key, now)?;
    let next = Next {
        port,
        created: now.as_secs(),
        owner,
        ticket: lease.generation + 1,
    };
    data.replace(Lease {
        next: Some(next),
        generation: next.ticket,
        ..lease.clone()
    })?;
    Ok(handed(&lease, &next, true))
}

/// The next generation's port of `lease`: from its pool, or the first free port above its
/// own; a fixed lease has none.
fn next_port(data: &mut Data, lease: &Lease, key: &str, now: Duration) -> Result<u16> {
    match (&lease.mode, &lease.pool) {
        (Mode::Fixed, _) => Err(Error::conflict(format!(
            "{} is a fixed lease of port {}/{}: a handover would move it; use a flexible or pool lease for zero-downtime reloads",
            shown(key),
            lease.port,
            lease.protocol
        ))),
        (Mode::Pool, Some(pool)) => take_from_pool(data, pool, lease.protocol, now, Some(key)),
        _ => match lease.port.checked_add(1) {
            Some(from) => take_flexible(data, from, lease.protocol, now, Some(key)),
            None => Err(Error::exhausted(format!(
                "no free {} port above {}",
                lease.protocol, lease.port
            ))),
        },
    }
}

fn handed(lease: &Lease, next: &Next, created: bool) -> Handover {
    Handover {
        name: lease.name.clone(),
        port: next.port,
        ticket: next.ticket,
        created,
    }
}

/// Commits (`commit`) or aborts the handover of the lease under `key` in `data`, checked
/// against `ticket` and `caller`; returns the next port.
fn end_in(
    data: &mut Data,
    key: &str,
    ticket: Option<u64>,
    caller: Option<Owner>,
    commit: bool,
    now: Duration,
) -> Result<u16> {
    let lease = current(data, key, now)?;
    let Some(next) = lease.next else {
        return Err(match ticket {
            Some(t) => ended_ticket(key, t, &lease),
            None => Error::not_found(format!("no handover of {} is under way", shown(key))),
        });
    };
    if let Some(t) = ticket.filter(|t| *t != next.ticket) {
        return Err(pending_conflict(
            key,
            &next,
            &format!("ticket {t} is not it; nothing was changed"),
        ));
    }
    check_handover_caller(key, &next, caller.as_ref())?;
    let ended = if commit {
        Lease {
            port: next.port,
            created: next.created,
            owner: next.owner.or(caller),
            next: None,
            ..lease
        }
    } else {
        Lease {
            next: None,
            ..lease
        }
    };
    data.replace(ended)?;
    Ok(next.port)
}

/// The `Conflict` of a handover of `key` under way, `why` saying what the caller may do.
fn pending_conflict(key: &str, next: &Next, why: &str) -> Error {
    Error::conflict(format!(
        "a handover of {} to {} is already under way (ticket {}, port {}); {why}",
        shown(key),
        pid_text(next.owner),
        next.ticket,
        next.port
    ))
}

/// The `Conflict` of a ticket given for `key`, which has no handover under way.
fn ended_ticket(key: &str, ticket: u64, lease: &Lease) -> Error {
    Error::conflict(format!(
        "ticket {ticket} of {} is not under way (no handover is; the lease is at generation {}, port {}); nothing was changed",
        shown(key),
        lease.generation,
        lease.port
    ))
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
