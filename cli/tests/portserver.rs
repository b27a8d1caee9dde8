//! `portpool portserver`: the real portpicker (PyPI, pinned in
//! bindings/python/requirements-dev.txt, installed into a virtualenv under the cargo target
//! directory on first use) as the client, and raw clients for what portpicker never sends.

mod common;

use std::io::{BufRead, BufReader, Read, Write};
use std::os::linux::net::SocketAddrExt;
use std::os::unix::net::{SocketAddr, UnixStream};
use std::path::{Path, PathBuf};
use std::process::{Child, Command, Stdio};
use std::sync::OnceLock;
use std::sync::atomic::{AtomicUsize, Ordering};
use std::time::{Duration, Instant};

use common::{BIN, Scratch, leases, ok, pp, scratch};

/// A Python with the pinned portpicker: `<target>/portserver-venv`, made once.
fn python() -> &'static Path {
    static PYTHON: OnceLock<PathBuf> = OnceLock::new();
    PYTHON.get_or_init(|| {
        let requirements = Path::new(env!("CARGO_MANIFEST_DIR"))
            .join("../bindings/python/requirements-dev.txt");
        let pin = std::fs::read_to_string(&requirements)
            .unwrap()
            .lines()
            .find(|l| l.starts_with("portpicker=="))
            .expect("requirements-dev.txt pins portpicker")
            .to_owned();
        let target = Path::new(BIN).parent().unwrap().parent().unwrap();
        let venv = target.join("portserver-venv");
        let python = venv.join("bin/python");
        let version = pin.trim_start_matches("portpicker==");
        let has_pin = || {
            Command::new(&python)
                .args(["-c", &format!(
                    "import importlib.metadata as m, sys; sys.exit(m.version('portpicker') != {version:?})"
                )])
                .stderr(Stdio::null())
                .status()
                .is_ok_and(|s| s.success())
        };
        if !has_pin() {
            let interpreter = std::env::var("PYTHON").unwrap_or_else(|_| "python3.11".into());
            let status = Command::new(&interpreter)
                .args(["-m", "venv"])
                .arg(&venv)
                .status()
                .unwrap();
            assert!(status.success(), "{interpreter} -m venv {}", venv.display());
            let status = Command::new(&python)
                .args(["-m", "pip", "install", "--quiet", "--disable-pip-version-check", &pin])
                .status()
                .unwrap();
            assert!(status.success(), "pip install {pin}");
            assert!(has_pin());
        }
        python
    })
}

/// A server on a scratch registry, on an abstract address of its own; killed when dropped.
struct Server {
    child: Child,
    address: String,
    reg: Scratch,
}

impl Server {
    fn start(extra: &[&str]) -> Server {
        Server::start_on(scratch(), extra)
    }

    fn start_on(reg: Scratch, extra: &[&str]) -> Server {
        static SERIAL: AtomicUsize = AtomicUsize::new(0);
        let address = format!(
            "@portpool-test-{}-{}",
            std::process::id(),
            SERIAL.fetch_add(1, Ordering::Relaxed)
        );
        let child = spawn_server(&reg.path, &address, extra);
        let server = Server {
            child,
            address,
            reg,
        };
        wait_until(|| server.connect().is_ok(), "the server to listen");
        server
    }

    fn connect(&self) -> std::io::Result<UnixStream> {
        connect(&self.address)
    }

    /// A raw request: sends `request`, returns the whole reply.
    fn ask(&self, request: &[u8]) -> String {
        let mut stream = self.connect().unwrap();
        stream.write_all(request).unwrap();
        reply(&mut stream)
    }
}

impl Drop for Server {
    fn drop(&mut self) {
        let _ = self.child.kill();
        let _ = self.child.wait();
    }
}

fn spawn_server(reg: &Path, address: &str, extra: &[&str]) -> Child {
    Command::new(BIN)
        .arg("--registry")
        .arg(reg)
        .args(["portserver", "--address", address])
        .args(extra)
        .env_remove("PORTPOOL_REGISTRY")
        .stdout(Stdio::null())
        .stderr(Stdio::piped())
        .spawn()
        .unwrap()
}

