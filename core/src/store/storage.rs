//! The narrow interface between the rules and the storage behind them ([`Storage`]), whose one
//! implementation is the journal file (`journal/`); the names of the files beside a registry;
//! the lock timeout; and [`Policy`], the host's ownership rules handed down as a value.

use std::path::{Path, PathBuf};
use std::time::Duration;

use crate::error::Result;
use crate::store::model::Data;
use crate::validate::{lock_timeout_error, lock_timeout_from_secs};

/// How the files of one registry are to be owned, and what to say when the host refuses: the
/// host's policy, decided above the store (by where the registry's path came from) and handed
/// to it as a value, so that the store knows nothing of how the host is set up.
#[derive(Clone, Copy, Debug)]
pub(crate) struct Policy {
    /// The mode of a registry file the store creates.
    pub(crate) file_mode: u32,
    /// The mode of a registry directory the store creates.
    pub(crate) dir_mode: u32,
    /// For a registry that must exist (the host's): what the error of a missing file says to
    /// do, asked when the file is found missing. `None`: a missing file is the empty registry.
    pub(crate) missing: Option<fn() -> String>,
    /// For a change refused on a file its group may write: what the error says after the
    /// path, given the file's group id (who may change it and how to join them).
    pub(crate) group_refusal: fn(u32) -> String,
}

impl Policy {
    /// Files anyone may read, only their owner write, and no word about accounts: for the
    /// store's own tests.
    #[cfg(test)]
    pub(crate) fn scratch() -> Policy {
        Policy {
            file_mode: 0o644,
            dir_mode: 0o755,
            missing: None,
            group_refusal: |gid| format!("only its owner and members of group {gid} may change it"),
        }
    }
}

/// The compaction spare beside the registry, `.<name>.spare`: a file `portpool init` creates
/// with the registry's owner, group and mode, so that a writer who is not the registry's owner
/// (a member of the host registry's group) can compact it by writing the spare and exchanging
/// the two names, and both files keep their owner.
pub(crate) fn spare_path_for(path: &Path) -> PathBuf {
    let mut name = std::ffi::OsString::from(".");
    name.push(path.file_name().unwrap_or_default());
    name.push(".spare");
    path.with_file_name(name)
}

/// The file name of the registry's lock file, beside the registry.
pub(crate) fn lock_path_for(path: &Path) -> PathBuf {
    let mut name = path.file_name().unwrap_or_default().to_os_string();
    name.push(".lock");
    path.with_file_name(name)
}

/// What the rules need from wherever the registry lives, and all they may assume.
///
/// - `read_with` runs its closure once on the registry as it is now: every change that
///   returned before the call began is in it.
/// - `update_with` runs its closure once, with no other update anywhere running, on the
///   registry as it is now. When the closure returns `Ok(true)`, what it changed is stored
///   before `update_with` returns (durably, when the change requires it); on `Ok(false)` or
///   an error, nothing is stored and the registry stays as it was, whatever the closure did
///   to its argument.
///
/// The closures are `FnMut` so that the interface is object safe; each is called once.
pub(crate) trait Storage: Send + Sync {
    /// The file (or other name) of this registry, for messages.
    fn path(&self) -> &Path;
    fn read_with(&self, f: &mut dyn FnMut(&Data)) -> Result<()>;
    fn update_with(&self, f: &mut dyn FnMut(&mut Data) -> Result<bool>) -> Result<()>;
    /// Replaces the registry with the empty one, durably, with no other update running. Unlike
    /// `update_with`, it does not need the stored registry to read back: one of any version
    /// portpool writes is emptied even when its entries are invalid. Anything else (another
    /// format, a newer version, not a registry) is refused and left as it is.
    fn reset(&self) -> Result<()>;
}

/// How long a call waits for another process's lock before it fails with `Busy`, unless the
/// handle or `$PORTPOOL_LOCK_TIMEOUT` says otherwise.
pub const DEFAULT_LOCK_TIMEOUT: Duration = Duration::from_secs(10);

/// Reads a lock timeout given in seconds (`"10"`, `"0.5"`, `"0"` for no wait at all), as
/// `$PORTPOOL_LOCK_TIMEOUT` and `portpool --wait` take it. Anything else, negative or over a
/// year is `InvalidArgument` ([`lock_timeout_from_secs`]'s rule).
pub fn parse_lock_timeout(text: &str) -> Result<Duration> {
    match text.trim().parse::<f64>() {
        Ok(secs) => lock_timeout_from_secs(secs).map_err(|_| lock_timeout_error(text)),
        Err(_) => Err(lock_timeout_error(text)),
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn the_lock_file_sits_beside_the_registry() {
        assert_eq!(
            lock_path_for(Path::new("/a/b/registry.json")),
            Path::new("/a/b/registry.json.lock")
        );
    }

    #[test]
    fn lock_timeouts_are_seconds_from_zero_to_a_year() {
        assert_eq!(parse_lock_timeout("10").unwrap(), Duration::from_secs(10));
        assert_eq!(
            parse_lock_timeout(" 0.25 ").unwrap(),
            Duration::from_millis(250)
        );
        assert_eq!(parse_lock_timeout("0").unwrap(), Duration::ZERO);
        for bad in ["", "-1", "abc", "inf", "NaN", "1e12", "10s"] {
            assert_eq!(
                parse_lock_timeout(bad).unwrap_err().kind(),
                crate::ErrorKind::InvalidArgument,
                "{bad}"
            );
        }
    }
}
