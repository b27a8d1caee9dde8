//! Handover and owners: who owns a lease and how it passes from one process to the next
//! (begin, commit and abort a handover, set_owner, allocate_many for a supervisor's workers).

use std::ffi::c_char;

use portpool_core::{Ending, Error, ErrorKind, HandoverOptions, Registry, Result};

use crate::args;
use crate::args::{
    name_to_port, optional_out, optional_pid, optional_text, registry, set_json, text,
};
use crate::lease_options::lease_options;
use crate::status::{guard, portpool_error, portpool_status};
use crate::types::{portpool_lease_options, portpool_registry};

/// Begins a zero-downtime handover of `name`: leases a port for the next generation while the
/// current one stays valid, and returns it in `*out_port`. `portpool_get` keeps returning the
/// current port until `portpool_commit_handover`; both ports are leased meanwhile, and the
/// lease's JSON shows the new one under `"next"`. A pool lease's new port comes from its pool;
/// other leases take the first free port above the current one. `pid` (0: none) is the next
/// generation's process, which owns the lease after the commit. Begun while a handover is
/// under way, `PORTPOOL_CONFLICT` (see `portpool_begin_handover_ticket`).
///
/// - **Ownership:** `name` is only read during the call.
/// - **Threads:** safe to call concurrently on one handle.
/// - **Errors:** `PORTPOOL_NOT_FOUND` (no lease named `name`), `PORTPOOL_EXHAUSTED` (no free
///   port), `PORTPOOL_INVALID_ARGUMENT` (NULL `reg`, `name` or `out_port`; invalid name; a
///   `pid` that names no running process), `PORTPOOL_REGISTRY_ERROR`, `PORTPOOL_IO_ERROR`.
///
/// ```c
/// uint16_t next;
/// if (portpool_begin_handover(reg, "web", 0, &next, NULL) == PORTPOOL_OK) {
///     start_generation(next);          // the new process listens on `next`
///     portpool_commit_handover(reg, "web", 0, &next, NULL);
///     stop_old_generation();           // its port is free for others now
/// }
/// ```
///
/// # Safety
/// `reg` is NULL or a live handle; `name` is NULL or a NUL-terminated string; `out_port` is
/// NULL or writable.
/// `out_error` is NULL or writable.
#[unsafe(no_mangle)]
pub unsafe extern "C" fn portpool_begin_handover(
    reg: *mut portpool_registry,
    name: *const c_char,
    pid: i64,
    out_port: *mut u16,
    out_error: *mut *mut portpool_error,
) -> portpool_status {
    // SAFETY: forwarded from this function's contract.
    // SAFETY: `out_error` is NULL or writable, as this function's contract says.
    let out_error = unsafe { args::optional_out(out_error) };
    guard(out_error, || unsafe {
        handover_step(reg, name, pid, out_port, Registry::begin_handover)
    })
}

/// Completes `name`'s handover: releases the old port and makes the next one current. The
/// new port is in `*out_port`. The lease's owner becomes the next generation's process: the
/// pid given to `portpool_begin_handover`, else `pid` given here, else none (the old
/// generation's process never owns the new port).
///
/// `pid` (0: not checked) is the next generation as this caller knows it: a handover begun
/// for another process is `PORTPOOL_CONFLICT`, so one supervisor cannot commit another's.
///
/// - **Ownership:** `name` is only read during the call.
/// - **Threads:** safe to call concurrently on one handle.
/// - **Errors:** `PORTPOOL_NOT_FOUND` (no lease named `name`, a stale one, or no handover
///   under way), `PORTPOOL_CONFLICT` (begun for another pid), `PORTPOOL_INVALID_ARGUMENT`
///   (NULL `reg`, `name` or `out_port`; invalid name; a `pid` that names no running
///   process), `PORTPOOL_REGISTRY_ERROR`, `PORTPOOL_IO_ERROR`.
///
/// ```c
/// uint16_t now_current;
/// portpool_commit_handover(reg, "web", new_worker_pid, &now_current, NULL);
/// ```
///
/// # Safety
/// `reg` is NULL or a live handle; `name` is NULL or a NUL-terminated string; `out_port` is
/// NULL or writable.
/// `out_error` is NULL or writable.
#[unsafe(no_mangle)]
pub unsafe extern "C" fn portpool_commit_handover(
    reg: *mut portpool_registry,
    name: *const c_char,
    pid: i64,
    out_port: *mut u16,
    out_error: *mut *mut portpool_error,
) -> portpool_status {
    // SAFETY: forwarded from this function's contract.
    // SAFETY: `out_error` is NULL or writable, as this function's contract says.
    let out_error = unsafe { args::optional_out(out_error) };
    guard(out_error, || unsafe {
        handover_step(reg, name, pid, out_port, Registry::commit_handover)
    })
}

