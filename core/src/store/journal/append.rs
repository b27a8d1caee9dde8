//! Appending and flushing: a change run under the lock, written as one line in one
//! `write(2)`, and flushed after the unlock so that concurrent writers' flushes overlap.

use super::*;

impl Journal {
    /// Under the lock: runs `f` and stores what it changed. Returns the append to flush, if
    /// the change must be durable and was appended (a rewrite is durable already).
    pub(super) fn update_locked(
        &self,
        st: &mut State,
        f: &mut dyn FnMut(&mut Data) -> Result<bool>,
    ) -> Result<Option<Pending>> {
        let lock = st.lock.clone();
        let view = match self.refresh(st, true) {
            Ok(view) => view,
            Err(err) => {
                st.view = None;
                return Err(err);
            }
        };
        view.data.begin_log();
        let outcome = f(&mut view.data);
        let log = view.data.end_log();
        let encoded = match (outcome, log) {
            (Ok(true), Some(log)) => format::encode_change(&view.data, &log, view.version()),
            (Ok(true), None) => Encoded::Whole,
            (outcome, Some(log)) => {
                view.data.rollback(log);
                return outcome.map(|_| None);
            }
            (outcome, None) => {
                st.view = None;
                return outcome.map(|_| None);
            }
        };
        let stored = self.store(view, encoded, lock.as_deref());
        if stored.is_err() {
            // The change is in memory but maybe not in the file: read the file again.
            st.view = None;
        }
        stored
    }

    /// Under the lock `lock` (when this handle holds one): writes what `encoded` says to the
    /// file `view` read, appending or compacting. Nothing is written when the lock path or the
    /// registry path no longer names what was locked or read.
    pub(super) fn store(
        &self,
        view: &mut View,
        encoded: Encoded,
        lock: Option<&File>,
    ) -> Result<Option<Pending>> {
        let (appendable, compact) = match &view.format {
            Format::V2(tail) => (true, tail.wants_compaction()),
            _ => (false, false),
        };
        // A lock is a lock only while its path names it: a writer stopped under the lock
        // while its lock file was deleted or replaced may no longer hold the one that counts.
        let locked =
            lock.is_none_or(|l| matches!(identity::still_named(&self.lock_path, l), Ok(true)));
        match encoded {
            Encoded::Nothing => Ok(None),
            _ if !locked => Err(identity::lost_lock(&self.lock_path)),
            _ if view.file.is_some()
                && let Err(err) = identity::check_registry(&self.path, view.id) =>
            {
                Err(err)
            }
            Encoded::Line { bytes, durable } if appendable && !compact => {
                self.append(view, &bytes, durable)
            }
            // A writer that cannot compact (no usable spare) appends, and says so once.
            Encoded::Line { bytes, durable } if appendable => match self.rewrite(view) {
                Err(err) if err.kind() == ErrorKind::Registry && view.writable => {
                    crate::notice::once(crate::notice::Once::Compaction, err.message());
                    self.append(view, &bytes, durable)
                }
                other => other.map(|()| None),
            },
            _ => self.rewrite(view).map(|()| None),
        }
    }

    /// Appends one change line in one `write(2)`.
    pub(super) fn append(
        &self,
        view: &mut View,
        line: &[u8],
        durable: bool,
    ) -> Result<Option<Pending>> {
        let (Some(file), Format::V2(tail)) = (&view.file, &mut view.format) else {
            unreachable!("appends go to a version-2 file");
        };
        // An append needs little room, but the rewrite that follows the appends needs about
        // the file's size: refusing the append when that is not there keeps a full disk a
        // clear error now rather than a registry that can no longer be compacted.
        let room = sys::available_bytes(file).map_err(|e| self.io_error("writing", e))?;
        if room < tail.offset + line.len() as u64 {
            return Err(self.io_error("writing", io::Error::from_raw_os_error(libc::ENOSPC)));
        }
        match sys::write_once(file, line) {
            Ok(n) if n == line.len() => {}
            written => {
                // Nothing, or part of the line: take the part back, or leave it as a torn
                // line for the next writer to cut.
                let _ = sys::ftruncate(file, tail.offset);
                let err = written
                    .err()
                    .unwrap_or_else(|| io::Error::new(io::ErrorKind::WriteZero, "short write"));
                return Err(self.io_error("writing", err));
            }
        }
        tail.appended(line.len() as u64);
        test_pause("appended");
        Ok(durable.then(|| Pending {
            file: file.clone(),
            epoch: view.epoch,
            upto: tail.offset,
        }))
    }

    /// Makes sure everything up to `p.upto` of its file is on the disk. A flush that another
    /// thread of this handle made since covers it; so does any later flush, by anyone, of the
    /// same file.
    pub(super) fn flush(&self, inner: &Inner, p: Pending) -> Result<()> {
        {
            let done = inner.flushed.lock();
            if done.epoch == p.epoch && done.upto >= p.upto {
                return Ok(());
            }
        }
        test_pause("flush");
        sys::fdatasync(&p.file).map_err(|e| {
            Error::new(
                ErrorKind::Io,
                format!(
                    "flushing {}: {e}; the change was made, but may not survive a power loss",
                    self.path.display()
                ),
            )
        })?;
        let mut done = inner.flushed.lock();
        if done.epoch != p.epoch || done.upto < p.upto {
            *done = Flushed {
                epoch: p.epoch,
                upto: p.upto,
            };
        }
        Ok(())
    }
}
