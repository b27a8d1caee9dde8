//! Locking: the handle's state in this process, the exclusive `flock` on the lock file with
//! its bounded, interruptible wait, and the directory the files live in.

use super::*;

impl Journal {
    /// This process's state, for one call. Another thread of this process may hold it for
    /// the length of its call (its own lock wait included): a call under
    /// [`wait::with_wait`] waits for it as it waits for another process's lock — bounded,
    /// and asking the caller's check — and any other call simply blocks.
    pub(super) fn state<'i>(&self, inner: &'i Inner) -> Result<MutexGuard<'i, State>> {
        if !wait::governed() {
            return Ok(inner.state.lock());
        }
        let deadline = wait::deadline(self.lock_timeout());
        loop {
            let slice = match deadline {
                Some(deadline) => deadline.saturating_duration_since(Instant::now()),
                None => Duration::from_millis(5),
            };
            if let Some(st) = inner
                .state
                .try_lock_for(slice.min(Duration::from_millis(5)))
            {
                return Ok(st);
            }
            if deadline.is_some_and(|d| Instant::now() >= d) {
                return Err(Error::busy(format!(
                    "registry {}: busy: another thread of this process held it for the whole lock timeout ({:?}); nothing was changed",
                    self.path.display(),
                    self.lock_timeout()
                )));
            }
            wait::check()?;
        }
    }

    /// Takes the exclusive lock, waiting at most the lock timeout.
    pub(super) fn lock(&self, st: &mut State) -> Result<Locked> {
        let deadline = wait::deadline(self.lock_timeout());
        loop {
            let file = match &st.lock {
                Some(file) => file.clone(),
                None => {
                    let file = self.open_lock(st)?;
                    st.lock = Some(file.clone());
                    file
                }
            };
            self.wait(st, &file, deadline)?;
            // portpool never deletes or replaces the lock file; if something did, the lock that
            // counts is the one on the file the path names now: a lock on any other inode
            // (deleted, moved aside, replaced by rename) locks out no one.
            match identity::still_named(&self.lock_path, &file) {
                Ok(true) => return Ok(Locked(file)),
                Ok(false) => {
                    sys::unlock(&file);
                    st.lock = None;
                    if deadline.is_some_and(|d| Instant::now() >= d) {
                        return Err(self.replaced_lock());
                    }
                }
                Err(err) => {
                    sys::unlock(&file);
                    st.lock = None;
                    return Err(err);
                }
            }
        }
    }

    /// Polls for the lock until `deadline` (`None`: never), asking the caller's
    /// [`wait::check`] between polls. Pauses start at 10 µs and double
    /// up to 200 µs while the wait is young, as a contended lock is held for tens of
    /// microseconds (the flush happens after the unlock); after 50 ms they grow to 5 ms, so a
    /// wait for a stopped holder costs next to no CPU. A signal arriving meanwhile neither
    /// fails the wait nor ends it early.
    ///
    /// Between polls, the view catches up on what the holders appended (or reads the file a
    /// holder rewrote), as a reader does without the lock, so that the lock is held only for
    /// what was appended after the last poll. A failed read is left to the read under the
    /// lock, which reports it.
    ///
    /// A blocking `flock` would wake sooner, but cannot be given a deadline without a signal
    /// handler in the host process; on a helper thread, its start and hand-over cost more
    /// than the polling does (measured with 8 processes on one registry, with a thread per
    /// wait, and with 8 and 12 with a long-lived thread per handle: each hand-over is two
    /// wake-ups, the thread's and the caller's).
    pub(super) fn wait(
        &self,
        st: &mut State,
        file: &File,
        deadline: Option<Instant>,
    ) -> Result<()> {
        let start = Instant::now();
        let mut pause = Duration::from_micros(10);
        loop {
            if sys::try_lock(file).map_err(|e| Error::from_io(&self.lock_path, "locking", e))? {
                return Ok(());
            }
            if self.refresh(st, false).is_err() {
                st.view = None;
            }
            let left = match deadline {
                Some(deadline) => deadline.saturating_duration_since(Instant::now()),
                None => pause,
            };
            if left.is_zero() {
                return Err(self.busy(file));
            }
            wait::check()?;
            std::thread::sleep(pause.min(left));
            let cap = if start.elapsed() < Duration::from_millis(50) {
                Duration::from_micros(200)
            } else {
                Duration::from_millis(5)
            };
            pause = (pause * 2).min(cap);
        }
    }

    pub(super) fn busy(&self, file: &File) -> Error {
        let holder = file
            .metadata()
            .ok()
            .and_then(|m| sys::lock_holder(&m))
            .map_or_else(|| "another process".to_owned(), |pid| format!("pid {pid}"));
        Error::busy(format!(
            "registry {}: busy: {holder} held its lock {} for the whole lock timeout ({:?}); nothing was changed",
            self.path.display(),
            self.lock_path.display(),
            self.lock_timeout()
        ))
    }

    /// Opens the lock file, creating it (and the registry's directory) when missing. A
    /// registry that would be refused is refused before anything is created.
    pub(super) fn open_lock(&self, st: &mut State) -> Result<Arc<File>> {
        let opened = match sys::lstat_regular(&self.lock_path) {
            Ok(Some(_)) => sys::open(&self.lock_path, Access::Read),
            Ok(None) => {
                self.refresh(st, false)?;
                self.create_dir()?;
                self.create_lock()
            }
            Err(e) => Err(e),
        };
        let (file, _) = opened.map_err(|e| self.refused(&self.lock_path, "opening", e))?;
        Ok(Arc::new(file))
    }

    /// Creates the registry's missing directories with the handle's directory mode exactly,
    /// whatever the umask, and makes each new entry durable.
    pub(super) fn create_dir(&self) -> Result<()> {
        let dir = self.dir();
        let mut missing = Vec::new();
        let mut at = dir;
        while fs::symlink_metadata(at).is_err() {
            missing.push(at);
            match at.parent() {
                Some(parent) if !parent.as_os_str().is_empty() => at = parent,
                _ => break,
            }
        }
        for new in missing.into_iter().rev() {
            let made = fs::create_dir(new).and_then(|()| {
                use std::os::unix::fs::PermissionsExt;
                fs::set_permissions(new, fs::Permissions::from_mode(self.dir_mode))
            });
            match made {
                Ok(()) => {
                    if let Some(parent) = new.parent() {
                        let _ = sync_dir(parent);
                    }
                }
                Err(e) if e.kind() == io::ErrorKind::AlreadyExists => {}
                Err(e) => return Err(Error::from_io(new, "creating directory", e)),
            }
        }
        Ok(())
    }
}
