//! The one error type of portpool. Every binding maps [`ErrorKind`] to its language's errors.

use std::fmt;
use std::io;
use std::path::Path;

/// What went wrong, in the terms every portpool binding exposes.
///
/// The set is closed: the C status codes, the Python exception classes, the Node `err.code`
/// values, the Go sentinel errors and the CLI exit codes are each a one-to-one map of it.
#[derive(Clone, Copy, Debug, PartialEq, Eq, Hash)]
pub enum ErrorKind {
    /// A name, pool or other thing asked for does not exist.
    NotFound,
    /// An argument was rejected before anything was read or written: a port outside 1–65535,
    /// a bad name, an unknown mode or protocol, a pool whose start is after its end.
    InvalidArgument,
    /// The port asked for is leased to another name, bound by a process outside the registry,
    /// or the name already holds something else.
    Conflict,
    /// No free port was left where one was asked for.
    Exhausted,
    /// The registry file cannot be used: corrupt, of a newer format version, not a portpool
    /// registry, a symbolic link, or not accessible.
    Registry,
    /// The operating system failed a read or write (disk full, I/O error, ...).
    Io,
    /// The registry's lock was held by another process for longer than the handle's lock
    /// timeout (10 s unless changed); nothing was written. The message names the holder's pid
    /// when `/proc/locks` shows it.
    Busy,
}

impl ErrorKind {
    /// A stable lower-case identifier, e.g. `"not_found"`.
    pub fn as_str(self) -> &'static str {
        match self {
            ErrorKind::NotFound => "not_found",
            ErrorKind::InvalidArgument => "invalid_argument",
            ErrorKind::Conflict => "conflict",
            ErrorKind::Exhausted => "exhausted",
            ErrorKind::Registry => "registry",
            ErrorKind::Io => "io",
            ErrorKind::Busy => "busy",
        }
    }
}

impl fmt::Display for ErrorKind {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(self.as_str())
    }
}

/// A portpool error: a [`ErrorKind`] and a message that names the value or file at fault.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct Error {
    kind: ErrorKind,
    message: String,
    os_error: Option<i32>,
}

/// Result alias used throughout portpool.
pub type Result<T, E = Error> = std::result::Result<T, E>;

impl Error {
    /// An error of `kind` with `message`.
    pub fn new(kind: ErrorKind, message: impl Into<String>) -> Self {
        Error {
            kind,
            message: message.into(),
            os_error: None,
        }
    }

    /// The kind of failure.
    pub fn kind(&self) -> ErrorKind {
        self.kind
    }

    /// The human-readable message, without a kind prefix.
    pub fn message(&self) -> &str {
        &self.message
    }

    /// The operating system's error number (`errno`) when the failure came from a system
    /// call, e.g. `Some(libc::ENOSPC)`; `None` otherwise.
    pub fn os_error(&self) -> Option<i32> {
        self.os_error
    }

    /// This error, carrying the OS error number it came from.
    pub(crate) fn with_os_error(self, errno: Option<i32>) -> Self {
        Error {
            os_error: errno,
            ..self
        }
    }

    /// This error, its message ending with `hint` (what to do about it).
    pub(crate) fn with_hint(self, hint: &str) -> Self {
        Error {
            message: format!("{}; {hint}", self.message),
            ..self
        }
    }

    pub(crate) fn not_found(message: impl Into<String>) -> Self {
        Error::new(ErrorKind::NotFound, message)
    }

    pub(crate) fn invalid(message: impl Into<String>) -> Self {
        Error::new(ErrorKind::InvalidArgument, message)
    }

    pub(crate) fn conflict(message: impl Into<String>) -> Self {
        Error::new(ErrorKind::Conflict, message)
    }

    pub(crate) fn exhausted(message: impl Into<String>) -> Self {
        Error::new(ErrorKind::Exhausted, message)
    }

    pub(crate) fn busy(message: impl Into<String>) -> Self {
        Error::new(ErrorKind::Busy, message)
    }

    pub(crate) fn registry(path: &Path, message: impl fmt::Display) -> Self {
        Error::new(
            ErrorKind::Registry,
            format!("registry {}: {message}", path.display()),
        )
    }

    /// Maps an OS error on `path` (doing `what`) to the right kind: permission problems,
    /// symbolic links and what is not a regular file are registry errors, the rest are I/O
    /// errors.
    pub(crate) fn from_io(path: &Path, what: &str, err: io::Error) -> Self {
        if crate::sys::is_not_regular(&err) {
            return Error::registry(path, "is not a regular file");
        }
        let kind = match err.kind() {
            io::ErrorKind::PermissionDenied | io::ErrorKind::ReadOnlyFilesystem => {
                ErrorKind::Registry
            }
            _ if err.raw_os_error() == Some(libc::ELOOP) => {
                return Error::new(
                    ErrorKind::Registry,
                    format!(
                        "{}: is a symbolic link; portpool does not follow links for its registry, lock or temporary files",
                        path.display()
                    ),
                );
            }
            _ => ErrorKind::Io,
        };
        Error {
            os_error: err.raw_os_error(),
            ..Error::new(kind, format!("{what} {}: {err}", path.display()))
        }
    }
}

impl fmt::Display for Error {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(&self.message)
    }
}

impl std::error::Error for Error {}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn an_os_failure_keeps_its_errno_and_other_errors_have_none() {
        let err = Error::from_io(
            Path::new("/x"),
            "writing",
            io::Error::from_raw_os_error(libc::ENOSPC),
        );
        assert_eq!(
            (err.kind(), err.os_error()),
            (ErrorKind::Io, Some(libc::ENOSPC))
        );
        assert_eq!(Error::invalid("bad").os_error(), None);
    }
}
