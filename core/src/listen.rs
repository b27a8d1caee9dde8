//! Lease and bind in one step: [`Registry::listen`] binds the port under the registry's lock,
//! then records the lease, so that no process — inside the registry or outside it — gets
//! between the lease and the bind.

use std::io;
use std::net::{IpAddr, Ipv4Addr, Ipv6Addr};
use std::os::fd::OwnedFd;

use socket2::Socket;

use crate::choose::{Request, Source, check_pool_options, check_register, choose, held_for};
use crate::error::{Error, Result};
use crate::owner::owner_of;
use crate::probe::{address_error, bind_at};
use crate::registry::{
    LeaseOptions, NewLease, Registry, check_maker, check_ttl_option, drop_if_stale,
};
use crate::scoped::{Choice, ScopedLease, held_by_scope};
use crate::store::model::{Mode, Protocol};
use crate::validate::{check_name, shown};

/// How [`Registry::listen`] binds. `Default`: the wildcard address, the kernel's backlog.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct ListenOptions {
    /// The address to bind, e.g. 127.0.0.1. `None`: the IPv6 wildcard in dual-stack mode
    /// (IPv4 and IPv6) where the host has IPv6, else 0.0.0.0. `[::]` given here is bound
    /// dual-stack too.
    pub host: Option<IpAddr>,
    /// TCP only: the length of the queue of connections not yet accepted (the kernel caps
    /// it at `net.core.somaxconn`). 0 ([`DEFAULT_BACKLOG`](crate::DEFAULT_BACKLOG)): the
    /// kernel's `somaxconn`. At most 2147483647 ([`backlog_from_i64`](crate::backlog_from_i64)).
    pub backlog: u32,
}

impl Default for ListenOptions {
    fn default() -> Self {
        ListenOptions {
            host: None,
            backlog: crate::validate::DEFAULT_BACKLOG,
        }
    }
}

/// A socket bound to a leased port: for TCP, bound and listening; for UDP, bound.
///
/// The caller owns `fd` and closes it (dropping it closes it). It is close-on-exec: a child
/// the caller starts inherits it only when the caller clears that flag (as `portpool run
/// --listen` does for fd 3). Closing it does not release the lease, and the lease does not
/// close it: release is explicit, or happens when the lease's owner process has exited.
#[derive(Debug)]
pub struct Bound {
    /// The socket.
    pub fd: OwnedFd,
    /// The port it is bound to, which the lease holds.
    pub port: u16,
    /// Whether this call made the lease (false: the name held it already).
    pub created: bool,
}

impl Registry {
    /// Leases a port to `name` and returns a socket bound to it, in one step.
    ///
    /// Under the registry's lock: chooses a port as `choice` says (with the rules of
    /// [`allocate`](Self::allocate) or [`register`](Self::register), `options.exclude` and
    /// `options.range` included), binds it, then records the lease. A candidate whose bind
    /// fails because the port is in use is passed over like a bound port; it needs no
    /// separate probe, as the bind is the probe (so `options.force`, and a pool's probing
    /// off, change nothing here). Any other bind failure ends the call with that error and
    /// records nothing.
    ///
    /// - The socket: TCP listening with `listen.backlog`, or UDP bound (`tcp+udp` is
    ///   `InvalidArgument`: one socket is one protocol); `SO_REUSEADDR` for
    ///   TCP, as servers set it; close-on-exec. Bound to `listen.host`, else `options.host`,
    ///   else the IPv6 wildcard in dual-stack mode where the host has IPv6, else 0.0.0.0.
    ///   Both hosts given and different is `InvalidArgument`.
    /// - The lease is owned by `options.pid`, else by the calling process: it is reclaimed
    ///   once that process has exited. Closing the socket does not release it.
    /// - A `name` that already holds a lease (of this protocol, and one `choice` accepts, as
    ///   `register` and `allocate` say) gets a socket bound to that port, `created` false;
    ///   when that port is bound by another process, that is a `Conflict`.
    ///
    /// Costs what `register` or `allocate` costs, plus two to four system calls per
    /// candidate tried (socket, options, bind, listen), in place of the probe's.
    pub fn listen(
        &self,
        name: &str,
        choice: &Choice,
        options: &LeaseOptions,
        listen: &ListenOptions,
    ) -> Result<Bound> {
        self.bind_lease(name, choice, options, listen, false)
    }

