//! Status codes, the error that comes back with a call, the per-thread error message, and
//! the guard every exported body runs in.

use std::any::Any;
use std::cell::RefCell;
use std::ffi::{CString, c_char};
use std::panic::{AssertUnwindSafe, catch_unwind};
use std::ptr::null_mut;

use portpool_core::{Error, ErrorKind};

use crate::args::{self, Handle, Live, Out};

/// What a libportpool call returned. `PORTPOOL_OK` is 0; every other value is a failure, whose
/// message comes back in the call's `out_error` and from `portpool_last_error_message()` on
/// the same thread.
///
/// The codes map one to one onto the kinds of error every portpool binding reports; new codes
/// may be added at the end in a later ABI version, so a `switch` should have a `default`.
#[repr(C)]
#[derive(Clone, Copy, Debug, PartialEq, Eq, Hash)]
pub enum portpool_status {
    /// Success: the out-parameters hold the results.
    PORTPOOL_OK = 0,
    /// A name, pool or other thing asked for does not exist.
    PORTPOOL_NOT_FOUND = 1,
    /// An argument was rejected before anything was read or written: a NULL pointer, text
    /// that is not UTF-8, a port outside 1-65535, a bad name, an unknown mode or protocol, a
    /// pool whose start is after its end.
    PORTPOOL_INVALID_ARGUMENT = 2,
    /// The port asked for is leased to another name or bound by a process outside the
    /// registry, or the name already holds something else.
    PORTPOOL_CONFLICT = 3,
    /// No free port was left where one was asked for.
    PORTPOOL_EXHAUSTED = 4,
    /// The registry file cannot be used: corrupt, of a newer format version, not a portpool
    /// registry, a symbolic link, or not accessible. The file is left untouched.
    PORTPOOL_REGISTRY_ERROR = 5,
    /// The operating system failed a read or write (disk full, I/O error, ...).
    PORTPOOL_IO_ERROR = 6,
    /// A bug in libportpool: the call was abandoned and nothing more is known. The registry
    /// file is still whole (changes are all-or-nothing), and the handle may be used again.
    PORTPOOL_PANIC = 7,
    /// Another process held the registry's lock for the whole lock timeout (10 s, or
    /// `$PORTPOOL_LOCK_TIMEOUT` seconds, or `portpool_set_lock_timeout`); nothing was changed.
    /// The message names the holder's pid when the system shows it. Trying again later is
    /// safe.
    PORTPOOL_BUSY = 8,
}

impl From<ErrorKind> for portpool_status {
    fn from(kind: ErrorKind) -> Self {
        match kind {
            ErrorKind::NotFound => portpool_status::PORTPOOL_NOT_FOUND,
            ErrorKind::InvalidArgument => portpool_status::PORTPOOL_INVALID_ARGUMENT,
            ErrorKind::Conflict => portpool_status::PORTPOOL_CONFLICT,
            ErrorKind::Exhausted => portpool_status::PORTPOOL_EXHAUSTED,
            ErrorKind::Registry => portpool_status::PORTPOOL_REGISTRY_ERROR,
            ErrorKind::Io => portpool_status::PORTPOOL_IO_ERROR,
            ErrorKind::Busy => portpool_status::PORTPOOL_BUSY,
        }
    }
}

/// A failed call's error, from a call's `out_error`: its status and its message, kept until
/// `portpool_error_free`, whatever the thread calls meanwhile.
///
/// **Owner:** the caller, from the failed call until `portpool_error_free`.
/// **Threads:** may be read from any thread, by several at once, and freed from any thread;
/// it must not be used during or after `portpool_error_free`.
pub struct portpool_error {
    status: portpool_status,
    message: CString,
}

static ERRORS: Live = Live::new();

impl Handle for portpool_error {
    fn live() -> &'static Live {
        &ERRORS
    }
    const NOT_LIVE: &'static str = "invalid error: freed already, or not from a call's out_error";
    const NULL: &'static str = "invalid error: NULL pointer";
}

/// The status of the call that failed with `err`; `PORTPOOL_OK` for NULL (a call that
/// succeeded leaves NULL in its `out_error`).
///
/// - **Threads:** safe to call from any thread.
/// - **Errors:** none; a pointer that is not a live error gives `PORTPOOL_INVALID_ARGUMENT`.
///
/// ```c
/// portpool_error *err = NULL;
/// if (portpool_get(reg, "web", &port, &err) != PORTPOOL_OK) {
///     if (portpool_error_status(err) == PORTPOOL_NOT_FOUND)
///         puts("no lease named web");
///     portpool_error_free(err);
/// }
/// ```
///
/// # Safety
/// `err` is NULL or an error from an `out_error` that was not freed yet.
#[unsafe(no_mangle)]
pub unsafe extern "C" fn portpool_error_status(err: *const portpool_error) -> portpool_status {
    if err.is_null() {
        return portpool_status::PORTPOOL_OK;
    }
    // SAFETY: forwarded from this function's contract.
    unsafe { args::handle(err) }.map_or(portpool_status::PORTPOOL_INVALID_ARGUMENT, |e| e.status)
}