fn connect(address: &str) -> std::io::Result<UnixStream> {
    match address.strip_prefix('@') {
        Some(name) => UnixStream::connect_addr(&SocketAddr::from_abstract_name(name)?),
        None => UnixStream::connect(address),
    }
}

fn reply(stream: &mut UnixStream) -> String {
    stream
        .set_read_timeout(Some(Duration::from_secs(30)))
        .unwrap();
    let mut out = String::new();
    stream.read_to_string(&mut out).unwrap();
    out
}

fn wait_until(mut done: impl FnMut() -> bool, what: &str) {
    let start = Instant::now();
    while !done() {
        assert!(
            start.elapsed() < Duration::from_secs(20),
            "timed out waiting for {what}"
        );
        std::thread::sleep(Duration::from_millis(20));
    }
}

fn is_root() -> bool {
    // SAFETY: geteuid has no preconditions.
    unsafe { libc::geteuid() == 0 }
}

/// A Python process running `script` with portpicker and PORTSERVER_ADDRESS=`address`.
fn portpicker(address: &str, script: &str) -> Command {
    let mut cmd = Command::new(python());
    cmd.args(["-c", script])
        .env("PORTSERVER_ADDRESS", address)
        .env_remove("PORTPOOL_REGISTRY");
    cmd
}

/// Picks `count` ports with portpicker.pick_unused_port(), prints "PID PORT PORT ...", then
/// stays alive until its stdin closes.
const PICK_AND_WAIT: &str = "
import os, sys, portpicker
count = int(sys.argv[1])
ports = [portpicker.pick_unused_port() for _ in range(count)]
print(os.getpid(), *ports, flush=True)
sys.stdin.read()
";

#[test]
fn portpicker_processes_get_distinct_ports_each_leased_to_its_own_pid() {
    let server = Server::start(&[]);
    let mut children: Vec<Child> = (0..8)
        .map(|_| {
            portpicker(&server.address, PICK_AND_WAIT)
                .arg("6")
                .stdin(Stdio::piped())
                .stdout(Stdio::piped())
                .spawn()
                .unwrap()
        })
        .collect();
    let mut given = Vec::new();
    for child in &mut children {
        let mut line = String::new();
        BufReader::new(child.stdout.as_mut().unwrap())
            .read_line(&mut line)
            .unwrap();
        let numbers: Vec<u64> = line
            .split_whitespace()
            .map(|w| w.parse().unwrap())
            .collect();
        assert_eq!(numbers.len(), 7, "portpicker printed {line:?}");
        assert_eq!(numbers[0], u64::from(child.id()));
        for &port in &numbers[1..] {
            given.push((port, numbers[0]));
        }
    }
    let mut ports: Vec<u64> = given.iter().map(|g| g.0).collect();
    ports.sort_unstable();
    ports.dedup();
    assert_eq!(ports.len(), 48, "a port was given twice: {given:?}");
    let recorded = leases(&server.reg.path);
    for (port, pid) in &given {
        let lease = recorded
            .iter()
            .find(|l| l["port"] == *port)
            .unwrap_or_else(|| panic!("port {port} has no lease"));
        assert_eq!(lease["owner"]["pid"], *pid, "port {port}");
        assert_eq!(lease["pool"], "default");
    }
    for mut child in children {
        drop(child.stdin.take());
        assert!(child.wait().unwrap().success());
    }
}

