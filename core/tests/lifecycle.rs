//! Handover, batches, owners, import, who, migrate and doctor, through the core API.

mod common;

use common::{free_block, open, scratch, tcp};
use std::fs;
use std::net::TcpListener;
use std::process::{Child, Command};

use portpool_core::{ErrorKind, FindingKind, LeaseOptions, Mode, Protocol};

fn sleeper() -> Child {
    Command::new("sleep").arg("60").spawn().unwrap()
}

fn stop(mut child: Child) {
    child.kill().unwrap();
    child.wait().unwrap();
}

#[test]
fn the_full_handover_sequence() {
    let s = scratch();
    let reg = open(&s.path);
    let p = free_block(4);
    reg.set_pool("w", p, p + 3, Some(false)).unwrap();
    assert_eq!(reg.allocate("api", "w", &tcp()).unwrap(), p);
    // begin: a new port while the current one stays valid.
    let next = reg.begin_handover("api", None).unwrap();
    assert_eq!(next, p + 1);
    assert_eq!(reg.get("api").unwrap().unwrap().port, p);
    let listed = reg.list().unwrap();
    assert_eq!(listed.len(), 1);
    assert_eq!(listed[0].next.unwrap().port, p + 1);
    // Both ports are leased: nobody else gets either.
    assert_eq!(reg.allocate("other", "w", &tcp()).unwrap(), p + 2);
    assert_eq!(
        reg.begin_handover("api", None).unwrap_err().kind(),
        ErrorKind::Conflict,
        "begun twice: the handover under way is refused, not shared"
    );
    // commit: the old port is released, the new one is current.
    assert_eq!(reg.commit_handover("api", None).unwrap(), p + 1);
    assert_eq!(reg.get("api").unwrap().unwrap().port, p + 1);
    assert!(reg.get("api").unwrap().unwrap().next.is_none());
    assert_eq!(reg.allocate("third", "w", &tcp()).unwrap(), p + 3);
    assert_eq!(
        reg.allocate("fourth", "w", &tcp()).unwrap(),
        p,
        "the old port is free again"
    );
}

#[test]
fn abort_releases_the_next_generations_port_only() {
    let s = scratch();
    let reg = open(&s.path);
    let p = free_block(3);
    reg.set_pool("w", p, p + 2, Some(false)).unwrap();
    reg.allocate("api", "w", &tcp()).unwrap();
    let next = reg.begin_handover("api", None).unwrap();
    assert_eq!(reg.abort_handover("api", None).unwrap(), next);
    assert_eq!(reg.get("api").unwrap().unwrap().port, p);
    assert!(reg.get("api").unwrap().unwrap().next.is_none());
    assert_eq!(
        reg.commit_handover("api", None).unwrap_err().kind(),
        ErrorKind::NotFound
    );
    assert_eq!(
        reg.abort_handover("api", None).unwrap_err().kind(),
        ErrorKind::NotFound
    );
    assert_eq!(
        reg.begin_handover("nope", None).unwrap_err().kind(),
        ErrorKind::NotFound
    );
}

#[test]
fn handover_in_a_nearly_full_pool_never_reuses_a_leased_port() {
    let s = scratch();
    let reg = open(&s.path);
    let p = free_block(2);
    reg.set_pool("w", p, p + 1, Some(false)).unwrap();
    reg.allocate("a", "w", &tcp()).unwrap();
    // One free port left: the handover gets it, even though the cursor wraps past `a`.
    assert_eq!(reg.begin_handover("a", None).unwrap(), p + 1);
    reg.commit_handover("a", None).unwrap();
    reg.allocate("b", "w", &tcp()).unwrap();
    // Now full: the handover is exhausted and nothing changes.
    let before = fs::read(&s.path).unwrap();
    assert_eq!(
        reg.begin_handover("a", None).unwrap_err().kind(),
        ErrorKind::Exhausted
    );
    assert_eq!(fs::read(&s.path).unwrap(), before);
}

#[test]
fn a_single_port_pool_cannot_hand_over() {
    let s = scratch();
    let reg = open(&s.path);
    let p = free_block(1);
    reg.set_pool("w", p, p, Some(false)).unwrap();
    reg.allocate("a", "w", &tcp()).unwrap();
    assert_eq!(
        reg.begin_handover("a", None).unwrap_err().kind(),
        ErrorKind::Exhausted
    );
}

#[test]
fn handover_of_a_flexible_lease_takes_a_port_above_it() {
    let s = scratch();
    let reg = open(&s.path);
    let p = free_block(3);
    reg.register("web", p, Mode::Flexible, &tcp()).unwrap();
    reg.register("api", p + 1, Mode::Fixed, &tcp()).unwrap();
    assert_eq!(reg.begin_handover("web", None).unwrap(), p + 2);
}

