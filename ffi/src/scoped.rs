//! Scoped leases: a lease for one scope of the calling process, ended by closing it (core's
//! `ScopedLease`, with the one behaviour every front end shares).

use std::ffi::c_char;

use crate::args;
use crate::args::{
    choice, handle, into_handle, optional_out, out, registry, take_handle, take_live, text,
};
use crate::lease_options::lease_options;
use crate::status::{guard, portpool_error, portpool_status, quietly};
use crate::types::{portpool_choice, portpool_lease, portpool_lease_options, portpool_registry};

/// Leases a new port to `name` for one scope of the calling process (a request, a test, a
/// child process's lifetime) and returns the lease in `*out_lease`; read its port with
/// `portpool_lease_port`, end it with `portpool_lease_close`.
///
/// - The port is chosen as `choice` says (NULL: the next free port of the default pool).
/// - It is always a new lease: a `name` that already holds a live lease is
///   `PORTPOOL_CONFLICT` and nothing changes (a stale one is reclaimed).
/// - The lease is owned by `options->pid`, else by the calling process, so it is reclaimed
///   if that process dies inside the scope. `options` NULL means the defaults.
///
/// - **Ownership:** `name`, `choice` and `options` are only read during the call. On success
///   `*out_lease` is a new lease handle owned by the caller: end it with
///   `portpool_lease_close` (or forget it with `portpool_lease_free`).
/// - **Threads:** safe to call concurrently on one handle; two callers never get one port.
/// - **Errors:** `PORTPOOL_CONFLICT` (`name` holds a lease already; a fixed port held by
///   another name or process), `PORTPOOL_NOT_FOUND` (no such pool), `PORTPOOL_EXHAUSTED`,
///   `PORTPOOL_INVALID_ARGUMENT` (NULL `reg`, `name` or `out_lease`; invalid name; a choice
///   with both a pool and ports, or `ports` NULL with `n_ports` not 0; a bad mode, protocol,
///   pid or time to live), `PORTPOOL_BUSY`, `PORTPOOL_REGISTRY_ERROR`, `PORTPOOL_IO_ERROR`.
///
/// ```c
/// portpool_lease *lease = NULL;
/// if (portpool_lease_open(reg, "test-server", NULL, NULL, &lease, NULL) != PORTPOOL_OK) {
///     fprintf(stderr, "portpool: %s\n", portpool_last_error_message());
///     return 1;
/// }
/// run_test_server(portpool_lease_port(lease));
/// portpool_lease_close(reg, lease, NULL, NULL);  // the port is free for others again
/// ```
///
/// # Safety
/// `reg` is NULL or a live handle; `name` is NULL or a NUL-terminated string; `choice` and
/// `options` are NULL or readable (with the strings and arrays they point to); `out_lease` is
/// NULL or writable.
/// `out_error` is NULL or writable.
#[unsafe(no_mangle)]
pub unsafe extern "C" fn portpool_lease_open(
    reg: *mut portpool_registry,
    name: *const c_char,
    choice: *const portpool_choice,
    options: *const portpool_lease_options,
    out_lease: *mut *mut portpool_lease,
    out_error: *mut *mut portpool_error,
) -> portpool_status {
    // SAFETY: `out_error` is NULL or writable, as this function's contract says.
    let out_error = unsafe { args::optional_out(out_error) };
    guard(out_error, || {
        // SAFETY: forwarded from this function's contract.
        let (reg, name, choice, options, out_lease) = unsafe {
            (
                registry(reg)?,
                text(name, "name")?,
                self::choice(choice)?,
                lease_options(options)?,
                out(out_lease, "out_lease")?,
            )
        };
        let inner = reg.inner.lease_scoped(name, &choice, &options)?;
        out_lease.set(into_handle(portpool_lease { inner }));
        Ok(())
    })
}

/// The port `lease` holds; 0 when `lease` is NULL or not an open lease.
///
/// - **Threads:** safe to call from any thread, also concurrently on one lease.
/// - **Errors:** none; the thread's message is left as it was.
///
/// ```c
/// printf("serving on %u\n", (unsigned)portpool_lease_port(lease));
/// ```
///
/// # Safety
/// `lease` is NULL or a lease that no other thread closes or frees during the call.
#[unsafe(no_mangle)]
pub unsafe extern "C" fn portpool_lease_port(lease: *const portpool_lease) -> u16 {
    // SAFETY: forwarded from this function's contract.
    unsafe { handle(lease) }.map_or(0, |l| l.inner.port())
}

/// Ends `lease`'s scope and frees it: releases the lease if this is the process that opened
/// it and the name still holds this port (a forked child, or a name released or handed over
/// meanwhile, releases nothing), then frees the handle. `*out_released`, when not NULL, says
/// whether this call released it. NULL `lease` does nothing and gives `PORTPOOL_OK`.
///
/// The handle is freed whatever the outcome, as `fclose` closes its stream: after a failure
/// (`PORTPOOL_BUSY`, say) the lease stays in the registry until its owner exits, or until
/// `portpool_release` of its name.
///
/// - **Ownership:** takes `lease` back from the caller; it must not be used afterwards.
/// - **Threads:** no other thread may be using `lease` during this call.
/// - **Errors:** `PORTPOOL_INVALID_ARGUMENT` (NULL or invalid `reg`; `lease` not an open
///   lease, which is then left alone), `PORTPOOL_BUSY`, `PORTPOOL_REGISTRY_ERROR`,
///   `PORTPOOL_IO_ERROR`.
///
/// ```c
/// bool released;
/// if (portpool_lease_close(reg, lease, &released, NULL) != PORTPOOL_OK)
///     fprintf(stderr, "portpool: %s\n", portpool_last_error_message());
/// lease = NULL;
/// ```
///
/// # Safety
/// `reg` is NULL or a live handle; `lease` is NULL or a lease that no other thread uses
/// during the call; `out_released` is NULL or writable.
/// `out_error` is NULL or writable.
#[unsafe(no_mangle)]
pub unsafe extern "C" fn portpool_lease_close(
    reg: *mut portpool_registry,
    lease: *mut portpool_lease,
    out_released: *mut bool,
    out_error: *mut *mut portpool_error,
) -> portpool_status {
    // SAFETY: `out_error` is NULL or writable, as this function's contract says.
    let out_error = unsafe { args::optional_out(out_error) };
    guard(out_error, || {
        // SAFETY: forwarded from this function's contract.
        let out_released = unsafe { optional_out(out_released) };
        if lease.is_null() {
            if let Some(out_released) = out_released {
                out_released.set(false);
            }
            return Ok(());
        }
        let lease = take_live(lease)?;
        // SAFETY: forwarded from this function's contract.
        let released = unsafe { registry(reg) }.and_then(|reg| lease.inner.release(&reg.inner))?;
        if let Some(out_released) = out_released {
            out_released.set(released);
        }
        Ok(())
    })
}

/// Frees `lease` without ending its scope: the lease stays in the registry, owned as it was,
/// until its owner exits or its name is released. NULL, and a lease closed or freed already,
/// do nothing.
///
/// - **Ownership:** takes `lease` back from the caller; it must not be used afterwards.
/// - **Threads:** no other thread may be using `lease` during this call.
/// - **Errors:** none; the thread's message is left as it was.
///
/// ```c
/// // the child process serves on the port and the lease ends with it
/// portpool_lease_free(lease);
/// ```
///
/// # Safety
/// `lease` is NULL or a lease that no other thread uses during the call.
#[unsafe(no_mangle)]
pub unsafe extern "C" fn portpool_lease_free(lease: *mut portpool_lease) {
    quietly(|| drop(take_handle(lease)));
}
