//! The types and constants of the C ABI.

use std::ffi::c_char;

use portpool_core::{Registry, ScopedLease};

pub use crate::lease_options::portpool_lease_options;

/// The version of this C ABI. It changes whenever a type, constant or function of
/// `portpool.h` changes, a struct's size included; compare it with `portpool_abi_version()`
/// to know which library was loaded at run time. A struct passed in leads with its size
/// (`struct_size`), so a library reads a struct of the size any header since version 4 gave
/// it: fields a caller's older header lacks take their defaults, and fields this library
/// does not know yet must be zero.
pub const PORTPOOL_ABI_VERSION: u32 = 6;

/// A handle on one registry file.
///
/// **Owner:** the caller, from `portpool_open` until `portpool_close`.
/// **Threads:** one handle may be used from any number of threads at once, and may be closed
/// from a thread other than the one that opened it; it must not be used during or after
/// `portpool_close`. Any number of handles, in any number of processes and languages, may use
/// one registry file at once: each call locks the file for its own duration only.
pub struct portpool_registry {
    pub(crate) inner: Registry,
}

/// A lease for one scope of the calling process, from `portpool_lease_open`: its port is the
/// caller's until `portpool_lease_close` releases it.
///
/// **Owner:** the caller, from `portpool_lease_open` until `portpool_lease_close` (which
/// releases the lease, then frees the handle) or `portpool_lease_free` (which only frees it).
/// **Lifetime:** independent of the registry handle it came from; closing needs a registry
/// handle on the same file. The lease itself lives in the registry: freeing the handle, or
/// the process's exit, does not release it (the owner's exit makes it stale, so the next
/// allocation or `portpool_gc` reclaims it).
/// **Threads:** may be used from any thread, and read (`portpool_lease_port`) from several
/// at once; it must not be used during or after `portpool_lease_close` or
/// `portpool_lease_free`. After `fork`, the child's copy never releases the parent's lease.
pub struct portpool_lease {
    pub(crate) inner: ScopedLease,
}

const _: () = {
    const fn shared_between_threads<T: Send + Sync>() {}
    shared_between_threads::<portpool_registry>();
    shared_between_threads::<portpool_lease>();
};

/// How `portpool_register` picks a port: one of the `PORTPOOL_MODE_*` constants. An integer
/// rather than an enum, so that an out-of-range value is reported, never undefined.
pub type portpool_mode = u32;
/// The preferred port, or the next free one above it.
pub const PORTPOOL_MODE_FLEXIBLE: portpool_mode = 0;
/// Exactly the requested port, or `PORTPOOL_CONFLICT`.
pub const PORTPOOL_MODE_FIXED: portpool_mode = 1;
/// The mode of leases made by `portpool_allocate`, as it appears in lease JSON
/// (`"mode": "pool"`). `portpool_register` rejects it with `PORTPOOL_INVALID_ARGUMENT`.
pub const PORTPOOL_MODE_POOL: portpool_mode = 2;

/// A transport protocol: one of the `PORTPOOL_PROTOCOL_*` constants. A lease holds its port
/// for TCP, for UDP, or for both: a UDP lease never blocks a TCP lease of the same port, while
/// a `PORTPOOL_PROTOCOL_TCP_UDP` lease blocks (and is blocked by) either.
pub type portpool_protocol = u32;
/// TCP (the default: the value of a zeroed field).
pub const PORTPOOL_PROTOCOL_TCP: portpool_protocol = 0;
/// UDP.
pub const PORTPOOL_PROTOCOL_UDP: portpool_protocol = 1;
/// One port number for TCP and UDP at once (`"tcp+udp"` in JSON): leased for both, and free
/// only when both a TCP and a UDP socket could bind it. Since ABI 5 (a library of ABI 4
/// refuses it with `PORTPOOL_INVALID_ARGUMENT`). `portpool_listen` refuses it: one socket is
/// one protocol.
pub const PORTPOOL_PROTOCOL_TCP_UDP: portpool_protocol = 2;

/// Whether `portpool_allocate` bind-probes a pool's candidate ports: one of the
/// `PORTPOOL_PROBE_*` constants, given to `portpool_set_pool`.
pub type portpool_probe = u32;
/// A new pool probes; an existing pool keeps its setting.
pub const PORTPOOL_PROBE_DEFAULT: portpool_probe = 2;
/// Do not probe: suits a range reserved for portpool.
pub const PORTPOOL_PROBE_OFF: portpool_probe = 0;
/// Probe, skipping ports bound by processes outside the registry.
pub const PORTPOOL_PROBE_ON: portpool_probe = 1;

