//! Turning C arguments into core values, and core values into C results. Every check here is
//! about the C representation (NULL, UTF-8, enum values); the rules about ports live in core.

use std::ffi::{CStr, CString, OsStr, c_char};
use std::marker::PhantomData;
use std::os::unix::ffi::OsStrExt;
use std::path::Path;
use std::ptr::NonNull;

use portpool_core::{Error, ErrorKind, LeaseOptions, Mode, Protocol, Registry, Result};

use crate::types::{
    PORTPOOL_MODE_FIXED, PORTPOOL_MODE_FLEXIBLE, PORTPOOL_MODE_POOL, PORTPOOL_PROBE_DEFAULT,
    PORTPOOL_PROBE_OFF, PORTPOOL_PROBE_ON, PORTPOOL_PROTOCOL_TCP, PORTPOOL_PROTOCOL_UDP,
    portpool_lease_options, portpool_mode, portpool_probe, portpool_protocol, portpool_registry,
};

fn invalid(message: String) -> Error {
    Error::new(ErrorKind::InvalidArgument, message)
}

/// A required string argument, as UTF-8.
///
/// # Safety
/// `ptr` is NULL or points to a NUL-terminated string that stays valid for `'a`.
pub(crate) unsafe fn text<'a>(ptr: *const c_char, what: &str) -> Result<&'a str> {
    if ptr.is_null() {
        return Err(invalid(format!("invalid {what}: NULL pointer")));
    }
    // SAFETY: non-NULL, and the caller promises a NUL-terminated string.
    let bytes = unsafe { CStr::from_ptr(ptr) }.to_bytes();
    std::str::from_utf8(bytes).map_err(|e| {
        invalid(format!(
            "invalid {what}: not UTF-8 (byte 0x{:02X} at offset {})",
            bytes[e.valid_up_to()],
            e.valid_up_to()
        ))
    })
}

/// An optional string argument: NULL gives `None`.
///
/// # Safety
/// As for [`text`].
pub(crate) unsafe fn optional_text<'a>(ptr: *const c_char, what: &str) -> Result<Option<&'a str>> {
    if ptr.is_null() {
        Ok(None)
    } else {
        // SAFETY: forwarded from the caller.
        unsafe { text(ptr, what) }.map(Some)
    }
}

/// An optional file path: NULL gives `None`. A path is bytes on Unix, so any bytes are taken.
///
/// # Safety
/// As for [`text`].
pub(crate) unsafe fn optional_path<'a>(ptr: *const c_char) -> Option<&'a Path> {
    if ptr.is_null() {
        return None;
    }
    // SAFETY: non-NULL, and the caller promises a NUL-terminated string.
    let bytes = unsafe { CStr::from_ptr(ptr) }.to_bytes();
    Some(Path::new(OsStr::from_bytes(bytes)))
}

/// The addresses of the handles `portpool_open` made and `portpool_close` has not closed yet.
/// A pointer is dereferenced only when it is one of them: a closed, never-opened or foreign
/// pointer is an error, never a read of freed or unrelated memory.
static LIVE_HANDLES: std::sync::Mutex<std::collections::BTreeSet<usize>> =
    std::sync::Mutex::new(std::collections::BTreeSet::new());

fn live_handles() -> std::sync::MutexGuard<'static, std::collections::BTreeSet<usize>> {
    // The set stays consistent even if a thread panicked holding it: each change is one
    // insert or remove.
    LIVE_HANDLES
        .lock()
        .unwrap_or_else(std::sync::PoisonError::into_inner)
}

/// Records a handle `portpool_open` made, and returns it.
pub(crate) fn register_handle(reg: portpool_registry) -> *mut portpool_registry {
    let ptr = Box::into_raw(Box::new(reg));
    live_handles().insert(ptr as usize);
    ptr
}

/// Takes a live handle back for `portpool_close`; `None` for NULL, a closed handle or a
/// pointer that never was one.
pub(crate) fn unregister_handle(reg: *mut portpool_registry) -> Option<Box<portpool_registry>> {
    if !live_handles().remove(&(reg as usize)) {
        return None;
    }
    // SAFETY: the address was recorded by register_handle, which made it with Box::into_raw,
    // and it was removed from the set just now, so this is its only conversion back.
    Some(unsafe { Box::from_raw(reg) })
}

/// The registry behind a handle: `PORTPOOL_INVALID_ARGUMENT` for NULL, and for a pointer that
/// is not an open handle (closed already, or never returned by `portpool_open`).
///
/// # Safety
/// `reg` is not closed by another thread while the returned reference is in use.
pub(crate) unsafe fn registry<'a>(reg: *mut portpool_registry) -> Result<&'a portpool_registry> {
    if reg.is_null() {
        return Err(invalid("invalid registry: NULL pointer".to_owned()));
    }
    if !live_handles().contains(&(reg as usize)) {
        return Err(invalid(
            "invalid registry: not an open handle (closed already, or not from portpool_open)"
                .to_owned(),
        ));
    }
    // SAFETY: the address is an open handle's, made by Box::into_raw; the caller promises
    // no concurrent close. Only shared access is taken.
    Ok(unsafe { &*reg.cast_const() })
}

/// Where a result goes: C memory that may hold anything (uninitialized, or bytes that are not
/// a valid `T`), so it is only ever written, never read or referenced.
pub(crate) struct Out<'a, T> {
    ptr: NonNull<T>,
    _borrow: PhantomData<&'a mut T>,
}

impl<T> Out<'_, T> {
    pub(crate) fn set(self, value: T) {
        // SAFETY: `out`/`optional_out` callers promised a writable, aligned `T`; `write` neither
        // reads nor drops what was there.
        unsafe { self.ptr.as_ptr().write(value) }
    }
}

