//! The journal file: the one [`Storage`] of portpool (format in `store/format/`, protocol in
//! docs/registry-format.md), split by concern: `read` (catching up, loading), `append`
//! (a change as one line, flushed after the unlock), `compact` (the file written whole),
//! `lock` (the lock file and its bounded wait), `inplace`, `identity` and `repair`.
//!
//! - **Writers** take an exclusive `flock` on `<registry>.lock` (never replaced, never
//!   deleted), waiting at most the handle's lock timeout. Under the lock a writer reads what
//!   was appended since it last looked, cuts a torn last line, runs the change and appends it
//!   as one line in one `write(2)`, then unlocks. A change that must be durable is flushed
//!   (`fdatasync`) *after* the unlock, so that concurrent writers' flushes overlap; its caller
//!   returns once the flush is done. When the appended tail outgrows the snapshot, the writer
//!   instead rewrites the file whole (temporary file, fsync, rename, directory fsync), under
//!   the lock.
//! - **Readers** take no lock. Every append is one `write(2)` of whole lines on an `O_APPEND`
//!   descriptor, and a reader uses only lines that end in a newline, so it never sees half a
//!   change; a rewrite replaces the file by rename, so a reader sees the old file or the new
//!   one. A handle remembers the file's (device, inode) and how far it has read, and parses
//!   only the bytes after that; it reads the whole file again only when the inode changes.
//! - **Fork:** every descriptor is close-on-exec, the lock is released with `LOCK_UN` before
//!   the call returns, and a handle used in a forked child starts over with state of its own
//!   (the parent's may be locked by a thread that does not exist in the child). The child
//!   closes an inherited descriptor only when the parent's state was free at the fork and the
//!   descriptor still names the file the handle recorded; a number that names anything else
//!   now is never closed.

use std::fs::{self, File, Metadata};
use std::io::{self, Read};
use std::os::unix::fs::{FileExt, MetadataExt};
use std::path::{Path, PathBuf};
use std::sync::Arc;
use std::sync::atomic::{AtomicPtr, AtomicU64, Ordering};
use std::time::{Duration, Instant};

use parking_lot::{Mutex, MutexGuard};

use crate::error::{Error, ErrorKind, Result};
use crate::store::format::{self, Decoded, Encoded, HeaderState, Tail};
use crate::store::model::Data;
use crate::store::storage::{DEFAULT_LOCK_TIMEOUT, Policy, Storage, lock_path_for};
use crate::sys::{self, Access};
use crate::wait;

mod append;
mod compact;
mod identity;
mod inplace;
mod lock;
mod read;
mod repair;

use compact::snapshot_tail;
use read::{read_from, same_header};

pub use repair::RepairReport;

/// The journal file behind one registry handle.
pub(crate) struct Journal {
    path: PathBuf,
    lock_path: PathBuf,
    file_mode: u32,
    dir_mode: u32,
    /// The host's words for a change refused on a file its group may write.
    group_refusal: fn(u32) -> String,
    timeout_ns: AtomicU64,
    /// This process's state; see [`Journal::inner`].
    inner: AtomicPtr<Inner>,
    /// Whole-file parses and tail reads this handle made: what the offset saves is observable.
    full_reads: AtomicU64,
    tail_reads: AtomicU64,
    /// Torn last lines this handle cut off.
    cuts: AtomicU64,
}

/// A handle's state in one process.
struct Inner {
    pid: u32,
    state: Mutex<State>,
    flushed: Mutex<Flushed>,
}

#[derive(Default)]
struct State {
    view: Option<View>,
    /// The open lock file.
    lock: Option<Arc<File>>,
}

/// How far the registry file is known to be on the disk: everything before `upto` of what
/// the open descriptor of `epoch` showed. An epoch is one opening of the file, or one
/// rewrite of it in place: never a (device, inode), which a rewrite may keep or bring back.
#[derive(Clone, Copy, Default)]
struct Flushed {
    epoch: u64,
    upto: u64,
}

/// Epochs are never reused within a process; 0 is no file.
static EPOCHS: AtomicU64 = AtomicU64::new(1);

fn next_epoch() -> u64 {
    EPOCHS.fetch_add(1, Ordering::Relaxed)
}

