//! The host registry's setup: its directory, files, group and modes (`portpool init`).

use std::ffi::CString;
use std::fs::{self, File, OpenOptions};
use std::os::fd::AsRawFd;
use std::os::unix::fs::{DirBuilderExt, MetadataExt, OpenOptionsExt};
use std::path::{Path, PathBuf};

use serde::Serialize;

use crate::account::group_name;
use crate::error::{Error, ErrorKind, Result};
use crate::paths::{PathSource, REPAIR_HINT};
use crate::registry::Registry;
use crate::reserved::Reservation;
use crate::store::storage::{lock_path_for, spare_path_for};

/// What [`init_host`] did: one sentence per thing it created or changed. Both empty when the
/// registry was already set up as asked.
#[derive(Clone, Debug, Default, PartialEq, Eq, Serialize)]
pub struct InitReport {
    /// The registry path.
    pub path: PathBuf,
    /// The group whose members may change the registry, if any.
    pub group: Option<String>,
    /// Things created, e.g. `directory /var/lib/portpool (root:portpool 3775)`.
    pub created: Vec<String>,
    /// Things changed, e.g. `group of /var/lib/portpool/registry.json: root -> portpool`.
    pub changed: Vec<String>,
}

/// The owner, group and mode one file of the host registry should have.
#[derive(Clone, Copy)]
struct Want {
    gid: u32,
    mode: u32,
}

/// Sets up the registry at `path` as a host registry, idempotently: its directory and its
/// files (the registry, its lock file and the compaction spare through which members rewrite
/// the registry without owning it), owned by root. With `group`, members of that group may
/// change the registry: the directory is `root:GROUP 3775` (sticky, so that no member can
/// delete, rename or replace a file it does not own; setgid, so new files are the group's),
/// the registry `0664` and the lock file `0660`. Without, only root may: `1755`, `0644` and
/// `0600`. The sticky bit is also the mark of a directory `init` set up: such a directory
/// decides the registry for every user (see [`resolve_path`](crate::resolve_path)). Users
/// outside the group can read the registry but cannot open the lock file, so they cannot
/// stall its writers. A later call with another group changes the group in place and keeps
/// the leases.
///
/// Must run as root. Refuses (a `Registry` error naming `portpool repair`, changing nothing)
/// a directory or file that is a symbolic link, is not a directory or regular file, is owned
/// by another user than root or has more than one link (a hard link to another file would
/// have init give the group that file), and a registry that does not read back; an unknown
/// group is `NotFound`.
pub fn init_host(path: &Path, group: Option<&str>) -> Result<InitReport> {
    if crate::sys::geteuid() != 0 {
        return Err(Error::new(
            ErrorKind::Registry,
            format!(
                "init sets up {} for every user and must run as root (sudo portpool init)",
                path.display()
            ),
        ));
    }
    let gid = match group {
        Some(name) => group_id(name)?,
        None => 0,
    };
    let dir = path
        .parent()
        .filter(|d| !d.as_os_str().is_empty())
        .ok_or_else(|| Error::invalid(format!("invalid registry path {}", path.display())))?;
    let shared = group.is_some();
    let mut report = InitReport {
        path: path.to_owned(),
        group: group.map(str::to_owned),
        ..InitReport::default()
    };
    let files = host_files(path, gid, shared);
    // Check everything before changing anything.
    check_existing(dir, true)?;
    for (file, _) in &files {
        check_existing(file, false)?;
    }
    let dir_want = Want {
        gid,
        mode: if shared { 0o3775 } else { 0o1755 },
    };
    settle_dir(dir, dir_want, &mut report)?;
    settle_files(path, &files, &mut report)?;
    Ok(report)
}

/// The files of the host registry at `path` with the group and mode each should have: the
/// registry, its lock and its compaction spare.
fn host_files(path: &Path, gid: u32, shared: bool) -> Vec<(PathBuf, Want)> {
    let registry_mode = if shared { 0o664 } else { 0o644 };
    [
        (path.to_owned(), registry_mode),
        (lock_path_for(path), if shared { 0o660 } else { 0o600 }),
        // What a member compacts through, keeping root the registry's owner.
        (spare_path_for(path), registry_mode),
    ]
    .into_iter()
    .map(|(p, mode)| (p, Want { gid, mode }))
    .collect()
}

