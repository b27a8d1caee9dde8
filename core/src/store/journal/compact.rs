//! Compaction: when the appended tail outgrows the snapshot, the file is written whole
//! (a temporary file renamed over it, or a copy in place through the spare).

use super::*;

/// Where a file that holds only the snapshot `bytes` (of `entries` lines) stands.
pub(super) fn snapshot_tail(bytes: &[u8], entries: u64) -> Tail {
    let header = bytes
        .split_inclusive(|b| *b == b'\n')
        .next()
        .unwrap_or_default();
    Tail::of_snapshot(bytes.len() as u64, entries, header.to_vec())
}

impl Journal {
    /// (change lines, snapshot lines) of the registry as it is now, when its tail has grown
    /// to twice what asks for a compaction (see [`Tail::overgrown`]).
    pub(crate) fn overgrown(&self) -> Result<Option<(u64, u64)>> {
        // A reader has no other reason to look at the lock file; what a writer would refuse
        // there is damage all the same.
        match sys::lstat_regular(&self.lock_path) {
            Ok(Some(meta)) => identity::refuse_links(&self.lock_path, &meta)?,
            Ok(None) => {}
            Err(e) => return Err(self.refused(&self.lock_path, "opening", e)),
        }
        let inner = self.inner();
        let mut st = self.state(inner)?;
        let view = self.refresh(&mut st, false)?;
        Ok(match &view.format {
            Format::V2(tail) if tail.overgrown() => Some((tail.records, tail.snapshot_entries)),
            _ => None,
        })
    }

    /// Replaces the file with the whole registry: temporary file, fsync, rename, directory
    /// fsync, all under the lock. The new file has the old one's mode and, where this process
    /// may give it, its owner and group; never more access for anyone.
    pub(super) fn rewrite(&self, view: &mut View) -> Result<()> {
        let like = match &view.file {
            Some(file) => Some(file.metadata().map_err(|e| self.io_error("reading", e))?),
            None => None,
        };
        let generation = format::new_generation();
        let (bytes, entries) = format::encode_snapshot(&view.data, &generation);
        let euid = sys::geteuid();
        if let Some(like) = like.as_ref().filter(|m| m.uid() != euid && euid != 0) {
            // A new file would be this user's (and in a sticky directory, no name but its
            // own may be replaced): copy through the spare into the registry's own inode.
            return self.rewrite_in_place(view, like, &bytes, entries);
        }
        self.remove_abandoned_temp_files();
        let mode = like.as_ref().map_or(self.file_mode, |m| m.mode() & 0o777);
        let (temp, file) = self.create_temp(mode)?;
        let written = like
            .as_ref()
            .map_or(Ok(()), |like| keep_owner(&file, like, mode))
            .and_then(|()| sys::write_all_at(&file, &bytes, 0))
            .and_then(|()| sys::fsync(&file))
            .and_then(|()| sys::rename(&temp, &self.path));
        if let Err(e) = written {
            let _ = fs::remove_file(&temp);
            return Err(self.io_error("writing", e));
        }
        self.installed(view, file, &bytes, entries)
    }

    /// After a rewrite put `file` (opened for appending, holding a snapshot of `len` bytes and
    /// `entries` lines) in the registry's place: flushes the directory, and makes `file` the
    /// one `view` appends to.
    pub(super) fn installed(
        &self,
        view: &mut View,
        file: File,
        snapshot: &[u8],
        entries: u64,
    ) -> Result<()> {
        // Until the directory is flushed, a power loss may bring the old file back. No append
        // goes to the new file before this returns.
        sync_dir(self.dir()).map_err(|e| {
            Error::new(
                ErrorKind::Io,
                format!(
                    "flushing directory {}: {e}; the registry was rewritten but may not survive a power loss",
                    self.dir().display()
                ),
            )
        })?;
        let meta = file.metadata().map_err(|e| self.io_error("reading", e))?;
        view.id = id_of(&meta);
        view.file = Some(Arc::new(file));
        view.writable = true;
        view.epoch = next_epoch();
        view.format = Format::V2(snapshot_tail(snapshot, entries));
        Ok(())
    }

    /// Creates `.<registry name>.<16 hex digits>.tmp` beside the registry, exclusively.
    pub(super) fn create_temp(&self, mode: u32) -> Result<(PathBuf, File)> {
        let name = self.path.file_name().unwrap_or_default().to_string_lossy();
        let mut attempts = 0;
        loop {
            let temp = self
                .dir()
                .join(format!(".{name}.{}.tmp", sys::random_hex()));
            match sys::open(&temp, Access::CreateNew(mode)) {
                Ok((file, _)) => return Ok((temp, file)),
                Err(e) if e.kind() == io::ErrorKind::AlreadyExists && attempts < 8 => {
                    attempts += 1;
                }
                Err(e) => return Err(Error::from_io(&temp, "creating", e)),
            }
        }
    }

    /// Removes temporary files of writers killed mid-rewrite. A temporary file exists only
    /// while its writer holds the exclusive lock, which the caller holds now, so every one
    /// found is abandoned; only those provably portpool's are touched: named as
    /// [`create_temp`](Self::create_temp) names them, a regular file of this user with one
    /// link, holding nothing or the start of a version-2 header. A failure here is not the
    /// write's failure.
    pub(super) fn remove_abandoned_temp_files(&self) {
        let name = self.path.file_name().unwrap_or_default().to_string_lossy();
        let prefix = format!(".{name}.");
        let Ok(entries) = fs::read_dir(self.dir()) else {
            return;
        };
        let euid = sys::geteuid();
        for entry in entries.flatten() {
            let file_name = entry.file_name();
            let Some(hex) = file_name
                .to_str()
                .and_then(|n| n.strip_prefix(prefix.as_str()))
                .and_then(|n| n.strip_suffix(".tmp"))
            else {
                continue;
            };
            if hex.len() != 16 || !hex.bytes().all(|b| b.is_ascii_hexdigit()) {
                continue;
            }
            let path = entry.path();
            let Ok((mut file, meta)) = sys::open(&path, Access::Read) else {
                continue;
            };
            if meta.uid() != euid || meta.nlink() != 1 {
                continue;
            }
            let len = format::header_start(crate::store::model::FORMAT_VERSION_2).len();
            let mut head = Vec::with_capacity(len);
            let ours = (&mut file).take(len as u64).read_to_end(&mut head).is_ok()
                && format::starts_like_a_header(&head);
            if ours {
                let _ = fs::remove_file(&path);
            }
        }
    }
}