/// Abandons `name`'s handover: releases the next generation's port, which is returned in
/// `*out_port`; the current lease is untouched. `pid` (0: not checked) is checked as by
/// `portpool_commit_handover`.
///
/// - **Ownership:** `name` is only read during the call.
/// - **Threads:** safe to call concurrently on one handle.
/// - **Errors:** as `portpool_commit_handover`.
///
/// ```c
/// uint16_t dropped;
/// if (new_generation_failed)
///     portpool_abort_handover(reg, "web", 0, &dropped, NULL);
/// ```
///
/// # Safety
/// `reg` is NULL or a live handle; `name` is NULL or a NUL-terminated string; `out_port` is
/// NULL or writable.
/// `out_error` is NULL or writable.
#[unsafe(no_mangle)]
pub unsafe extern "C" fn portpool_abort_handover(
    reg: *mut portpool_registry,
    name: *const c_char,
    pid: i64,
    out_port: *mut u16,
    out_error: *mut *mut portpool_error,
) -> portpool_status {
    // SAFETY: forwarded from this function's contract.
    // SAFETY: `out_error` is NULL or writable, as this function's contract says.
    let out_error = unsafe { args::optional_out(out_error) };
    guard(out_error, || unsafe {
        handover_step(reg, name, pid, out_port, Registry::abort_handover)
    })
}

/// Allocates a port of `pool` (NULL: `"default"`) to each of the `count` names in `names`, in
/// one locked write: all or none. Names that already hold a lease get theirs back.
/// `out_ports[i]` is the port of `names[i]`. `options` NULL means the defaults.
///
/// - **Ownership:** `names`, the strings in it, `pool` and `options` are only read during the
///   call; `out_ports` is the caller's array of at least `count` elements.
/// - **Threads:** safe to call concurrently on one handle.
/// - **Errors:** as `portpool_allocate_ex` (nothing is leased then), and
///   `PORTPOOL_INVALID_ARGUMENT` for a name given twice, or `names` or `out_ports` NULL while
///   `count` is not 0.
///
/// ```c
/// const char *names[] = {"worker-1", "worker-2", "worker-3"};
/// uint16_t ports[3];
/// if (portpool_allocate_many(reg, names, 3, "workers", NULL, ports, NULL) == PORTPOOL_OK)
///     printf("%u %u %u\n", (unsigned)ports[0], (unsigned)ports[1], (unsigned)ports[2]);
/// ```
///
/// # Safety
/// `reg` is NULL or a live handle; `names` is NULL or points to `count` pointers, each NULL or
/// a NUL-terminated string; `pool` is NULL or a NUL-terminated string; `options` is NULL or
/// readable; `out_ports` is NULL or writable for `count` elements.
/// `out_error` is NULL or writable.
#[unsafe(no_mangle)]
pub unsafe extern "C" fn portpool_allocate_many(
    reg: *mut portpool_registry,
    names: *const *const c_char,
    count: usize,
    pool: *const c_char,
    options: *const portpool_lease_options,
    out_ports: *mut u16,
    out_error: *mut *mut portpool_error,
) -> portpool_status {
    // SAFETY: `out_error` is NULL or writable, as this function's contract says.
    let out_error = unsafe { args::optional_out(out_error) };
    guard(out_error, || {
        // SAFETY: forwarded from this function's contract.
        let (reg, pool, options) = unsafe {
            (
                registry(reg)?,
                optional_text(pool, "pool")?,
                lease_options(options)?,
            )
        };
        if count > 0 && (names.is_null() || out_ports.is_null()) {
            let what = if names.is_null() {
                "names"
            } else {
                "out_ports"
            };
            return Err(Error::new(
                ErrorKind::InvalidArgument,
                format!("invalid {what}: NULL pointer with count {count}"),
            ));
        }
        let names: &[*const c_char] = if count == 0 {
            &[]
        } else {
            // SAFETY: non-NULL, and the caller promises `count` readable pointers.
            unsafe { std::slice::from_raw_parts(names, count) }
        };
        let names = names
            .iter()
            .enumerate()
            // SAFETY: each pointer is NULL or a NUL-terminated string, per the contract.
            .map(|(i, name)| unsafe { text(*name, &format!("names[{i}]")) })
            .collect::<Result<Vec<&str>, Error>>()?;
        let ports = reg.inner.allocate_many(&names, pool, &options)?;
        if count > 0 {
            assert_eq!(ports.len(), count, "core returns one port per name");
            // SAFETY: non-NULL, and the caller promises room for `count` ports. Written, not
            // referenced: the caller's array may be uninitialized.
            unsafe { std::ptr::copy_nonoverlapping(ports.as_ptr(), out_ports, count) };
        }
        Ok(())
    })
}

