//! The journal's own rules, on scratch files.

use super::*;
use crate::store::model::{Lease, Mode, Protocol};
use crate::store::storage::{Policy, Storage};
use std::io::Write;
use std::os::fd::AsRawFd;
use std::sync::Barrier;

fn journal(path: &Path) -> Journal {
    Journal::new(path.to_owned(), Policy::scratch())
}

fn lease(name: &str, port: u16) -> Lease {
    Lease {
        name: name.into(),
        port,
        protocol: Protocol::Tcp,
        mode: Mode::Fixed,
        pool: None,
        created: 1,
        owner: None,
        ttl: None,
        expires: None,
        next: None,
        origin: None,
        uid: None,
        namespace: None,
        generation: 0,
        stale: None,
    }
}

fn put(j: &Journal, name: &str, port: u16) {
    let mut once = Some(lease(name, port));
    j.update_with(&mut |d| {
        d.insert(once.take().unwrap())?;
        Ok(true)
    })
    .unwrap();
}

fn del(j: &Journal, name: &str) {
    j.update_with(&mut |d| Ok(d.remove(name).is_some()))
        .unwrap();
}

fn count(j: &Journal) -> usize {
    let mut n = 0;
    j.read_with(&mut |d| n = d.leases().len()).unwrap();
    n
}

fn inode(path: &Path) -> u64 {
    fs::metadata(path).unwrap().ino()
}

#[test]
fn a_read_parses_only_what_was_appended_since_the_last_one() {
    let dir = tempfile::tempdir().unwrap();
    let path = dir.path().join("r.json");
    let (writer, reader) = (journal(&path), journal(&path));
    put(&writer, "a", 1);
    assert_eq!(count(&reader), 1);
    assert_eq!(reader.reads(), (1, 0, 0));
    for i in 0..10 {
        put(&writer, &format!("b{i}"), 100 + i);
        assert_eq!(count(&reader), 2 + i as usize);
    }
    // Ten appends, ten tail reads, and the file was parsed whole once.
    assert_eq!(reader.reads(), (1, 10, 0));
    // An unchanged file costs neither.
    count(&reader);
    assert_eq!(reader.reads(), (1, 10, 0));
    // The writer never re-reads what it wrote itself.
    assert_eq!(writer.reads(), (0, 0, 0));
}

#[test]
fn a_writer_catching_up_cuts_only_a_torn_line() {
    let dir = tempfile::tempdir().unwrap();
    let path = dir.path().join("r.json");
    let (one, two) = (journal(&path), journal(&path));
    put(&one, "a", 1);
    put(&two, "b", 2);
    put(&one, "c", 3);
    assert_eq!(one.reads(), (0, 1, 0));
    assert_eq!(two.reads(), (1, 0, 0));
    let mut file = fs::OpenOptions::new().append(true).open(&path).unwrap();
    file.write_all(b"{\"del\":[\"a").unwrap();
    put(&two, "d", 4);
    assert_eq!(two.reads(), (1, 1, 1));
    assert_eq!(count(&one), 4);
}

#[test]
fn the_tail_is_compacted_when_it_outgrows_the_snapshot() {
    let dir = tempfile::tempdir().unwrap();
    let path = dir.path().join("r.json");
    let (writer, reader) = (journal(&path), journal(&path));
    put(&writer, "keep", 1);
    let first = inode(&path);
    let mut inodes = vec![first];
    let mut longest = 0;
    for i in 0..300 {
        put(&writer, "w", 2);
        del(&writer, "w");
        longest = longest.max(fs::metadata(&path).unwrap().len());
        if inode(&path) != *inodes.last().unwrap() {
            inodes.push(inode(&path));
        }
        if i % 7 == 0 {
            assert_eq!(count(&reader), 1);
        }
    }
    // 600 changes on a 2-line snapshot: a rewrite every 256 changes.
    let every = format::MIN_TAIL_LINES as usize;
    assert_eq!(inodes.len(), 1 + 600 / every, "{inodes:?}");
    assert!(
        longest < (every * 100) as u64,
        "the file stays small: {longest} bytes"
    );
    let text = fs::read_to_string(&path).unwrap();
    assert!(
        text.starts_with("{\"version\":2,\"generation\":\""),
        "{text}"
    );
    // A reader of the old file reads the new one whole, once per rewrite it missed.
    assert_eq!(count(&reader), 1);
}