/// The registry as this handle last read it.
struct View {
    data: Data,
    /// `None` when there is no file.
    file: Option<Arc<File>>,
    /// Whether `file` was opened for appending.
    writable: bool,
    /// (device, inode) of `file`.
    id: (u64, u64),
    /// This opening (or rewrite in place) of `file`: what a flush mark is kept for.
    epoch: u64,
    format: Format,
}

enum Format {
    Missing,
    /// A version-1 file, re-read whole whenever its stamp changes, replaced on the first write.
    V1(Stamp),
    V2(Tail),
    /// A file a compaction in place was copying into, read from the spare: read again next
    /// time.
    Copying,
}

/// What identifies one version of a version-1 file without reading it.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
struct Stamp {
    size: u64,
    mtime: (i64, i64),
    ctime: (i64, i64),
}

impl Stamp {
    fn of(meta: &Metadata) -> Stamp {
        Stamp {
            size: meta.size(),
            mtime: (meta.mtime(), meta.mtime_nsec()),
            ctime: (meta.ctime(), meta.ctime_nsec()),
        }
    }
}

fn id_of(meta: &Metadata) -> (u64, u64) {
    (meta.dev(), meta.ino())
}

impl View {
    /// The format version of the file read: what an appended change may use.
    fn version(&self) -> u64 {
        match &self.format {
            Format::V2(tail) => format::header_version(&tail.header),
            _ => crate::store::model::FORMAT_VERSION_2,
        }
    }

    fn missing() -> View {
        View {
            data: Data::default(),
            file: None,
            writable: false,
            id: (0, 0),
            epoch: 0,
            format: Format::Missing,
        }
    }
}

/// An append that its caller must see flushed before it returns.
struct Pending {
    file: Arc<File>,
    epoch: u64,
    upto: u64,
}

/// The exclusive lock, released (`LOCK_UN`) on drop.
struct Locked(Arc<File>);

impl Drop for Locked {
    fn drop(&mut self) {
        sys::unlock(&self.0);
    }
}

impl Inner {
    fn new(pid: u32) -> Inner {
        Inner {
            pid,
            state: Mutex::new(State::default()),
            flushed: Mutex::new(Flushed::default()),
        }
    }

    /// In a forked child, lets go of the parent's state: its descriptors are closed only when
    /// no thread of the parent was inside a call at the fork (the state was free), and each
    /// only when it is still the open file the handle recorded (the registry file read, the
    /// lock file that `lock_path` names). Returns whether the state was free. A descriptor
    /// number that no longer names that file is left alone, never closed: closing it would
    /// close whatever file this process has under that number now.
    fn let_go_in_child(&self, lock_path: &Path) -> bool {
        let Some(mut old) = self.state.try_lock() else {
            return false;
        };
        let inherited = std::mem::take(&mut *old);
        if let Some(view) = inherited.view
            && let Some(file) = view.file
        {
            let_go(file, Some(view.id));
        }
        if let Some(lock) = inherited.lock {
            let named = sys::lstat_regular(lock_path).ok().flatten();
            let_go(lock, named.as_ref().map(id_of));
        }
        true
    }
}

/// Drops a descriptor inherited across `fork`: the last reference closes it only when it is
/// still open on the file of (device, inode) `id`; otherwise it is forgotten.
fn let_go(file: Arc<File>, id: Option<(u64, u64)>) {
    // A reference that a thread of the parent still held is that thread's, gone in the child.
    let Ok(file) = Arc::try_unwrap(file) else {
        return;
    };
    let intact = file.metadata().is_ok_and(|meta| id == Some(id_of(&meta)));
    if intact {
        drop(file);
    } else {
        std::mem::forget(file);
    }
}

/// How many times a read starts over when the file is rewritten in place under it.
const LOAD_ATTEMPTS: u32 = 16;

impl Journal {
    pub(crate) fn new(path: PathBuf, policy: Policy) -> Journal {
        Journal {
            lock_path: lock_path_for(&path),
            path,
            file_mode: policy.file_mode,
            dir_mode: policy.dir_mode,
            group_refusal: policy.group_refusal,
            timeout_ns: AtomicU64::new(DEFAULT_LOCK_TIMEOUT.as_nanos() as u64),
            inner: AtomicPtr::new(Box::into_raw(Box::new(Inner::new(std::process::id())))),
            full_reads: AtomicU64::new(0),
            tail_reads: AtomicU64::new(0),
            cuts: AtomicU64::new(0),
        }
    }

