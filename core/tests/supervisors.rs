//! Supervisors in the loop: handover tickets (retry, supersede, old tickets), ending one
//! generation, batch handovers, namespaces, and doctor's long-pending handovers.

mod common;

use common::{free_block, open, scratch, tcp};

use portpool_core::{
    Ending, ErrorKind, FindingKind, HANDOVER_PENDING_LIMIT, HandoverOptions, Mode, Registry,
};

fn ns(reg: Registry, name: &str) -> Registry {
    reg.with_namespace(Some(name)).unwrap()
}

fn pool_of(reg: &Registry, n: u16) -> u16 {
    let p = free_block(n);
    reg.set_pool("w", p, p + n - 1, Some(false)).unwrap();
    p
}

fn retry(ticket: u64) -> HandoverOptions {
    HandoverOptions {
        ticket: Some(ticket),
        ..HandoverOptions::default()
    }
}

fn supersede() -> HandoverOptions {
    HandoverOptions {
        supersede: true,
        ..HandoverOptions::default()
    }
}

#[test]
fn a_second_begin_is_a_conflict_naming_the_pending_ticket_and_port() {
    let s = scratch();
    let reg = open(&s.path);
    let p = pool_of(&reg, 4);
    reg.allocate("api", "w", &tcp()).unwrap();
    let first = reg
        .begin_handover_with("api", &HandoverOptions::default())
        .unwrap();
    assert_eq!((first.port, first.ticket, first.created), (p + 1, 1, true));
    let before = std::fs::read(&s.path).unwrap();
    let err = reg.begin_handover("api", None).unwrap_err();
    assert_eq!(err.kind(), ErrorKind::Conflict);
    assert!(err.message().contains("ticket 1"), "{err}");
    assert!(err.message().contains(&format!("port {}", p + 1)), "{err}");
    assert_eq!(std::fs::read(&s.path).unwrap(), before, "changes nothing");
}

#[test]
fn a_begin_retried_with_its_ticket_returns_the_same_handover() {
    let s = scratch();
    let reg = open(&s.path);
    pool_of(&reg, 4);
    reg.allocate("api", "w", &tcp()).unwrap();
    let first = reg
        .begin_handover_with("api", &HandoverOptions::default())
        .unwrap();
    let again = reg
        .begin_handover_with("api", &retry(first.ticket))
        .unwrap();
    assert_eq!((again.port, again.ticket), (first.port, first.ticket));
    assert!(!again.created);
    let wrong = reg
        .begin_handover_with("api", &retry(first.ticket + 1))
        .unwrap_err();
    assert_eq!(wrong.kind(), ErrorKind::Conflict, "{wrong}");
}

#[test]
fn supersede_aborts_the_pending_handover_and_begins_a_new_one_in_one_change() {
    let s = scratch();
    let reg = open(&s.path);
    let p = pool_of(&reg, 4);
    reg.allocate("api", "w", &tcp()).unwrap();
    let first = reg
        .begin_handover_with("api", &HandoverOptions::default())
        .unwrap();
    let second = reg.begin_handover_with("api", &supersede()).unwrap();
    assert!(second.ticket > first.ticket);
    assert_ne!(second.port, first.port, "the pool's cursor moved on");
    let lease = reg.get("api").unwrap().unwrap();
    assert_eq!(lease.port, p);
    assert_eq!(lease.next.unwrap().ticket, second.ticket);
    // The superseded port is free again: nothing holds it.
    assert!(
        reg.list()
            .unwrap()
            .iter()
            .all(|l| !l.ports().any(|q| q == first.port))
    );
}

#[test]
fn an_old_ticket_is_a_conflict_that_changes_nothing() {
    let s = scratch();
    let reg = open(&s.path);
    pool_of(&reg, 6);
    reg.allocate("api", "w", &tcp()).unwrap();
    let first = reg
        .begin_handover_with("api", &HandoverOptions::default())
        .unwrap();
    let second = reg.begin_handover_with("api", &supersede()).unwrap();
    let before = std::fs::read(&s.path).unwrap();
    for err in [
        reg.commit_handover_ticket("api", None, Some(first.ticket))
            .unwrap_err(),
        reg.abort_handover_ticket("api", None, Some(first.ticket))
            .unwrap_err(),
    ] {
        assert_eq!(err.kind(), ErrorKind::Conflict, "{err}");
        assert!(err.message().contains("nothing was changed"), "{err}");
    }
    assert_eq!(std::fs::read(&s.path).unwrap(), before);
    let port = reg
        .commit_handover_ticket("api", None, Some(second.ticket))
        .unwrap();
    assert_eq!(port, second.port);
    // Committed: its ticket is old now too.
    let err = reg
        .commit_handover_ticket("api", None, Some(second.ticket))
        .unwrap_err();
    assert_eq!(err.kind(), ErrorKind::Conflict, "{err}");
}

