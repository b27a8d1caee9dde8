//! Compaction by writers who may not replace the registry's name (members of a host
//! registry's group, in its sticky directory): it keeps the inode, stays bounded, survives a
//! kill at each step, and says so when it cannot happen. And a writer stopped under the lock
//! while its lock file was deleted writes nothing.

mod common;

use common::*;
use std::fs;
use std::os::unix::fs::{MetadataExt, PermissionsExt};
use std::path::Path;
use std::process::{Child, Command, Output, Stdio};
use std::time::{Duration, Instant};

fn is_root() -> bool {
    // SAFETY: geteuid has no preconditions.
    unsafe { libc::geteuid() == 0 }
}

/// A port free now, for this test's leases.
fn port() -> u16 {
    std::net::TcpListener::bind("127.0.0.1:0")
        .unwrap()
        .local_addr()
        .unwrap()
        .port()
}

/// `portpool --registry REG ARGS` as user nobody (uid 65534, no groups).
fn nobody(reg: &Path, args: &[&str]) -> Command {
    let mut cmd = Command::new("setpriv");
    cmd.args([
        "--reuid=65534",
        "--regid=65534",
        "--clear-groups",
        BIN,
        "--registry",
    ])
    .arg(reg)
    .args(args)
    .env_remove("PORTPOOL_REGISTRY")
    .env_remove("PORTPOOL_TEST_PAUSE");
    cmd
}

fn run(cmd: &mut Command) -> Output {
    cmd.output().unwrap()
}

/// A host-like registry: a sticky directory anyone may write (as a host registry's group
/// may: members can add names but replace none they do not own), a registry of root's
/// that others may write holding `web`, and `tail` change lines appended after its
/// snapshot, so that the next change asks for a compaction. With `spare`, the spare
/// `portpool init` makes (the registry's owner, group and mode).
fn host_like(tail: usize, spare: bool) -> (Scratch, u16) {
    let s = scratch();
    fs::set_permissions(s.dir.path(), fs::Permissions::from_mode(0o1777)).unwrap();
    let p = port();
    ok(&s.path, &["register", "web", &p.to_string()]);
    let mut bytes = fs::read(&s.path).unwrap();
    for _ in 0..tail {
        bytes.extend_from_slice(b"{\"cursors\":{\"default\":9000}}\n");
    }
    fs::write(&s.path, &bytes).unwrap();
    for path in [s.path.clone(), s.dir.path().join("registry.json.lock")] {
        fs::set_permissions(&path, fs::Permissions::from_mode(0o666)).unwrap();
    }
    if spare {
        let spare = s.dir.path().join(".registry.json.spare");
        fs::write(&spare, b"").unwrap();
        fs::set_permissions(&spare, fs::Permissions::from_mode(0o666)).unwrap();
    }
    (s, p)
}

#[test]
fn a_member_compacts_in_place_in_a_sticky_directory_and_the_registry_keeps_its_inode_and_owner() {
    if !is_root() {
        return; // Needs root to become another user.
    }
    let (s, p) = host_like(300, true);
    let before = fs::metadata(&s.path).unwrap();
    let out = run(&mut nobody(
        &s.path,
        &["register", "api", &(p + 1).to_string(), "--pid", "1"],
    ));
    assert!(out.status.success(), "{}", stderr(&out));
    assert!(out.stderr.is_empty(), "no warning: {}", stderr(&out));
    let after = fs::metadata(&s.path).unwrap();
    assert_eq!(
        (after.ino(), after.uid(), after.mode() & 0o7777),
        (before.ino(), 0, 0o666)
    );
    assert!(
        after.len() < before.len() / 10,
        "compacted: {} -> {} bytes",
        before.len(),
        after.len()
    );
    let text = fs::read_to_string(&s.path).unwrap();
    assert!(
        text.starts_with("{\"version\":2,\"generation\":\""),
        "{text}"
    );
    assert_eq!(ok(&s.path, &["get", "web"]), p.to_string());
    assert_eq!(ok(&s.path, &["get", "api"]), (p + 1).to_string());
    // Members keep it bounded on a host where root never writes.
    let q = (p + 3).to_string();
    for i in 0..300 {
        let name = format!("w{i}");
        let reg = &s.path;
        let out = run(&mut nobody(reg, &["register", &name, &q, "--pid", "1"]));
        assert!(out.status.success(), "{}", stderr(&out));
        assert!(run(&mut nobody(reg, &["release", &name])).status.success());
    }
    let last = fs::metadata(&s.path).unwrap();
    assert_eq!(last.ino(), before.ino());
    assert!(last.len() < 64 << 10, "bounded: {} bytes", last.len());
}

#[test]
fn a_member_without_a_usable_spare_says_so_once_and_doctor_reports_the_growth() {
    if !is_root() {
        return; // Needs root to become another user.
    }
    let (s, p) = host_like(600, false);
    let out = run(&mut nobody(
        &s.path,
        &["register", "api", &(p + 1).to_string(), "--pid", "1"],
    ));
    assert!(out.status.success(), "{}", stderr(&out));
    let err = stderr(&out);
    assert_eq!(err.lines().count(), 1, "{err}");
    assert!(
        err.starts_with("portpool: warning: ") && err.contains("cannot be compacted"),
        "{err}"
    );
    let doctor = pp(&s.path, &["doctor", "--fail-on", "uncompacted"]);
    assert_eq!(doctor.status.code(), Some(1), "{}", stdout(&doctor));
    assert!(
        stdout(&doctor).contains("[uncompacted]"),
        "{}",
        stdout(&doctor)
    );
    // Its owner's next change compacts it.
    ok(&s.path, &["release", "api"]);
    let doctor = pp(&s.path, &["doctor", "--fail-on", "uncompacted"]);
    assert!(doctor.status.success(), "{}", stdout(&doctor));
}

