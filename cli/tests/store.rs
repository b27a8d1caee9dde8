//! The registry file under attack and under stopped or killed writers: lock timeouts and
//! `Busy`, kills between an append and its flush, files that are not regular files, modes
//! whatever the umask, owners and modes across rewrites, and no litter on refused paths.

mod common;

use common::*;
use std::fs;
use std::os::unix::fs::{MetadataExt, PermissionsExt};
use std::os::unix::process::CommandExt;
use std::path::Path;
use std::process::{Child, Command, Output, Stdio};
use std::time::{Duration, Instant};

fn is_root() -> bool {
    // SAFETY: geteuid has no preconditions.
    unsafe { libc::geteuid() == 0 }
}

/// Runs `cmd` to its end, failing the test (rather than hanging it) after a minute.
fn finish(cmd: &mut Command) -> Output {
    let child = cmd
        .stdout(Stdio::piped())
        .stderr(Stdio::piped())
        .spawn()
        .unwrap();
    let pid = child.id();
    let (tx, rx) = std::sync::mpsc::channel();
    std::thread::spawn(move || {
        let _ = tx.send(child.wait_with_output());
    });
    match rx.recv_timeout(Duration::from_secs(60)) {
        Ok(out) => out.unwrap(),
        Err(_) => {
            // SAFETY: kill has no memory-safety preconditions; the pid is our child's.
            unsafe { libc::kill(pid as i32, libc::SIGKILL) };
            panic!("portpool hung for a minute");
        }
    }
}

fn portpool(reg: &Path, args: &[&str]) -> Command {
    let mut cmd = Command::new(BIN);
    cmd.arg("--registry")
        .arg(reg)
        .args(args)
        .env_remove("PORTPOOL_REGISTRY")
        .env_remove("PORTPOOL_LOCK_TIMEOUT")
        .env_remove("PORTPOOL_TEST_PAUSE");
    cmd
}

/// A writer of `args` that stops at `pause` ("appended": holding the lock; "flush": after
/// the unlock, before its flush) for a minute, once its line is in the file.
fn paused_writer(reg: &Path, args: &[&str], pause: &str) -> Child {
    portpool(reg, args)
        .env("PORTPOOL_TEST_PAUSE", format!("{pause}:60000"))
        .stdout(Stdio::piped())
        .stderr(Stdio::null())
        .spawn()
        .unwrap()
}

fn wait_for_line(reg: &Path, needle: &str) {
    let deadline = Instant::now() + Duration::from_secs(30);
    while !fs::read_to_string(reg).unwrap_or_default().contains(needle) {
        assert!(Instant::now() < deadline, "{needle} never reached the file");
        std::thread::sleep(Duration::from_millis(10));
    }
}

fn signal(child: &Child, sig: i32) {
    // SAFETY: kill has no memory-safety preconditions; the pid is our child's.
    unsafe { libc::kill(child.id() as i32, sig) };
}

fn one_line_error(out: &Output, code: i32) -> String {
    let err = stderr(out);
    assert_eq!(out.status.code(), Some(code), "{err}");
    assert!(
        err.starts_with("portpool: ") && err.lines().count() == 1,
        "{err:?}"
    );
    err
}

#[test]
fn a_sigstopped_lock_holder_makes_changes_fail_with_busy_and_reads_go_on() {
    let s = scratch();
    let p = free_block(3);
    ok(&s.path, &["register", "first", &p.to_string()]);
    let mut holder = paused_writer(
        &s.path,
        &["register", "held", &(p + 1).to_string()],
        "appended",
    );
    wait_for_line(&s.path, "\"held\"");
    signal(&holder, libc::SIGSTOP);

    let out = finish(&mut portpool(
        &s.path,
        &["--wait", "0.5", "register", "x", &(p + 2).to_string()],
    ));
    let err = one_line_error(&out, 6);
    assert!(err.contains("busy"), "{err}");
    assert!(err.contains(&format!("pid {}", holder.id())), "{err}");
    let out = finish(portpool(&s.path, &["release", "first"]).env("PORTPOOL_LOCK_TIMEOUT", "0.2"));
    one_line_error(&out, 6);
    // Reads take no lock: they see even the stopped writer's change.
    assert_eq!(ok(&s.path, &["get", "held"]), (p + 1).to_string());
    assert_eq!(leases(&s.path).len(), 2);

    signal(&holder, libc::SIGKILL);
    holder.wait().unwrap();
    assert_eq!(
        ok(
            &s.path,
            &["--wait", "5", "register", "x", &(p + 2).to_string()]
        ),
        (p + 2).to_string()
    );
}