/// The one-line message of the call that failed with `err`, naming the value or file at
/// fault; the empty string for NULL. Never NULL.
///
/// - **Ownership:** owned by `err`: valid until `portpool_error_free(err)`; do not free it.
/// - **Threads:** safe to call from any thread.
///
/// ```c
/// portpool_error *err = NULL;
/// if (portpool_open(path, &reg, &err) != PORTPOOL_OK) {
///     fprintf(stderr, "portpool: %s\n", portpool_error_message(err));
///     portpool_error_free(err);
/// }
/// ```
///
/// # Safety
/// `err` is NULL or an error from an `out_error` that was not freed yet.
#[unsafe(no_mangle)]
pub unsafe extern "C" fn portpool_error_message(err: *const portpool_error) -> *const c_char {
    if err.is_null() {
        return c"".as_ptr();
    }
    // SAFETY: forwarded from this function's contract.
    unsafe { args::handle(err) }.map_or(c"invalid error: not a live portpool_error".as_ptr(), |e| {
        e.message.as_ptr()
    })
}

/// Frees an error from a call's `out_error`. NULL, an error freed already and a pointer that
/// never was one do nothing.
///
/// - **Ownership:** takes `err` back; its message must not be used afterwards.
/// - **Threads:** may be called from any thread.
///
/// ```c
/// portpool_error_free(err);
/// ```
///
/// # Safety
/// `err` is NULL or an error from an `out_error`; no other thread is reading it.
#[unsafe(no_mangle)]
pub unsafe extern "C" fn portpool_error_free(err: *mut portpool_error) {
    quietly(|| drop(args::take_handle(err)));
}

thread_local! {
    static LAST_ERROR: RefCell<CString> = RefCell::new(CString::default());
}

/// A message for C: NUL bytes, which a C string cannot hold, are written `\0`.
fn c_message(text: &str) -> CString {
    CString::new(text.replace('\0', "\\0")).unwrap_or_default()
}

/// Replaces this thread's message.
fn set_message(message: CString) {
    // During thread teardown the slot may be gone; there is no one left to read it then.
    let _ = LAST_ERROR.try_with(|slot| *slot.borrow_mut() = message);
}

/// This thread's message: empty after a success, else the last failure's.
pub(crate) fn last_message() -> *const c_char {
    LAST_ERROR
        .try_with(|slot| slot.borrow().as_ptr())
        .unwrap_or(c"".as_ptr())
}

fn panic_text(payload: &(dyn Any + Send)) -> &str {
    payload
        .downcast_ref::<&str>()
        .copied()
        .or_else(|| payload.downcast_ref::<String>().map(String::as_str))
        .unwrap_or("no message")
}

/// Runs one exported function's body: a panic becomes `PORTPOOL_PANIC`, an error its status.
/// The thread's message is set either way (emptied on success), and `out_error`, when the
/// caller gave one, gets a new `portpool_error` on failure and NULL on success.
pub(crate) fn guard(
    out_error: Option<Out<'_, *mut portpool_error>>,
    body: impl FnOnce() -> Result<(), Error>,
) -> portpool_status {
    let (status, message) = match catch_unwind(AssertUnwindSafe(body)) {
        Ok(Ok(())) => (portpool_status::PORTPOOL_OK, CString::default()),
        Ok(Err(err)) => (err.kind().into(), c_message(err.message())),
        Err(payload) => (
            portpool_status::PORTPOOL_PANIC,
            c_message(&format!(
                "portpool panicked (a bug; please report it): {}",
                panic_text(payload.as_ref())
            )),
        ),
    };
    if let Some(out) = out_error {
        out.set(if status == portpool_status::PORTPOOL_OK {
            null_mut()
        } else {
            args::into_handle(portpool_error {
                status,
                message: message.clone(),
            })
        });
    }
    set_message(message);
    status
}

/// Runs a body that returns nothing and reports nothing (frees), so that a panic in it never
/// crosses into C.
pub(crate) fn quietly(body: impl FnOnce()) {
    let _ = catch_unwind(AssertUnwindSafe(body));
}

