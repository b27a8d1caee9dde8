//! The way back from damage: `repair` keeps every line of the registry that reads back, moves
//! whatever is damaged or does not belong at the registry's, the lock's and the spare's names
//! aside (`NAME.damaged-SECONDS`, never deleted), and rewrites the registry from what it kept
//! with the owner, group and mode the directory gives it.

use std::fs::{self, File, Metadata};
use std::io;
use std::os::unix::fs::MetadataExt;
use std::path::{Path, PathBuf};

use serde::Serialize;

use super::{Journal, read_from, sync_dir};
use crate::error::{Error, Result};
use crate::store::format;
use crate::store::model::{Data, FORMAT_VERSION, version_error};
use crate::store::storage::spare_path_for;
use crate::sys::{self, Access};

/// What [`Registry::repair`](crate::Registry::repair) did.
#[derive(Clone, Debug, Default, PartialEq, Eq, Serialize)]
pub struct RepairReport {
    /// Whether anything was wrong: `false` when the registry read back and every file beside
    /// it was as it should be (nothing was then touched).
    pub repaired: bool,
    /// Leases in the registry now.
    pub kept: usize,
    /// What could not be kept, one sentence each, naming its line and the lease it held.
    pub lost: Vec<String>,
    /// Where damaged or foreign files were moved; nothing is ever deleted.
    pub moved_aside: Vec<PathBuf>,
}

/// Who the registry's files belong to, and their mode: the directory's owner, the group the
/// registry had (or the directory's, when setgid), the registry's mode (or, without a usable
/// one, 0664 in a directory its group may write, else the handle's).
struct Owner {
    uid: u32,
    gid: u32,
    mode: u32,
}

impl Journal {
    /// See [`Registry::repair`](crate::Registry::repair).
    pub(crate) fn repair(&self) -> Result<RepairReport> {
        let inner = self.inner();
        let mut st = self.state(inner)?;
        st.view = None;
        st.lock = None;
        let dir_meta =
            fs::metadata(self.dir()).map_err(|e| Error::from_io(self.dir(), "reading", e))?;
        let euid = sys::geteuid();
        if euid != 0 && euid != dir_meta.uid() {
            return Err(Error::registry(
                &self.path,
                format!(
                    "only root or the owner of {} (uid {}) may repair it",
                    self.dir().display(),
                    dir_meta.uid()
                ),
            ));
        }
        let mut report = RepairReport::default();
        let current = fs::symlink_metadata(&self.path).ok();
        let owner = self.owner_for(&dir_meta, current.as_ref());
        for path in [self.lock_path.clone(), spare_path_for(&self.path)] {
            if let Some(moved) = self.set_aside_foreign(&path, owner.uid)? {
                report.moved_aside.push(moved);
            }
        }
        let lock = self.lock_of(&owner)?;
        st.lock = Some(std::sync::Arc::new(lock));
        let _locked = self.lock(&mut st)?;
        self.repair_locked(&owner, &mut report)?;
        if report
            .moved_aside
            .iter()
            .any(|p| is_aside_of(p, &spare_path_for(&self.path)))
        {
            self.recreate_spare(&owner)?;
        }
        report.repaired |= !report.moved_aside.is_empty();
        Ok(report)
    }

