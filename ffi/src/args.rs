//! Turning C arguments into core values, and core values into C results. Every check here is
//! about the C representation (NULL, UTF-8, enum values); the rules about ports live in core.

use std::ffi::{CStr, CString, OsStr, c_char};
use std::marker::PhantomData;
use std::os::unix::ffi::OsStrExt;
use std::path::Path;
use std::ptr::NonNull;

use std::net::IpAddr;

use portpool_core::{
    Choice, Error, ErrorKind, FindOptions, ListenOptions, Mode, Protocol, Registry, Result,
};

use crate::types::{
    Growable, PORTPOOL_ABI_VERSION, PORTPOOL_MODE_FIXED, PORTPOOL_MODE_FLEXIBLE,
    PORTPOOL_MODE_POOL, PORTPOOL_PROBE_DEFAULT, PORTPOOL_PROBE_OFF, PORTPOOL_PROBE_ON,
    PORTPOOL_PROTOCOL_TCP, PORTPOOL_PROTOCOL_TCP_UDP, PORTPOOL_PROTOCOL_UDP, portpool_choice,
    portpool_find_options, portpool_lease, portpool_listen_options, portpool_mode, portpool_probe,
    portpool_protocol, portpool_registry,
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

/// The addresses of the live objects of one kind that the library handed out (registries from
/// `portpool_open`, leases from `portpool_lease_open`) and that were not closed yet. A pointer
/// is dereferenced only when it is one of them: a closed, never-opened or foreign pointer is
/// an error, never a read of freed or unrelated memory.
pub(crate) struct Live(std::sync::Mutex<std::collections::BTreeSet<usize>>);

impl Live {
    pub(crate) const fn new() -> Live {
        Live(std::sync::Mutex::new(std::collections::BTreeSet::new()))
    }

    fn set(&self) -> std::sync::MutexGuard<'_, std::collections::BTreeSet<usize>> {
        // The set stays consistent even if a thread panicked holding it: each change is one
        // insert or remove.
        self.0
            .lock()
            .unwrap_or_else(std::sync::PoisonError::into_inner)
    }
}

/// A kind of object the library hands to C as an opaque pointer.
pub(crate) trait Handle: Sized {
    /// The live objects of this kind.
    fn live() -> &'static Live;
    /// How an error names a pointer that is not a live one, e.g. `invalid registry: ...`.
    const NOT_LIVE: &'static str;
    /// How an error names a NULL pointer.
    const NULL: &'static str;
}

static REGISTRIES: Live = Live::new();
static LEASES: Live = Live::new();

impl Handle for portpool_registry {
    fn live() -> &'static Live {
        &REGISTRIES
    }
    const NOT_LIVE: &'static str =
        "invalid registry: not an open handle (closed already, or not from portpool_open)";
    const NULL: &'static str = "invalid registry: NULL pointer";
}

impl Handle for portpool_lease {
    fn live() -> &'static Live {
        &LEASES
    }
    const NOT_LIVE: &'static str =
        "invalid lease: not an open lease (closed already, or not from portpool_lease_open)";
    const NULL: &'static str = "invalid lease: NULL pointer";
}

/// Hands `value` to C: the pointer is live until [`take_handle`] takes it back.
pub(crate) fn into_handle<T: Handle>(value: T) -> *mut T {
    let ptr = Box::into_raw(Box::new(value));
    T::live().set().insert(ptr as usize);
    ptr
}

/// Takes a live handle back from C, to be dropped; `None` for NULL, a handle taken back
/// already, or a pointer that never was one.
pub(crate) fn take_handle<T: Handle>(ptr: *mut T) -> Option<Box<T>> {
    if !T::live().set().remove(&(ptr as usize)) {
        return None;
    }
    // SAFETY: the address was recorded by into_handle, which made it with Box::into_raw, and
    // it was removed from the set just now, so this is its only conversion back.
    Some(unsafe { Box::from_raw(ptr) })
}

