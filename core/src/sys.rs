//! The few system calls the store makes that std does not wrap the way it needs them: opens
//! that never follow a link, never block on a FIFO and never acquire a terminal, flock without
//! blocking, fdatasync, and who holds a lock according to /proc/locks.

use std::fs::{File, Metadata, OpenOptions};
use std::io;
use std::os::fd::AsRawFd;
use std::os::unix::fs::{MetadataExt, OpenOptionsExt};
use std::path::Path;

/// Flags for every open of a registry, lock or temporary file: a symbolic link is `ELOOP`, a
/// FIFO or device opens without waiting (and is then refused by the caller, after `fstat`),
/// and a terminal never becomes the controlling one. std adds `O_CLOEXEC` to every open, so
/// no program this process executes inherits a descriptor.
pub(crate) const OPEN_FLAGS: i32 = libc::O_NOFOLLOW | libc::O_NONBLOCK | libc::O_NOCTTY;

/// How `open` opens a path.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub(crate) enum Access {
    Read,
    /// Read and append (every write goes to the end).
    Append,
    /// Read and write at any offset (the compaction spare), never creating.
    Write,
    /// Read and append, creating the file with `mode` exactly (whatever the umask), failing
    /// when it exists.
    CreateNew(u32),
}

/// Opens `path` with [`OPEN_FLAGS`] and checks that it is a regular file: anything else
/// (a directory, FIFO, socket or device) is an error of kind `InvalidInput`, and is closed
/// without a read or write.
pub(crate) fn open(path: &Path, access: Access) -> io::Result<(File, Metadata)> {
    let mut options = OpenOptions::new();
    options.read(true).custom_flags(OPEN_FLAGS);
    match access {
        Access::Read => {}
        Access::Append => {
            options.append(true);
        }
        Access::Write => {
            options.write(true);
        }
        Access::CreateNew(mode) => {
            options.append(true).create_new(true).mode(mode & 0o600);
        }
    }
    let file = options.open(path)?;
    let meta = file.metadata()?;
    if !meta.is_file() {
        return Err(not_regular());
    }
    if let Access::CreateNew(mode) = access {
        // Created 0600 at most, then given exactly `mode`: the umask plays no part.
        fchmod(&file, mode)?;
    }
    Ok((file, meta))
}

#[derive(Debug)]
struct NotRegular;

impl std::fmt::Display for NotRegular {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.write_str("is not a regular file")
    }
}

impl std::error::Error for NotRegular {}

/// The error of [`open`] and [`lstat_regular`] for what is not a regular file.
pub(crate) fn not_regular() -> io::Error {
    io::Error::new(io::ErrorKind::InvalidInput, NotRegular)
}

/// Whether `err` is [`not_regular`]'s.
pub(crate) fn is_not_regular(err: &io::Error) -> bool {
    err.get_ref().is_some_and(|e| e.is::<NotRegular>())
}

/// `lstat(path)`: `None` when nothing is there; a symbolic link is `ELOOP` and anything else
/// that is not a regular file is [`not_regular`].
pub(crate) fn lstat_regular(path: &Path) -> io::Result<Option<Metadata>> {
    match std::fs::symlink_metadata(path) {
        Ok(meta) if meta.file_type().is_symlink() => Err(io::Error::from_raw_os_error(libc::ELOOP)),
        Ok(meta) if !meta.is_file() => Err(not_regular()),
        Ok(meta) => Ok(Some(meta)),
        Err(e) if e.kind() == io::ErrorKind::NotFound => Ok(None),
        Err(e) => Err(e),
    }
}

fn cvt(ret: libc::c_int) -> io::Result<()> {
    if ret == -1 {
        Err(io::Error::last_os_error())
    } else {
        Ok(())
    }
}

/// Retries `f` while it fails with `EINTR`.
fn retry(mut f: impl FnMut() -> libc::c_int) -> io::Result<()> {
    loop {
        match cvt(f()) {
            Err(e) if e.kind() == io::ErrorKind::Interrupted => continue,
            other => return other,
        }
    }
}

pub(crate) fn fchmod(file: &File, mode: u32) -> io::Result<()> {
    // SAFETY: fchmod on a descriptor this process owns; no memory is passed.
    retry(|| unsafe { libc::fchmod(file.as_raw_fd(), mode as libc::mode_t) })
}

pub(crate) fn fchown(file: &File, uid: Option<u32>, gid: Option<u32>) -> io::Result<()> {
    let (uid, gid) = (uid.unwrap_or(u32::MAX), gid.unwrap_or(u32::MAX));
    // SAFETY: as fchmod; -1 (u32::MAX) leaves that id as it is.
    retry(|| unsafe { libc::fchown(file.as_raw_fd(), uid, gid) })
}

