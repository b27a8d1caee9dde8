//! The storage layer: where a registry's bytes live and how they change, below the rules and
//! knowing nothing of them. It holds the values (`model`), their encoding (`format`, with
//! the version-1 reader in `v1`), the journal file that stores them (`journal`, split by
//! concern), the narrow interface the rules use (`storage`'s [`Storage`] trait) and the handle
//! over it (`handle`'s [`Store`]).
//!
//! Nothing here imports `Registry`, the rules or the host's setup: what the host wants of a
//! registry's files (modes, what a missing file means, how a refusal reads) comes in as a
//! [`Policy`] value. `tests/layers.rs` fails on any import that runs back up.

pub(crate) mod format;
pub(crate) mod handle;
pub(crate) mod journal;
pub(crate) mod model;
pub(crate) mod storage;
pub(crate) mod v1;

pub(crate) use handle::{Hook, Store};
pub use journal::RepairReport;
pub(crate) use storage::Policy;
pub use storage::{DEFAULT_LOCK_TIMEOUT, parse_lock_timeout};
