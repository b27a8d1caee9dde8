//! Reading: bringing a handle's view up to the file (catching up on what was appended, or
//! loading it whole), and cutting a torn last line under the lock.

use super::*;

/// Whether `file` still starts with `header` (its first line, newline included).
pub(super) fn same_header(file: &File, header: &[u8]) -> io::Result<bool> {
    let mut now = vec![0u8; header.len()];
    let mut len = 0;
    while len < now.len() {
        match file.read_at(&mut now[len..], len as u64) {
            Ok(0) => return Ok(false),
            Ok(n) => len += n,
            Err(e) if e.kind() == io::ErrorKind::Interrupted => {}
            Err(e) => return Err(e),
        }
    }
    Ok(now == header)
}

/// Reads `file` from `offset` to its end, which is expected near `size`. The buffer holds
/// one byte more than expected, so that the read that finds the end needs no second buffer
/// (doubling a registry's buffer to learn that nothing follows cost its size twice over).
pub(super) fn read_from(file: &File, offset: u64, size: u64) -> io::Result<Vec<u8>> {
    let mut bytes = vec![0u8; (size.saturating_sub(offset) as usize + 1).max(4096)];
    let mut len = 0;
    loop {
        if len == bytes.len() {
            bytes.resize(len * 2, 0);
        }
        match file.read_at(&mut bytes[len..], offset + len as u64) {
            Ok(0) => {
                bytes.truncate(len);
                return Ok(bytes);
            }
            Ok(n) => len += n,
            Err(e) if e.kind() == io::ErrorKind::Interrupted => {}
            Err(e) => return Err(e),
        }
    }
}

