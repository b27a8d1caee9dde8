//! The store attacked as a disk or a neighbour would: holes and flipped bytes, planted and
//! replaced files, rewrites behind a long-lived handle's back, and `repair` as the way back
//! from each, on scratch registries through the public core API.

mod common;

use common::{free_block, open, scratch, tcp};
use std::fs;
use std::os::unix::fs::{FileTypeExt, MetadataExt, PermissionsExt};
use std::path::{Path, PathBuf};
use std::time::Duration;

use portpool_core::{ErrorKind, Mode, Registry};

fn names(reg: &Registry) -> Vec<String> {
    reg.list().unwrap().into_iter().map(|l| l.name).collect()
}

/// A registry of `n` fixed leases, written as a snapshot (the first of them) and change lines.
fn filled(path: &Path, n: u16) -> (Registry, u16) {
    let reg = open(path);
    let p = free_block(n + 4);
    for i in 0..n {
        reg.register(&format!("s{i}"), p + i, Mode::Fixed, &tcp())
            .unwrap();
    }
    (reg, p)
}

fn aside(dir: &Path, name: &str) -> Vec<PathBuf> {
    let mut found: Vec<PathBuf> = fs::read_dir(dir)
        .unwrap()
        .flatten()
        .map(|e| e.path())
        .filter(|p| {
            p.file_name()
                .unwrap()
                .to_string_lossy()
                .starts_with(&format!("{name}.damaged-"))
        })
        .collect();
    found.sort();
    found
}

fn assert_refused_naming_repair(path: &Path) {
    let err = open(path).list().unwrap_err();
    assert_eq!(err.kind(), ErrorKind::Registry, "{err}");
    assert!(err.message().contains("portpool repair"), "{err}");
}

#[test]
fn a_nul_block_before_lines_that_read_back_is_damage_never_cut_and_repair_keeps_what_follows() {
    let s = scratch();
    let (_, _) = filled(&s.path, 8);
    let mut bytes = fs::read(&s.path).unwrap();
    // A lost page in the middle of the file: the third line's bytes are zeroed.
    let starts: Vec<usize> = std::iter::once(0)
        .chain(
            bytes
                .iter()
                .enumerate()
                .filter(|(_, b)| **b == b'\n')
                .map(|(i, _)| i + 1),
        )
        .collect();
    let line = starts[2]..starts[3] - 1;
    bytes[line].fill(0);
    fs::write(&s.path, &bytes).unwrap();
    assert_refused_naming_repair(&s.path);
    // A writer refuses it too, and cuts nothing.
    let err = open(&s.path)
        .register("new", 1, Mode::Fixed, &tcp())
        .unwrap_err();
    assert_eq!(err.kind(), ErrorKind::Registry);
    assert_eq!(fs::read(&s.path).unwrap(), bytes, "never cut");

    let report = open(&s.path).repair().unwrap();
    assert!(report.repaired);
    // Line 3 held s0; every lease after the hole is kept.
    assert_eq!(report.kept, 7, "{report:?}");
    assert_eq!(report.lost.len(), 1, "{report:?}");
    assert!(
        report.lost[0].starts_with("line 3: unreadable"),
        "{report:?}"
    );
    let kept = names(&open(&s.path));
    assert_eq!(kept, ["s1", "s2", "s3", "s4", "s5", "s6", "s7"]);
    // The damaged file is kept, byte for byte.
    let moved = aside(s.dir.path(), "registry.json");
    assert_eq!(report.moved_aside, moved);
    assert_eq!(fs::read(&moved[0]).unwrap(), bytes);
}

#[test]
fn only_the_tail_after_the_last_line_that_reads_back_is_torn() {
    let s = scratch();
    let (reg, p) = filled(&s.path, 3);
    let whole = fs::read(&s.path).unwrap();
    // Garbage and NUL blocks with no line that reads back after them: a torn tail.
    let mut torn = whole.clone();
    torn.extend_from_slice(b"{\"leases\":[{\"na\n\0\0\0\0\n{\"del");
    fs::write(&s.path, &torn).unwrap();
    assert_eq!(names(&reg).len(), 3);
    reg.register("next", p + 3, Mode::Fixed, &tcp()).unwrap();
    let after = fs::read(&s.path).unwrap();
    assert_eq!(&after[..whole.len()], &whole[..]);
    assert_eq!(
        after[whole.len()..].iter().filter(|b| **b == b'\n').count(),
        1
    );
}

/// A damage done to a registry's bytes.
type Damage = fn(&mut Vec<u8>);

