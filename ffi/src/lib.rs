//! libportpool: the C ABI of portpool, one port registry per host shared by every process and
//! language. Include `portpool.h`; link with `-lportpool` (see `pkg-config --libs portpool`).
//!
//! # Error protocol
//!
//! - Every function that can fail returns a `portpool_status`: `PORTPOOL_OK` (0) on success,
//!   another code on failure. Results come back through out-parameters, which are written only
//!   on `PORTPOOL_OK`.
//! - Every such function takes a last parameter `portpool_error **out_error`, and the error
//!   comes back with the call: on failure `*out_error` is a new `portpool_error` holding the
//!   status and a one-line message naming the value or file at fault (read them with
//!   `portpool_error_status` and `portpool_error_message`, free it with
//!   `portpool_error_free`); on success `*out_error` is NULL. Pass NULL to not want it. The
//!   error is the caller's, whatever the thread does next, so a runtime that moves its tasks
//!   between threads (Go's) reads it safely.
//! - Every such call also sets the calling thread's message, for C callers that keep to one
//!   thread: the empty string on success, the error's message on failure. Read it with
//!   `portpool_last_error_message()`; the pointer stays valid until the same thread calls
//!   another status-returning portpool function. The message is per thread, so threads
//!   sharing a handle never see each other's messages.
//! - A NULL pointer where a value is required, and text that is not UTF-8, give
//!   `PORTPOOL_INVALID_ARGUMENT`, never a crash. So does a `portpool_registry *` that is not an
//!   open handle (closed already, or never returned by `portpool_open`), and a `portpool_lease *`
//!   that is not an open lease: the library keeps the set of open handles and leases and never
//!   reads through any other pointer. Closing a handle while
//!   another thread uses it is still the caller's error. A panic inside the library is caught at the
//!   boundary and gives `PORTPOOL_PANIC`; no unwinding ever crosses into C.
//! - Functions that cannot fail (`portpool_close`, `portpool_lease_free`,
//!   `portpool_lease_port`, `portpool_string_free`, `portpool_version`,
//!   `portpool_abi_version`, `portpool_last_error_message` and the `portpool_error_*`
//!   functions) take no `out_error` and leave the message alone.
//!
//! # Ownership
//!
//! - Strings passed in are borrowed for the duration of the call only.
//! - Strings returned through `char **` out-parameters are owned by the caller and freed with
//!   `portpool_string_free` (never `free`); errors returned through `out_error` likewise with
//!   `portpool_error_free`. Strings returned directly (`const char *`) are
//!   owned by the library and must not be freed.
//! - Every free function accepts NULL and does nothing then.
//!
//! # Structs that grow
//!
//! Each struct a call reads (`portpool_lease_options`, `portpool_find_options`,
//! `portpool_listen_options`, `portpool_choice`) leads with `size_t struct_size`, so fields can
//! be added at its end in a later ABI version: start from its initializer
//! (`portpool_lease_options opts = PORTPOOL_LEASE_OPTIONS_INIT;`), which sets the size and
//! zeroes the rest (the defaults). The library reads a struct of any size a header since ABI 4
//! gave it: fields an older header lacks take their defaults, and a newer header's struct is
//! read when the fields this library does not know are zero (else
//! `PORTPOOL_INVALID_ARGUMENT`). So are the padding bytes after a struct's last field, where a
//! later field may sit: a struct filled field by field must be zeroed first (the initializer
//! or `memset` does it). Handles and errors are opaque, and so never change size.
//!
//! # Threads
//!
//! A `portpool_registry` may be used from many threads at once. Calls that change the
//! registry serialize on the registry file's lock, which also orders them against other
//! processes, and wait for it at most the handle's lock timeout (then `PORTPOOL_BUSY`);
//! calls that only read take no lock and never wait.
//!
//! # Durability
//!
//! A call that changes the registry returns once the change is on the disk, unless it
//! concerns only leases owned by a process (a `pid` was given) or a pool's cursor: those
//! survive any crash of a process, but not a power loss, after which their owners are gone
//! anyway.
//!
//! # JSON
//!
//! Leases and pools come back as JSON, in the shapes `portpool list --json` and
//! `portpool pool list --json` print: a lease is
//! `{"name", "port", "protocol" ("tcp"|"udp"), "mode" ("flexible"|"fixed"|"pool"), "pool"
//! (string or null), "created" (Unix seconds), "owner" ({"pid", "start_time", and "pid_ns" when recorded} or null), "ttl"
//! (seconds or null), "expires" (Unix seconds or null), "stale" (in `portpool_list_json` and
//! `portpool_who_json` only, and only when the lease is stale: why), "origin" (only for leases
//! `portpool migrate` made: `{"pid", "start_time", "program"}` seen then), "next" (during a handover
//! `{"port", "created", "owner"}`, else null)}`; a pool is
//! `{"name", "start", "end", "cursor", "probe"}`.

