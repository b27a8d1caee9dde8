//! The handover and staleness rules under crashes and races: one test per rule.

mod common;

use common::{free_block, open, scratch, tcp};
use std::process::{Child, Command};

use portpool_core::{
    ErrorKind, FindingKind, LeaseOptions, MAX_TTL_SECS, Mode, PortState, Protocol, Registry,
    Severity, parse_registry,
};

fn sleeper() -> Child {
    Command::new("sleep").arg("60").spawn().unwrap()
}

fn kill(mut child: Child) {
    child.kill().unwrap();
    child.wait().unwrap();
}

fn owned(pid: u32) -> LeaseOptions {
    LeaseOptions {
        pid: Some(pid),
        ..tcp()
    }
}

fn ttl(secs: u64) -> LeaseOptions {
    LeaseOptions {
        ttl: Some(secs),
        ..tcp()
    }
}

/// The registry file reads back, whatever handle wrote it.
fn reads_back(reg: &Registry) {
    let bytes = std::fs::read(reg.path()).unwrap();
    parse_registry(reg.path(), &bytes).unwrap();
    open(reg.path()).list().unwrap();
}

#[test]
fn handover_of_an_expired_lease_never_writes_a_registry_nothing_can_read() {
    let s = scratch();
    let reg = open(&s.path);
    let p = free_block(1);
    reg.set_pool("solo", p, p, Some(false)).unwrap();
    reg.allocate("api", "solo", &ttl(1)).unwrap();
    reg.advance_clock_for_tests(2);
    let err = reg.begin_handover("api", None).unwrap_err();
    assert_eq!(err.kind(), ErrorKind::NotFound, "{err}");
    assert!(err.message().contains("expired"), "{err}");
    reads_back(&reg);
    reg.reset().unwrap();
}

#[test]
fn handover_of_a_dead_owners_lease_never_takes_its_own_port() {
    let s = scratch();
    let reg = open(&s.path);
    let p = free_block(3);
    reg.set_pool("w", p, p + 2, Some(false)).unwrap();
    reg.allocate("x", "w", &tcp()).unwrap();
    reg.allocate("y", "w", &tcp()).unwrap();
    // The cursor now sits on p + 2, the port the dead owner's lease holds.
    let worker = sleeper();
    assert_eq!(
        reg.allocate("api", "w", &owned(worker.id())).unwrap(),
        p + 2
    );
    reg.release("x").unwrap();
    kill(worker);
    assert_eq!(
        reg.begin_handover("api", None).unwrap_err().kind(),
        ErrorKind::NotFound
    );
    reads_back(&reg);
}

#[test]
fn reset_empties_a_registry_whose_entries_no_longer_read_back() {
    let s = scratch();
    // What a handover of a stale lease used to write: next == port.
    std::fs::write(
        &s.path,
        r#"{"version":1,"leases":[{"name":"api","port":47100,"protocol":"tcp","mode":"pool","pool":"solo","created":1,"next":{"port":47100,"created":2}}]}"#,
    )
    .unwrap();
    let reg = open(&s.path);
    assert_eq!(reg.list().unwrap_err().kind(), ErrorKind::Registry);
    reg.reset().unwrap();
    assert!(reg.list().unwrap().is_empty());
    // A file of another version, or no registry at all, is still refused untouched.
    for text in [r#"{"version":99}"#, "hello"] {
        std::fs::write(&s.path, text).unwrap();
        assert_eq!(reg.reset().unwrap_err().kind(), ErrorKind::Registry);
        assert_eq!(std::fs::read_to_string(&s.path).unwrap(), text);
    }
}