/// `fdatasync(2)`: everything written to the file before the call is on the disk when it
/// returns, whoever wrote it.
pub(crate) fn fdatasync(file: &File) -> io::Result<()> {
    fault("fdatasync")?;
    // SAFETY: fdatasync on a descriptor this process owns.
    retry(|| unsafe { libc::fdatasync(file.as_raw_fd()) })
}

/// Takes the exclusive flock on `file` if no one holds it; `Ok(false)` when someone does.
pub(crate) fn try_lock(file: &File) -> io::Result<bool> {
    // SAFETY: flock on a descriptor this process owns.
    match retry(|| unsafe { libc::flock(file.as_raw_fd(), libc::LOCK_EX | libc::LOCK_NB) }) {
        Ok(()) => Ok(true),
        Err(e) if e.kind() == io::ErrorKind::WouldBlock => Ok(false),
        Err(e) => Err(e),
    }
}

/// Releases the flock on `file`. Done explicitly before a locked descriptor is closed: a
/// child forked meanwhile shares the open file description, and would otherwise keep the
/// lock for as long as it lives.
pub(crate) fn unlock(file: &File) {
    // SAFETY: flock on a descriptor this process owns. LOCK_UN cannot fail on a valid one.
    let _ = retry(|| unsafe { libc::flock(file.as_raw_fd(), libc::LOCK_UN) });
}

pub(crate) fn ftruncate(file: &File, len: u64) -> io::Result<()> {
    fault("ftruncate")?;
    file.set_len(len)
}

/// `fsync(2)`: the file's data and metadata are on the disk when it returns.
pub(crate) fn fsync(file: &File) -> io::Result<()> {
    fault("fsync")?;
    file.sync_all()
}

/// Writes all of `bytes` at `offset` (`pwrite`).
pub(crate) fn write_all_at(file: &File, bytes: &[u8], offset: u64) -> io::Result<()> {
    use std::os::unix::fs::FileExt;
    fault("write")?;
    file.write_all_at(bytes, offset)
}

/// One `write(2)` of `bytes` (on an `O_APPEND` descriptor: at the end); returns how many
/// bytes it wrote.
pub(crate) fn write_once(file: &File, bytes: &[u8]) -> io::Result<usize> {
    use std::io::Write;
    fault("write")?;
    (&*file).write(bytes)
}

/// Bytes this process may still write on the file system of `file` (root may use the blocks
/// reserved for it).
// The counts are narrower than u64 on some 32-bit targets.
#[allow(clippy::useless_conversion)]
pub(crate) fn available_bytes(file: &File) -> io::Result<u64> {
    // SAFETY: statvfs is plain data; fstatvfs fills it for a descriptor this process owns.
    let mut st: libc::statvfs = unsafe { std::mem::zeroed() };
    retry(|| unsafe { libc::fstatvfs(file.as_raw_fd(), &mut st) })?;
    let blocks = if geteuid() == 0 {
        st.f_bfree
    } else {
        st.f_bavail
    };
    // The fields are u64 on 64-bit Linux, narrower elsewhere.
    #[allow(clippy::useless_conversion)]
    let bytes = u64::from(blocks).saturating_mul(u64::from(st.f_frsize));
    Ok(bytes)
}

/// Sixteen random hexadecimal digits.
pub(crate) fn random_hex() -> String {
    let mut bytes = [0u8; 8];
    // The system call (Linux 3.17+), not glibc's wrapper, which came with glibc 2.25: the
    // released binaries run on glibc 2.17.
    // SAFETY: getrandom writes at most `bytes.len()` bytes into `bytes`.
    let got = unsafe {
        libc::syscall(
            libc::SYS_getrandom,
            bytes.as_mut_ptr(),
            bytes.len(),
            0 as libc::c_uint,
        )
    };
    if got != bytes.len() as libc::c_long {
        // No getrandom: the time and the pid are unique enough for a name made with O_EXCL.
        let t = std::time::SystemTime::now()
            .duration_since(std::time::UNIX_EPOCH)
            .map_or(0, |d| d.as_nanos() as u64);
        bytes = (t ^ (u64::from(std::process::id()) << 40)).to_le_bytes();
    }
    bytes.iter().map(|b| format!("{b:02x}")).collect()
}