#[test]
fn the_next_generation_owns_the_lease_after_commit() {
    let s = scratch();
    let reg = open(&s.path);
    let p = free_block(4);
    reg.set_pool("w", p, p + 3, Some(false)).unwrap();
    let old = sleeper();
    reg.allocate(
        "api",
        "w",
        &LeaseOptions {
            pid: Some(old.id()),
            ..tcp()
        },
    )
    .unwrap();
    let new = sleeper();
    reg.begin_handover("api", Some(new.id())).unwrap();
    reg.commit_handover("api", None).unwrap();
    assert_eq!(
        reg.get("api").unwrap().unwrap().owner.unwrap().pid,
        new.id()
    );
    // The old generation exiting no longer matters.
    stop(old);
    assert!(reg.gc().unwrap().is_empty());
    stop(new);
    assert_eq!(reg.gc().unwrap().len(), 1);
}

#[test]
fn allocate_many_is_all_or_none() {
    let s = scratch();
    let reg = open(&s.path);
    let p = free_block(3);
    reg.set_pool("w", p, p + 2, Some(false)).unwrap();
    let err = reg
        .allocate_many(&["a", "b", "c", "d"], "w", &tcp())
        .unwrap_err();
    assert_eq!(err.kind(), ErrorKind::Exhausted);
    assert!(reg.list().unwrap().is_empty());
    assert_eq!(
        reg.pools()
            .unwrap()
            .iter()
            .find(|x| x.name == "w")
            .unwrap()
            .cursor,
        p
    );
    assert_eq!(
        reg.allocate_many(&["a", "b", "c"], "w", &tcp()).unwrap(),
        [p, p + 1, p + 2]
    );
    assert_eq!(
        reg.allocate_many(&["x", "x"], "w", &tcp())
            .unwrap_err()
            .kind(),
        ErrorKind::InvalidArgument
    );
    // Names that hold leases get theirs back.
    assert_eq!(
        reg.allocate_many(&["c", "a"], "w", &tcp()).unwrap(),
        [p + 2, p]
    );
}

#[test]
fn set_owner_hands_a_lease_to_another_process() {
    let s = scratch();
    let reg = open(&s.path);
    reg.register("web", free_block(1), Mode::Flexible, &tcp())
        .unwrap();
    let child = sleeper();
    assert_eq!(
        reg.set_owner("web", Some(child.id()))
            .unwrap()
            .owner
            .unwrap()
            .pid,
        child.id()
    );
    stop(child);
    assert_eq!(reg.gc().unwrap()[0].lease.name, "web");
    assert_eq!(
        reg.set_owner("web", None).unwrap_err().kind(),
        ErrorKind::NotFound
    );
}

