//! Starting a command with a socket handed over the way systemd's socket activation hands it
//! (`sd_listen_fds(3)`): the socket as fd 3, `LISTEN_FDS=1`, `LISTEN_PID` = the command's own
//! pid, `LISTEN_FDNAMES` = the lease's name, and no other descriptor of this process.
//!
//! The command is forked and executed here, not by `std::process::Command`: `LISTEN_PID` must
//! be the pid of the process that runs the command, known only after the fork, and std builds
//! the environment before it forks (a `pre_exec` hook cannot change it: `setenv` is not
//! async-signal-safe there). The other way, a shell trampoline
//! (`sh -c 'LISTEN_PID=$$ exec "$0" "$@"'`), needs a `/bin/sh` (distroless images have none),
//! costs one more exec and reports a missing command in the shell's words. Here everything is
//! allocated before the fork, the environment with a fixed slot for the pid, and the child
//! runs only async-signal-safe calls: it fills the slot, moves the socket to fd 3, marks every
//! other descriptor close-on-exec, and calls `execvpe`. An exec that fails reports its errno
//! through a close-on-exec pipe, as std does.

use std::ffi::{CString, OsStr, OsString};
use std::io;
use std::os::fd::{AsRawFd, FromRawFd, OwnedFd};
use std::os::unix::ffi::{OsStrExt, OsStringExt};
use std::os::unix::process::ExitStatusExt;
use std::process::ExitStatus;

/// The variables the protocol sets; inherited values of them are dropped.
const PROTOCOL_VARS: [&str; 3] = ["LISTEN_FDS", "LISTEN_PID", "LISTEN_FDNAMES"];

/// `LISTEN_PID=` and room for any pid (at most 10 digits) and the terminating NUL.
const PID_PREFIX: &[u8] = b"LISTEN_PID=";

/// A running command started by [`spawn`].
pub(crate) struct Activated {
    pid: libc::pid_t,
}

impl Activated {
    /// The command's process id.
    pub(crate) fn id(&self) -> u32 {
        self.pid as u32
    }

    /// Waits for the command to exit.
    pub(crate) fn wait(&self) -> io::Result<ExitStatus> {
        let mut status = 0;
        loop {
            // SAFETY: waitpid writes the status into a valid int.
            if unsafe { libc::waitpid(self.pid, &mut status, 0) } == self.pid {
                return Ok(ExitStatus::from_raw(status));
            }
            let err = io::Error::last_os_error();
            if err.kind() != io::ErrorKind::Interrupted {
                return Err(err);
            }
        }
    }
}

/// Runs `command` (its first element is looked up in `$PATH`) with this process's
/// environment plus `env`, `socket` as fd 3 and the socket-activation variables naming it
/// `name`. Standard input, output and error are inherited; every other descriptor is closed
/// in the command. An argument holding a NUL byte is `InvalidInput`.
pub(crate) fn spawn(
    command: &[OsString],
    env: &[(&str, &OsStr)],
    socket: OwnedFd,
    name: &str,
) -> io::Result<Activated> {
    let argv = c_strings(command)?;
    let mut argv_ptrs: Vec<*const libc::c_char> = argv.iter().map(|a| a.as_ptr()).collect();
    argv_ptrs.push(std::ptr::null());
    let envp = environment(env, name);
    // The pid slot: the prefix, then NULs the child overwrites with digits (one NUL is left).
    let mut pid_slot = PID_PREFIX.to_vec();
    pid_slot.resize(PID_PREFIX.len() + 12, 0);
    let mut pid_slot = pid_slot.into_boxed_slice();
    let mut envp_ptrs: Vec<*const libc::c_char> = envp.iter().map(|e| e.as_ptr()).collect();
    envp_ptrs.push(pid_slot.as_ptr().cast());
    envp_ptrs.push(std::ptr::null());

    // The socket and the error pipe's write end well above 3, so that moving the socket to
    // fd 3 overwrites neither.
    let socket = dup_high(socket)?;
    let (reader, writer) = pipe()?;
    let writer = dup_high(writer)?;
    let child = Child {
        pid_slot: pid_slot.as_mut_ptr(),
        socket: socket.as_raw_fd(),
        writer: writer.as_raw_fd(),
        limit: fd_limit(),
        empty: empty_sigset(),
        argv: &argv_ptrs,
        envp: &envp_ptrs,
    };

    // SAFETY: the child runs only async-signal-safe calls on memory allocated before the fork.
    let pid = unsafe { libc::fork() };
    if pid < 0 {
        return Err(io::Error::last_os_error());
    }
    if pid == 0 {
        // SAFETY: see above; the child never returns from this call.
        unsafe { child.exec() }
    }
    drop(writer);
    drop(socket);
    exec_result(&reader, Activated { pid })
}

