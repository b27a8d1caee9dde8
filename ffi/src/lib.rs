//! libportpool: the C ABI of portpool, one port registry per host shared by every process and
//! language. Include `portpool.h`; link with `-lportpool` (see `pkg-config --libs portpool`).
//!
//! # Error protocol
//!
//! - Every function that can fail returns a `portpool_status`: `PORTPOOL_OK` (0) on success,
//!   another code on failure. Results come back through out-parameters, which are written only
//!   on `PORTPOOL_OK`.
//! - Every such call also sets the calling thread's message: the empty string on success, a
//!   one-line description naming the value or file at fault on failure. Read it with
//!   `portpool_last_error_message()`; the pointer stays valid until the same thread calls
//!   another status-returning portpool function. The message is per thread, so threads
//!   sharing a handle never see each other's messages.
//! - A NULL pointer where a value is required, and text that is not UTF-8, give
//!   `PORTPOOL_INVALID_ARGUMENT`, never a crash. So does a `portpool_registry *` that is not an
//!   open handle (closed already, or never returned by `portpool_open`): the library keeps the
//!   set of open handles and never reads through any other pointer. Closing a handle while
//!   another thread uses it is still the caller's error. A panic inside the library is caught at the
//!   boundary and gives `PORTPOOL_PANIC`; no unwinding ever crosses into C.
//! - Functions that cannot fail (`portpool_close`, `portpool_string_free`, `portpool_version`,
//!   `portpool_abi_version`, `portpool_last_error_message`) leave the message alone.
//!
//! # Ownership
//!
//! - Strings passed in are borrowed for the duration of the call only.
//! - Strings returned through `char **` out-parameters are owned by the caller and freed with
//!   `portpool_string_free` (never `free`). Strings returned directly (`const char *`) are
//!   owned by the library and must not be freed.
//! - Every free function accepts NULL and does nothing then.
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

mod args;
mod lifecycle;
mod status;
mod types;

use std::ffi::c_char;
use std::os::unix::ffi::OsStrExt;

use portpool_core::{PortState, Registry, find_free, is_free};

