//! `portpool run`, handover, who, migrate, import and doctor, as a user runs them.

mod common;

use common::*;
use std::fs;
use std::net::TcpListener;
use std::path::Path;
use std::process::{Command, Stdio};
use std::time::{Duration, Instant};

/// A private pool of `n` ports nothing else leases, not probed.
fn pool(reg: &Path, n: u16) -> u16 {
    let start = 22000 + (std::process::id() as u16 % 2000) * 4;
    ok(
        reg,
        &[
            "pool",
            "set",
            "p",
            &start.to_string(),
            &(start + n - 1).to_string(),
            "--no-probe",
        ],
    );
    start
}

/// Waits until `portpool run` (process `runner`) has handed `name`'s lease to its command.
fn wait_for_command_lease(reg: &Path, name: &str, runner: u32) -> serde_json::Value {
    let deadline = Instant::now() + Duration::from_secs(20);
    loop {
        let handed = |l: &serde_json::Value| {
            l["name"] == name && !l["owner"].is_null() && l["owner"]["pid"] != runner
        };
        if let Some(l) = leases(reg).into_iter().find(handed) {
            return l;
        }
        assert!(Instant::now() < deadline, "lease {name} never appeared");
        std::thread::sleep(Duration::from_millis(20));
    }
}

#[test]
fn run_gives_the_command_its_port_and_releases_it_on_normal_exit() {
    let s = scratch();
    let start = pool(&s.path, 2);
    let out = pp(
        &s.path,
        &[
            "run",
            "job",
            "--pool",
            "p",
            "--",
            "sh",
            "-c",
            "echo $PORT $PORTPOOL_PORT $PORTPOOL_NAME",
        ],
    );
    assert_eq!(out.status.code(), Some(0));
    assert_eq!(
        String::from_utf8(out.stdout).unwrap().trim(),
        format!("{start} {start} job")
    );
    assert!(leases(&s.path).is_empty());
}

#[test]
fn run_exits_with_the_commands_code_and_releases_on_failure() {
    let s = scratch();
    pool(&s.path, 2);
    let out = pp(
        &s.path,
        &["run", "job", "--pool", "p", "--", "sh", "-c", "exit 7"],
    );
    assert_eq!(out.status.code(), Some(7));
    assert!(leases(&s.path).is_empty());
    let out = pp(
        &s.path,
        &["run", "job", "--pool", "p", "--", "/nonexistent/program"],
    );
    assert_eq!(out.status.code(), Some(127));
    assert!(String::from_utf8_lossy(&out.stderr).starts_with("portpool: cannot run"));
    assert!(leases(&s.path).is_empty());
}

#[test]
fn run_forwards_sigterm_and_releases_the_lease() {
    let s = scratch();
    pool(&s.path, 2);
    let child = Command::new(BIN)
        .arg("--registry")
        .arg(&s.path)
        .args(["run", "job", "--pool", "p", "--", "sleep", "60"])
        .stdout(Stdio::null())
        .spawn()
        .unwrap();
    // The command, not portpool, comes to own the lease.
    wait_for_command_lease(&s.path, "job", child.id());
    // SAFETY: kill has no memory-safety preconditions.
    unsafe { libc::kill(child.id() as i32, libc::SIGTERM) };
    let out = child.wait_with_output().unwrap();
    assert_eq!(out.status.code(), Some(128 + libc::SIGTERM));
    assert!(leases(&s.path).is_empty());
}

#[test]
fn a_killed_run_leaves_the_lease_to_its_command_until_that_exits() {
    let s = scratch();
    pool(&s.path, 2);
    let mut child = Command::new(BIN)
        .arg("--registry")
        .arg(&s.path)
        .args(["run", "job", "--pool", "p", "--", "sleep", "60"])
        .spawn()
        .unwrap();
    let lease = wait_for_command_lease(&s.path, "job", child.id());
    let command_pid = lease["owner"]["pid"].as_i64().unwrap() as i32;
    child.kill().unwrap();
    child.wait().unwrap();
    assert_eq!(
        ok(&s.path, &["gc"]),
        "",
        "the command still lives: nothing to collect"
    );
    // SAFETY: as above; the pid is the orphaned `sleep`.
    unsafe { libc::kill(command_pid, libc::SIGKILL) };
    let deadline = Instant::now() + Duration::from_secs(10);
    while !ok(&s.path, &["gc"]).contains("released job") {
        assert!(Instant::now() < deadline, "the lease was never collected");
        std::thread::sleep(Duration::from_millis(50));
    }
    assert!(leases(&s.path).is_empty());
}

