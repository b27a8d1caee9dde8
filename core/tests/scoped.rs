//! The scoped lease, one behaviour for every front end (`portpool run`, Python's `with
//! reg.lease(...)`, Node's `reg.lease`, Go's `Lease`): one test per rule.

mod common;

use std::process::Command;

use common::{free_block, open, scratch, tcp, udp};
use portpool_core::{Choice, ErrorKind, LeaseOptions, Mode, Owner, Protocol};

fn pool() -> Choice {
    Choice::Pool(Some("w".into()))
}

#[test]
fn a_scoped_lease_is_owned_by_the_calling_process_unless_a_pid_is_given() {
    let s = scratch();
    let reg = open(&s.path);
    let p = free_block(4);
    reg.set_pool("w", p, p + 3, Some(false)).unwrap();
    let scope = reg.lease_scoped("a", &pool(), &tcp()).unwrap();
    let lease = reg.get("a").unwrap().unwrap();
    assert_eq!(lease.port, scope.port());
    assert_eq!(lease.owner.map(|o: Owner| o.pid), Some(std::process::id()));
    let mut sleeper = Command::new("sleep").arg("60").spawn().unwrap();
    let given = LeaseOptions {
        pid: Some(sleeper.id()),
        ..tcp()
    };
    reg.lease_scoped("b", &pool(), &given).unwrap();
    assert_eq!(
        reg.get("b").unwrap().unwrap().owner.unwrap().pid,
        sleeper.id()
    );
    sleeper.kill().unwrap();
    sleeper.wait().unwrap();
}

#[test]
fn a_name_that_already_holds_a_lease_is_a_conflict_and_changes_nothing() {
    let s = scratch();
    let reg = open(&s.path);
    let p = free_block(2);
    reg.register("web", p, Mode::Fixed, &tcp()).unwrap();
    let before = std::fs::read(&s.path).unwrap();
    for choice in [
        Choice::default(),
        Choice::Ports {
            ports: vec![p],
            mode: Mode::Fixed,
        },
        Choice::Ports {
            ports: vec![p + 1],
            mode: Mode::Flexible,
        },
    ] {
        let err = reg.lease_scoped("web", &choice, &tcp()).unwrap_err();
        assert_eq!(err.kind(), ErrorKind::Conflict, "{err}");
        assert!(err.message().contains(&format!("port {p}/tcp")), "{err}");
    }
    assert_eq!(std::fs::read(&s.path).unwrap(), before);
}

#[test]
fn a_stale_lease_of_the_name_is_reclaimed_for_the_scope() {
    let s = scratch();
    let reg = open(&s.path);
    let p = free_block(1);
    let mut gone = Command::new("sleep").arg("60").spawn().unwrap();
    let dead = LeaseOptions {
        pid: Some(gone.id()),
        ..tcp()
    };
    reg.register("web", p, Mode::Fixed, &dead).unwrap();
    gone.kill().unwrap();
    gone.wait().unwrap();
    let choice = Choice::Ports {
        ports: vec![p],
        mode: Mode::Fixed,
    };
    let scope = reg.lease_scoped("web", &choice, &tcp()).unwrap();
    assert_eq!(scope.port(), p);
    assert_eq!(
        reg.get("web").unwrap().unwrap().owner.unwrap().pid,
        std::process::id()
    );
}

#[test]
fn leaving_the_scope_releases_the_lease_once() {
    let s = scratch();
    let reg = open(&s.path);
    let p = free_block(1);
    let choice = Choice::Ports {
        ports: vec![p],
        mode: Mode::Fixed,
    };
    let scope = reg.lease_scoped("udp-scope", &choice, &udp()).unwrap();
    assert_eq!(
        (scope.name(), scope.protocol()),
        ("udp-scope", Protocol::Udp)
    );
    assert!(!scope.is_ended());
    assert!(scope.release(&reg).unwrap());
    assert!(scope.is_ended());
    assert!(reg.get("udp-scope").unwrap().is_none());
    assert!(!scope.release(&reg).unwrap());
}

#[test]
fn a_lease_the_name_no_longer_holds_is_left_alone() {
    let s = scratch();
    let reg = open(&s.path);
    let p = free_block(2);
    let fixed = |port| Choice::Ports {
        ports: vec![port],
        mode: Mode::Fixed,
    };
    let scope = reg.lease_scoped("web", &fixed(p), &tcp()).unwrap();
    // Somebody released the name and leased it again, to another port.
    reg.release("web").unwrap();
    reg.register("web", p + 1, Mode::Fixed, &tcp()).unwrap();
    assert!(!scope.release(&reg).unwrap());
    assert_eq!(reg.get("web").unwrap().unwrap().port, p + 1);
}

