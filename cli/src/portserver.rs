//! `portpool portserver`: portpicker's portserver protocol, answered from the registry.
//!
//! The protocol (as portpicker's `get_port_from_port_server` speaks it): a client connects to
//! a Unix stream socket, sends its pid in ASCII and a newline, and reads back a port and a
//! newline; anything else (here: an empty reply) means no port. Every port handed out is a
//! registry lease owned by the claimed pid, so it is reclaimed once that process exits, and
//! no portpool user of any language is given it meanwhile. As portpicker promises, the port is
//! free for TCP and UDP alike: it is probed and leased for both (`tcp+udp`).
//!
//! One thread serves every client with `poll(2)`: a request is at most [`MAX_REQUEST`] bytes
//! and must arrive within [`CLIENT_TIMEOUT`]; at most [`MAX_PENDING_PER_USER`] clients of
//! one user wait at once, a newcomer dropping that same user's oldest, and at most
//! [`MAX_PENDING`] in all, a newcomer then dropping the oldest client of the user with the
//! most waiting. So garbage, huge lines, clients that connect and hang, and one user's
//! connect storm cost a bounded amount each and never stop other users being served.
//!
//! The server is fair between users: the clients of one user (non-root) hold at most
//! `--per-user-leases` live leases from it at once (default: a quarter of the pool), so no
//! user can empty the pool for the others.

use std::collections::{HashMap, VecDeque};
use std::io::{ErrorKind as IoKind, Read, Write};
use std::os::fd::{AsRawFd, OwnedFd};
use std::os::linux::net::SocketAddrExt;
use std::os::unix::fs::FileTypeExt;
use std::os::unix::net::{SocketAddr, UnixListener, UnixStream};
use std::path::PathBuf;
use std::time::{Duration, Instant};

use portpool_core::{Error, ErrorKind, LeaseOptions, Protocol, Registry};
use signal_hook::consts::{SIGINT, SIGTERM};

use crate::Outcome;
use crate::args::PortserverArgs;

/// Longest request accepted, newline included: a pid is at most 10 digits.
pub(crate) const MAX_REQUEST: usize = 32;
/// How long a client may take to send its request once connected.
pub(crate) const CLIENT_TIMEOUT: Duration = Duration::from_secs(5);
/// Clients waiting for their request at once; a newcomer beyond it drops the oldest client
/// of the user with the most waiting.
pub(crate) const MAX_PENDING: usize = 512;
/// Clients of one user waiting at once; a newcomer of that user beyond it drops the user's
/// oldest.
pub(crate) const MAX_PENDING_PER_USER: usize = 64;
/// Connections accepted in one turn of the event loop, so that a connect storm cannot keep
/// the server accepting instead of serving.
const MAX_ACCEPTS_PER_TURN: usize = MAX_PENDING;

/// Where the server listens: `@NAME` in the abstract namespace, else a filesystem path.
enum Address {
    Abstract(String),
    Path(PathBuf),
}

impl Address {
    fn parse(text: &str) -> Result<Address, Error> {
        match text.strip_prefix('@') {
            Some("") => Err(invalid(
                "invalid address \"@\": an abstract name must not be empty",
            )),
            Some(name) => Ok(Address::Abstract(name.to_owned())),
            None if text.is_empty() => Err(invalid("invalid address \"\": give @NAME or a path")),
            None => Ok(Address::Path(PathBuf::from(text))),
        }
    }