#[test]
fn writers_racing_across_rewrites_lose_no_change() {
    let dir = tempfile::tempdir().unwrap();
    let path = dir.path().join("r.json");
    put(&journal(&path), "keep", 1);
    // The rewrites happen while the others wait, or catch up as they wait: none of the
    // changes made on either side of one is lost.
    let writers: Vec<_> = (0..4u16)
        .map(|t| {
            let path = path.clone();
            std::thread::spawn(move || {
                let j = journal(&path);
                for i in 0..200u16 {
                    put(&j, &format!("t{t}-{i}"), 1000 * (t + 1) + i);
                    if i % 2 == 1 {
                        del(&j, &format!("t{t}-{}", i - 1));
                    }
                }
            })
        })
        .collect();
    for writer in writers {
        writer.join().unwrap();
    }
    let lines = fs::read_to_string(&path).unwrap().lines().count();
    assert!(
        lines < 1_000,
        "1,200 changes rewrote the file: {lines} lines"
    );
    let mut names = Vec::new();
    journal(&path)
        .read_with(&mut |d| names = d.leases().map(|l| l.name.clone()).collect())
        .unwrap();
    names.sort();
    let mut expected: Vec<String> = (0..4)
        .flat_map(|t| (1..200).step_by(2).map(move |i| format!("t{t}-{i}")))
        .collect();
    expected.push("keep".into());
    expected.sort();
    assert_eq!(names, expected);
}

#[test]
fn a_failed_change_is_rolled_back_without_reading_the_file_again() {
    let dir = tempfile::tempdir().unwrap();
    let path = dir.path().join("r.json");
    let j = journal(&path);
    put(&j, "a", 1);
    let before = fs::read(&path).unwrap();
    let err = j
        .update_with(&mut |d| {
            d.remove("a");
            d.insert(lease("b", 1)).unwrap();
            Err(Error::conflict("no"))
        })
        .unwrap_err();
    assert_eq!(err.kind(), ErrorKind::Conflict);
    // Reported unchanged: rolled back too.
    j.update_with(&mut |d| {
        d.insert(lease("c", 3)).unwrap();
        Ok(false)
    })
    .unwrap();
    assert_eq!(fs::read(&path).unwrap(), before);
    let mut names = Vec::new();
    j.read_with(&mut |d| names = d.leases().map(|l| l.name.clone()).collect())
        .unwrap();
    assert_eq!(names, ["a"]);
    assert_eq!(j.reads(), (0, 0, 0));
}

#[test]
fn a_flush_made_by_one_thread_covers_another_threads_earlier_append() {
    let dir = tempfile::tempdir().unwrap();
    let path = dir.path().join("r.json");
    let j = journal(&path);
    put(&j, "a", 1);
    let inner = j.inner();
    let epoch = inner.state.lock().view.as_ref().unwrap().epoch;
    *inner.flushed.lock() = Flushed {
        epoch,
        upto: 1 << 40,
    };
    // Covered: returns without a flush (fdatasync of /dev/null would fail with EINVAL).
    let pending = Pending {
        file: Arc::new(File::open("/dev/null").unwrap()),
        epoch,
        upto: 10,
    };
    j.flush(inner, pending).unwrap();
}

/// Rewrites `path` in place (same inode) as another process's compaction would: a new
/// generation, `leases` as its snapshot, padded with blank lines to `size` bytes.
fn rewrite_in_place_to(path: &Path, leases: &[(&str, u16)], size: u64) {
    let mut data = Data::default();
    for (name, port) in leases {
        data.insert(lease(name, *port)).unwrap();
    }
    let (mut bytes, _) = format::encode_snapshot(&data, &format::new_generation());
    assert!(bytes.len() as u64 <= size, "{} > {size}", bytes.len());
    bytes.resize(size as usize - 1, b' ');
    bytes.push(b'\n');
    let file = fs::OpenOptions::new().write(true).open(path).unwrap();
    file.write_all_at(&bytes, 0).unwrap();
    file.set_len(size).unwrap();
}