/// Makes process `pid` the owner of `name`'s lease (0: no owner, a permanent lease). Once the
/// owner exits, the lease is stale and is reclaimed. `*out_json`, when not NULL, is the lease
/// as a JSON object.
///
/// - **Ownership:** `name` is only read during the call; a string in `*out_json` is owned by
///   the caller: free it with `portpool_string_free`.
/// - **Threads:** safe to call concurrently on one handle.
/// - **Errors:** `PORTPOOL_NOT_FOUND` (no lease named `name`), `PORTPOOL_INVALID_ARGUMENT`
///   (NULL `reg` or `name`; invalid name; a `pid` that names no running process),
///   `PORTPOOL_REGISTRY_ERROR`, `PORTPOOL_IO_ERROR`.
///
/// ```c
/// pid_t child = fork();
/// if (child > 0)  // the lease now lives as long as the child
///     portpool_set_owner(reg, "worker-1", (int64_t)child, NULL, NULL);
/// ```
///
/// # Safety
/// `reg` is NULL or a live handle; `name` is NULL or a NUL-terminated string; `out_json` is
/// NULL or writable.
/// `out_error` is NULL or writable.
#[unsafe(no_mangle)]
pub unsafe extern "C" fn portpool_set_owner(
    reg: *mut portpool_registry,
    name: *const c_char,
    pid: i64,
    out_json: *mut *mut c_char,
    out_error: *mut *mut portpool_error,
) -> portpool_status {
    // SAFETY: `out_error` is NULL or writable, as this function's contract says.
    let out_error = unsafe { args::optional_out(out_error) };
    guard(out_error, || {
        // SAFETY: forwarded from this function's contract.
        let (reg, name, out_json) =
            unsafe { (registry(reg)?, text(name, "name")?, optional_out(out_json)) };
        let lease = reg.inner.set_owner(name, optional_pid(pid)?)?;
        set_json(out_json, &lease);
        Ok(())
    })
}

/// The body of the three handover calls: one step of `name`'s handover for the next
/// generation `pid` (0: none given), whose port goes to `*out_port`.
///
/// # Safety
/// As those calls' contract: `reg` is NULL or a live handle, `name` NULL or a NUL-terminated
/// string, `out_port` NULL or writable.
unsafe fn handover_step(
    reg: *mut portpool_registry,
    name: *const c_char,
    pid: i64,
    out_port: *mut u16,
    step: fn(&Registry, &str, Option<u32>) -> Result<u16>,
) -> Result<()> {
    // SAFETY: forwarded from this function's contract.
    unsafe {
        name_to_port(reg, name, out_port, |reg, name| {
            step(reg, name, optional_pid(pid)?)
        })
    }
}

