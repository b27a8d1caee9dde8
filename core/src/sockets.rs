//! Who has a port bound: the kernel's socket tables and the processes' descriptors, from /proc.

use std::collections::HashMap;
use std::net::SocketAddr;

use serde::Serialize;

use crate::store::model::Protocol;

/// A process that holds a socket.
#[derive(Clone, Debug, PartialEq, Eq, Serialize)]
pub struct Process {
    /// Process id.
    pub pid: u32,
    /// Its program name (`/proc/PID/comm`).
    pub program: String,
}

/// A server socket: a TCP listener, or a UDP socket that is bound and not connected.
#[derive(Clone, Debug, PartialEq, Eq, Serialize)]
pub struct Socket {
    /// TCP or UDP.
    pub protocol: Protocol,
    /// The local address it is bound to, e.g. `0.0.0.0:8080` or `[::1]:8080`.
    pub address: SocketAddr,
    /// The processes holding it (a socket survives `fork`); empty when the caller may not see
    /// the owner's descriptors (another user's process, for an unprivileged caller).
    pub processes: Vec<Process>,
}

impl Socket {
    /// The port it is bound to.
    pub fn port(&self) -> u16 {
        self.address.port()
    }
}

/// Every server socket on the host, from `/proc/net/{tcp,tcp6,udp,udp6}` and `/proc/*/fd`.
/// `Err` says why /proc could not be read. Costs a walk over every process's descriptors.
pub fn server_sockets() -> Result<Vec<Socket>, String> {
    use procfs::net::{TcpState, UdpState};
    let unreadable =
        |what: &str, e: procfs::ProcError| format!("cannot read /proc/net/{what}: {e}");
    let mut found: Vec<(Protocol, SocketAddr, u64)> = Vec::new();
    for (what, table) in [("tcp", procfs::net::tcp()), ("tcp6", procfs::net::tcp6())] {
        match table {
            Ok(entries) => found.extend(
                entries
                    .into_iter()
                    .filter(|e| e.state == TcpState::Listen)
                    .map(|e| (Protocol::Tcp, e.local_address, e.inode)),
            ),
            // A host without IPv6 has no tcp6 table.
            Err(_) if what == "tcp6" => {}
            Err(e) => return Err(unreadable(what, e)),
        }
    }
    for (what, table) in [("udp", procfs::net::udp()), ("udp6", procfs::net::udp6())] {
        match table {
            Ok(entries) => found.extend(
                entries
                    .into_iter()
                    .filter(|e| e.state == UdpState::Close && e.remote_address.port() == 0)
                    .map(|e| (Protocol::Udp, e.local_address, e.inode)),
            ),
            Err(_) if what == "udp6" => {}
            Err(e) => return Err(unreadable(what, e)),
        }
    }
    let owners = socket_owners();
    let mut sockets: Vec<Socket> = found
        .into_iter()
        .map(|(protocol, address, inode)| Socket {
            protocol,
            address,
            processes: owners.get(&inode).cloned().unwrap_or_default(),
        })
        .collect();
    sockets.sort_by_key(|s| {
        (
            s.port(),
            s.protocol,
            s.address.is_ipv6(),
            s.address.to_string(),
        )
    });
    Ok(sockets)
}

/// Socket inode → the processes holding a descriptor of it, for every process we may inspect.
fn socket_owners() -> HashMap<u64, Vec<Process>> {
    let mut owners: HashMap<u64, Vec<Process>> = HashMap::new();
    let Ok(processes) = procfs::process::all_processes() else {
        return owners;
    };
    for process in processes.flatten() {
        let Ok(fds) = process.fd() else { continue };
        let mut program = None;
        for fd in fds.flatten() {
            if let procfs::process::FDTarget::Socket(inode) = fd.target {
                let program = program.get_or_insert_with(|| {
                    process
                        .stat()
                        .map(|s| s.comm)
                        .unwrap_or_else(|_| "?".to_owned())
                });
                let entry = owners.entry(inode).or_default();
                let pid = process.pid as u32;
                if !entry.iter().any(|p| p.pid == pid) {
                    entry.push(Process {
                        pid,
                        program: program.clone(),
                    });
                }
            }
        }
    }
    owners
}

/// The parent of `pid`, if it exists.
pub(crate) fn parent_of(pid: u32) -> Option<u32> {
    let pid = i32::try_from(pid).ok()?;
    let stat = procfs::process::Process::new(pid).ok()?.stat().ok()?;
    u32::try_from(stat.ppid).ok().filter(|p| *p > 0)
}

/// Whether `pid` is `ancestor` or one of its descendants.
pub(crate) fn descends_from(mut pid: u32, ancestor: u32) -> bool {
    for _ in 0..64 {
        if pid == ancestor {
            return true;
        }
        match parent_of(pid) {
            Some(parent) => pid = parent,
            None => return false,
        }
    }
    false
}

/// The kernel's ephemeral port range (`/proc/sys/net/ipv4/ip_local_port_range`), from which
/// it picks the local port of outgoing connections and of binds to port 0.
pub fn ephemeral_range() -> Option<(u16, u16)> {
    let text = std::fs::read_to_string("/proc/sys/net/ipv4/ip_local_port_range").ok()?;
    let mut parts = text.split_whitespace().map(|p| p.parse::<u16>().ok());
    match (parts.next()??, parts.next()??) {
        (lo, hi) if lo <= hi => Some((lo, hi)),
        _ => None,
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use std::net::{TcpListener, UdpSocket};

    #[test]
    fn server_sockets_include_this_process_listeners_with_their_program() {
        let tcp = TcpListener::bind("127.0.0.1:0").unwrap();
        let udp = UdpSocket::bind("127.0.0.1:0").unwrap();
        let sockets = server_sockets().unwrap();
        let me = std::process::id();
        for (protocol, port) in [
            (Protocol::Tcp, tcp.local_addr().unwrap().port()),
            (Protocol::Udp, udp.local_addr().unwrap().port()),
        ] {
            let s = sockets
                .iter()
                .find(|s| s.protocol == protocol && s.port() == port)
                .unwrap_or_else(|| panic!("{protocol} {port} missing"));
            assert!(s.processes.iter().any(|p| p.pid == me), "{s:?}");
        }
    }

    #[test]
    fn a_process_descends_from_itself_and_its_parent() {
        let me = std::process::id();
        assert!(descends_from(me, me));
        assert!(descends_from(me, parent_of(me).unwrap()));
        assert!(!descends_from(parent_of(me).unwrap(), me));
    }

    #[test]
    fn the_ephemeral_range_is_read() {
        let (lo, hi) = ephemeral_range().unwrap();
        assert!(lo <= hi);
    }
}