    /// [`listen`](Self::listen) for one scope, as [`lease_scoped`](Self::lease_scoped) makes
    /// one (`portpool run --listen`): always a new lease — a name that already holds a live
    /// lease is a `Conflict`, and nothing is bound or written — ended by
    /// [`ScopedLease::release`]. The socket is the caller's, as for `listen`.
    pub fn listen_scoped(
        &self,
        name: &str,
        choice: &Choice,
        options: &LeaseOptions,
        listen: &ListenOptions,
    ) -> Result<(ScopedLease, OwnedFd)> {
        let bound = self.bind_lease(name, choice, options, listen, true)?;
        let lease = ScopedLease::made(name, bound.port, options.protocol);
        Ok((lease, bound.fd))
    }

    /// `listen`; with `fresh`, a name that holds a lease is a `Conflict`.
    fn bind_lease(
        &self,
        name: &str,
        choice: &Choice,
        options: &LeaseOptions,
        listen: &ListenOptions,
        fresh: bool,
    ) -> Result<Bound> {
        let key = self.named(name)?;
        let name = key.as_str();
        let host = bind_address(listen, options)?;
        let protocol = socket_protocol(options.protocol)?;
        let backlog = listen_backlog(listen.backlog)?;
        let (source, mode, pool) = lease_source(choice, options, host)?;
        let new = NewLease {
            name,
            uid: crate::sys::geteuid(),
            force: self.force(),
            mode,
            pool,
            protocol,
            owner: Some(owner_of(options.pid.unwrap_or_else(std::process::id))?),
            ttl: check_ttl_option(options.ttl)?,
        };
        let request = Request {
            source,
            exclude: &options.exclude,
            protocol,
            keep: None,
        };
        let open = |port: u16| server(port, protocol, host, backlog);
        self.store.update(|data| {
            let now = self.now();
            let dropped = drop_if_stale(data, name, now)?;
            if let Some(held) = data.lease(name) {
                check_maker(held, new.force)?;
            }
            if let Some(port) = held_for(data, name, &request)? {
                if fresh {
                    return Err(held_by_scope(name, port, protocol));
                }
                let socket =
                    open(port).map_err(|err| rebind_error(name, port, protocol, host, &err))?;
                return Ok((bound(socket, port, false), dropped));
            }
            let (port, socket) = choose(data, &request, now, true, |port, _| match open(port) {
                Ok(socket) => Ok(Some(socket)),
                Err(err) if err.raw_os_error() == Some(libc::EADDRINUSE) => Ok(None),
                Err(err) => Err(bind_error(host, port, &err)),
            })?;
            data.insert(new.at(port, now))?;
            Ok((bound(socket, port, true), true))
        })
    }
}

/// The one address a `listen` binds: the listen options' or the lease options', never two
/// different ones.
fn bind_address(listen: &ListenOptions, options: &LeaseOptions) -> Result<Option<IpAddr>> {
    match (listen.host, options.host) {
        (Some(a), Some(b)) if a != b => Err(Error::invalid(format!(
            "two addresses to bind: {a} (listen) and {b} (lease options); give one"
        ))),
        (a, b) => Ok(a.or(b)),
    }
}

/// The protocol of the one socket `listen` binds: TCP or UDP. `tcp+udp` is `InvalidArgument`,
/// as one socket cannot stand for both (`register` and `allocate` lease a port for both).
fn socket_protocol(protocol: Protocol) -> Result<Protocol> {
    if protocol == Protocol::TcpUdp {
        return Err(Error::invalid(
            "invalid protocol tcp+udp for listen: it binds one socket, TCP or UDP; lease the port for both with register or allocate",
        ));
    }
    Ok(protocol)
}