#[test]
fn a_pending_handovers_port_is_kept_while_its_new_owner_lives() {
    let s = scratch();
    let reg = open(&s.path);
    let p = free_block(3);
    let old = sleeper();
    let new = sleeper();
    reg.register("api", p, Mode::Flexible, &owned(old.id()))
        .unwrap();
    let next = reg.begin_handover("api", Some(new.id())).unwrap();
    kill(old);
    let reclaimed = reg.gc().unwrap();
    assert_eq!(reclaimed.len(), 1, "the handover is settled: {reclaimed:?}");
    let lease = reg.get("api").unwrap().unwrap();
    assert_eq!(
        lease.port, next,
        "the old owner's death commits the handover"
    );
    assert_eq!(lease.owner.unwrap().pid, new.id());
    assert_eq!(
        reg.register("other", next, Mode::Fixed, &tcp())
            .unwrap_err()
            .kind(),
        ErrorKind::Conflict
    );
    // The old port is free again.
    reg.register("other", p, Mode::Fixed, &tcp()).unwrap();
    kill(new);
}

#[test]
fn a_dead_next_owner_frees_only_the_next_port_and_doctor_reports_it() {
    let s = scratch();
    let reg = open(&s.path);
    let p = free_block(3);
    let old = sleeper();
    let new = sleeper();
    reg.register("api", p, Mode::Flexible, &owned(old.id()))
        .unwrap();
    let next = reg.begin_handover("api", Some(new.id())).unwrap();
    kill(new);
    let report = reg.doctor().unwrap();
    let finding = report
        .findings
        .iter()
        .find(|f| f.kind == FindingKind::StaleNextOwner)
        .expect("doctor reports the dead next generation");
    assert_eq!(finding.port, Some(next));
    assert_eq!(finding.protocol, Some(Protocol::Tcp));
    assert_eq!(finding.severity, Severity::Warning);
    assert_eq!(reg.check(next, Protocol::Tcp).unwrap(), PortState::Free);
    reg.gc().unwrap();
    let lease = reg.get("api").unwrap().unwrap();
    assert_eq!((lease.port, lease.next), (p, None));
    assert_eq!(lease.owner.unwrap().pid, old.id());
    kill(old);
}

#[test]
fn a_second_supervisor_cannot_begin_commit_or_abort_anothers_handover() {
    let s = scratch();
    let reg = open(&s.path);
    let p = free_block(3);
    let (a, b) = (sleeper(), sleeper());
    reg.register("svc", p, Mode::Flexible, &tcp()).unwrap();
    let next = reg.begin_handover("svc", Some(a.id())).unwrap();
    for err in [
        reg.begin_handover("svc", Some(a.id())).unwrap_err(),
        reg.begin_handover("svc", Some(b.id())).unwrap_err(),
        reg.begin_handover("svc", None).unwrap_err(),
        reg.abort_handover("svc", Some(b.id())).unwrap_err(),
        reg.commit_handover("svc", Some(b.id())).unwrap_err(),
    ] {
        assert_eq!(err.kind(), ErrorKind::Conflict, "{err}");
    }
    assert_eq!(reg.get("svc").unwrap().unwrap().next.unwrap().port, next);
    assert_eq!(reg.commit_handover("svc", Some(a.id())).unwrap(), next);
    kill(a);
    kill(b);
}

#[test]
fn a_ttl_of_n_seconds_lasts_at_least_n_seconds() {
    let s = scratch();
    let reg = open(&s.path);
    let p = free_block(1);
    let before = std::time::SystemTime::now()
        .duration_since(std::time::UNIX_EPOCH)
        .unwrap();
    reg.register("short", p, Mode::Fixed, &ttl(1)).unwrap();
    let expires = reg.get("short").unwrap().unwrap().expires.unwrap();
    assert!(
        std::time::Duration::from_secs(expires) >= before + std::time::Duration::from_secs(1),
        "expires {expires} is less than 1 s after {before:?}"
    );
    let renewed = reg.renew("short", Some(1)).unwrap();
    assert!(renewed.expires.unwrap() >= expires);
}

#[test]
fn ttls_over_100_years_are_invalid_and_change_nothing() {
    let s = scratch();
    let reg = open(&s.path);
    let p = free_block(1);
    for bad in [MAX_TTL_SECS + 1, u64::MAX] {
        let err = reg.register("x", p, Mode::Fixed, &ttl(bad)).unwrap_err();
        assert_eq!(err.kind(), ErrorKind::InvalidArgument, "{err}");
    }
    reg.register("x", p, Mode::Fixed, &ttl(30)).unwrap();
    assert_eq!(
        reg.renew("x", Some(u64::MAX)).unwrap_err().kind(),
        ErrorKind::InvalidArgument
    );
    reg.list().unwrap();
}