/// Creates the registry's directory when it is missing, then gives it `want`, reporting what
/// it created or changed.
fn settle_dir(dir: &Path, want: Want, report: &mut InitReport) -> Result<()> {
    if fs::symlink_metadata(dir).is_ok() {
        return settle_node(dir, true, want, report);
    }
    fs::DirBuilder::new()
        .recursive(true)
        .mode(0o700)
        .create(dir)
        .map_err(|e| Error::from_io(dir, "creating directory", e))?;
    report
        .created
        .push(format!("directory {} ({})", dir.display(), describe(want)));
    settle_node(dir, true, want, &mut InitReport::default())
}

/// Creates each missing file (the registry as an empty registry, which must otherwise read
/// back), then gives each its owner, group and mode, reporting what it created or changed.
fn settle_files(path: &Path, files: &[(PathBuf, Want)], report: &mut InitReport) -> Result<()> {
    let missing: Vec<bool> = files
        .iter()
        .map(|(file, _)| fs::symlink_metadata(file).is_err())
        .collect();
    if missing[0] {
        // An empty registry, written as every change is (the store may add the lock file).
        Registry::with_source(path, PathSource::System).reset()?;
    } else {
        check_reads_back(path)?;
    }
    for ((file, want), missing) in files.iter().zip(missing) {
        if missing {
            if fs::symlink_metadata(file).is_err() {
                create_file(file, *want)?;
            }
            report
                .created
                .push(format!("{} ({})", file.display(), describe(*want)));
        }
        let mut quiet = InitReport::default();
        let report = if missing { &mut quiet } else { &mut *report };
        settle_node(file, false, *want, report)?;
    }
    Ok(())
}

/// `root:GROUP MODE`, as the report says it.
fn describe(want: Want) -> String {
    format!("root:{} {:04o}", group_name(want.gid), want.mode)
}

/// Refuses a path that exists but is a symbolic link, of the wrong type, not root's, or (a
/// file) linked from elsewhere.
fn check_existing(path: &Path, dir: bool) -> Result<()> {
    let Ok(meta) = fs::symlink_metadata(path) else {
        return Ok(());
    };
    let kind = if dir { "directory" } else { "regular file" };
    let refuse = |why: String| Err(Error::registry(path, format!("{why}; {REPAIR_HINT}")));
    if meta.file_type().is_symlink() {
        return refuse(
            "is a symbolic link; init refuses it (a link could point the host registry anywhere)"
                .to_owned(),
        );
    }
    if meta.is_dir() != dir || (!dir && !meta.is_file()) {
        return refuse(format!("is not a {kind}; init refuses to use it"));
    }
    if meta.uid() != 0 {
        return refuse(format!(
            "is owned by uid {}, not root; init refuses to take it over",
            meta.uid()
        ));
    }
    if !dir && meta.nlink() != 1 {
        return refuse(format!(
            "has {} links; init refuses it (giving the group a file that is also another name would give it that file too)",
            meta.nlink()
        ));
    }
    Ok(())
}

/// Refuses a registry that does not read back: damage names `repair`; a newer version's
/// file (which nothing repairs) says to upgrade, as every command does.
fn check_reads_back(path: &Path) -> Result<()> {
    match Registry::with_source(path, PathSource::System).list() {
        Err(e)
            if e.kind() == ErrorKind::Registry
                && !e.message().contains("portpool repair")
                && !e.message().contains("upgrade portpool") =>
        {
            Err(Error::new(
                ErrorKind::Registry,
                format!("{}; {REPAIR_HINT}", e.message()),
            ))
        }
        other => other.map(drop),
    }
}

fn create_file(path: &Path, want: Want) -> Result<()> {
    OpenOptions::new()
        .write(true)
        .create_new(true)
        .mode(want.mode & 0o777)
        .custom_flags(libc::O_NOFOLLOW | libc::O_CLOEXEC)
        .open(path)
        .map(drop)
        .map_err(|e| Error::from_io(path, "creating", e))
}

