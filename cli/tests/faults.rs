//! Faults of the disk and the file system: each gives a clear error, leaves the old registry
//! intact, and touches no file but portpool's own.

mod common;

use common::*;
use std::fs;
use std::io::Write;
use std::os::unix::fs::PermissionsExt;
use std::path::{Path, PathBuf};
use std::process::Command;

fn is_root() -> bool {
    // SAFETY: geteuid has no preconditions.
    unsafe { libc::geteuid() == 0 }
}

/// A small tmpfs, unmounted on drop. `None` where this process may not mount.
struct Tmpfs {
    _dir: tempfile::TempDir,
    mnt: PathBuf,
}

impl Tmpfs {
    fn new(size: &str) -> Option<Tmpfs> {
        let dir = tempfile::tempdir().unwrap();
        let mnt = dir.path().join("mnt");
        fs::create_dir(&mnt).unwrap();
        let mounted = Command::new("mount")
            .args([
                "-t",
                "tmpfs",
                "-o",
                &format!("size={size},mode=0755"),
                "tmpfs",
            ])
            .arg(&mnt)
            .status()
            .is_ok_and(|s| s.success());
        mounted.then_some(Tmpfs { _dir: dir, mnt })
    }

    fn remount(&self, options: &str) {
        let status = Command::new("mount")
            .args(["-o", &format!("remount,{options}")])
            .arg(&self.mnt)
            .status()
            .unwrap();
        assert!(status.success());
    }
}

impl Drop for Tmpfs {
    fn drop(&mut self) {
        let _ = Command::new("umount").arg("-l").arg(&self.mnt).status();
    }
}

fn fails_with(reg: &Path, args: &[&str], code: i32, needle: &str) {
    let out = pp(reg, args);
    let err = stderr(&out);
    assert_eq!(out.status.code(), Some(code), "{args:?}: {err}");
    assert!(
        err.starts_with("portpool: ") && err.lines().count() == 1,
        "{err:?}"
    );
    assert!(
        err.contains(needle),
        "{args:?}: {err:?} should say {needle:?}"
    );
}

fn temp_files(dir: &Path) -> Vec<String> {
    fs::read_dir(dir)
        .unwrap()
        .map(|e| e.unwrap().file_name().to_string_lossy().into_owned())
        .filter(|n| n.starts_with(".registry.json."))
        .collect()
}

#[test]
fn a_full_disk_is_a_clear_error_and_the_old_registry_stays() {
    let Some(fs_) = Tmpfs::new("256k") else {
        eprintln!("cannot mount a tmpfs here; the disk-full case is not exercised");
        assert!(!is_root(), "root must be able to mount a tmpfs");
        return;
    };
    let reg = fs_.mnt.join("registry.json");
    for i in 0..5 {
        ok(&reg, &["register", &format!("svc{i}"), "22000"]);
    }
    let before = fs::read(&reg).unwrap();
    let mut filler = fs::File::create(fs_.mnt.join("filler")).unwrap();
    let block = vec![0u8; 4096];
    while filler.write_all(&block).is_ok() {}
    drop(filler);
    fails_with(
        &reg,
        &["register", "one-more", "22000"],
        5,
        "No space left on device",
    );
    fails_with(&reg, &["release", "svc0"], 5, "No space left on device");
    assert_eq!(fs::read(&reg).unwrap(), before);
    assert!(
        temp_files(&fs_.mnt).is_empty(),
        "{:?}",
        temp_files(&fs_.mnt)
    );
    assert_eq!(leases(&reg).len(), 5, "reads still work");
    fs::remove_file(fs_.mnt.join("filler")).unwrap();
    ok(&reg, &["register", "one-more", "22000"]);
}