/// What `portpool_find_free_ex` looks for. `PORTPOOL_FIND_OPTIONS_INIT` (its size, every
/// other field zero), or NULL instead of a struct, is a TCP port the kernel picks, probed on
/// the wildcard addresses.
///
/// **Owner:** the caller; the library only reads it (and what it points to) during the call.
#[repr(C)]
#[derive(Clone, Copy, Debug)]
pub struct portpool_find_options {
    /// `sizeof` this struct as the caller compiled it: set it with `PORTPOOL_FIND_OPTIONS_INIT` (or
    /// `sizeof(portpool_find_options)`). A size smaller than any header ever gave, or over
    /// 4096, is `PORTPOOL_INVALID_ARGUMENT`; a larger one than this library's (a newer header)
    /// is read when the fields this library does not know are zero.
    pub struct_size: usize,
    /// `PORTPOOL_PROTOCOL_TCP` (0), `PORTPOOL_PROTOCOL_UDP` or `PORTPOOL_PROTOCOL_TCP_UDP`.
    pub protocol: portpool_protocol,
    /// Ports to try first, in order: `n_ports` of them (NULL when `n_ports` is 0).
    pub ports: *const u16,
    /// How many ports `ports` holds.
    pub n_ports: usize,
    /// Then the ports `range_start`..=`range_end`, in order (both 0: no range; then the
    /// kernel picks).
    pub range_start: u16,
    /// The last port of the range (inclusive).
    pub range_end: u16,
    /// Ports never returned: `n_exclude` of them (NULL when `n_exclude` is 0).
    pub exclude: *const u16,
    /// How many ports `exclude` holds.
    pub n_exclude: usize,
    /// Probe this one address instead of the wildcards; NULL: the wildcards.
    pub host: *const c_char,
}

/// How `portpool_listen` binds. `PORTPOOL_LISTEN_OPTIONS_INIT` (its size, every other field
/// zero), or NULL instead of a struct, binds the wildcard address with the kernel's backlog
/// (`net.core.somaxconn`).
///
/// **Owner:** the caller; the library only reads it during the call.
#[repr(C)]
#[derive(Clone, Copy, Debug)]
pub struct portpool_listen_options {
    /// `sizeof` this struct as the caller compiled it: set it with `PORTPOOL_LISTEN_OPTIONS_INIT` (or
    /// `sizeof(portpool_listen_options)`). A size smaller than any header ever gave, or over
    /// 4096, is `PORTPOOL_INVALID_ARGUMENT`; a larger one than this library's (a newer header)
    /// is read when the fields this library does not know are zero.
    pub struct_size: usize,
    /// The address to bind, e.g. `"127.0.0.1"`; NULL: `options->host` if given, else the IPv6
    /// wildcard in dual-stack mode where the host has IPv6, else 0.0.0.0.
    pub host: *const c_char,
    /// TCP only: the queue of connections not yet accepted (0: the kernel's `somaxconn`); 0
    /// to 2147483647, checked by the library.
    pub backlog: i64,
}

/// How `portpool_lease_open` chooses a port: the next free port of a pool, or the first of a
/// list of ports that a mode allows. `PORTPOOL_CHOICE_INIT` (its size, every other field
/// zero), or NULL instead of a struct, means the next free port of the default pool.
///
/// **Owner:** the caller; the library only reads it (and the strings and arrays it points to)
/// during the call.
#[repr(C)]
#[derive(Clone, Copy, Debug)]
pub struct portpool_choice {
    /// `sizeof` this struct as the caller compiled it: set it with `PORTPOOL_CHOICE_INIT` (or
    /// `sizeof(portpool_choice)`). A size smaller than any header ever gave, or over
    /// 4096, is `PORTPOOL_INVALID_ARGUMENT`; a larger one than this library's (a newer header)
    /// is read when the fields this library does not know are zero.
    pub struct_size: usize,
    /// The pool to take the next free port of (NULL: the default pool). Only when `n_ports`
    /// is 0: giving both a pool and ports is `PORTPOOL_INVALID_ARGUMENT`.
    pub pool: *const c_char,
    /// The preferred ports, in order: `n_ports` of them (NULL when `n_ports` is 0).
    pub ports: *const u16,
    /// How many ports `ports` holds; 0: take the port from `pool`.
    pub n_ports: usize,
    /// How `ports` are taken: `PORTPOOL_MODE_FLEXIBLE` (0) or `PORTPOOL_MODE_FIXED`.
    pub mode: portpool_mode,
}