#![allow(non_camel_case_types)]

// The C API, by concern, as core's `Registry` is split (registry.rs: allocation, handover.rs,
// inspect.rs, import.rs, scoped.rs, listen.rs). This file holds the handle and the library itself: open,
// close, lock timeout, path, strings, messages, versions.
mod allocation;
mod handover;
mod import;
mod inspect;
mod listen;
mod scoped;

mod args;
mod lease_options;
mod status;
mod types;

use std::ffi::c_char;
use std::os::unix::ffi::OsStrExt;

use portpool_core::Registry;

pub use crate::allocation::*;
use crate::args::{c_string, optional_path, out, registry};
pub use crate::handover::*;
pub use crate::import::*;
pub use crate::inspect::*;
pub use crate::listen::*;
pub use crate::scoped::*;
use crate::status::{guard, last_message, quietly};
pub use crate::status::{
    portpool_error, portpool_error_free, portpool_error_message, portpool_error_status,
    portpool_status,
};
pub use crate::types::*;

/// Opens a handle on the registry file at `path`.
///
/// `path` NULL means the default path: `$PORTPOOL_REGISTRY`, else
/// `/var/lib/portpool/registry.json` for root, else
/// `$XDG_STATE_HOME/portpool/registry.json` (`~/.local/state/portpool/registry.json`).
/// The path is taken as bytes, as the file system does; it need not be UTF-8. Opening does
/// not touch the disk: the file (and its directory) is created on the first change, so a
/// missing or unreadable file is reported by the first call that needs it.
///
/// - **Ownership:** on success `*out` is a new handle owned by the caller; release it with
///   `portpool_close`. `path` is only read during the call.
/// - **Threads:** may be called from any thread; the handle may be shared between threads.
/// - **Errors:** `PORTPOOL_INVALID_ARGUMENT` when `out` is NULL, `path` is empty, or no default
///   path can be worked out (no `$HOME`).
///
/// ```c
/// portpool_registry *reg = NULL;
/// if (portpool_open("/tmp/ports.json", &reg, NULL) != PORTPOOL_OK) {
///     fprintf(stderr, "portpool: %s\n", portpool_last_error_message());
///     return 1;
/// }
/// // ... use reg ...
/// portpool_close(reg);
/// ```
///
/// # Safety
/// `path` is NULL or a NUL-terminated string; `out` is NULL or writable.
/// `out_error` is NULL or writable.
#[unsafe(no_mangle)]
pub unsafe extern "C" fn portpool_open(
    path: *const c_char,
    out: *mut *mut portpool_registry,
    out_error: *mut *mut portpool_error,
) -> portpool_status {
    // SAFETY: `out_error` is NULL or writable, as this function's contract says.
    let out_error = unsafe { args::optional_out(out_error) };
    guard(out_error, || {
        // SAFETY: forwarded from this function's contract.
        let (path, out) = unsafe { (optional_path(path), args::out(out, "out")?) };
        let inner = Registry::open(path)?;
        out.set(args::into_handle(portpool_registry { inner }));
        Ok(())
    })
}

