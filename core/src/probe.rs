//! Is a port bound by anyone? A real bind on the IPv4 and IPv6 wildcard addresses.

use std::io;
use std::net::{IpAddr, Ipv4Addr, Ipv6Addr, SocketAddr};

use socket2::{Domain, Socket, Type};

use crate::error::{Error, Result};
use crate::store::model::Protocol;

/// Whether `port` can be bound for `protocol` on this host right now.
///
/// Binds the IPv4 wildcard (0.0.0.0), then the IPv6 wildcard (`[::]`, IPv6-only) where the
/// host has IPv6, and closes both at once. A socket bound to any address of a family —
/// 127.0.0.1, `[::1]`, `[::]` only, or a wildcard — makes the port busy. TCP and UDP are
/// separate: a UDP socket never makes a TCP port busy; a port is free for `tcp+udp` only when
/// it is free for each (a socket of either protocol makes it busy). TCP connections lingering in
/// TIME_WAIT do not count, as they do not stop a server that sets `SO_REUSEADDR`.
///
/// The answer is a snapshot: another process may bind the port a moment later. portpool
/// closes that window among its own users with leases; the probe only keeps leases off ports
/// that something outside the registry already holds. Where the bind is refused for lack of
/// privilege (ports below 1024 for an unprivileged user), the kernel's socket tables
/// (`/proc/net/tcp`, `tcp6`, `udp`, `udp6`) answer instead: a TCP listener or a bound UDP
/// socket on the port, of any user, makes it busy (where the tables cannot be read either,
/// it counts as free). Costs two to four system calls per address family, plus a read of the
/// tables on that fallback.
pub(crate) fn is_free(port: u16, protocol: Protocol) -> Result<bool> {
    free_for(port, protocol, Binder::Anyone)
}

/// Whose bind a probe stands for, which decides what a bind refused for lack of privilege
/// means.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub(crate) enum Binder {
    /// Any process on the host (a lease may be for a privileged service): a refused bind is
    /// answered by the kernel's socket tables.
    Anyone,
    /// The calling process, which will bind the port itself: a port it may not bind is
    /// unavailable, never free.
    Caller,
}

impl Binder {
    /// `Caller` when `caller_binds`, else `Anyone`.
    pub(crate) fn of(caller_binds: bool) -> Binder {
        if caller_binds {
            Binder::Caller
        } else {
            Binder::Anyone
        }
    }
}

/// [`is_free`] for `binder`.
pub(crate) fn free_for(port: u16, protocol: Protocol, binder: Binder) -> Result<bool> {
    if port == 0 {
        return Err(Error::invalid("invalid port 0: ports are 1-65535"));
    }
    let v4 = SocketAddr::from((Ipv4Addr::UNSPECIFIED, port));
    let v6 = SocketAddr::from((Ipv6Addr::UNSPECIFIED, port));
    Ok(protocol
        .parts()
        .iter()
        .all(|part| bindable(v4, *part, binder) && bindable(v6, *part, binder)))
}

/// Whether `port` can be bound on `ip` for `protocol` (for `tcp+udp`, for each), as
/// [`probe_result`] reads each bind.
pub(crate) fn free_on(ip: IpAddr, port: u16, protocol: Protocol, binder: Binder) -> Result<bool> {
    for part in protocol.parts() {
        if !probe_result(ip, port, *part, bind_at(ip, port, *part), binder)? {
            return Ok(false);
        }
    }
    Ok(true)
}

fn bindable(addr: SocketAddr, protocol: Protocol, binder: Binder) -> bool {
    match try_bind(addr, protocol) {
        Ok(()) => true,
        Err(err) => match err.raw_os_error() {
            Some(libc::EADDRINUSE) => false,
            // No such family or address on this host (IPv6 disabled): nothing to collide with.
            Some(libc::EAFNOSUPPORT | libc::EADDRNOTAVAIL | libc::EPROTONOSUPPORT) => true,
            // A privileged port: the caller cannot use it; for anyone else the bind cannot
            // tell, the kernel's tables can.
            Some(libc::EACCES | libc::EPERM) => {
                binder == Binder::Anyone && !in_socket_tables(addr, protocol)
            }
            _ => true,
        },
    }
}

