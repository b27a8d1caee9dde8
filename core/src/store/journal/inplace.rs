//! Compaction that keeps the registry's inode: a double write through the spare, for writers
//! who may not replace the registry's name (a member of a host registry's group, in its sticky
//! directory).
//!
//! Under the exclusive lock:
//!
//! 1. the compacted image (of a new generation G) is written into the spare, and fsynced;
//! 2. the registry's first line is overwritten with the *copying* header naming G (as long as
//!    the final header), and fdatasynced: from here on, anyone who reads the registry reads
//!    the spare instead, and the next writer finishes the copy;
//! 3. the image after its header is written over the registry, which is cut to the image's
//!    length, and fdatasynced;
//! 4. the image's header (generation G) is written over the copying one, and fdatasynced.
//!
//! A crash before 2 leaves the registry as it was; one after 2 leaves a complete spare that
//! the next writer copies again (steps 2–4). A reader takes no lock: it checks the first line
//! again after reading, and since every copy changes it before anything else, what it read
//! was either the registry before the copy or after it, never a mix.

use std::fs::{File, Metadata};
use std::os::unix::fs::MetadataExt;

use super::identity::{refuse_links, replaced_registry};
use super::{Format, Journal, View, id_of, next_epoch, read_from, same_header, snapshot_tail};
use crate::error::{Error, Result};
use crate::store::format::{self, Decoded, HeaderState, REPAIR_HINT};
use crate::store::model::Data;
use crate::store::storage::spare_path_for;
use crate::sys::{self, Access};

impl Journal {
    /// Compacts `view`'s registry into its own inode through the spare (steps above): the
    /// registry keeps its owner, group, mode and inode. Without a usable spare (`init` makes
    /// it: the registry's owner, group and mode, one link) it is a `Registry` error, and the
    /// caller appends instead.
    pub(super) fn rewrite_in_place(
        &self,
        view: &mut View,
        like: &Metadata,
        bytes: &[u8],
        entries: u64,
    ) -> Result<()> {
        let spare = self.usable_spare(like)?;
        sys::ftruncate(&spare, 0)
            .and_then(|()| sys::write_all_at(&spare, bytes, 0))
            .and_then(|()| sys::fsync(&spare))
            .map_err(|e| self.io_error("compacting: writing the spare", e))?;
        super::test_pause("spare");
        let target = self.registry_for_copy((view.id != (0, 0)).then_some(view.id))?;
        self.copy_into(&target, bytes)?;
        view.epoch = next_epoch();
        view.format = Format::V2(snapshot_tail(bytes, entries));
        Ok(())
    }

    /// The spare, opened for writing, when it has `like`'s owner, group and mode and one link.
    fn usable_spare(&self, like: &Metadata) -> Result<File> {
        let spare = spare_path_for(&self.path);
        let no_spare = |why: String| {
            Error::registry(
                &self.path,
                format!(
                    "cannot be compacted by uid {}: {why} (portpool init creates the spare)",
                    sys::geteuid()
                ),
            )
        };
        let (file, meta) = sys::open(&spare, Access::Write)
            .map_err(|e| no_spare(format!("{}: {e}", spare.display())))?;
        let same = (meta.uid(), meta.gid(), meta.mode() & 0o7777)
            == (like.uid(), like.gid(), like.mode() & 0o7777);
        if !same || meta.nlink() != 1 {
            return Err(no_spare(format!(
                "{} does not have the registry's owner, group and mode, or has more than one link",
                spare.display()
            )));
        }
        Ok(file)
    }

    /// The registry opened for writing at any offset, when its name still names the inode
    /// `id` (`None`: any) with one link.
    fn registry_for_copy(&self, id: Option<(u64, u64)>) -> Result<File> {
        let (file, meta) = sys::open(&self.path, Access::Write)
            .map_err(|e| self.refused(&self.path, "opening for writing", e))?;
        refuse_links(&self.path, &meta)?;
        if id.is_some_and(|id| id != id_of(&meta)) {
            return Err(replaced_registry(&self.path));
        }
        Ok(file)
    }

    /// Steps 2–4: copies `image` (a whole version-2 file) over `target`.
    fn copy_into(&self, target: &File, image: &[u8]) -> Result<()> {
        let header_len = image.iter().position(|b| *b == b'\n').map_or(0, |i| i + 1);
        let generation = match format::header_state(image) {
            Some(HeaderState::Generation(Some(generation))) => generation,
            _ => unreachable!("images are encoded with a generation"),
        };
        let marker = format::copying_header(format::header_version(image), &generation);
        debug_assert_eq!(marker.len(), header_len);
        let copy = || {
            sys::write_all_at(target, &marker, 0)?;
            sys::fdatasync(target)?;
            super::test_pause("copying");
            sys::write_all_at(target, &image[header_len..], header_len as u64)?;
            sys::ftruncate(target, image.len() as u64)?;
            sys::fdatasync(target)?;
            super::test_pause("copied");
            sys::write_all_at(target, &image[..header_len], 0)?;
            sys::fdatasync(target)
        };
        copy().map_err(|e| {
            Error::from_io(&self.path, "compacting: copying the spare into", e).with_hint(
                "the next change finishes the copy from the spare, which holds the whole registry",
            )
        })
    }

    /// The spare's contents when it is the complete image of `generation`.
    fn spare_image(&self, generation: &str) -> Option<(Vec<u8>, Data)> {
        let (file, meta) = sys::open(&spare_path_for(&self.path), Access::Read).ok()?;
        let bytes = read_from(&file, 0, meta.len()).ok()?;
        let ours = format::header_state(&bytes)
            == Some(HeaderState::Generation(Some(generation.to_owned())));
        match format::decode(&self.path, &bytes) {
            Ok(Decoded::V2(data, tail)) if ours && tail.offset == bytes.len() as u64 => {
                Some((bytes, data))
            }
            _ => None,
        }
    }

    /// Under the lock: finishes a compaction in place that stopped after step 2, copying the
    /// spare (which holds the image of `generation`) into the registry again.
    pub(super) fn finish_copy(&self, generation: &str) -> Result<()> {
        let Some((image, _)) = self.spare_image(generation) else {
            return Err(self.copy_lost());
        };
        let target = self.registry_for_copy(None)?;
        self.copy_into(&target, &image)
    }

    /// For a reader of a registry whose first line `first` says a copy of the spare of
    /// `generation` is under way: the registry as the spare holds it, or `None` when the copy
    /// finished meanwhile (read the registry again).
    pub(super) fn read_spare(
        &self,
        registry: &File,
        generation: &str,
        first: &[u8],
    ) -> Result<Option<Data>> {
        let image = self.spare_image(generation);
        // The spare is rewritten only after a copy finished, which changes the first line.
        if !same_header(registry, first).map_err(|e| self.io_error("reading", e))? {
            return Ok(None);
        }
        image
            .map(|(_, data)| Some(data))
            .ok_or_else(|| self.copy_lost())
    }

    fn copy_lost(&self) -> Error {
        Error::registry(
            &self.path,
            "was being compacted in place, and the spare no longer holds the copy; the file was left untouched",
        )
        .with_hint(REPAIR_HINT)
    }
}
