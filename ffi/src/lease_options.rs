// Code generated from core's LeaseOptions and tests/parity/options.tsv by cli/tests/parity/gen_ffi.rs; DO NOT EDIT.
// PORTPOOL_BLESS=1 cargo test -p portpool-cli --test parity regenerates it; each kind's
// converter is written once, in args.rs.

use std::ffi::c_char;

use portpool_core::{LeaseOptions, Result};

use crate::args::flag;
use crate::args::optional_host;
use crate::args::optional_pid;
use crate::args::optional_range;
use crate::args::optional_ttl;
use crate::args::ports;
use crate::args::protocol;
use crate::args::sized;
use crate::types::portpool_protocol;

/// Options of a new lease, for `portpool_register_ex`, `portpool_register_ports`,
/// `portpool_allocate_ex`, `portpool_allocate_many`, `portpool_lease_open` and `portpool_listen`.
///
/// `portpool_lease_options opts = PORTPOOL_LEASE_OPTIONS_INIT;` (its size, every other field
/// zero) is the default: a permanent TCP lease, not forced, with no owner, no excluded ports,
/// no range, probed on the wildcards. Passing NULL instead of a struct means the same.
/// **Owner:** the caller; the library only reads it during the call.
#[repr(C)]
#[derive(Clone, Copy, Debug)]
pub struct portpool_lease_options {
    /// `sizeof` this struct as the caller compiled it: set it with `PORTPOOL_LEASE_OPTIONS_INIT` (or
    /// `sizeof(portpool_lease_options)`). A size smaller than any header ever gave, or over
    /// 4096, is `PORTPOOL_INVALID_ARGUMENT`; a larger one than this library's (a newer header)
    /// is read when the fields this library does not know are zero.
    pub struct_size: usize,
    /// TCP (the default), UDP, or `tcp+udp`: one port number held for both. `PORTPOOL_PROTOCOL_TCP`
    /// (0), `PORTPOOL_PROTOCOL_UDP` or `PORTPOOL_PROTOCOL_TCP_UDP`.
    pub protocol: portpool_protocol,
    /// Take the port even when a process outside the registry has it bound (a fixed-mode
    /// `portpool_register_ex` only; a port leased to another name is never taken), and return the
    /// port of a name whose live lease another user made, as every call of a handle opened with
    /// force does.
    pub force: bool,
    /// The process that owns the lease: once it exits, the lease is stale and is reclaimed. 0 means
    /// none; a pid that is negative, larger than any `pid_t` or names no running process is
    /// `PORTPOOL_INVALID_ARGUMENT`.
    pub pid: i64,
    /// Seconds the lease lives unless renewed. 0 means none; negative or over 100 years is
    /// `PORTPOOL_INVALID_ARGUMENT`.
    pub ttl: i64,
    /// Ports never handed out, even when preferred or next in the pool. `n_exclude` of them (NULL
    /// when `n_exclude` is 0).
    pub exclude: *const u16,
    /// How many ports `exclude` holds.
    pub n_exclude: usize,
    /// After the preferred ports, the ports of this range in order (inclusive), in either mode.
    /// Only with preferred ports: a pool has its own range, so `portpool_allocate_ex` refuses one.
    /// The ports `range_start`..=`range_end` (both 0: none).
    pub range_start: u16,
    /// The last port of the range (inclusive).
    pub range_end: u16,
    /// Probe candidates on this one address instead of the IPv4 and IPv6 wildcards: a port bound on
    /// another address may then be handed out, and is good only for a server bound to this one.
    /// `portpool_listen` also binds there unless its listen options name an address. A
    /// NUL-terminated IP address, e.g. `"127.0.0.1"`; NULL means none.
    pub host: *const c_char,
    /// Probe candidates as this process will bind them, for a lease whose holder is the caller
    /// itself (as get-port's is): a port it may not bind, such as a privileged port for an
    /// unprivileged process, is unavailable. Off (the default), such a port is judged by the
    /// kernel's socket tables, as a lease may be for a privileged service.
    pub bindable: bool,
}

/// Where the last field of `portpool_lease_options` ends (`Growable::END`): a caller's bytes
/// after it, a newer header's fields or tail padding, must be zero.
pub(crate) const LEASE_OPTIONS_END: usize =
    std::mem::offset_of!(portpool_lease_options, bindable) + size_of::<bool>();

/// Lease options; NULL gives the defaults. Zero fields mean "none".
///
/// # Safety
/// `ptr` is NULL or points to a readable `portpool_lease_options` of `struct_size` bytes whose
/// pointers are as its fields say.
pub(crate) unsafe fn lease_options(ptr: *const portpool_lease_options) -> Result<LeaseOptions> {
    if ptr.is_null() {
        return Ok(LeaseOptions::default());
    }
    // SAFETY: forwarded from this function's contract.
    let copy = unsafe { sized(ptr, "options")? };
    let c = copy.as_ptr();
    macro_rules! field {
        ($name:ident) => {
            (&raw const (*c).$name).read()
        };
    }
    // SAFETY: `copy` is a whole struct, the fields the caller's header lacks zeroed. Each field
    // is read through a raw pointer and is valid with any bits, but flags, which `flag` reads
    // as bytes; the pointers are as this function's contract says.
    unsafe {
        Ok(LeaseOptions {
            protocol: protocol(field!(protocol))?,
            force: flag(&raw const (*c).force),
            pid: optional_pid(field!(pid))?,
            ttl: optional_ttl(field!(ttl))?,
            exclude: ports(field!(exclude), field!(n_exclude), "options.exclude")?,
            range: optional_range((field!(range_start), field!(range_end))),
            host: optional_host(field!(host), "options.host")?,
            bindable: flag(&raw const (*c).bindable),
        })
    }
}