/// Whether the kernel's socket table of `addr`'s family lists a server socket on its port:
/// a TCP listener, or a UDP socket that is bound and not connected (for `tcp+udp`, either).
/// An unreadable table lists nothing.
fn in_socket_tables(addr: SocketAddr, protocol: Protocol) -> bool {
    use procfs::net::{TcpState, UdpState};
    let port = addr.port();
    match protocol {
        Protocol::TcpUdp => {
            in_socket_tables(addr, Protocol::Tcp) || in_socket_tables(addr, Protocol::Udp)
        }
        Protocol::Tcp => {
            let table = if addr.is_ipv6() {
                procfs::net::tcp6()
            } else {
                procfs::net::tcp()
            };
            table.is_ok_and(|t| {
                t.iter()
                    .any(|e| e.state == TcpState::Listen && e.local_address.port() == port)
            })
        }
        Protocol::Udp => {
            let table = if addr.is_ipv6() {
                procfs::net::udp6()
            } else {
                procfs::net::udp()
            };
            table.is_ok_and(|t| {
                t.iter().any(|e| {
                    e.state == UdpState::Close
                        && e.remote_address.port() == 0
                        && e.local_address.port() == port
                })
            })
        }
    }
}

fn try_bind(addr: SocketAddr, protocol: Protocol) -> io::Result<()> {
    server_socket(addr, protocol, true).map(drop)
}

/// A socket for `protocol` bound to `addr` the way servers bind: close-on-exec, with
/// `SO_REUSEADDR` for TCP (so TIME_WAIT leftovers do not count, while a listening socket still
/// collides; never for UDP, where it would let two sockets share the port). An IPv6 socket is
/// IPv6-only when `v6only`, else dual-stack (`[::]` then covers IPv4 too). A socket is TCP or
/// UDP: `tcp+udp` is `InvalidInput`.
pub(crate) fn server_socket(
    addr: SocketAddr,
    protocol: Protocol,
    v6only: bool,
) -> io::Result<Socket> {
    let (ty, proto) = match protocol {
        Protocol::Tcp => (Type::STREAM, socket2::Protocol::TCP),
        Protocol::Udp => (Type::DGRAM, socket2::Protocol::UDP),
        Protocol::TcpUdp => {
            return Err(io::Error::new(
                io::ErrorKind::InvalidInput,
                "a socket is TCP or UDP, never both",
            ));
        }
    };
    // socket2 creates sockets with SOCK_CLOEXEC on Linux.
    let socket = Socket::new(Domain::for_address(addr), ty, Some(proto))?;
    if addr.is_ipv6() {
        socket.set_only_v6(v6only)?;
    }
    if protocol == Protocol::Tcp {
        socket.set_reuse_address(true)?;
    }
    socket.bind(&addr.into())?;
    Ok(socket)
}

/// `port` bound on `ip` as a server binds it there (see [`server_socket`]; `[::]` dual-stack).
pub(crate) fn bind_at(ip: IpAddr, port: u16, protocol: Protocol) -> io::Result<Socket> {
    server_socket(SocketAddr::new(ip, port), protocol, false)
}

/// What a bind of `port` on `ip` says about the port: bound is free, `EADDRINUSE` is busy,
/// a privileged port is answered by the kernel's socket tables, an address this host does not
/// have is `InvalidArgument`, anything else an `Io` error.
pub(crate) fn probe_result(
    ip: IpAddr,
    port: u16,
    protocol: Protocol,
    bound: io::Result<Socket>,
    binder: Binder,
) -> Result<bool> {
    let err = match bound {
        Ok(_) => return Ok(true),
        Err(err) => err,
    };
    match err.raw_os_error() {
        Some(libc::EADDRINUSE) => Ok(false),
        Some(libc::EACCES | libc::EPERM) if binder == Binder::Caller => Ok(false),
        Some(libc::EACCES | libc::EPERM) => {
            let addr = SocketAddr::new(ip, port);
            // `[::]` dual-stack collides with IPv4 sockets too.
            let v4 = ip == IpAddr::V6(Ipv6Addr::UNSPECIFIED)
                && in_socket_tables(SocketAddr::from((Ipv4Addr::UNSPECIFIED, port)), protocol);
            Ok(!(v4 || in_socket_tables(addr, protocol)))
        }
        _ => Err(address_error(ip, &err)),
    }
}

