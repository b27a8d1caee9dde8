//! The allocation rules, pinned through the public core API on temporary registries.

mod common;

use common::{free_block, open, scratch, tcp, udp};
use std::fs;
use std::net::{TcpListener, UdpSocket};
use std::os::unix::fs::{MetadataExt, PermissionsExt};
use std::path::Path;

use portpool_core::{
    ErrorKind, LeaseOptions, Mode, PathSource, PortState, Protocol, Registry, is_free_at,
};

fn bytes(path: &Path) -> Vec<u8> {
    fs::read(path).unwrap()
}

#[test]
fn flexible_register_takes_the_preferred_port_when_free() {
    let s = scratch();
    let p = free_block(4);
    assert_eq!(
        open(&s.path)
            .register("web", p, Mode::Flexible, &tcp())
            .unwrap(),
        p
    );
}

#[test]
fn flexible_register_skips_ports_leased_to_others() {
    let s = scratch();
    let reg = open(&s.path);
    let p = free_block(4);
    assert_eq!(reg.register("a", p, Mode::Flexible, &tcp()).unwrap(), p);
    assert_eq!(reg.register("b", p, Mode::Flexible, &tcp()).unwrap(), p + 1);
    assert_eq!(
        reg.register("c", p, Mode::Fixed, &tcp())
            .unwrap_err()
            .kind(),
        ErrorKind::Conflict
    );
}

#[test]
fn flexible_register_skips_ports_bound_outside_the_registry() {
    let s = scratch();
    let listener = TcpListener::bind("127.0.0.1:0").unwrap();
    let busy = listener.local_addr().unwrap().port();
    let got = open(&s.path)
        .register("web", busy, Mode::Flexible, &tcp())
        .unwrap();
    assert!(got > busy, "{got} should be above the busy {busy}");
}

#[test]
fn flexible_register_never_passes_65535() {
    let s = scratch();
    let reg = open(&s.path);
    let top = if is_free_at(65535, Protocol::Tcp, None).unwrap() {
        65535
    } else {
        return;
    };
    assert_eq!(
        reg.register("last", top, Mode::Flexible, &tcp()).unwrap(),
        65535
    );
    let err = reg
        .register("over", 65535, Mode::Flexible, &tcp())
        .unwrap_err();
    assert_eq!(err.kind(), ErrorKind::Exhausted, "{err}");
}

#[test]
fn existing_name_gets_its_port_back_without_a_write() {
    let s = scratch();
    let reg = open(&s.path);
    let p = free_block(4);
    reg.register("web", p, Mode::Flexible, &tcp()).unwrap();
    let before = fs::metadata(&s.path).unwrap();
    // Even when asked for another preferred port, and even as fixed for the same port.
    assert_eq!(
        reg.register("web", p + 2, Mode::Flexible, &tcp()).unwrap(),
        p
    );
    assert_eq!(reg.register("web", p, Mode::Fixed, &tcp()).unwrap(), p);
    let after = fs::metadata(&s.path).unwrap();
    assert_eq!(
        (before.ino(), before.mtime_nsec()),
        (after.ino(), after.mtime_nsec())
    );
}

#[test]
fn asking_a_holder_for_another_fixed_port_is_a_conflict_that_changes_nothing() {
    let s = scratch();
    let reg = open(&s.path);
    let p = free_block(4);
    reg.register("web", p, Mode::Fixed, &tcp()).unwrap();
    let before = bytes(&s.path);
    let err = reg.register("web", p + 1, Mode::Fixed, &tcp()).unwrap_err();
    assert_eq!(err.kind(), ErrorKind::Conflict);
    assert!(err.message().contains(&p.to_string()), "{err}");
    assert_eq!(bytes(&s.path), before);
    assert_eq!(reg.get("web").unwrap().unwrap().port, p);
}

#[test]
fn fixed_register_of_a_port_leased_to_another_name_names_the_holder() {
    let s = scratch();
    let reg = open(&s.path);
    let p = free_block(2);
    reg.register("keycloak", p, Mode::Fixed, &tcp()).unwrap();
    let err = reg.register("web", p, Mode::Fixed, &tcp()).unwrap_err();
    assert_eq!(err.kind(), ErrorKind::Conflict);
    assert!(err.message().contains("keycloak"), "{err}");
    // force never takes a port from another lease.
    let forced = LeaseOptions {
        force: true,
        ..tcp()
    };
    assert_eq!(
        reg.register("web", p, Mode::Fixed, &forced)
            .unwrap_err()
            .kind(),
        ErrorKind::Conflict
    );
}