#[test]
fn ports_leased_through_the_server_are_withheld_from_every_other_portpool_user_until_the_client_exits()
 {
    let reg = scratch();
    ok(&reg.path, &["pool", "set", "tiny", "21000", "21003"]);
    let server = Server::start_on(reg, &["--pool", "tiny"]);
    let mut child = portpicker(&server.address, PICK_AND_WAIT)
        .arg("4")
        .stdin(Stdio::piped())
        .stdout(Stdio::piped())
        .spawn()
        .unwrap();
    let mut line = String::new();
    BufReader::new(child.stdout.as_mut().unwrap())
        .read_line(&mut line)
        .unwrap();
    let mut ports: Vec<&str> = line.split_whitespace().skip(1).collect();
    ports.sort_unstable();
    assert_eq!(ports, ["21000", "21001", "21002", "21003"]);
    // The pool is full: the CLI is refused, and the server answers portpicker with nothing.
    let out = pp(
        &server.reg.path,
        &["allocate", "cli-user", "--pool", "tiny"],
    );
    assert_eq!(out.status.code(), Some(4), "{out:?}");
    let none = portpicker(
        &server.address,
        "import os, portpicker; print(portpicker.get_port_from_port_server(os.environ['PORTSERVER_ADDRESS']))",
    )
    .output()
    .unwrap();
    assert_eq!(String::from_utf8_lossy(&none.stdout).trim(), "None");
    // Once the client exits, its ports come back.
    drop(child.stdin.take());
    assert!(child.wait().unwrap().success());
    let port = ok(
        &server.reg.path,
        &["allocate", "cli-user", "--pool", "tiny"],
    );
    assert!(ports.contains(&port.as_str()), "{port}");
}

#[test]
fn a_client_may_claim_a_process_of_its_own_user_but_not_another_users() {
    let server = Server::start(&[]);
    let ask = "
import os, sys, portpicker
pid = int(sys.argv[1]) if len(sys.argv) > 1 else None
print(portpicker.get_port_from_port_server(os.environ['PORTSERVER_ADDRESS'], pid=pid))
";
    let run = |cmd: &mut Command| {
        let out = cmd.output().unwrap();
        assert!(out.status.success(), "{out:?}");
        String::from_utf8(out.stdout).unwrap().trim().to_owned()
    };
    // A process of another user: as root, the client becomes nobody and claims this test
    // process (root's); otherwise the client claims pid 1 (root's).
    let (as_other, victim) = if is_root() {
        let mut cmd = Command::new("setpriv");
        cmd.args(["--reuid=65534", "--regid=65534", "--clear-groups"])
            .arg(python())
            .args(["-c", ask])
            .env("PORTSERVER_ADDRESS", &server.address);
        (cmd, std::process::id())
    } else {
        (portpicker(&server.address, ask), 1)
    };
    let mut forged = as_other;
    forged.arg(victim.to_string());
    assert_eq!(run(&mut forged), "None", "a forged pid was given a port");
    assert!(
        leases(&server.reg.path).is_empty(),
        "a refused request leased something"
    );
    // The same client claiming itself, and one claiming its own parent shell (same user).
    let mut itself = portpicker(&server.address, ask);
    if is_root() {
        itself = Command::new("setpriv");
        itself
            .args(["--reuid=65534", "--regid=65534", "--clear-groups"])
            .arg(python())
            .args(["-c", ask])
            .env("PORTSERVER_ADDRESS", &server.address);
    }
    let port: u16 = run(&mut itself).parse().expect("a port for itself");
    let mut sibling = portpicker(&server.address, ask);
    sibling.arg(std::process::id().to_string());
    let second: u16 = run(&mut sibling)
        .parse()
        .expect("a port for its own user's process");
    assert_ne!(port, second);
    let recorded = leases(&server.reg.path);
    assert!(
        recorded
            .iter()
            .any(|l| l["port"] == second && l["owner"]["pid"] == std::process::id())
    );
}

