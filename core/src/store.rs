//! The registry file on disk: where it lives, how it is locked, read and replaced.
//!
//! Every change runs under an exclusive `flock` on `<registry>.lock`, a file that is never
//! replaced (the registry itself is, on every write, so locking it would lock a file that is
//! about to vanish). The new contents go to a temporary file in the same directory, which is
//! fsynced, renamed over the registry, and the directory fsynced: a crash at any instant leaves
//! the old or the new registry, never a mix. Reads take a shared lock and reuse the parsed
//! registry while the file's identity (device, inode, size, modification and change times) is
//! the one this handle saw last.

use std::fs::{self, File, OpenOptions};
use std::io::{self, Read, Write};
use std::os::unix::fs::{DirBuilderExt, MetadataExt, OpenOptionsExt, PermissionsExt};
use std::path::{Path, PathBuf};
use std::sync::Arc;

use atomic_write_file::AtomicWriteFile;
use atomic_write_file::unix::OpenOptionsExt as _;
use parking_lot::Mutex;

use crate::error::{Error, Result};
use crate::model::Data;
use crate::paths::PathSource;

/// The file name of the registry's lock file, beside the registry.
pub(crate) fn lock_path_for(path: &Path) -> PathBuf {
    let mut name = path.file_name().unwrap_or_default().to_os_string();
    name.push(".lock");
    path.with_file_name(name)
}

/// What identifies one version of the registry file without reading it.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
struct Stamp {
    dev: u64,
    ino: u64,
    size: u64,
    mtime: (i64, i64),
    ctime: (i64, i64),
}

impl Stamp {
    fn of(meta: &fs::Metadata) -> Stamp {
        Stamp {
            dev: meta.dev(),
            ino: meta.ino(),
            size: meta.size(),
            mtime: (meta.mtime(), meta.mtime_nsec()),
            ctime: (meta.ctime(), meta.ctime_nsec()),
        }
    }
}

struct Cached {
    stamp: Option<Stamp>,
    data: Arc<Data>,
}

pub(crate) struct Store {
    path: PathBuf,
    lock_path: PathBuf,
    file_mode: u32,
    dir_mode: u32,
    cache: Mutex<Option<Cached>>,
    /// How many times this handle parsed the file: what the cache saves is observable.
    parses: std::sync::atomic::AtomicU64,
}

impl Store {
    pub(crate) fn new(path: PathBuf, source: PathSource) -> Store {
        let (file_mode, dir_mode) = match source {
            PathSource::User => (0o600, 0o700),
            _ => (0o644, 0o755),
        };
        Store {
            lock_path: lock_path_for(&path),
            path,
            file_mode,
            dir_mode,
            cache: Mutex::new(None),
            parses: std::sync::atomic::AtomicU64::new(0),
        }
    }

    pub(crate) fn path(&self) -> &Path {
        &self.path
    }

    /// Runs `f` on the current registry under a shared lock. Never creates a file: a missing
    /// registry reads as the empty one.
    pub(crate) fn read<T>(&self, f: impl FnOnce(&Data) -> T) -> Result<T> {
        let mut cache = self.cache.lock();
        let _lock = match self.open_lock(false)? {
            Some(file) => {
                file.lock_shared()
                    .map_err(|e| Error::from_io(&self.lock_path, "locking", e))?;
                Some(file)
            }
            // A registry without a lock file (written by hand, or not at all yet): every
            // writer replaces the file atomically, so reading it unlocked is still consistent.
            None => None,
        };
        let data = self.load(&mut cache)?;
        Ok(f(&data))
    }

    /// Runs `f` on the registry under the exclusive lock and, when it reports a change,
    /// replaces the file with the result. `f` decides before it mutates: when it returns an
    /// error, nothing is written.
    pub(crate) fn update<T>(&self, f: impl FnOnce(&mut Data) -> Result<(T, bool)>) -> Result<T> {
        let mut cache = self.cache.lock();
        let lock = self.open_lock(true)?.expect("created on demand");
        lock.lock()
            .map_err(|e| Error::from_io(&self.lock_path, "locking", e))?;
        self.load(&mut cache)?;
        let cached = cache.as_mut().expect("loaded above");
        let existed = cached.stamp.is_some();
        let outcome = f(Arc::make_mut(&mut cached.data));
        let (value, changed) = match outcome {
            Ok(v) => v,
            Err(err) => {
                // `f` may have begun to change the in-memory copy: forget it.
                *cache = None;
                return Err(err);
            }
        };
        if changed {
            self.remove_abandoned_temp_files();
            let bytes = cached.data.to_json();
            match self.replace(&bytes, existed) {
                Ok(Some(stamp)) => cached.stamp = Some(stamp),
                // Written, but its identity is unknown: the next call reads the file again.
                Ok(None) => *cache = None,
                Err(err) => {
                    *cache = None;
                    return Err(err);
                }
            }
        }
        Ok(value)
    }