#[test]
fn fixed_register_of_a_bound_port_conflicts_unless_forced() {
    let s = scratch();
    let reg = open(&s.path);
    let listener = TcpListener::bind("127.0.0.1:0").unwrap();
    let busy = listener.local_addr().unwrap().port();
    let err = reg.register("web", busy, Mode::Fixed, &tcp()).unwrap_err();
    assert_eq!(err.kind(), ErrorKind::Conflict);
    assert!(err.message().contains("outside the registry"), "{err}");
    assert!(reg.get("web").unwrap().is_none());
    let forced = LeaseOptions {
        force: true,
        ..tcp()
    };
    assert_eq!(
        reg.register("web", busy, Mode::Fixed, &forced).unwrap(),
        busy
    );
}

#[test]
fn a_lease_is_per_port_and_protocol() {
    let s = scratch();
    let reg = open(&s.path);
    let p = free_block(2);
    assert_eq!(reg.register("dns-tcp", p, Mode::Fixed, &tcp()).unwrap(), p);
    assert_eq!(reg.register("dns-udp", p, Mode::Fixed, &udp()).unwrap(), p);
    assert_eq!(reg.list().unwrap().len(), 2);
}

#[test]
fn a_udp_only_holder_never_blocks_a_tcp_lease() {
    let s = scratch();
    let reg = open(&s.path);
    let sock = UdpSocket::bind("0.0.0.0:0").unwrap();
    let port = sock.local_addr().unwrap().port();
    if is_free_at(port, Protocol::Tcp, None).unwrap() {
        assert_eq!(
            reg.register("web", port, Mode::Fixed, &tcp()).unwrap(),
            port
        );
    }
    assert_eq!(
        reg.register("dns", port, Mode::Fixed, &udp())
            .unwrap_err()
            .kind(),
        ErrorKind::Conflict
    );
}

#[test]
fn a_name_holds_one_protocol() {
    let s = scratch();
    let reg = open(&s.path);
    let p = free_block(2);
    reg.register("svc", p, Mode::Flexible, &tcp()).unwrap();
    let err = reg.register("svc", p, Mode::Flexible, &udp()).unwrap_err();
    assert_eq!(err.kind(), ErrorKind::Conflict, "{err}");
}

#[test]
fn pool_allocation_is_round_robin_and_wraps() {
    let s = scratch();
    let reg = open(&s.path);
    let p = free_block(3);
    reg.set_pool("w", p, p + 2, Some(false)).unwrap();
    let opts = tcp();
    assert_eq!(reg.allocate("a", "w", &opts).unwrap(), p);
    assert_eq!(reg.allocate("b", "w", &opts).unwrap(), p + 1);
    reg.release("a").unwrap();
    // The cursor goes on to p+2 rather than back to the port just released...
    assert_eq!(reg.allocate("c", "w", &opts).unwrap(), p + 2);
    // ...and wraps to the start, skipping leased ports.
    assert_eq!(reg.allocate("d", "w", &opts).unwrap(), p);
    assert_eq!(
        reg.pools()
            .unwrap()
            .iter()
            .find(|x| x.name == "w")
            .unwrap()
            .cursor,
        p + 1
    );
}

#[test]
fn the_cursor_is_shared_by_every_handle() {
    let s = scratch();
    let p = free_block(4);
    open(&s.path).set_pool("w", p, p + 3, Some(false)).unwrap();
    let (one, two) = (open(&s.path), open(&s.path));
    assert_eq!(one.allocate("a", "w", &tcp()).unwrap(), p);
    assert_eq!(two.allocate("b", "w", &tcp()).unwrap(), p + 1);
    assert_eq!(one.allocate("c", "w", &tcp()).unwrap(), p + 2);
}