#[test]
fn a_handle_never_trusts_inode_and_size_a_rewrite_to_its_old_offset_is_read_again() {
    let dir = tempfile::tempdir().unwrap();
    let path = dir.path().join("r.json");
    let (long_lived, other) = (journal(&path), journal(&path));
    for i in 0..6 {
        put(&long_lived, &format!("old{i}"), 100 + i);
    }
    let size = fs::metadata(&path).unwrap().len();
    let ino = inode(&path);
    // Others rewrote it whole, and it came back as the same inode at the same size.
    rewrite_in_place_to(&path, &[("new", 100)], size);
    assert_eq!(
        (inode(&path), fs::metadata(&path).unwrap().len()),
        (ino, size)
    );
    assert_eq!(count(&long_lived), 1, "the rewrite is seen");
    // A change through it goes on from the file as it is now: port 100 is "new"'s.
    let mut once = Some(lease("mine", 100));
    let err = long_lived
        .update_with(&mut |d| {
            d.insert(once.take().unwrap())?;
            Ok(true)
        })
        .unwrap_err();
    assert_eq!(err.kind(), ErrorKind::Registry, "{err}");
    put(&long_lived, "mine", 101);
    assert_eq!(count(&other), 2);
}

#[test]
fn a_flush_mark_belongs_to_one_opening_of_the_file_never_to_its_inode() {
    let dir = tempfile::tempdir().unwrap();
    let path = dir.path().join("r.json");
    let j = journal(&path);
    for i in 0..4 {
        // Leases without an owner: each change waits for its flush.
        put(&j, &format!("a{i}"), 100 + i);
    }
    let inner = j.inner();
    let before = *inner.flushed.lock();
    assert!(before.upto > 0);
    // Rewritten in place, shorter than what was flushed; the next durable change ends
    // below the old mark, in a file whose lines nobody flushed.
    let size = fs::metadata(&path).unwrap().len();
    rewrite_in_place_to(&path, &[("b", 200)], size / 2);
    put(&j, "c", 201);
    let after = *inner.flushed.lock();
    assert_ne!(
        after.epoch, before.epoch,
        "flushed again, through this opening"
    );
    assert_eq!(after.upto, fs::metadata(&path).unwrap().len());
    assert!(after.upto < before.upto);
}

/// The state a compaction in place leaves when it stops after writing the copying header
/// (step 2): the spare holds the compacted image, the registry a torn copy.
fn stopped_copy(path: &Path, j: &Journal) -> Vec<u8> {
    let spare = crate::store::storage::spare_path_for(path);
    fs::write(&spare, b"").unwrap();
    let inner = j.inner();
    let mut st = inner.state.lock();
    let view = j.refresh(&mut st, true).unwrap();
    let generation = format::new_generation();
    let (image, _) = format::encode_snapshot(&view.data, &generation);
    fs::write(&spare, &image).unwrap();
    let file = fs::OpenOptions::new().write(true).open(path).unwrap();
    file.write_all_at(
        &format::copying_header(format::header_version(&image), &generation),
        0,
    )
    .unwrap();
    // Part of the copy, over the old lines.
    let header_len = format::header(format::header_version(&image), &generation).len();
    file.write_all_at(&image[header_len..header_len + 30], header_len as u64)
        .unwrap();
    image
}

#[test]
fn a_copy_in_place_that_stopped_is_read_from_the_spare_and_finished_by_the_next_writer() {
    let dir = tempfile::tempdir().unwrap();
    let path = dir.path().join("r.json");
    let j = journal(&path);
    for i in 0..5 {
        put(&j, &format!("a{i}"), 100 + i);
    }
    let ino = inode(&path);
    let image = stopped_copy(&path, &j);
    // Readers, old handles and new ones, see every lease (from the spare).
    let reader = journal(&path);
    assert_eq!(count(&reader), 5);
    assert_eq!(count(&j), 5);
    // The next writer copies the spare again, then appends.
    put(&reader, "b", 200);
    let after = fs::read(&path).unwrap();
    assert_eq!(&after[..image.len()], &image[..]);
    assert_eq!(inode(&path), ino, "the registry kept its inode");
    assert_eq!(count(&j), 6);
    assert_eq!(count(&journal(&path)), 6);
}