    /// Under the lock: reads the registry, and rewrites it from what reads back when it is
    /// damaged or not the directory owner's plain file.
    fn repair_locked(&self, owner: &Owner, report: &mut RepairReport) -> Result<()> {
        let meta = fs::symlink_metadata(&self.path).ok();
        let bytes = match &meta {
            Some(m) if m.is_file() => sys::open(&self.path, Access::Read)
                .and_then(|(file, m)| read_from(&file, 0, m.len()))
                .map_err(|e| self.io_error("reading", e))?,
            _ => Vec::new(),
        };
        refuse_newer(&self.path, &bytes)?;
        let plain = meta
            .as_ref()
            .is_some_and(|m| m.is_file() && m.nlink() == 1 && m.uid() == owner.uid);
        match format::decode(&self.path, &bytes) {
            Ok(decoded) if plain => {
                report.kept = decoded.into_data().leases().len();
                return Ok(());
            }
            _ if meta.is_none() => {
                // Deleted or moved away: an empty registry of the right owner, group and mode
                // takes its place, so that every command works again.
                report.repaired = true;
                return self.create_empty(owner);
            }
            _ => {}
        }
        let salvaged = format::salvage(&bytes);
        report.repaired = true;
        report.kept = salvaged.data.leases().len();
        report.lost = salvaged.lost;
        report
            .moved_aside
            .push(self.replace_registry(&salvaged.data, owner)?);
        Ok(())
    }

    /// Writes `data` as a new registry of `owner`'s at the damaged file's `.damaged-SECONDS`
    /// name, and exchanges the two names: readers find the old file or the new one, never
    /// nothing, and the damaged file is never under a name anything removes.
    fn replace_registry(&self, data: &Data, owner: &Owner) -> Result<PathBuf> {
        let (bytes, _) = format::encode_snapshot(data, &format::new_generation());
        let aside = aside_name(&self.path);
        let (file, _) = sys::open(&aside, Access::CreateNew(owner.mode))
            .map_err(|e| Error::from_io(&aside, "creating", e))?;
        let written = sys::fchown(&file, Some(owner.uid), Some(owner.gid))
            .and_then(|()| sys::fchmod(&file, owner.mode))
            .and_then(|()| sys::write_all_at(&file, &bytes, 0))
            .and_then(|()| sys::fsync(&file))
            .and_then(|()| sys::rename_exchange(&aside, &self.path));
        if let Err(e) = written {
            // Only the new file, never exchanged: the damaged one is still in place.
            let _ = fs::remove_file(&aside);
            return Err(self.io_error("repairing", e));
        }
        sync_dir(self.dir()).map_err(|e| {
            self.io_error(
                "repairing (the registry was rewritten; flushing its directory)",
                e,
            )
        })?;
        Ok(aside)
    }

    /// A new empty registry of `owner`'s where there is none.
    fn create_empty(&self, owner: &Owner) -> Result<()> {
        let (bytes, _) = format::encode_snapshot(&Data::default(), &format::new_generation());
        let (temp, file) = self.create_temp(owner.mode)?;
        let written = sys::fchown(&file, Some(owner.uid), Some(owner.gid))
            .and_then(|()| sys::fchmod(&file, owner.mode))
            .and_then(|()| sys::write_all_at(&file, &bytes, 0))
            .and_then(|()| sys::fsync(&file))
            .and_then(|()| sys::rename(&temp, &self.path))
            .and_then(|()| sync_dir(self.dir()));
        if let Err(e) = written {
            let _ = fs::remove_file(&temp);
            return Err(self.io_error("repairing", e));
        }
        Ok(())
    }

    fn owner_for(&self, dir: &Metadata, current: Option<&Metadata>) -> Owner {
        let usable = current.filter(|m| m.is_file() && m.nlink() == 1 && m.uid() == dir.uid());
        let gid = match usable {
            _ if dir.mode() & 0o2000 != 0 => dir.gid(),
            Some(m) => m.gid(),
            None => dir.gid(),
        };
        let mode = match usable {
            Some(m) => m.mode() & 0o666,
            None if dir.mode() & 0o020 != 0 => 0o664,
            None => self.file_mode,
        };
        Owner {
            uid: dir.uid(),
            gid,
            mode,
        }
    }

