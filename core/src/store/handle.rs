//! The storage of one registry handle: the journal behind it and the host's [`Policy`], with
//! the closure-taking calls the rules use.

use std::path::{Path, PathBuf};

use crate::error::{Error, Result};
use crate::store::journal::{Journal, RepairReport};
use crate::store::model::Data;
use crate::store::storage::{Policy, Storage};

/// The storage of one registry handle, with the closure-taking calls the rules use.
pub(crate) struct Store {
    backend: Journal,
    /// What a missing file means: for the host registry (its directory decides that it is the
    /// registry for every user) an error, never an empty registry (nor a new file with the
    /// wrong owner).
    missing: Option<fn() -> String>,
    hook: Option<Hook>,
}

/// What a handle runs inside every change, under the lock, when `enabled` says so for the
/// registry's path: `after` once the change is decided, when it changed `digest`. The rules
/// set it (today: root's handles keep the kernel's reserved ports in sync, `reserved.rs`); the
/// store only calls it, and knows nothing of what it does.
#[derive(Clone, Copy)]
pub(crate) struct Hook {
    pub(crate) enabled: fn(&Path) -> bool,
    pub(crate) digest: fn(&Data) -> Vec<u64>,
    pub(crate) after: fn(&Path, &Data),
}

impl Store {
    pub(crate) fn new(path: PathBuf, policy: Policy) -> Store {
        Store {
            backend: Journal::new(path, policy),
            missing: policy.missing,
            hook: None,
        }
    }

    /// Runs `hook` inside every later change of this handle (see [`Hook`]).
    pub(crate) fn set_hook(&mut self, hook: Hook) {
        self.hook = Some(hook);
    }

    /// For the host registry: `Registry` error when the file is missing, saying what to do.
    fn check_present(&self) -> Result<()> {
        let path = self.path();
        let Some(what) = self.missing else {
            return Ok(());
        };
        if std::fs::symlink_metadata(path).is_ok() {
            return Ok(());
        }
        let what = what();
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
    pub(crate) fn repair(&self) -> Result<RepairReport> {
        self.backend.repair()
    }

    /// (change lines, snapshot lines) when the file is not being compacted.
    pub(crate) fn overgrown(&self) -> Result<Option<(u64, u64)>> {
        self.backend.overgrown()
    }

    /// Empties the registry, whatever its entries hold (see [`Storage::reset`]).
    pub(crate) fn reset(&self) -> Result<()> {
        self.check_present()?;
        self.backend.reset()?;
        let path = self.backend.path();
        match self.hook.filter(|h| (h.enabled)(path)) {
            // Every lease is gone: the hook sees the empty registry, under the lock.
            Some(hook) => self.backend.update_with(&mut |data| {
                (hook.after)(path, data);
                Ok(false)
            }),
            None => Ok(()),
        }
    }

    /// Runs `f` on the registry with no other update running and, when it reports a change,
    /// stores the result. `f` decides before it mutates: when it returns an error, nothing
    /// is written.
    pub(crate) fn update<T>(&self, f: impl FnOnce(&mut Data) -> Result<(T, bool)>) -> Result<T> {
        self.check_present()?;
        let mut f = Some(f);
        let mut out = None;
        let path = self.backend.path();
        let hook = self.hook.filter(|h| (h.enabled)(path));
        self.backend.update_with(&mut |data| {
            let before = hook.map(|h| (h.digest)(data));
            let (value, changed) = (f.take().expect("called once"))(data)?;
            out = Some(value);
            if let (true, Some(h), Some(before)) = (changed, hook, before)
                && (h.digest)(data) != before
            {
                (h.after)(path, data);
            }
            Ok(changed)
        })?;
        Ok(out.expect("update_with calls its closure once"))
    }
}