#[test]
fn commit_and_abort_without_a_ticket_end_whatever_handover_is_under_way() {
    let s = scratch();
    let reg = open(&s.path);
    let p = pool_of(&reg, 4);
    reg.allocate("api", "w", &tcp()).unwrap();
    reg.begin_handover("api", None).unwrap();
    assert_eq!(reg.abort_handover("api", None).unwrap(), p + 1);
    let next = reg.begin_handover("api", None).unwrap();
    assert_eq!(reg.commit_handover("api", None).unwrap(), next);
    assert_eq!(
        reg.commit_handover("api", None).unwrap_err().kind(),
        ErrorKind::NotFound
    );
}

#[test]
fn release_with_a_pending_handover_is_a_conflict_unless_release_all() {
    let s = scratch();
    let reg = open(&s.path);
    let p = pool_of(&reg, 4);
    reg.allocate("api", "w", &tcp()).unwrap();
    let next = reg.begin_handover("api", None).unwrap();
    let err = reg.release("api").unwrap_err();
    assert_eq!(err.kind(), ErrorKind::Conflict);
    assert!(err.message().contains("commit or abort"), "{err}");
    assert_eq!(reg.get("api").unwrap().unwrap().next.unwrap().port, next);
    // Ending only the old generation is a commit; then a release frees the new port.
    assert_eq!(reg.commit_handover("api", None).unwrap(), next);
    assert!(reg.release("api").unwrap());
    reg.allocate("api", "w", &tcp()).unwrap();
    reg.begin_handover("api", None).unwrap();
    assert!(reg.release_all("api").unwrap());
    assert!(reg.list().unwrap().is_empty());
    assert!(p > 0);
}

#[test]
fn a_batch_handover_begins_all_or_none() {
    let s = scratch();
    let reg = open(&s.path);
    pool_of(&reg, 8);
    for name in ["a", "b", "c"] {
        reg.allocate(name, "w", &tcp()).unwrap();
    }
    reg.begin_handover("c", None).unwrap();
    let before = std::fs::read(&s.path).unwrap();
    let err = reg
        .begin_handovers(&["a", "b", "c"], &HandoverOptions::default())
        .unwrap_err();
    assert_eq!(err.kind(), ErrorKind::Conflict, "{err}");
    assert_eq!(std::fs::read(&s.path).unwrap(), before, "none began");
    reg.abort_handover("c", None).unwrap();
    let begun = reg
        .begin_handovers(&["a", "b", "c"], &HandoverOptions::default())
        .unwrap();
    assert_eq!(begun.len(), 3);
    assert!(reg.list().unwrap().iter().all(|l| l.next.is_some()));
    let endings: Vec<Ending> = begun
        .iter()
        .map(|h| Ending {
            name: &h.name,
            ticket: Some(h.ticket),
        })
        .collect();
    // One stale ticket refuses the whole commit.
    let mut wrong = endings.clone();
    wrong[1].ticket = Some(99);
    assert_eq!(
        reg.commit_handovers(&wrong, None).unwrap_err().kind(),
        ErrorKind::Conflict
    );
    assert!(reg.list().unwrap().iter().all(|l| l.next.is_some()));
    let ports = reg.commit_handovers(&endings, None).unwrap();
    let listed = reg.list().unwrap();
    for (h, port) in begun.iter().zip(ports) {
        assert_eq!(port, h.port);
        let lease = listed.iter().find(|l| l.name == h.name).unwrap();
        assert_eq!((lease.port, lease.next), (h.port, None));
    }
}

#[test]
fn a_batch_abort_ends_every_handover_or_none() {
    let s = scratch();
    let reg = open(&s.path);
    pool_of(&reg, 8);
    for name in ["a", "b"] {
        reg.allocate(name, "w", &tcp()).unwrap();
    }
    let begun = reg
        .begin_handovers(&["a", "b"], &HandoverOptions::default())
        .unwrap();
    let twice = [
        Ending {
            name: "a",
            ticket: None,
        },
        Ending {
            name: "a",
            ticket: None,
        },
    ];
    assert_eq!(
        reg.abort_handovers(&twice, None).unwrap_err().kind(),
        ErrorKind::InvalidArgument
    );
    let endings: Vec<Ending> = begun
        .iter()
        .map(|h| Ending {
            name: &h.name,
            ticket: Some(h.ticket),
        })
        .collect();
    reg.abort_handovers(&endings, None).unwrap();
    assert!(reg.list().unwrap().iter().all(|l| l.next.is_none()));
}

