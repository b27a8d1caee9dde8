//! Whether the names the journal works through still name the files it opened. A file's
//! identity is not its name: another process may delete, move, replace or hard-link a name
//! between two calls, so a writer checks the name again after taking the lock and before
//! appending, and never writes through a stale view.

use std::fs::{File, Metadata};
use std::io;
use std::os::unix::fs::MetadataExt;
use std::path::Path;

use super::{Journal, id_of};
use crate::error::{Error, Result};
use crate::store::format::REPAIR_HINT;
use crate::sys::{self, Access};

/// Whether `path` still names the regular file `file` is open on. `Ok(false)` when the name
/// is gone or names another file (the caller starts over with the file there now); a file with
/// more than one link, or anything but a regular file there, is refused.
pub(super) fn still_named(path: &Path, file: &File) -> Result<bool> {
    let mine = file
        .metadata()
        .map_err(|e| Error::from_io(path, "locking", e))?;
    match sys::lstat_regular(path) {
        Ok(Some(meta)) if id_of(&meta) != id_of(&mine) => Ok(false),
        Ok(Some(meta)) => refuse_links(path, &meta).map(|()| true),
        Ok(None) => Ok(false),
        Err(e) => Err(Error::from_io(path, "locking", e).with_hint(REPAIR_HINT)),
    }
}

/// Checks that `path` still names the file of (device, inode) `id`, with one link.
pub(super) fn check_registry(path: &Path, id: (u64, u64)) -> Result<()> {
    match sys::lstat_regular(path) {
        Ok(Some(meta)) if id_of(&meta) == id => refuse_links(path, &meta),
        _ => Err(replaced_registry(path)),
    }
}

/// The error of a writer whose registry was replaced, moved or linked under the lock.
pub(super) fn replaced_registry(path: &Path) -> Error {
    Error::busy(format!(
        "registry {}: busy: the file was replaced, moved or linked while this change was being made; nothing was changed, try again",
        path.display()
    ))
}

/// The error of a writer whose lock file was deleted or replaced while it held the lock.
pub(super) fn lost_lock(lock_path: &Path) -> Error {
    Error::busy(format!(
        "busy: the lock file {} was deleted or replaced while this change was being made, so another writer may be running; nothing was changed, try again",
        lock_path.display()
    ))
}

/// Refuses a file with more than one link: its other name can change it behind portpool's
/// back, and a rewrite of it would reach whatever it is linked to.
pub(super) fn refuse_links(path: &Path, meta: &Metadata) -> Result<()> {
    if meta.nlink() <= 1 {
        return Ok(());
    }
    Err(Error::registry(
        path,
        format!(
            "has {} links: another name could change it behind portpool's back; it was left untouched",
            meta.nlink()
        ),
    )
    .with_hint(REPAIR_HINT))
}

/// The mode of a lock file made beside a registry of `mode`: its owner's and (for a registry
/// its group may write) its group's access, never others': whoever may open the lock may
/// hold it.
pub(super) fn lock_mode(mode: u32) -> u32 {
    if mode & 0o020 != 0 {
        mode & 0o660
    } else {
        mode & 0o600
    }
}

impl Journal {
    /// Creates the missing lock file: beside a registry, with that registry's group and
    /// [`lock_mode`] (so that a host registry's lock keeps the group and mode `init` gave it,
    /// whatever the creator's umask); else with the handle's mode. A group that cannot be
    /// given leaves only the owner's access.
    pub(super) fn create_lock(&self) -> io::Result<(File, Metadata)> {
        let registry = sys::lstat_regular(&self.path).ok().flatten();
        let mode = registry
            .as_ref()
            .map_or(self.file_mode, |m| lock_mode(m.mode()));
        match sys::open(&self.lock_path, Access::CreateNew(mode)) {
            Ok((file, meta)) => {
                if let Some(registry) = registry.filter(|r| r.gid() != meta.gid())
                    && sys::fchown(&file, None, Some(registry.gid())).is_err()
                {
                    sys::fchmod(&file, mode & 0o600)?;
                }
                Ok((file, meta))
            }
            Err(e) if e.kind() == io::ErrorKind::AlreadyExists => {
                sys::open(&self.lock_path, Access::Read)
            }
            Err(e) => Err(e),
        }
    }

    /// The error of a lock whose path kept naming other files for the whole lock timeout.
    pub(super) fn replaced_lock(&self) -> Error {
        Error::busy(format!(
            "registry {}: busy: its lock file {} kept being replaced for the whole lock timeout ({:?}); nothing was changed",
            self.path.display(),
            self.lock_path.display(),
            self.lock_timeout()
        ))
    }
}