/// Begins `name`'s handover as `portpool_begin_handover` does, with its ticket: the port is in
/// `*out_port` and the ticket in `*out_ticket` (when not NULL). A handover already under way
/// is `PORTPOOL_CONFLICT` naming its ticket and port, unless `ticket` (0: none) is that ticket
/// (a retry: the same handover comes back) or `supersede` (it is aborted and a new one begun,
/// in one change).
///
/// - **Ownership:** `name` is only read during the call.
/// - **Threads:** safe to call concurrently on one handle.
/// - **Errors:** as `portpool_begin_handover`, and `PORTPOOL_CONFLICT` for a handover under way
///   or a `ticket` that is not it.
///
/// ```c
/// uint16_t next; uint64_t ticket;
/// if (portpool_begin_handover_ticket(reg, "web", 0, 0, false, &next, &ticket, NULL) == PORTPOOL_OK)
///     portpool_commit_handover_ticket(reg, "web", 0, ticket, &next, NULL);
/// ```
///
/// # Safety
/// `reg` is NULL or a live handle; `name` is NULL or a NUL-terminated string; `out_port` is
/// NULL or writable; `out_ticket` is NULL or writable.
/// `out_error` is NULL or writable.
#[unsafe(no_mangle)]
pub unsafe extern "C" fn portpool_begin_handover_ticket(
    reg: *mut portpool_registry,
    name: *const c_char,
    pid: i64,
    ticket: u64,
    supersede: bool,
    out_port: *mut u16,
    out_ticket: *mut u64,
    out_error: *mut *mut portpool_error,
) -> portpool_status {
    // SAFETY: `out_error` is NULL or writable, as this function's contract says.
    let out_error = unsafe { args::optional_out(out_error) };
    guard(out_error, || {
        // SAFETY: forwarded from this function's contract.
        let (reg, name, out_port, out_ticket) = unsafe {
            (
                registry(reg)?,
                text(name, "name")?,
                crate::args::out(out_port, "out_port")?,
                optional_out(out_ticket),
            )
        };
        let options = HandoverOptions {
            pid: optional_pid(pid)?,
            ticket: (ticket != 0).then_some(ticket),
            supersede,
        };
        let handover = reg.inner.begin_handover_with(name, &options)?;
        out_port.set(handover.port);
        if let Some(out) = out_ticket {
            out.set(handover.ticket);
        }
        Ok(())
    })
}

/// Commits `name`'s handover as `portpool_commit_handover` does, only when `ticket` (0: any) is
/// the handover under way: an ended or other ticket is `PORTPOOL_CONFLICT` and changes nothing.
///
/// - **Ownership:** `name` is only read during the call.
/// - **Threads:** safe to call concurrently on one handle.
/// - **Errors:** as `portpool_commit_handover`, and `PORTPOOL_CONFLICT` for another ticket.
///
/// ```c
/// portpool_commit_handover_ticket(reg, "web", 0, ticket, &now_current, NULL);
/// ```
///
/// # Safety
/// `reg` is NULL or a live handle; `name` is NULL or a NUL-terminated string; `out_port` is
/// NULL or writable.
/// `out_error` is NULL or writable.
#[unsafe(no_mangle)]
pub unsafe extern "C" fn portpool_commit_handover_ticket(
    reg: *mut portpool_registry,
    name: *const c_char,
    pid: i64,
    ticket: u64,
    out_port: *mut u16,
    out_error: *mut *mut portpool_error,
) -> portpool_status {
    // SAFETY: forwarded from this function's contract.
    // SAFETY: `out_error` is NULL or writable, as this function's contract says.
    let out_error = unsafe { args::optional_out(out_error) };
    guard(out_error, || unsafe {
        name_to_port(reg, name, out_port, |reg, name| {
            reg.commit_handover_ticket(name, optional_pid(pid)?, (ticket != 0).then_some(ticket))
        })
    })
}

/// Aborts `name`'s handover as `portpool_abort_handover` does, checked against `ticket` (0:
/// any) as by `portpool_commit_handover_ticket`.
///
/// - **Ownership:** `name` is only read during the call.
/// - **Threads:** safe to call concurrently on one handle.
/// - **Errors:** as `portpool_commit_handover_ticket`.
///
/// ```c
/// portpool_abort_handover_ticket(reg, "web", 0, ticket, &dropped, NULL);
/// ```
///
/// # Safety
/// `reg` is NULL or a live handle; `name` is NULL or a NUL-terminated string; `out_port` is
/// NULL or writable.
/// `out_error` is NULL or writable.
#[unsafe(no_mangle)]
pub unsafe extern "C" fn portpool_abort_handover_ticket(
    reg: *mut portpool_registry,
    name: *const c_char,
    pid: i64,
    ticket: u64,
    out_port: *mut u16,
    out_error: *mut *mut portpool_error,
) -> portpool_status {
    // SAFETY: forwarded from this function's contract.
    // SAFETY: `out_error` is NULL or writable, as this function's contract says.
    let out_error = unsafe { args::optional_out(out_error) };
    guard(out_error, || unsafe {
        name_to_port(reg, name, out_port, |reg, name| {
            reg.abort_handover_ticket(name, optional_pid(pid)?, (ticket != 0).then_some(ticket))
        })
    })
}

