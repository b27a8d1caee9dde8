//! The scoped lease: a port that belongs to one scope of one process — a `with` block, a
//! `portpool run` command, a Go `Lease` until `Close` — with one behaviour for every front
//! end.
//!
//! - Entering always makes a new lease. A name that already holds a live lease is a
//!   `Conflict` and changes nothing: the scope would otherwise end by releasing, or
//!   keep using, a port that somebody else is counting on.
//! - The lease is owned by `options.pid`, else by the process that entered the scope, so it
//!   is reclaimed when that process dies inside the scope.
//! - Leaving releases the lease once, and only in the process that entered: a forked child
//!   that leaves its copy of the scope never releases its parent's lease. A lease the name
//!   no longer holds (released or handed over meanwhile) is left alone.

use std::sync::atomic::{AtomicBool, Ordering};

use crate::error::{Error, Result};
use crate::registry::{Grant, LeaseOptions, Registry};
use crate::store::model::{Mode, Protocol};

/// How a port is chosen: from a pool (`None`: the default pool), or from ports in a mode
/// (as [`Registry::register`] takes them).
#[derive(Clone, Debug, PartialEq, Eq)]
pub enum Choice {
    /// The next free port of the pool; `None` is the default pool.
    Pool(Option<String>),
    /// The first of `ports` that `mode` allows, as `register` chooses.
    Ports {
        /// The preferred ports, in order.
        ports: Vec<u16>,
        /// Fixed or flexible.
        mode: Mode,
    },
}

impl Default for Choice {
    fn default() -> Choice {
        Choice::Pool(None)
    }
}

impl Choice {
    /// The choice a caller describes with a pool, ports and a mode, each optional (every
    /// front end's `pool=`, `port=`, `mode=`): ports in `mode` (default flexible) when ports
    /// are given, else the pool (`None`: the default pool). Both a pool and ports, or a mode
    /// other than flexible without ports, is `InvalidArgument`: a pool has no mode.
    pub fn new(
        pool: Option<String>,
        ports: Option<Vec<u16>>,
        mode: Option<Mode>,
    ) -> Result<Choice> {
        match (pool, ports, mode) {
            (Some(pool), Some(_), _) => Err(Error::invalid(format!(
                "give a pool or ports, not both (pool {})",
                crate::validate::shown(&pool)
            ))),
            (None, Some(ports), mode) => Ok(Choice::Ports {
                ports,
                mode: mode.unwrap_or_default(),
            }),
            (_, None, Some(mode)) if mode != Mode::Flexible => Err(Error::invalid(format!(
                "mode {mode} applies to ports: give ports with it (a pool has no mode)"
            ))),
            (pool, None, _) => Ok(Choice::Pool(pool)),
        }
    }
}

/// A lease made by [`Registry::lease_scoped`]: ended by [`release`](Self::release).
///
/// It holds no reference to the registry, so it can be kept anywhere (a binding's guard
/// object, a Go struct); `release` takes the registry it was made from.
#[derive(Debug)]
pub struct ScopedLease {
    name: String,
    port: u16,
    protocol: Protocol,
    /// The process that entered the scope: the only one that releases.
    creator: u32,
    ended: AtomicBool,
}

impl ScopedLease {
    /// The scope of the lease of `port` that this process just made for `name`.
    pub(crate) fn made(name: &str, port: u16, protocol: Protocol) -> ScopedLease {
        ScopedLease {
            name: name.to_owned(),
            port,
            protocol,
            creator: std::process::id(),
            ended: AtomicBool::new(false),
        }
    }

    /// The lease's name.
    pub fn name(&self) -> &str {
        &self.name
    }

    /// The leased port.
    pub fn port(&self) -> u16 {
        self.port
    }

    /// The port's protocol.
    pub fn protocol(&self) -> Protocol {
        self.protocol
    }

    /// Whether [`release`](Self::release) has ended the scope in this process.
    pub fn is_ended(&self) -> bool {
        self.ended.load(Ordering::Acquire)
    }

    /// Ends the scope: releases the lease, once, only in the process that made it, and only
    /// while the name still holds this port. `Ok(true)`: this call released it. `Ok(false)`:
    /// the scope had ended already, the caller is another process (a forked child), or the
    /// name no longer holds this lease. An error (e.g. `Busy`) leaves the scope open, so
    /// the caller may try again.
    pub fn release(&self, reg: &Registry) -> Result<bool> {
        if std::process::id() != self.creator {
            return Ok(false);
        }
        if self.ended.swap(true, Ordering::AcqRel) {
            return Ok(false);
        }
        let released = reg.release_holding(&self.name, self.port, self.protocol);
        if released.is_err() {
            self.ended.store(false, Ordering::Release);
        }
        released
    }
}

impl Registry {
    /// Leases a new port to `name` for one scope (see the [module](self) for the one
    /// behaviour every front end shares): chosen as `choice` says, owned by `options.pid`,
    /// else by the calling process. A name that already holds a live lease is a `Conflict`
    /// and changes nothing; a stale one is reclaimed.
    pub fn lease_scoped(
        &self,
        name: &str,
        choice: &Choice,
        options: &LeaseOptions,
    ) -> Result<ScopedLease> {
        let options = LeaseOptions {
            pid: options.pid.or(Some(std::process::id())),
            ..options.clone()
        };
        let grant = self.grant(name, choice, &options)?;
        if !grant.created {
            return Err(held_by_scope(name, grant.port, options.protocol));
        }
        Ok(ScopedLease::made(name, grant.port, options.protocol))
    }

    /// Leases a port to `name` as `choice` says: [`allocate_grant`](Self::allocate_grant)
    /// or [`register_grant`](Self::register_grant) (every preferred port, in order).
    pub fn grant(&self, name: &str, choice: &Choice, options: &LeaseOptions) -> Result<Grant> {
        match choice {
            Choice::Pool(pool) => self.allocate_grant(name, pool.as_deref(), options),
            Choice::Ports { ports, mode } => {
                self.register_grant(name, ports.as_slice(), *mode, options)
            }
        }
    }

    /// Releases `name`'s lease only while it holds `port` for `protocol`; whether it did. A
    /// binding undoes with it a call whose caller gave up (a cancelled task, an aborted
    /// promise) once that call's lease has landed: a name released and leased again by
    /// somebody else meanwhile is left alone.
    pub fn release_holding(&self, name: &str, port: u16, protocol: Protocol) -> Result<bool> {
        let key = self.named(name)?;
        let name = key.as_str();
        self.store.update(|data| {
            let holds = data
                .lease(name)
                .is_some_and(|l| l.port == port && l.protocol == protocol);
            if holds {
                data.remove(name);
            }
            Ok((holds, holds))
        })
    }
}

impl Grant {
    /// Undoes the call that returned this grant for `name`, when its caller gave up (a
    /// cancelled task, an aborted promise) after the lease landed: releases the lease if
    /// that call made it and `name` still holds this port for `protocol` (a lease the name
    /// held before, or one somebody leased again meanwhile, is left alone). Whether it
    /// released. Every binding undoes through this, so all undo by the same rule.
    pub fn undo(&self, reg: &Registry, name: &str, protocol: Protocol) -> Result<bool> {
        if !self.created {
            return Ok(false);
        }
        reg.release_holding(name, self.port, protocol)
    }
}

/// The `Conflict` of a scope entered with a name that already holds a lease.
pub(crate) fn held_by_scope(name: &str, port: u16, protocol: Protocol) -> Error {
    Error::conflict(format!(
        "{name:?} already holds port {port}/{protocol}; a scoped lease needs a name without a lease"
    ))
}