/// Each damage of the table, done to a registry of leases s0..s4 (line 3 holds s0,
/// lines 4-7 the others), and how many leases read back after it.
fn damages() -> [(&'static str, Damage, usize); 8] {
    [
        ("zeroed header", |b| b[..20].fill(0), 5),
        (
            "misspelt header",
            |b| {
                let at = b.windows(7).position(|w| w == b"version").unwrap();
                b[at + 6] = b'm';
            },
            5,
        ),
        ("empty file", |b| b.clear(), 0),
        ("NUL block mid-file", |b| nul_block(b), 4),
        (
            "flipped byte",
            |b| {
                let at = b.windows(4).position(|w| w == b"\"s2\"").unwrap();
                b[at + 1] = 0x01;
            },
            4,
        ),
        ("duplicated snapshot line", duplicated_line, 5),
        (
            "version-4 header",
            |b| {
                let end = b.iter().position(|c| *c == b'\n').unwrap();
                b.splice(..end, b"{\"version\":4}".iter().copied());
            },
            5,
        ),
        ("port collision", port_collision, 4),
    ]
}

/// 16 NUL bytes inside line 5 (s2's): header, pool, s0, s1, s2.
fn nul_block(b: &mut [u8]) {
    let at = b
        .iter()
        .enumerate()
        .filter(|(_, c)| **c == b'\n')
        .nth(3)
        .unwrap()
        .0;
    b[at + 10..at + 26].fill(0);
}

/// The first lease line of the snapshot, once more at the end.
fn duplicated_line(b: &mut Vec<u8>) {
    let first: Vec<u8> = b
        .split_inclusive(|c| *c == b'\n')
        .find(|l| l.starts_with(b"{\"lease\""))
        .unwrap()
        .to_vec();
    b.extend_from_slice(&first);
}

/// s3's port rewritten to s1's.
fn port_collision(b: &mut Vec<u8>) {
    let text = String::from_utf8(b.clone()).unwrap();
    let port = |name: &str| {
        let at = text
            .find(&format!("\"name\":\"{name}\",\"port\":"))
            .unwrap();
        text[at + 19..at + 24].to_owned()
    };
    let fixed = text.replacen(&port("s3"), &port("s1"), 1);
    *b = fixed.into_bytes();
}

/// Each damage of the table: refused naming `portpool repair` by readers and
/// writers, and one repair brings every command back with every lease that reads back.
#[test]
fn every_damage_is_refused_naming_repair_and_one_repair_brings_every_command_back() {
    for (what, damage, kept) in damages() {
        let s = scratch();
        let (_, p) = filled(&s.path, 5);
        let mut bytes = fs::read(&s.path).unwrap();
        damage(&mut bytes);
        fs::write(&s.path, &bytes).unwrap();
        let err = open(&s.path)
            .list()
            .err()
            .unwrap_or_else(|| panic!("{what}: read back"));
        assert!(err.message().contains("portpool repair"), "{what}: {err}");
        let err = open(&s.path)
            .register("w", p + 6, Mode::Fixed, &tcp())
            .unwrap_err();
        assert!(err.message().contains("portpool repair"), "{what}: {err}");
        assert_eq!(fs::read(&s.path).unwrap(), bytes, "{what}: left untouched");

        let report = open(&s.path).repair().unwrap();
        assert_eq!(report.kept, kept, "{what}: {report:?}");
        assert_eq!(report.moved_aside.len(), 1, "{what}");
        assert_eq!(fs::read(&report.moved_aside[0]).unwrap(), bytes, "{what}");
        let reg = open(&s.path);
        assert_eq!(names(&reg).len(), kept, "{what}");
        reg.register("w", p + 6, Mode::Fixed, &tcp()).unwrap();
        reg.release("w").unwrap();
        assert!(reg.doctor().is_ok(), "{what}");
        // A second repair has nothing left to do.
        assert!(!open(&s.path).repair().unwrap().repaired, "{what}");
    }
}

#[test]
fn a_newer_versions_file_is_never_repaired() {
    let s = scratch();
    let newer = b"{\"version\":4}\n{\"ranges\":[[1,2]],\"v4\":true}\n";
    fs::write(&s.path, newer).unwrap();
    let err = open(&s.path).repair().unwrap_err();
    assert!(err.message().contains("newer"), "{err}");
    assert_eq!(fs::read(&s.path).unwrap(), newer);
    assert!(aside(s.dir.path(), "registry.json").is_empty());
}

#[test]
fn repair_moves_planted_fifos_and_directories_aside_and_never_deletes() {
    let s = scratch();
    let (_, p) = filled(&s.path, 3);
    let lock = s.dir.path().join("registry.json.lock");
    fs::remove_file(&lock).unwrap();
    let fifo = std::ffi::CString::new(lock.to_str().unwrap()).unwrap();
    // SAFETY: a valid path.
    assert_eq!(unsafe { libc::mkfifo(fifo.as_ptr(), 0o644) }, 0);
    let err = open(&s.path)
        .register("w", p + 3, Mode::Fixed, &tcp())
        .unwrap_err();
    assert!(err.message().contains("portpool repair"), "{err}");
    let doctor = open(&s.path).doctor().unwrap_err();
    assert!(doctor.message().contains("portpool repair"), "{doctor}");
    let report = open(&s.path).repair().unwrap();
    assert_eq!((report.kept, report.repaired), (3, true), "{report:?}");
    let moved = aside(s.dir.path(), "registry.json.lock");
    assert_eq!(report.moved_aside, moved);
    assert!(
        fs::symlink_metadata(&moved[0])
            .unwrap()
            .file_type()
            .is_fifo()
    );
    open(&s.path)
        .register("w", p + 3, Mode::Fixed, &tcp())
        .unwrap();

    // A directory where the registry should be.
    let t = scratch();
    fs::create_dir(&t.path).unwrap();
    fs::write(t.path.join("inside"), b"kept").unwrap();
    assert_refused_naming_repair(&t.path);
    let report = open(&t.path).repair().unwrap();
    assert_eq!(report.kept, 0);
    assert_eq!(
        fs::read(report.moved_aside[0].join("inside")).unwrap(),
        b"kept"
    );
    open(&t.path)
        .register("w", p + 3, Mode::Fixed, &tcp())
        .unwrap();
}

#[test]
fn writers_refuse_registry_and_lock_files_with_more_than_one_link() {
    let s = scratch();
    let (reg, p) = filled(&s.path, 2);
    let other = s.dir.path().join("elsewhere");
    fs::hard_link(&s.path, &other).unwrap();
    let err = reg.register("w", p + 2, Mode::Fixed, &tcp()).unwrap_err();
    assert!(
        err.message().contains("links") && err.message().contains("portpool repair"),
        "{err}"
    );
    fs::remove_file(&other).unwrap();
    reg.register("w", p + 2, Mode::Fixed, &tcp()).unwrap();
    fs::hard_link(s.dir.path().join("registry.json.lock"), &other).unwrap();
    let err = open(&s.path)
        .register("x", p + 3, Mode::Fixed, &tcp())
        .unwrap_err();
    assert!(err.message().contains("links"), "{err}");
    let report = open(&s.path).repair().unwrap();
    assert_eq!(report.moved_aside.len(), 1, "{report:?}");
    open(&s.path)
        .register("x", p + 3, Mode::Fixed, &tcp())
        .unwrap();
}

#[test]
fn a_recreated_lock_file_gets_the_registrys_group_and_no_access_for_others() {
    let s = scratch();
    let (reg, p) = filled(&s.path, 1);
    fs::set_permissions(&s.path, fs::Permissions::from_mode(0o664)).unwrap();
    // SAFETY: geteuid has no preconditions.
    let gid = if unsafe { libc::geteuid() } == 0 {
        100
    } else {
        fs::metadata(&s.path).unwrap().gid()
    };
    std::os::unix::fs::chown(&s.path, None, Some(gid)).unwrap();
    let lock = s.dir.path().join("registry.json.lock");
    fs::remove_file(&lock).unwrap();
    // SAFETY: umask has no preconditions; a wide one must not widen the lock.
    let old = unsafe { libc::umask(0) };
    let made = reg.register("w", p + 1, Mode::Fixed, &tcp());
    // SAFETY: as above.
    unsafe { libc::umask(old) };
    made.unwrap();
    let meta = fs::metadata(&lock).unwrap();
    assert_eq!((meta.mode() & 0o777, meta.gid()), (0o660, gid));
}

#[test]
fn a_waiter_whose_lock_file_was_moved_aside_takes_the_lock_at_the_path() {
    let s = scratch();
    let (_, p) = filled(&s.path, 1);
    let lock = s.dir.path().join("registry.json.lock");
    // Someone holds the lock; a writer waits on the same inode.
    let holder = fs::File::open(&lock).unwrap();
    // SAFETY: flock on a descriptor this test owns.
    assert_eq!(
        unsafe { libc::flock(std::os::fd::AsRawFd::as_raw_fd(&holder), libc::LOCK_EX) },
        0
    );
    let waiter = {
        let path = s.path.clone();
        std::thread::spawn(move || {
            let reg = open(&path).with_lock_timeout(Duration::from_secs(3));
            reg.register("waiter", p + 1, Mode::Fixed, &tcp())
        })
    };
    std::thread::sleep(Duration::from_millis(200));
    // The lock file is moved aside (it keeps one link), and a new one at the path is held
    // by another process until after the old holder lets go.
    fs::rename(&lock, s.dir.path().join("moved")).unwrap();
    let current = fs::File::create(&lock).unwrap();
    // SAFETY: as above.
    assert_eq!(
        unsafe { libc::flock(std::os::fd::AsRawFd::as_raw_fd(&current), libc::LOCK_EX) },
        0
    );
    drop(holder);
    // The waiter got the old inode's lock, which counts for nothing: it must wait for the
    // lock at the path, and time out while that is held.
    let err = waiter.join().unwrap().unwrap_err();
    assert_eq!(err.kind(), ErrorKind::Busy, "{err}");
    assert_eq!(names(&open(&s.path)), ["s0"]);
    drop(current);
    open(&s.path)
        .register("waiter", p + 1, Mode::Fixed, &tcp())
        .unwrap();
}
