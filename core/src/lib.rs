//! portpool's core: one port registry per host, shared by every process and language.
//!
//! A [`Registry`] is a JSON Lines file (format in `docs/registry-format.md`) that records which
//! name holds which (port, protocol). Every binding — the `portpool` command line, the C ABI and
//! Go package, the Python and Node packages — is a thin layer over this crate: it converts its
//! language's values, calls one function here, and maps [`ErrorKind`].
//!
//! ```no_run
//! use portpool_core::{LeaseOptions, Mode, Registry};
//!
//! let reg = Registry::open(None)?;
//! let web = reg.register("web", 8080, Mode::Flexible, &LeaseOptions::default())?;
//! let worker = reg.allocate("worker-1", "default", &LeaseOptions::default())?;
//! assert_ne!(web, worker);
//! reg.release("worker-1")?;
//! # Ok::<(), portpool_core::Error>(())
//! ```
//!
//! A server that binds its port itself leaves a gap between the lease and the bind, in which
//! a process outside the registry may take the port. [`Registry::listen`] closes it: the
//! port is bound under the registry's lock, then leased, and the socket is the caller's.
//!
//! ```no_run
//! use portpool_core::{Choice, LeaseOptions, ListenOptions, Registry};
//!
//! let reg = Registry::open(None)?;
//! let bound = reg.listen("api", &Choice::Pool(None), &LeaseOptions::default(),
//!                        &ListenOptions::default())?;
//! let listener = std::net::TcpListener::from(bound.fd); // listening on bound.port
//! # Ok::<(), portpool_core::Error>(())
//! ```

mod account;
mod allocation;
mod choose;
mod error;
mod handover;
mod host;
mod import;
mod inspect;
mod listen;
mod notice;
mod owner;
mod ownership;
mod paths;
mod probe;
mod registry;
mod reserved;
mod scoped;
mod sockets;
mod spelled;
mod store;
mod sys;
mod validate;
mod wait;

pub use account::group_name;
pub use choose::{FindOptions, Ports, find_free_ports, is_free_at};
pub use error::{Error, ErrorKind, Result};
pub use handover::{Ending, Handover, HandoverOptions};
pub use host::{InitReport, group_id, init_host};
pub use host::{reserve, reserve_check};
pub use import::ImportReport;
pub use inspect::{
    DoctorReport, Finding, FindingKind, HANDOVER_PENDING_LIMIT, Severity, Who, ephemeral_overlap,
};
pub use listen::{Bound, ListenOptions};
pub use notice::take_warnings;
pub use owner::{is_alive, may_claim, owner_of, real_uid, unnamed_lease_name};
pub use paths::{HOST_REGISTRY, PathSource, resolve_path, user_registry};
pub use registry::{Grant, LeaseOptions, PoolChange, PortState, Reclaimed, Registry};
pub use reserved::{
    RESERVED_PORTS, Reservation, kernel_reserved, parse_port_list, port_list, record_path,
};
pub use scoped::{Choice, ScopedLease};
pub use sockets::{Process, Socket, ephemeral_range, server_sockets};
pub use store::format::parse_registry;
pub use store::model::{
    DEFAULT_POOL, DEFAULT_POOL_END, DEFAULT_POOL_START, FORMAT_VERSION, Lease, MAX_TIME, Mode,
    Next, Origin, Owner, Pool, Protocol, leases_to_json, pools_to_json,
};
pub use store::{DEFAULT_LOCK_TIMEOUT, RepairReport, parse_lock_timeout};
pub use validate::{
    DEFAULT_BACKLOG, MAX_NAME_BYTES, MAX_TTL_SECS, backlog_from_i64, check_name, check_port,
    check_ttl, count_from_i64, integer_out_of_range, lock_timeout_from_secs, not_an_integer,
    parse_host, parse_port, pid_from_i64, port_from_i64, shown, ticket_from_i64, ttl_from_i64,
};
pub use wait::{Wait, with_wait};

/// The version of portpool, the same for every package built from this workspace.
pub const VERSION: &str = env!("CARGO_PKG_VERSION");
