//! The handover operations of the registry table: entries of `registry_methods!`
//! (see `registry/mod.rs`), passed on to the next part of the table.

/// The handover operations: appends its entries to the table and hands it to the next macro.
macro_rules! handovers_entries {
    ([$next:ident! $($rest:ident!)*] $($table:tt)*) => {
        $next! { [$($rest!)*] $($table)*

            /// Begins a zero-downtime handover of `name`: leases a port for the next generation
            /// while the current one stays valid, and returns it.
            ///
            /// Both ports are leased and listed (the new one as Lease.next); get() returns the
            /// current port until commit_handover(). A pool lease's new port comes from its pool,
            /// other leases take the first free port above the current one. Begun while a
            /// handover is under way, ConflictError naming its ticket (see begin_handover_ticket()).
            ///
            /// Args:
            ///     name: The lease's name.
            ///     pid: The next generation's process, which owns the lease after the commit.
            ///     timeout: Seconds this call may wait for the registry's lock, on top of the
            ///         handle's lock_timeout (the shorter wins).
            ///
            /// Returns:
            ///     The next generation's port.
            ///
            /// Raises:
            ///     NotFoundError: `name` holds no lease.
            ///     ExhaustedError: no port is free for the next generation.
            ///     InvalidArgumentError: a bad name, pid or timeout.
            ///     BusyError: the registry's lock stayed held for the whole timeout.
            ///     RegistryError: the registry file cannot be used.
            ///     PortpoolIOError: the operating system failed a read or write.
            #[pyo3(signature = (name, pid=None, *, timeout=None))]
            fn begin_handover / begin_handover_async(py, name: &str, pid: Option<&Bound<'_, PyAny>>) {
                let pid = pid_arg(py, pid)?;
                let name = name.to_owned();
                Ok(Box::new(move |reg: &pp::Registry| {
                    let grant = reg.begin_handover_grant(&name, pid)?;
                    // A cancelled caller's handover is aborted again, if this call began it.
                    let undo = grant.created.then(|| -> Undo {
                        Box::new(move |reg| {
                            let _ = reg.abort_handover(&name, pid);
                        })
                    });
                    Ok(Done {
                        value: Box::new(grant.port),
                        undo,
                    })
                }))
            }

            /// Completes `name`'s handover: releases the old port and makes the next one current.
            ///
            /// The lease's owner becomes the next generation's process: the pid given to
            /// begin_handover(), else `pid`, else none (the old generation's process never owns
            /// the new port).
            ///
            /// Args:
            ///     name: The lease's name.
            ///     pid: The next generation's process as this caller knows it. A handover begun
            ///         for another process raises ConflictError; None is not checked.
            ///     ticket: The handover's ticket (Handover.ticket, Lease.next.ticket): a handover
            ///         that has ended or another one raises ConflictError and changes nothing.
            ///         None: whatever handover is under way.
            ///     timeout: Seconds this call may wait for the registry's lock, on top of the
            ///         handle's lock_timeout (the shorter wins).
            ///
            /// Returns:
            ///     The new current port.
            ///
            /// Raises:
            ///     NotFoundError: `name` holds no lease (or a stale one), or no handover of it is
            ///         under way (without a ticket).
            ///     ConflictError: the handover was begun for another process, or `ticket` is not
            ///         the one under way.
            ///     InvalidArgumentError: a bad name, pid or timeout.
            ///     BusyError: the registry's lock stayed held for the whole timeout.
            ///     RegistryError: the registry file cannot be used.
            ///     PortpoolIOError: the operating system failed a read or write.
            #[pyo3(signature = (name, pid=None, *, ticket=None, timeout=None))]
            fn commit_handover / commit_handover_async(py, name: &str, pid: Option<&Bound<'_, PyAny>>, ticket: Option<u64>) {
                let pid = pid_arg(py, pid)?;
                let name = name.to_owned();
                work(move |reg| reg.commit_handover_ticket(&name, pid, ticket))
            }

            /// Abandons `name`'s handover: releases the next generation's port; the current lease
            /// is untouched.
            ///
            /// Args:
            ///     name: The lease's name.
            ///     pid: Checked as by commit_handover().
            ///     ticket: Checked as by commit_handover().
            ///     timeout: Seconds this call may wait for the registry's lock, on top of the
            ///         handle's lock_timeout (the shorter wins).
            ///
            /// Returns:
            ///     The port released.
            ///
            /// Raises:
            ///     NotFoundError: `name` holds no lease (or a stale one), or no handover of it is
            ///         under way.
            ///     ConflictError: the handover was begun for another process, or `ticket` is not
            ///         the one under way.
            ///     InvalidArgumentError: a bad name, pid or timeout.
            ///     BusyError: the registry's lock stayed held for the whole timeout.
            ///     RegistryError: the registry file cannot be used.
            ///     PortpoolIOError: the operating system failed a read or write.
            #[pyo3(signature = (name, pid=None, *, ticket=None, timeout=None))]
            fn abort_handover / abort_handover_async(py, name: &str, pid: Option<&Bound<'_, PyAny>>, ticket: Option<u64>) {
                let pid = pid_arg(py, pid)?;
                let name = name.to_owned();
                work(move |reg| reg.abort_handover_ticket(&name, pid, ticket))
            }

            /// Begins `name`'s handover as begin_handover() does, and returns it with its ticket.
            ///
            /// A handover already under way raises ConflictError naming its ticket and port,
            /// whoever asks, unless `ticket` is that ticket (a retry: the same handover comes back,
            /// with created False) or `supersede` (it is aborted and a new one begun, with a new
            /// ticket, in one change).
            ///
            /// Args:
            ///     name: The lease's name.
            ///     pid: The next generation's process, which owns the lease after the commit.
            ///     ticket: The ticket of the handover this caller began, for a retry.
            ///     supersede: Abort the handover under way, whichever it is, and begin a new one.
            ///     timeout: Seconds this call may wait for the registry's lock, on top of the
            ///         handle's lock_timeout (the shorter wins).
            ///
            /// Returns:
            ///     A Handover (name, port, ticket, created).
            ///
            /// Raises:
            ///     NotFoundError: `name` holds no lease.
            ///     ConflictError: a handover is under way (and neither its ticket nor supersede
            ///         was given), or the lease is fixed.
            ///     ExhaustedError: no port is free for the next generation.
            ///     InvalidArgumentError: a bad name, pid or timeout.
            ///     BusyError: the registry's lock stayed held for the whole timeout.
            ///     RegistryError: the registry file cannot be used.
            ///     PortpoolIOError: the operating system failed a read or write.
            #[pyo3(signature = (name, pid=None, *, ticket=None, supersede=false, timeout=None))]
            fn begin_handover_ticket / begin_handover_ticket_async(py, name: &str, pid: Option<&Bound<'_, PyAny>>, ticket: Option<u64>, supersede: bool) {
                let options = pp::HandoverOptions { pid: pid_arg(py, pid)?, ticket, supersede };
                let name = name.to_owned();
                Ok(Box::new(move |reg: &pp::Registry| {
                    let handover = reg.begin_handover_with(&name, &options)?;
                    // A cancelled caller's handover is aborted again (its ticket only), if this call
                    // began it.
                    let ticket = handover.ticket;
                    let undo = handover.created.then(|| -> Undo {
                        Box::new(move |reg| {
                            let _ = reg.abort_handover_ticket(&name, None, Some(ticket));
                        })
                    });
                    Ok(Done {
                        value: Box::new(Value("Handover", handover)),
                        undo,
                    })
                }))
            }

            /// Begins a handover of each of `names` in one change: all begin, or none does.
            ///
            /// A rolling restart of N instances is then one decision: a crash leaves all of them
            /// pending or none.
            ///
            /// Args:
            ///     names: The leases' names (an iterable of str), each given once.
            ///     pid: The next generation's process for every name.
            ///     supersede: Abort handovers under way and begin new ones, in the same change.
            ///     timeout: Seconds this call may wait for the registry's lock, on top of the
            ///         handle's lock_timeout (the shorter wins).
            ///
            /// Returns:
            ///     A list of Handover, in the order of `names`.
            ///
            /// Raises:
            ///     As begin_handover_ticket() (nothing begins then); InvalidArgumentError for a
            ///     name given twice.
            #[pyo3(signature = (names, pid=None, *, supersede=false, timeout=None))]
            fn begin_handovers / begin_handovers_async(py, names: Vec<String>, pid: Option<&Bound<'_, PyAny>>, supersede: bool) {
                let options = pp::HandoverOptions { pid: pid_arg(py, pid)?, ticket: None, supersede };
                Ok(Box::new(move |reg: &pp::Registry| {
                    let refs: Vec<&str> = names.iter().map(String::as_str).collect();
                    let begun = reg.begin_handovers(&refs, &options)?;
                    // A cancelled caller's handovers are aborted again, all with their tickets.
                    let tickets: Vec<(String, Option<u64>)> =
                        begun.iter().map(|h| (h.name.clone(), Some(h.ticket))).collect();
                    let undo: Undo = Box::new(move |reg| {
                        let _ = reg.abort_handovers(&endings_of(&tickets), None);
                    });
                    Ok(Done {
                        value: Box::new(Value("list[Handover]", begun)),
                        undo: Some(undo),
                    })
                }))
            }

            /// Commits the handover of each of `endings` in one change: all, or none.
            ///
            /// Args:
            ///     endings: (name, ticket) pairs; a ticket of None ends whatever handover of the
            ///         name is under way.
            ///     pid: Checked as by commit_handover(), for every name.
            ///     timeout: Seconds this call may wait for the registry's lock, on top of the
            ///         handle's lock_timeout (the shorter wins).
            ///
            /// Returns:
            ///     The new current ports, in order.
            ///
            /// Raises:
            ///     As commit_handover() (nothing changes then); InvalidArgumentError for a name
            ///     given twice.
            #[pyo3(signature = (endings, pid=None, *, timeout=None))]
            fn commit_handovers / commit_handovers_async(py, endings: Vec<(String, Option<u64>)>, pid: Option<&Bound<'_, PyAny>>) {
                let pid = pid_arg(py, pid)?;
                work(move |reg| reg.commit_handovers(&endings_of(&endings), pid))
            }

            /// Aborts the handover of each of `endings` in one change: all, or none.
            ///
            /// Args:
            ///     endings: (name, ticket) pairs, as for commit_handovers().
            ///     pid: Checked as by commit_handover(), for every name.
            ///     timeout: Seconds this call may wait for the registry's lock, on top of the
            ///         handle's lock_timeout (the shorter wins).
            ///
            /// Returns:
            ///     The released next ports, in order.
            ///
            /// Raises:
            ///     As commit_handovers().
            #[pyo3(signature = (endings, pid=None, *, timeout=None))]
            fn abort_handovers / abort_handovers_async(py, endings: Vec<(String, Option<u64>)>, pid: Option<&Bound<'_, PyAny>>) {
                let pid = pid_arg(py, pid)?;
                work(move |reg| reg.abort_handovers(&endings_of(&endings), pid))
            }
        }
    };
}