#[test]
fn garbage_huge_lines_and_hanging_clients_neither_stop_nor_delay_the_server() {
    let server = Server::start(&[]);
    let me = std::process::id().to_string();
    // More clients that connect and say nothing than the server lets wait.
    let hanging: Vec<UnixStream> = (0..600).map(|_| server.connect().unwrap()).collect();
    let half_line = {
        let mut s = server.connect().unwrap();
        s.write_all(b"12").unwrap();
        s
    };
    for garbage in [
        &b"hello\n"[..],
        b"\n",
        b"-5\n",
        b"0\n",
        b"4294967297\n",
        b"\xff\xfe\n",
    ] {
        assert_eq!(server.ask(garbage), "", "{garbage:?}");
    }
    // A megabyte without a newline: the server stops reading after a few bytes.
    let mut huge = server.connect().unwrap();
    let sent = huge.write_all(&vec![b'7'; 1 << 20]);
    drop(sent);
    assert_eq!(reply(&mut huge), "");
    // Clients that connect and leave at once.
    for _ in 0..50 {
        drop(server.connect().unwrap());
    }
    let start = Instant::now();
    let answer = server.ask(format!("{me}\n").as_bytes());
    let port: u16 = answer.trim_end().parse().expect("a port");
    assert!(answer.ends_with('\n'));
    assert!(
        start.elapsed() < Duration::from_secs(2),
        "a valid request waited {:?} behind hanging clients",
        start.elapsed()
    );
    assert!(leases(&server.reg.path).iter().any(|l| l["port"] == port));
    // A client that never finishes its line is dropped after the client timeout.
    let mut half_line = half_line;
    assert_eq!(reply(&mut half_line), "");
    drop(hanging);
    // Still serving.
    assert!(
        server
            .ask(format!("{me}\n").as_bytes())
            .trim_end()
            .parse::<u16>()
            .is_ok()
    );
}

#[test]
fn sigterm_stops_the_server_cleanly_and_removes_its_socket_file() {
    let reg = scratch();
    let socket = reg.dir.path().join("portserver.sock");
    let address = socket.to_str().unwrap();
    let child = spawn_server(&reg.path, address, &[]);
    wait_until(|| connect(address).is_ok(), "the server to listen");
    let port = {
        let mut s = connect(address).unwrap();
        s.write_all(format!("{}\n", std::process::id()).as_bytes())
            .unwrap();
        reply(&mut s)
    };
    assert!(port.trim_end().parse::<u16>().is_ok(), "{port:?}");
    // SAFETY: kill has no memory-safety preconditions.
    unsafe { libc::kill(child.id() as i32, libc::SIGTERM) };
    let out = child.wait_with_output().unwrap();
    assert_eq!(out.status.code(), Some(0), "{out:?}");
    assert!(!socket.exists(), "the socket file was left behind");
    let log = String::from_utf8(out.stderr).unwrap();
    assert!(log.contains("stopped"), "{log}");
}

#[test]
fn a_live_socket_is_a_conflict_and_a_dead_servers_socket_file_is_replaced() {
    let reg = scratch();
    let socket = reg.dir.path().join("portserver.sock");
    let address = socket.to_str().unwrap();
    let mut first = spawn_server(&reg.path, address, &[]);
    wait_until(|| connect(address).is_ok(), "the server to listen");
    let second = spawn_server(&reg.path, address, &[])
        .wait_with_output()
        .unwrap();
    assert_eq!(second.status.code(), Some(3), "{second:?}");
    assert!(String::from_utf8_lossy(&second.stderr).contains("already listens"));
    // Killed without a chance to clean up: the file stays, and the next server replaces it.
    first.kill().unwrap();
    first.wait().unwrap();
    assert!(socket.exists());
    let mut third = spawn_server(&reg.path, address, &[]);
    wait_until(
        || connect(address).is_ok(),
        "the replacement server to listen",
    );
    third.kill().unwrap();
    third.wait().unwrap();
    // A path that is not a socket is never removed.
    let file = reg.dir.path().join("not-a-socket");
    std::fs::write(&file, "data").unwrap();
    let out = spawn_server(&reg.path, file.to_str().unwrap(), &[])
        .wait_with_output()
        .unwrap();
    assert_eq!(out.status.code(), Some(3), "{out:?}");
    assert_eq!(std::fs::read_to_string(&file).unwrap(), "data");
}