/// Gives `path` root:`want.gid` and `want.mode`, through a descriptor opened without following
/// links, and reports what changed.
fn settle_node(path: &Path, dir: bool, want: Want, report: &mut InitReport) -> Result<()> {
    let mut flags = libc::O_NOFOLLOW | libc::O_CLOEXEC | libc::O_NONBLOCK;
    if dir {
        flags |= libc::O_DIRECTORY;
    }
    let file: File = OpenOptions::new()
        .read(true)
        .custom_flags(flags)
        .open(path)
        .map_err(|e| Error::from_io(path, "opening", e))?;
    let meta = file
        .metadata()
        .map_err(|e| Error::from_io(path, "reading", e))?;
    if meta.uid() != 0 || meta.gid() != want.gid {
        // SAFETY: a valid descriptor; fchown has no memory preconditions.
        if unsafe { libc::fchown(file.as_raw_fd(), 0, want.gid) } != 0 {
            return Err(Error::from_io(
                path,
                "changing the group of",
                std::io::Error::last_os_error(),
            ));
        }
        if meta.gid() != want.gid {
            report.changed.push(format!(
                "group of {}: {} -> {}",
                path.display(),
                group_name(meta.gid()),
                group_name(want.gid)
            ));
        }
    }
    // chown clears the setgid bit: the mode goes after it.
    let mode = meta.mode() & 0o7777;
    let after_chown = file
        .metadata()
        .map_err(|e| Error::from_io(path, "reading", e))?
        .mode()
        & 0o7777;
    if after_chown != want.mode {
        // SAFETY: a valid descriptor; fchmod has no memory preconditions.
        if unsafe { libc::fchmod(file.as_raw_fd(), want.mode) } != 0 {
            return Err(Error::from_io(
                path,
                "changing the mode of",
                std::io::Error::last_os_error(),
            ));
        }
        if mode != want.mode {
            report.changed.push(format!(
                "mode of {}: {mode:04o} -> {:04o}",
                path.display(),
                want.mode
            ));
        }
    }
    Ok(())
}

/// The id of group `name`; `NotFound` when the host has no such group.
pub fn group_id(name: &str) -> Result<u32> {
    let unknown = || {
        Error::not_found(format!(
            "no group named {} on this host (create it with: groupadd --system {name})",
            crate::validate::shown(name)
        ))
    };
    let c_name = CString::new(name).map_err(|_| unknown())?;
    let mut group: libc::group = unsafe { std::mem::zeroed() };
    let mut buf = vec![0u8; 16 * 1024];
    let mut result: *mut libc::group = std::ptr::null_mut();
    // SAFETY: every pointer is valid for the call, and buf's length is passed with it.
    let rc = unsafe {
        libc::getgrnam_r(
            c_name.as_ptr(),
            &mut group,
            buf.as_mut_ptr().cast(),
            buf.len(),
            &mut result,
        )
    };
    if rc != 0 || result.is_null() {
        return Err(unknown());
    }
    Ok(group.gr_gid)
}

/// Makes the kernel's reserved ports (`net.ipv4.ip_local_reserved_ports`, of this network
/// namespace) hold every port leased in `reg`, TCP and UDP, so that no outgoing connection and
/// no port-0 bind is ever given one, while an explicit bind to it still works. Removes only
/// ports portpool added and that are no longer leased: ports reserved by anyone else stay.
/// Runs under the registry's lock; writes the kernel's list once, and only when it changes.
///
/// Must run as root (else a `Registry` error that changes nothing). Once it has run on a
/// registry, every change root makes to it syncs the same way, at once.
pub fn reserve(reg: &Registry) -> Result<Reservation> {
    crate::reserved::reserve_in(&reg.store)
}

/// What [`reserve`] would do now, read only (any user): [`Reservation::drift`] says whether
/// the kernel's list and the registry disagree.
pub fn reserve_check(reg: &Registry) -> Result<Reservation> {
    crate::reserved::check_in(&reg.store)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn root_is_group_0_and_unknown_groups_are_not_found() {
        assert_eq!(group_name(0), "root");
        assert_eq!(group_id("root").unwrap(), 0);
        let err = group_id("no-such-group-portpool").unwrap_err();
        assert_eq!(err.kind(), ErrorKind::NotFound);
        assert!(err.message().contains("groupadd"), "{err}");
        assert_eq!(group_id("a\0b").unwrap_err().kind(), ErrorKind::NotFound);
    }
}