#[test]
fn import_reads_the_flat_name_to_port_format_in_one_write() {
    let s = scratch();
    let reg = open(&s.path);
    let p = free_block(3);
    let file = s.dir.path().join("port_allocation.json");
    fs::write(
        &file,
        format!(r#"{{"keycloak": {p}, "nginx": "{}"}}"#, p + 1),
    )
    .unwrap();
    let report = reg.import(&file).unwrap();
    assert_eq!(report.imported.len(), 2);
    let keycloak = reg.get("keycloak").unwrap().unwrap();
    assert_eq!(
        (keycloak.port, keycloak.mode, keycloak.owner),
        (p, Mode::Fixed, None)
    );
    // Importing again skips what is already there.
    let again = reg.import(&file).unwrap();
    assert!(again.imported.is_empty());
    assert_eq!(again.skipped, ["keycloak", "nginx"]);
}

#[test]
fn import_refuses_duplicates_and_conflicts_and_writes_nothing() {
    let s = scratch();
    let reg = open(&s.path);
    let p = free_block(3);
    reg.register("web", p, Mode::Fixed, &tcp()).unwrap();
    let before = fs::read(&s.path).unwrap();
    let file = s.dir.path().join("ports.json");
    for (text, kind, needle) in [
        (
            format!(r#"{{"a": {}, "b": {}}}"#, p + 1, p + 1),
            ErrorKind::InvalidArgument,
            "given to a, b",
        ),
        (
            format!(r#"{{"a": {p}}}"#),
            ErrorKind::Conflict,
            "leased to \"web\"",
        ),
        (
            format!(r#"{{"web": {}}}"#, p + 2),
            ErrorKind::Conflict,
            "already holds",
        ),
        (
            r#"{"a": 70000}"#.to_owned(),
            ErrorKind::InvalidArgument,
            "70000",
        ),
        (
            r#"{"a b": 80}"#.to_owned(),
            ErrorKind::InvalidArgument,
            "whitespace",
        ),
        (r#"{"a":}"#.to_owned(), ErrorKind::InvalidArgument, "not a"),
        (
            format!(r#"{{"ok": {}, "bad": 0}}"#, p + 1),
            ErrorKind::InvalidArgument,
            "port 0",
        ),
    ] {
        fs::write(&file, &text).unwrap();
        let err = reg.import(&file).unwrap_err();
        assert_eq!(err.kind(), kind, "{text}: {err}");
        assert!(err.message().contains(needle), "{text}: {err}");
        assert_eq!(fs::read(&s.path).unwrap(), before, "{text}");
    }
    assert_eq!(
        reg.import(&s.dir.path().join("missing.json"))
            .unwrap_err()
            .kind(),
        ErrorKind::NotFound
    );
}

#[test]
fn who_names_the_lease_and_the_process_bound_to_a_port() {
    let s = scratch();
    let reg = open(&s.path);
    let listener = TcpListener::bind("127.0.0.1:0").unwrap();
    let port = listener.local_addr().unwrap().port();
    reg.register(
        "web",
        port,
        Mode::Fixed,
        &LeaseOptions {
            force: true,
            ..tcp()
        },
    )
    .unwrap();
    let who = reg.who(port).unwrap();
    assert_eq!(who.leases[0].name, "web");
    let sockets = who.sockets.unwrap();
    assert_eq!(sockets.len(), 1);
    assert_eq!(sockets[0].address.to_string(), format!("127.0.0.1:{port}"));
    assert!(
        sockets[0]
            .processes
            .iter()
            .any(|p| p.pid == std::process::id())
    );
    drop(listener);
    assert!(reg.who(port).unwrap().sockets.unwrap().is_empty());
}

#[test]
fn migrate_registers_listening_ports_once() {
    let s = scratch();
    let reg = open(&s.path);
    let listener = TcpListener::bind("127.0.0.1:0").unwrap();
    let port = listener.local_addr().unwrap().port();
    let plan = reg.migrate(true).unwrap();
    let ours = plan
        .iter()
        .find(|l| l.port == port)
        .expect("our listener is in the plan");
    assert_eq!(ours.mode, Mode::Fixed);
    assert!(!s.path.exists(), "a dry run writes nothing");
    // Other processes on the host open and close listeners meanwhile: compare what is stable.
    let made = reg.migrate(false).unwrap();
    let lease = reg
        .list()
        .unwrap()
        .into_iter()
        .find(|l| l.port == port)
        .unwrap();
    // Named after the program, as the plan said; another listener of this test binary (a
    // test running beside this one) may take the plain name first and shift the suffixes.
    let program = ours.name.split('-').next().unwrap();
    assert!(
        lease.name.starts_with(program),
        "{} vs {}",
        lease.name,
        ours.name
    );
    assert!(made.iter().any(|l| l.port == port));
    let again = reg.migrate(false).unwrap();
    let first: std::collections::BTreeSet<(u16, Protocol)> =
        made.iter().map(|l| (l.port, l.protocol)).collect();
    assert!(
        again.iter().all(|l| !first.contains(&(l.port, l.protocol))),
        "a second run leaves every port of the first alone: {again:?}"
    );
}

#[test]
fn doctor_reports_what_is_wrong() {
    let s = scratch();
    let reg = open(&s.path);
    let quiet = free_block(1);
    reg.register("idle", quiet, Mode::Fixed, &tcp()).unwrap();
    // A listener on a port leased to another (live) process.
    let listener = TcpListener::bind("127.0.0.1:0").unwrap();
    let port = listener.local_addr().unwrap().port();
    let owner = sleeper();
    let opts = LeaseOptions {
        force: true,
        pid: Some(owner.id()),
        ..tcp()
    };
    reg.register("stolen", port, Mode::Fixed, &opts).unwrap();
    // A lease whose owner is gone.
    let dead = sleeper();
    let dead_opts = LeaseOptions {
        pid: Some(dead.id()),
        ..tcp()
    };
    reg.register("orphan", free_block(1) + 1, Mode::Flexible, &dead_opts)
        .unwrap();
    stop(dead);
    let (lo, _) = portpool_core::ephemeral_range().unwrap();
    reg.set_pool("eph", lo, lo + 10, None).unwrap();
    let report = reg.doctor().unwrap();
    let kinds = |name: &str| -> Vec<FindingKind> {
        report
            .findings
            .iter()
            .filter(|f| f.subject == name)
            .map(|f| f.kind)
            .collect()
    };
    assert_eq!(kinds("idle"), [FindingKind::NotListening]);
    assert_eq!(kinds("stolen"), [FindingKind::ForeignListener]);
    assert_eq!(kinds("orphan"), [FindingKind::StaleOwner]);
    assert_eq!(kinds("eph"), [FindingKind::EphemeralOverlap]);
    stop(owner);
}

#[test]
fn doctor_is_quiet_when_the_owner_listens() {
    let s = scratch();
    let reg = open(&s.path);
    let listener = TcpListener::bind("127.0.0.1:0").unwrap();
    let port = listener.local_addr().unwrap().port();
    let opts = LeaseOptions {
        force: true,
        pid: Some(std::process::id()),
        ..tcp()
    };
    reg.register("web", port, Mode::Fixed, &opts).unwrap();
    let report = reg.doctor().unwrap();
    let about_web: Vec<_> = report
        .findings
        .iter()
        .filter(|f| f.subject == "web")
        .collect();
    assert!(about_web.is_empty(), "{about_web:?}");
}