#[test]
fn an_unknown_pool_or_an_empty_address_is_refused_before_listening() {
    let reg = scratch();
    let out = pp(
        &reg.path,
        &[
            "portserver",
            "--address",
            "@portpool-never",
            "--pool",
            "nope",
        ],
    );
    assert_eq!(out.status.code(), Some(1), "{out:?}");
    assert!(String::from_utf8_lossy(&out.stderr).starts_with("portpool: no pool named"));
    for address in ["@", ""] {
        let out = pp(&reg.path, &["portserver", "--address", address]);
        assert_eq!(out.status.code(), Some(2), "{address:?}: {out:?}");
    }
}

/// A uid no account on this host uses, for clients of "another user": the kernel needs no
/// account to run a process as a uid, so nothing in /etc is touched.
fn throwaway_uid(offset: u32) -> u32 {
    50_000 + (std::process::id() % 5_000) * 4 + offset
}

/// `/usr/bin/python3 -c script args...` as `uid` (and gid `uid`, no supplementary groups).
fn python_as(uid: u32, script: &str, args: &[&str]) -> Command {
    use std::os::unix::process::CommandExt;
    let mut cmd = Command::new("/usr/bin/python3");
    cmd.args(["-c", script])
        .args(args)
        .current_dir("/")
        .uid(uid)
        .gid(uid);
    cmd
}

/// Asks the server at argv[1] argv[2] times for a port for this process, prints each reply
/// ("" for none) on its own line, then stays alive (its leases with it) until stdin closes.
/// Connects as portpicker does (blocking: a full listen queue makes it wait for room, not
/// fail), but never waits more than 20 s for anything.
const ASK_AND_WAIT: &str = r#"
import os, socket, struct, sys
for _ in range(int(sys.argv[2])):
    reply = b""
    try:
        s = socket.socket(socket.AF_UNIX)
        limit = struct.pack("ll", 20, 0)
        s.setsockopt(socket.SOL_SOCKET, socket.SO_SNDTIMEO, limit)
        s.setsockopt(socket.SOL_SOCKET, socket.SO_RCVTIMEO, limit)
        s.connect("\0" + sys.argv[1][1:])
        s.sendall(b"%d\n" % os.getpid())
        while True:
            chunk = s.recv(64)
            if not chunk:
                break
            reply += chunk
    except OSError as e:
        reply = b""
        print("client:", e, file=sys.stderr, flush=True)
    finally:
        s.close()
    print(reply.decode().strip(), flush=True)
sys.stdin.read()
"#;

/// Runs [`ASK_AND_WAIT`] as `uid` for `count` ports; returns the replies and the process,
/// which keeps its leases until it is dropped (stdin closed).
fn ask_as(uid: u32, server: &Server, count: usize) -> (Vec<String>, Killed) {
    let mut child = python_as(uid, ASK_AND_WAIT, &[&server.address, &count.to_string()])
        .stdin(Stdio::piped())
        .stdout(Stdio::piped())
        .spawn()
        .unwrap();
    let mut lines = BufReader::new(child.stdout.take().unwrap()).lines();
    let replies = (0..count)
        .map(|_| lines.next().expect("a reply line").unwrap())
        .collect();
    (replies, Killed(vec![child]))
}

fn ports_in(replies: &[String]) -> usize {
    replies.iter().filter(|r| r.parse::<u16>().is_ok()).count()
}

#[test]
fn the_portserver_grants_one_users_clients_at_most_a_quarter_of_the_pool_and_root_more() {
    if !is_root() {
        return;
    }
    let reg = scratch();
    let start = common::free_block(8);
    ok(
        &reg.path,
        &[
            "pool",
            "set",
            "ps",
            &start.to_string(),
            &(start + 7).to_string(),
        ],
    );
    let server = Server::start_on(reg, &["--pool", "ps"]);
    let (greedy, other) = (throwaway_uid(0), throwaway_uid(1));
    let (replies, greedy_process) = ask_as(greedy, &server, 3);
    assert_eq!(ports_in(&replies), 2, "a quarter of 8 ports: {replies:?}");
    assert_eq!(replies[2], "", "the third request was served: {replies:?}");
    let (replies, _other_process) = ask_as(other, &server, 1);
    assert_eq!(
        ports_in(&replies),
        1,
        "another user was refused: {replies:?}"
    );
    let me = std::process::id().to_string();
    for _ in 0..3 {
        let answer = server.ask(format!("{me}\n").as_bytes());
        assert!(
            answer.trim_end().parse::<u16>().is_ok(),
            "root refused: {answer:?}"
        );
    }
    // Leases that ended stop counting: the greedy user's process exits, and it may ask again.
    // The server checks a user at its limit for ended leases at most every 100 ms (so a storm
    // past the limit costs no more than its refusals): the refusal above was such a check.
    drop(greedy_process);
    std::thread::sleep(std::time::Duration::from_millis(200));
    let (replies, _again) = ask_as(greedy, &server, 1);
    assert_eq!(
        ports_in(&replies),
        1,
        "ended leases still counted: {replies:?}"
    );
}