/// The command line as C strings; an argument holding a NUL byte is `InvalidInput`.
fn c_strings(command: &[OsString]) -> io::Result<Vec<CString>> {
    command
        .iter()
        .map(|a| CString::new(a.as_bytes()))
        .collect::<Result<_, _>>()
        .map_err(|_| io::Error::new(io::ErrorKind::InvalidInput, "an argument holds a NUL byte"))
}

/// The command's environment but for `LISTEN_PID`: this process's, without the protocol's
/// variables nor those of `env`, then `env`, `LISTEN_FDS=1` and `LISTEN_FDNAMES=name`.
fn environment(env: &[(&str, &OsStr)], name: &str) -> Vec<CString> {
    let ours: Vec<(&str, &OsStr)> = env
        .iter()
        .copied()
        .chain([
            ("LISTEN_FDS", OsStr::new("1")),
            ("LISTEN_FDNAMES", OsStr::new(name)),
        ])
        .collect();
    std::env::vars_os()
        .filter(|(key, _)| {
            !PROTOCOL_VARS.iter().any(|v| key == v) && !ours.iter().any(|(k, _)| key == k)
        })
        .chain(
            ours.iter()
                .map(|(k, v)| (OsString::from(k), v.to_os_string())),
        )
        .filter_map(|(key, value)| {
            let mut entry = key.into_vec();
            entry.push(b'=');
            entry.extend_from_slice(value.as_bytes());
            CString::new(entry).ok()
        })
        .collect()
}

/// What the forked child needs, all of it allocated before the fork.
struct Child<'a> {
    /// Where the child writes its pid's digits, after `LISTEN_PID=`.
    pid_slot: *mut u8,
    socket: libc::c_int,
    /// The close-on-exec pipe the child reports a failed exec's errno through.
    writer: libc::c_int,
    limit: libc::c_int,
    empty: libc::sigset_t,
    argv: &'a [*const libc::c_char],
    envp: &'a [*const libc::c_char],
}

impl Child<'_> {
    /// In the forked child: fills the pid slot, moves the socket to fd 3, marks every other
    /// descriptor close-on-exec and executes the command, or reports why not and exits 127.
    ///
    /// # Safety
    /// Call only in the child of a fork, where only async-signal-safe calls are allowed: this
    /// allocates nothing and never returns.
    unsafe fn exec(&self) -> ! {
        unsafe {
            let slot = self.pid_slot.add(PID_PREFIX.len());
            write_decimal(slot, libc::getpid() as u32);
            libc::sigprocmask(libc::SIG_SETMASK, &self.empty, std::ptr::null_mut());
            // Rust ignores SIGPIPE; the command gets the default, as std gives it.
            libc::signal(libc::SIGPIPE, libc::SIG_DFL);
            let ok = libc::dup2(self.socket, 3) == 3
                && cloexec_from(4, self.limit)
                && libc::execvpe(self.argv[0], self.argv.as_ptr(), self.envp.as_ptr()) == 0;
            let errno = if ok { 0 } else { *libc::__errno_location() };
            let bytes = errno.to_ne_bytes();
            libc::write(self.writer, bytes.as_ptr().cast(), bytes.len());
            libc::_exit(127);
        }
    }
}

/// The started `child`, once the error pipe (`reader`) closes empty: the exec succeeded.
/// An errno read from it instead is the exec's failure (the child is reaped).
fn exec_result(reader: &OwnedFd, child: Activated) -> io::Result<Activated> {
    let mut buf = [0u8; 4];
    let read = loop {
        // SAFETY: reads into a valid 4-byte buffer.
        let n = unsafe { libc::read(reader.as_raw_fd(), buf.as_mut_ptr().cast(), buf.len()) };
        if n >= 0 || io::Error::last_os_error().kind() != io::ErrorKind::Interrupted {
            break n;
        }
    };
    if read == 0 {
        return Ok(child);
    }
    // The exec failed: reap the child and report why.
    let _ = child.wait();
    Err(if read == 4 {
        io::Error::from_raw_os_error(i32::from_ne_bytes(buf))
    } else {
        io::Error::other("the command's process failed before it ran the command")
    })
}