/// Where a `listen` takes its port from, after the checks of `choice` and the options: its
/// source, the new lease's mode and its pool.
fn lease_source<'a>(
    choice: &'a Choice,
    options: &'a LeaseOptions,
    host: Option<IpAddr>,
) -> Result<(Source<'a>, Mode, Option<&'a str>)> {
    let chosen = match choice {
        Choice::Pool(pool) => {
            let pool = pool.as_deref().unwrap_or(crate::store::model::DEFAULT_POOL);
            check_name(pool).map_err(|e| Error::invalid(format!("pool: {e}")))?;
            check_pool_options(&LeaseOptions {
                host,
                ..options.clone()
            })?;
            (Source::Pool(pool), Mode::Pool, Some(pool))
        }
        Choice::Ports { ports, mode } => {
            check_register(ports, *mode, options.range, &options.exclude, host)?;
            let source = Source::Ports {
                ports,
                mode: *mode,
                range: options.range,
            };
            (source, *mode, None)
        }
    };
    Ok(chosen)
}

/// The error of binding again the port `name` already holds.
fn rebind_error(
    name: &str,
    port: u16,
    protocol: Protocol,
    host: Option<IpAddr>,
    err: &io::Error,
) -> Error {
    match err.raw_os_error() {
        Some(libc::EADDRINUSE) => Error::conflict(format!(
            "{} holds port {port}/{protocol}, but another process has it bound",
            shown(name)
        )),
        _ => bind_error(host, port, err),
    }
}

fn bound(socket: Socket, port: u16, created: bool) -> Bound {
    Bound {
        fd: socket.into(),
        port,
        created,
    }
}

/// The length `listen(2)` is given for `backlog`. For 0, the most there is: the kernel cuts
/// any length down to its `net.core.somaxconn` (the network namespace's, read when the socket
/// listens), so the queue is `somaxconn` long without this process reading /proc on every
/// listen.
fn listen_backlog(backlog: u32) -> Result<i32> {
    let backlog = crate::validate::backlog_from_i64(i64::from(backlog))?;
    if backlog == crate::validate::DEFAULT_BACKLOG {
        return Ok(i32::MAX);
    }
    Ok(backlog.try_into().unwrap_or(i32::MAX))
}

/// A server socket on `port`: bound to `host`, else `[::]` dual-stack, else (no IPv6 on
/// this host) 0.0.0.0; listening with `backlog` for TCP.
fn server(port: u16, protocol: Protocol, host: Option<IpAddr>, backlog: i32) -> io::Result<Socket> {
    let socket = match host {
        Some(ip) => bind_at(ip, port, protocol)?,
        None => match bind_at(IpAddr::V6(Ipv6Addr::UNSPECIFIED), port, protocol) {
            Err(err)
                if matches!(
                    err.raw_os_error(),
                    Some(libc::EAFNOSUPPORT | libc::EADDRNOTAVAIL)
                ) =>
            {
                bind_at(IpAddr::V4(Ipv4Addr::UNSPECIFIED), port, protocol)?
            }
            other => other?,
        },
    };
    if protocol == Protocol::Tcp {
        // A socket bound (not listening) with SO_REUSEADDR elsewhere lets our bind through
        // and fails the listen with EADDRINUSE: the port is in use all the same.
        socket.listen(backlog)?;
    }
    Ok(socket)
}

/// The error of a bind or listen that failed for another reason than the port being in use.
fn bind_error(host: Option<IpAddr>, port: u16, err: &io::Error) -> Error {
    let ip = host.unwrap_or(IpAddr::V6(Ipv6Addr::UNSPECIFIED));
    match err.raw_os_error() {
        Some(libc::EACCES | libc::EPERM) => Error::new(
            crate::ErrorKind::Io,
            format!("binding port {port}: {err} (ports below 1024 need privilege)"),
        )
        .with_os_error(err.raw_os_error()),
        _ => address_error(ip, err),
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn a_backlog_of_0_asks_for_the_most_the_kernel_allows_and_others_are_kept() {
        // The kernel cuts it to net.core.somaxconn when the socket listens.
        assert_eq!(listen_backlog(crate::DEFAULT_BACKLOG).unwrap(), i32::MAX);
        assert_eq!(ListenOptions::default().backlog, crate::DEFAULT_BACKLOG);
        assert_eq!(listen_backlog(16).unwrap(), 16);
        assert_eq!(listen_backlog(i32::MAX as u32).unwrap(), i32::MAX);
        let err = listen_backlog(i32::MAX as u32 + 1).unwrap_err();
        assert_eq!(err.kind(), crate::ErrorKind::InvalidArgument);
    }
}