/// Opens a handle as `portpool_open` does, reading and writing only the names of `namespace`
/// (NULL: the default namespace). Two handles in different namespaces may both name a lease
/// `worker-1`; ports stay unique across every namespace, and `portpool_list_json` lists the
/// handle's namespace only.
///
/// - **Ownership:** `path` and `namespace` are only read during the call; the handle in
///   `*out` is the caller's, to close with `portpool_close`.
/// - **Threads:** as `portpool_open`.
/// - **Errors:** as `portpool_open`, and `PORTPOOL_INVALID_ARGUMENT` for a namespace that is
///   not a valid name.
///
/// ```c
/// portpool_registry *reg;
/// if (portpool_open_namespace(NULL, "project-a", &reg, NULL) != PORTPOOL_OK)
///     fprintf(stderr, "portpool: %s\n", portpool_last_error_message());
/// ```
///
/// # Safety
/// `path` and `namespace` are NULL or NUL-terminated strings; `out` is NULL or writable.
/// `out_error` is NULL or writable.
#[unsafe(no_mangle)]
pub unsafe extern "C" fn portpool_open_namespace(
    path: *const c_char,
    namespace: *const c_char,
    out: *mut *mut portpool_registry,
    out_error: *mut *mut portpool_error,
) -> portpool_status {
    // SAFETY: `out_error` is NULL or writable, as this function's contract says.
    let out_error = unsafe { args::optional_out(out_error) };
    guard(out_error, || {
        // SAFETY: forwarded from this function's contract.
        let (path, namespace, out) = unsafe {
            (
                optional_path(path),
                args::optional_text(namespace, "namespace")?,
                args::out(out, "out")?,
            )
        };
        let inner = Registry::open(path)?.with_namespace(namespace)?;
        out.set(args::into_handle(portpool_registry { inner }));
        Ok(())
    })
}

/// Checks a port given as an integer of any width, as core checks every port: 1-65535 is
/// written to `*out_port`; anything else is `PORTPOOL_INVALID_ARGUMENT` with core's message.
/// For bindings whose language holds ports in a wider integer (Go's `int`).
///
/// - **Threads:** safe to call from any thread.
/// - **Errors:** `PORTPOOL_INVALID_ARGUMENT` (out of range, or NULL `out_port`).
///
/// ```c
/// uint16_t port;
/// if (portpool_port_from_int(config_port, &port, NULL) != PORTPOOL_OK)
///     return -1;  // 0, negative or above 65535
/// ```
///
/// # Safety
/// `out_port` is NULL or writable.
/// `out_error` is NULL or writable.
#[unsafe(no_mangle)]
pub unsafe extern "C" fn portpool_port_from_int(
    value: i64,
    out_port: *mut u16,
    out_error: *mut *mut portpool_error,
) -> portpool_status {
    // SAFETY: forwarded from this function's contract.
    unsafe {
        checked_int(
            value,
            portpool_core::port_from_i64,
            out_port,
            "out_port",
            out_error,
        )
    }
}

/// Checks a count of ports given as an integer of any width, as core checks every count:
/// 1-65535 is written to `*out_count`; anything else is `PORTPOOL_INVALID_ARGUMENT` with core's
/// message. For bindings that size an output array before they call (Go's `FindFreeN`).
///
/// - **Threads:** safe to call from any thread.
/// - **Errors:** `PORTPOOL_INVALID_ARGUMENT` (out of range, or NULL `out_count`).
///
/// ```c
/// size_t count;
/// if (portpool_count_from_int(wanted, &count, NULL) != PORTPOOL_OK)
///     return -1;  // 0, negative or above 65535
/// ```
///
/// # Safety
/// `out_count` is NULL or writable.
/// `out_error` is NULL or writable.
#[unsafe(no_mangle)]
pub unsafe extern "C" fn portpool_count_from_int(
    value: i64,
    out_count: *mut usize,
    out_error: *mut *mut portpool_error,
) -> portpool_status {
    // SAFETY: forwarded from this function's contract.
    unsafe {
        checked_int(
            value,
            portpool_core::count_from_i64,
            out_count,
            "out_count",
            out_error,
        )
    }
}

/// `value` checked by core's `check`, written to `*out`.
///
/// # Safety
/// `out` and `out_error` are NULL or writable.
unsafe fn checked_int<T>(
    value: i64,
    check: fn(i64) -> portpool_core::Result<T>,
    out: *mut T,
    what: &str,
    out_error: *mut *mut portpool_error,
) -> portpool_status {
    // SAFETY: `out_error` is NULL or writable, as the caller's contract says.
    let out_error = unsafe { args::optional_out(out_error) };
    guard(out_error, || {
        // SAFETY: forwarded from the caller's contract.
        let out = unsafe { args::out(out, what)? };
        out.set(check(value)?);
        Ok(())
    })
}