    /// Binds the address. A filesystem socket left behind by a server that is gone (nothing
    /// accepts on it) is replaced; a live one, or a file that is not a socket, is a conflict.
    fn bind(&self) -> Result<UnixListener, Error> {
        let listener = match self {
            Address::Abstract(name) => SocketAddr::from_abstract_name(name.as_bytes())
                .and_then(|addr| UnixListener::bind_addr(&addr)),
            Address::Path(path) => {
                if let Ok(meta) = std::fs::symlink_metadata(path) {
                    if !meta.file_type().is_socket() {
                        return Err(Error::new(
                            ErrorKind::Conflict,
                            format!("{} exists and is not a socket", path.display()),
                        ));
                    }
                    if UnixStream::connect(path).is_ok() {
                        return Err(Error::new(
                            ErrorKind::Conflict,
                            format!("a server already listens on {}", path.display()),
                        ));
                    }
                    std::fs::remove_file(path).map_err(|e| io_error(path.display(), e))?;
                }
                UnixListener::bind(path).and_then(|l| {
                    // Any local user may ask, as with an abstract socket: the pid check
                    // decides what a client may claim.
                    use std::os::unix::fs::PermissionsExt;
                    std::fs::set_permissions(path, std::fs::Permissions::from_mode(0o666))?;
                    Ok(l)
                })
            }
        };
        let listener = listener.map_err(|e| {
            let kind = if e.kind() == IoKind::AddrInUse {
                ErrorKind::Conflict
            } else {
                ErrorKind::Io
            };
            Error::new(kind, format!("cannot listen on {self}: {e}"))
        })?;
        listener
            .set_nonblocking(true)
            .map_err(|e| io_error(self, e))?;
        Ok(listener)
    }
}

impl std::fmt::Display for Address {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        match self {
            Address::Abstract(name) => write!(f, "@{name}"),
            Address::Path(path) => write!(f, "{}", path.display()),
        }
    }
}

fn invalid(message: &str) -> Error {
    Error::new(ErrorKind::InvalidArgument, message)
}

fn io_error(what: impl std::fmt::Display, e: std::io::Error) -> Error {
    Error::new(ErrorKind::Io, format!("{what}: {e}"))
}

/// Logs one line on stderr (the journal, under systemd).
fn log(message: std::fmt::Arguments<'_>) {
    eprintln!("portpool portserver: {message}");
}

/// A connected client that has not yet sent a whole request.
struct Client {
    stream: UnixStream,
    /// The connecting user, as the kernel recorded it (`None`: unknown, counted as one user).
    uid: Option<u32>,
    request: Vec<u8>,
    deadline: Instant,
}

/// What reading from a client gave.
enum Progress {
    /// Not a whole line yet.
    More,
    /// The request line, without its newline (or all the client sent before it closed).
    Line(Vec<u8>),
    /// The client went away, or sent more than [`MAX_REQUEST`] bytes without a newline.
    Drop(Option<String>),
}

impl Client {
    fn read(&mut self) -> Progress {
        let mut buf = [0u8; MAX_REQUEST];
        loop {
            let room = MAX_REQUEST - self.request.len();
            match self.stream.read(&mut buf[..room]) {
                Ok(0) if self.request.is_empty() => return Progress::Drop(None),
                Ok(0) => return Progress::Line(std::mem::take(&mut self.request)),
                Ok(n) => {
                    self.request.extend_from_slice(&buf[..n]);
                    if let Some(end) = self.request.iter().position(|&b| b == b'\n') {
                        self.request.truncate(end);
                        return Progress::Line(std::mem::take(&mut self.request));
                    }
                    if self.request.len() >= MAX_REQUEST {
                        return Progress::Drop(Some(format!(
                            "a request longer than {MAX_REQUEST} bytes"
                        )));
                    }
                }
                Err(e) if e.kind() == IoKind::WouldBlock => return Progress::More,
                Err(e) if e.kind() == IoKind::Interrupted => continue,
                Err(_) => return Progress::Drop(None),
            }
        }
    }
}

/// The credentials the kernel recorded for the client's end when it connected.
fn peer_credentials(stream: &UnixStream) -> std::io::Result<libc::ucred> {
    let mut cred = libc::ucred {
        pid: 0,
        uid: 0,
        gid: 0,
    };
    let mut len = std::mem::size_of::<libc::ucred>() as libc::socklen_t;
    // SAFETY: `cred` and `len` are valid for writes of the sizes given.
    let rc = unsafe {
        libc::getsockopt(
            stream.as_raw_fd(),
            libc::SOL_SOCKET,
            libc::SO_PEERCRED,
            (&raw mut cred).cast(),
            &raw mut len,
        )
    };
    if rc == 0 {
        Ok(cred)
    } else {
        Err(std::io::Error::last_os_error())
    }
}