#[test]
fn another_users_flock_on_the_lock_file_is_busy_naming_its_pid() {
    if Command::new("flock").arg("-V").output().is_err() {
        eprintln!("no flock(1) here; skipped");
        return;
    }
    let s = scratch();
    let p = free_block(2);
    ok(&s.path, &["register", "a", &p.to_string()]);
    let mut flock = Command::new("flock")
        .arg("-x")
        .arg(s.path.with_file_name("registry.json.lock"))
        .args(["sleep", "600"])
        .process_group(0)
        .spawn()
        .unwrap();
    let deadline = Instant::now() + Duration::from_secs(30);
    let err = loop {
        let out = finish(&mut portpool(
            &s.path,
            &["--wait", "0", "register", "b", &(p + 1).to_string()],
        ));
        if out.status.code() == Some(6) {
            break one_line_error(&out, 6);
        }
        // flock(1) may not hold the lock yet: that register went through (and the next one
        // finds "b" leased, but still takes the lock to look).
        assert!(out.status.success(), "{}", stderr(&out));
        assert!(Instant::now() < deadline, "flock(1) never took the lock");
        std::thread::sleep(Duration::from_millis(20));
    };
    assert!(err.contains(&format!("pid {}", flock.id())), "{err}");
    // SAFETY: kill has no memory-safety preconditions; the group is flock's and sleep's.
    unsafe { libc::kill(-(flock.id() as i32), libc::SIGKILL) };
    flock.wait().unwrap();
}

#[test]
fn wait_takes_seconds_and_refuses_anything_else() {
    let s = scratch();
    for bad in ["abc", "-1", "1e40"] {
        let out = pp(&s.path, &["--wait", bad, "list"]);
        one_line_error(&out, 2);
    }
    let out = finish(portpool(&s.path, &["list"]).env("PORTPOOL_LOCK_TIMEOUT", "soon"));
    let err = one_line_error(&out, 2);
    assert!(err.contains("PORTPOOL_LOCK_TIMEOUT"), "{err}");
    assert!(stdout(&pp(&s.path, &["--help"])).contains("--wait"));
}

#[test]
fn a_writer_killed_between_its_append_and_its_flush_leaves_a_whole_registry() {
    let s = scratch();
    let p = free_block(12);
    ok(&s.path, &["register", "base", &p.to_string()]);
    for i in 1..6u16 {
        let name = format!("killed-{i}");
        let writer = paused_writer(&s.path, &["register", &name, &(p + i).to_string()], "flush");
        wait_for_line(&s.path, &format!("\"{name}\""));
        // The lock is free while the writer waits for its flush: others go on.
        let other = format!("other-{i}");
        assert_eq!(
            ok(
                &s.path,
                &["--wait", "0", "register", &other, &(p + 6 + i).to_string()]
            ),
            (p + 6 + i).to_string()
        );
        signal(&writer, libc::SIGKILL);
        let out = writer.wait_with_output().unwrap();
        assert!(
            out.stdout.is_empty(),
            "the killed writer acknowledged nothing"
        );
        // Its change was appended whole and stays: visible, and in a file that parses.
        assert_eq!(ok(&s.path, &["get", &name]), (p + i).to_string());
        assert_eq!(leases(&s.path).len(), 1 + 2 * i as usize);
    }
    for line in fs::read_to_string(&s.path).unwrap().lines() {
        serde_json::from_str::<serde_json::Value>(line).unwrap();
    }
}

