//! Lease and bind in one step: a socket bound to a leased port, handed to the caller (core's
//! `Registry::listen`).

use std::ffi::{c_char, c_int};
use std::os::fd::IntoRawFd;

use crate::args;
use crate::args::{choice, listen_options, out, registry, text};
use crate::lease_options::lease_options;
use crate::status::{guard, portpool_error, portpool_status};
use crate::types::{
    portpool_choice, portpool_lease_options, portpool_listen_options, portpool_registry,
};

/// Leases a port to `name` and returns a socket bound to it, in one step: under the
/// registry's lock the port is chosen (as `choice` says; NULL: the next free port of the
/// default pool), bound, and only then leased, so no other process can take it in between.
/// A TCP socket listens (`SO_REUSEADDR`, `listen->backlog`); a UDP one is bound. The fd is
/// in `*out_fd`, the port in `*out_port`.
///
/// - The address: `listen->host`, else `options->host`, else the IPv6 wildcard in
///   dual-stack mode where the host has IPv6, else 0.0.0.0.
/// - The lease is owned by `options->pid`, else by the calling process, and is reclaimed once
///   that process has exited. A `name` that already holds a lease (that `choice` accepts)
///   gets a socket bound to its port.
/// - **The lease is not released by closing the socket**: release it with
///   `portpool_release`, or let the owner's exit end it.
///
/// - **Ownership:** `name`, `choice`, `options` and `listen` are only read during the call.
///   `*out_fd` is a new descriptor owned by the caller, close-on-exec (clear `FD_CLOEXEC` to
///   hand it to a child, as `portpool run --listen` does for fd 3); close it with `close`.
/// - **Threads:** safe to call concurrently on one handle; two callers never get one port.
/// - **Errors:** those of `portpool_lease_open` (but a held name is not a conflict), and
///   `PORTPOOL_INVALID_ARGUMENT` for NULL `out_fd` or `out_port`, a `host` that is not an IP
///   address, two different hosts, or a backlog over `INT_MAX`; `PORTPOOL_IO_ERROR` when the
///   bind fails for another reason than the port being in use. Nothing is leased then.
///
/// ```c
/// int fd;
/// uint16_t port;
/// if (portpool_listen(reg, "web", NULL, NULL, NULL, &fd, &port, NULL) != PORTPOOL_OK) {
///     fprintf(stderr, "portpool: %s\n", portpool_last_error_message());
///     return 1;
/// }
/// serve(fd);        // accept() on it: nobody could take the port in between
/// close(fd);        // the lease stays: portpool_release(reg, "web", NULL, NULL) to give it back
/// ```
///
/// # Safety
/// `reg` is NULL or a live handle; `name` is NULL or a NUL-terminated string; `choice`,
/// `options` and `listen` are NULL or readable (with what they point to); `out_fd` and
/// `out_port` are NULL or writable.
/// `out_error` is NULL or writable.
#[unsafe(no_mangle)]
pub unsafe extern "C" fn portpool_listen(
    reg: *mut portpool_registry,
    name: *const c_char,
    choice: *const portpool_choice,
    options: *const portpool_lease_options,
    listen: *const portpool_listen_options,
    out_fd: *mut c_int,
    out_port: *mut u16,
    out_error: *mut *mut portpool_error,
) -> portpool_status {
    // SAFETY: `out_error` is NULL or writable, as this function's contract says.
    let out_error = unsafe { args::optional_out(out_error) };
    guard(out_error, || {
        // SAFETY: forwarded from this function's contract.
        let (reg, name, choice, options, listen, out_fd, out_port) = unsafe {
            (
                registry(reg)?,
                text(name, "name")?,
                self::choice(choice)?,
                lease_options(options)?,
                listen_options(listen)?,
                out(out_fd, "out_fd")?,
                out(out_port, "out_port")?,
            )
        };
        let bound = reg.inner.listen(name, &choice, &options, &listen)?;
        out_port.set(bound.port);
        out_fd.set(bound.fd.into_raw_fd());
        Ok(())
    })
}
