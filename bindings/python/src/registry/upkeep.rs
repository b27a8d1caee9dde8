//! The pool and upkeep operations of the registry table: entries of `registry_methods!`
//! (see `registry/mod.rs`), passed on to the next part of the table.

/// The pool and upkeep operations: appends its entries to the table and hands it to the next macro.
macro_rules! upkeep_entries {
    ([$next:ident! $($rest:ident!)*] $($table:tt)*) => {
        $next! { [$($rest!)*] $($table)*

            /// Creates pool `name` over start..end (inclusive), or changes its range.
            ///
            /// Leases already made are kept; a cursor outside the new range restarts at `start`.
            /// What deserves a look (a range overlapping the kernel's ephemeral ports, where
            /// outgoing connections take ports at any moment) is a warnings.warn() with
            /// PortpoolWarning; the pool is set all the same.
            ///
            /// Args:
            ///     name: The pool's name.
            ///     start: First port, 1-65535.
            ///     end: Last port, 1-65535, not below `start`.
            ///     probe: Whether allocate() bind-probes candidates (off suits a range reserved for
            ///         portpool). None: on for a new pool, unchanged for an existing one.
            ///     timeout: Seconds this call may wait for the registry's lock, on top of the
            ///         handle's lock_timeout (the shorter wins).
            ///
            /// Returns:
            ///     The pool as it now is.
            ///
            /// Raises:
            ///     InvalidArgumentError: a bad name, range or timeout.
            ///     BusyError: the registry's lock stayed held for the whole timeout.
            ///     RegistryError: the registry file cannot be used.
            ///     PortpoolIOError: the operating system failed a read or write.
            ///     TypeError: an argument of the wrong type.
            #[pyo3(signature = (name, start, end, *, probe=None, timeout=None))]
            fn set_pool / set_pool_async(
                py,
                name: &str,
                start: &Bound<'_, PyAny>,
                end: &Bound<'_, PyAny>,
                probe: Option<bool>,
            ) {
                let start = port_arg(py, start)?;
                let end = port_arg(py, end)?;
                let name = name.to_owned();
                work(move |reg| {
                    let change = reg.set_pool(&name, start, end, probe)?;
                    Ok(Warned(Value("Pool", change.pool), change.warnings))
                })
            }

            /// Releases every stale lease (owner gone or time to live over).
            ///
            /// Args:
            ///     timeout: Seconds this call may wait for the registry's lock, on top of the
            ///         handle's lock_timeout (the shorter wins).
            ///
            /// Returns:
            ///     A list of Reclaimed: each released lease and why it was stale.
            ///
            /// Raises:
            ///     BusyError: the registry's lock stayed held for the whole timeout.
            ///     RegistryError: the registry file cannot be used.
            ///     PortpoolIOError: the operating system failed a read or write.
            #[pyo3(signature = (*, timeout=None))]
            fn gc / gc_async(py) {
                work(|reg| Ok(Value("list[Reclaimed]", reg.gc()?)))
            }

            /// Empties the registry: no leases, and only the "default" pool at 9000-18999.
            ///
            /// Args:
            ///     timeout: Seconds this call may wait for the registry's lock, on top of the
            ///         handle's lock_timeout (the shorter wins).
            ///
            /// Raises:
            ///     BusyError: the registry's lock stayed held for the whole timeout.
            ///     RegistryError: the registry file cannot be used.
            ///     PortpoolIOError: the operating system failed a read or write.
            #[pyo3(signature = (*, timeout=None))]
            fn reset / reset_async(py) {
                work(|reg| reg.reset())
            }

            /// Brings a damaged registry back, as `portpool repair` does: keeps every line that
            /// reads back, moves the damaged file (and FIFOs, directories or other users' files
            /// planted at the registry's, the lock's or the spare's name) aside as
            /// NAME.damaged-SECONDS, never deleting them, and rewrites the registry from what was
            /// kept. A registry that reads back is left as it is.
            ///
            /// Args:
            ///     timeout: Seconds this call may wait for the registry's lock, on top of the
            ///         handle's lock_timeout (the shorter wins).
            ///
            /// Returns:
            ///     A RepairReport: what was kept, exactly what could not be kept, and what was
            ///     moved aside.
            ///
            /// Raises:
            ///     BusyError: the registry's lock stayed held for the whole timeout.
            ///     RegistryError: a newer version's file, or a caller who is neither root nor the
            ///         owner of the registry's directory.
            ///     PortpoolIOError: the operating system failed a read or write.
            #[pyo3(signature = (*, timeout=None))]
            fn repair / repair_async(py) {
                work(|reg| Ok(Value("RepairReport", reg.repair()?)))
            }

            /// Registers every port a server socket is bound to now as a fixed, permanent lease
            /// named after its program ("nginx", "nginx-2", ...; "port-N" when unseen).
            ///
            /// Ports already leased are left alone, so a second run changes nothing.
            ///
            /// Args:
            ///     dry_run: Return the plan and write nothing.
            ///     timeout: Seconds this call may wait for the registry's lock, on top of the
            ///         handle's lock_timeout (the shorter wins).
            ///
            /// Returns:
            ///     The leases made (or, with dry_run, that would be made).
            ///
            /// Raises:
            ///     InvalidArgumentError: a bad timeout.
            ///     BusyError: the registry's lock stayed held for the whole timeout.
            ///     PortpoolIOError: /proc cannot be read.
            ///     RegistryError: the registry file cannot be used.
            #[pyo3(signature = (dry_run=false, *, timeout=None))]
            fn migrate / migrate_async(py, dry_run: bool) {
                work(move |reg| Ok(Value("list[Lease]", reg.migrate(dry_run)?)))
            }

            /// Reads a flat {"name": port, ...} JSON file into fixed, permanent TCP leases, in one
            /// write (named with a trailing underscore, as `import` is a Python keyword).
            ///
            /// Names already present with the same port are skipped. Any problem refuses the whole
            /// file, with every problem listed, and writes nothing. Ports are not probed.
            ///
            /// Args:
            ///     file: The JSON file (str or os.PathLike).
            ///     timeout: Seconds this call may wait for the registry's lock, on top of the
            ///         handle's lock_timeout (the shorter wins).
            ///
            /// Returns:
            ///     An ImportReport: the leases made and the names skipped.
            ///
            /// Raises:
            ///     NotFoundError: no such file.
            ///     InvalidArgumentError: not a {"name": port} map, a bad name or port in it, or a
            ///         bad timeout.
            ///     ConflictError: a port leased to another name, or a name holding another port.
            ///     BusyError: the registry's lock stayed held for the whole timeout.
            ///     RegistryError: the registry file cannot be used.
            ///     PortpoolIOError: the file cannot be read.
            #[pyo3(signature = (file, *, timeout=None))]
            fn import_ / import_async(py, file: PathBuf) {
                work(move |reg| Ok(Value("ImportReport", reg.import(&file)?)))
            }
        }
    };
}