#[test]
fn a_copy_in_place_whose_spare_is_gone_is_refused_naming_repair() {
    let dir = tempfile::tempdir().unwrap();
    let path = dir.path().join("r.json");
    let j = journal(&path);
    put(&j, "a", 100);
    stopped_copy(&path, &j);
    fs::write(crate::store::storage::spare_path_for(&path), b"").unwrap();
    let mut n = 0;
    let err = journal(&path)
        .read_with(&mut |d| n = d.leases().len())
        .unwrap_err();
    assert!(err.message().contains("portpool repair"), "{err}");
}

#[test]
fn a_compaction_in_place_keeps_the_inode_and_readers_see_a_whole_registry() {
    let dir = tempfile::tempdir().unwrap();
    let path = dir.path().join("r.json");
    let j = journal(&path);
    put(&j, "keep", 1);
    let spare = crate::store::storage::spare_path_for(&path);
    fs::write(&spare, b"").unwrap();
    fs::set_permissions(&spare, fs::metadata(&path).unwrap().permissions()).unwrap();
    let ino = inode(&path);
    let reader = journal(&path);
    for i in 0..40 {
        put(&j, "w", 2);
        del(&j, "w");
        if i % 3 == 0 {
            assert_eq!(count(&reader), 1);
        }
    }
    let inner = j.inner();
    let mut st = inner.state.lock();
    let view = j.refresh(&mut st, true).unwrap();
    let like = view.file.as_ref().unwrap().metadata().unwrap();
    let (bytes, entries) = format::encode_snapshot(&view.data, &format::new_generation());
    j.rewrite_in_place(view, &like, &bytes, entries).unwrap();
    drop(st);
    assert_eq!(inode(&path), ino);
    assert_eq!(fs::read(&path).unwrap(), bytes);
    assert_eq!(fs::read(&spare).unwrap(), bytes);
    assert_eq!(count(&reader), 1);
    put(&j, "after", 3);
    assert_eq!(count(&reader), 2);
}

#[test]
fn a_signal_during_a_lock_wait_neither_fails_it_nor_ends_it() {
    extern "C" fn ignore(_: libc::c_int) {}
    let dir = tempfile::tempdir().unwrap();
    let path = dir.path().join("r.json");
    let j = journal(&path);
    put(&j, "a", 1);
    // A handler installed without SA_RESTART, as Python installs its own.
    // SAFETY: a handler that does nothing is async-signal-safe.
    unsafe {
        let mut action: libc::sigaction = std::mem::zeroed();
        action.sa_sigaction = ignore as *const () as usize;
        libc::sigaction(libc::SIGUSR1, &action, std::ptr::null_mut());
    }
    let holder = File::open(dir.path().join("r.json.lock")).unwrap();
    assert!(sys::try_lock(&holder).unwrap());
    let waiting = Arc::new(std::sync::atomic::AtomicBool::new(true));
    let thread = {
        let (waiting, path) = (waiting.clone(), path.clone());
        std::thread::spawn(move || {
            let j = journal(&path);
            j.set_lock_timeout(Duration::from_secs(20));
            let result = j.update_with(&mut |d| {
                d.insert(lease("b", 2)).unwrap();
                Ok(true)
            });
            waiting.store(false, Ordering::SeqCst);
            result
        })
    };
    let target = std::os::unix::thread::JoinHandleExt::as_pthread_t(&thread);
    for _ in 0..50 {
        // SAFETY: the thread is alive until joined below; SIGUSR1 is handled.
        unsafe { libc::pthread_kill(target, libc::SIGUSR1) };
        std::thread::sleep(Duration::from_millis(5));
    }
    assert!(waiting.load(Ordering::SeqCst), "still waiting for the lock");
    sys::unlock(&holder);
    thread.join().unwrap().unwrap();
    assert_eq!(count(&j), 2);
}