#[test]
fn allocate_of_an_existing_name_returns_its_port() {
    let s = scratch();
    let reg = open(&s.path);
    let p = free_block(3);
    reg.set_pool("w", p, p + 2, Some(false)).unwrap();
    let first = reg.allocate("a", "w", &tcp()).unwrap();
    assert_eq!(reg.allocate("a", "w", &tcp()).unwrap(), first);
    assert_eq!(reg.list().unwrap().len(), 1);
}

#[test]
fn pool_allocation_skips_bound_ports_when_probing() {
    let s = scratch();
    let reg = open(&s.path);
    let listener = TcpListener::bind("127.0.0.1:0").unwrap();
    let busy = listener.local_addr().unwrap().port();
    reg.set_pool("w", busy, busy.saturating_add(50), None)
        .unwrap();
    assert_ne!(reg.allocate("a", "w", &tcp()).unwrap(), busy);
    // Without the probe the range is taken to be reserved for portpool.
    reg.set_pool("r", busy, busy, Some(false)).unwrap();
    reg.release("a").unwrap();
    assert_eq!(reg.allocate("b", "r", &tcp()).unwrap(), busy);
}

#[test]
fn a_full_pool_is_exhausted_and_the_registry_is_unchanged() {
    let s = scratch();
    let reg = open(&s.path);
    let p = free_block(2);
    reg.set_pool("w", p, p + 1, Some(false)).unwrap();
    reg.allocate("a", "w", &tcp()).unwrap();
    reg.allocate("b", "w", &tcp()).unwrap();
    let before = bytes(&s.path);
    let err = reg.allocate("c", "w", &tcp()).unwrap_err();
    assert_eq!(err.kind(), ErrorKind::Exhausted);
    assert_eq!(bytes(&s.path), before);
    // UDP leases of the same ports are separate.
    assert_eq!(reg.allocate("c", "w", &udp()).unwrap(), p);
}

#[test]
fn changing_a_pool_range_never_hands_out_ports_outside_it() {
    let s = scratch();
    let reg = open(&s.path);
    let p = free_block(20);
    reg.set_pool("w", p, p + 19, Some(false)).unwrap();
    for i in 0..5 {
        reg.allocate(&format!("a{i}"), "w", &tcp()).unwrap();
    }
    reg.set_pool("w", p + 10, p + 12, Some(false)).unwrap();
    for i in 0..3 {
        let got = reg.allocate(&format!("b{i}"), "w", &tcp()).unwrap();
        assert!((p + 10..=p + 12).contains(&got), "{got}");
    }
    assert_eq!(
        reg.allocate("b3", "w", &tcp()).unwrap_err().kind(),
        ErrorKind::Exhausted
    );
}

#[test]
fn a_pool_whose_start_is_after_its_end_is_rejected() {
    let s = scratch();
    let err = open(&s.path).set_pool("w", 200, 100, None).unwrap_err();
    assert_eq!(err.kind(), ErrorKind::InvalidArgument);
    assert!(!s.path.exists());
}

#[test]
fn unknown_pool_is_not_found() {
    let s = scratch();
    let err = open(&s.path).allocate("a", "nope", &tcp()).unwrap_err();
    assert_eq!(err.kind(), ErrorKind::NotFound);
}

#[test]
fn default_pool_is_9000_to_18999_ten_thousand_ports() {
    let s = scratch();
    let pools = open(&s.path).pools().unwrap();
    assert_eq!(pools.len(), 1);
    assert_eq!(
        (pools[0].name.as_str(), pools[0].start, pools[0].end),
        ("default", 9000, 18999)
    );
}

#[test]
fn release_reports_whether_something_was_released() {
    let s = scratch();
    let reg = open(&s.path);
    let p = free_block(1);
    reg.register("web", p, Mode::Flexible, &tcp()).unwrap();
    assert!(reg.release("web").unwrap());
    assert!(!reg.release("web").unwrap());
    assert!(reg.get("web").unwrap().is_none());
}

#[test]
fn reset_leaves_only_the_default_pool() {
    let s = scratch();
    let reg = open(&s.path);
    reg.set_pool("w", 30000, 30010, None).unwrap();
    reg.register("web", free_block(1), Mode::Flexible, &tcp())
        .unwrap();
    reg.reset().unwrap();
    assert!(reg.list().unwrap().is_empty());
    assert_eq!(reg.pools().unwrap().len(), 1);
}