#[test]
fn fifos_sockets_devices_and_directories_are_refused_at_once_and_left_alone() {
    let s = scratch();
    let p = free_block(1).to_string();
    let reg = &s.path;
    let lock = reg.with_file_name("registry.json.lock");
    let mkfifo = |path: &Path| {
        let c = std::ffi::CString::new(path.as_os_str().as_encoded_bytes()).unwrap();
        // SAFETY: a valid NUL-terminated path.
        assert_eq!(unsafe { libc::mkfifo(c.as_ptr(), 0o644) }, 0);
    };
    let refused = |args: &[&str]| {
        let out = finish(&mut portpool(reg, args));
        let err = one_line_error(&out, 5);
        assert!(err.contains("is not a regular file"), "{err}");
    };

    mkfifo(reg);
    refused(&["list"]);
    refused(&["register", "web", &p]);
    assert!(
        !lock.exists(),
        "no lock file was made for a refused registry"
    );
    assert!(fs::symlink_metadata(reg).unwrap().file_type().is_fifo());
    fs::remove_file(reg).unwrap();

    fs::create_dir(reg).unwrap();
    refused(&["get", "web"]);
    refused(&["register", "web", &p]);
    assert!(!lock.exists());
    fs::remove_dir(reg).unwrap();

    let socket = std::os::unix::net::UnixListener::bind(reg).unwrap();
    refused(&["register", "web", &p]);
    assert!(!lock.exists());
    drop(socket);
    fs::remove_file(reg).unwrap();

    mkfifo(&lock);
    refused(&["register", "web", &p]);
    assert!(!reg.exists(), "nothing was written");
    ok(reg, &["list"]);
    fs::remove_file(&lock).unwrap();

    fs::create_dir(&lock).unwrap();
    refused(&["register", "web", &p]);
    fs::remove_dir(&lock).unwrap();

    if is_root() {
        let c = std::ffi::CString::new(lock.as_os_str().as_encoded_bytes()).unwrap();
        // SAFETY: a valid path; the device is /dev/null's (1, 3).
        let made = unsafe { libc::mknod(c.as_ptr(), libc::S_IFCHR | 0o666, libc::makedev(1, 3)) };
        if made == 0 {
            refused(&["register", "web", &p]);
            fs::remove_file(&lock).unwrap();
        }
    }
    // A device as the registry: refused, and no lock file beside it.
    let out = finish(&mut portpool(
        Path::new("/dev/null"),
        &["register", "web", &p],
    ));
    one_line_error(&out, 5);
    assert!(!Path::new("/dev/null.lock").exists());
    ok(reg, &["register", "web", &p]);
}

use std::os::unix::fs::FileTypeExt;

#[test]
fn files_and_directories_get_their_modes_whatever_the_umask() {
    for umask in [0o077, 0o000, 0o027] {
        let s = scratch();
        let reg = s.dir.path().join("a/b/registry.json");
        let mut cmd = portpool(&reg, &["register", "web", &free_block(1).to_string()]);
        // SAFETY: umask is async-signal-safe.
        unsafe {
            cmd.pre_exec(move || {
                libc::umask(umask);
                Ok(())
            });
        }
        let out = finish(&mut cmd);
        assert!(out.status.success(), "{}", stderr(&out));
        let mode = |p: &Path| fs::metadata(p).unwrap().mode() & 0o777;
        assert_eq!(mode(&reg), 0o644, "umask {umask:o}");
        assert_eq!(
            mode(&reg.with_file_name("registry.json.lock")),
            0o644,
            "umask {umask:o}"
        );
        assert_eq!(mode(&s.dir.path().join("a")), 0o755, "umask {umask:o}");
        assert_eq!(mode(&s.dir.path().join("a/b")), 0o755, "umask {umask:o}");
    }
}

#[test]
fn refused_registries_leave_nothing_behind_and_only_provably_own_temporary_files_go() {
    let s = scratch();
    let p = free_block(2);
    fs::write(&s.path, "just some text\n").unwrap();
    let out = finish(&mut portpool(&s.path, &["register", "web", &p.to_string()]));
    one_line_error(&out, 5);
    assert!(!s.path.with_file_name("registry.json.lock").exists());
    assert_eq!(fs::read_to_string(&s.path).unwrap(), "just some text\n");
    fs::remove_file(&s.path).unwrap();

    // A registry reached through a symbolic link to a directory of someone's files.
    let real = s.dir.path().join("real");
    fs::create_dir(&real).unwrap();
    let link = s.dir.path().join("link");
    std::os::unix::fs::symlink(&real, &link).unwrap();
    let reg = link.join("registry.json");
    ok(&reg, &["register", "first", &p.to_string()]);
    let ino = fs::metadata(&reg).unwrap().ino();
    let planted = [
        real.join(".registry.json.AbC123"),
        real.join(".registry.json.0123456789abcdef.tmp"),
    ];
    for f in &planted {
        fs::write(f, "precious").unwrap();
    }
    // What a writer killed in mid-rewrite leaves: the name and the start of the header.
    let abandoned = real.join(".registry.json.fedcba9876543210.tmp");
    fs::write(&abandoned, "{\"vers").unwrap();
    // Changes until the next rewrite (one per 256 changes on a small registry).
    for i in 0..300 {
        let name = format!("w{i}");
        ok(
            &reg,
            &["register", &name, &(p + 1).to_string(), "--pid", "1"],
        );
        ok(&reg, &["release", &name]);
        if fs::metadata(&reg).unwrap().ino() != ino {
            break;
        }
    }
    assert_ne!(
        fs::metadata(&reg).unwrap().ino(),
        ino,
        "no rewrite happened"
    );
    for f in &planted {
        assert_eq!(
            fs::read_to_string(f).unwrap(),
            "precious",
            "{}",
            f.display()
        );
    }
    assert!(
        !abandoned.exists(),
        "an abandoned temporary file of portpool's is removed"
    );
}