/// The pid holding a flock on the file `meta` describes, when /proc/locks shows one.
pub(crate) fn lock_holder(meta: &Metadata) -> Option<u32> {
    let text = std::fs::read_to_string("/proc/locks").ok()?;
    let (major, minor) = (libc::major(meta.dev()), libc::minor(meta.dev()));
    text.lines().find_map(|line| {
        // "1: FLOCK  ADVISORY  WRITE 4242 fd:01:131077 0 EOF"; waiters have "->" after the id.
        let mut fields = line.split_whitespace().skip(1);
        let kind = fields.next()?;
        if kind != "FLOCK" {
            return None;
        }
        let pid = fields.nth(2)?.parse::<u32>().ok()?;
        let mut id = fields.next()?.split(':');
        let maj = u32::from_str_radix(id.next()?, 16).ok()?;
        let min = u32::from_str_radix(id.next()?, 16).ok()?;
        let ino = id.next()?.parse::<u64>().ok()?;
        (maj == major && min == minor && ino == meta.ino()).then_some(pid)
    })
}

/// Whether this process may act as a member of group `gid`.
pub(crate) fn in_group(gid: u32) -> bool {
    // SAFETY: getegid has no preconditions.
    if unsafe { libc::getegid() } == gid {
        return true;
    }
    let mut groups = vec![0 as libc::gid_t; 256];
    // SAFETY: getgroups writes at most `groups.len()` ids into `groups`.
    let n = unsafe { libc::getgroups(groups.len() as libc::c_int, groups.as_mut_ptr()) };
    n > 0 && groups[..n as usize].contains(&gid)
}

/// Swaps what `a` and `b` name, atomically (`renameat2` with `RENAME_EXCHANGE`): both files
/// keep their inodes, owners and modes, and a reader of either name finds one or the other.
/// The system call itself (Linux 3.15+), not glibc's wrapper: that one came with glibc 2.28,
/// and the released binaries run on glibc 2.17.
pub(crate) fn rename_exchange(a: &Path, b: &Path) -> io::Result<()> {
    use std::os::unix::ffi::OsStrExt;
    fault("renameat2")?;
    let a = std::ffi::CString::new(a.as_os_str().as_bytes())?;
    let b = std::ffi::CString::new(b.as_os_str().as_bytes())?;
    // SAFETY: two valid NUL-terminated paths, relative to the working directory; renameat2
    // returns 0 or -1 (errno set), which fits a c_int.
    retry(|| unsafe {
        libc::syscall(
            libc::SYS_renameat2,
            libc::AT_FDCWD,
            a.as_ptr(),
            libc::AT_FDCWD,
            b.as_ptr(),
            libc::RENAME_EXCHANGE,
        ) as libc::c_int
    })
}

/// Whether the kernel knows a process `pid` in this process's pid namespace, whether or not
/// `/proc` shows it: `kill(pid, 0)` fails with `ESRCH` only when there is none (`EPERM`
/// means there is one that this process may not signal).
pub(crate) fn pid_exists(pid: u32) -> bool {
    let Ok(pid) = libc::pid_t::try_from(pid) else {
        return false;
    };
    if pid <= 0 {
        return false;
    }
    // SAFETY: signal 0 sends nothing; kill only checks that the process exists.
    let rc = unsafe { libc::kill(pid, 0) };
    rc == 0 || io::Error::last_os_error().raw_os_error() != Some(libc::ESRCH)
}

/// `rename(2)`.
pub(crate) fn rename(from: &Path, to: &Path) -> io::Result<()> {
    fault("rename")?;
    std::fs::rename(from, to)
}

/// Test builds only: `PORTPOOL_TEST_FAULT=<call>:<n>:<errno>` makes this process's `n`th
/// `<call>` of the store (`write`, `fdatasync`, `fsync`, `rename`, `renameat2`,
/// `ftruncate`) fail with `errno` instead of running, so that tests can fail each one in
/// turn, as SQLite's do.
pub(crate) fn fault(call: &str) -> io::Result<()> {
    #[cfg(debug_assertions)]
    {
        use std::sync::atomic::{AtomicU32, Ordering};
        static CALLS: [AtomicU32; 6] = [const { AtomicU32::new(0) }; 6];
        let names = [
            "write",
            "fdatasync",
            "fsync",
            "rename",
            "renameat2",
            "ftruncate",
        ];
        let Some(index) = names.iter().position(|n| *n == call) else {
            return Ok(());
        };
        let n = CALLS[index].fetch_add(1, Ordering::Relaxed) + 1;
        let planned = std::env::var("PORTPOOL_TEST_FAULT").ok().and_then(|v| {
            let mut parts = v.split(':');
            let (what, nth, errno) = (parts.next()?, parts.next()?, parts.next()?);
            (what == call).then_some((nth.parse::<u32>().ok()?, errno.parse::<i32>().ok()?))
        });
        if let Some((nth, errno)) = planned
            && nth == n
        {
            return Err(io::Error::from_raw_os_error(errno));
        }
    }
    #[cfg(not(debug_assertions))]
    let _ = call;
    Ok(())
}

pub(crate) fn geteuid() -> u32 {
    // SAFETY: geteuid has no preconditions and cannot fail.
    unsafe { libc::geteuid() }
}
