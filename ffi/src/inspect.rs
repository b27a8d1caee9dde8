//! Host inspection: what the host's sockets say about ports, next to the registry (who,
//! doctor, is_free, find_free), and migrate, which turns the servers it sees into leases.

use std::ffi::c_char;

use portpool_core::{
    Error, ErrorKind, FindOptions, find_free_ports, is_free_at, leases_to_json, take_warnings,
};

use crate::args;
use crate::args::{json, json_out, out};
use crate::status::{guard, portpool_error, portpool_status};
use crate::types::{portpool_find_options, portpool_protocol, portpool_registry};

/// Everything known about `port`, as a JSON object: `{"port", "leases": [lease objects, TCP
/// and UDP], "sockets": [{"protocol", "address", "processes": [{"pid", "program"}]}] or null,
/// "unavailable": null or why the sockets could not be read}`.
///
/// - **Ownership:** `*out_json` is a new string owned by the caller: free it with
///   `portpool_string_free`.
/// - **Threads:** safe to call concurrently on one handle. Costs a walk over every process's
///   descriptors.
/// - **Errors:** `PORTPOOL_INVALID_ARGUMENT` (NULL `reg` or `out_json`; port 0),
///   `PORTPOOL_REGISTRY_ERROR`, `PORTPOOL_IO_ERROR`.
///
/// ```c
/// char *who = NULL;
/// if (portpool_who_json(reg, 8080, &who, NULL) == PORTPOOL_OK) {
///     puts(who);
///     portpool_string_free(who);
/// }
/// ```
///
/// # Safety
/// `reg` is NULL or a live handle; `out_json` is NULL or writable.
/// `out_error` is NULL or writable.
#[unsafe(no_mangle)]
pub unsafe extern "C" fn portpool_who_json(
    reg: *mut portpool_registry,
    port: u16,
    out_json: *mut *mut c_char,
    out_error: *mut *mut portpool_error,
) -> portpool_status {
    // SAFETY: forwarded from this function's contract.
    // SAFETY: `out_error` is NULL or writable, as this function's contract says.
    let out_error = unsafe { args::optional_out(out_error) };
    guard(out_error, || unsafe {
        json_out(reg, out_json, |reg| Ok(json(&reg.who(port)?)))
    })
}

/// Registers every port a server socket is bound to now as a fixed, permanent lease named
/// after its program, and returns the leases made as a JSON array. Ports already leased are
/// left alone. With `dry_run`, returns the plan and writes nothing.
///
/// - **Ownership:** `*out_json` is a new string owned by the caller: free it with
///   `portpool_string_free`.
/// - **Threads:** safe to call concurrently on one handle.
/// - **Errors:** `PORTPOOL_INVALID_ARGUMENT` (NULL `reg` or `out_json`), `PORTPOOL_IO_ERROR`
///   (/proc cannot be read), `PORTPOOL_REGISTRY_ERROR`.
///
/// ```c
/// char *plan = NULL;
/// if (portpool_migrate_json(reg, true, &plan, NULL) == PORTPOOL_OK) {
///     puts(plan);
///     portpool_string_free(plan);
/// }
/// ```
///
/// # Safety
/// `reg` is NULL or a live handle; `out_json` is NULL or writable.
/// `out_error` is NULL or writable.
#[unsafe(no_mangle)]
pub unsafe extern "C" fn portpool_migrate_json(
    reg: *mut portpool_registry,
    dry_run: bool,
    out_json: *mut *mut c_char,
    out_error: *mut *mut portpool_error,
) -> portpool_status {
    // SAFETY: forwarded from this function's contract.
    // SAFETY: `out_error` is NULL or writable, as this function's contract says.
    let out_error = unsafe { args::optional_out(out_error) };
    guard(out_error, || unsafe {
        json_out(reg, out_json, |reg| {
            Ok(leases_to_json(&reg.migrate(dry_run)?, false))
        })
    })
}

/// Checks the registry against the host and returns the findings as a JSON object:
/// `{"findings": [{"kind", "subject", "message"}], "unavailable": null or why sockets could
/// not be inspected}`. `kind` is one of `"not_listening"`, `"foreign_listener"`,
/// `"stale_owner"`, `"expired"`, `"ephemeral_overlap"`. Reads only.
///
/// - **Ownership:** `*out_json` is a new string owned by the caller: free it with
///   `portpool_string_free`.
/// - **Threads:** safe to call concurrently on one handle. Costs a walk over every process's
///   descriptors.
/// - **Errors:** `PORTPOOL_INVALID_ARGUMENT` (NULL `reg` or `out_json`),
///   `PORTPOOL_REGISTRY_ERROR`, `PORTPOOL_IO_ERROR`.
///
/// ```c
/// char *report = NULL;
/// if (portpool_doctor_json(reg, &report, NULL) == PORTPOOL_OK) {
///     puts(report);
///     portpool_string_free(report);
/// }
/// ```
///
/// # Safety
/// `reg` is NULL or a live handle; `out_json` is NULL or writable.
/// `out_error` is NULL or writable.
#[unsafe(no_mangle)]
pub unsafe extern "C" fn portpool_doctor_json(
    reg: *mut portpool_registry,
    out_json: *mut *mut c_char,
    out_error: *mut *mut portpool_error,
) -> portpool_status {
    // SAFETY: forwarded from this function's contract.
    // SAFETY: `out_error` is NULL or writable, as this function's contract says.
    let out_error = unsafe { args::optional_out(out_error) };
    guard(out_error, || unsafe {
        json_out(reg, out_json, |reg| Ok(json(&reg.doctor()?)))
    })
}