fn as_nobody(reg: &Path, args: &[&str]) -> Output {
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
    .env_remove("PORTPOOL_REGISTRY");
    finish(&mut cmd)
}

#[test]
fn a_user_who_may_not_write_the_registry_cannot_replace_it_even_in_an_open_directory() {
    if !is_root() {
        return; // Needs root to become another user.
    }
    let s = scratch();
    // World-writable, no sticky bit: anyone may rename over anything here.
    fs::set_permissions(s.dir.path(), fs::Permissions::from_mode(0o777)).unwrap();
    let p = free_block(2);
    ok(&s.path, &["register", "web", &p.to_string()]);
    let before = (fs::read(&s.path).unwrap(), fs::metadata(&s.path).unwrap());
    let out = as_nobody(&s.path, &["register", "api", &(p + 1).to_string()]);
    let err = one_line_error(&out, 5);
    assert!(
        err.contains("Permission denied") && err.contains(s.path.to_str().unwrap()),
        "{err}"
    );
    let after = fs::metadata(&s.path).unwrap();
    assert_eq!(fs::read(&s.path).unwrap(), before.0);
    assert_eq!((after.ino(), after.uid()), (before.1.ino(), 0));
    assert!(
        as_nobody(&s.path, &["list"]).status.success(),
        "reading needs no write access"
    );
}

#[test]
fn a_rewrite_keeps_the_owner_where_it_can_and_never_widens_access() {
    if !is_root() {
        return; // Needs root to make files of other users.
    }
    let p = free_block(2).to_string();
    let rewrite = |reg: &Path, run: &dyn Fn(&[&str]) -> Output| {
        let ino = fs::metadata(reg).unwrap().ino();
        for i in 0..300 {
            let name = format!("w{i}");
            assert!(run(&["register", &name, &p, "--pid", "1"]).status.success());
            assert!(run(&["release", &name]).status.success());
            if fs::metadata(reg).unwrap().ino() != ino {
                return;
            }
        }
        panic!("no rewrite happened");
    };
    let chown = |path: &Path, uid: u32, gid: u32| {
        std::os::unix::fs::chown(path, Some(uid), Some(gid)).unwrap()
    };

    // Root rewrites nobody's file: owner, group and mode stay.
    let s = scratch();
    ok(&s.path, &["register", "web", &p]);
    chown(&s.path, 65534, 65534);
    fs::set_permissions(&s.path, fs::Permissions::from_mode(0o640)).unwrap();
    rewrite(&s.path, &|args| pp(&s.path, args));
    let meta = fs::metadata(&s.path).unwrap();
    assert_eq!(
        (meta.uid(), meta.gid(), meta.mode() & 0o777),
        (65534, 65534, 0o640)
    );

    // Nobody never takes over root's file, which others may write: a new file would be
    // nobody's, so without a spare (which portpool init makes for a host registry) nobody
    // appends and leaves the compaction to root, whose next write does it.
    let s = scratch();
    fs::set_permissions(s.dir.path(), fs::Permissions::from_mode(0o777)).unwrap();
    ok(&s.path, &["register", "web", &p]);
    chown(&s.path, 0, 100);
    fs::set_permissions(&s.path, fs::Permissions::from_mode(0o676)).unwrap();
    let ino = fs::metadata(&s.path).unwrap().ino();
    for i in 0..70 {
        let name = format!("w{i}");
        assert!(
            as_nobody(&s.path, &["register", &name, &p, "--pid", "1"])
                .status
                .success()
        );
        assert!(as_nobody(&s.path, &["release", &name]).status.success());
    }
    let meta = fs::metadata(&s.path).unwrap();
    assert_eq!(
        (meta.ino(), meta.uid(), meta.gid(), meta.mode() & 0o777),
        (ino, 0, 100, 0o676),
        "nobody rewrote root's file"
    );
    rewrite(&s.path, &|args| pp(&s.path, args));
    let meta = fs::metadata(&s.path).unwrap();
    assert_eq!(
        (meta.uid(), meta.gid(), meta.mode() & 0o777),
        (0, 100, 0o676)
    );
    assert!(ok(&s.path, &["get", "web"]).parse::<u16>().is_ok());
}