#[test]
fn invalid_arguments_change_nothing() {
    let s = scratch();
    let reg = open(&s.path);
    for (name, port) in [("", 80), ("a b", 80), ("a\u{1}b", 80), ("web", 0)] {
        let err = reg
            .register(name, port, Mode::Flexible, &tcp())
            .unwrap_err();
        assert_eq!(err.kind(), ErrorKind::InvalidArgument, "{name:?} {port}");
    }
    let long = "n".repeat(129);
    assert_eq!(
        reg.allocate(&long, "default", &tcp()).unwrap_err().kind(),
        ErrorKind::InvalidArgument
    );
    let zero_ttl = LeaseOptions {
        ttl: Some(0),
        ..tcp()
    };
    assert_eq!(
        reg.register("x", 1, Mode::Flexible, &zero_ttl)
            .unwrap_err()
            .kind(),
        ErrorKind::InvalidArgument
    );
    assert!(!s.path.exists(), "nothing may be written");
}

#[test]
fn hostile_names_are_stored_exactly_and_stay_apart() {
    let s = scratch();
    let reg = open(&s.path);
    let p = free_block(6);
    let names = ["evil\":1,\"keycloak", "a.c", "abc", "a/b", "/", "名前"];
    for (i, name) in names.iter().enumerate() {
        assert_eq!(
            reg.register(name, p + i as u16, Mode::Fixed, &tcp())
                .unwrap(),
            p + i as u16
        );
    }
    let fresh = open(&s.path);
    let listed: Vec<String> = fresh.list().unwrap().into_iter().map(|l| l.name).collect();
    let mut expected: Vec<String> = names.iter().map(|n| n.to_string()).collect();
    expected.sort();
    assert_eq!(listed, expected);
    assert!(fresh.release("a.c").unwrap());
    assert!(fresh.get("abc").unwrap().is_some());
}

#[test]
fn check_reports_free_leased_and_busy() {
    let s = scratch();
    let reg = open(&s.path);
    let p = free_block(1);
    assert_eq!(reg.check(p, Protocol::Tcp).unwrap(), PortState::Free);
    reg.register("web", p, Mode::Fixed, &tcp()).unwrap();
    match reg.check(p, Protocol::Tcp).unwrap() {
        PortState::Leased(lease) => assert_eq!(lease.name, "web"),
        other => panic!("{other:?}"),
    }
    let listener = TcpListener::bind("127.0.0.1:0").unwrap();
    let busy = listener.local_addr().unwrap().port();
    assert_eq!(reg.check(busy, Protocol::Tcp).unwrap(), PortState::Busy);
}

#[test]
fn leases_of_dead_owners_are_reclaimed_by_gc_and_by_allocation() {
    let s = scratch();
    let reg = open(&s.path);
    let p = free_block(1);
    reg.set_pool("w", p, p, Some(false)).unwrap();
    let mut child = std::process::Command::new("sleep")
        .arg("30")
        .spawn()
        .unwrap();
    let owned = LeaseOptions {
        pid: Some(child.id()),
        ..tcp()
    };
    assert_eq!(reg.allocate("old", "w", &owned).unwrap(), p);
    assert_eq!(
        reg.allocate("new", "w", &tcp()).unwrap_err().kind(),
        ErrorKind::Exhausted
    );
    child.kill().unwrap();
    child.wait().unwrap();
    // The only port of the pool is the dead owner's: allocation reclaims it.
    assert_eq!(reg.allocate("new", "w", &tcp()).unwrap(), p);
    assert!(reg.get("old").unwrap().is_none());

    let mut child = std::process::Command::new("sleep")
        .arg("30")
        .spawn()
        .unwrap();
    let owned = LeaseOptions {
        pid: Some(child.id()),
        ..tcp()
    };
    reg.register("svc", free_block(1), Mode::Flexible, &owned)
        .unwrap();
    assert!(reg.gc().unwrap().is_empty());
    child.kill().unwrap();
    child.wait().unwrap();
    let reclaimed = reg.gc().unwrap();
    assert_eq!(reclaimed.len(), 1);
    assert_eq!(reclaimed[0].lease.name, "svc");
    assert!(
        reclaimed[0].reason.contains("gone"),
        "{}",
        reclaimed[0].reason
    );
}