#[test]
fn run_refuses_a_name_that_already_holds_a_lease() {
    let s = scratch();
    pool(&s.path, 2);
    ok(&s.path, &["allocate", "job", "--pool", "p"]);
    let out = pp(&s.path, &["run", "job", "--pool", "p", "--", "true"]);
    assert_eq!(out.status.code(), Some(3));
    assert_eq!(leases(&s.path).len(), 1, "the existing lease is kept");
}

#[test]
fn handover_begin_commit_and_abort_from_the_command_line() {
    let s = scratch();
    let start = pool(&s.path, 3);
    ok(&s.path, &["allocate", "api", "--pool", "p"]);
    assert_eq!(ok(&s.path, &["handover", "api"]), (start + 1).to_string());
    assert_eq!(ok(&s.path, &["get", "api"]), start.to_string());
    let table = ok(&s.path, &["list"]);
    assert!(
        table
            .lines()
            .nth(1)
            .unwrap()
            .split_whitespace()
            .any(|c| c == (start + 1).to_string())
    );
    assert_eq!(
        ok(&s.path, &["handover", "api", "--commit"]),
        (start + 1).to_string()
    );
    assert_eq!(ok(&s.path, &["get", "api"]), (start + 1).to_string());
    let next = ok(&s.path, &["handover", "api"]);
    assert_eq!(ok(&s.path, &["handover", "api", "--abort"]), next);
    assert!(leases(&s.path)[0]["next"].is_null());
    assert_eq!(
        pp(&s.path, &["handover", "api", "--commit"]).status.code(),
        Some(1)
    );
}

#[test]
fn allocate_with_several_names_is_all_or_none() {
    let s = scratch();
    let start = pool(&s.path, 2);
    assert_eq!(
        pp(&s.path, &["allocate", "a", "b", "c", "--pool", "p"])
            .status
            .code(),
        Some(4)
    );
    assert!(leases(&s.path).is_empty());
    assert_eq!(
        ok(&s.path, &["allocate", "a", "b", "--pool", "p"]),
        format!("{start}\n{}", start + 1)
    );
}

#[test]
fn who_shows_the_lease_and_the_listening_process() {
    let s = scratch();
    let listener = TcpListener::bind("127.0.0.1:0").unwrap();
    let port = listener.local_addr().unwrap().port().to_string();
    ok(&s.path, &["register", "web", &port, "fixed", "--force"]);
    let text = ok(&s.path, &["who", &port]);
    assert!(text.contains("lease web"), "{text}");
    assert!(
        text.contains(&format!("pid {}", std::process::id())),
        "{text}"
    );
    let json: serde_json::Value =
        serde_json::from_str(&ok(&s.path, &["who", &port, "--json"])).unwrap();
    assert_eq!(json["leases"][0]["name"], "web");
    assert_eq!(
        json["sockets"][0]["processes"][0]["pid"],
        std::process::id()
    );
}

#[test]
fn migrate_dry_run_writes_nothing_and_a_second_run_skips_registered_ports() {
    let s = scratch();
    let listener = TcpListener::bind("127.0.0.1:0").unwrap();
    let port = listener.local_addr().unwrap().port();
    let plan = ok(&s.path, &["migrate", "--dry-run"]);
    assert!(
        plan.lines()
            .any(|l| l.starts_with("would register") && l.contains(&format!(" {port}/tcp"))),
        "{plan}"
    );
    assert!(!s.path.exists());
    ok(&s.path, &["migrate"]);
    assert!(
        leases(&s.path)
            .iter()
            .any(|l| l["port"] == port && l["mode"] == "fixed")
    );
    let again = ok(&s.path, &["migrate"]);
    assert!(!again.contains(&format!(" {port}/tcp")), "{again}");
}