/// [`take_handle`] for a handle that must be live: `PORTPOOL_INVALID_ARGUMENT` otherwise.
pub(crate) fn take_live<T: Handle>(ptr: *mut T) -> Result<Box<T>> {
    match take_handle(ptr) {
        Some(value) => Ok(value),
        None if ptr.is_null() => Err(invalid(T::NULL.to_owned())),
        None => Err(invalid(T::NOT_LIVE.to_owned())),
    }
}

/// The object behind a handle: `PORTPOOL_INVALID_ARGUMENT` for NULL, and for a pointer that is
/// not live (closed already, or never handed out).
///
/// # Safety
/// `ptr` is not taken back by another thread while the returned reference is in use.
pub(crate) unsafe fn handle<'a, T: Handle>(ptr: *const T) -> Result<&'a T> {
    if ptr.is_null() {
        return Err(invalid(T::NULL.to_owned()));
    }
    if !T::live().set().contains(&(ptr as usize)) {
        return Err(invalid(T::NOT_LIVE.to_owned()));
    }
    // SAFETY: the address is a live handle's, made by Box::into_raw; the caller promises no
    // concurrent close. Only shared access is taken.
    Ok(unsafe { &*ptr })
}

/// The registry behind a handle: `PORTPOOL_INVALID_ARGUMENT` for NULL, and for a pointer that
/// is not an open handle (closed already, or never returned by `portpool_open`).
///
/// # Safety
/// `reg` is not closed by another thread while the returned reference is in use.
pub(crate) unsafe fn registry<'a>(reg: *mut portpool_registry) -> Result<&'a portpool_registry> {
    // SAFETY: forwarded from this function's contract.
    unsafe { handle(reg.cast_const()) }
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
        PORTPOOL_PROTOCOL_TCP_UDP => Ok(Protocol::TcpUdp),
        other => Err(invalid(format!(
            "invalid protocol {other}: expected PORTPOOL_PROTOCOL_TCP ({PORTPOOL_PROTOCOL_TCP}), PORTPOOL_PROTOCOL_UDP ({PORTPOOL_PROTOCOL_UDP}) or PORTPOOL_PROTOCOL_TCP_UDP ({PORTPOOL_PROTOCOL_TCP_UDP})"
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

/// The largest `struct_size` read, as Linux's clone3 and openat2 bound theirs: no struct of the
/// ABI will grow past it, and a size from uninitialized memory is refused rather than read.
const MAX_STRUCT_SIZE: usize = 4096;

/// A struct that leads with its size, copied out of C memory: as many bytes as both the
/// caller's `struct_size` and this library know, the fields the caller's header lacks zero.
/// A size below the first header's or above [`MAX_STRUCT_SIZE`], or bytes after this library's
/// last field (`Growable::END`) that are not zero, are `PORTPOOL_INVALID_ARGUMENT` (`what`
/// names the struct).
///
/// # Safety
/// `ptr` is non-NULL and points to a readable, aligned struct of `struct_size` bytes.
pub(crate) unsafe fn sized<T: Growable>(
    ptr: *const T,
    what: &str,
) -> Result<std::mem::MaybeUninit<T>> {
    // SAFETY: every struct of the ABI leads with a `size_t struct_size`.
    let size = unsafe { ptr.cast::<usize>().read() };
    let ours = size_of::<T>();
    if !(T::FIRST_SIZE..=MAX_STRUCT_SIZE).contains(&size) {
        return Err(invalid(format!(
            "invalid {what}.struct_size {size}: set it to sizeof({}), {ours} in the header of this library (ABI {PORTPOOL_ABI_VERSION}), or use its _INIT macro",
            T::NAME
        )));
    }
    // SAFETY: the caller promises `size` readable bytes.
    let bytes = unsafe { std::slice::from_raw_parts(ptr.cast::<u8>(), size) };
    // Past this library's last field: a newer header's fields, or this header's tail padding.
    let unknown = bytes.get(T::END..).unwrap_or_default();
    if let Some(at) = unknown.iter().position(|b| *b != 0) {
        return Err(invalid(format!(
            "invalid {what}: it sets fields of a newer header ({size} bytes, byte {} not zero) that this libportpool (ABI {PORTPOOL_ABI_VERSION}, fields up to byte {}) does not know",
            T::END + at,
            T::END
        )));
    }
    let mut copy = std::mem::MaybeUninit::<T>::zeroed();
    // SAFETY: both sides hold at least `size.min(ours)` bytes and do not overlap.
    unsafe {
        std::ptr::copy_nonoverlapping(
            ptr.cast::<u8>(),
            copy.as_mut_ptr().cast::<u8>(),
            size.min(ours),
        );
    }
    Ok(copy)
}

/// What `portpool_find_free_ex` looks for, `count` ports; NULL gives the defaults.
///
/// # Safety
/// `ptr` is NULL or points to a readable `portpool_find_options` of `struct_size` bytes whose pointers are as its
/// fields say.
pub(crate) unsafe fn find_options(
    ptr: *const portpool_find_options,
    count: usize,
) -> Result<FindOptions> {
    if ptr.is_null() {
        return Ok(FindOptions {
            count,
            ..FindOptions::default()
        });
    }
    // SAFETY: the caller promises a readable struct of its size; every field is valid with
    // any bits.
    let raw = unsafe { sized(ptr, "options")?.assume_init() };
    // SAFETY: forwarded from this function's contract.
    unsafe {
        Ok(FindOptions {
            protocol: protocol(raw.protocol)?,
            ports: ports(raw.ports, raw.n_ports, "options.ports")?,
            range: optional_range((raw.range_start, raw.range_end)),
            exclude: ports(raw.exclude, raw.n_exclude, "options.exclude")?,
            count,
            host: optional_host(raw.host, "options.host")?,
        })
    }
}

/// How `portpool_listen` binds; NULL gives the defaults.
///
/// # Safety
/// `ptr` is NULL or points to a readable `portpool_listen_options` of `struct_size` bytes whose `host` is NULL or a
/// NUL-terminated string.
pub(crate) unsafe fn listen_options(ptr: *const portpool_listen_options) -> Result<ListenOptions> {
    let defaults = ListenOptions::default();
    if ptr.is_null() {
        return Ok(defaults);
    }
    // SAFETY: the caller promises a readable struct of its size; every field is valid with
    // any bits.
    let raw = unsafe { sized(ptr, "listen")?.assume_init() };
    Ok(ListenOptions {
        // SAFETY: forwarded from this function's contract.
        host: unsafe { optional_host(raw.host, "listen.host")? },
        backlog: portpool_core::backlog_from_i64(raw.backlog)?,
    })
}

/// A range from C, where both ends 0 mean none; core checks every other value.
pub(crate) fn optional_range((start, end): (u16, u16)) -> Option<(u16, u16)> {
    (start != 0 || end != 0).then_some((start, end))
}

/// An IP address from C text; NULL gives `None`.
///
/// # Safety
/// As for [`text`].
pub(crate) unsafe fn optional_host(ptr: *const c_char, what: &str) -> Result<Option<IpAddr>> {
    // SAFETY: forwarded from this function's contract.
    let Some(host) = (unsafe { optional_text(ptr, what)? }) else {
        return Ok(None);
    };
    portpool_core::parse_host(host)
        .map(Some)
        .map_err(|e| invalid(format!("{what}: {}", e.message())))
}

/// `count` ports from C at `ptr` (NULL when `count` is 0), `what` naming them in errors.
///
/// # Safety
/// `ptr` is NULL or points to `count` readable `uint16_t`.
pub(crate) unsafe fn ports(ptr: *const u16, count: usize, what: &str) -> Result<Vec<u16>> {
    match (ptr.is_null(), count) {
        (_, 0) => Ok(Vec::new()),
        (true, _) => Err(invalid(format!(
            "invalid {what}: NULL pointer with {count} ports"
        ))),
        // SAFETY: non-NULL, and the caller promises `count` readable ports.
        (false, _) => Ok(unsafe { std::slice::from_raw_parts(ptr, count) }.to_vec()),
    }
}

/// How a port is chosen; NULL is the default pool.
///
/// # Safety
/// `ptr` is NULL or points to a readable `portpool_choice` of `struct_size` bytes whose pointers are as its fields
/// say.
pub(crate) unsafe fn choice(ptr: *const portpool_choice) -> Result<Choice> {
    if ptr.is_null() {
        return Ok(Choice::default());
    }
    // SAFETY: the caller promises a readable struct of its size; every field is valid with
    // any bits.
    let raw = unsafe { sized(ptr, "choice")?.assume_init() };
    // SAFETY: forwarded from this function's contract.
    let (pool, ports) = unsafe {
        (
            optional_text(raw.pool, "choice.pool")?,
            ports(raw.ports, raw.n_ports, "choice.ports")?,
        )
    };
    // No ports (n_ports 0) is the pool's choice; C always has a mode, flexible when zeroed.
    let ports = (!ports.is_empty()).then_some(ports);
    Choice::new(pool.map(str::to_owned), ports, Some(mode(raw.mode)?))
}

/// A flag from C, read as a byte: any value but 0 (a C `bool` filled by memset, say) is true
/// instead of being undefined behaviour.
///
/// # Safety
/// `ptr` points to a readable `bool`-sized byte.
pub(crate) unsafe fn flag(ptr: *const bool) -> bool {
    // SAFETY: the caller promises a readable byte, and every bit pattern is a valid `u8`.
    unsafe { ptr.cast::<u8>().read() != 0 }
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

/// Writes `value` as JSON to `*out` when the caller gave a place for it.
pub(crate) fn set_json<T: serde::Serialize + ?Sized>(out: Option<Out<'_, *mut c_char>>, value: &T) {
    if let Some(out) = out {
        out.set(c_string(json(value)));
    }
}

/// The body of every call that takes a handle and gives back JSON text through a required
/// `out_json`: checks both pointers, runs `op` and writes its text.
///
/// # Safety
/// `reg` is NULL or a live handle; `out_json` is NULL or writable.
pub(crate) unsafe fn json_out(
    reg: *mut portpool_registry,
    out_json: *mut *mut c_char,
    op: impl FnOnce(&Registry) -> Result<String>,
) -> Result<()> {
    // SAFETY: forwarded from this function's contract.
    let (reg, out_json) = unsafe { (registry(reg)?, out(out_json, "out_json")?) };
    out_json.set(c_string(op(&reg.inner)?));
    Ok(())
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::lease_options::{lease_options, portpool_lease_options};

    /// `portpool_lease_options` as a caller whose header has a field after the last one this
    /// library knows would pass it: that field's first byte set, `struct_size` just covering it
    /// (within this header's size when the field fits in its tail padding).
    fn with_unknown_byte(value: u8) -> Result<portpool_core::LeaseOptions> {
        let end = <portpool_lease_options as Growable>::END;
        let size = (end + 1).next_multiple_of(align_of::<portpool_lease_options>());
        let mut buffer = vec![0u64; size.div_ceil(8)];
        let bytes = buffer.as_mut_ptr().cast::<u8>();
        // SAFETY: the buffer holds `size` bytes, aligned for the struct; struct_size leads.
        unsafe {
            bytes.cast::<usize>().write(size);
            bytes.add(end).write(value);
            lease_options(bytes.cast::<portpool_lease_options>())
        }
    }

    #[test]
    fn a_field_this_library_does_not_know_is_refused_even_in_the_tail_padding() {
        let error = with_unknown_byte(1).unwrap_err();
        assert_eq!(error.kind(), ErrorKind::InvalidArgument);
        assert!(error.message().contains("newer header"), "{error}");
        assert_eq!(
            with_unknown_byte(0).unwrap(),
            portpool_core::LeaseOptions::default()
        );
    }
}