use crate::args::{
    c_string, json, lease_options, name_to_port, optional_out, optional_path, optional_text, out,
    registry, text,
};
pub use crate::lifecycle::*;
pub use crate::status::portpool_status;
use crate::status::{guard, last_message, quietly};
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
/// if (portpool_open("/tmp/ports.json", &reg) != PORTPOOL_OK) {
///     fprintf(stderr, "portpool: %s\n", portpool_last_error_message());
///     return 1;
/// }
/// // ... use reg ...
/// portpool_close(reg);
/// ```
///
/// # Safety
/// `path` is NULL or a NUL-terminated string; `out` is NULL or writable.
#[unsafe(no_mangle)]
pub unsafe extern "C" fn portpool_open(
    path: *const c_char,
    out: *mut *mut portpool_registry,
) -> portpool_status {
    guard(|| {
        // SAFETY: forwarded from this function's contract.
        let (path, out) = unsafe { (optional_path(path), args::out(out, "out")?) };
        let inner = Registry::open(path)?;
        out.set(args::register_handle(portpool_registry { inner }));
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
    quietly(|| drop(args::unregister_handle(reg)));
}

/// Sets how long calls on `reg` that change the registry wait for another process's lock
/// before failing with `PORTPOOL_BUSY`: `milliseconds`, 0 meaning not at all. The default is
/// `$PORTPOOL_LOCK_TIMEOUT` seconds when `portpool_open` saw it set, else 10 s. Calls that
/// only read never wait.
///
/// - **Threads:** applies to every thread using `reg`, from their next call on.
/// - **Errors:** `PORTPOOL_INVALID_ARGUMENT` when `reg` is NULL.
///
/// ```c
/// portpool_set_lock_timeout(reg, 500);  // give up after half a second
/// ```
///
/// # Safety
/// `reg` is NULL or a live handle.
#[unsafe(no_mangle)]
pub unsafe extern "C" fn portpool_set_lock_timeout(
    reg: *mut portpool_registry,
    milliseconds: u32,
) -> portpool_status {
    guard(|| {
        // SAFETY: forwarded from this function's contract.
        let reg = unsafe { registry(reg)? };
        reg.inner
            .set_lock_timeout(std::time::Duration::from_millis(milliseconds.into()));
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
/// if (portpool_registry_path(reg, &path) == PORTPOOL_OK) {
///     printf("registry: %s\n", path);
///     portpool_string_free(path);
/// }
/// ```
///
/// # Safety
/// `reg` is NULL or a live handle; `out_path` is NULL or writable.
#[unsafe(no_mangle)]
pub unsafe extern "C" fn portpool_registry_path(
    reg: *mut portpool_registry,
    out_path: *mut *mut c_char,
) -> portpool_status {
    guard(|| {
        // SAFETY: forwarded from this function's contract.
        let (reg, out_path) = unsafe { (registry(reg)?, out(out_path, "out_path")?) };
        out_path.set(c_string(reg.inner.path().as_os_str().as_bytes()));
        Ok(())
    })
}

/// Leases a port to `name` (a permanent TCP lease) and returns it in `*out_port`. The same as
/// `portpool_register_ex` with `options` NULL.
///
/// - `PORTPOOL_MODE_FLEXIBLE`: `port` when it is neither leased nor bound, else the next such
///   port above it.
/// - `PORTPOOL_MODE_FIXED`: exactly `port`, or `PORTPOOL_CONFLICT`.
/// - A `name` that already holds a lease gets its port back and nothing is written.
///
/// - **Ownership:** `name` is only read during the call.
/// - **Threads:** safe to call concurrently on one handle; two callers never get one port.
/// - **Errors:** `PORTPOOL_INVALID_ARGUMENT` (NULL `reg`, `name` or `out_port`; `name` not
///   UTF-8 or not a valid name; `port` 0; unknown `mode`), `PORTPOOL_CONFLICT` (fixed port
///   held by another name or process; `name` already holds another port),
///   `PORTPOOL_EXHAUSTED` (no free port from `port` to 65535), `PORTPOOL_REGISTRY_ERROR`,
///   `PORTPOOL_IO_ERROR`.
///
/// ```c
/// uint16_t port;
/// if (portpool_register(reg, "web", 8080, PORTPOOL_MODE_FLEXIBLE, &port) == PORTPOOL_OK)
///     printf("web listens on %u\n", (unsigned)port);
/// ```
///
/// # Safety
/// `reg` is NULL or a live handle; `name` is NULL or a NUL-terminated string; `out_port` is
/// NULL or writable.
#[unsafe(no_mangle)]
pub unsafe extern "C" fn portpool_register(
    reg: *mut portpool_registry,
    name: *const c_char,
    port: u16,
    mode: portpool_mode,
    out_port: *mut u16,
) -> portpool_status {
    // SAFETY: forwarded from this function's contract; NULL options mean the defaults.
    unsafe { portpool_register_ex(reg, name, port, mode, std::ptr::null(), out_port) }
}

/// `portpool_register` with lease options: protocol, force, owner pid and time to live.
/// `options` NULL means the defaults (the same as a zeroed struct).
///
/// - **Ownership:** `name` and `options` are only read during the call.
/// - **Threads:** safe to call concurrently on one handle.
/// - **Errors:** those of `portpool_register`, and `PORTPOOL_INVALID_ARGUMENT` for an unknown
///   protocol or a pid that names no running process.
///
/// ```c
/// portpool_lease_options opts = {0};
/// opts.protocol = PORTPOOL_PROTOCOL_UDP;
/// opts.pid = getpid();             // reclaimed once this process exits
/// opts.ttl = 60;                   // or after 60 s without portpool_renew
/// uint16_t port;
/// portpool_status st = portpool_register_ex(reg, "dns", 5353, PORTPOOL_MODE_FIXED, &opts, &port);
/// ```
///
/// # Safety
/// As `portpool_register`; `options` is NULL or points to a readable
/// `portpool_lease_options`.
#[unsafe(no_mangle)]
pub unsafe extern "C" fn portpool_register_ex(
    reg: *mut portpool_registry,
    name: *const c_char,
    port: u16,
    mode: portpool_mode,
    options: *const portpool_lease_options,
    out_port: *mut u16,
) -> portpool_status {
    guard(|| {
        // SAFETY: forwarded from this function's contract.
        let (reg, name, options, out_port) = unsafe {
            (
                registry(reg)?,
                text(name, "name")?,
                lease_options(options)?,
                out(out_port, "out_port")?,
            )
        };
        out_port.set(
            reg.inner
                .register(name, port, args::mode(mode)?, &options)?,
        );
        Ok(())
    })
}

/// The port `name` holds, in `*out_port`. A stale lease (owner gone, time to live over)
/// still counts until something reclaims it.
///
/// - **Ownership:** `name` is only read during the call.
/// - **Threads:** safe to call concurrently on one handle.
/// - **Errors:** `PORTPOOL_NOT_FOUND` when `name` holds no lease; `PORTPOOL_INVALID_ARGUMENT`
///   (NULL or invalid `reg`, `name`, `out_port`), `PORTPOOL_REGISTRY_ERROR`,
///   `PORTPOOL_IO_ERROR`.
///
/// ```c
/// uint16_t port;
/// switch (portpool_get(reg, "web", &port)) {
/// case PORTPOOL_OK:        printf("%u\n", (unsigned)port); break;
/// case PORTPOOL_NOT_FOUND: printf("web has no port\n"); break;
/// default:                 fprintf(stderr, "%s\n", portpool_last_error_message());
/// }
/// ```
///
/// # Safety
/// `reg` is NULL or a live handle; `name` is NULL or a NUL-terminated string; `out_port` is
/// NULL or writable.
#[unsafe(no_mangle)]
pub unsafe extern "C" fn portpool_get(
    reg: *mut portpool_registry,
    name: *const c_char,
    out_port: *mut u16,
) -> portpool_status {
    // SAFETY: forwarded from this function's contract.
    guard(|| unsafe {
        name_to_port(reg, name, out_port, |reg, name| {
            reg.lease(name).map(|l| l.port)
        })
    })
}

/// The whole lease `name` holds, as a JSON object (see the JSON section above).
///
/// - **Ownership:** `*out_json` is a new string owned by the caller: free it with
///   `portpool_string_free`.
/// - **Threads:** safe to call concurrently on one handle.
/// - **Errors:** as `portpool_get`.
///
/// ```c
/// char *lease = NULL;
/// if (portpool_get_json(reg, "web", &lease) == PORTPOOL_OK) {
///     puts(lease);  // {"name":"web","port":8080,"protocol":"tcp",...}
///     portpool_string_free(lease);
/// }
/// ```
///
/// # Safety
/// `reg` is NULL or a live handle; `name` is NULL or a NUL-terminated string; `out_json` is
/// NULL or writable.
#[unsafe(no_mangle)]
pub unsafe extern "C" fn portpool_get_json(
    reg: *mut portpool_registry,
    name: *const c_char,
    out_json: *mut *mut c_char,
) -> portpool_status {
    guard(|| {
        // SAFETY: forwarded from this function's contract.
        let (reg, name, out_json) = unsafe {
            (
                registry(reg)?,
                text(name, "name")?,
                out(out_json, "out_json")?,
            )
        };
        let lease = reg.inner.lease(name)?;
        out_json.set(c_string(json(&lease)));
        Ok(())
    })
}

/// Leases the next free port of `pool` to `name` (a permanent TCP lease) and returns it in
/// `*out_port`. The same as `portpool_allocate_ex` with `options` NULL.
///
/// `pool` NULL means `"default"` (9000-9999 unless changed). The pool's round-robin cursor is
/// shared by every process on the host; ports leased to others (and, when the pool probes,
/// bound by other processes) are skipped. A `name` that already holds a lease gets its port
/// back.
///
/// - **Ownership:** `name` and `pool` are only read during the call.
/// - **Threads:** safe to call concurrently on one handle; two callers never get one port.
/// - **Errors:** `PORTPOOL_NOT_FOUND` (no such pool), `PORTPOOL_EXHAUSTED` (no free port in
///   the pool), `PORTPOOL_CONFLICT` (`name` holds a port of the other protocol),
///   `PORTPOOL_INVALID_ARGUMENT` (NULL `reg`, `name` or `out_port`; text not UTF-8; invalid
///   name), `PORTPOOL_REGISTRY_ERROR`, `PORTPOOL_IO_ERROR`.
///
/// ```c
/// uint16_t port;
/// if (portpool_allocate(reg, "worker-1", "workers", &port) == PORTPOOL_OK)
///     start_worker(port);
/// ```
///
/// # Safety
/// `reg` is NULL or a live handle; `name` and `pool` are NULL or NUL-terminated strings;
/// `out_port` is NULL or writable.
#[unsafe(no_mangle)]
pub unsafe extern "C" fn portpool_allocate(
    reg: *mut portpool_registry,
    name: *const c_char,
    pool: *const c_char,
    out_port: *mut u16,
) -> portpool_status {
    // SAFETY: forwarded from this function's contract; NULL options mean the defaults.
    unsafe { portpool_allocate_ex(reg, name, pool, std::ptr::null(), out_port) }
}

/// `portpool_allocate` with lease options: protocol, owner pid and time to live (`force` has
/// no effect here). `options` NULL means the defaults.
///
/// - **Ownership:** `name`, `pool` and `options` are only read during the call.
/// - **Threads:** safe to call concurrently on one handle.
/// - **Errors:** those of `portpool_allocate`, and `PORTPOOL_INVALID_ARGUMENT` for an unknown
///   protocol or a pid that names no running process.
///
/// ```c
/// portpool_lease_options opts = {0};
/// opts.pid = worker_pid;            // freed for reuse once the worker exits
/// uint16_t port;
/// portpool_status st = portpool_allocate_ex(reg, "worker-1", NULL, &opts, &port);
/// ```
///
/// # Safety
/// As `portpool_allocate`; `options` is NULL or points to a readable
/// `portpool_lease_options`.
#[unsafe(no_mangle)]
pub unsafe extern "C" fn portpool_allocate_ex(
    reg: *mut portpool_registry,
    name: *const c_char,
    pool: *const c_char,
    options: *const portpool_lease_options,
    out_port: *mut u16,
) -> portpool_status {
    guard(|| {
        // SAFETY: forwarded from this function's contract.
        let (reg, name, pool, options, out_port) = unsafe {
            (
                registry(reg)?,
                text(name, "name")?,
                optional_text(pool, "pool")?,
                lease_options(options)?,
                out(out_port, "out_port")?,
            )
        };
        out_port.set(reg.inner.allocate(name, pool, &options)?);
        Ok(())
    })
}

/// Releases `name`'s lease; `*out_released` tells whether there was one (an unknown name is
/// not an error).
///
/// - **Ownership:** `name` is only read during the call.
/// - **Threads:** safe to call concurrently on one handle.
/// - **Errors:** `PORTPOOL_INVALID_ARGUMENT` (NULL `reg`, `name` or `out_released`; invalid
///   name), `PORTPOOL_REGISTRY_ERROR`, `PORTPOOL_IO_ERROR`.
///
/// ```c
/// bool released;
/// portpool_release(reg, "worker-1", &released);
/// ```
///
/// # Safety
/// `reg` is NULL or a live handle; `name` is NULL or a NUL-terminated string; `out_released`
/// is NULL or writable.
#[unsafe(no_mangle)]
pub unsafe extern "C" fn portpool_release(
    reg: *mut portpool_registry,
    name: *const c_char,
    out_released: *mut bool,
) -> portpool_status {
    guard(|| {
        // SAFETY: forwarded from this function's contract.
        let (reg, name, out_released) = unsafe {
            (
                registry(reg)?,
                text(name, "name")?,
                out(out_released, "out_released")?,
            )
        };
        out_released.set(reg.inner.release(name)?);
        Ok(())
    })
}

/// Every lease, sorted by name, as a JSON array of lease objects (see the JSON section
/// above): the same array `portpool list --json` prints.
///
/// - **Ownership:** `*out_json` is a new string owned by the caller: free it with
///   `portpool_string_free`.
/// - **Threads:** safe to call concurrently on one handle.
/// - **Errors:** `PORTPOOL_INVALID_ARGUMENT` (NULL `reg` or `out_json`),
///   `PORTPOOL_REGISTRY_ERROR`, `PORTPOOL_IO_ERROR`.
///
/// ```c
/// char *leases = NULL;
/// if (portpool_list_json(reg, &leases) == PORTPOOL_OK) {
///     puts(leases);
///     portpool_string_free(leases);
/// }
/// ```
///
/// # Safety
/// `reg` is NULL or a live handle; `out_json` is NULL or writable.
#[unsafe(no_mangle)]
pub unsafe extern "C" fn portpool_list_json(
    reg: *mut portpool_registry,
    out_json: *mut *mut c_char,
) -> portpool_status {
    guard(|| {
        // SAFETY: forwarded from this function's contract.
        let (reg, out_json) = unsafe { (registry(reg)?, out(out_json, "out_json")?) };
        out_json.set(c_string(portpool_core::leases_to_json(
            &reg.inner.list()?,
            false,
        )));
        Ok(())
    })
}

/// Every pool, sorted by name, as a JSON array of pool objects (see the JSON section above).
/// The `"default"` pool is always there.
///
/// - **Ownership:** `*out_json` is a new string owned by the caller: free it with
///   `portpool_string_free`.
/// - **Threads:** safe to call concurrently on one handle.
/// - **Errors:** `PORTPOOL_INVALID_ARGUMENT` (NULL `reg` or `out_json`),
///   `PORTPOOL_REGISTRY_ERROR`, `PORTPOOL_IO_ERROR`.
///
/// ```c
/// char *pools = NULL;
/// if (portpool_pools_json(reg, &pools) == PORTPOOL_OK) {
///     puts(pools);  // [{"name":"default","start":9000,"end":9999,"cursor":9000,"probe":true}]
///     portpool_string_free(pools);
/// }
/// ```
///
/// # Safety
/// `reg` is NULL or a live handle; `out_json` is NULL or writable.
#[unsafe(no_mangle)]
pub unsafe extern "C" fn portpool_pools_json(
    reg: *mut portpool_registry,
    out_json: *mut *mut c_char,
) -> portpool_status {
    guard(|| {
        // SAFETY: forwarded from this function's contract.
        let (reg, out_json) = unsafe { (registry(reg)?, out(out_json, "out_json")?) };
        out_json.set(c_string(portpool_core::pools_to_json(
            &reg.inner.pools()?,
            false,
        )));
        Ok(())
    })
}

/// Creates pool `name` over `start`..=`end`, or changes its range. A cursor outside the new
/// range restarts at `start`; leases already made are kept. `probe` is one of the
/// `PORTPOOL_PROBE_*` constants.
///
/// - **Ownership:** `name` is only read during the call. When `out_json` is not NULL,
///   `*out_json` is the pool as a JSON object, owned by the caller: free it with
///   `portpool_string_free`.
/// - **Threads:** safe to call concurrently on one handle.
/// - **Errors:** `PORTPOOL_INVALID_ARGUMENT` (NULL `reg` or `name`; invalid name; port 0;
///   `start` after `end`; unknown `probe`), `PORTPOOL_REGISTRY_ERROR`, `PORTPOOL_IO_ERROR`.
///
/// ```c
/// if (portpool_set_pool(reg, "workers", 7000, 7099, PORTPOOL_PROBE_DEFAULT, NULL) != PORTPOOL_OK)
///     fprintf(stderr, "%s\n", portpool_last_error_message());
/// ```
///
/// # Safety
/// `reg` is NULL or a live handle; `name` is NULL or a NUL-terminated string; `out_json` is
/// NULL or writable.
#[unsafe(no_mangle)]
pub unsafe extern "C" fn portpool_set_pool(
    reg: *mut portpool_registry,
    name: *const c_char,
    start: u16,
    end: u16,
    probe: portpool_probe,
    out_json: *mut *mut c_char,
) -> portpool_status {
    guard(|| {
        // SAFETY: forwarded from this function's contract.
        let (reg, name, out_json) =
            unsafe { (registry(reg)?, text(name, "name")?, optional_out(out_json)) };
        let pool = reg
            .inner
            .set_pool(name, start, end, args::probe(probe)?)?
            .pool;
        if let Some(out_json) = out_json {
            out_json.set(c_string(json(&pool)));
        }
        Ok(())
    })
}

/// Whether `port` is free, leased, or bound by a process outside the registry, in
/// `*out_state`. Stale leases count as free, as register and allocate would reclaim them.
/// The answer is a snapshot.
///
/// - **Ownership:** when `out_lease_json` is not NULL, `*out_lease_json` is the holder's
///   lease as a JSON object when the state is `PORTPOOL_PORT_LEASED`, else NULL; a non-NULL
///   string is owned by the caller: free it with `portpool_string_free`.
/// - **Threads:** safe to call concurrently on one handle.
/// - **Errors:** `PORTPOOL_INVALID_ARGUMENT` (NULL `reg` or `out_state`; port 0; unknown
///   protocol), `PORTPOOL_REGISTRY_ERROR`, `PORTPOOL_IO_ERROR`.
///
/// ```c
/// portpool_port_state state;
/// char *holder = NULL;
/// if (portpool_check(reg, 8080, PORTPOOL_PROTOCOL_TCP, &state, &holder) == PORTPOOL_OK
///     && state == PORTPOOL_PORT_LEASED)
///     printf("8080 is leased: %s\n", holder);
/// portpool_string_free(holder);
/// ```
///
/// # Safety
/// `reg` is NULL or a live handle; `out_state` and `out_lease_json` are NULL or writable.
#[unsafe(no_mangle)]
pub unsafe extern "C" fn portpool_check(
    reg: *mut portpool_registry,
    port: u16,
    protocol: portpool_protocol,
    out_state: *mut portpool_port_state,
    out_lease_json: *mut *mut c_char,
) -> portpool_status {
    guard(|| {
        // SAFETY: forwarded from this function's contract.
        let (reg, out_state, out_lease_json) = unsafe {
            (
                registry(reg)?,
                out(out_state, "out_state")?,
                optional_out(out_lease_json),
            )
        };
        let (state, holder) = match reg.inner.check(port, args::protocol(protocol)?)? {
            PortState::Free => (portpool_port_state::PORTPOOL_PORT_FREE, None),
            PortState::Busy => (portpool_port_state::PORTPOOL_PORT_BUSY, None),
            PortState::Leased(lease) => (portpool_port_state::PORTPOOL_PORT_LEASED, Some(lease)),
        };
        out_state.set(state);
        if let Some(out_lease_json) = out_lease_json {
            out_lease_json.set(holder.map_or(std::ptr::null_mut(), |l| c_string(json(&l))));
        }
        Ok(())
    })
}

/// Releases every stale lease (owner gone or time to live over). `*out_count`, when not NULL,
/// is how many; `*out_json`, when not NULL, is a JSON array of
/// `{"lease": <lease object>, "reason": "owner pid 4242 is gone"}` objects.
///
/// - **Ownership:** a string in `*out_json` is owned by the caller: free it with
///   `portpool_string_free`.
/// - **Threads:** safe to call concurrently on one handle.
/// - **Errors:** `PORTPOOL_INVALID_ARGUMENT` (NULL `reg`), `PORTPOOL_REGISTRY_ERROR`,
///   `PORTPOOL_IO_ERROR`.
///
/// ```c
/// size_t reclaimed;
/// if (portpool_gc(reg, &reclaimed, NULL) == PORTPOOL_OK)
///     printf("reclaimed %zu stale leases\n", reclaimed);
/// ```
///
/// # Safety
/// `reg` is NULL or a live handle; `out_count` and `out_json` are NULL or writable.
#[unsafe(no_mangle)]
pub unsafe extern "C" fn portpool_gc(
    reg: *mut portpool_registry,
    out_count: *mut usize,
    out_json: *mut *mut c_char,
) -> portpool_status {
    guard(|| {
        // SAFETY: forwarded from this function's contract.
        let (reg, out_count, out_json) = unsafe {
            (
                registry(reg)?,
                optional_out(out_count),
                optional_out(out_json),
            )
        };
        let reclaimed = reg.inner.gc()?;
        if let Some(out_count) = out_count {
            out_count.set(reclaimed.len());
        }
        if let Some(out_json) = out_json {
            out_json.set(c_string(json(&reclaimed)));
        }
        Ok(())
    })
}

/// Restarts `name`'s time to live from now, with `ttl` seconds or, when `ttl` is 0, the time
/// to live the lease was given. `*out_json`, when not NULL, is the renewed lease as a JSON
/// object.
///
/// - **Ownership:** `name` is only read during the call; a string in `*out_json` is owned by
///   the caller: free it with `portpool_string_free`.
/// - **Threads:** safe to call concurrently on one handle.
/// - **Errors:** `PORTPOOL_NOT_FOUND` (no lease named `name`), `PORTPOOL_INVALID_ARGUMENT`
///   (NULL `reg` or `name`; invalid name; `ttl` 0 for a lease without a time to live),
///   `PORTPOOL_REGISTRY_ERROR`, `PORTPOOL_IO_ERROR`.
///
/// ```c
/// // a heartbeat: keep "worker-1" for another 30 s
/// if (portpool_renew(reg, "worker-1", 30, NULL) != PORTPOOL_OK)
///     fprintf(stderr, "%s\n", portpool_last_error_message());
/// ```
///
/// # Safety
/// `reg` is NULL or a live handle; `name` is NULL or a NUL-terminated string; `out_json` is
/// NULL or writable.
#[unsafe(no_mangle)]
pub unsafe extern "C" fn portpool_renew(
    reg: *mut portpool_registry,
    name: *const c_char,
    ttl: i64,
    out_json: *mut *mut c_char,
) -> portpool_status {
    guard(|| {
        // SAFETY: forwarded from this function's contract.
        let (reg, name, out_json) =
            unsafe { (registry(reg)?, text(name, "name")?, optional_out(out_json)) };
        let lease = reg.inner.renew(name, args::optional_ttl(ttl)?)?;
        if let Some(out_json) = out_json {
            out_json.set(c_string(json(&lease)));
        }
        Ok(())
    })
}

/// Empties the registry: no leases, and only the default pool at 9000-9999.
///
/// - **Threads:** safe to call concurrently on one handle.
/// - **Errors:** `PORTPOOL_INVALID_ARGUMENT` (NULL `reg`), `PORTPOOL_REGISTRY_ERROR`,
///   `PORTPOOL_IO_ERROR`.
///
/// ```c
/// portpool_reset(reg);
/// ```
///
/// # Safety
/// `reg` is NULL or a live handle.
#[unsafe(no_mangle)]
pub unsafe extern "C" fn portpool_reset(reg: *mut portpool_registry) -> portpool_status {
    guard(|| {
        // SAFETY: forwarded from this function's contract.
        let reg = unsafe { registry(reg)? };
        reg.inner.reset()
    })
}

/// Whether `port` can be bound for `protocol` on this host right now, on both the IPv4 and
/// IPv6 wildcard addresses, in `*out_free`. Ignores the registry; the answer is a snapshot.
///
/// - **Threads:** safe to call from any thread.
/// - **Errors:** `PORTPOOL_INVALID_ARGUMENT` (NULL `out_free`; port 0; unknown protocol).
///
/// ```c
/// bool free_now;
/// if (portpool_is_free(8080, PORTPOOL_PROTOCOL_TCP, &free_now) == PORTPOOL_OK && !free_now)
///     printf("something is listening on 8080\n");
/// ```
///
/// # Safety
/// `out_free` is NULL or writable.
#[unsafe(no_mangle)]
pub unsafe extern "C" fn portpool_is_free(
    port: u16,
    protocol: portpool_protocol,
    out_free: *mut bool,
) -> portpool_status {
    guard(|| {
        // SAFETY: forwarded from this function's contract.
        let out_free = unsafe { out(out_free, "out_free")? };
        out_free.set(is_free(port, args::protocol(protocol)?)?);
        Ok(())
    })
}

/// A port that the kernel picked as free, outside any registry, in `*out_port`: for tests and
/// tools that need a port now and bind it at once. Takes no lease.
///
/// - **Threads:** safe to call from any thread.
/// - **Errors:** `PORTPOOL_INVALID_ARGUMENT` (NULL `out_port`; unknown protocol),
///   `PORTPOOL_IO_ERROR` (the kernel gave none).
///
/// ```c
/// uint16_t port;
/// if (portpool_find_free(PORTPOOL_PROTOCOL_TCP, &port) == PORTPOOL_OK)
///     serve_on(port);
/// ```
///
/// # Safety
/// `out_port` is NULL or writable.
#[unsafe(no_mangle)]
pub unsafe extern "C" fn portpool_find_free(
    protocol: portpool_protocol,
    out_port: *mut u16,
) -> portpool_status {
    guard(|| {
        // SAFETY: forwarded from this function's contract.
        let out_port = unsafe { out(out_port, "out_port")? };
        out_port.set(find_free(args::protocol(protocol)?)?);
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
/// - **Threads:** each thread has its own message.
///
/// ```c
/// if (portpool_get(reg, "web", &port) != PORTPOOL_OK)
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