#[test]
fn a_recycled_pid_is_not_the_owner() {
    let s = scratch();
    let p = free_block(1);
    // Same pid as this process, other start time: what a recycled pid looks like.
    let me = portpool_core::owner_of(std::process::id()).unwrap();
    fs::write(
        &s.path,
        format!(
            r#"{{"version":1,"leases":[{{"name":"ghost","port":{p},"protocol":"tcp","mode":"fixed","created":1,
               "owner":{{"pid":{},"start_time":{}}}}}]}}"#,
            me.pid,
            me.start_time + 1
        ),
    )
    .unwrap();
    let reg = open(&s.path);
    assert_eq!(reg.register("web", p, Mode::Fixed, &tcp()).unwrap(), p);
}

#[test]
fn expired_leases_are_reclaimed_and_renew_extends_live_ones() {
    let s = scratch();
    let p = free_block(2);
    fs::write(
        &s.path,
        format!(
            r#"{{"version":1,"leases":[
              {{"name":"old","port":{p},"protocol":"tcp","mode":"fixed","created":1,"ttl":5,"expires":6}},
              {{"name":"kept","port":{},"protocol":"tcp","mode":"fixed","created":1,"ttl":5,"expires":4000000000}}]}}"#,
            p + 1
        ),
    )
    .unwrap();
    let reg = open(&s.path);
    let renewed = reg.renew("kept", Some(3600)).unwrap();
    assert!(renewed.expires.unwrap() > 1_700_000_000);
    assert!(renewed.expires.unwrap() < 4_000_000_000);
    assert_eq!(
        reg.renew("old", None).unwrap_err().kind(),
        ErrorKind::NotFound,
        "an expired lease is never revived"
    );
    assert_eq!(reg.check(p, Protocol::Tcp).unwrap(), PortState::Free);
    let reclaimed = reg.gc().unwrap();
    assert_eq!(
        reclaimed
            .iter()
            .map(|r| r.lease.name.as_str())
            .collect::<Vec<_>>(),
        ["old"]
    );
    assert_eq!(
        reg.renew("nope", None).unwrap_err().kind(),
        ErrorKind::NotFound
    );
    reg.register("perm", free_block(1), Mode::Flexible, &tcp())
        .unwrap();
    assert_eq!(
        reg.renew("perm", None).unwrap_err().kind(),
        ErrorKind::InvalidArgument
    );
}

#[test]
fn corrupt_registries_are_refused_and_left_byte_for_byte() {
    let cases: [&[u8]; 7] = [
        b"",
        b"{\"version\": 1, \"leases\": [",
        b"{\"a\":}",
        b"{\"keycloak\": 8080}",
        b"{\"version\": 4, \"leases\": []}",
        b"{\"version\": 2, \"leases\": []}",
        b"\xff\xfe garbage",
    ];
    for case in cases {
        let s = scratch();
        fs::write(&s.path, case).unwrap();
        let reg = open(&s.path);
        for err in [
            reg.register("web", 30000, Mode::Flexible, &tcp())
                .unwrap_err(),
            reg.allocate("w", "default", &tcp()).unwrap_err(),
            reg.release("web").unwrap_err(),
            reg.reset().unwrap_err(),
            reg.list().unwrap_err(),
        ] {
            assert_eq!(err.kind(), ErrorKind::Registry, "{err}");
            assert!(err.message().contains(s.path.to_str().unwrap()), "{err}");
        }
        assert_eq!(bytes(&s.path), case);
    }
}

#[test]
fn a_version_1_registry_reformatted_by_hand_reads_and_is_upgraded_on_its_first_write() {
    let s = scratch();
    let p = free_block(2);
    fs::write(
        &s.path,
        format!("{{\"leases\":[{{\"mode\":\"fixed\",\"created\":5,\"protocol\":\"tcp\",\"port\":{p},\"name\":\"web\"}}],\n\n  \"version\" : 1}}"),
    )
    .unwrap();
    let reg = open(&s.path);
    assert_eq!(reg.get("web").unwrap().unwrap().port, p);
    reg.register("api", p, Mode::Flexible, &tcp()).unwrap();
    let text = fs::read_to_string(&s.path).unwrap();
    assert!(
        text.starts_with("{\"version\":2,\"generation\":\""),
        "{text}"
    );
    assert_eq!(
        text.lines()
            .filter(|l| l.starts_with("{\"lease\":"))
            .count(),
        2,
        "{text}"
    );
    assert_eq!(open(&s.path).list().unwrap().len(), 2);
}

