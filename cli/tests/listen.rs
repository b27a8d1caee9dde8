//! Issue 14 on the command line: the port choices of register, allocate and find-free, and
//! `run --listen` handing the bound socket to the command the systemd way.

mod common;

use common::*;
use std::io::{Read, Write};
use std::net::{TcpListener, TcpStream};
use std::path::Path;
use std::process::{Command, Stdio};

fn lines(text: &str) -> Vec<u16> {
    text.lines().map(|l| l.parse().unwrap()).collect()
}

#[test]
fn register_takes_the_first_free_of_a_list_then_the_range_and_never_an_excluded_port() {
    let s = scratch();
    let p = free_block(8);
    let _held = TcpListener::bind(("127.0.0.1", p)).unwrap();
    let list = format!("{p},{}", p + 1);
    let range = format!("{}-{}", p + 4, p + 7);
    let excluded = format!("{},{}", p + 1, p + 4);
    let got = ok(
        &s.path,
        &[
            "register",
            "web",
            &list,
            "--range",
            &range,
            "--exclude",
            &excluded,
        ],
    );
    assert_eq!(
        got,
        (p + 5).to_string(),
        "bound, excluded, excluded, then {}",
        p + 5
    );
    let got = ok(
        &s.path,
        &[
            "register",
            "api",
            &list,
            "fixed",
            "--exclude",
            &(p + 4).to_string(),
        ],
    );
    assert_eq!(got, (p + 1).to_string());
    let err = fails(&s.path, &["register", "db", &list, "fixed"], 3);
    assert!(err.contains("none of ports"), "{err}");
}

#[test]
fn register_and_allocate_probe_only_the_host_given() {
    let s = scratch();
    let p = free_block(2);
    let _held = TcpListener::bind(("127.0.0.1", p)).unwrap();
    let port = p.to_string();
    let other = ["--host", "127.0.0.2"];
    let got = ok(
        &s.path,
        &[&["register", "a", &port, "fixed"][..], &other[..]].concat(),
    );
    assert_eq!(got, port, "bound on 127.0.0.1 only: free on 127.0.0.2");
    let range = [port.as_str(), &(p + 1).to_string()].join(" ");
    let mut set = vec!["pool", "set", "two"];
    set.extend(range.split(' '));
    ok(&s.path, &set);
    let got = ok(
        &s.path,
        &["allocate", "b", "--pool", "two", "--host", "127.0.0.1"],
    );
    assert_eq!(got, (p + 1).to_string());
}

#[test]
fn allocate_never_hands_out_an_excluded_port() {
    let s = scratch();
    let p = free_block(4);
    ok(
        &s.path,
        &["pool", "set", "small", &p.to_string(), &(p + 3).to_string()],
    );
    let excluded = format!("{},{}", p, p + 2);
    let got = ok(
        &s.path,
        &[
            "allocate",
            "a",
            "b",
            "--pool",
            "small",
            "--exclude",
            &excluded,
        ],
    );
    assert_eq!(lines(&got), vec![p + 1, p + 3]);
    fails(
        &s.path,
        &["allocate", "c", "--pool", "small", "--exclude", &excluded],
        4,
    );
}

#[test]
fn find_free_prints_count_free_ports_of_the_range_one_a_line_or_as_json() {
    let s = scratch();
    let p = free_block(6);
    let _held = TcpListener::bind(("127.0.0.1", p + 1)).unwrap();
    let range = format!("{p}-{}", p + 5);
    let args = [
        "find-free",
        "--range",
        &range,
        "--exclude",
        &(p + 2).to_string(),
        "--count",
        "3",
    ];
    assert_eq!(lines(&ok(&s.path, &args)), vec![p, p + 3, p + 4]);
    let json: Vec<u16> =
        serde_json::from_str(&ok(&s.path, &[&args[..], &["--json"][..]].concat())).unwrap();
    assert_eq!(json, vec![p, p + 3, p + 4]);
    let preferred = ok(&s.path, &["find-free", &(p + 5).to_string(), "--udp"]);
    assert_eq!(preferred, (p + 5).to_string());
    assert_eq!(lines(&ok(&s.path, &["find-free", "--count", "2"])).len(), 2);
    assert!(!s.path.exists(), "find-free leases nothing");
    let err = fails(
        &s.path,
        &["find-free", "--range", &range, "--count", "9"],
        4,
    );
    assert!(err.contains("found"), "{err}");
}

#[test]
fn bad_ports_ranges_hosts_and_counts_are_one_line_usage_errors() {
    let s = scratch();
    for args in [
        &["register", "web", "3000,x"][..],
        &["register", "web", "3000", "--range", "4000"],
        &["register", "web", "3000", "--range", "4100-4000"],
        &["register", "web", "3000", "--exclude", "0"],
        &["register", "web", "3000", "--host", "localhost"],
        &["register", "web", "3000", "--host", "192.0.2.1"],
        &["allocate", "web", "--exclude", "70000"],
        &["find-free", "--count", "0"],
        &["find-free", "--count", "-1"],
        &["find-free", "--range", "a-b"],
        &["run", "web", "--listen", "--host", "nowhere", "--", "true"],
        &["run", "we:b", "--listen", "--", "true"],
    ] {
        fails(&s.path, args, 2);
    }
    assert!(!s.path.exists(), "nothing written");
}