impl Journal {
    /// Brings `st.view` up to the file as it is now and returns it. With `write` (only under
    /// the exclusive lock), the file is opened for appending and a torn last line is cut.
    pub(super) fn refresh<'a>(&self, st: &'a mut State, write: bool) -> Result<&'a mut View> {
        // A reader racing a rewrite can read a file that changes under it in ways no reader
        // can tell from damage (a torn line being cut while another is appended): such a read
        // is tried again, and only damage that stays is reported.
        let mut attempts = 0;
        loop {
            let meta = sys::lstat_regular(&self.path).map_err(|e| self.io_error("reading", e))?;
            let Some(meta) = meta else {
                if !matches!(
                    st.view,
                    Some(View {
                        format: Format::Missing,
                        ..
                    })
                ) {
                    st.view = Some(View::missing());
                }
                return Ok(st.view.as_mut().expect("set above"));
            };
            let current = match st.view.as_mut() {
                Some(view) if view.file.is_some() && view.id == id_of(&meta) => {
                    self.catch_up(view, &meta, write)?
                }
                _ => false,
            };
            if current {
                return Ok(st.view.as_mut().expect("current"));
            }
            st.view = None;
            match self.load(write) {
                Ok(view) => {
                    st.view = Some(view);
                    return Ok(st.view.as_mut().expect("set above"));
                }
                Err(err) if !write && err.kind() == ErrorKind::Registry && attempts < 3 => {
                    let again = sys::lstat_regular(&self.path).ok().flatten();
                    if again.is_some_and(|m| id_of(&m) != id_of(&meta) || m.size() != meta.size()) {
                        attempts += 1;
                        continue;
                    }
                    return Err(err);
                }
                Err(err) => return Err(err),
            }
        }
    }

    /// Reads what was appended to `view`'s file since it was last read. `Ok(false)` when
    /// that is not possible (the file shrank, or was edited in place): read it whole.
    pub(super) fn catch_up(&self, view: &mut View, meta: &Metadata, write: bool) -> Result<bool> {
        if write && !view.writable {
            let (file, fmeta) = sys::open(&self.path, Access::Append)
                .map_err(|e| self.refused(&self.path, "opening for writing", e))?;
            if id_of(&fmeta) != view.id {
                return Ok(false);
            }
            view.file = Some(Arc::new(file));
            view.writable = true;
        }
        let file = view.file.as_ref().expect("checked by the caller");
        let tail = match &mut view.format {
            Format::V1(stamp) => return Ok(*stamp == Stamp::of(meta)),
            Format::Missing | Format::Copying => return Ok(false),
            Format::V2(tail) => tail,
        };
        if meta.size() < tail.offset {
            return Ok(false);
        }
        // From the newline that ends the last line read: a file rewritten in place, not by
        // rename, has some other byte there.
        let grown = meta.size() > tail.offset;
        let bytes = match grown {
            true => read_from(file, tail.offset - 1, meta.size())
                .map_err(|e| self.io_error("reading", e))?,
            false => Vec::new(),
        };
        // Checked after the read: a rewrite in place changes the first line before anything
        // else, so bytes read before an unchanged first line are the file's, not a mix.
        if !same_header(file, &tail.header).map_err(|e| self.io_error("reading", e))? {
            return Ok(false);
        }
        if !grown {
            return Ok(true);
        }
        if bytes.first() != Some(&b'\n') {
            return Ok(false);
        }
        let end = tail.offset - 1 + bytes.len() as u64;
        let mut moved = tail.clone();
        if format::read_lines(&self.path, &mut view.data, &mut moved, &bytes[1..]).is_err() {
            return Ok(false);
        }
        *tail = moved;
        self.tail_reads.fetch_add(1, Ordering::Relaxed);
        if write && end > tail.offset {
            self.cut(file, tail.offset)?;
        }
        Ok(true)
    }

    /// Reads the whole file. A file rewritten in place while it was read (its first line
    /// changed meanwhile) is read again; one a compaction in place was copying into is read
    /// from the spare, or, under the lock, has its copy finished first.
    pub(super) fn load(&self, write: bool) -> Result<View> {
        let access = if write { Access::Append } else { Access::Read };
        let (file, meta) = match sys::open(&self.path, access) {
            Ok(opened) => opened,
            Err(e) if e.kind() == io::ErrorKind::NotFound => return Ok(View::missing()),
            Err(e) if write => return Err(self.refused(&self.path, "opening for writing", e)),
            Err(e) => return Err(self.io_error("reading", e)),
        };
        if write {
            identity::refuse_links(&self.path, &meta)?;
        }
        for _ in 0..LOAD_ATTEMPTS {
            let bytes =
                read_from(&file, 0, meta.size()).map_err(|e| self.io_error("reading", e))?;
            let first = bytes
                .split_inclusive(|b| *b == b'\n')
                .next()
                .unwrap_or_default();
            if let Some(HeaderState::Copying(generation)) = format::header_state(&bytes) {
                if write {
                    self.finish_copy(&generation)?;
                    continue;
                }
                match self.read_spare(&file, &generation, first)? {
                    Some(data) => return Ok(self.view_of(file, &meta, data, Format::Copying)),
                    None => continue,
                }
            }
            let decoded = format::decode(&self.path, &bytes);
            if !same_header(&file, first).map_err(|e| self.io_error("reading", e))? {
                continue;
            }
            self.full_reads.fetch_add(1, Ordering::Relaxed);
            let (data, format) = match decoded? {
                Decoded::V1(data) => (data, Format::V1(Stamp::of(&meta))),
                Decoded::V2(data, tail) => {
                    if write && tail.offset < bytes.len() as u64 {
                        self.cut(&file, tail.offset)?;
                    }
                    (data, Format::V2(tail))
                }
            };
            let mut view = self.view_of(file, &meta, data, format);
            view.writable = write;
            return Ok(view);
        }
        Err(Error::busy(format!(
            "registry {}: busy: it was rewritten in place {LOAD_ATTEMPTS} times while being read; nothing was changed",
            self.path.display()
        )))
    }

    pub(super) fn view_of(&self, file: File, meta: &Metadata, data: Data, format: Format) -> View {
        View {
            data,
            file: Some(Arc::new(file)),
            writable: false,
            id: id_of(meta),
            epoch: next_epoch(),
            format,
        }
    }

    /// Whether the registry file is a regular file whose first JSON value has a `version`
    /// portpool writes (1 or 2), whatever the rest holds.
    pub(super) fn written_by_portpool(&self) -> bool {
        let Ok((file, meta)) = sys::open(&self.path, Access::Read) else {
            return false;
        };
        read_from(&file, 0, meta.len())
            .is_ok_and(|bytes| crate::store::model::is_current_version(&bytes))
    }

    /// Cuts a torn last line off at `offset`, durably before anything is appended after it.
    pub(super) fn cut(&self, file: &File, offset: u64) -> Result<()> {
        self.cuts.fetch_add(1, Ordering::Relaxed);
        sys::ftruncate(file, offset)
            .and_then(|()| sys::fdatasync(file))
            .map_err(|e| self.io_error("cutting a torn last line off", e))
    }
}