/// The error of a bind on `ip` that failed for another reason than the port being in use:
/// `InvalidArgument` when this host has no such address (or no such address family), else
/// `Io`.
pub(crate) fn address_error(ip: IpAddr, err: &io::Error) -> Error {
    match err.raw_os_error() {
        Some(libc::EADDRNOTAVAIL | libc::EAFNOSUPPORT | libc::EINVAL) => Error::invalid(format!(
            "invalid host {ip}: not an address of this host ({err})"
        )),
        errno => {
            Error::new(crate::ErrorKind::Io, format!("binding {ip}: {err}")).with_os_error(errno)
        }
    }
}

/// A port the kernel picks as free for `protocol` on `host` (else 0.0.0.0), by binding port 0.
/// For `tcp+udp`, a TCP port the kernel picks whose UDP side `host` could bind too, asking
/// the kernel at most [`KERNEL_PICKS`] times (`AddrInUse` when none was).
pub(crate) fn kernel_pick(protocol: Protocol, host: Option<IpAddr>) -> io::Result<u16> {
    let ip = host.unwrap_or(IpAddr::V4(Ipv4Addr::UNSPECIFIED));
    if protocol != Protocol::TcpUdp {
        return local_port(&bind_at(ip, 0, protocol)?);
    }
    for _ in 0..KERNEL_PICKS {
        let tcp = bind_at(ip, 0, Protocol::Tcp)?;
        let port = local_port(&tcp)?;
        match bind_at(ip, port, Protocol::Udp) {
            Ok(_) => return Ok(port),
            Err(err) if err.raw_os_error() == Some(libc::EADDRINUSE) => continue,
            Err(err) => return Err(err),
        }
    }
    Err(io::Error::new(
        io::ErrorKind::AddrInUse,
        format!("the kernel picked {KERNEL_PICKS} TCP ports whose UDP side was taken"),
    ))
}

/// How many TCP ports [`kernel_pick`] asks the kernel for, looking for one whose UDP side is
/// free too: far more than a host where most UDP ports are taken would need.
const KERNEL_PICKS: usize = 64;

fn local_port(socket: &Socket) -> io::Result<u16> {
    socket
        .local_addr()?
        .as_socket()
        .map(|a| a.port())
        .ok_or_else(|| io::Error::other("kernel returned a non-IP address"))
}

#[cfg(test)]
mod tests {
    use super::*;
    use std::net::{TcpListener, UdpSocket};

    fn listener_v6only(addr: &str) -> Option<TcpListener> {
        let addr: SocketAddr = addr.parse().unwrap();
        let socket = Socket::new(Domain::IPV6, Type::STREAM, None).ok()?;
        socket.set_only_v6(true).ok()?;
        socket.bind(&addr.into()).ok()?;
        socket.listen(8).ok()?;
        Some(socket.into())
    }

    #[test]
    fn loopback_only_tcp_listener_counts_as_busy() {
        let l = TcpListener::bind("127.0.0.1:0").unwrap();
        let port = l.local_addr().unwrap().port();
        assert!(!is_free(port, Protocol::Tcp).unwrap());
        drop(l);
        assert!(is_free(port, Protocol::Tcp).unwrap());
    }

    #[test]
    fn ipv6_only_listeners_count_as_busy() {
        let Some(l) = listener_v6only("[::]:0") else {
            eprintln!("host has no IPv6; skipped");
            return;
        };
        let port = l.local_addr().unwrap().port();
        assert!(!is_free(port, Protocol::Tcp).unwrap());
        let l2 = listener_v6only("[::1]:0").unwrap();
        assert!(!is_free(l2.local_addr().unwrap().port(), Protocol::Tcp).unwrap());
    }

    #[test]
    fn udp_holder_never_blocks_tcp_and_tcp_never_blocks_udp() {
        let u = UdpSocket::bind("127.0.0.1:0").unwrap();
        let port = u.local_addr().unwrap().port();
        assert!(!is_free(port, Protocol::Udp).unwrap());
        // The TCP side of the same port may itself be taken by an unrelated process; only
        // assert when it was free before the UDP socket existed.
        if TcpListener::bind(("127.0.0.1", port)).is_ok() {
            assert!(is_free(port, Protocol::Tcp).unwrap());
        }
        let t = TcpListener::bind("127.0.0.1:0").unwrap();
        let tport = t.local_addr().unwrap().port();
        assert!(!is_free(tport, Protocol::Tcp).unwrap());
        if UdpSocket::bind(("127.0.0.1", tport)).is_ok() {
            assert!(is_free(tport, Protocol::Udp).unwrap());
        }
    }

    #[test]
    fn probing_port_zero_is_invalid() {
        assert!(is_free(0, Protocol::Tcp).is_err());
    }
}