    /// Moves `path` aside when it is anything but a regular file of `uid` with one link.
    fn set_aside_foreign(&self, path: &Path, uid: u32) -> Result<Option<PathBuf>> {
        let meta = match fs::symlink_metadata(path) {
            Ok(meta) => meta,
            Err(e) if e.kind() == io::ErrorKind::NotFound => return Ok(None),
            Err(e) => return Err(Error::from_io(path, "reading", e)),
        };
        if meta.is_file() && meta.nlink() == 1 && meta.uid() == uid {
            return Ok(None);
        }
        let aside = aside_name(path);
        sys::rename(path, &aside).map_err(|e| Error::from_io(path, "moving aside", e))?;
        Ok(Some(aside))
    }

    /// The lock file, made when missing with `owner`'s owner and group and its lock mode
    /// (whatever the registry's name holds now: a FIFO there says nothing about modes).
    fn lock_of(&self, owner: &Owner) -> Result<File> {
        let mode = super::identity::lock_mode(owner.mode);
        let made = sys::open(&self.lock_path, Access::CreateNew(mode)).and_then(|(file, _)| {
            sys::fchown(&file, Some(owner.uid), Some(owner.gid))
                .and_then(|()| sys::fchmod(&file, mode))
                .map(|()| file)
        });
        match made {
            Ok(file) => Ok(file),
            Err(e) if e.kind() == io::ErrorKind::AlreadyExists => {
                sys::open(&self.lock_path, Access::Read)
                    .map(|(file, _)| file)
                    .map_err(|e| self.refused(&self.lock_path, "opening", e))
            }
            Err(e) => Err(Error::from_io(&self.lock_path, "creating", e)),
        }
    }

    /// A new spare in place of one moved aside: the registry's owner, group and mode.
    fn recreate_spare(&self, owner: &Owner) -> Result<()> {
        let spare = spare_path_for(&self.path);
        let (file, _) = sys::open(&spare, Access::CreateNew(owner.mode))
            .map_err(|e| Error::from_io(&spare, "creating", e))?;
        sys::fchown(&file, Some(owner.uid), Some(owner.gid))
            .and_then(|()| sys::fchmod(&file, owner.mode))
            .map_err(|e| Error::from_io(&spare, "creating", e))
    }
}

/// A newer version's file is never repaired: one whose header names a newer version and
/// which holds anything but version-2 lines (a header alone, or on version-2 lines, is what a
/// damaged or planted header looks like, and is repaired).
fn refuse_newer(path: &Path, bytes: &[u8]) -> Result<()> {
    #[derive(serde::Deserialize)]
    struct Probe {
        version: u64,
    }
    let first = bytes.split(|b| *b == b'\n').next().unwrap_or_default();
    let version = serde_json::from_slice::<Probe>(first)
        .or_else(|_| serde_json::from_slice::<Probe>(bytes))
        .map(|p| p.version);
    match version {
        Ok(v) if v > FORMAT_VERSION && !format::only_version_2_lines(bytes) => {
            Err(version_error(path, v).with_hint("repair leaves a newer version's file alone"))
        }
        _ => Ok(()),
    }
}

/// `PATH.damaged-SECONDS`, or with `.N` after it when that is taken.
fn aside_name(path: &Path) -> PathBuf {
    let seconds = std::time::SystemTime::now()
        .duration_since(std::time::UNIX_EPOCH)
        .map_or(0, |d| d.as_secs());
    let mut name = path.file_name().unwrap_or_default().to_os_string();
    name.push(format!(".damaged-{seconds}"));
    let base = path.with_file_name(&name);
    let mut candidate = base.clone();
    let mut n = 1;
    while fs::symlink_metadata(&candidate).is_ok() {
        let mut numbered = name.clone();
        numbered.push(format!(".{n}"));
        candidate = path.with_file_name(numbered);
        n += 1;
    }
    candidate
}

fn is_aside_of(aside: &Path, path: &Path) -> bool {
    let (Some(a), Some(p)) = (aside.file_name(), path.file_name()) else {
        return false;
    };
    a.to_string_lossy()
        .starts_with(&format!("{}.damaged-", p.to_string_lossy()))
}
