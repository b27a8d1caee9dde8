//! Lease and bind in one step (issue 14): `Registry::listen`, one test per rule, and the race
//! proof — a hostile process binding every port of a small pool in a tight loop never makes
//! `listen` return a lease whose port it does not hold.

mod common;

use common::{free_block, open, scratch, tcp, udp};
use std::fs;
use std::net::{IpAddr, Ipv4Addr, SocketAddr, TcpListener, TcpStream, UdpSocket};
use std::os::fd::AsRawFd;
use std::process::{Command, Stdio};
use std::time::{Duration, Instant};

use portpool_core::{Bound, Choice, ErrorKind, LeaseOptions, ListenOptions, Mode, Registry};

const LOOPBACK: IpAddr = IpAddr::V4(Ipv4Addr::LOCALHOST);

fn pool(reg: &Registry, start: u16, end: u16) -> Choice {
    reg.set_pool("small", start, end, None).unwrap();
    Choice::Pool(Some("small".into()))
}

fn ports(ports: &[u16], mode: Mode) -> Choice {
    Choice::Ports {
        ports: ports.to_vec(),
        mode,
    }
}

/// The address the socket is bound to, from getsockname.
fn local(bound: &Bound) -> SocketAddr {
    socket2::SockRef::from(&bound.fd)
        .local_addr()
        .unwrap()
        .as_socket()
        .unwrap()
}

fn has_ipv6() -> bool {
    TcpListener::bind("[::1]:0").is_ok()
}

#[test]
fn listen_leases_a_port_and_returns_a_socket_listening_on_it() {
    let s = scratch();
    let reg = open(&s.path);
    let p = free_block(4);
    let choice = pool(&reg, p, p + 3);
    let bound = reg
        .listen("web", &choice, &tcp(), &ListenOptions::default())
        .unwrap();
    assert!(bound.created);
    assert_eq!(local(&bound).port(), bound.port);
    let lease = reg.lease("web").unwrap();
    assert_eq!((lease.port, lease.mode), (bound.port, Mode::Pool));
    let listener = TcpListener::from(bound.fd);
    let _client = TcpStream::connect(("127.0.0.1", lease.port)).unwrap();
    let (_conn, _) = listener.accept().unwrap();
}

#[test]
fn the_default_address_is_the_dual_stack_ipv6_wildcard() {
    if !has_ipv6() {
        eprintln!("host has no IPv6; skipped");
        return;
    }
    let s = scratch();
    let reg = open(&s.path);
    let choice = ports(&[free_block(1)], Mode::Flexible);
    let bound = reg
        .listen("web", &choice, &tcp(), &ListenOptions::default())
        .unwrap();
    assert_eq!(local(&bound).ip(), IpAddr::from([0u16; 8]));
    let listener = TcpListener::from(bound.fd);
    let port = listener.local_addr().unwrap().port();
    TcpStream::connect(("127.0.0.1", port)).expect("IPv4 reaches the dual-stack socket");
    TcpStream::connect(("::1", port)).expect("IPv6 reaches it too");
}