#[test]
fn a_per_user_lease_limit_of_zero_is_refused_and_one_given_is_kept() {
    let server = Server::start(&["--per-user-leases", "1"]);
    if is_root() {
        let (replies, _process) = ask_as(throwaway_uid(2), &server, 2);
        assert_eq!(ports_in(&replies), 1, "{replies:?}");
    }
    let out = Command::new(BIN)
        .arg("--registry")
        .arg(&server.reg.path)
        .args([
            "portserver",
            "--address",
            "@portpool-never",
            "--per-user-leases",
            "0",
        ])
        .output()
        .unwrap();
    assert_eq!(out.status.code(), Some(2), "{out:?}");
}

/// Processes killed (and reaped) when dropped, a failing assertion included.
struct Killed(Vec<Child>);

impl Drop for Killed {
    fn drop(&mut self) {
        for process in &mut self.0 {
            let _ = process.kill();
            let _ = process.wait();
        }
    }
}

/// Keeps opening connections to argv[1] and never sends a request: up to 300 open at once,
/// the oldest closed for each new one, until killed.
const CONNECT_STORM: &str = r#"
import collections, socket, sys
held = collections.deque()
while True:
    try:
        s = socket.socket(socket.AF_UNIX)
        s.setblocking(False)
        s.connect("\0" + sys.argv[1][1:])
        held.append(s)
    except (BlockingIOError, InterruptedError, ConnectionRefusedError, OSError):
        s.close()
    while len(held) > 300:
        held.popleft().close()
"#;

#[test]
fn one_users_connect_storm_does_not_keep_another_users_requests_from_being_served() {
    if !is_root() {
        return;
    }
    let server = Server::start(&[]);
    let (stormer, patient) = (throwaway_uid(0), throwaway_uid(3));
    let storm = Killed(
        (0..3)
            .map(|_| {
                python_as(stormer, CONNECT_STORM, &[&server.address])
                    .stderr(Stdio::null())
                    .spawn()
                    .unwrap()
            })
            .collect(),
    );
    // Let the storm fill the server's queue before the patient user asks.
    std::thread::sleep(Duration::from_millis(500));
    let (replies, patient_process) = ask_as(patient, &server, 40);
    drop(storm);
    drop(patient_process);
    let served = ports_in(&replies);
    assert!(
        served >= 38,
        "{served} of 40 requests served during the storm"
    );
}

#[test]
fn the_portserver_leases_its_ports_for_tcp_and_udp_and_passes_over_one_bound_for_udp_only() {
    let reg = scratch();
    let port = common::free_block(1);
    let udp = std::net::UdpSocket::bind(("0.0.0.0", port)).unwrap();
    let busy = port.to_string();
    ok(&reg.path, &["pool", "set", "one", &busy, &busy]);
    let server = Server::start_on(reg, &["--pool", "one"]);
    let request = format!("{}\n", std::process::id());
    assert_eq!(
        server.ask(request.as_bytes()),
        "",
        "a port bound for UDP was handed out"
    );
    drop(udp);
    assert_eq!(server.ask(request.as_bytes()).trim(), busy);
    let all = leases(&server.reg.path);
    assert_eq!(all.len(), 1);
    assert_eq!(all[0]["protocol"], "tcp+udp");
}