#[cfg(test)]
mod tests {
    use super::*;
    use std::ffi::CStr;

    fn message() -> String {
        // SAFETY: last_message always returns a valid NUL-terminated string.
        unsafe { CStr::from_ptr(last_message()) }
            .to_string_lossy()
            .into_owned()
    }

    #[test]
    fn a_panic_becomes_portpool_panic_with_its_message() {
        let status = guard(None, || panic!("boom {}", 42));
        assert_eq!(status, portpool_status::PORTPOOL_PANIC);
        assert!(message().contains("boom 42"), "{}", message());
        let status = guard(None, || std::panic::panic_any(7_u8));
        assert_eq!(status, portpool_status::PORTPOOL_PANIC);
        assert!(message().contains("no message"), "{}", message());
    }

    #[test]
    fn success_empties_the_message_and_errors_map_their_kind() {
        let status = guard(None, || Err(Error::new(ErrorKind::Exhausted, "none left")));
        assert_eq!(status, portpool_status::PORTPOOL_EXHAUSTED);
        assert_eq!(message(), "none left");
        assert_eq!(guard(None, || Ok(())), portpool_status::PORTPOOL_OK);
        assert_eq!(message(), "");
    }

    /// Runs `body` in `guard` with an `out_error`, and returns the status and what was written.
    fn with_out_error(
        body: impl FnOnce() -> Result<(), Error>,
    ) -> (portpool_status, *mut portpool_error) {
        let mut err: *mut portpool_error = std::ptr::dangling_mut();
        // SAFETY: `err` is a local, writable for the call.
        let status = guard(unsafe { args::optional_out(&raw mut err) }, body);
        (status, err)
    }

    #[test]
    fn an_error_comes_back_with_the_call_and_outlives_the_threads_message() {
        let (status, err) =
            with_out_error(|| Err(Error::new(ErrorKind::Conflict, "held by another")));
        assert_eq!(status, portpool_status::PORTPOOL_CONFLICT);
        // SAFETY: `err` came from the call; once freed, the library finds it is not live and
        // does not read it.
        let read = |err| unsafe {
            (
                portpool_error_status(err),
                std::ffi::CStr::from_ptr(portpool_error_message(err)).to_owned(),
            )
        };
        assert_eq!(
            read(err),
            (
                portpool_status::PORTPOOL_CONFLICT,
                c"held by another".into()
            )
        );
        let (status, ok) = with_out_error(|| Ok(()));
        assert_eq!((status, ok), (portpool_status::PORTPOOL_OK, null_mut()));
        assert_eq!(message(), "");
        assert_eq!(read(err).1.to_str(), Ok("held by another"));
        let (status, panicked) = with_out_error(|| panic!("inside"));
        assert_eq!(status, portpool_status::PORTPOOL_PANIC);
        assert!(read(panicked).1.to_string_lossy().contains("inside"));
        // SAFETY: both are live errors; freeing twice does nothing the second time.
        unsafe {
            portpool_error_free(err);
            portpool_error_free(panicked);
            portpool_error_free(err);
        }
        assert_eq!(read(err).0, portpool_status::PORTPOOL_INVALID_ARGUMENT);
    }

    #[test]
    fn messages_are_per_thread() {
        guard(None, || {
            Err(Error::new(ErrorKind::NotFound, "main thread's"))
        });
        std::thread::spawn(|| {
            assert_eq!(message(), "");
            guard(None, || {
                Err(Error::new(ErrorKind::Conflict, "other thread's"))
            });
            assert_eq!(message(), "other thread's");
        })
        .join()
        .unwrap();
        assert_eq!(message(), "main thread's");
    }

    #[test]
    fn nul_bytes_in_a_message_are_escaped_not_dropped() {
        guard(None, || Err(Error::new(ErrorKind::InvalidArgument, "a\0b")));
        assert_eq!(message(), "a\\0b");
    }

    #[test]
    fn every_error_kind_has_its_own_status() {
        let kinds = [
            ErrorKind::NotFound,
            ErrorKind::InvalidArgument,
            ErrorKind::Conflict,
            ErrorKind::Exhausted,
            ErrorKind::Registry,
            ErrorKind::Io,
            ErrorKind::Busy,
        ];
        let codes: std::collections::HashSet<i32> = kinds
            .iter()
            .map(|k| portpool_status::from(*k) as i32)
            .collect();
        assert_eq!(codes.len(), kinds.len());
        assert!(!codes.contains(&0));
        assert!(!codes.contains(&(portpool_status::PORTPOOL_PANIC as i32)));
    }
}