/// The pid a request claims: decimal digits only, a pid by core's rule (1 to 2^31 - 1).
fn parse_pid(request: &[u8]) -> Result<u32, String> {
    let text = std::str::from_utf8(request).unwrap_or("");
    let text = text.strip_suffix('\r').unwrap_or(text);
    let digits = text.bytes().all(|b| b.is_ascii_digit());
    match text.parse::<i64>().map(portpool_core::pid_from_i64) {
        Ok(Ok(pid)) if digits => Ok(pid),
        _ => Err(format!(
            "not a pid: {:?}",
            String::from_utf8_lossy(request).as_ref()
        )),
    }
}

/// The serving state: what every request needs.
struct Server<'a> {
    reg: &'a Registry,
    pool: Option<&'a str>,
    /// Most live leases granted to one non-root user's clients at once.
    per_user: usize,
    /// The leases granted to each user's clients, live or not yet found ended.
    granted: HashMap<u32, Granted>,
}

/// The leases granted to one user's clients, and when they were last checked for ended ones.
#[derive(Default)]
struct Granted {
    names: Vec<String>,
    checked: Option<Instant>,
}

/// How often, at most, one user's leases are checked for ended ones while the user is at its
/// limit: a client storm past the limit then costs no more than its refusals.
const QUOTA_CHECK_INTERVAL: Duration = Duration::from_millis(100);

impl Server<'_> {
    /// Answers one request: a port leased to the claimed pid, or the reason there is none.
    fn answer(&mut self, peer: &libc::ucred, request: &[u8]) -> Result<(String, u16), String> {
        let pid = parse_pid(request)?;
        // Owner rules are core's: root any process, anyone else itself or its own processes.
        portpool_core::may_claim(peer.uid, peer.pid.unsigned_abs(), pid)
            .map_err(|e| e.to_string())?;
        self.check_quota(peer.uid)?;
        // portpicker promises a port free for TCP and UDP alike: leased and probed for both.
        let options = LeaseOptions {
            pid: Some(pid),
            protocol: Protocol::TcpUdp,
            ..LeaseOptions::default()
        };
        loop {
            let name = portpool_core::unnamed_lease_name("portserver", &format!("pid{pid}-"));
            let grant = self
                .reg
                .allocate_grant(&name, self.pool, &options)
                .map_err(|e| e.to_string())?;
            // Names are unique on the host; should one be held all the same, take the next.
            if grant.created {
                if peer.uid != 0 {
                    let granted = self.granted.entry(peer.uid).or_default();
                    granted.names.push(name.clone());
                }
                return Ok((name, grant.port));
            }
        }
    }

    /// Refuses a request of user `uid` (never root's) whose clients hold `per_user` live
    /// leases from this server. Leases found ended (released, owner gone) stop counting.
    fn check_quota(&mut self, uid: u32) -> Result<(), String> {
        if uid == 0 {
            return Ok(());
        }
        let granted = self.granted.entry(uid).or_default();
        if granted.names.len() < self.per_user {
            return Ok(());
        }
        let now = Instant::now();
        if granted
            .checked
            .is_none_or(|at| now.duration_since(at) >= QUOTA_CHECK_INTERVAL)
        {
            let reg = self.reg;
            granted
                .names
                .retain(|name| !matches!(reg.get(name), Ok(None)));
            granted.checked = Some(now);
        }
        if granted.names.len() < self.per_user {
            return Ok(());
        }
        Err(format!(
            "uid {uid} holds {} live leases from this server, its limit (--per-user-leases)",
            granted.names.len()
        ))
    }

    /// Serves `client`'s request line and closes the connection.
    fn serve(&mut self, mut client: Client, request: &[u8]) {
        let peer = match peer_credentials(&client.stream) {
            Ok(peer) => peer,
            Err(e) => return log(format_args!("cannot read a client's credentials: {e}")),
        };
        match self.answer(&peer, request) {
            Ok((name, port)) => {
                // Written whole at once: a new socket's buffer has room for a few bytes.
                if client
                    .stream
                    .write_all(format!("{port}\n").as_bytes())
                    .is_err()
                {
                    let _ = self.reg.release(&name);
                    if let Some(granted) = self.granted.get_mut(&peer.uid) {
                        granted.names.retain(|n| *n != name);
                    }
                }
            }
            Err(why) => log(format_args!(
                "no port for pid {} (uid {}): {why}",
                peer.pid, peer.uid
            )),
        }
    }
}