#[test]
fn a_read_only_file_system_is_a_registry_error_and_reads_still_work() {
    let Some(fs_) = Tmpfs::new("1m") else {
        assert!(!is_root(), "root must be able to mount a tmpfs");
        return;
    };
    let reg = fs_.mnt.join("registry.json");
    ok(&reg, &["register", "web", "22000"]);
    let before = fs::read(&reg).unwrap();
    fs_.remount("ro");
    fails_with(
        &reg,
        &["register", "api", "22000"],
        5,
        "Read-only file system",
    );
    assert!(ok(&reg, &["get", "web"]).parse::<u16>().unwrap() >= 22000);
    assert_eq!(fs::read(&reg).unwrap(), before);
    fs_.remount("rw");
}

#[test]
fn a_directory_the_user_may_not_write_is_a_registry_error_naming_the_file() {
    if !is_root() {
        return; // Needs root to become another user.
    }
    let s = scratch();
    fs::set_permissions(s.dir.path(), fs::Permissions::from_mode(0o755)).unwrap();
    ok(&s.path, &["register", "web", "22000"]);
    let before = fs::read(&s.path).unwrap();
    let as_nobody = |args: &[&str]| {
        Command::new("setpriv")
            .args([
                "--reuid=65534",
                "--regid=65534",
                "--clear-groups",
                BIN,
                "--registry",
            ])
            .arg(&s.path)
            .args(args)
            .output()
            .unwrap()
    };
    let out = as_nobody(&["register", "api", "22000"]);
    assert_eq!(out.status.code(), Some(5), "{}", stderr(&out));
    let err = stderr(&out);
    assert!(
        err.contains("Permission denied") && err.contains(s.path.to_str().unwrap()),
        "{err}"
    );
    let out = as_nobody(&["list", "--json"]);
    assert!(
        out.status.success(),
        "reading needs no write access: {}",
        stderr(&out)
    );
    assert_eq!(fs::read(&s.path).unwrap(), before);
}

#[test]
fn a_registry_replaced_by_garbage_is_refused_and_left_as_it_is() {
    let s = scratch();
    ok(&s.path, &["register", "web", "22000"]);
    let mut garbage = vec![0u8; 4096];
    fs::File::open("/dev/urandom")
        .and_then(|mut f| std::io::Read::read_exact(&mut f, &mut garbage))
        .unwrap();
    fs::write(&s.path, &garbage).unwrap();
    for args in [
        &["register", "api", "22000"][..],
        &["list"],
        &["gc"],
        &["handover", "web"],
    ] {
        fails_with(&s.path, args, 5, s.path.to_str().unwrap());
    }
    assert_eq!(fs::read(&s.path).unwrap(), garbage);
}

#[test]
fn symlinks_at_the_lock_or_temporary_paths_never_touch_their_target() {
    let s = scratch();
    let victim = s.dir.path().join("victim");
    fs::write(&victim, b"precious").unwrap();
    let lock = s.dir.path().join("registry.json.lock");
    std::os::unix::fs::symlink(&victim, &lock).unwrap();
    fails_with(&s.path, &["register", "web", "22000"], 5, "symbolic link");
    assert_eq!(fs::read(&victim).unwrap(), b"precious");
    fs::remove_file(&lock).unwrap();
    // Links planted where temporary files are made: never written through, never removed.
    let alphabet: Vec<char> = ('a'..='z').chain('A'..='Z').chain('0'..='9').collect();
    let mut planted = Vec::new();
    for i in 0..300usize {
        let suffix: String = (0..6)
            .map(|k| alphabet[(i * 7 + k * 13 + i / 5) % 62])
            .collect();
        let link = s.dir.path().join(format!(".registry.json.{suffix}"));
        if std::os::unix::fs::symlink(&victim, &link).is_ok() {
            planted.push(link);
        }
    }
    for i in 0..20 {
        ok(&s.path, &["register", &format!("svc{i}"), "22000"]);
    }
    assert_eq!(fs::read(&victim).unwrap(), b"precious");
    assert!(planted.iter().all(|l| l.is_symlink()));
    assert_eq!(leases(&s.path).len(), 20);
}