#[test]
fn a_lock_held_past_the_timeout_is_busy_naming_the_holder() {
    let dir = tempfile::tempdir().unwrap();
    let path = dir.path().join("r.json");
    let j = journal(&path);
    put(&j, "a", 1);
    let holder = File::open(dir.path().join("r.json.lock")).unwrap();
    assert!(sys::try_lock(&holder).unwrap());
    j.set_lock_timeout(Duration::from_millis(50));
    let err = j.update_with(&mut |_| Ok(true)).unwrap_err();
    assert_eq!(err.kind(), ErrorKind::Busy);
    assert!(
        err.message()
            .contains(&format!("pid {}", std::process::id())),
        "{err}"
    );
    // Reads take no lock.
    assert_eq!(count(&j), 1);
    sys::unlock(&holder);
    put(&j, "b", 2);
}

#[test]
fn a_writer_waiting_for_the_lock_reads_what_the_holder_appends_meanwhile() {
    let dir = tempfile::tempdir().unwrap();
    let path = dir.path().join("r.json");
    let j = Arc::new(journal(&path));
    put(&j, "a", 1);
    put(&j, "b", 2);
    let holder = File::open(dir.path().join("r.json.lock")).unwrap();
    assert!(sys::try_lock(&holder).unwrap());
    j.set_lock_timeout(Duration::from_secs(20));
    let waiting = {
        let j = j.clone();
        std::thread::spawn(move || {
            j.update_with(&mut |d| {
                d.insert(lease("c", 3))?;
                Ok(true)
            })
        })
    };
    // What the holder appends, the waiter reads before it has the lock, as a reader would.
    let mut file = fs::OpenOptions::new().append(true).open(&path).unwrap();
    file.write_all(b"{\"del\":[\"a\"]}\n").unwrap();
    let mut read_meanwhile = false;
    for _ in 0..2000 {
        if j.reads().1 > 0 {
            read_meanwhile = true;
            break;
        }
        std::thread::sleep(Duration::from_millis(5));
    }
    sys::unlock(&holder);
    waiting.join().unwrap().unwrap();
    assert!(
        read_meanwhile,
        "the waiter read nothing until it had the lock"
    );
    // Under the lock there was nothing left to read: one tail read in all.
    assert_eq!(j.reads(), (0, 1, 0));
    let mut names = Vec::new();
    j.read_with(&mut |d| names = d.leases().map(|l| l.name.clone()).collect())
        .unwrap();
    names.sort();
    assert_eq!(names, ["b", "c"]);
}

/// The forked child's part: waits for the lock the parent holds, sees the parent's change,
/// makes its own, and exits 0 (1: it missed a change; 2: a call failed).
fn forked_child(j: &Journal) -> ! {
    // Whatever happens, the child ends: a lock another thread held at the fork (the
    // one stderr uses, say) would otherwise hang it.
    // SAFETY: alarm is async-signal-safe; SIGALRM's default action ends the process.
    unsafe { libc::alarm(30) };
    let code = std::panic::catch_unwind(std::panic::AssertUnwindSafe(|| {
        // The parent holds the lock: the child waits for it, then sees the parent's
        // change, then makes its own.
        j.set_lock_timeout(Duration::from_secs(20));
        put(j, "child", 3);
        let mut names = Vec::new();
        j.read_with(&mut |d| names = d.leases().map(|l| l.name.clone()).collect())
            .unwrap();
        ["a", "b", "child"]
            .iter()
            .all(|n| names.iter().any(|m| m == n))
    }));
    // Still alive, and still holding a copy of the descriptor the parent locked.
    std::thread::sleep(Duration::from_secs(3));
    // SAFETY: _exit ends the child without running the parent's destructors.
    unsafe {
        libc::_exit(match code {
            Ok(true) => 0,
            Ok(false) => 1,
            Err(_) => 2,
        })
    };
}