/// A required out-parameter.
///
/// # Safety
/// `ptr` is NULL or valid for writes of a `T` for `'a`.
pub(crate) unsafe fn out<'a, T>(ptr: *mut T, what: &str) -> Result<Out<'a, T>> {
    // SAFETY: forwarded from this function's contract.
    unsafe { optional_out(ptr) }.ok_or_else(|| invalid(format!("invalid {what}: NULL pointer")))
}

/// An optional out-parameter: NULL means the caller does not want that result.
///
/// # Safety
/// As for [`out`].
pub(crate) unsafe fn optional_out<'a, T>(ptr: *mut T) -> Option<Out<'a, T>> {
    NonNull::new(ptr).map(|ptr| Out {
        ptr,
        _borrow: PhantomData,
    })
}

pub(crate) fn mode(value: portpool_mode) -> Result<Mode> {
    match value {
        PORTPOOL_MODE_FLEXIBLE => Ok(Mode::Flexible),
        PORTPOOL_MODE_FIXED => Ok(Mode::Fixed),
        // Core says why a pool mode makes no sense for register.
        PORTPOOL_MODE_POOL => Ok(Mode::Pool),
        other => Err(invalid(format!(
            "invalid mode {other}: expected PORTPOOL_MODE_FLEXIBLE ({PORTPOOL_MODE_FLEXIBLE}) or PORTPOOL_MODE_FIXED ({PORTPOOL_MODE_FIXED})"
        ))),
    }
}

pub(crate) fn protocol(value: portpool_protocol) -> Result<Protocol> {
    match value {
        PORTPOOL_PROTOCOL_TCP => Ok(Protocol::Tcp),
        PORTPOOL_PROTOCOL_UDP => Ok(Protocol::Udp),
        other => Err(invalid(format!(
            "invalid protocol {other}: expected PORTPOOL_PROTOCOL_TCP ({PORTPOOL_PROTOCOL_TCP}) or PORTPOOL_PROTOCOL_UDP ({PORTPOOL_PROTOCOL_UDP})"
        ))),
    }
}

pub(crate) fn probe(value: portpool_probe) -> Result<Option<bool>> {
    match value {
        PORTPOOL_PROBE_DEFAULT => Ok(None),
        PORTPOOL_PROBE_OFF => Ok(Some(false)),
        PORTPOOL_PROBE_ON => Ok(Some(true)),
        other => Err(invalid(format!(
            "invalid probe {other}: expected PORTPOOL_PROBE_DEFAULT ({PORTPOOL_PROBE_DEFAULT}), PORTPOOL_PROBE_OFF ({PORTPOOL_PROBE_OFF}) or PORTPOOL_PROBE_ON ({PORTPOOL_PROBE_ON})"
        ))),
    }
}

/// Lease options; NULL gives the defaults. Zero fields mean "none".
///
/// # Safety
/// `ptr` is NULL or points to a readable `portpool_lease_options`.
pub(crate) unsafe fn lease_options(ptr: *const portpool_lease_options) -> Result<LeaseOptions> {
    if ptr.is_null() {
        return Ok(LeaseOptions::default());
    }
    // SAFETY: the caller promises a readable struct. `force` is read as a byte, so a value
    // other than 0 or 1 (a C `bool` filled by memset, say) means true instead of being
    // undefined behaviour.
    let (raw_protocol, force, pid, ttl) = unsafe {
        (
            (&raw const (*ptr).protocol).read(),
            (&raw const (*ptr).force).cast::<u8>().read() != 0,
            (&raw const (*ptr).pid).read(),
            (&raw const (*ptr).ttl).read(),
        )
    };
    Ok(LeaseOptions {
        protocol: protocol(raw_protocol)?,
        force,
        pid: optional_pid(pid)?,
        ttl: optional_ttl(ttl)?,
        ..LeaseOptions::default()
    })
}

/// A pid from C, where 0 means none; core checks every other value.
pub(crate) fn optional_pid(value: i64) -> Result<Option<u32>> {
    (value != 0)
        .then(|| portpool_core::pid_from_i64(value))
        .transpose()
}

/// A time to live in seconds from C, where 0 means none; core checks every other value.
pub(crate) fn optional_ttl(value: i64) -> Result<Option<u64>> {
    (value != 0)
        .then(|| portpool_core::ttl_from_i64(value))
        .transpose()
}

/// A string for C, to be freed with `portpool_string_free`. NUL bytes, which a C string
/// cannot hold, are dropped (JSON escapes them and paths cannot hold them, so none reach here
/// in practice).
pub(crate) fn c_string(bytes: impl Into<Vec<u8>>) -> *mut c_char {
    let mut bytes = bytes.into();
    bytes.retain(|b| *b != 0);
    CString::new(bytes).unwrap_or_default().into_raw()
}

/// Compact JSON for C.
pub(crate) fn json<T: serde::Serialize + ?Sized>(value: &T) -> String {
    serde_json::to_string(value).expect("serializing plain data cannot fail")
}

/// The body of every call that takes a handle and a name and gives back one port: checks the
/// three pointers, runs `op` and writes its port to `*out_port`.
///
/// # Safety
/// As each such call's contract: `reg` is NULL or a live handle, `name` NULL or a
/// NUL-terminated string, `out_port` NULL or writable.
pub(crate) unsafe fn name_to_port(
    reg: *mut portpool_registry,
    name: *const c_char,
    out_port: *mut u16,
    op: impl FnOnce(&Registry, &str) -> Result<u16>,
) -> Result<()> {
    // SAFETY: forwarded from this function's contract.
    let (reg, name, out_port) = unsafe {
        (
            registry(reg)?,
            text(name, "name")?,
            out(out_port, "out_port")?,
        )
    };
    out_port.set(op(&reg.inner, name)?);
    Ok(())
}