/// What `portpool_check` found on a port.
#[repr(C)]
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum portpool_port_state {
    /// Neither leased nor bound: register or allocate could hand it out now.
    PORTPOOL_PORT_FREE = 0,
    /// Leased to a live holder.
    PORTPOOL_PORT_LEASED = 1,
    /// Not leased, but bound by a process outside the registry.
    PORTPOOL_PORT_BUSY = 2,
}

/// A struct the caller passes in by pointer, leading with its size (`struct_size`), so that
/// fields can be added at its end without breaking programs built against an older header.
pub(crate) trait Growable: Copy {
    /// The struct's C name, for messages.
    const NAME: &'static str;
    /// Its size in ABI 4, the first with `struct_size`: the end of its last field then. A
    /// library reads any size from this one up.
    const FIRST_SIZE: usize;
    /// Where its last field ends in this library. A caller's bytes from here to its
    /// `struct_size` (a newer header's fields, or this header's tail padding) must be zero:
    /// a field added at the end is never ignored silently, even one that fits in the padding
    /// and leaves the size alone.
    const END: usize;
}

impl Growable for portpool_lease_options {
    const NAME: &'static str = "portpool_lease_options";
    const FIRST_SIZE: usize =
        std::mem::offset_of!(portpool_lease_options, bindable) + size_of::<bool>();
    const END: usize = crate::lease_options::LEASE_OPTIONS_END;
}

impl Growable for portpool_find_options {
    const NAME: &'static str = "portpool_find_options";
    const FIRST_SIZE: usize =
        std::mem::offset_of!(portpool_find_options, host) + size_of::<*const c_char>();
    const END: usize =
        std::mem::offset_of!(portpool_find_options, host) + size_of::<*const c_char>();
}

impl Growable for portpool_listen_options {
    const NAME: &'static str = "portpool_listen_options";
    const FIRST_SIZE: usize =
        std::mem::offset_of!(portpool_listen_options, backlog) + size_of::<u32>();
    const END: usize = std::mem::offset_of!(portpool_listen_options, backlog) + size_of::<i64>();
}

impl Growable for portpool_choice {
    const NAME: &'static str = "portpool_choice";
    const FIRST_SIZE: usize =
        std::mem::offset_of!(portpool_choice, mode) + size_of::<portpool_mode>();
    const END: usize = std::mem::offset_of!(portpool_choice, mode) + size_of::<portpool_mode>();
}

#[cfg(all(test, target_pointer_width = "64"))]
mod tests {
    use super::*;

    /// Each `repr(C)` type of `portpool.h`, its size at every ABI version that changed it
    /// (64-bit targets), oldest first. A field added to a struct changes its size: bump
    /// `PORTPOOL_ABI_VERSION` and add a row with the new version, keeping the old ones (the
    /// library still reads structs of those sizes, from `Growable::FIRST_SIZE` up).
    const SIZES: &[(&str, u32, usize)] = &[
        ("portpool_lease_options", 4, 72),
        ("portpool_find_options", 4, 64),
        ("portpool_listen_options", 4, 24),
        ("portpool_choice", 4, 40),
        ("portpool_status", 1, 4),
        ("portpool_port_state", 1, 4),
    ];

    /// Where the last field of each struct read by its `struct_size` ends, at every ABI version
    /// that moved it (64-bit targets), oldest first. A field added at the end moves it even when
    /// it fits in the struct's tail padding and leaves the size alone (a `bool` after
    /// `bindable`, say): bump `PORTPOOL_ABI_VERSION` and add a row with the new version, as
    /// for SIZES. (ABI 5 made `backlog` 64 bits wide within the same size.)
    const ENDS: &[(&str, u32, usize)] = &[
        ("portpool_lease_options", 4, 65),
        ("portpool_find_options", 4, 64),
        ("portpool_listen_options", 4, 20),
        ("portpool_listen_options", 5, 24),
        ("portpool_choice", 4, 36),
    ];

    /// The ABI versions that changed no size, and what they added.
    const ADDITIONS: &[(u32, &str)] = &[
        (5, "PORTPOOL_PROTOCOL_TCP_UDP"),
        (6, "portpool_is_free_at, portpool_take_warnings_json"),
    ];

