//! The journal file: the one [`Storage`] of portpool (format in `format.rs`, protocol in
//! docs/registry-format.md).
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
//!   (the parent's may be locked by a thread that does not exist in the child).

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

mod identity;
mod inplace;
mod repair;

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
}

/// How many times a read starts over when the file is rewritten in place under it.
const LOAD_ATTEMPTS: u32 = 16;

/// Whether `file` still starts with `header` (its first line, newline included).
fn same_header(file: &File, header: &[u8]) -> io::Result<bool> {
    let mut now = vec![0u8; header.len()];
    let mut len = 0;
    while len < now.len() {
        match file.read_at(&mut now[len..], len as u64) {
            Ok(0) => return Ok(false),
            Ok(n) => len += n,
            Err(e) if e.kind() == io::ErrorKind::Interrupted => {}
            Err(e) => return Err(e),
        }
    }
    Ok(now == header)
}

/// Reads `file` from `offset` to its end, which is expected near `size`.
fn read_from(file: &File, offset: u64, size: u64) -> io::Result<Vec<u8>> {
    let mut bytes = vec![0u8; (size.saturating_sub(offset) as usize).max(4096)];
    let mut len = 0;
    loop {
        if len == bytes.len() {
            bytes.resize(len * 2, 0);
        }
        match file.read_at(&mut bytes[len..], offset + len as u64) {
            Ok(0) => {
                bytes.truncate(len);
                return Ok(bytes);
            }
            Ok(n) => len += n,
            Err(e) if e.kind() == io::ErrorKind::Interrupted => {}
            Err(e) => return Err(e),
        }
    }
}

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
                    if let Some(mut old) = inner.state.try_lock() {
                        *old = State::default();
                    }
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

    /// Brings `st.view` up to the file as it is now and returns it. With `write` (only under
    /// the exclusive lock), the file is opened for appending and a torn last line is cut.
    fn refresh<'a>(&self, st: &'a mut State, write: bool) -> Result<&'a mut View> {
        // A reader racing a rewrite can read a file that changes under it in ways no reader
        // can tell from damage (a torn line being cut while another is appended): such a read
        // is tried again, and only damage that stays is reported.
        let mut attempts = 0;
        loop {
            let meta = sys::lstat_regular(&self.path).map_err(|e| self.io_error("reading", e))?;
            let Some(meta) = meta else {
                if !matches!(
                    st.view,
                    Some(View {
                        format: Format::Missing,
                        ..
                    })
                ) {
                    st.view = Some(View::missing());
                }
                return Ok(st.view.as_mut().expect("set above"));
            };
            let current = match st.view.as_mut() {
                Some(view) if view.file.is_some() && view.id == id_of(&meta) => {
                    self.catch_up(view, &meta, write)?
                }
                _ => false,
            };
            if current {
                return Ok(st.view.as_mut().expect("current"));
            }
            st.view = None;
            match self.load(write) {
                Ok(view) => {
                    st.view = Some(view);
                    return Ok(st.view.as_mut().expect("set above"));
                }
                Err(err) if !write && err.kind() == ErrorKind::Registry && attempts < 3 => {
                    let again = sys::lstat_regular(&self.path).ok().flatten();
                    if again.is_some_and(|m| id_of(&m) != id_of(&meta) || m.size() != meta.size()) {
                        attempts += 1;
                        continue;
                    }
                    return Err(err);
                }
                Err(err) => return Err(err),
            }
        }
    }

    /// Reads what was appended to `view`'s file since it was last read. `Ok(false)` when
    /// that is not possible (the file shrank, or was edited in place): read it whole.
    fn catch_up(&self, view: &mut View, meta: &Metadata, write: bool) -> Result<bool> {
        if write && !view.writable {
            let (file, fmeta) = sys::open(&self.path, Access::Append)
                .map_err(|e| self.refused(&self.path, "opening for writing", e))?;
            if id_of(&fmeta) != view.id {
                return Ok(false);
            }
            view.file = Some(Arc::new(file));
            view.writable = true;
        }
        let file = view.file.as_ref().expect("checked by the caller");
        let tail = match &mut view.format {
            Format::V1(stamp) => return Ok(*stamp == Stamp::of(meta)),
            Format::Missing | Format::Copying => return Ok(false),
            Format::V2(tail) => tail,
        };
        if meta.size() < tail.offset {
            return Ok(false);
        }
        // From the newline that ends the last line read: a file rewritten in place, not by
        // rename, has some other byte there.
        let grown = meta.size() > tail.offset;
        let bytes = match grown {
            true => read_from(file, tail.offset - 1, meta.size())
                .map_err(|e| self.io_error("reading", e))?,
            false => Vec::new(),
        };
        // Checked after the read: a rewrite in place changes the first line before anything
        // else, so bytes read before an unchanged first line are the file's, not a mix.
        if !same_header(file, &tail.header).map_err(|e| self.io_error("reading", e))? {
            return Ok(false);
        }
        if !grown {
            return Ok(true);
        }
        if bytes.first() != Some(&b'\n') {
            return Ok(false);
        }
        let end = tail.offset - 1 + bytes.len() as u64;
        let mut moved = tail.clone();
        if format::read_lines(&self.path, &mut view.data, &mut moved, &bytes[1..]).is_err() {
            return Ok(false);
        }
        *tail = moved;
        self.tail_reads.fetch_add(1, Ordering::Relaxed);
        if write && end > tail.offset {
            self.cut(file, tail.offset)?;
        }
        Ok(true)
    }

    /// Reads the whole file. A file rewritten in place while it was read (its first line
    /// changed meanwhile) is read again; one a compaction in place was copying into is read
    /// from the spare, or, under the lock, has its copy finished first.
    fn load(&self, write: bool) -> Result<View> {
        let access = if write { Access::Append } else { Access::Read };
        let (file, meta) = match sys::open(&self.path, access) {
            Ok(opened) => opened,
            Err(e) if e.kind() == io::ErrorKind::NotFound => return Ok(View::missing()),
            Err(e) if write => return Err(self.refused(&self.path, "opening for writing", e)),
            Err(e) => return Err(self.io_error("reading", e)),
        };
        if write {
            identity::refuse_links(&self.path, &meta)?;
        }
        for _ in 0..LOAD_ATTEMPTS {
            let bytes =
                read_from(&file, 0, meta.size()).map_err(|e| self.io_error("reading", e))?;
            let first = bytes
                .split_inclusive(|b| *b == b'\n')
                .next()
                .unwrap_or_default();
            if let Some(HeaderState::Copying(generation)) = format::header_state(&bytes) {
                if write {
                    self.finish_copy(&generation)?;
                    continue;
                }
                match self.read_spare(&file, &generation, first)? {
                    Some(data) => return Ok(self.view_of(file, &meta, data, Format::Copying)),
                    None => continue,
                }
            }
            let decoded = format::decode(&self.path, &bytes);
            if !same_header(&file, first).map_err(|e| self.io_error("reading", e))? {
                continue;
            }
            self.full_reads.fetch_add(1, Ordering::Relaxed);
            let (data, format) = match decoded? {
                Decoded::V1(data) => (data, Format::V1(Stamp::of(&meta))),
                Decoded::V2(data, tail) => {
                    if write && tail.offset < bytes.len() as u64 {
                        self.cut(&file, tail.offset)?;
                    }
                    (data, Format::V2(tail))
                }
            };
            let mut view = self.view_of(file, &meta, data, format);
            view.writable = write;
            return Ok(view);
        }
        Err(Error::busy(format!(
            "registry {}: busy: it was rewritten in place {LOAD_ATTEMPTS} times while being read; nothing was changed",
            self.path.display()
        )))
    }

    fn view_of(&self, file: File, meta: &Metadata, data: Data, format: Format) -> View {
        View {
            data,
            file: Some(Arc::new(file)),
            writable: false,
            id: id_of(meta),
            epoch: next_epoch(),
            format,
        }
    }

    /// (change lines, snapshot lines) of the registry as it is now, when its tail has grown
    /// to twice what asks for a compaction (see [`Tail::overgrown`]).
    pub(crate) fn overgrown(&self) -> Result<Option<(u64, u64)>> {
        // A reader has no other reason to look at the lock file; what a writer would refuse
        // there is damage all the same.
        match sys::lstat_regular(&self.lock_path) {
            Ok(Some(meta)) => identity::refuse_links(&self.lock_path, &meta)?,
            Ok(None) => {}
            Err(e) => return Err(self.refused(&self.lock_path, "opening", e)),
        }
        let inner = self.inner();
        let mut st = self.state(inner)?;
        let view = self.refresh(&mut st, false)?;
        Ok(match &view.format {
            Format::V2(tail) if tail.overgrown() => Some((tail.records, tail.snapshot_entries)),
            _ => None,
        })
    }

    /// Whether the registry file is a regular file whose first JSON value has a `version`
    /// portpool writes (1 or 2), whatever the rest holds.
    fn written_by_portpool(&self) -> bool {
        let Ok((file, meta)) = sys::open(&self.path, Access::Read) else {
            return false;
        };
        read_from(&file, 0, meta.len())
            .is_ok_and(|bytes| crate::store::model::is_current_version(&bytes))
    }

    /// Cuts a torn last line off at `offset`, durably before anything is appended after it.
    fn cut(&self, file: &File, offset: u64) -> Result<()> {
        self.cuts.fetch_add(1, Ordering::Relaxed);
        sys::ftruncate(file, offset)
            .and_then(|()| sys::fdatasync(file))
            .map_err(|e| self.io_error("cutting a torn last line off", e))
    }

    /// This process's state, for one call. Another thread of this process may hold it for
    /// the length of its call (its own lock wait included): a call under
    /// [`wait::with_wait`] waits for it as it waits for another process's lock — bounded,
    /// and asking the caller's check — and any other call simply blocks.
    fn state<'i>(&self, inner: &'i Inner) -> Result<MutexGuard<'i, State>> {
        if !wait::governed() {
            return Ok(inner.state.lock());
        }
        let deadline = wait::deadline(self.lock_timeout());
        loop {
            let slice = match deadline {
                Some(deadline) => deadline.saturating_duration_since(Instant::now()),
                None => Duration::from_millis(5),
            };
            if let Some(st) = inner
                .state
                .try_lock_for(slice.min(Duration::from_millis(5)))
            {
                return Ok(st);
            }
            if deadline.is_some_and(|d| Instant::now() >= d) {
                return Err(Error::busy(format!(
                    "registry {}: busy: another thread of this process held it for the whole lock timeout ({:?}); nothing was changed",
                    self.path.display(),
                    self.lock_timeout()
                )));
            }
            wait::check()?;
        }
    }

    /// Takes the exclusive lock, waiting at most the lock timeout.
    fn lock(&self, st: &mut State) -> Result<Locked> {
        let deadline = wait::deadline(self.lock_timeout());
        loop {
            let file = match &st.lock {
                Some(file) => file.clone(),
                None => {
                    let file = self.open_lock(st)?;
                    st.lock = Some(file.clone());
                    file
                }
            };
            self.wait(&file, deadline)?;
            // portpool never deletes or replaces the lock file; if something did, the lock that
            // counts is the one on the file the path names now: a lock on any other inode
            // (deleted, moved aside, replaced by rename) locks out no one.
            match identity::still_named(&self.lock_path, &file) {
                Ok(true) => return Ok(Locked(file)),
                Ok(false) => {
                    sys::unlock(&file);
                    st.lock = None;
                    if deadline.is_some_and(|d| Instant::now() >= d) {
                        return Err(self.replaced_lock());
                    }
                }
                Err(err) => {
                    sys::unlock(&file);
                    st.lock = None;
                    return Err(err);
                }
            }
        }
    }

    /// Polls for the lock until `deadline` (`None`: never), asking the caller's
    /// [`wait::check`] between polls. Pauses start at 10 µs and double
    /// up to 200 µs while the wait is young, as a contended lock is held for tens of
    /// microseconds (the flush happens after the unlock); after 50 ms they grow to 5 ms, so a
    /// wait for a stopped holder costs next to no CPU. A signal arriving meanwhile neither
    /// fails the wait nor ends it early.
    ///
    /// A blocking `flock` would wake sooner, but cannot be given a deadline without a signal
    /// handler in the host process; on a helper thread, its start and hand-over cost more
    /// than the polling does (measured with 8 processes on one registry).
    fn wait(&self, file: &File, deadline: Option<Instant>) -> Result<()> {
        let start = Instant::now();
        let mut pause = Duration::from_micros(10);
        loop {
            if sys::try_lock(file).map_err(|e| Error::from_io(&self.lock_path, "locking", e))? {
                return Ok(());
            }
            let left = match deadline {
                Some(deadline) => deadline.saturating_duration_since(Instant::now()),
                None => pause,
            };
            if left.is_zero() {
                return Err(self.busy(file));
            }
            wait::check()?;
            std::thread::sleep(pause.min(left));
            let cap = if start.elapsed() < Duration::from_millis(50) {
                Duration::from_micros(200)
            } else {
                Duration::from_millis(5)
            };
            pause = (pause * 2).min(cap);
        }
    }

    fn busy(&self, file: &File) -> Error {
        let holder = file
            .metadata()
            .ok()
            .and_then(|m| sys::lock_holder(&m))
            .map_or_else(|| "another process".to_owned(), |pid| format!("pid {pid}"));
        Error::busy(format!(
            "registry {}: busy: {holder} held its lock {} for the whole lock timeout ({:?}); nothing was changed",
            self.path.display(),
            self.lock_path.display(),
            self.lock_timeout()
        ))
    }

    /// Opens the lock file, creating it (and the registry's directory) when missing. A
    /// registry that would be refused is refused before anything is created.
    fn open_lock(&self, st: &mut State) -> Result<Arc<File>> {
        let opened = match sys::lstat_regular(&self.lock_path) {
            Ok(Some(_)) => sys::open(&self.lock_path, Access::Read),
            Ok(None) => {
                self.refresh(st, false)?;
                self.create_dir()?;
                self.create_lock()
            }
            Err(e) => Err(e),
        };
        let (file, _) = opened.map_err(|e| self.refused(&self.lock_path, "opening", e))?;
        Ok(Arc::new(file))
    }

    /// Creates the registry's missing directories with the handle's directory mode exactly,
    /// whatever the umask, and makes each new entry durable.
    fn create_dir(&self) -> Result<()> {
        let dir = self.dir();
        let mut missing = Vec::new();
        let mut at = dir;
        while fs::symlink_metadata(at).is_err() {
            missing.push(at);
            match at.parent() {
                Some(parent) if !parent.as_os_str().is_empty() => at = parent,
                _ => break,
            }
        }
        for new in missing.into_iter().rev() {
            let made = fs::create_dir(new).and_then(|()| {
                use std::os::unix::fs::PermissionsExt;
                fs::set_permissions(new, fs::Permissions::from_mode(self.dir_mode))
            });
            match made {
                Ok(()) => {
                    if let Some(parent) = new.parent() {
                        let _ = sync_dir(parent);
                    }
                }
                Err(e) if e.kind() == io::ErrorKind::AlreadyExists => {}
                Err(e) => return Err(Error::from_io(new, "creating directory", e)),
            }
        }
        Ok(())
    }

    /// Under the lock: runs `f` and stores what it changed. Returns the append to flush, if
    /// the change must be durable and was appended (a rewrite is durable already).
    fn update_locked(
        &self,
        st: &mut State,
        f: &mut dyn FnMut(&mut Data) -> Result<bool>,
    ) -> Result<Option<Pending>> {
        let lock = st.lock.clone();
        let view = match self.refresh(st, true) {
            Ok(view) => view,
            Err(err) => {
                st.view = None;
                return Err(err);
            }
        };
        view.data.begin_log();
        let outcome = f(&mut view.data);
        let log = view.data.end_log();
        let encoded = match (outcome, log) {
            (Ok(true), Some(log)) => format::encode_change(&view.data, &log),
            (Ok(true), None) => Encoded::Whole,
            (outcome, Some(log)) => {
                view.data.rollback(log);
                return outcome.map(|_| None);
            }
            (outcome, None) => {
                st.view = None;
                return outcome.map(|_| None);
            }
        };
        let stored = self.store(view, encoded, lock.as_deref());
        if stored.is_err() {
            // The change is in memory but maybe not in the file: read the file again.
            st.view = None;
        }
        stored
    }

    /// Under the lock `lock` (when this handle holds one): writes what `encoded` says to the
    /// file `view` read, appending or compacting. Nothing is written when the lock path or the
    /// registry path no longer names what was locked or read.
    fn store(
        &self,
        view: &mut View,
        encoded: Encoded,
        lock: Option<&File>,
    ) -> Result<Option<Pending>> {
        let (appendable, compact) = match &view.format {
            Format::V2(tail) => (true, tail.wants_compaction()),
            _ => (false, false),
        };
        // A lock is a lock only while its path names it: a writer stopped under the lock
        // while its lock file was deleted or replaced may no longer hold the one that counts.
        let locked =
            lock.is_none_or(|l| matches!(identity::still_named(&self.lock_path, l), Ok(true)));
        match encoded {
            Encoded::Nothing => Ok(None),
            _ if !locked => Err(identity::lost_lock(&self.lock_path)),
            _ if view.file.is_some()
                && let Err(err) = identity::check_registry(&self.path, view.id) =>
            {
                Err(err)
            }
            Encoded::Line { bytes, durable } if appendable && !compact => {
                self.append(view, &bytes, durable)
            }
            // A writer that cannot compact (no usable spare) appends, and says so once.
            Encoded::Line { bytes, durable } if appendable => match self.rewrite(view) {
                Err(err) if err.kind() == ErrorKind::Registry && view.writable => {
                    crate::notice::once(crate::notice::Once::Compaction, err.message());
                    self.append(view, &bytes, durable)
                }
                other => other.map(|()| None),
            },
            _ => self.rewrite(view).map(|()| None),
        }
    }

    /// Appends one change line in one `write(2)`.
    fn append(&self, view: &mut View, line: &[u8], durable: bool) -> Result<Option<Pending>> {
        let (Some(file), Format::V2(tail)) = (&view.file, &mut view.format) else {
            unreachable!("appends go to a version-2 file");
        };
        // An append needs little room, but the rewrite that follows the appends needs about
        // the file's size: refusing the append when that is not there keeps a full disk a
        // clear error now rather than a registry that can no longer be compacted.
        let room = sys::available_bytes(file).map_err(|e| self.io_error("writing", e))?;
        if room < tail.offset + line.len() as u64 {
            return Err(self.io_error("writing", io::Error::from_raw_os_error(libc::ENOSPC)));
        }
        match sys::write_once(file, line) {
            Ok(n) if n == line.len() => {}
            written => {
                // Nothing, or part of the line: take the part back, or leave it as a torn
                // line for the next writer to cut.
                let _ = sys::ftruncate(file, tail.offset);
                let err = written
                    .err()
                    .unwrap_or_else(|| io::Error::new(io::ErrorKind::WriteZero, "short write"));
                return Err(self.io_error("writing", err));
            }
        }
        tail.appended(line.len() as u64);
        test_pause("appended");
        Ok(durable.then(|| Pending {
            file: file.clone(),
            epoch: view.epoch,
            upto: tail.offset,
        }))
    }

    /// Replaces the file with the whole registry: temporary file, fsync, rename, directory
    /// fsync, all under the lock. The new file has the old one's mode and, where this process
    /// may give it, its owner and group; never more access for anyone.
    fn rewrite(&self, view: &mut View) -> Result<()> {
        let like = match &view.file {
            Some(file) => Some(file.metadata().map_err(|e| self.io_error("reading", e))?),
            None => None,
        };
        let generation = format::new_generation();
        let (bytes, entries) = format::encode_snapshot(&view.data, &generation);
        let euid = sys::geteuid();
        if let Some(like) = like.as_ref().filter(|m| m.uid() != euid && euid != 0) {
            // A new file would be this user's (and in a sticky directory, no name but its
            // own may be replaced): copy through the spare into the registry's own inode.
            return self.rewrite_in_place(view, like, &bytes, entries);
        }
        self.remove_abandoned_temp_files();
        let mode = like.as_ref().map_or(self.file_mode, |m| m.mode() & 0o777);
        let (temp, file) = self.create_temp(mode)?;
        let written = like
            .as_ref()
            .map_or(Ok(()), |like| keep_owner(&file, like, mode))
            .and_then(|()| sys::write_all_at(&file, &bytes, 0))
            .and_then(|()| sys::fsync(&file))
            .and_then(|()| sys::rename(&temp, &self.path));
        if let Err(e) = written {
            let _ = fs::remove_file(&temp);
            return Err(self.io_error("writing", e));
        }
        self.installed(view, file, &bytes, entries)
    }

    /// After a rewrite put `file` (opened for appending, holding a snapshot of `len` bytes and
    /// `entries` lines) in the registry's place: flushes the directory, and makes `file` the
    /// one `view` appends to.
    fn installed(&self, view: &mut View, file: File, snapshot: &[u8], entries: u64) -> Result<()> {
        // Until the directory is flushed, a power loss may bring the old file back. No append
        // goes to the new file before this returns.
        sync_dir(self.dir()).map_err(|e| {
            Error::new(
                ErrorKind::Io,
                format!(
                    "flushing directory {}: {e}; the registry was rewritten but may not survive a power loss",
                    self.dir().display()
                ),
            )
        })?;
        let meta = file.metadata().map_err(|e| self.io_error("reading", e))?;
        view.id = id_of(&meta);
        view.file = Some(Arc::new(file));
        view.writable = true;
        view.epoch = next_epoch();
        view.format = Format::V2(snapshot_tail(snapshot, entries));
        Ok(())
    }

    /// Creates `.<registry name>.<16 hex digits>.tmp` beside the registry, exclusively.
    fn create_temp(&self, mode: u32) -> Result<(PathBuf, File)> {
        let name = self.path.file_name().unwrap_or_default().to_string_lossy();
        let mut attempts = 0;
        loop {
            let temp = self
                .dir()
                .join(format!(".{name}.{}.tmp", sys::random_hex()));
            match sys::open(&temp, Access::CreateNew(mode)) {
                Ok((file, _)) => return Ok((temp, file)),
                Err(e) if e.kind() == io::ErrorKind::AlreadyExists && attempts < 8 => {
                    attempts += 1;
                }
                Err(e) => return Err(Error::from_io(&temp, "creating", e)),
            }
        }
    }

    /// Removes temporary files of writers killed mid-rewrite. A temporary file exists only
    /// while its writer holds the exclusive lock, which the caller holds now, so every one
    /// found is abandoned; only those provably portpool's are touched: named as
    /// [`create_temp`](Self::create_temp) names them, a regular file of this user with one
    /// link, holding nothing or the start of a version-2 header. A failure here is not the
    /// write's failure.
    fn remove_abandoned_temp_files(&self) {
        let name = self.path.file_name().unwrap_or_default().to_string_lossy();
        let prefix = format!(".{name}.");
        let Ok(entries) = fs::read_dir(self.dir()) else {
            return;
        };
        let euid = sys::geteuid();
        for entry in entries.flatten() {
            let file_name = entry.file_name();
            let Some(hex) = file_name
                .to_str()
                .and_then(|n| n.strip_prefix(prefix.as_str()))
                .and_then(|n| n.strip_suffix(".tmp"))
            else {
                continue;
            };
            if hex.len() != 16 || !hex.bytes().all(|b| b.is_ascii_hexdigit()) {
                continue;
            }
            let path = entry.path();
            let Ok((mut file, meta)) = sys::open(&path, Access::Read) else {
                continue;
            };
            if meta.uid() != euid || meta.nlink() != 1 {
                continue;
            }
            let start = format::HEADER_START;
            let mut head = Vec::with_capacity(start.len());
            let ours = (&mut file)
                .take(start.len() as u64)
                .read_to_end(&mut head)
                .is_ok()
                && start.starts_with(&head);
            if ours {
                let _ = fs::remove_file(&path);
            }
        }
    }

    /// Makes sure everything up to `p.upto` of its file is on the disk. A flush that another
    /// thread of this handle made since covers it; so does any later flush, by anyone, of the
    /// same file.
    fn flush(&self, inner: &Inner, p: Pending) -> Result<()> {
        {
            let done = inner.flushed.lock();
            if done.epoch == p.epoch && done.upto >= p.upto {
                return Ok(());
            }
        }
        test_pause("flush");
        sys::fdatasync(&p.file).map_err(|e| {
            Error::new(
                ErrorKind::Io,
                format!(
                    "flushing {}: {e}; the change was made, but may not survive a power loss",
                    self.path.display()
                ),
            )
        })?;
        let mut done = inner.flushed.lock();
        if done.epoch != p.epoch || done.upto < p.upto {
            *done = Flushed {
                epoch: p.epoch,
                upto: p.upto,
            };
        }
        Ok(())
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
        // means no thread is using it.
        drop(unsafe { Box::from_raw(*self.inner.get_mut()) });
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

/// Where a file that holds only the snapshot `bytes` (of `entries` lines) stands.
fn snapshot_tail(bytes: &[u8], entries: u64) -> Tail {
    let header = bytes
        .split_inclusive(|b| *b == b'\n')
        .next()
        .unwrap_or_default();
    Tail::of_snapshot(bytes.len() as u64, entries, header.to_vec())
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
mod tests {
    use super::*;
    use crate::store::model::{Lease, Mode, Protocol};
    use crate::store::storage::{Policy, Storage};
    use std::io::Write;
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
        file.write_all_at(&format::copying_header(&generation), 0)
            .unwrap();
        // Part of the copy, over the old lines.
        let header_len = format::header(&generation).len();
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
            // Whatever happens, the child ends: a lock another thread held at the fork (the
            // one stderr uses, say) would otherwise hang it.
            // SAFETY: alarm is async-signal-safe; SIGALRM's default action ends the process.
            unsafe { libc::alarm(30) };
            let code = std::panic::catch_unwind(std::panic::AssertUnwindSafe(|| {
                // The parent holds the lock: the child waits for it, then sees the parent's
                // change, then makes its own.
                j.set_lock_timeout(Duration::from_secs(20));
                put(&j, "child", 3);
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
}