#[test]
fn the_socket_is_close_on_exec_and_tcp_sets_so_reuseaddr() {
    let s = scratch();
    let reg = open(&s.path);
    let choice = ports(&[free_block(1)], Mode::Flexible);
    let bound = reg
        .listen("web", &choice, &tcp(), &ListenOptions::default())
        .unwrap();
    let flags = unsafe { libc::fcntl(bound.fd.as_raw_fd(), libc::F_GETFD) };
    assert_ne!(flags & libc::FD_CLOEXEC, 0, "close-on-exec");
    let sock = socket2::SockRef::from(&bound.fd);
    assert!(sock.reuse_address().unwrap());
    assert_eq!(sock.r#type().unwrap(), socket2::Type::STREAM);
}

#[test]
fn udp_listen_binds_a_datagram_socket_without_so_reuseaddr() {
    let s = scratch();
    let reg = open(&s.path);
    let choice = ports(&[free_block(1)], Mode::Flexible);
    let bound = reg
        .listen("dns", &choice, &udp(), &ListenOptions::default())
        .unwrap();
    assert!(!socket2::SockRef::from(&bound.fd).reuse_address().unwrap());
    let lease = reg.lease("dns").unwrap();
    assert_eq!(
        (lease.port, lease.protocol),
        (bound.port, portpool_core::Protocol::Udp)
    );
    let server = UdpSocket::from(bound.fd);
    let client = UdpSocket::bind("127.0.0.1:0").unwrap();
    client.send_to(b"ping", ("127.0.0.1", lease.port)).unwrap();
    let mut buf = [0u8; 8];
    let (n, _) = server.recv_from(&mut buf).unwrap();
    assert_eq!(&buf[..n], b"ping");
}

#[test]
fn a_candidate_bound_by_another_process_is_passed_over_like_a_busy_port() {
    let s = scratch();
    let reg = open(&s.path);
    let p = free_block(3);
    let choice = pool(&reg, p, p + 2);
    let _held = TcpListener::bind(("127.0.0.1", p)).unwrap();
    let bound = reg
        .listen("web", &choice, &tcp(), &ListenOptions::default())
        .unwrap();
    assert_eq!(bound.port, p + 1);
}

#[test]
fn a_pool_that_does_not_probe_still_passes_over_a_port_it_cannot_bind() {
    let s = scratch();
    let reg = open(&s.path);
    let p = free_block(2);
    reg.set_pool("reserved", p, p + 1, Some(false)).unwrap();
    let _held = TcpListener::bind(("127.0.0.1", p)).unwrap();
    let choice = Choice::Pool(Some("reserved".into()));
    let bound = reg
        .listen("web", &choice, &tcp(), &ListenOptions::default())
        .unwrap();
    assert_eq!(bound.port, p + 1);
}

#[test]
fn listen_follows_the_preferred_ports_range_and_exclude_rules() {
    let s = scratch();
    let reg = open(&s.path);
    let p = free_block(6);
    let _held = TcpListener::bind(("127.0.0.1", p)).unwrap();
    let options = LeaseOptions {
        range: Some((p + 2, p + 5)),
        exclude: vec![p + 2, p + 3],
        ..tcp()
    };
    let bound = reg
        .listen(
            "web",
            &ports(&[p], Mode::Fixed),
            &options,
            &ListenOptions::default(),
        )
        .unwrap();
    assert_eq!(bound.port, p + 4);
    let err = reg
        .listen(
            "api",
            &ports(&[p], Mode::Fixed),
            &tcp(),
            &ListenOptions::default(),
        )
        .unwrap_err();
    assert_eq!(err.kind(), ErrorKind::Conflict, "{err}");
}

#[test]
fn a_name_that_holds_a_lease_gets_a_socket_on_its_port_and_created_false() {
    let s = scratch();
    let reg = open(&s.path);
    let p = free_block(2);
    reg.register("web", p + 1, Mode::Fixed, &tcp()).unwrap();
    let bound = reg
        .listen(
            "web",
            &ports(&[p], Mode::Flexible),
            &tcp(),
            &ListenOptions::default(),
        )
        .unwrap();
    assert_eq!((bound.port, bound.created), (p + 1, false));
    assert_eq!(local(&bound).port(), p + 1);
    assert_eq!(
        reg.lease("web").unwrap().owner,
        None,
        "the lease is unchanged"
    );
}

#[test]
fn a_held_port_that_another_process_has_bound_is_a_conflict_that_changes_nothing() {
    let s = scratch();
    let reg = open(&s.path);
    let p = free_block(1);
    reg.register("web", p, Mode::Fixed, &tcp()).unwrap();
    let before = fs::read(&s.path).unwrap();
    let _squatter = TcpListener::bind(("127.0.0.1", p)).unwrap();
    let err = reg
        .listen(
            "web",
            &ports(&[p], Mode::Fixed),
            &tcp(),
            &ListenOptions::default(),
        )
        .unwrap_err();
    assert_eq!(err.kind(), ErrorKind::Conflict, "{err}");
    assert!(
        err.message().contains("another process has it bound"),
        "{err}"
    );
    assert_eq!(fs::read(&s.path).unwrap(), before);
}

#[test]
fn the_lease_is_owned_by_the_caller_unless_a_pid_is_given_and_outlives_the_socket() {
    let s = scratch();
    let reg = open(&s.path);
    let p = free_block(2);
    let choice = pool(&reg, p, p + 1);
    let bound = reg
        .listen("mine", &choice, &tcp(), &ListenOptions::default())
        .unwrap();
    assert_eq!(
        reg.lease("mine").unwrap().owner.map(|o| o.pid),
        Some(std::process::id())
    );
    drop(bound);
    assert!(
        reg.get("mine").unwrap().is_some(),
        "closing the socket keeps the lease"
    );
    let mut child = Command::new("sleep").arg("30").spawn().unwrap();
    let theirs = LeaseOptions {
        pid: Some(child.id()),
        ..tcp()
    };
    let _bound = reg
        .listen("theirs", &choice, &theirs, &ListenOptions::default())
        .unwrap();
    assert_eq!(
        reg.lease("theirs").unwrap().owner.map(|o| o.pid),
        Some(child.id())
    );
    child.kill().unwrap();
    child.wait().unwrap();
    assert!(
        reg.get("theirs").unwrap().is_none(),
        "reclaimed with its owner"
    );
}

#[test]
fn a_host_binds_that_address_only() {
    let s = scratch();
    let reg = open(&s.path);
    let choice = ports(&[free_block(1)], Mode::Flexible);
    let listen = ListenOptions {
        host: Some(LOOPBACK),
        backlog: 4,
    };
    let bound = reg.listen("web", &choice, &tcp(), &listen).unwrap();
    assert_eq!(local(&bound), SocketAddr::new(LOOPBACK, bound.port));
    let via_options = LeaseOptions {
        host: Some(LOOPBACK),
        ..tcp()
    };
    let bound = reg
        .listen("api", &choice, &via_options, &ListenOptions::default())
        .unwrap();
    assert_eq!(
        local(&bound).ip(),
        LOOPBACK,
        "the lease options' host binds too"
    );
}

#[test]
fn bad_listen_arguments_are_invalid_and_change_nothing() {
    let s = scratch();
    let reg = open(&s.path);
    let p = free_block(1);
    reg.register("keep", p, Mode::Flexible, &tcp()).unwrap();
    let before = fs::read(&s.path).unwrap();
    let choice = ports(&[p + 1], Mode::Flexible);
    let elsewhere: IpAddr = "192.0.2.1".parse().unwrap();
    let cases = [
        (
            tcp(),
            ListenOptions {
                host: Some(elsewhere),
                ..ListenOptions::default()
            },
        ),
        (
            LeaseOptions {
                host: Some("127.0.0.2".parse().unwrap()),
                ..tcp()
            },
            ListenOptions {
                host: Some(LOOPBACK),
                ..ListenOptions::default()
            },
        ),
        (
            tcp(),
            ListenOptions {
                backlog: u32::MAX,
                ..ListenOptions::default()
            },
        ),
        (
            LeaseOptions {
                range: Some((9, 1)),
                ..tcp()
            },
            ListenOptions::default(),
        ),
    ];
    for (options, listen) in cases {
        let err = reg.listen("web", &choice, &options, &listen).unwrap_err();
        assert_eq!(err.kind(), ErrorKind::InvalidArgument, "{err}");
    }
    let ranged = LeaseOptions {
        range: Some((1, 2)),
        ..tcp()
    };
    let err = reg
        .listen(
            "web",
            &Choice::Pool(None),
            &ranged,
            &ListenOptions::default(),
        )
        .unwrap_err();
    assert_eq!(err.kind(), ErrorKind::InvalidArgument, "{err}");
    assert_eq!(fs::read(&s.path).unwrap(), before);
}

/// Run as a child of [`other_bind_failures_end_the_call_and_record_nothing`] as an
/// unprivileged user: a fixed port below 1024 cannot be bound, and that is not "in use".
#[test]
fn child_listens_on_a_privileged_port() {
    let Ok(path) = std::env::var("PORTPOOL_TEST_PRIVILEGED_CHILD") else {
        return;
    };
    let reg = Registry::open(Some(path.as_ref())).unwrap();
    let err = reg
        .listen(
            "web",
            &ports(&[80], Mode::Fixed),
            &tcp(),
            &ListenOptions::default(),
        )
        .unwrap_err();
    assert_eq!(err.kind(), ErrorKind::Io, "{err}");
    assert_eq!(err.os_error(), Some(libc::EACCES), "{err}");
    assert!(reg.get("web").unwrap().is_none());
}

#[test]
fn other_bind_failures_end_the_call_and_record_nothing() {
    use std::os::unix::fs::PermissionsExt;
    use std::os::unix::process::CommandExt;
    if unsafe { libc::geteuid() } != 0 {
        eprintln!("needs root to run a child as nobody; skipped");
        return;
    }
    let s = scratch();
    fs::set_permissions(s.dir.path(), fs::Permissions::from_mode(0o777)).unwrap();
    let status = Command::new(std::env::current_exe().unwrap())
        .args([
            "--exact",
            "child_listens_on_a_privileged_port",
            "--nocapture",
        ])
        .env("PORTPOOL_TEST_PRIVILEGED_CHILD", &s.path)
        .uid(65534)
        .gid(65534)
        .status()
        .unwrap();
    assert!(status.success());
}

/// Run as a child of the race proof: binds every port of `PORTPOOL_TEST_HOSTILE` (`lo-hi`)
/// that it can, TCP listening, over and over, holding each for a moment, until killed.
#[test]
fn child_binds_every_port_of_a_pool_in_a_tight_loop() {
    let Ok(range) = std::env::var("PORTPOOL_TEST_HOSTILE") else {
        return;
    };
    let (lo, hi) = range.split_once('-').unwrap();
    let (lo, hi): (u16, u16) = (lo.parse().unwrap(), hi.parse().unwrap());
    let mut round = 0u32;
    let deadline = Instant::now() + Duration::from_secs(120);
    while Instant::now() < deadline {
        // Three kinds of squatter in turn: an IPv4 listener, an IPv6-only listener, and a
        // socket bound with SO_REUSEADDR but not listening (which lets another bind through
        // and fails that one's listen instead).
        let held: Vec<socket2::Socket> = (lo..=hi).filter_map(|p| squat(p, round % 3)).collect();
        round = round.wrapping_add(1);
        if round.is_multiple_of(4) {
            std::thread::sleep(Duration::from_micros(200));
        }
        drop(held);
    }
}

fn squat(port: u16, kind: u32) -> Option<socket2::Socket> {
    use socket2::{Domain, Socket, Type};
    let (domain, addr): (Domain, SocketAddr) = match kind {
        1 => (Domain::IPV6, SocketAddr::from(([0u16; 8], port))),
        _ => (Domain::IPV4, SocketAddr::from(([0, 0, 0, 0], port))),
    };
    let socket = Socket::new(domain, Type::STREAM, None).ok()?;
    if kind == 1 {
        socket.set_only_v6(true).ok()?;
    }
    if kind == 2 {
        socket.set_reuse_address(true).ok()?;
    }
    socket.bind(&addr.into()).ok()?;
    if kind != 2 {
        socket.listen(8).ok()?;
    }
    Some(socket)
}

/// A child process killed when the test ends, passed or failed.
struct KillOnDrop(std::process::Child);

impl Drop for KillOnDrop {
    fn drop(&mut self) {
        let _ = self.0.kill();
        let _ = self.0.wait();
    }
}

#[test]
fn listen_never_returns_a_lease_whose_port_it_does_not_hold() {
    let s = scratch();
    let reg = open(&s.path);
    let p = free_block(4);
    let choice = pool(&reg, p, p + 3);
    let hostile = Command::new(std::env::current_exe().unwrap())
        .args([
            "--exact",
            "child_binds_every_port_of_a_pool_in_a_tight_loop",
            "--nocapture",
        ])
        .env("PORTPOOL_TEST_HOSTILE", format!("{p}-{}", p + 3))
        .stdout(Stdio::null())
        .spawn()
        .unwrap();
    let mut hostile = KillOnDrop(hostile);
    // Let the hostile process get going.
    let start = Instant::now();
    while portpool_core::is_free_at(p, portpool_core::Protocol::Tcp, None).unwrap()
        && start.elapsed() < Duration::from_secs(2)
    {
        std::thread::yield_now();
    }
    let (mut won, mut refused) = (0, 0);
    for i in 0..200 {
        let name = format!("svc-{i}");
        match reg.listen(&name, &choice, &tcp(), &ListenOptions::default()) {
            Ok(bound) => {
                let lease = reg.lease(&name).unwrap();
                assert_eq!(lease.port, bound.port, "the lease names the bound port");
                assert_eq!(local(&bound).port(), bound.port, "the socket holds it");
                assert!((p..=p + 3).contains(&bound.port));
                won += 1;
                reg.release(&name).unwrap();
            }
            Err(err) => {
                assert_eq!(err.kind(), ErrorKind::Exhausted, "{err}");
                assert!(err.message().contains("has no free tcp port"), "{err}");
                assert!(
                    reg.get(&name).unwrap().is_none(),
                    "no lease without a socket"
                );
                refused += 1;
            }
        }
    }
    hostile.0.kill().unwrap();
    hostile.0.wait().unwrap();
    eprintln!("listen under attack: {won} bound, {refused} refused");
    assert_eq!(won + refused, 200);
}

#[test]
fn a_scoped_listen_makes_a_new_lease_and_its_release_ends_it() {
    let s = scratch();
    let reg = open(&s.path);
    let p = free_block(2);
    let choice = pool(&reg, p, p + 1);
    let (lease, fd) = reg
        .listen_scoped("job", &choice, &tcp(), &ListenOptions::default())
        .unwrap();
    assert_eq!(lease.port(), reg.lease("job").unwrap().port);
    let err = reg
        .listen_scoped("job", &choice, &tcp(), &ListenOptions::default())
        .unwrap_err();
    assert_eq!(err.kind(), ErrorKind::Conflict, "{err}");
    assert!(err.message().contains("scoped lease"), "{err}");
    assert!(lease.release(&reg).unwrap());
    assert!(reg.get("job").unwrap().is_none());
    drop(fd);
}
