//! Where the registry lives: its path, and the narrow interface between the rules and the
//! storage behind them ([`Storage`]), whose one implementation is the journal file
//! ([`Journal`], in `journal.rs`).

use std::path::{Path, PathBuf};
use std::time::Duration;

use crate::error::{Error, Result};
use crate::journal::Journal;
use crate::model::Data;
use crate::paths::PathSource;
use crate::registry::Registry;
use crate::validate::{lock_timeout_error, lock_timeout_from_secs};

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

/// The storage of one registry handle, with the closure-taking calls the rules use.
pub(crate) struct Store {
    backend: Journal,
    /// The host registry: its directory decides that it is the registry for every user, so a
    /// missing file is an error, never an empty registry (nor a new file with the wrong owner).
    required: bool,
}

impl Store {
    pub(crate) fn new(path: PathBuf, source: PathSource) -> Store {
        let (file_mode, dir_mode) = match source {
            PathSource::User => (0o600, 0o700),
            _ => (0o644, 0o755),
        };
        Store {
            backend: Journal::new(path, file_mode, dir_mode),
            required: source == PathSource::Host,
        }
    }

    /// For the host registry: `Registry` error when the file is missing, saying what to do.
    fn check_present(&self) -> Result<()> {
        let path = self.path();
        if !self.required || std::fs::symlink_metadata(path).is_ok() {
            return Ok(());
        }
        // SAFETY: geteuid has no preconditions and cannot fail.
        let what = if unsafe { libc::geteuid() } == 0 {
            crate::host::REPAIR_HINT
        } else {
            "ask root to run 'sudo portpool repair'"
        };
        Err(Error::registry(
            path,
            format!(
                "is missing: portpool init set up its directory, so it is the registry of every user and no other is used; {what}"
            ),
        ))
    }

    pub(crate) fn path(&self) -> &Path {
        self.backend.path()
    }

    pub(crate) fn journal(&self) -> &Journal {
        &self.backend
    }

    /// Runs `f` on the current registry. Never creates a file: a missing registry reads as
    /// the empty one.
    pub(crate) fn read<T>(&self, f: impl FnOnce(&Data) -> T) -> Result<T> {
        self.check_present()?;
        let mut f = Some(f);
        let mut out = None;
        self.backend.read_with(&mut |data| {
            out = f.take().map(|f| f(data));
        })?;
        Ok(out.expect("read_with calls its closure once"))
    }

    /// Rewrites a damaged registry from what reads back (see [`Registry::repair`]).
    pub(crate) fn repair(&self) -> Result<crate::journal::RepairReport> {
        self.backend.repair()
    }

    /// (change lines, snapshot lines) when the file is not being compacted.
    pub(crate) fn overgrown(&self) -> Result<Option<(u64, u64)>> {
        self.backend.overgrown()
    }

    /// Empties the registry, whatever its entries hold (see [`Storage::reset`]).
    pub(crate) fn reset(&self) -> Result<()> {
        self.check_present()?;
        self.backend.reset()
    }

    /// Runs `f` on the registry with no other update running and, when it reports a change,
    /// stores the result. `f` decides before it mutates: when it returns an error, nothing
    /// is written.
    pub(crate) fn update<T>(&self, f: impl FnOnce(&mut Data) -> Result<(T, bool)>) -> Result<T> {
        self.check_present()?;
        let mut f = Some(f);
        let mut out = None;
        self.backend.update_with(&mut |data| {
            let (value, changed) = (f.take().expect("called once"))(data)?;
            out = Some(value);
            Ok(changed)
        })?;
        Ok(out.expect("update_with calls its closure once"))
    }
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

impl Registry {
    /// This handle, waiting at most `timeout` for another process's lock before a call that
    /// changes the registry fails with `Busy` (zero: fail at once when the lock is held).
    /// Reads never wait: they take no lock.
    pub fn with_lock_timeout(self, timeout: Duration) -> Registry {
        self.set_lock_timeout(timeout);
        self
    }

    /// Changes how long calls on this handle wait for the lock, as
    /// [`with_lock_timeout`](Self::with_lock_timeout), for every thread using it.
    pub fn set_lock_timeout(&self, timeout: Duration) {
        self.store.journal().set_lock_timeout(timeout);
    }

    /// How long calls on this handle wait for the lock: 10 s unless set by
    /// [`set_lock_timeout`](Self::set_lock_timeout) or, for [`open`](Self::open),
    /// `$PORTPOOL_LOCK_TIMEOUT`.
    pub fn lock_timeout(&self) -> Duration {
        self.store.journal().lock_timeout()
    }

    /// Brings a damaged registry back: keeps every line of it that reads back, moves the
    /// damaged file aside as `NAME.damaged-SECONDS` (never deleting it), rewrites the registry
    /// from what was kept with the owner, group and mode its directory gives it, and moves
    /// aside whatever else is at the registry's, the lock's or the spare's name that is not a
    /// plain file of the directory's owner (a FIFO, a directory, another user's file, a file
    /// with more than one link). Reports what it kept, exactly what it could not keep, and
    /// what it moved. A registry that reads back is left as it is. Run as root on the host
    /// registry, as its directory's owner elsewhere; a newer version's file is refused.
    pub fn repair(&self) -> Result<crate::journal::RepairReport> {
        self.store.repair()
    }

    /// Applies `$PORTPOOL_LOCK_TIMEOUT` (seconds) when it is set and not empty.
    pub(crate) fn with_env_lock_timeout(self) -> Result<Registry> {
        match std::env::var("PORTPOOL_LOCK_TIMEOUT") {
            Ok(text) if !text.trim().is_empty() => {
                let timeout = parse_lock_timeout(&text).map_err(|_| {
                    Error::invalid(format!(
                        "invalid $PORTPOOL_LOCK_TIMEOUT {text:?}: expected seconds, from 0 to a year"
                    ))
                })?;
                Ok(self.with_lock_timeout(timeout))
            }
            _ => Ok(self),
        }
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