#[test]
fn a_forked_child_starts_over_even_while_the_parent_holds_the_handle() {
    let dir = tempfile::tempdir().unwrap();
    let path = dir.path().join("r.json");
    let j = Arc::new(journal(&path));
    put(&j, "a", 1);
    // Another thread is inside a call, holding the handle's state and the file lock,
    // when this thread forks.
    let inside = Arc::new(Barrier::new(2));
    let forked = Arc::new(Barrier::new(2));
    let thread = {
        let (j, inside, forked) = (j.clone(), inside.clone(), forked.clone());
        std::thread::spawn(move || {
            j.update_with(&mut |d| {
                inside.wait();
                forked.wait();
                d.insert(lease("b", 2)).unwrap();
                Ok(true)
            })
            .unwrap();
        })
    };
    inside.wait();
    // SAFETY: the child only uses the handle (fork-safe by design) and then _exits.
    let child = unsafe { libc::fork() };
    if child == 0 {
        forked_child(&j);
    }
    // The child shares the descriptor the parent locked, and lives on: the parent's
    // unlock must still free the lock for everyone.
    forked.wait();
    thread.join().unwrap();
    let other = journal(&path);
    other.set_lock_timeout(Duration::from_secs(2));
    put(&other, "parent", 4);
    let mut status = 0;
    // SAFETY: waits for the child forked above.
    assert_eq!(unsafe { libc::waitpid(child, &mut status, 0) }, child);
    // 1: the child missed a change; 2: a call failed in the child.
    assert!(
        libc::WIFEXITED(status) && libc::WEXITSTATUS(status) == 0,
        "child status {status:#x}"
    );
    assert_eq!(count(&other), 4);
}

/// What a forked child does with a handle whose inherited descriptors are gone.
#[derive(Clone, Copy)]
enum ChildUse {
    /// Makes a change through it.
    Change,
    /// Drops it before any call.
    Drop,
}

/// The forked child's part of the tests below: the descriptors its handle inherited are
/// gone (closed, one number taken by another file) before it uses the handle; a change
/// through it works, and the other file stays open. Exits 0, or 1 when the change failed,
/// 2 when the other file was closed under it (an abort: a descriptor closed twice).
fn child_with_inherited_descriptors_gone(j: Journal, other: &Path, using: ChildUse) -> ! {
    // SAFETY: alarm is async-signal-safe; SIGALRM's default action ends the process.
    unsafe { libc::alarm(30) };
    // SAFETY: the parent's state, read before this process's first call replaces it.
    let parent = unsafe { &*j.inner.load(Ordering::Acquire) };
    let (lock_fd, file_fd) = {
        let st = parent.state.lock();
        let file = st.view.as_ref().and_then(|v| v.file.as_ref()).unwrap();
        (st.lock.as_ref().unwrap().as_raw_fd(), file.as_raw_fd())
    };
    // SAFETY: closes this process's copies, as a neighbour's bug closing them would.
    unsafe {
        libc::close(lock_fd);
        libc::close(file_fd);
    }
    // The lowest free number: one of the two, now another file's.
    let reused = File::create(other).unwrap();
    let changed = std::panic::catch_unwind(std::panic::AssertUnwindSafe(|| match using {
        ChildUse::Change => put(&j, "child", 3),
        ChildUse::Drop => drop(j),
    }));
    let code = match changed {
        Err(_) => 1,
        Ok(()) if reused.metadata().is_err() => 2,
        Ok(()) => 0,
    };
    // SAFETY: _exit ends the child without running the parent's destructors.
    unsafe { libc::_exit(code) };
}

/// Forks a child that does `using` with a handle on a registry of one lease once the
/// handle's inherited descriptors are gone; checks that the child exited 0, then returns
/// how many leases the parent reads.
fn fork_with_descriptors_gone(using: ChildUse) -> usize {
    let dir = tempfile::tempdir().unwrap();
    let j = journal(&dir.path().join("r.json"));
    put(&j, "a", 1);
    // SAFETY: the child only uses the handle and then _exits.
    let child = unsafe { libc::fork() };
    if child == 0 {
        child_with_inherited_descriptors_gone(j, &dir.path().join("other"), using);
    }
    let mut status = 0;
    // SAFETY: waits for the child forked above.
    assert_eq!(unsafe { libc::waitpid(child, &mut status, 0) }, child);
    assert!(
        libc::WIFEXITED(status) && libc::WEXITSTATUS(status) == 0,
        "child status {status:#x} (an abort is a descriptor closed twice)"
    );
    count(&j)
}

#[test]
fn a_forked_child_never_closes_a_descriptor_number_its_handle_no_longer_owns() {
    assert_eq!(fork_with_descriptors_gone(ChildUse::Change), 2);
}

#[test]
fn a_handle_dropped_in_a_forked_child_closes_no_descriptor_number_it_no_longer_owns() {
    assert_eq!(fork_with_descriptors_gone(ChildUse::Drop), 1);
}