/// Closes a handle and frees it. NULL, a handle closed already and a pointer that never was a
/// handle do nothing.
///
/// - **Ownership:** takes `reg` back from the caller. Passing it to a call afterwards gives
///   `PORTPOOL_INVALID_ARGUMENT` (until `portpool_open` happens to return a new handle at the
///   same address, which is then that handle).
/// - **Threads:** no other thread may be using `reg` during this call.
/// - **Errors:** none; the thread's message is left as it was.
///
/// ```c
/// portpool_close(reg);
/// reg = NULL;
/// ```
///
/// # Safety
/// `reg` is NULL or a handle from `portpool_open` that was not closed yet.
#[unsafe(no_mangle)]
pub unsafe extern "C" fn portpool_close(reg: *mut portpool_registry) {
    quietly(|| drop(args::take_handle(reg)));
}

/// Sets how long calls on `reg` that change the registry wait for another process's lock
/// before failing with `PORTPOOL_BUSY`: `milliseconds`, 0 meaning not at all. The default is
/// `$PORTPOOL_LOCK_TIMEOUT` seconds when `portpool_open` saw it set, else 10 s. Calls that
/// only read never wait.
///
/// - **Threads:** applies to every thread using `reg`, from their next call on.
/// - **Errors:** `PORTPOOL_INVALID_ARGUMENT` when `reg` is NULL, or `milliseconds` is
///   negative or over a year (the same rule as `$PORTPOOL_LOCK_TIMEOUT`'s).
///
/// ```c
/// portpool_set_lock_timeout(reg, 500, NULL);  // give up after half a second
/// ```
///
/// # Safety
/// `reg` is NULL or a live handle.
/// `out_error` is NULL or writable.
#[unsafe(no_mangle)]
pub unsafe extern "C" fn portpool_set_lock_timeout(
    reg: *mut portpool_registry,
    milliseconds: i64,
    out_error: *mut *mut portpool_error,
) -> portpool_status {
    // SAFETY: `out_error` is NULL or writable, as this function's contract says.
    let out_error = unsafe { args::optional_out(out_error) };
    guard(out_error, || {
        // SAFETY: forwarded from this function's contract.
        let reg = unsafe { registry(reg)? };
        // Core's rule: 0 to a year (as f64, every millisecond count up to a year is exact).
        let timeout = portpool_core::lock_timeout_from_secs(milliseconds as f64 / 1000.0)?;
        reg.inner.set_lock_timeout(timeout);
        Ok(())
    })
}

/// Sets whether calls on `reg` may change what another user made: with `force` true,
/// `portpool_release`, `portpool_register_ex` and `portpool_allocate_ex` (of a name another
/// user's lease holds), the handover calls and `portpool_set_owner` act on leases another
/// user made, `portpool_set_pool` changes pools another user created, and `portpool_reset`
/// empties a registry where another user holds a live lease; with false (the default),
/// each of those is `PORTPOOL_CONFLICT` naming that user, unless the caller is root. A rail
/// against accidents, not a wall: any member of the registry's group may set it.
///
/// - **Threads:** applies to every thread using `reg`, from their next call on.
/// - **Errors:** `PORTPOOL_INVALID_ARGUMENT` when `reg` is NULL.
///
/// ```c
/// portpool_set_force(reg, true, NULL);   // release another user's lease, on purpose
/// portpool_release(reg, "stuck-service", &released, NULL);
/// portpool_set_force(reg, false, NULL);
/// ```
///
/// # Safety
/// `reg` is NULL or a live handle.
/// `out_error` is NULL or writable.
#[unsafe(no_mangle)]
pub unsafe extern "C" fn portpool_set_force(
    reg: *mut portpool_registry,
    force: bool,
    out_error: *mut *mut portpool_error,
) -> portpool_status {
    // SAFETY: `out_error` is NULL or writable, as this function's contract says.
    let out_error = unsafe { args::optional_out(out_error) };
    guard(out_error, || {
        // SAFETY: forwarded from this function's contract.
        let reg = unsafe { registry(reg)? };
        reg.inner.set_force(force);
        Ok(())
    })
}