/// Begins a handover of each of the `count` names in `names` in one change: all begin, or none
/// does and the first refusal is the error. `out_ports[i]` and `out_tickets[i]` are the next
/// port and ticket of `names[i]`. `pid` (0: none) and `supersede` as for
/// `portpool_begin_handover_ticket`.
///
/// - **Ownership:** `names` and its strings are only read during the call; `out_ports` and
///   `out_tickets` are the caller's arrays of at least `count` elements.
/// - **Threads:** safe to call concurrently on one handle.
/// - **Errors:** as `portpool_begin_handover_ticket` (nothing begins then), and
///   `PORTPOOL_INVALID_ARGUMENT` for a name given twice or a NULL array while `count` is not 0.
///
/// ```c
/// const char *names[] = {"worker-1", "worker-2"};
/// uint16_t ports[2]; uint64_t tickets[2];
/// portpool_begin_handovers(reg, names, 2, 0, false, ports, tickets, NULL);
/// ```
///
/// # Safety
/// `reg` is NULL or a live handle; `names` is NULL or points to `count` pointers, each NULL or
/// a NUL-terminated string; `out_ports` and `out_tickets` are NULL or writable for `count`
/// elements.
/// `out_error` is NULL or writable.
#[unsafe(no_mangle)]
pub unsafe extern "C" fn portpool_begin_handovers(
    reg: *mut portpool_registry,
    names: *const *const c_char,
    count: usize,
    pid: i64,
    supersede: bool,
    out_ports: *mut u16,
    out_tickets: *mut u64,
    out_error: *mut *mut portpool_error,
) -> portpool_status {
    // SAFETY: `out_error` is NULL or writable, as this function's contract says.
    let out_error = unsafe { args::optional_out(out_error) };
    guard(out_error, || {
        // SAFETY: forwarded from this function's contract.
        let (reg, names) = unsafe { (registry(reg)?, name_array(names, count)?) };
        nonnull_arrays(
            count,
            &[
                ("out_ports", out_ports.is_null()),
                ("out_tickets", out_tickets.is_null()),
            ],
        )?;
        let options = HandoverOptions {
            pid: optional_pid(pid)?,
            ticket: None,
            supersede,
        };
        let begun = reg.inner.begin_handovers(&names, &options)?;
        for (i, handover) in begun.iter().enumerate() {
            // SAFETY: non-NULL (checked above), and the caller promises room for `count`
            // elements; core returns one per name. Written, not referenced.
            unsafe {
                out_ports.add(i).write(handover.port);
                out_tickets.add(i).write(handover.ticket);
            }
        }
        Ok(())
    })
}

/// Commits the handovers of the `count` names in `names` in one change, each checked against
/// `tickets[i]` (0, or `tickets` NULL: any) and `pid` (0: not checked): all are committed, or
/// none is and the first refusal is the error. `out_ports[i]` is `names[i]`'s new port.
///
/// - **Ownership:** `names`, its strings and `tickets` are only read during the call;
///   `out_ports` is the caller's array of at least `count` elements.
/// - **Threads:** safe to call concurrently on one handle.
/// - **Errors:** as `portpool_commit_handover_ticket` (nothing changes then), and
///   `PORTPOOL_INVALID_ARGUMENT` for a name given twice or a NULL array while `count` is not 0.
///
/// ```c
/// portpool_commit_handovers(reg, names, tickets, 2, 0, ports, NULL);
/// ```
///
/// # Safety
/// `reg` is NULL or a live handle; `names` is NULL or points to `count` pointers, each NULL or
/// a NUL-terminated string; `tickets` is NULL or readable for `count` elements; `out_ports` is
/// NULL or writable for `count` elements.
/// `out_error` is NULL or writable.
#[unsafe(no_mangle)]
pub unsafe extern "C" fn portpool_commit_handovers(
    reg: *mut portpool_registry,
    names: *const *const c_char,
    tickets: *const u64,
    count: usize,
    pid: i64,
    out_ports: *mut u16,
    out_error: *mut *mut portpool_error,
) -> portpool_status {
    // SAFETY: forwarded from this function's contract.
    // SAFETY: `out_error` is NULL or writable, as this function's contract says.
    let out_error = unsafe { args::optional_out(out_error) };
    guard(out_error, || unsafe {
        end_many(reg, names, tickets, count, pid, out_ports, true)
    })
}