#[test]
fn out_of_range_times_in_a_file_are_a_registry_error_not_a_panic() {
    let s = scratch();
    for lease in [
        r#"{"name":"a","port":1,"protocol":"tcp","mode":"fixed","created":18446744073709551615}"#,
        r#"{"name":"a","port":1,"protocol":"tcp","mode":"fixed","created":1,"expires":18446744073709551615}"#,
        r#"{"name":"a","port":1,"protocol":"tcp","mode":"fixed","created":1,"ttl":18446744073709551615,"expires":2}"#,
    ] {
        std::fs::write(&s.path, format!(r#"{{"version":1,"leases":[{lease}]}}"#)).unwrap();
        let err = open(&s.path).list().unwrap_err();
        assert_eq!(err.kind(), ErrorKind::Registry, "{err}");
    }
}

#[test]
fn commit_makes_the_next_generation_the_owner_never_the_old_one() {
    let s = scratch();
    let reg = open(&s.path);
    let p = free_block(3);
    let old = sleeper();
    reg.register("api", p, Mode::Flexible, &owned(old.id()))
        .unwrap();
    let next = reg.begin_handover("api", None).unwrap();
    assert_eq!(reg.commit_handover("api", None).unwrap(), next);
    assert_eq!(reg.get("api").unwrap().unwrap().owner, None);
    kill(old);
    assert!(
        reg.gc().unwrap().is_empty(),
        "the old worker's exit frees nothing"
    );
    assert_eq!(reg.get("api").unwrap().unwrap().port, next);
    // A pid given at commit becomes the owner when the handover began without one.
    let newer = sleeper();
    let third = reg.begin_handover("api", None).unwrap();
    reg.commit_handover("api", Some(newer.id())).unwrap();
    let lease = reg.get("api").unwrap().unwrap();
    assert_eq!((lease.port, lease.owner.unwrap().pid), (third, newer.id()));
    kill(newer);
}

#[test]
fn a_fixed_lease_is_never_moved_by_a_handover() {
    let s = scratch();
    let reg = open(&s.path);
    let p = free_block(2);
    reg.register("web", p, Mode::Fixed, &tcp()).unwrap();
    let err = reg.begin_handover("web", None).unwrap_err();
    assert_eq!(err.kind(), ErrorKind::Conflict, "{err}");
    assert!(err.message().contains("fixed"), "{err}");
    assert_eq!(reg.register("web", p, Mode::Fixed, &tcp()).unwrap(), p);
}

#[test]
fn every_call_agrees_that_an_expired_lease_holds_nothing() {
    let s = scratch();
    let reg = open(&s.path);
    let p = free_block(2);
    reg.register("old", p, Mode::Fixed, &ttl(5)).unwrap();
    reg.advance_clock_for_tests(6);
    assert_eq!(reg.get("old").unwrap(), None);
    assert_eq!(reg.lease("old").unwrap_err().kind(), ErrorKind::NotFound);
    assert_eq!(reg.check(p, Protocol::Tcp).unwrap(), PortState::Free);
    let listed = reg.list().unwrap();
    assert!(listed[0].stale.as_deref().unwrap().contains("expired"));
    let who = reg.who(p).unwrap();
    assert!(who.leases[0].stale.is_some());
    let err = reg.renew("old", None).unwrap_err();
    assert_eq!(err.kind(), ErrorKind::NotFound, "{err}");
    assert!(
        reg.doctor()
            .unwrap()
            .findings
            .iter()
            .any(|f| f.kind == FindingKind::Expired && f.port == Some(p))
    );
    let map = s.dir.path().join("ports.json");
    std::fs::write(&map, format!(r#"{{"new": {p}}}"#)).unwrap();
    assert_eq!(reg.import(&map).unwrap().imported.len(), 1);
    assert_eq!(reg.get("new").unwrap().unwrap().port, p);
    assert_eq!(reg.get("old").unwrap(), None);
}

#[test]
fn renew_never_revives_a_dead_owners_lease() {
    let s = scratch();
    let reg = open(&s.path);
    let p = free_block(1);
    let worker = sleeper();
    reg.register(
        "w",
        p,
        Mode::Fixed,
        &LeaseOptions {
            ttl: Some(60),
            ..owned(worker.id())
        },
    )
    .unwrap();
    kill(worker);
    assert_eq!(
        reg.renew("w", None).unwrap_err().kind(),
        ErrorKind::NotFound
    );
}

#[test]
fn import_refuses_a_key_given_twice() {
    let s = scratch();
    let reg = open(&s.path);
    let p = free_block(2);
    let map = s.dir.path().join("ports.json");
    std::fs::write(&map, format!(r#"{{"dup": {p}, "dup": {}}}"#, p + 1)).unwrap();
    let err = reg.import(&map).unwrap_err();
    assert_eq!(err.kind(), ErrorKind::InvalidArgument, "{err}");
    assert!(err.message().contains("twice"), "{err}");
    assert!(reg.list().unwrap().is_empty());
}

#[test]
fn import_refuses_fifos_and_devices_at_once() {
    let s = scratch();
    let reg = open(&s.path);
    let fifo = s.dir.path().join("fifo");
    let c = std::ffi::CString::new(fifo.to_str().unwrap()).unwrap();
    // SAFETY: a valid NUL-terminated path.
    assert_eq!(unsafe { libc::mkfifo(c.as_ptr(), 0o600) }, 0);
    for path in [fifo.as_path(), std::path::Path::new("/dev/zero")] {
        let err = reg.import(path).unwrap_err();
        assert_eq!(err.kind(), ErrorKind::InvalidArgument, "{err}");
    }
}

#[test]
fn import_moves_the_live_leases_of_another_registry() {
    let s = scratch();
    let p = free_block(3);
    let user = s.dir.path().join("user.json");
    let mine = open(&user);
    mine.register("web", p, Mode::Fixed, &tcp()).unwrap();
    mine.register("gone", p + 1, Mode::Fixed, &ttl(1)).unwrap();
    mine.allocate(
        "dns",
        "default",
        &LeaseOptions {
            protocol: Protocol::Udp,
            ..tcp()
        },
    )
    .unwrap();
    let host = open(&s.path);
    // The per-user file's expired lease stays behind.
    host.advance_clock_for_tests(2);
    let report = host.import(&user).unwrap();
    let names: Vec<&str> = report.imported.iter().map(|l| l.name.as_str()).collect();
    assert_eq!(names, ["dns", "web"]);
    assert_eq!(host.get("dns").unwrap().unwrap().protocol, Protocol::Udp);
    assert!(
        host.import(&user).unwrap().imported.is_empty(),
        "twice: skipped"
    );
}

#[test]
fn migrate_records_the_program_and_doctor_reports_a_takeover() {
    let s = scratch();
    let reg = open(&s.path);
    let listener = std::net::TcpListener::bind("127.0.0.1:0").unwrap();
    let port = listener.local_addr().unwrap().port();
    let made = reg.migrate(false).unwrap();
    let mine = made.iter().find(|l| l.port == port).expect("migrated");
    let origin = mine.origin.as_ref().expect("origin recorded");
    assert_eq!(origin.pid, std::process::id());
    // Another program, not a descendant of the recorded one, takes the port over.
    drop(listener);
    let script = format!(
        "import os,socket,time;s=socket.socket();s.setsockopt(socket.SOL_SOCKET,socket.SO_REUSEADDR,1);s.bind(('127.0.0.1',{port}));s.listen();print(os.getpid(),flush=True);time.sleep(60)"
    );
    let mut shell = Command::new("sh")
        .args(["-c", "python3 -c \"$0\" &", &script])
        .stdout(std::process::Stdio::piped())
        .spawn()
        .unwrap();
    let mut line = String::new();
    std::io::BufRead::read_line(
        &mut std::io::BufReader::new(shell.stdout.take().unwrap()),
        &mut line,
    )
    .unwrap();
    shell.wait().unwrap();
    let taker: i32 = line.trim().parse().unwrap();
    let report = reg.doctor().unwrap();
    // SAFETY: kill has no memory preconditions.
    unsafe { libc::kill(taker, libc::SIGKILL) };
    assert!(
        report
            .findings
            .iter()
            .any(|f| f.kind == FindingKind::TakenOver && f.port == Some(port)),
        "{report:?}"
    );
}

#[test]
fn doctor_fails_on_warnings_by_default_and_on_chosen_kinds_only() {
    let s = scratch();
    let reg = open(&s.path);
    let p = free_block(1);
    reg.register("idle", p, Mode::Fixed, &tcp()).unwrap();
    let report = reg.doctor().unwrap();
    let idle = report
        .findings
        .iter()
        .find(|f| f.subject == "idle")
        .unwrap();
    assert_eq!(
        (idle.kind, idle.severity),
        (FindingKind::NotListening, Severity::Info)
    );
    let only_idle = portpool_core::DoctorReport {
        findings: vec![idle.clone()],
        unavailable: None,
    };
    assert!(!only_idle.fails(&[]));
    assert!(only_idle.fails(&[FindingKind::NotListening]));
    assert!(!only_idle.fails(&[FindingKind::Expired]));
    assert_eq!(
        "taken_over".parse::<FindingKind>().unwrap(),
        FindingKind::TakenOver
    );
    assert!("nope".parse::<FindingKind>().is_err());
}

#[test]
fn error_messages_never_echo_a_whole_huge_name() {
    let s = scratch();
    let reg = open(&s.path);
    let huge = "n".repeat(100_000);
    for err in [
        reg.get(&huge).unwrap_err(),
        reg.allocate("a", huge.as_str(), &tcp()).unwrap_err(),
        reg.register(&huge, 1, Mode::Fixed, &tcp()).unwrap_err(),
    ] {
        assert!(err.message().len() < 400, "{} bytes", err.message().len());
    }
}

#[test]
fn a_port_state_has_one_spelling_and_one_json_shape() {
    let s = scratch();
    let reg = open(&s.path);
    let p = free_block(1);
    let free = reg.check(p, Protocol::Tcp).unwrap();
    assert_eq!((free.as_str(), free.to_string()), ("free", "free".into()));
    assert_eq!(
        serde_json::to_value(&free).unwrap(),
        serde_json::json!({"state": "free", "lease": null})
    );
    reg.register("web", p, Mode::Fixed, &tcp()).unwrap();
    let leased = reg.check(p, Protocol::Tcp).unwrap();
    assert_eq!(leased.as_str(), "leased");
    let json = serde_json::to_value(&leased).unwrap();
    assert_eq!(json["lease"]["name"], "web");
    assert!(!leased.is_free());
}

#[test]
fn gc_reclaims_a_dead_owners_lease_in_every_namespace_and_only_that_lease() {
    let s = scratch();
    let reg = open(&s.path);
    let blue = open(&s.path).with_namespace(Some("blue")).unwrap();
    let [live_port, dead_port] = [0, 1].map(|i| free_block(2) + i);
    let dead = sleeper();
    let dead_pid = dead.id();
    // The same name in two namespaces: the default one's owner lives, blue's dies.
    reg.register("w", live_port, Mode::Fixed, &owned(std::process::id()))
        .unwrap();
    blue.register("w", dead_port, Mode::Fixed, &owned(dead_pid))
        .unwrap();
    kill(dead);
    let reclaimed = reg.gc().unwrap();
    assert_eq!(reclaimed.len(), 1, "{reclaimed:?}");
    assert_eq!(reclaimed[0].lease.port, dead_port);
    assert_eq!(reclaimed[0].lease.namespace.as_deref(), Some("blue"));
    assert!(blue.get("w").unwrap().is_none());
    assert_eq!(reg.get("w").unwrap().unwrap().port, live_port);
    reads_back(&reg);
}