    /// Replaces the registry with the empty one under the exclusive lock. Unlike `update`, it
    /// does not need the file to read back: any file of this format version is emptied,
    /// even one whose entries are invalid (written by an older portpool with a bug). A file
    /// of another version, or not a portpool registry at all, is refused untouched.
    pub(crate) fn reset(&self) -> Result<()> {
        let mut cache = self.cache.lock();
        let lock = self.open_lock(true)?.expect("created on demand");
        lock.lock()
            .map_err(|e| Error::from_io(&self.lock_path, "locking", e))?;
        if let Err(err) = self.load(&mut cache) {
            let (bytes, _) = self.read_file()?;
            if !crate::model::is_current_version(&bytes) {
                return Err(err);
            }
        }
        *cache = None;
        self.remove_abandoned_temp_files();
        self.replace(&Data::default().to_json(), true)?;
        Ok(())
    }

    /// Makes sure `cache` holds the registry as it is on disk now, and returns it.
    fn load(&self, cache: &mut Option<Cached>) -> Result<Arc<Data>> {
        let stamp = match fs::symlink_metadata(&self.path) {
            Ok(meta) if meta.file_type().is_symlink() => {
                return Err(Error::from_io(
                    &self.path,
                    "opening",
                    io::Error::from_raw_os_error(libc::ELOOP),
                ));
            }
            Ok(meta) => Some(Stamp::of(&meta)),
            Err(e) if e.kind() == io::ErrorKind::NotFound => None,
            Err(e) => return Err(Error::from_io(&self.path, "reading", e)),
        };
        if let Some(c) = cache
            .as_ref()
            .filter(|c| c.stamp == stamp && stamp.is_some())
        {
            return Ok(c.data.clone());
        }
        let (data, stamp) = match stamp {
            None => (Data::default(), None),
            Some(_) => {
                let (bytes, stamp) = self.read_file()?;
                self.parses
                    .fetch_add(1, std::sync::atomic::Ordering::Relaxed);
                (Data::parse(&self.path, &bytes)?, Some(stamp))
            }
        };
        let data = Arc::new(data);
        *cache = Some(Cached {
            stamp,
            data: data.clone(),
        });
        Ok(data)
    }

    fn read_file(&self) -> Result<(Vec<u8>, Stamp)> {
        let err = |e| Error::from_io(&self.path, "reading", e);
        let mut file = OpenOptions::new()
            .read(true)
            .custom_flags(libc::O_NOFOLLOW)
            .open(&self.path)
            .map_err(err)?;
        let meta = file.metadata().map_err(err)?;
        if !meta.is_file() {
            return Err(Error::registry(&self.path, "is not a regular file"));
        }
        let mut bytes = Vec::with_capacity(meta.len() as usize);
        file.read_to_end(&mut bytes).map_err(err)?;
        Ok((bytes, Stamp::of(&meta)))
    }

    /// Opens the lock file without following symbolic links. With `create`, makes it (and
    /// the registry's directory) when missing; without, a missing lock file is `None`.
    fn open_lock(&self, create: bool) -> Result<Option<File>> {
        let mut options = OpenOptions::new();
        options
            .read(true)
            .custom_flags(libc::O_NOFOLLOW | libc::O_NOCTTY);
        if create {
            self.create_dir()?;
            options.write(true).create(true).mode(self.file_mode);
        }
        match options.open(&self.lock_path) {
            Ok(file) => Ok(Some(file)),
            Err(e) if !create && e.kind() == io::ErrorKind::NotFound => Ok(None),
            // A writer that may not create or write the lock file may still lock it.
            Err(e) if create && e.kind() == io::ErrorKind::PermissionDenied => OpenOptions::new()
                .read(true)
                .custom_flags(libc::O_NOFOLLOW)
                .open(&self.lock_path)
                .map(Some)
                .map_err(|e| Error::from_io(&self.lock_path, "opening lock file", e)),
            Err(e) => Err(Error::from_io(&self.lock_path, "opening lock file", e)),
        }
    }

