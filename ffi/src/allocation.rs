//! Allocation: taking, reading and giving back leases and pools (register, allocate, get,
//! release, list, pools, set_pool, check, gc, renew, reset).

use std::ffi::c_char;

use portpool_core::PortState;

use crate::args::{
    self, json_out, name_to_port, optional_out, optional_text, out, registry, set_json, text,
};
use crate::lease_options::lease_options;
use crate::status::{guard, portpool_error, portpool_status};
use crate::types::{
    portpool_lease_options, portpool_mode, portpool_port_state, portpool_probe, portpool_protocol,
    portpool_registry,
};

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
/// if (portpool_register(reg, "web", 8080, PORTPOOL_MODE_FLEXIBLE, &port, NULL) == PORTPOOL_OK)
///     printf("web listens on %u\n", (unsigned)port);
/// ```
///
/// # Safety
/// `reg` is NULL or a live handle; `name` is NULL or a NUL-terminated string; `out_port` is
/// NULL or writable.
/// `out_error` is NULL or writable.
#[unsafe(no_mangle)]
pub unsafe extern "C" fn portpool_register(
    reg: *mut portpool_registry,
    name: *const c_char,
    port: u16,
    mode: portpool_mode,
    out_port: *mut u16,
    out_error: *mut *mut portpool_error,
) -> portpool_status {
    // SAFETY: forwarded from this function's contract; NULL options mean the defaults.
    unsafe { portpool_register_ex(reg, name, port, mode, std::ptr::null(), out_port, out_error) }
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
/// portpool_status st = portpool_register_ex(reg, "dns", 5353, PORTPOOL_MODE_FIXED, &opts, &port, NULL);
/// ```
///
/// # Safety
/// As `portpool_register`; `options` is NULL or points to a readable
/// `portpool_lease_options`.
/// `out_error` is NULL or writable.
#[unsafe(no_mangle)]
pub unsafe extern "C" fn portpool_register_ex(
    reg: *mut portpool_registry,
    name: *const c_char,
    port: u16,
    mode: portpool_mode,
    options: *const portpool_lease_options,
    out_port: *mut u16,
    out_error: *mut *mut portpool_error,
) -> portpool_status {
    // SAFETY: `out_error` is NULL or writable, as this function's contract says.
    let out_error = unsafe { args::optional_out(out_error) };
    guard(out_error, || {
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

/// `portpool_register_ex` with a list of preferred ports: the first of `ports` (in order) that
/// `mode` allows, then the range of `options` in order, and in flexible mode without a range
/// the ports above the first one. Fixed mode without a range takes only the listed ports
/// (none free: `PORTPOOL_CONFLICT`). Ports in `options->exclude` are never taken.
///
/// - **Ownership:** `name`, `ports` and `options` are only read during the call.
/// - **Threads:** safe to call concurrently on one handle; two callers never get one port.
/// - **Errors:** those of `portpool_register_ex`, and `PORTPOOL_INVALID_ARGUMENT` for
///   `n_ports` 0, or `ports` NULL while `n_ports` is not 0.
///
/// ```c
/// const uint16_t preferred[] = {3000, 3001};
/// portpool_lease_options opts = {0};
/// opts.range_start = 4000;         // then 4000-4100
/// opts.range_end = 4100;
/// uint16_t port;
/// portpool_register_ports(reg, "web", preferred, 2, PORTPOOL_MODE_FIXED, &opts, &port, NULL);
/// ```
///
/// # Safety
/// As `portpool_register_ex`; `ports` is NULL or points to `n_ports` readable ports.
/// `out_error` is NULL or writable.
#[unsafe(no_mangle)]
pub unsafe extern "C" fn portpool_register_ports(
    reg: *mut portpool_registry,
    name: *const c_char,
    ports: *const u16,
    n_ports: usize,
    mode: portpool_mode,
    options: *const portpool_lease_options,
    out_port: *mut u16,
    out_error: *mut *mut portpool_error,
) -> portpool_status {
    // SAFETY: `out_error` is NULL or writable, as this function's contract says.
    let out_error = unsafe { args::optional_out(out_error) };
    guard(out_error, || {
        // SAFETY: forwarded from this function's contract.
        let (reg, name, ports, options, out_port) = unsafe {
            (
                registry(reg)?,
                text(name, "name")?,
                args::ports(ports, n_ports, "ports")?,
                lease_options(options)?,
                out(out_port, "out_port")?,
            )
        };
        out_port.set(
            reg.inner
                .register(name, ports, args::mode(mode)?, &options)?,
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
/// switch (portpool_get(reg, "web", &port, NULL)) {
/// case PORTPOOL_OK:        printf("%u\n", (unsigned)port); break;
/// case PORTPOOL_NOT_FOUND: printf("web has no port\n"); break;
/// default:                 fprintf(stderr, "%s\n", portpool_last_error_message());
/// }
/// ```
///
/// # Safety
/// `reg` is NULL or a live handle; `name` is NULL or a NUL-terminated string; `out_port` is
/// NULL or writable.
/// `out_error` is NULL or writable.
#[unsafe(no_mangle)]
pub unsafe extern "C" fn portpool_get(
    reg: *mut portpool_registry,
    name: *const c_char,
    out_port: *mut u16,
    out_error: *mut *mut portpool_error,
) -> portpool_status {
    // SAFETY: forwarded from this function's contract.
    // SAFETY: `out_error` is NULL or writable, as this function's contract says.
    let out_error = unsafe { args::optional_out(out_error) };
    guard(out_error, || unsafe {
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
/// if (portpool_get_json(reg, "web", &lease, NULL) == PORTPOOL_OK) {
///     puts(lease);  // {"name":"web","port":8080,"protocol":"tcp",...}
///     portpool_string_free(lease);
/// }
/// ```
///
/// # Safety
/// `reg` is NULL or a live handle; `name` is NULL or a NUL-terminated string; `out_json` is
/// NULL or writable.
/// `out_error` is NULL or writable.
#[unsafe(no_mangle)]
pub unsafe extern "C" fn portpool_get_json(
    reg: *mut portpool_registry,
    name: *const c_char,
    out_json: *mut *mut c_char,
    out_error: *mut *mut portpool_error,
) -> portpool_status {
    // SAFETY: `out_error` is NULL or writable, as this function's contract says.
    let out_error = unsafe { args::optional_out(out_error) };
    guard(out_error, || {
        // SAFETY: forwarded from this function's contract.
        let (reg, name, out_json) = unsafe {
            (
                registry(reg)?,
                text(name, "name")?,
                out(out_json, "out_json")?,
            )
        };
        set_json(Some(out_json), &reg.inner.lease(name)?);
        Ok(())
    })
}

/// Leases the next free port of `pool` to `name` (a permanent TCP lease) and returns it in
/// `*out_port`. The same as `portpool_allocate_ex` with `options` NULL.
///
/// `pool` NULL means `"default"` (9000-18999 unless changed). The pool's round-robin cursor is
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
/// if (portpool_allocate(reg, "worker-1", "workers", &port, NULL) == PORTPOOL_OK)
///     start_worker(port);
/// ```
///
/// # Safety
/// `reg` is NULL or a live handle; `name` and `pool` are NULL or NUL-terminated strings;
/// `out_port` is NULL or writable.
/// `out_error` is NULL or writable.
#[unsafe(no_mangle)]
pub unsafe extern "C" fn portpool_allocate(
    reg: *mut portpool_registry,
    name: *const c_char,
    pool: *const c_char,
    out_port: *mut u16,
    out_error: *mut *mut portpool_error,
) -> portpool_status {
    // SAFETY: forwarded from this function's contract; NULL options mean the defaults.
    unsafe { portpool_allocate_ex(reg, name, pool, std::ptr::null(), out_port, out_error) }
}

/// `portpool_allocate` with lease options: protocol, owner pid and time to live (`force`
/// only lets it return the port of a name another user's lease holds). `options` NULL means
/// the defaults.
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
/// portpool_status st = portpool_allocate_ex(reg, "worker-1", NULL, &opts, &port, NULL);
/// ```
///
/// # Safety
/// As `portpool_allocate`; `options` is NULL or points to a readable
/// `portpool_lease_options`.
/// `out_error` is NULL or writable.
#[unsafe(no_mangle)]
pub unsafe extern "C" fn portpool_allocate_ex(
    reg: *mut portpool_registry,
    name: *const c_char,
    pool: *const c_char,
    options: *const portpool_lease_options,
    out_port: *mut u16,
    out_error: *mut *mut portpool_error,
) -> portpool_status {
    // SAFETY: `out_error` is NULL or writable, as this function's contract says.
    let out_error = unsafe { args::optional_out(out_error) };
    guard(out_error, || {
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
/// portpool_release(reg, "worker-1", &released, NULL);
/// ```
///
/// # Safety
/// `reg` is NULL or a live handle; `name` is NULL or a NUL-terminated string; `out_released`
/// is NULL or writable.
/// `out_error` is NULL or writable.
#[unsafe(no_mangle)]
pub unsafe extern "C" fn portpool_release(
    reg: *mut portpool_registry,
    name: *const c_char,
    out_released: *mut bool,
    out_error: *mut *mut portpool_error,
) -> portpool_status {
    // SAFETY: `out_error` is NULL or writable, as this function's contract says.
    let out_error = unsafe { args::optional_out(out_error) };
    guard(out_error, || {
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
/// if (portpool_list_json(reg, &leases, NULL) == PORTPOOL_OK) {
///     puts(leases);
///     portpool_string_free(leases);
/// }
/// ```
///
/// # Safety
/// `reg` is NULL or a live handle; `out_json` is NULL or writable.
/// `out_error` is NULL or writable.
#[unsafe(no_mangle)]
pub unsafe extern "C" fn portpool_list_json(
    reg: *mut portpool_registry,
    out_json: *mut *mut c_char,
    out_error: *mut *mut portpool_error,
) -> portpool_status {
    // SAFETY: forwarded from this function's contract.
    // SAFETY: `out_error` is NULL or writable, as this function's contract says.
    let out_error = unsafe { args::optional_out(out_error) };
    guard(out_error, || unsafe {
        json_out(reg, out_json, |reg| {
            Ok(portpool_core::leases_to_json(&reg.list()?, false))
        })
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
/// if (portpool_pools_json(reg, &pools, NULL) == PORTPOOL_OK) {
///     puts(pools);  // [{"name":"default","start":9000,"end":18999,"cursor":9000,"probe":true}]
///     portpool_string_free(pools);
/// }
/// ```
///
/// # Safety
/// `reg` is NULL or a live handle; `out_json` is NULL or writable.
/// `out_error` is NULL or writable.
#[unsafe(no_mangle)]
pub unsafe extern "C" fn portpool_pools_json(
    reg: *mut portpool_registry,
    out_json: *mut *mut c_char,
    out_error: *mut *mut portpool_error,
) -> portpool_status {
    // SAFETY: forwarded from this function's contract.
    // SAFETY: `out_error` is NULL or writable, as this function's contract says.
    let out_error = unsafe { args::optional_out(out_error) };
    guard(out_error, || unsafe {
        json_out(reg, out_json, |reg| {
            Ok(portpool_core::pools_to_json(&reg.pools()?, false))
        })
    })
}

/// Creates pool `name` over `start`..=`end`, or changes its range. A cursor outside the new
/// range restarts at `start`; leases already made are kept. `probe` is one of the
/// `PORTPOOL_PROBE_*` constants.
///
/// A pool that works but deserves a second look (its range overlaps the kernel's ephemeral
/// ports, say) is still set; `*out_warnings_json`, when not NULL, is a JSON array of
/// sentences saying what to look at, `[]` when there is nothing. Show them to the user.
///
/// - **Ownership:** `name` is only read during the call. When `out_json` is not NULL,
///   `*out_json` is the pool as a JSON object; both strings are owned by the caller: free
///   them with `portpool_string_free`.
/// - **Threads:** safe to call concurrently on one handle.
/// - **Errors:** `PORTPOOL_INVALID_ARGUMENT` (NULL `reg` or `name`; invalid name; port 0;
///   `start` after `end`; unknown `probe`), `PORTPOOL_REGISTRY_ERROR`, `PORTPOOL_IO_ERROR`.
///
/// ```c
/// char *warnings = NULL;
/// if (portpool_set_pool(reg, "workers", 40000, 40099, PORTPOOL_PROBE_DEFAULT, NULL, &warnings, NULL)
///     != PORTPOOL_OK)
///     fprintf(stderr, "%s\n", portpool_last_error_message());
/// else if (strcmp(warnings, "[]") != 0)
///     fprintf(stderr, "warning: %s\n", warnings);  // ["pool \"workers\" (40000-40099) overlaps ..."]
/// portpool_string_free(warnings);
/// ```
///
/// # Safety
/// `reg` is NULL or a live handle; `name` is NULL or a NUL-terminated string; `out_json` and
/// `out_warnings_json` are NULL or writable.
/// `out_error` is NULL or writable.
#[unsafe(no_mangle)]
pub unsafe extern "C" fn portpool_set_pool(
    reg: *mut portpool_registry,
    name: *const c_char,
    start: u16,
    end: u16,
    probe: portpool_probe,
    out_json: *mut *mut c_char,
    out_warnings_json: *mut *mut c_char,
    out_error: *mut *mut portpool_error,
) -> portpool_status {
    // SAFETY: `out_error` is NULL or writable, as this function's contract says.
    let out_error = unsafe { args::optional_out(out_error) };
    guard(out_error, || {
        // SAFETY: forwarded from this function's contract.
        let (reg, name, out_json, out_warnings_json) = unsafe {
            (
                registry(reg)?,
                text(name, "name")?,
                optional_out(out_json),
                optional_out(out_warnings_json),
            )
        };
        let change = reg.inner.set_pool(name, start, end, args::probe(probe)?)?;
        set_json(out_json, &change.pool);
        set_json(out_warnings_json, &change.warnings);
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
/// if (portpool_check(reg, 8080, PORTPOOL_PROTOCOL_TCP, &state, &holder, NULL) == PORTPOOL_OK
///     && state == PORTPOOL_PORT_LEASED)
///     printf("8080 is leased: %s\n", holder);
/// portpool_string_free(holder);
/// ```
///
/// # Safety
/// `reg` is NULL or a live handle; `out_state` and `out_lease_json` are NULL or writable.
/// `out_error` is NULL or writable.
#[unsafe(no_mangle)]
pub unsafe extern "C" fn portpool_check(
    reg: *mut portpool_registry,
    port: u16,
    protocol: portpool_protocol,
    out_state: *mut portpool_port_state,
    out_lease_json: *mut *mut c_char,
    out_error: *mut *mut portpool_error,
) -> portpool_status {
    // SAFETY: `out_error` is NULL or writable, as this function's contract says.
    let out_error = unsafe { args::optional_out(out_error) };
    guard(out_error, || {
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
            match holder {
                Some(lease) => set_json(Some(out_lease_json), &lease),
                None => out_lease_json.set(std::ptr::null_mut()),
            }
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
/// if (portpool_gc(reg, &reclaimed, NULL, NULL) == PORTPOOL_OK)
///     printf("reclaimed %zu stale leases\n", reclaimed);
/// ```
///
/// # Safety
/// `reg` is NULL or a live handle; `out_count` and `out_json` are NULL or writable.
/// `out_error` is NULL or writable.
#[unsafe(no_mangle)]
pub unsafe extern "C" fn portpool_gc(
    reg: *mut portpool_registry,
    out_count: *mut usize,
    out_json: *mut *mut c_char,
    out_error: *mut *mut portpool_error,
) -> portpool_status {
    // SAFETY: `out_error` is NULL or writable, as this function's contract says.
    let out_error = unsafe { args::optional_out(out_error) };
    guard(out_error, || {
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
        set_json(out_json, &reclaimed);
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
/// if (portpool_renew(reg, "worker-1", 30, NULL, NULL) != PORTPOOL_OK)
///     fprintf(stderr, "%s\n", portpool_last_error_message());
/// ```
///
/// # Safety
/// `reg` is NULL or a live handle; `name` is NULL or a NUL-terminated string; `out_json` is
/// NULL or writable.
/// `out_error` is NULL or writable.
#[unsafe(no_mangle)]
pub unsafe extern "C" fn portpool_renew(
    reg: *mut portpool_registry,
    name: *const c_char,
    ttl: i64,
    out_json: *mut *mut c_char,
    out_error: *mut *mut portpool_error,
) -> portpool_status {
    // SAFETY: `out_error` is NULL or writable, as this function's contract says.
    let out_error = unsafe { args::optional_out(out_error) };
    guard(out_error, || {
        // SAFETY: forwarded from this function's contract.
        let (reg, name, out_json) =
            unsafe { (registry(reg)?, text(name, "name")?, optional_out(out_json)) };
        let lease = reg.inner.renew(name, args::optional_ttl(ttl)?)?;
        set_json(out_json, &lease);
        Ok(())
    })
}

/// Empties the registry: no leases, and only the default pool at 9000-18999.
///
/// - **Threads:** safe to call concurrently on one handle.
/// - **Errors:** `PORTPOOL_INVALID_ARGUMENT` (NULL `reg`), `PORTPOOL_REGISTRY_ERROR`,
///   `PORTPOOL_IO_ERROR`.
///
/// ```c
/// portpool_reset(reg, NULL);
/// ```
///
/// # Safety
/// `reg` is NULL or a live handle.
/// `out_error` is NULL or writable.
#[unsafe(no_mangle)]
pub unsafe extern "C" fn portpool_reset(
    reg: *mut portpool_registry,
    out_error: *mut *mut portpool_error,
) -> portpool_status {
    // SAFETY: `out_error` is NULL or writable, as this function's contract says.
    let out_error = unsafe { args::optional_out(out_error) };
    guard(out_error, || {
        // SAFETY: forwarded from this function's contract.
        let reg = unsafe { registry(reg)? };
        reg.inner.reset()
    })
}

/// Releases `name`'s lease and, when a handover is under way, its next generation's port too
/// (`portpool_release` refuses such a lease with `PORTPOOL_CONFLICT`). `*out_released` tells
/// whether there was a lease.
///
/// - **Ownership:** `name` is only read during the call.
/// - **Threads:** safe to call concurrently on one handle.
/// - **Errors:** as `portpool_release`.
///
/// ```c
/// bool released;
/// portpool_release_all(reg, "worker-1", &released, NULL);
/// ```
///
/// # Safety
/// `reg` is NULL or a live handle; `name` is NULL or a NUL-terminated string; `out_released`
/// is NULL or writable.
/// `out_error` is NULL or writable.
#[unsafe(no_mangle)]
pub unsafe extern "C" fn portpool_release_all(
    reg: *mut portpool_registry,
    name: *const c_char,
    out_released: *mut bool,
    out_error: *mut *mut portpool_error,
) -> portpool_status {
    // SAFETY: `out_error` is NULL or writable, as this function's contract says.
    let out_error = unsafe { args::optional_out(out_error) };
    guard(out_error, || {
        // SAFETY: forwarded from this function's contract.
        let (reg, name, out_released) = unsafe {
            (
                registry(reg)?,
                text(name, "name")?,
                out(out_released, "out_released")?,
            )
        };
        out_released.set(reg.inner.release_all(name)?);
        Ok(())
    })
}

/// Every lease of every namespace, sorted by namespace (the default one first) and name, as
/// a JSON array of lease objects: what `portpool list --all-namespaces --json` prints.
///
/// - **Ownership:** the string in `*out_json` is the caller's: free it with
///   `portpool_string_free`.
/// - **Threads:** safe to call concurrently on one handle.
/// - **Errors:** as `portpool_list_json`.
///
/// ```c
/// char *json;
/// if (portpool_list_all_json(reg, &json, NULL) == PORTPOOL_OK) { puts(json); portpool_string_free(json); }
/// ```
///
/// # Safety
/// `reg` is NULL or a live handle; `out_json` is NULL or writable.
/// `out_error` is NULL or writable.
#[unsafe(no_mangle)]
pub unsafe extern "C" fn portpool_list_all_json(
    reg: *mut portpool_registry,
    out_json: *mut *mut c_char,
    out_error: *mut *mut portpool_error,
) -> portpool_status {
    // SAFETY: forwarded from this function's contract.
    // SAFETY: `out_error` is NULL or writable, as this function's contract says.
    let out_error = unsafe { args::optional_out(out_error) };
    guard(out_error, || unsafe {
        json_out(reg, out_json, |reg| {
            Ok(portpool_core::leases_to_json(
                &reg.list_all_namespaces()?,
                false,
            ))
        })
    })
}