    pub(crate) fn set_lock_timeout(&self, timeout: Duration) {
        let ns = u64::try_from(timeout.as_nanos()).unwrap_or(u64::MAX);
        self.timeout_ns.store(ns, Ordering::Relaxed);
    }

    pub(crate) fn lock_timeout(&self) -> Duration {
        Duration::from_nanos(self.timeout_ns.load(Ordering::Relaxed))
    }

    /// (whole-file parses, tail reads, torn lines cut) made by this handle so far.
    #[cfg(test)]
    pub(crate) fn reads(&self) -> (u64, u64, u64) {
        (
            self.full_reads.load(Ordering::Relaxed),
            self.tail_reads.load(Ordering::Relaxed),
            self.cuts.load(Ordering::Relaxed),
        )
    }

    /// This process's state. After a fork, the child finds the parent's pid in it and starts
    /// over: the parent's state may be locked by a thread the child does not have, and its
    /// descriptors are shared with the parent. The parent's state is then leaked, never freed
    /// (another thread of the child may still be reading its pid); its descriptors are closed
    /// when it is not locked. Closing never releases the parent's flock: only `LOCK_UN` does,
    /// and only the parent calls that.
    fn inner(&self) -> &Inner {
        let pid = std::process::id();
        loop {
            let current = self.inner.load(Ordering::Acquire);
            // SAFETY: `inner` always points at a live `Inner`: a replaced one is leaked, and
            // the last one is freed only in `drop`, which has `&mut self`.
            let inner = unsafe { &*current };
            if inner.pid == pid {
                return inner;
            }
            let fresh = Box::into_raw(Box::new(Inner::new(pid)));
            match self
                .inner
                .compare_exchange(current, fresh, Ordering::AcqRel, Ordering::Acquire)
            {
                Ok(_) => {
                    inner.let_go_in_child(&self.lock_path);
                }
                // SAFETY: `fresh` came from Box::into_raw above and was never shared.
                Err(_) => drop(unsafe { Box::from_raw(fresh) }),
            }
        }
    }

    fn dir(&self) -> &Path {
        match self.path.parent() {
            Some(dir) if !dir.as_os_str().is_empty() => dir,
            _ => Path::new("."),
        }
    }

    fn io_error(&self, what: &str, err: io::Error) -> Error {
        planted(Error::from_io(&self.path, what, err))
    }

    /// The error for `what` on `path` failing with `err`. Permission denied on a file that its
    /// group may write (a host registry shared with a group) names the group to join.
    fn refused(&self, path: &Path, what: &str, err: io::Error) -> Error {
        if err.kind() == io::ErrorKind::PermissionDenied
            && let Ok(meta) = fs::symlink_metadata(path)
            && meta.mode() & 0o020 != 0
        {
            return Error::new(
                ErrorKind::Registry,
                format!(
                    "registry {}: permission denied {what} {}: {}",
                    self.path.display(),
                    path.display(),
                    (self.group_refusal)(meta.gid())
                ),
            );
        }
        planted(Error::from_io(path, what, err))
    }
}

impl Storage for Journal {
    fn path(&self) -> &Path {
        &self.path
    }

    fn read_with(&self, f: &mut dyn FnMut(&Data)) -> Result<()> {
        let inner = self.inner();
        let mut st = self.state(inner)?;
        match self.refresh(&mut st, false) {
            Ok(view) => {
                f(&view.data);
                Ok(())
            }
            Err(err) => {
                st.view = None;
                Err(err)
            }
        }
    }

    fn reset(&self) -> Result<()> {
        let inner = self.inner();
        let mut st = self.state(inner)?;
        let portpools = self.written_by_portpool();
        if portpools && matches!(sys::lstat_regular(&self.lock_path), Ok(None)) {
            // `lock` creates a missing lock file only beside a registry that reads back; this
            // one is portpool's even if it does not.
            self.create_lock()
                .map_err(|e| Error::from_io(&self.lock_path, "creating lock file", e))?;
        }
        let locked = self.lock(&mut st)?;
        let mut empty = |data: &mut Data| {
            *data = Data::default();
            Ok(true)
        };
        let outcome = match self.update_locked(&mut st, &mut empty) {
            Err(err) if err.kind() == ErrorKind::Registry && portpools => {
                // Entries that no longer read back (an older portpool's bug): the file is
                // portpool's all the same, so it is replaced whole.
                let mut view = View::missing();
                if let Ok((file, meta)) = sys::open(&self.path, Access::Read) {
                    view.id = id_of(&meta);
                    view.file = Some(Arc::new(file));
                }
                view.data = Data::default();
                let rewritten = self.rewrite(&mut view);
                st.view = None;
                rewritten.map(|()| None)
            }
            other => other,
        };
        drop(locked);
        drop(st);
        match outcome? {
            Some(pending) => self.flush(inner, pending),
            None => Ok(()),
        }
    }