#[test]
fn a_forked_child_never_releases_its_parents_scoped_lease() {
    let s = scratch();
    let reg = open(&s.path);
    let p = free_block(1);
    let choice = Choice::Ports {
        ports: vec![p],
        mode: Mode::Fixed,
    };
    let scope = reg.lease_scoped("parent", &choice, &tcp()).unwrap();
    // SAFETY: the child only calls `release` (which returns before touching anything shared
    // when the caller is not the creator) and `_exit`.
    let child = unsafe { libc::fork() };
    assert!(child >= 0);
    if child == 0 {
        let code = match scope.release(&reg) {
            Ok(false) => 0,
            _ => 1,
        };
        unsafe { libc::_exit(code) };
    }
    let mut status = 0;
    assert_eq!(unsafe { libc::waitpid(child, &mut status, 0) }, child);
    assert!(libc::WIFEXITED(status) && libc::WEXITSTATUS(status) == 0);
    assert_eq!(reg.get("parent").unwrap().unwrap().port, p);
    assert!(scope.release(&reg).unwrap());
}

#[test]
fn an_empty_port_list_is_an_invalid_argument() {
    let s = scratch();
    let reg = open(&s.path);
    let choice = Choice::Ports {
        ports: vec![],
        mode: Mode::Flexible,
    };
    let err = reg.lease_scoped("a", &choice, &tcp()).unwrap_err();
    assert_eq!(err.kind(), ErrorKind::InvalidArgument, "{err}");
    assert!(!s.path.exists());
}

#[test]
fn set_pool_returns_the_ephemeral_overlap_warning_and_doctor_words_it_the_same() {
    let s = scratch();
    let reg = open(&s.path);
    let p = free_block(2);
    assert!(
        reg.set_pool("low", p, p + 1, Some(false))
            .unwrap()
            .warnings
            .is_empty()
    );
    let Some((lo, _)) = portpool_core::ephemeral_range() else {
        return;
    };
    let change = reg.set_pool("eph", lo, lo + 10, Some(false)).unwrap();
    assert_eq!(change.pool.name, "eph");
    assert_eq!(change.warnings.len(), 1, "{:?}", change.warnings);
    assert!(
        change.warnings[0].contains("ephemeral"),
        "{:?}",
        change.warnings
    );
    let doctor = reg.doctor().unwrap();
    let finding = doctor.findings.iter().find(|f| f.subject == "eph").unwrap();
    assert_eq!(finding.message, change.warnings[0]);
}

#[test]
fn a_choice_is_ports_in_a_mode_or_a_pool_never_both() {
    assert_eq!(Choice::new(None, None, None).unwrap(), Choice::Pool(None));
    assert_eq!(
        Choice::new(Some("w".into()), None, Some(Mode::Flexible)).unwrap(),
        Choice::Pool(Some("w".into()))
    );
    assert_eq!(
        Choice::new(None, Some(vec![3000, 3001]), None).unwrap(),
        Choice::Ports {
            ports: vec![3000, 3001],
            mode: Mode::Flexible
        }
    );
    let both = Choice::new(Some("w".into()), Some(vec![3000]), None).unwrap_err();
    assert_eq!(both.kind(), ErrorKind::InvalidArgument);
    assert!(both.message().contains("not both"), "{both}");
    let mode = Choice::new(Some("w".into()), None, Some(Mode::Fixed)).unwrap_err();
    assert_eq!(mode.kind(), ErrorKind::InvalidArgument);
    assert!(
        mode.message().contains("mode fixed applies to ports"),
        "{mode}"
    );
}

#[test]
fn an_undo_releases_only_a_lease_its_call_made_and_the_name_still_holds() {
    let s = scratch();
    let reg = open(&s.path);
    let p = free_block(4);
    reg.set_pool("w", p, p + 3, Some(false)).unwrap();
    // Made by the call, still held: released.
    let made = reg.allocate_grant("a", Some("w"), &tcp()).unwrap();
    assert!(made.created);
    assert!(made.undo(&reg, "a", Protocol::Tcp).unwrap());
    assert!(reg.get("a").unwrap().is_none());
    // Held before the call: left alone.
    reg.allocate_grant("b", Some("w"), &tcp()).unwrap();
    let held = reg.allocate_grant("b", Some("w"), &tcp()).unwrap();
    assert!(!held.created);
    assert!(!held.undo(&reg, "b", Protocol::Tcp).unwrap());
    assert!(reg.get("b").unwrap().is_some());
    // Released and leased again on another port meanwhile: left alone.
    let first = reg.allocate_grant("c", Some("w"), &tcp()).unwrap();
    let other = LeaseOptions {
        exclude: vec![first.port],
        ..tcp()
    };
    reg.release("c").unwrap();
    let again = reg.allocate_grant("c", Some("w"), &other).unwrap();
    assert_ne!(again.port, first.port);
    assert!(!first.undo(&reg, "c", Protocol::Tcp).unwrap());
    assert_eq!(reg.get("c").unwrap().unwrap().port, again.port);
}