/// Brings a damaged registry back, as `portpool repair` does: keeps every line that reads
/// back, moves the damaged file (and FIFOs, directories or other users' files planted at the
/// registry's, the lock's or the spare's name) aside as `NAME.damaged-SECONDS`, never
/// deleting them, and rewrites the registry from what was kept. `*out_json` receives
/// `{"repaired", "kept", "lost", "moved_aside"}`: `lost` names, one sentence each, what
/// could not be kept. A registry that reads back is left as it is (`"repaired": false`).
///
/// - **Ownership:** `*out_json` is a new string owned by the caller: free it with
///   `portpool_string_free`.
/// - **Threads:** safe to call concurrently on one handle; takes the registry's lock.
/// - **Errors:** `PORTPOOL_INVALID_ARGUMENT` (NULL `reg` or `out_json`),
///   `PORTPOOL_REGISTRY_ERROR` (a newer version's file, or a caller who is neither root nor
///   the directory's owner), `PORTPOOL_IO_ERROR`, `PORTPOOL_BUSY`.
///
/// ```c
/// char *report = NULL;
/// if (portpool_repair_json(reg, &report, NULL) == PORTPOOL_OK) {
///     puts(report);
///     portpool_string_free(report);
/// }
/// ```
///
/// # Safety
/// `reg` is NULL or a live handle; `out_json` is NULL or writable.
/// `out_error` is NULL or writable.
#[unsafe(no_mangle)]
pub unsafe extern "C" fn portpool_repair_json(
    reg: *mut portpool_registry,
    out_json: *mut *mut c_char,
    out_error: *mut *mut portpool_error,
) -> portpool_status {
    // SAFETY: forwarded from this function's contract.
    // SAFETY: `out_error` is NULL or writable, as this function's contract says.
    let out_error = unsafe { args::optional_out(out_error) };
    guard(out_error, || unsafe {
        json_out(reg, out_json, |reg| Ok(json(&reg.repair()?)))
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
/// if (portpool_is_free(8080, PORTPOOL_PROTOCOL_TCP, &free_now, NULL) == PORTPOOL_OK && !free_now)
///     printf("something is listening on 8080\n");
/// ```
///
/// # Safety
/// `out_free` is NULL or writable.
/// `out_error` is NULL or writable.
#[unsafe(no_mangle)]
pub unsafe extern "C" fn portpool_is_free(
    port: u16,
    protocol: portpool_protocol,
    out_free: *mut bool,
    out_error: *mut *mut portpool_error,
) -> portpool_status {
    // SAFETY: forwarded from this function's contract; a NULL host is the wildcards.
    unsafe { portpool_is_free_at(port, protocol, std::ptr::null(), out_free, out_error) }
}

/// Whether `port` can be bound for `protocol` on `host` right now, in `*out_free`: on that one
/// address (e.g. `"127.0.0.1"`, which must be an address of this machine), or, with `host`
/// NULL, on both wildcard addresses as `portpool_is_free` checks. A port some process has bound
/// on another address is free on `host`. Ignores the registry; the answer is a snapshot.
///
/// - **Threads:** safe to call from any thread.
/// - **Errors:** `PORTPOOL_INVALID_ARGUMENT` (NULL `out_free`; port 0; unknown protocol; a
///   `host` that is not UTF-8, not an IP address or not an address of this machine).
///
/// ```c
/// bool free_here;
/// if (portpool_is_free_at(8080, PORTPOOL_PROTOCOL_TCP, "127.0.0.1", &free_here, NULL) == PORTPOOL_OK
///     && free_here)
///     printf("nothing is bound to 127.0.0.1:8080 or a wildcard\n");
/// ```
///
/// # Safety
/// `host` is NULL or a NUL-terminated string.
/// `out_free` is NULL or writable.
/// `out_error` is NULL or writable.
#[unsafe(no_mangle)]
pub unsafe extern "C" fn portpool_is_free_at(
    port: u16,
    protocol: portpool_protocol,
    host: *const c_char,
    out_free: *mut bool,
    out_error: *mut *mut portpool_error,
) -> portpool_status {
    // SAFETY: `out_error` is NULL or writable, as this function's contract says.
    let out_error = unsafe { args::optional_out(out_error) };
    guard(out_error, || {
        // SAFETY: forwarded from this function's contract.
        let out_free = unsafe { out(out_free, "out_free")? };
        // SAFETY: forwarded from this function's contract.
        let host = unsafe { args::optional_host(host, "host")? };
        out_free.set(is_free_at(port, args::protocol(protocol)?, host)?);
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
/// if (portpool_find_free(PORTPOOL_PROTOCOL_TCP, &port, NULL) == PORTPOOL_OK)
///     serve_on(port);
/// ```
///
/// # Safety
/// `out_port` is NULL or writable.
/// `out_error` is NULL or writable.
#[unsafe(no_mangle)]
pub unsafe extern "C" fn portpool_find_free(
    protocol: portpool_protocol,
    out_port: *mut u16,
    out_error: *mut *mut portpool_error,
) -> portpool_status {
    // SAFETY: `out_error` is NULL or writable, as this function's contract says.
    let out_error = unsafe { args::optional_out(out_error) };
    guard(out_error, || {
        // SAFETY: forwarded from this function's contract.
        let out_port = unsafe { out(out_port, "out_port")? };
        let find = FindOptions {
            protocol: args::protocol(protocol)?,
            ..FindOptions::default()
        };
        out_port.set(find_free_ports(&find)?[0]);
        Ok(())
    })
}

/// `count` distinct ports that can be bound for `options->protocol` right now, outside any
/// registry, in `out_ports[0..count]`: the free ones of `options->ports` in order, then of
/// the range in order, or, without a range, ports the kernel picks; never one of
/// `options->exclude`. Takes no lease. `options` NULL: TCP ports the kernel picks.
///
/// - **Ownership:** `options` is only read during the call; `out_ports` is the caller's
///   array of at least `count` elements.
/// - **Threads:** safe to call from any thread.
/// - **Errors:** `PORTPOOL_INVALID_ARGUMENT` (`count` 0; `out_ports` NULL; a bad protocol,
///   range or host; a NULL array with a count), `PORTPOOL_EXHAUSTED` (fewer than `count`
///   free ports where asked), `PORTPOOL_IO_ERROR`. Nothing is written to `out_ports` then.
///
/// ```c
/// portpool_find_options opts = {0};
/// opts.range_start = 4000;
/// opts.range_end = 4100;
/// uint16_t ports[3];
/// if (portpool_find_free_ex(&opts, ports, 3, NULL) == PORTPOOL_OK)
///     printf("%u %u %u\n", (unsigned)ports[0], (unsigned)ports[1], (unsigned)ports[2]);
/// ```
///
/// # Safety
/// `options` is NULL or readable, with the arrays and string it points to; `out_ports` is NULL
/// or writable for `count` elements.
/// `out_error` is NULL or writable.
#[unsafe(no_mangle)]
pub unsafe extern "C" fn portpool_find_free_ex(
    options: *const portpool_find_options,
    out_ports: *mut u16,
    count: usize,
    out_error: *mut *mut portpool_error,
) -> portpool_status {
    // SAFETY: `out_error` is NULL or writable, as this function's contract says.
    let out_error = unsafe { args::optional_out(out_error) };
    guard(out_error, || {
        if out_ports.is_null() {
            return Err(Error::new(
                ErrorKind::InvalidArgument,
                "invalid out_ports: NULL pointer",
            ));
        }
        // SAFETY: forwarded from this function's contract.
        let options = unsafe { args::find_options(options, count)? };
        let ports = find_free_ports(&options)?;
        assert_eq!(ports.len(), count, "core returns count ports");
        // SAFETY: non-NULL, and the caller promises room for `count` ports. Written, not
        // referenced: the caller's array may be uninitialized.
        unsafe { std::ptr::copy_nonoverlapping(ports.as_ptr(), out_ports, count) };
        Ok(())
    })
}

/// The warnings libportpool has given since the last call, oldest first, as a JSON array of
/// strings in `*out_json` (`[]` when there are none). Each warning is given once per process,
/// whatever call ran into it: today, a writer that appended to a registry it could not compact
/// (the file grows until someone who can compact it writes). The command line prints these on
/// stderr, Python gives them as `PortpoolWarning`s and Node as process warnings; a C program
/// calls this after its calls that write and logs what it gets.
///
/// - **Ownership:** `*out_json` is a new string owned by the caller: free it with
///   `portpool_string_free`.
/// - **Threads:** safe to call from any thread; a warning goes to one caller only.
/// - **Errors:** `PORTPOOL_INVALID_ARGUMENT` when `out_json` is NULL.
///
/// ```c
/// char *warnings = NULL;
/// if (portpool_take_warnings_json(&warnings, NULL) == PORTPOOL_OK) {
///     if (strcmp(warnings, "[]") != 0)
///         fprintf(stderr, "portpool: %s\n", warnings);
///     portpool_string_free(warnings);
/// }
/// ```
///
/// # Safety
/// `out_json` is NULL or writable.
/// `out_error` is NULL or writable.
#[unsafe(no_mangle)]
pub unsafe extern "C" fn portpool_take_warnings_json(
    out_json: *mut *mut c_char,
    out_error: *mut *mut portpool_error,
) -> portpool_status {
    // SAFETY: `out_error` is NULL or writable, as this function's contract says.
    let out_error = unsafe { args::optional_out(out_error) };
    guard(out_error, || {
        // SAFETY: forwarded from this function's contract.
        let out_json = unsafe { out(out_json, "out_json")? };
        out_json.set(args::c_string(json(&take_warnings())));
        Ok(())
    })
}