#[test]
fn a_name_lives_in_its_namespace_and_ports_stay_unique_across_namespaces() {
    let s = scratch();
    let blue = ns(open(&s.path), "blue");
    let green = ns(open(&s.path), "green");
    let plain = open(&s.path);
    let p = pool_of(&plain, 3);
    let a = blue.allocate("worker-1", "w", &tcp()).unwrap();
    let b = green.allocate("worker-1", "w", &tcp()).unwrap();
    let c = plain.allocate("worker-1", "w", &tcp()).unwrap();
    let mut ports = vec![a, b, c];
    ports.sort();
    assert_eq!(ports, vec![p, p + 1, p + 2]);
    assert_eq!(blue.get("worker-1").unwrap().unwrap().port, a);
    assert_eq!(green.get("worker-1").unwrap().unwrap().port, b);
    assert_eq!(
        blue.list().unwrap()[0].namespace.as_deref(),
        Some("blue"),
        "list shows the namespace"
    );
    assert_eq!(blue.list().unwrap().len(), 1);
    assert_eq!(plain.list_all_namespaces().unwrap().len(), 3);
    assert!(green.release("worker-1").unwrap());
    assert_eq!(blue.get("worker-1").unwrap().unwrap().port, a);
    assert!(green.get("worker-1").unwrap().is_none());
    let err = blue.register("x", c, Mode::Fixed, &tcp()).unwrap_err();
    assert_eq!(err.kind(), ErrorKind::Conflict, "{err}");
}

#[test]
fn a_namespace_is_named_like_a_lease() {
    for bad in ["", "a b", "a\u{1f}b"] {
        let err = Registry::open(Some(std::path::Path::new("/nonexistent/r.json")))
            .unwrap()
            .with_namespace(Some(bad))
            .unwrap_err();
        assert_eq!(err.kind(), ErrorKind::InvalidArgument, "{bad:?}");
        assert!(err.message().starts_with("namespace: "), "{err}");
    }
}

#[test]
fn namespaced_leases_read_back_from_the_file() {
    let s = scratch();
    let blue = ns(open(&s.path), "blue");
    pool_of(&blue, 4);
    blue.allocate("w", "w", &tcp()).unwrap();
    let begun = blue
        .begin_handover_with("w", &HandoverOptions::default())
        .unwrap();
    let again = ns(open(&s.path), "blue");
    let lease = again.get("w").unwrap().unwrap();
    assert_eq!(lease.namespace.as_deref(), Some("blue"));
    assert_eq!(lease.generation, 1);
    assert_eq!(lease.next.unwrap().ticket, begun.ticket);
    let text = std::fs::read_to_string(&s.path).unwrap();
    let (leases, _) = portpool_core::parse_registry(&s.path, text.as_bytes()).unwrap();
    assert_eq!(leases.len(), 1);
    blue.release_all("w").unwrap();
    assert!(open(&s.path).list_all_namespaces().unwrap().is_empty());
}

#[test]
fn errors_name_the_namespace_of_a_name() {
    let s = scratch();
    let blue = ns(open(&s.path), "blue");
    let err = blue.begin_handover("nope", None).unwrap_err();
    assert_eq!(err.kind(), ErrorKind::NotFound);
    assert!(
        err.message().contains("\"nope\" in namespace \"blue\""),
        "{err}"
    );
}

#[test]
fn version_1_files_read_as_the_default_namespace() {
    let s = scratch();
    std::fs::write(
        &s.path,
        r#"{"version":1,"leases":[{"name":"web","port":8080,"protocol":"tcp","mode":"fixed","created":1}]}"#,
    )
    .unwrap();
    let plain = open(&s.path);
    assert_eq!(plain.get("web").unwrap().unwrap().namespace, None);
    assert!(ns(open(&s.path), "blue").get("web").unwrap().is_none());
}

#[test]
fn doctor_reports_a_handover_pending_longer_than_the_limit() {
    let s = scratch();
    let reg = open(&s.path);
    pool_of(&reg, 4);
    reg.allocate("api", "w", &tcp()).unwrap();
    reg.begin_handover("api", None).unwrap();
    let long = |reg: &Registry| {
        reg.doctor()
            .unwrap()
            .findings
            .into_iter()
            .filter(|f| f.kind == FindingKind::LongHandover)
            .count()
    };
    assert_eq!(long(&reg), 0);
    reg.advance_clock_for_tests(HANDOVER_PENDING_LIMIT.as_secs() + 1);
    assert_eq!(long(&reg), 1);
}