#[test]
fn import_of_the_flat_format_with_duplicates_is_refused_whole() {
    let s = scratch();
    let file = s.dir.path().join("port_allocation.json");
    fs::write(
        &file,
        r#"{"keycloak": 48080, "grafana": 48080, "minio": 49000}"#,
    )
    .unwrap();
    let out = pp(&s.path, &["import", file.to_str().unwrap()]);
    assert_eq!(out.status.code(), Some(2));
    let err = String::from_utf8(out.stderr).unwrap();
    assert!(
        err.contains("48080") && err.contains("grafana, keycloak"),
        "{err}"
    );
    assert!(!s.path.exists());
    fs::write(&file, r#"{"keycloak": 48080, "minio": 49000}"#).unwrap();
    let text = ok(&s.path, &["import", file.to_str().unwrap()]);
    assert_eq!(text, "imported keycloak 48080\nimported minio 49000");
    assert_eq!(ok(&s.path, &["get", "minio"]), "49000");
    assert_eq!(
        ok(&s.path, &["import", file.to_str().unwrap()])
            .lines()
            .count(),
        2
    );
}

#[test]
fn pool_set_warns_when_the_range_overlaps_the_ephemeral_ports() {
    let s = scratch();
    let (lo, _) = portpool_core_range();
    let out = pp(
        &s.path,
        &["pool", "set", "eph", &lo.to_string(), &(lo + 5).to_string()],
    );
    assert!(out.status.success());
    assert!(String::from_utf8_lossy(&out.stderr).starts_with("portpool: warning: pool eph"));
    let out = pp(&s.path, &["pool", "set", "low", "2000", "2005"]);
    assert!(out.stderr.is_empty() || lo <= 2005);
}

fn portpool_core_range() -> (u16, u16) {
    let text = fs::read_to_string("/proc/sys/net/ipv4/ip_local_port_range").unwrap();
    let mut it = text.split_whitespace().map(|x| x.parse().unwrap());
    (it.next().unwrap(), it.next().unwrap())
}

#[test]
fn doctor_exits_1_on_warnings_and_0_on_information_only() {
    let s = scratch();
    let listener = TcpListener::bind("127.0.0.1:0").unwrap();
    let port = listener.local_addr().unwrap().port().to_string();
    let me = std::process::id().to_string();
    ok(
        &s.path,
        &["register", "web", &port, "fixed", "--force", "--pid", &me],
    );
    let out = pp(&s.path, &["doctor", "--json"]);
    let report: serde_json::Value = serde_json::from_slice(&out.stdout).unwrap();
    let about_web: Vec<_> = report["findings"]
        .as_array()
        .unwrap()
        .iter()
        .filter(|f| f["subject"] == "web")
        .collect();
    assert!(about_web.is_empty(), "{about_web:?}");
    let warned = report["findings"]
        .as_array()
        .unwrap()
        .iter()
        .any(|f| f["severity"] == "warning");
    assert_eq!(out.status.code(), Some(if warned { 1 } else { 0 }));
    drop(listener);
    // Nothing listens on web's port: informational, exit 0 unless asked to fail on it.
    let out = pp(&s.path, &["doctor"]);
    let text = stdout(&out);
    assert!(
        text.contains(&format!(
            "info: web ({port}/tcp): nothing is listening [not_listening]"
        )),
        "{text}"
    );
    assert_eq!(out.status.code(), Some(if warned { 1 } else { 0 }));
    let out = pp(&s.path, &["doctor", "--fail-on", "expired,not_listening"]);
    assert_eq!(out.status.code(), Some(1));
    let out = pp(&s.path, &["doctor", "--json"]);
    let report: serde_json::Value = serde_json::from_slice(&out.stdout).unwrap();
    let web = report["findings"]
        .as_array()
        .unwrap()
        .iter()
        .find(|f| f["subject"] == "web")
        .unwrap()
        .clone();
    assert_eq!(web["kind"], "not_listening");
    assert_eq!(web["severity"], "info");
    assert_eq!(web["port"].as_u64(), Some(port.parse().unwrap()));
    assert_eq!(web["protocol"], "tcp");
    let out = pp(&s.path, &["doctor", "--fail-on", "nonsense"]);
    assert_eq!(out.status.code(), Some(2));
    assert!(
        stderr(&out).contains("invalid finding kind"),
        "{}",
        stderr(&out)
    );
}

#[test]
fn handover_of_an_expired_pool_lease_leaves_a_registry_every_command_reads() {
    let s = scratch();
    let start = pool(&s.path, 1);
    ok(
        &s.path,
        &[
            "pool",
            "set",
            "solo",
            &start.to_string(),
            &start.to_string(),
        ],
    );
    ok(
        &s.path,
        &["allocate", "api", "--pool", "solo", "--ttl", "1"],
    );
    std::thread::sleep(Duration::from_millis(2100));
    let out = pp(&s.path, &["handover", "api"]);
    assert_eq!(out.status.code(), Some(1), "{}", stderr(&out));
    assert!(stderr(&out).contains("expired"), "{}", stderr(&out));
    let listed = leases(&s.path);
    assert!(listed[0]["stale"].as_str().unwrap().contains("expired"));
    assert!(ok(&s.path, &["list"]).contains("expired"));
    ok(&s.path, &["reset", "--yes"]);
    assert!(leases(&s.path).is_empty());
}

#[test]
fn reset_empties_a_registry_an_older_portpool_wrote_with_a_bad_handover() {
    let s = scratch();
    fs::write(
        &s.path,
        r#"{"version":1,"leases":[{"name":"api","port":47100,"protocol":"tcp","mode":"pool","pool":"solo","created":1,"next":{"port":47100,"created":2}}]}"#,
    )
    .unwrap();
    assert_eq!(pp(&s.path, &["list"]).status.code(), Some(5));
    ok(&s.path, &["reset", "--yes"]);
    assert!(leases(&s.path).is_empty());
}

#[test]
fn a_second_supervisors_handover_is_a_conflict() {
    let s = scratch();
    pool(&s.path, 4);
    ok(&s.path, &["allocate", "svc", "--pool", "p"]);
    let mut a = Command::new("sleep").arg("60").spawn().unwrap();
    let mut b = Command::new("sleep").arg("60").spawn().unwrap();
    let (pa, pb) = (a.id().to_string(), b.id().to_string());
    let next = ok(&s.path, &["handover", "svc", "--pid", &pa]);
    for args in [
        vec!["handover", "svc", "--pid", &pb],
        vec!["handover", "svc", "--abort", "--pid", &pb],
        vec!["handover", "svc", "--commit", "--pid", &pb],
    ] {
        let out = pp(&s.path, &args);
        assert_eq!(out.status.code(), Some(3), "{args:?}: {}", stderr(&out));
    }
    assert_eq!(
        ok(&s.path, &["handover", "svc", "--commit", "--pid", &pa]),
        next
    );
    let lease = &leases(&s.path)[0];
    assert_eq!(lease["owner"]["pid"].as_u64(), Some(u64::from(a.id())));
    for child in [&mut a, &mut b] {
        child.kill().unwrap();
        child.wait().unwrap();
    }
}

#[test]
fn an_owner_in_another_pid_namespace_is_never_reclaimed_from_the_host() {
    // SAFETY: geteuid has no preconditions.
    if unsafe { libc::geteuid() } != 0 {
        // Needs root for a private pid namespace.
        return;
    }
    let s = scratch();
    let start = pool(&s.path, 2);
    // Inside its own pid namespace the shell is pid 1: on the host, pid 1 is another
    // process with another start time, which a check without namespaces takes for "gone".
    let script = format!(
        "{BIN} --registry {} allocate box --pool p --pid $$ >/dev/null && echo ready && exec sleep 60",
        s.path.display()
    );
    let mut boxed = Command::new("unshare")
        .args([
            "--pid",
            "--fork",
            "--kill-child",
            "--mount-proc",
            "sh",
            "-c",
            &script,
        ])
        .stdout(Stdio::piped())
        .spawn()
        .unwrap();
    let mut line = String::new();
    std::io::BufRead::read_line(
        &mut std::io::BufReader::new(boxed.stdout.as_mut().unwrap()),
        &mut line,
    )
    .unwrap();
    assert_eq!(line.trim(), "ready");
    let lease = &leases(&s.path)[0];
    assert_eq!(lease["owner"]["pid"], 1);
    assert!(lease["owner"]["pid_ns"].is_u64());
    assert_eq!(ok(&s.path, &["gc", "--json"]), "[]");
    assert_eq!(ok(&s.path, &["get", "box"]), start.to_string());
    let out = pp(&s.path, &["allocate", "other", "--pool", "p"]);
    assert_eq!(
        stdout(&out).trim(),
        (start + 1).to_string(),
        "box's port stays held"
    );
    boxed.kill().unwrap();
    boxed.wait().unwrap();
}

#[test]
fn set_owner_ties_a_lease_to_a_process_and_without_a_pid_makes_it_permanent() {
    let s = scratch();
    let start = pool(&s.path, 2);
    ok(&s.path, &["allocate", "job", "--pool", "p"]);
    let mut owner = Command::new("sleep").arg("60").spawn().unwrap();
    let pid = owner.id().to_string();
    assert_eq!(
        ok(&s.path, &["set-owner", "job", &pid]).trim(),
        start.to_string()
    );
    assert_eq!(leases(&s.path)[0]["owner"]["pid"], owner.id());
    ok(&s.path, &["set-owner", "job"]);
    assert!(leases(&s.path)[0]["owner"].is_null());
    ok(&s.path, &["set-owner", "job", &pid]);
    owner.kill().unwrap();
    owner.wait().unwrap();
    let gc = ok(&s.path, &["gc"]);
    assert!(gc.contains("job"), "{gc}");
    let out = pp(&s.path, &["set-owner", "job", "1"]);
    assert_eq!(out.status.code(), Some(1), "{}", stderr(&out));
    assert!(
        stderr(&out).contains("no lease named \"job\""),
        "{}",
        stderr(&out)
    );
}