    fn size_now(name: &str) -> usize {
        match name {
            "portpool_lease_options" => size_of::<portpool_lease_options>(),
            "portpool_find_options" => size_of::<portpool_find_options>(),
            "portpool_listen_options" => size_of::<portpool_listen_options>(),
            "portpool_choice" => size_of::<portpool_choice>(),
            "portpool_status" => size_of::<crate::portpool_status>(),
            "portpool_port_state" => size_of::<portpool_port_state>(),
            other => panic!("{other} has no size in this test: add it to SIZES and size_now"),
        }
    }

    /// The last row of `name`: its size and the ABI version that gave it.
    fn latest(name: &str) -> Option<(u32, usize)> {
        SIZES
            .iter()
            .rev()
            .find(|(n, ..)| *n == name)
            .map(|(_, abi, size)| (*abi, *size))
    }

    /// The C names of every struct and enum the committed header defines (not the opaque
    /// handles, which it only declares).
    fn repr_c_types_of_the_header() -> Vec<String> {
        let header = include_str!("../../include/portpool.h");
        header
            .lines()
            .filter_map(|l| {
                let rest = l
                    .strip_prefix("typedef struct ")
                    .or_else(|| l.strip_prefix("typedef enum "))?;
                Some(rest.strip_suffix(" {")?.to_owned())
            })
            .collect()
    }

    #[test]
    fn every_repr_c_size_is_pinned_to_the_abi_version_that_gave_it() {
        let types = repr_c_types_of_the_header();
        assert!(types.len() >= 6, "found only {types:?} in portpool.h");
        for name in &types {
            let Some((abi, size)) = latest(name) else {
                panic!("{name} is in portpool.h but not in SIZES: add its size and ABI version");
            };
            assert_eq!(
                size_now(name),
                size,
                "{name} changed size: bump PORTPOOL_ABI_VERSION and add a row for it to SIZES"
            );
            assert!(
                abi <= PORTPOOL_ABI_VERSION,
                "{name}'s size is of ABI {abi}, after PORTPOOL_ABI_VERSION {PORTPOOL_ABI_VERSION}"
            );
        }
        let sizes = SIZES.iter().chain(ENDS).map(|(_, abi, _)| *abi);
        let newest = sizes.chain(ADDITIONS.iter().map(|(abi, _)| *abi)).max();
        assert_eq!(
            newest,
            Some(PORTPOOL_ABI_VERSION),
            "PORTPOOL_ABI_VERSION changed with no size, end or addition that says why: add the rows of its change"
        );
    }

    #[test]
    fn a_growable_struct_is_read_from_its_first_size_up() {
        fn first<T: Growable>() -> (&'static str, usize) {
            (T::NAME, T::FIRST_SIZE)
        }
        for (name, first_size) in [
            first::<portpool_lease_options>(),
            first::<portpool_find_options>(),
            first::<portpool_listen_options>(),
            first::<portpool_choice>(),
        ] {
            let oldest = SIZES.iter().find(|(n, ..)| *n == name).map(|r| r.2);
            // FIRST_SIZE is where the last field of ABI 4 ends; the size rounds it up.
            let rounded = first_size.next_multiple_of(align_of::<usize>());
            assert_eq!(Some(rounded), oldest, "{name}");
        }
    }

    /// Each struct read by its `struct_size`: its name, `FIRST_SIZE` and `END`.
    fn growables() -> [(&'static str, usize, usize); 4] {
        fn of<T: Growable>() -> (&'static str, usize, usize) {
            (T::NAME, T::FIRST_SIZE, T::END)
        }
        [
            of::<portpool_lease_options>(),
            of::<portpool_find_options>(),
            of::<portpool_listen_options>(),
            of::<portpool_choice>(),
        ]
    }

    #[test]
    fn every_growable_structs_last_field_is_pinned_to_the_abi_version_that_gave_it() {
        for (name, first_size, end) in growables() {
            let rows: Vec<_> = ENDS.iter().filter(|(n, ..)| *n == name).collect();
            let (Some(oldest), Some(latest)) = (rows.first(), rows.last()) else {
                panic!("{name} is not in ENDS: add where its last field ends and the ABI version");
            };
            assert_eq!(
                (oldest.1, oldest.2),
                (4, first_size),
                "{name}: FIRST_SIZE is where its last field of ABI 4 ended"
            );
            assert_eq!(
                latest.2, end,
                "{name}'s last field moved: bump PORTPOOL_ABI_VERSION and add a row for it to ENDS"
            );
            assert!(
                latest.1 <= PORTPOOL_ABI_VERSION,
                "{name}'s end is of ABI {}, after PORTPOOL_ABI_VERSION {PORTPOOL_ABI_VERSION}",
                latest.1
            );
        }
    }
}