#[test]
fn reads_never_create_files_and_writes_create_missing_directories() {
    let dir = tempfile::tempdir().unwrap();
    let path = dir.path().join("a/b/registry.json");
    let reg = open(&path);
    assert!(reg.list().unwrap().is_empty());
    assert!(reg.get("x").unwrap().is_none());
    assert_eq!(reg.pools().unwrap().len(), 1);
    reg.check(free_block(1), Protocol::Tcp).unwrap();
    assert!(!dir.path().join("a").exists());
    reg.register("web", free_block(1), Mode::Flexible, &tcp())
        .unwrap();
    assert!(path.exists());
    assert!(dir.path().join("a/b/registry.json.lock").exists());
}

#[test]
fn files_are_created_0644_or_0600_under_the_per_user_path() {
    let s = scratch();
    open(&s.path)
        .register("web", free_block(1), Mode::Flexible, &tcp())
        .unwrap();
    assert_eq!(
        fs::metadata(&s.path).unwrap().permissions().mode() & 0o777,
        0o644
    );
    let user = scratch();
    Registry::with_source(&user.path, PathSource::User)
        .register("web", free_block(1), Mode::Flexible, &tcp())
        .unwrap();
    assert_eq!(
        fs::metadata(&user.path).unwrap().permissions().mode() & 0o777,
        0o600
    );
    // A mode someone set by hand survives later writes.
    fs::set_permissions(&s.path, fs::Permissions::from_mode(0o664)).unwrap();
    open(&s.path).release("web").unwrap();
    assert_eq!(
        fs::metadata(&s.path).unwrap().permissions().mode() & 0o777,
        0o664
    );
}

#[test]
fn symlinked_registry_or_lock_file_is_refused_and_the_victim_untouched() {
    let s = scratch();
    let victim = s.path.with_file_name("victim");
    fs::write(&victim, b"precious").unwrap();
    std::os::unix::fs::symlink(&victim, s.path.with_file_name("registry.json.lock")).unwrap();
    let err = open(&s.path)
        .register("web", free_block(1), Mode::Flexible, &tcp())
        .unwrap_err();
    assert_eq!(err.kind(), ErrorKind::Registry, "{err}");
    assert!(err.message().contains("symbolic link"), "{err}");
    assert_eq!(fs::read(&victim).unwrap(), b"precious");

    let s = scratch();
    let victim = s.path.with_file_name("victim");
    fs::write(&victim, b"{\"version\":1}").unwrap();
    std::os::unix::fs::symlink(&victim, &s.path).unwrap();
    let err = open(&s.path)
        .register("web", free_block(1), Mode::Flexible, &tcp())
        .unwrap_err();
    assert_eq!(err.kind(), ErrorKind::Registry, "{err}");
    assert_eq!(fs::read(&victim).unwrap(), b"{\"version\":1}");
}

#[test]
fn a_handle_sees_changes_made_through_another() {
    let s = scratch();
    let (one, two) = (open(&s.path), open(&s.path));
    let p = free_block(1);
    assert!(one.get("web").unwrap().is_none());
    two.register("web", p, Mode::Flexible, &tcp()).unwrap();
    assert_eq!(one.get("web").unwrap().unwrap().port, p);
    two.release("web").unwrap();
    assert!(one.get("web").unwrap().is_none());
}

#[test]
fn threads_sharing_one_handle_never_get_the_same_port() {
    let s = scratch();
    let reg = std::sync::Arc::new(open(&s.path));
    let p = free_block(40);
    reg.set_pool("w", p, p + 39, Some(false)).unwrap();
    let handles: Vec<_> = (0..8)
        .map(|t| {
            let reg = reg.clone();
            std::thread::spawn(move || {
                (0..5)
                    .map(|i| reg.allocate(&format!("t{t}-{i}"), "w", &tcp()).unwrap())
                    .collect::<Vec<_>>()
            })
        })
        .collect();
    let mut ports: Vec<u16> = handles
        .into_iter()
        .flat_map(|h| h.join().unwrap())
        .collect();
    ports.sort();
    ports.dedup();
    assert_eq!(ports.len(), 40);
    assert_eq!(reg.list().unwrap().len(), 40);
}