/// `fd` renumbered 10 or above, close-on-exec (the old number is closed).
fn dup_high(fd: OwnedFd) -> io::Result<OwnedFd> {
    // SAFETY: fcntl on a descriptor this process owns; the new one is owned by the result.
    let new = unsafe { libc::fcntl(fd.as_raw_fd(), libc::F_DUPFD_CLOEXEC, 10) };
    if new < 0 {
        return Err(io::Error::last_os_error());
    }
    Ok(unsafe { OwnedFd::from_raw_fd(new) })
}

/// A close-on-exec pipe: (read end, write end).
fn pipe() -> io::Result<(OwnedFd, OwnedFd)> {
    let mut fds = [0; 2];
    // SAFETY: pipe2 writes two descriptors into a valid array; each is owned once.
    if unsafe { libc::pipe2(fds.as_mut_ptr(), libc::O_CLOEXEC) } != 0 {
        return Err(io::Error::last_os_error());
    }
    Ok(unsafe { (OwnedFd::from_raw_fd(fds[0]), OwnedFd::from_raw_fd(fds[1])) })
}

/// The highest descriptor number to mark by hand where `close_range` is missing: the soft
/// limit on open files, at most 2^20.
fn fd_limit() -> libc::c_int {
    let mut limit = libc::rlimit {
        rlim_cur: 0,
        rlim_max: 0,
    };
    // SAFETY: getrlimit writes into a valid rlimit.
    if unsafe { libc::getrlimit(libc::RLIMIT_NOFILE, &mut limit) } != 0 {
        return 1024;
    }
    limit.rlim_cur.min(1 << 20) as libc::c_int
}

fn empty_sigset() -> libc::sigset_t {
    // SAFETY: sigemptyset initialises the set it is given.
    unsafe {
        let mut set = std::mem::zeroed();
        libc::sigemptyset(&mut set);
        set
    }
}

/// Marks every descriptor from `first` up close-on-exec: `close_range` (Linux 5.11), else one
/// `fcntl` per number below `limit`. Async-signal-safe.
unsafe fn cloexec_from(first: libc::c_uint, limit: libc::c_int) -> bool {
    // SAFETY: close_range only changes descriptor flags.
    let done = unsafe {
        libc::syscall(
            libc::SYS_close_range,
            first,
            libc::c_uint::MAX,
            libc::CLOSE_RANGE_CLOEXEC,
        )
    };
    if done == 0 {
        return true;
    }
    for fd in first as libc::c_int..limit {
        // SAFETY: fcntl on a number that may not be open fails with EBADF, harmlessly.
        unsafe { libc::fcntl(fd, libc::F_SETFD, libc::FD_CLOEXEC) };
    }
    true
}

/// Writes `value` in decimal at `out`, followed by nothing (the slot is NUL-filled).
/// Async-signal-safe: no allocation.
unsafe fn write_decimal(out: *mut u8, mut value: u32) {
    let mut digits = [0u8; 10];
    let mut n = 0;
    loop {
        digits[n] = b'0' + (value % 10) as u8;
        n += 1;
        value /= 10;
        if value == 0 {
            break;
        }
    }
    for (i, digit) in digits[..n].iter().rev().enumerate() {
        // SAFETY: the slot has room for 10 digits and a NUL.
        unsafe { *out.add(i) = *digit };
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn pids_are_written_in_decimal_and_stay_nul_terminated() {
        for (pid, text) in [
            (0u32, "0"),
            (7, "7"),
            (4_194_304, "4194304"),
            (u32::MAX, "4294967295"),
        ] {
            let mut slot = [0u8; 12];
            unsafe { write_decimal(slot.as_mut_ptr(), pid) };
            let end = slot.iter().position(|b| *b == 0).unwrap();
            assert_eq!(std::str::from_utf8(&slot[..end]).unwrap(), text);
        }
    }
}