fn wait_for(what: &str, mut done: impl FnMut() -> bool) {
    let deadline = Instant::now() + Duration::from_secs(30);
    while !done() {
        assert!(Instant::now() < deadline, "{what} never happened");
        std::thread::sleep(Duration::from_millis(10));
    }
}

fn kill(child: &mut Child) {
    // SAFETY: kill has no memory-safety preconditions; the pid is our child's.
    unsafe { libc::kill(child.id() as i32, libc::SIGKILL) };
    let _ = child.wait();
}

#[test]
fn a_member_killed_at_any_step_of_a_compaction_in_place_loses_nothing() {
    if !is_root() {
        return; // Needs root to become another user.
    }
    for (step, sign) in [
        ("spare", None),
        ("copying", Some("\"copying\"")),
        ("copied", Some("\"copying\"")),
    ] {
        let (s, p) = host_like(300, true);
        let ino = fs::metadata(&s.path).unwrap().ino();
        let mut child = nobody(
            &s.path,
            &["register", "api", &(p + 1).to_string(), "--pid", "1"],
        )
        .env("PORTPOOL_TEST_PAUSE", format!("{step}:60000"))
        .stdout(Stdio::null())
        .stderr(Stdio::null())
        .spawn()
        .unwrap();
        let spare = s.dir.path().join(".registry.json.spare");
        wait_for(step, || {
            let spare_full = fs::read(&spare).is_ok_and(|b| b.ends_with(b"\n"));
            let text = fs::read(&s.path).unwrap_or_default();
            spare_full
                && sign
                    .is_none_or(|needle| text.windows(needle.len()).any(|w| w == needle.as_bytes()))
        });
        // Readers meanwhile see the whole registry.
        assert_eq!(ok(&s.path, &["get", "web"]), p.to_string(), "{step}");
        kill(&mut child);
        assert_eq!(ok(&s.path, &["get", "web"]), p.to_string(), "{step}");
        // The next writer (a member) finishes what was left, and goes on.
        let out = run(&mut nobody(
            &s.path,
            &["register", "next", &(p + 2).to_string(), "--pid", "1"],
        ));
        assert!(out.status.success(), "{step}: {}", stderr(&out));
        let text = fs::read_to_string(&s.path).unwrap();
        assert!(
            text.starts_with("{\"version\":2,\"generation\":\""),
            "{step}: {text}"
        );
        assert!(!text.contains("copying"), "{step}");
        assert_eq!(fs::metadata(&s.path).unwrap().ino(), ino, "{step}");
        assert_eq!(ok(&s.path, &["get", "web"]), p.to_string(), "{step}");
        assert_eq!(ok(&s.path, &["get", "next"]), (p + 2).to_string(), "{step}");
        // The killed change was never acknowledged: it is there whole or not at all.
        let api = pp(&s.path, &["get", "api"]);
        assert!(matches!(api.status.code(), Some(0 | 1)), "{step}");
    }
}

/// Whether someone holds the flock on `lock`.
fn lock_held(lock: &Path) -> bool {
    use std::os::fd::AsRawFd;
    let Ok(file) = fs::File::open(lock) else {
        return false;
    };
    // SAFETY: flock on a descriptor this test owns.
    let got = unsafe { libc::flock(file.as_raw_fd(), libc::LOCK_EX | libc::LOCK_NB) } == 0;
    if got {
        // SAFETY: as above.
        unsafe { libc::flock(file.as_raw_fd(), libc::LOCK_UN) };
    }
    !got
}

#[test]
fn a_writer_stopped_under_the_lock_whose_lock_file_was_deleted_writes_nothing() {
    let s = scratch();
    let p = port();
    ok(&s.path, &["register", "web", &p.to_string()]);
    let lock = s.dir.path().join("registry.json.lock");
    let q = (p + 1).to_string();
    let stopped = Command::new(BIN)
        .arg("--registry")
        .arg(&s.path)
        .args(["register", "first", &q])
        .env_remove("PORTPOOL_REGISTRY")
        .env("PORTPOOL_TEST_PAUSE", "locked:3000")
        .stdout(Stdio::piped())
        .stderr(Stdio::piped())
        .spawn()
        .unwrap();
    wait_for("the writer taking the lock", || lock_held(&lock));
    fs::remove_file(&lock).unwrap();
    // A second writer makes a new lock file and takes the same port.
    ok(&s.path, &["register", "second", &q]);
    let out = stopped.wait_with_output().unwrap();
    assert_eq!(out.status.code(), Some(6), "{}", stderr(&out));
    assert!(
        stderr(&out).contains("deleted or replaced"),
        "{}",
        stderr(&out)
    );
    assert_eq!(ok(&s.path, &["get", "second"]), q);
    assert_eq!(pp(&s.path, &["get", "first"]).status.code(), Some(1));
    assert!(
        pp(&s.path, &["doctor", "--fail-on", "uncompacted"])
            .status
            .success()
    );
}