/// Runs the server until SIGTERM or SIGINT; see the module documentation.
pub(crate) fn portserver(reg: &Registry, args: PortserverArgs) -> Result<Outcome, Error> {
    let address = Address::parse(&args.address)?;
    if let Some(pool) = &args.pool {
        // An unknown pool fails now rather than on every request.
        if !reg.pools()?.iter().any(|p| &p.name == pool) {
            return Err(Error::new(
                ErrorKind::NotFound,
                format!("no pool named {pool:?}"),
            ));
        }
    }
    if args.per_user_leases == Some(0) {
        return Err(invalid(
            "invalid --per-user-leases 0: a user's clients could never get a port",
        ));
    }
    let (wake, woken) = UnixStream::pair().map_err(|e| io_error("signal pipe", e))?;
    woken
        .set_nonblocking(true)
        .map_err(|e| io_error("signal pipe", e))?;
    let mut signals = Vec::new();
    for signal in [SIGTERM, SIGINT] {
        let pipe = wake.try_clone().map_err(|e| io_error("signal pipe", e))?;
        signals.push(
            signal_hook::low_level::pipe::register(signal, pipe)
                .map_err(|e| io_error("installing signal handlers", e))?,
        );
    }
    let listener = address.bind()?;
    let per_user = match args.per_user_leases {
        Some(n) => n as usize,
        None => default_per_user(reg, args.pool.as_deref())?,
    };
    let mut server = Server {
        reg,
        pool: args.pool.as_deref(),
        per_user,
        granted: HashMap::new(),
    };
    log(format_args!(
        "serving portpicker's protocol on {address}, pool {}, registry {}, at most {} live leases per user",
        args.pool.as_deref().unwrap_or(portpool_core::DEFAULT_POOL),
        reg.path().display(),
        server.per_user
    ));
    let served = serve_until_signal(&mut server, &listener, &OwnedFd::from(woken));
    for id in signals {
        signal_hook::low_level::unregister(id);
    }
    drop(listener);
    if let Address::Path(path) = &address {
        let _ = std::fs::remove_file(path);
    }
    served?;
    log(format_args!("stopped"));
    Ok(Outcome::Ok)
}

/// A quarter of the pool's ports (at least one): how many live leases one user's clients
/// get from the server unless `--per-user-leases` says otherwise.
fn default_per_user(reg: &Registry, pool: Option<&str>) -> Result<usize, Error> {
    let name = pool.unwrap_or(portpool_core::DEFAULT_POOL);
    let size = reg
        .pools()?
        .iter()
        .find(|p| p.name == name)
        .map_or(0, |p| p.size());
    Ok((size as usize / 4).max(1))
}

/// The event loop: accepts clients, reads their requests, answers whole ones, drops those
/// past their deadline, until `woken` becomes readable (a signal arrived).
fn serve_until_signal(
    server: &mut Server<'_>,
    listener: &UnixListener,
    woken: &OwnedFd,
) -> Result<(), Error> {
    let mut clients: VecDeque<Client> = VecDeque::new();
    loop {
        let now = Instant::now();
        let timeout = clients
            .iter()
            .map(|c| c.deadline.saturating_duration_since(now))
            .min()
            .map_or(-1, |d| d.as_millis().min(i32::MAX as u128) as i32 + 1);
        let mut fds: Vec<libc::pollfd> = [woken.as_raw_fd(), listener.as_raw_fd()]
            .into_iter()
            .chain(clients.iter().map(|c| c.stream.as_raw_fd()))
            .map(|fd| libc::pollfd {
                fd,
                events: libc::POLLIN,
                revents: 0,
            })
            .collect();
        // SAFETY: `fds` is a valid array of `fds.len()` pollfd structures.
        let rc = unsafe { libc::poll(fds.as_mut_ptr(), fds.len() as libc::nfds_t, timeout) };
        if rc < 0 {
            let e = std::io::Error::last_os_error();
            if e.kind() == IoKind::Interrupted {
                continue;
            }
            return Err(io_error("poll", e));
        }
        if fds[0].revents != 0 {
            return Ok(());
        }
        // Clients first, in arrival order; those that finished or failed leave the queue.
        clients = serve_ready(server, clients, &fds[2..]);
        if fds[1].revents != 0 {
            accept_all(listener, &mut clients)?;
        }
    }
}