    fn update_with(&self, f: &mut dyn FnMut(&mut Data) -> Result<bool>) -> Result<()> {
        let inner = self.inner();
        let mut st = self.state(inner)?;
        let locked = self.lock(&mut st)?;
        test_pause("locked");
        let outcome = self.update_locked(&mut st, f);
        drop(locked);
        drop(st);
        match outcome? {
            Some(pending) => self.flush(inner, pending),
            None => Ok(()),
        }
    }
}

impl Drop for Journal {
    fn drop(&mut self) {
        // SAFETY: the pointer came from Box::into_raw and nothing else frees it; `&mut self`
        // means no thread of this process is using it.
        let inner = unsafe { Box::from_raw(*self.inner.get_mut()) };
        // A handle dropped in a forked child before its first call there still holds the
        // parent's state, which a thread of the parent may have been changing at the fork.
        if inner.pid != std::process::id() && !inner.let_go_in_child(&self.lock_path) {
            std::mem::forget(inner);
        }
    }
}

/// `error`, naming `portpool repair` when it says something other than a regular file (a
/// FIFO, a directory, a symbolic link...) is where a file of the registry's must be.
fn planted(error: Error) -> Error {
    let message = error.message();
    if message.ends_with("is not a regular file") || message.contains("is a symbolic link") {
        error.with_hint(format::REPAIR_HINT)
    } else {
        error
    }
}

fn sync_dir(dir: &Path) -> io::Result<()> {
    sys::fsync(&File::open(dir)?)
}

/// Gives the new `file` the owner and group of `like` where this process may, and narrows
/// `mode` so that no one gains access: a group that could not be kept gets no more than
/// others had, and an owner that could not be kept no more than this process had.
fn keep_owner(file: &File, like: &Metadata, mode: u32) -> io::Result<()> {
    let (uid, gid) = (like.uid(), like.gid());
    let mine = file.metadata()?;
    if (mine.uid(), mine.gid()) == (uid, gid) {
        return Ok(());
    }
    if sys::fchown(file, Some(uid), Some(gid)).is_err() {
        let _ = sys::fchown(file, None, Some(gid));
    }
    let now = file.metadata()?;
    let mut narrowed = mode;
    if now.gid() != gid {
        narrowed = (narrowed & !0o070) | (narrowed & 0o070 & ((mode & 0o007) << 3));
    }
    if now.uid() != uid {
        let had = if sys::in_group(gid) {
            (mode >> 3) & 0o7
        } else {
            mode & 0o7
        };
        narrowed = (narrowed & !0o700) | (narrowed & 0o700 & (had << 6));
    }
    if narrowed != mode {
        sys::fchmod(file, narrowed)?;
    }
    Ok(())
}

/// Test builds only: `PORTPOOL_TEST_PAUSE=<point>:<ms>` sleeps at `point` ("locked": just
/// after taking the lock; "appended": after the append, still under the lock; "flush": after
/// the unlock, before the flush; "spare", "copying", "copied": after the steps of a
/// compaction in place), so that tests can stop or kill a writer exactly there.
pub(super) fn test_pause(point: &str) {
    #[cfg(debug_assertions)]
    if let Some(ms) = std::env::var("PORTPOOL_TEST_PAUSE").ok().and_then(|v| {
        v.strip_prefix(point)
            .and_then(|rest| rest.strip_prefix(':'))
            .and_then(|ms| ms.parse::<u64>().ok())
    }) {
        std::thread::sleep(Duration::from_millis(ms));
    }
    #[cfg(not(debug_assertions))]
    let _ = point;
}

#[cfg(test)]
mod tests;