/// A Python one-liner that reports what `run --listen` gave it: its descriptors (fstat, which
/// opens none), the socket-activation variables, its pid, and the socket on fd 3.
const REPORT: &str = r#"
import json, os, socket
fds = []
for fd in range(1024):
    try:
        os.fstat(fd)
        fds.append(fd)
    except OSError:
        pass
s = socket.socket(fileno=3)
print(json.dumps({
    "fds": fds,
    "pid": os.getpid(),
    "env": {k: os.environ.get(k) for k in
            ["LISTEN_FDS", "LISTEN_PID", "LISTEN_FDNAMES", "PORT", "PORTPOOL_PORT"]},
    "port": s.getsockname()[1],
    "type": int(s.type),
    "listening": s.getsockopt(socket.SOL_SOCKET, socket.SO_ACCEPTCONN),
}))
s.detach()
"#;

fn run_report(reg: &Path, extra: &[&str]) -> serde_json::Value {
    let args = [
        &["run", "svc"][..],
        extra,
        &["--listen", "--", "python3", "-c", REPORT],
    ]
    .concat();
    // A descriptor this test process leaves open without close-on-exec: run must not pass it.
    let leak = TcpListener::bind("127.0.0.1:0").unwrap();
    let fd = std::os::fd::AsRawFd::as_raw_fd(&leak);
    unsafe { libc::fcntl(fd, libc::F_SETFD, 0) };
    let out = pp(reg, &args);
    drop(leak);
    assert!(out.status.success(), "{}", stderr(&out));
    serde_json::from_str(&stdout(&out)).unwrap()
}

#[test]
fn run_listen_passes_the_socket_as_fd_3_and_no_other_descriptor() {
    let s = scratch();
    let report = run_report(&s.path, &[]);
    assert_eq!(report["fds"], serde_json::json!([0, 1, 2, 3]), "{report}");
    assert_eq!(report["listening"], 1, "a listening TCP socket");
    let port = report["port"].as_u64().unwrap();
    assert_eq!(report["env"]["PORT"], port.to_string());
    assert_eq!(report["env"]["PORTPOOL_PORT"], port.to_string());
    assert!(
        leases(&s.path).is_empty(),
        "released when the command exited"
    );
}

#[test]
fn run_listen_sets_the_socket_activation_variables_with_the_commands_own_pid() {
    let s = scratch();
    let report = run_report(&s.path, &[]);
    assert_eq!(report["env"]["LISTEN_FDS"], "1");
    assert_eq!(report["env"]["LISTEN_FDNAMES"], "svc");
    assert_eq!(
        report["env"]["LISTEN_PID"],
        report["pid"].to_string(),
        "{report}"
    );
}

#[test]
fn run_listen_udp_on_a_port_passes_a_bound_datagram_socket() {
    let s = scratch();
    let p = free_block(2);
    let list = format!("{p},{}", p + 1);
    let report = run_report(&s.path, &["--port", &list, "fixed", "--udp"]);
    assert_eq!(report["port"], p);
    assert_eq!(report["type"], libc::SOCK_DGRAM);
}

#[test]
fn run_listen_of_a_name_that_holds_a_lease_is_a_conflict_and_runs_nothing() {
    let s = scratch();
    ok(&s.path, &["allocate", "svc"]);
    let before = leases(&s.path);
    let err = fails(
        &s.path,
        &["run", "svc", "--listen", "--", "touch", "/nonexistent/x"],
        3,
    );
    assert!(err.contains("already holds"), "{err}");
    assert_eq!(leases(&s.path), before);
}

#[test]
fn a_server_on_the_passed_socket_answers_through_the_leased_port() {
    let s = scratch();
    let server = r#"
import socket
s = socket.socket(fileno=3)
conn, _ = s.accept()
conn.recv(1024)
conn.sendall(b"HTTP/1.0 200 OK\r\nContent-Length: 2\r\n\r\nok")
conn.close()
"#;
    let mut child = Command::new(BIN)
        .args(["--registry"])
        .arg(&s.path)
        .args(["run", "web", "--listen", "--", "python3", "-c", server])
        .stdout(Stdio::null())
        .spawn()
        .unwrap();
    // The lease, and so the listening socket, exist before run starts the command: connect
    // at once, without waiting for the server to come up.
    let port = loop {
        if let Some(lease) = std::fs::read(&s.path)
            .ok()
            .and_then(|_| leases(&s.path).into_iter().next())
        {
            break lease["port"].as_u64().unwrap() as u16;
        }
        std::thread::sleep(std::time::Duration::from_millis(10));
    };
    let mut conn = TcpStream::connect(("127.0.0.1", port)).unwrap();
    conn.write_all(b"GET / HTTP/1.0\r\n\r\n").unwrap();
    let mut answer = String::new();
    conn.read_to_string(&mut answer).unwrap();
    assert!(answer.ends_with("\r\n\r\nok"), "{answer:?}");
    assert!(child.wait().unwrap().success());
}