/// The path of the registry file that `reg` uses, as given or as resolved from the defaults.
///
/// - **Ownership:** `*out_path` is a new string owned by the caller: free it with
///   `portpool_string_free`.
/// - **Threads:** safe to call concurrently on one handle.
/// - **Errors:** `PORTPOOL_INVALID_ARGUMENT` when `reg` or `out_path` is NULL.
///
/// ```c
/// char *path = NULL;
/// if (portpool_registry_path(reg, &path, NULL) == PORTPOOL_OK) {
///     printf("registry: %s\n", path);
///     portpool_string_free(path);
/// }
/// ```
///
/// # Safety
/// `reg` is NULL or a live handle; `out_path` is NULL or writable.
/// `out_error` is NULL or writable.
#[unsafe(no_mangle)]
pub unsafe extern "C" fn portpool_registry_path(
    reg: *mut portpool_registry,
    out_path: *mut *mut c_char,
    out_error: *mut *mut portpool_error,
) -> portpool_status {
    // SAFETY: `out_error` is NULL or writable, as this function's contract says.
    let out_error = unsafe { args::optional_out(out_error) };
    guard(out_error, || {
        // SAFETY: forwarded from this function's contract.
        let (reg, out_path) = unsafe { (registry(reg)?, out(out_path, "out_path")?) };
        out_path.set(c_string(reg.inner.path().as_os_str().as_bytes()));
        Ok(())
    })
}

/// Frees a string that libportpool returned through a `char **` out-parameter. NULL does
/// nothing.
///
/// - **Ownership:** takes `s` back; it must not be used afterwards. Never pass a string from
///   anywhere else, nor one from `portpool_last_error_message` or `portpool_version`.
/// - **Threads:** may be called from any thread, not only the one that got the string.
/// - **Errors:** none; the thread's message is left as it was.
///
/// ```c
/// portpool_string_free(json);
/// ```
///
/// # Safety
/// `s` is NULL or a string from a libportpool out-parameter that was not freed yet.
#[unsafe(no_mangle)]
pub unsafe extern "C" fn portpool_string_free(s: *mut c_char) {
    if !s.is_null() {
        // SAFETY: the caller hands back a string that came from CString::into_raw.
        quietly(|| drop(unsafe { std::ffi::CString::from_raw(s) }));
    }
}

/// The message of the calling thread's last failed call, or the empty string when its last
/// call succeeded (or it made none). Never NULL.
///
/// - **Ownership:** owned by the library; do not free it. It stays valid until this thread
///   calls another status-returning portpool function, or exits; copy it to keep it.
/// - **Threads:** each thread has its own message. A caller whose code may move between
///   threads from one call to the next (a green-thread or goroutine runtime) reads the error
///   that came back with the call (`out_error`) instead.
///
/// ```c
/// if (portpool_get(reg, "web", &port, NULL) != PORTPOOL_OK)
///     fprintf(stderr, "portpool: %s\n", portpool_last_error_message());
/// ```
#[unsafe(no_mangle)]
pub extern "C" fn portpool_last_error_message() -> *const c_char {
    last_message()
}

/// The version of libportpool, e.g. `"0.1.0"`: the same for every portpool package built from
/// one source tree, and equal to `PORTPOOL_VERSION` of the header it was built with.
///
/// - **Ownership:** a static string; do not free it.
/// - **Threads:** safe to call from any thread.
///
/// ```c
/// printf("libportpool %s\n", portpool_version());
/// ```
#[unsafe(no_mangle)]
pub extern "C" fn portpool_version() -> *const c_char {
    const VERSION: &str = concat!(env!("CARGO_PKG_VERSION"), "\0");
    VERSION.as_ptr().cast()
}

/// The ABI version of the loaded library, to compare with `PORTPOOL_ABI_VERSION` from the
/// header at run time.
///
/// - **Threads:** safe to call from any thread.
///
/// ```c
/// if (portpool_abi_version() != PORTPOOL_ABI_VERSION) {
///     fprintf(stderr, "libportpool ABI mismatch\n");
///     exit(1);
/// }
/// ```
#[unsafe(no_mangle)]
pub extern "C" fn portpool_abi_version() -> u32 {
    PORTPOOL_ABI_VERSION
}

#[cfg(test)]
mod tests {
    use super::*;
    use std::ffi::CStr;

    #[test]
    fn library_version_is_the_workspace_version() {
        // SAFETY: portpool_version returns a static NUL-terminated string.
        let version = unsafe { CStr::from_ptr(portpool_version()) };
        assert_eq!(version.to_str().unwrap(), portpool_core::VERSION);
    }
}