/// Aborts the handovers of the `count` names in `names` in one change, checked as by
/// `portpool_commit_handovers`; `out_ports[i]` is the released next port of `names[i]`.
///
/// - **Ownership:** as `portpool_commit_handovers`.
/// - **Threads:** safe to call concurrently on one handle.
/// - **Errors:** as `portpool_commit_handovers`.
///
/// ```c
/// portpool_abort_handovers(reg, names, tickets, 2, 0, ports, NULL);
/// ```
///
/// # Safety
/// As `portpool_commit_handovers`.
/// `out_error` is NULL or writable.
#[unsafe(no_mangle)]
pub unsafe extern "C" fn portpool_abort_handovers(
    reg: *mut portpool_registry,
    names: *const *const c_char,
    tickets: *const u64,
    count: usize,
    pid: i64,
    out_ports: *mut u16,
    out_error: *mut *mut portpool_error,
) -> portpool_status {
    // SAFETY: forwarded from this function's contract.
    // SAFETY: `out_error` is NULL or writable, as this function's contract says.
    let out_error = unsafe { args::optional_out(out_error) };
    guard(out_error, || unsafe {
        end_many(reg, names, tickets, count, pid, out_ports, false)
    })
}

/// The body of the two batch ends: commit (`commit`) or abort each handover.
///
/// # Safety
/// As `portpool_commit_handovers`' contract.
unsafe fn end_many(
    reg: *mut portpool_registry,
    names: *const *const c_char,
    tickets: *const u64,
    count: usize,
    pid: i64,
    out_ports: *mut u16,
    commit: bool,
) -> Result<()> {
    // SAFETY: forwarded from this function's contract.
    let (reg, names) = unsafe { (registry(reg)?, name_array(names, count)?) };
    nonnull_arrays(count, &[("out_ports", out_ports.is_null())])?;
    let tickets: &[u64] = if tickets.is_null() || count == 0 {
        &[]
    } else {
        // SAFETY: non-NULL, and the caller promises `count` readable elements.
        unsafe { std::slice::from_raw_parts(tickets, count) }
    };
    let endings: Vec<Ending> = names
        .iter()
        .enumerate()
        .map(|(i, name)| Ending {
            name,
            ticket: tickets.get(i).copied().filter(|t| *t != 0),
        })
        .collect();
    let pid = optional_pid(pid)?;
    let ports = if commit {
        reg.inner.commit_handovers(&endings, pid)?
    } else {
        reg.inner.abort_handovers(&endings, pid)?
    };
    if count > 0 {
        // SAFETY: non-NULL (checked above), room for `count` ports; one port per name.
        unsafe { std::ptr::copy_nonoverlapping(ports.as_ptr(), out_ports, count) };
    }
    Ok(())
}

/// `count` names from C: `InvalidArgument` for a NULL array while `count` is not 0, or a NULL
/// or invalid UTF-8 entry.
///
/// # Safety
/// `names` is NULL or points to `count` pointers, each NULL or a NUL-terminated string.
unsafe fn name_array<'a>(names: *const *const c_char, count: usize) -> Result<Vec<&'a str>> {
    nonnull_arrays(count, &[("names", names.is_null())])?;
    if count == 0 {
        return Ok(Vec::new());
    }
    // SAFETY: non-NULL, and the caller promises `count` readable pointers.
    let names = unsafe { std::slice::from_raw_parts(names, count) };
    names
        .iter()
        .enumerate()
        // SAFETY: each pointer is NULL or a NUL-terminated string, per the contract.
        .map(|(i, name)| unsafe { text(*name, &format!("names[{i}]")) })
        .collect()
}

/// `InvalidArgument` naming the first of `arrays` that is NULL while `count` is not 0.
fn nonnull_arrays(count: usize, arrays: &[(&str, bool)]) -> Result<()> {
    match arrays.iter().find(|(_, null)| *null) {
        Some((what, _)) if count > 0 => Err(Error::new(
            ErrorKind::InvalidArgument,
            format!("invalid {what}: NULL pointer with count {count}"),
        )),
        _ => Ok(()),
    }
}