/// Reads from each of `clients` whose poll entry in `ready` (same order) has an event, and
/// answers whole requests; returns the clients still waiting, in arrival order, without those
/// answered, dropped or past their deadline.
fn serve_ready(
    server: &mut Server<'_>,
    clients: VecDeque<Client>,
    ready: &[libc::pollfd],
) -> VecDeque<Client> {
    let now = Instant::now();
    let mut waiting = VecDeque::with_capacity(clients.len());
    for (mut client, fd) in clients.into_iter().zip(ready) {
        if fd.revents == 0 {
            if client.deadline > now {
                waiting.push_back(client);
            }
            continue;
        }
        match client.read() {
            Progress::More if client.deadline > now => waiting.push_back(client),
            Progress::More => {}
            Progress::Line(request) => server.serve(client, &request),
            Progress::Drop(Some(why)) => {
                let who = peer_credentials(&client.stream)
                    .map(|p| format!("pid {} (uid {})", p.pid, p.uid))
                    .unwrap_or_else(|_| "a client".to_owned());
                log(format_args!("no port for {who}: {why}"));
            }
            Progress::Drop(None) => {}
        }
    }
    waiting
}

/// Accepts pending connections into `clients`, at most [`MAX_ACCEPTS_PER_TURN`], making room
/// as [`make_room`] says.
fn accept_all(listener: &UnixListener, clients: &mut VecDeque<Client>) -> Result<(), Error> {
    for _ in 0..MAX_ACCEPTS_PER_TURN {
        match listener.accept() {
            Ok((stream, _)) => {
                if stream.set_nonblocking(true).is_err() {
                    continue;
                }
                let uid = peer_credentials(&stream).ok().map(|c| c.uid);
                make_room(clients, uid);
                clients.push_back(Client {
                    stream,
                    uid,
                    request: Vec::with_capacity(MAX_REQUEST),
                    deadline: Instant::now() + CLIENT_TIMEOUT,
                });
            }
            Err(e) if e.kind() == IoKind::WouldBlock => return Ok(()),
            Err(e) if e.kind() == IoKind::Interrupted => {}
            // Out of file descriptors or memory, or the client left already: the waiting
            // clients are served, and the next poll tries again.
            Err(e) => {
                log(format_args!("accept: {e}"));
                return Ok(());
            }
        }
    }
    Ok(())
}

/// Makes room among the waiting `clients` for a newcomer of user `uid`: when that user has
/// [`MAX_PENDING_PER_USER`] waiting, its own oldest is dropped; when [`MAX_PENDING`] wait in
/// all, the oldest of the user with the most waiting is. A user's newcomers never drop
/// another user's clients while they have more waiting than that user.
fn make_room(clients: &mut VecDeque<Client>, uid: Option<u32>) {
    let mut counts: HashMap<Option<u32>, usize> = HashMap::new();
    for client in clients.iter() {
        *counts.entry(client.uid).or_default() += 1;
    }
    let victim = if counts.get(&uid).copied().unwrap_or(0) >= MAX_PENDING_PER_USER {
        Some(uid)
    } else if clients.len() >= MAX_PENDING {
        counts.into_iter().max_by_key(|(_, n)| *n).map(|(u, _)| u)
    } else {
        None
    };
    if let Some(victim) = victim
        && let Some(at) = clients.iter().position(|c| c.uid == victim)
    {
        clients.remove(at);
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn a_request_is_a_positive_decimal_pid_and_nothing_else() {
        assert_eq!(parse_pid(b"4242"), Ok(4242));
        assert_eq!(parse_pid(b"4242\r"), Ok(4242));
        for bad in [
            &b""[..],
            b"0",
            b"-1",
            b"+12",
            b" 12",
            b"12 ",
            b"2147483648",
            b"99999999999",
            b"abc",
            b"\xff\xfe",
        ] {
            assert!(parse_pid(bad).is_err(), "{bad:?} accepted");
        }
    }

    #[test]
    fn an_address_with_a_leading_at_is_abstract_and_an_empty_one_is_refused() {
        assert!(matches!(Address::parse("@x"), Ok(Address::Abstract(n)) if n == "x"));
        assert!(matches!(
            Address::parse("/run/p.sock"),
            Ok(Address::Path(_))
        ));
        assert!(Address::parse("@").is_err());
        assert!(Address::parse("").is_err());
    }
}
