//! `portpool repair` on the command line: every refusal of a damaged file names it, it says
//! what it kept, lost and moved aside, it gives the registry and its lock back the owner,
//! group and modes their directory gives them, and it never touches a newer version's file.

mod common;

use common::*;
use std::fs;
use std::os::unix::fs::{MetadataExt, PermissionsExt};

fn is_root() -> bool {
    // SAFETY: geteuid has no preconditions.
    unsafe { libc::geteuid() == 0 }
}

fn port() -> u16 {
    std::net::TcpListener::bind("127.0.0.1:0")
        .unwrap()
        .local_addr()
        .unwrap()
        .port()
}

#[test]
fn repair_says_what_it_kept_lost_and_moved_and_every_command_works_again() {
    let s = scratch();
    let (p, q) = (port(), port());
    ok(&s.path, &["register", "web", &p.to_string()]);
    ok(&s.path, &["register", "api", &q.to_string()]);
    // A flipped byte in web's line (the snapshot's), before api's line.
    let mut bytes = fs::read(&s.path).unwrap();
    let at = bytes.windows(5).position(|w| w == b"\"web\"").unwrap();
    bytes[at + 2] = 0x02;
    fs::write(&s.path, &bytes).unwrap();
    for args in [
        &["list"][..],
        &["get", "api"],
        &["doctor"],
        &["release", "api"],
    ] {
        let err = fails(&s.path, args, 5);
        assert!(err.contains("portpool repair"), "{args:?}: {err}");
    }
    let out = ok(&s.path, &["repair"]);
    let lines: Vec<&str> = out.lines().collect();
    assert_eq!(lines[0], "repaired: kept 1 lease(s)", "{out}");
    assert!(
        lines[1].starts_with("lost: line 3: unreadable") && lines[1].contains("it named w"),
        "{out}"
    );
    assert!(lines[2].starts_with("moved aside: "), "{out}");
    let aside = lines[2].trim_start_matches("moved aside: ");
    assert_eq!(
        fs::read(aside).unwrap(),
        bytes,
        "the damaged file is kept as it was"
    );
    assert_eq!(ok(&s.path, &["get", "api"]), q.to_string());
    ok(&s.path, &["register", "web", &p.to_string()]);
    let json: serde_json::Value =
        serde_json::from_str(&ok(&s.path, &["repair", "--json"])).unwrap();
    assert_eq!(json["repaired"], false);
    assert_eq!(json["kept"], 2);
}

#[test]
fn repair_puts_an_empty_registry_where_one_was_deleted() {
    let s = scratch();
    ok(&s.path, &["register", "web", &port().to_string()]);
    fs::remove_file(&s.path).unwrap();
    let out = ok(&s.path, &["repair"]);
    assert_eq!(out, "repaired: kept 0 lease(s)");
    assert!(
        fs::read_to_string(&s.path)
            .unwrap()
            .starts_with("{\"version\":2,")
    );
    assert_eq!(ok(&s.path, &["list", "--json"]), "[]");
}

#[test]
fn repair_never_touches_a_newer_versions_file() {
    let s = scratch();
    let newer = "{\"version\":4}\n{\"v4\":{\"ranges\":[[1,2]]}}\n";
    fs::write(&s.path, newer).unwrap();
    let err = fails(&s.path, &["repair"], 5);
    assert!(err.contains("newer"), "{err}");
    assert_eq!(fs::read_to_string(&s.path).unwrap(), newer);
}

#[test]
fn repair_gives_a_host_registry_and_its_lock_back_their_owner_group_and_modes() {
    if !is_root() {
        return; // Needs root to make another user's files.
    }
    let s = scratch();
    let dir = s.dir.path();
    // As init sets a host registry up: root:GROUP, setgid and sticky, registry 0664, lock 0660.
    std::os::unix::fs::chown(dir, Some(0), Some(100)).unwrap();
    fs::set_permissions(dir, fs::Permissions::from_mode(0o3775)).unwrap();
    let p = port();
    ok(&s.path, &["register", "web", &p.to_string()]);
    fs::set_permissions(&s.path, fs::Permissions::from_mode(0o664)).unwrap();
    // A member's 0600 copy replaced the registry, and a FIFO the lock file.
    let copy = dir.join("copy");
    fs::copy(&s.path, &copy).unwrap();
    std::os::unix::fs::chown(&copy, Some(65534), Some(100)).unwrap();
    fs::set_permissions(&copy, fs::Permissions::from_mode(0o600)).unwrap();
    fs::rename(&copy, &s.path).unwrap();
    let lock = dir.join("registry.json.lock");
    fs::remove_file(&lock).unwrap();
    let fifo = std::ffi::CString::new(lock.to_str().unwrap()).unwrap();
    // SAFETY: a valid path.
    assert_eq!(unsafe { libc::mkfifo(fifo.as_ptr(), 0o666) }, 0);

    let out = ok(&s.path, &["repair"]);
    assert!(out.starts_with("repaired: kept 1 lease(s)"), "{out}");
    assert_eq!(out.matches("moved aside: ").count(), 2, "{out}");
    let registry = fs::metadata(&s.path).unwrap();
    assert_eq!(
        (registry.uid(), registry.gid(), registry.mode() & 0o7777),
        (0, 100, 0o664)
    );
    let lock = fs::symlink_metadata(&lock).unwrap();
    assert!(lock.is_file());
    assert_eq!(
        (lock.uid(), lock.gid(), lock.mode() & 0o7777),
        (0, 100, 0o660)
    );
    assert_eq!(ok(&s.path, &["get", "web"]), p.to_string());
}