#[test]
fn a_lease_and_a_new_pool_record_the_user_who_made_them_and_a_changed_pool_keeps_its_maker() {
    let s = scratch();
    let reg = open(&s.path);
    // SAFETY: geteuid has no preconditions.
    let me = unsafe { libc::geteuid() };
    let port = free_block(4);
    reg.register("web", port, Mode::Fixed, &tcp()).unwrap();
    assert_eq!(reg.lease("web").unwrap().uid, Some(me));
    let made = reg.set_pool("p", port + 1, port + 3, Some(false)).unwrap();
    assert_eq!(made.pool.uid, Some(me));
    let default = reg.set_pool("default", port + 1, port + 3, None).unwrap();
    assert_eq!(default.pool.uid, None, "the default pool has no maker");
    assert!(
        fs::read_to_string(&s.path)
            .unwrap()
            .contains(&format!("\"uid\":{me}"))
    );
}

#[test]
fn another_users_lease_is_a_conflict_naming_them_unless_root_or_forced() {
    let s = scratch();
    let lease = r#"{"lease":{"name":"theirs","port":1,"protocol":"tcp","mode":"fixed","pool":null,"created":1,"uid":4242}}"#;
    fs::write(&s.path, format!("{{\"version\":2}}\n{lease}\n")).unwrap();
    let reg = open(&s.path);
    // SAFETY: geteuid has no preconditions.
    if unsafe { libc::geteuid() } != 0 {
        for refused in [
            reg.release("theirs").map(drop),
            reg.set_owner("theirs", None).map(drop),
            reg.register("theirs", 1, Mode::Fixed, &tcp()).map(drop),
            reg.reset(),
        ] {
            let err = refused.unwrap_err();
            assert_eq!(err.kind(), ErrorKind::Conflict, "{err}");
            assert!(err.message().contains("uid 4242"), "{err}");
        }
        assert_eq!(reg.lease("theirs").unwrap().port, 1);
        reg.set_force(true);
    }
    assert!(
        reg.release("theirs").unwrap(),
        "root or a forcing handle releases it"
    );
}

#[test]
fn a_nearly_full_pool_still_gives_its_one_free_port_whatever_the_cursor() {
    // Far more held ports than the first candidates the search tries one by one.
    let s = scratch();
    let reg = open(&s.path);
    let p = free_block(60);
    reg.set_pool("w", p, p + 59, Some(false)).unwrap();
    let names: Vec<String> = (0..60).map(|i| format!("a{i}")).collect();
    let names: Vec<&str> = names.iter().map(String::as_str).collect();
    reg.allocate_many(&names, "w", &tcp()).unwrap();
    reg.release("a41").unwrap();
    assert_eq!(reg.allocate("b", "w", &tcp()).unwrap(), p + 41);
    assert_eq!(
        reg.allocate("c", "w", &tcp()).unwrap_err().kind(),
        ErrorKind::Exhausted
    );
}

#[test]
fn a_full_pool_gives_a_port_a_dead_owner_held_past_the_first_candidates() {
    let s = scratch();
    let reg = open(&s.path);
    let p = free_block(60);
    reg.set_pool("w", p, p + 59, Some(false)).unwrap();
    let names: Vec<String> = (0..59).map(|i| format!("a{i}")).collect();
    let names: Vec<&str> = names.iter().map(String::as_str).collect();
    reg.allocate_many(&names, "w", &tcp()).unwrap();
    let mut child = std::process::Command::new("sleep")
        .arg("60")
        .spawn()
        .unwrap();
    let owned = LeaseOptions {
        pid: Some(child.id()),
        ..tcp()
    };
    assert_eq!(reg.allocate("dying", "w", &owned).unwrap(), p + 59);
    child.kill().unwrap();
    child.wait().unwrap();
    assert_eq!(reg.allocate("b", "w", &tcp()).unwrap(), p + 59);
}