    fn create_dir(&self) -> Result<()> {
        let Some(dir) = self.path.parent().filter(|d| !d.as_os_str().is_empty()) else {
            return Ok(());
        };
        if dir.is_dir() {
            return Ok(());
        }
        fs::DirBuilder::new()
            .recursive(true)
            .mode(self.dir_mode)
            .create(dir)
            .map_err(|e| Error::from_io(dir, "creating directory", e))
    }

    /// Removes temporary files of writers that were killed mid-write. A temporary file exists
    /// only while its writer holds the exclusive lock, which the caller holds now: any one
    /// found is abandoned. Names are `.<registry name>.` and six letters or digits; nothing
    /// else is touched, and a failure here is not the write's failure.
    fn remove_abandoned_temp_files(&self) {
        let (Some(dir), Some(name)) = (self.path.parent(), self.path.file_name()) else {
            return;
        };
        let dir = if dir.as_os_str().is_empty() {
            Path::new(".")
        } else {
            dir
        };
        let mut prefix = std::ffi::OsString::from(".");
        prefix.push(name);
        prefix.push(".");
        let prefix = prefix.as_encoded_bytes();
        let Ok(entries) = fs::read_dir(dir) else {
            return;
        };
        for entry in entries.flatten() {
            let file_name = entry.file_name();
            let bytes = file_name.as_encoded_bytes();
            let abandoned = bytes.len() == prefix.len() + 6
                && bytes.starts_with(prefix)
                && bytes[prefix.len()..].iter().all(u8::is_ascii_alphanumeric)
                && entry.file_type().is_ok_and(|t| t.is_file());
            if abandoned {
                let _ = fs::remove_file(entry.path());
            }
        }
    }

    /// Atomically replaces the registry with `bytes` and returns the new file's stamp, when it
    /// can be read (an error after the rename would report a write that happened as failed).
    fn replace(&self, bytes: &[u8], existed: bool) -> Result<Option<Stamp>> {
        let err = |e| Error::from_io(&self.path, "writing", e);
        let mut file = AtomicWriteFile::options()
            .mode(self.file_mode)
            .custom_flags(libc::O_NOFOLLOW)
            .preserve_mode(true)
            .open(&self.path)
            .map_err(err)?;
        if !existed {
            // Exactly the documented mode, whatever the umask.
            file.as_file()
                .set_permissions(fs::Permissions::from_mode(self.file_mode))
                .map_err(err)?;
        }
        file.write_all(bytes).map_err(err)?;
        file.commit().map_err(err)?;
        // Taken after the rename, which changes the ctime on some filesystems. The exclusive
        // lock keeps other writers from replacing the file in between.
        Ok(fs::symlink_metadata(&self.path).ok().map(|m| Stamp::of(&m)))
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use std::sync::atomic::Ordering;

    fn parses(store: &Store) -> u64 {
        store.parses.load(Ordering::Relaxed)
    }

    #[test]
    fn reads_reuse_the_parse_until_the_file_changes() {
        let dir = tempfile::tempdir().unwrap();
        let path = dir.path().join("r.json");
        std::fs::write(&path, "{\"version\": 1}").unwrap();
        let store = Store::new(path.clone(), PathSource::Explicit);
        for _ in 0..3 {
            store.read(|d| d.leases().len()).unwrap();
        }
        assert_eq!(parses(&store), 1);
        // This handle's own writes leave its cache current.
        store.update(|_| Ok(((), true))).unwrap();
        store.read(|_| ()).unwrap();
        assert_eq!(parses(&store), 1);
        // Another writer replaces the file: the next read parses it.
        let other = Store::new(path, PathSource::Explicit);
        other.update(|_| Ok(((), true))).unwrap();
        store.read(|_| ()).unwrap();
        store.read(|_| ()).unwrap();
        assert_eq!(parses(&store), 2);
    }

    #[test]
    fn the_lock_file_sits_beside_the_registry() {
        assert_eq!(
            lock_path_for(Path::new("/a/b/registry.json")),
            Path::new("/a/b/registry.json.lock")
        );
    }
}
