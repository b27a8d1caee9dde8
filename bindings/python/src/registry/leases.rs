//! The lease-making and lease-changing operations of the registry table: entries of `registry_methods!`
//! (see `registry/mod.rs`), passed on to the next part of the table.

/// The lease-making and lease-changing operations: appends its entries to the table and hands it to the next macro.
macro_rules! leases_entries {
    ([$next:ident! $($rest:ident!)*] $($table:tt)*) => {
        $next! { [$($rest!)*] $($table)*

            /// Leases a port to `name` and returns it.
            ///
            /// A name that already holds a lease gets its port back. Candidates, in order: the
            /// preferred ports, then `range`; without a range, "flexible" goes on upward from the
            /// first preferred port, and "fixed" takes only the preferred ports or raises
            /// ConflictError. A candidate is taken when it is neither leased nor bound (nor
            /// excluded). Stale leases (owner gone, ttl over) in the way are reclaimed.
            ///
            /// Args:
            ///     name: The holder's unique name (1-128 bytes, no whitespace or control characters).
            ///     port: The port wanted, 1-65535, or a sequence of preferred ports in order
            ///         (`[3000, 3001]`).
            ///     mode: "flexible" (default) or "fixed".
            ///     timeout: Seconds this call may wait for the registry's lock, on top of the
            ///         handle's lock_timeout (the shorter wins).
            ///     **options: The lease options, as keywords (`protocol="udp"`, `ttl=60`): the
            ///         keys of portpool.RegisterOptions, each with its type, default and meaning.
            ///
            /// Returns:
            ///     The port leased to `name`.
            ///
            /// Raises:
            ///     ConflictError: "fixed" and every candidate is taken, or `name` holds another port
            ///         or protocol.
            ///     ExhaustedError: "flexible" and no free candidate (to 65535 without a range).
            ///     InvalidArgumentError: a bad name, port, mode, range, exclude, host (not an
            ///         address of this machine), protocol, pid, ttl or timeout.
            ///     BusyError: the registry's lock stayed held for the whole timeout.
            ///     RegistryError: the registry file cannot be used.
            ///     PortpoolIOError: the operating system failed a read or write.
            ///     TypeError: an argument of the wrong type, or a keyword the call does not take.
            #[pyo3(signature = (name, port, mode="flexible", *, timeout=None, **options))]
            fn register / register_async(
                py,
                name: &str,
                port: &Bound<'_, PyAny>,
                mode: &str;
                **options
            ) {
                let ports = ports_arg(py, port)?;
                let mode = pp::Mode::from_str(mode).or_raise(py)?;
                let opts = options_gen::register(&options)?;
                let protocol = opts.protocol;
                leasing(name, protocol, move |reg, name| {
                    reg.register_grant(name, ports, mode, &opts)
                })
            }

            /// Leases the next free port of `pool` to `name` and returns it.
            ///
            /// Starts at the pool's shared cursor, skips leased (and, when the pool probes, bound)
            /// ports, and wraps around once. A name that already holds a lease gets its port back.
            ///
            /// Args:
            ///     name: The holder's unique name.
            ///     pool: The pool's name; None (the default) means the "default" pool (9000-18999
            ///         unless changed), which always exists.
            ///     timeout: Seconds this call may wait for the registry's lock, on top of the
            ///         handle's lock_timeout (the shorter wins).
            ///     **options: The lease options, as keywords (`protocol="udp"`, `ttl=60`): the
            ///         keys of portpool.AllocateOptions, each with its type, default and meaning.
            ///
            /// Returns:
            ///     The port leased to `name`.
            ///
            /// Raises:
            ///     NotFoundError: no pool named `pool`.
            ///     ExhaustedError: every port of the pool is taken.
            ///     ConflictError: `name` holds a port of the other protocol.
            ///     InvalidArgumentError: a bad name, pool, exclude, protocol, pid, ttl or timeout.
            ///     BusyError: the registry's lock stayed held for the whole timeout.
            ///     RegistryError: the registry file cannot be used.
            ///     PortpoolIOError: the operating system failed a read or write.
            ///     TypeError: an argument of the wrong type, or a keyword the call does not take.
            #[pyo3(signature = (name, pool=None, *, timeout=None, **options))]
            fn allocate / allocate_async(
                py,
                name: &str,
                pool: Option<&str>;
                **options
            ) {
                let opts = options_gen::allocate(&options)?;
                let pool = pool.map(str::to_owned);
                let protocol = opts.protocol;
                leasing(name, protocol, move |reg, name| {
                    reg.allocate_grant(name, pool.as_deref(), &opts)
                })
            }

            /// Allocates a port of `pool` to each of `names` in one locked write: all or none.
            ///
            /// Names that already hold a lease get theirs back.
            ///
            /// Args:
            ///     names: The holders' unique names (a list or other iterable of str).
            ///     pool: The pool's name.
            ///     timeout: Seconds this call may wait for the registry's lock, on top of the
            ///         handle's lock_timeout (the shorter wins).
            ///     **options: The options of every lease made, as keywords (`protocol="udp"`, `ttl=60`): the
            ///         keys of portpool.AllocateManyOptions, each with its type, default and meaning.
            ///
            /// Returns:
            ///     The ports, in the order of `names`.
            ///
            /// Raises:
            ///     NotFoundError: no pool named `pool`.
            ///     ExhaustedError: the pool has too few free ports; nothing is leased.
            ///     InvalidArgumentError: a bad name (or one given twice), pool, exclude, host,
            ///         protocol, pid, ttl or timeout.
            ///     BusyError: the registry's lock stayed held for the whole timeout.
            ///     RegistryError: the registry file cannot be used.
            ///     PortpoolIOError: the operating system failed a read or write.
            ///     TypeError: `names` is a str, or holds something else than str; an option of
            ///         the wrong type, or a keyword the call does not take.
            #[pyo3(signature = (names, pool=None, *, timeout=None, **options))]
            fn allocate_many / allocate_many_async(
                py,
                names: &Bound<'_, PyAny>,
                pool: Option<&str>;
                **options
            ) {
                if names.is_instance_of::<PyString>() {
                    return Err(PyTypeError::new_err(
                        "names must be an iterable of str, not a str",
                    ));
                }
                let names: Vec<String> = names
                    .try_iter()?
                    .map(|name| name?.extract::<String>())
                    .collect::<PyResult<_>>()?;
                let opts = options_gen::allocate_many(&options)?;
                let pool = pool.map(str::to_owned);
                Ok(Box::new(move |reg: &pp::Registry| {
                    let borrowed: Vec<&str> = names.iter().map(String::as_str).collect();
                    let grants = reg.allocate_many_grants(&borrowed, pool.as_deref(), &opts)?;
                    let ports: Vec<u16> = grants.iter().map(|g| g.port).collect();
                    // A cancelled caller gives back exactly the leases this call made.
                    let made: Vec<(String, pp::Grant)> = names
                        .into_iter()
                        .zip(grants)
                        .filter(|(_, g)| g.created)
                        .collect();
                    let protocol = opts.protocol;
                    let undo = (!made.is_empty()).then(|| -> Undo {
                        Box::new(move |reg| {
                            for (name, grant) in made {
                                let _ = grant.undo(reg, &name, protocol);
                            }
                        })
                    });
                    Ok(Done {
                        value: Box::new(ports),
                        undo,
                    })
                }))
            }

            /// Leases a port to `name` and returns a socket bound to it, in one step: no process,
            /// in the registry or outside it, can take the port between the lease and the bind.
            ///
            /// Under the registry's lock, the port is chosen as allocate() (from `pool`) or
            /// register() (from `port`) would choose it, bound, and only then leased. TCP sockets
            /// listen (with SO_REUSEADDR, as servers set it); UDP sockets are bound. The address is
            /// `host`, else the IPv6 wildcard in dual-stack mode (IPv4 too) where the host has IPv6,
            /// else 0.0.0.0. A name that already holds a lease gets a socket on that lease's port.
            ///
            /// The caller owns the socket and closes it (`with reg.listen(...) as sock:`); it is not
            /// inherited across exec. Closing it does not release the lease, and releasing does not
            /// close it: release() ends the lease, or owner-pid reclaim does once the owning process
            /// (this one, unless `pid`) has exited.
            ///
            /// Args:
            ///     name: The holder's unique name.
            ///     pool: The pool to allocate from; None: the default pool (unless `port`).
            ///     port: A port, or a sequence of preferred ports, as for register().
            ///     mode: With `port`: "flexible" (default) or "fixed".
            ///     backlog: TCP: the queue of connections not yet accepted (default, and 0: the kernel's somaxconn).
            ///     timeout: Seconds this call may wait for the registry's lock, on top of the
            ///         handle's lock_timeout (the shorter wins).
            ///     **options: The lease options, as keywords (`protocol="udp"`, `ttl=60`): the
            ///         keys of portpool.ListenOptions, each with its type, default and meaning.
            ///         `protocol` is "tcp" (default: a listening socket) or "udp" (a bound
            ///         socket); "tcp+udp" is an InvalidArgumentError, as one socket is one
            ///         protocol. `host` is also the address bound; None: the wildcard.
            ///
            /// Returns:
            ///     A socket.socket bound to the leased port (`sock.getsockname()[1]`).
            ///
            /// Raises:
            ///     NotFoundError: no pool named `pool`.
            ///     ExhaustedError: no candidate port could be bound.
            ///     ConflictError: "fixed" and every candidate is taken, `name` holds a port of the
            ///         other protocol, or its port is bound by another process.
            ///     InvalidArgumentError: a bad name, pool, port, mode, range, exclude, protocol,
            ///         host (not an address of this machine), backlog, pid, ttl or timeout, or both
            ///         `pool` and `port`.
            ///     BusyError: the registry's lock stayed held for the whole timeout.
            ///     RegistryError: the registry file cannot be used.
            ///     PortpoolIOError: the operating system refused the socket, or failed a read or
            ///         write.
            ///     TypeError: an argument of the wrong type, or a keyword the call does not take.
            #[pyo3(signature = (name, *, pool=None, port=None, mode="flexible", backlog=None, timeout=None, **options))]
            fn listen / listen_async(
                py,
                name: &str,
                pool: Option<&str>,
                port: Option<&Bound<'_, PyAny>>,
                mode: &str,
                backlog: Option<i64>;
                **options
            ) {
                let choice = choice_arg(py, pool, port, mode)?;
                // The address to bind is the lease options' `host`: core binds there.
                let opts = options_gen::listen(&options)?;
                let listen = pp::ListenOptions {
                    backlog: backlog_arg(py, backlog)?,
                    ..pp::ListenOptions::default()
                };
                let name = name.to_owned();
                Ok(Box::new(move |reg: &pp::Registry| {
                    let bound = reg.listen(&name, &choice, &opts, &listen)?;
                    let grant = pp::Grant {
                        port: bound.port,
                        created: bound.created,
                    };
                    Ok(Done {
                        value: Box::new(Listening(bound.fd, opts.protocol)),
                        undo: release_if(grant, name, opts.protocol),
                    })
                }))
            }

            /// Releases `name`'s lease.
            ///
            /// Args:
            ///     name: The holder's name.
            ///     timeout: Seconds this call may wait for the registry's lock, on top of the
            ///         handle's lock_timeout (the shorter wins).
            ///
            /// Returns:
            ///     True when there was a lease; an unknown name is not an error.
            ///
            /// Raises:
            ///     InvalidArgumentError: a bad name or timeout.
            ///     BusyError: the registry's lock stayed held for the whole timeout.
            ///     RegistryError: the registry file cannot be used.
            ///     PortpoolIOError: the operating system failed a read or write.
            #[pyo3(signature = (name, *, timeout=None))]
            fn release / release_async(py, name: &str) {
                let name = name.to_owned();
                work(move |reg| reg.release(&name))
            }

            /// Releases `name`'s lease and, when a handover is under way, its next generation's
            /// port too (release() raises ConflictError for such a lease).
            ///
            /// Args:
            ///     name: The holder's name.
            ///     timeout: Seconds this call may wait for the registry's lock, on top of the
            ///         handle's lock_timeout (the shorter wins).
            ///
            /// Returns:
            ///     True when there was a lease.
            ///
            /// Raises:
            ///     As release().
            #[pyo3(signature = (name, *, timeout=None))]
            fn release_all / release_all_async(py, name: &str) {
                let name = name.to_owned();
                work(move |reg| reg.release_all(&name))
            }

            /// Restarts `name`'s time to live from now.
            ///
            /// Args:
            ///     name: The holder's name.
            ///     ttl: New time to live in seconds; None keeps the one the lease was given.
            ///     timeout: Seconds this call may wait for the registry's lock, on top of the
            ///         handle's lock_timeout (the shorter wins).
            ///
            /// Returns:
            ///     The renewed Lease.
            ///
            /// Raises:
            ///     NotFoundError: `name` holds no lease.
            ///     InvalidArgumentError: a bad name, ttl or timeout, or no ttl given for a lease
            ///         without one.
            ///     BusyError: the registry's lock stayed held for the whole timeout.
            ///     RegistryError: the registry file cannot be used.
            ///     PortpoolIOError: the operating system failed a read or write.
            #[pyo3(signature = (name, ttl=None, *, timeout=None))]
            fn renew / renew_async(py, name: &str, ttl: Option<&Bound<'_, PyAny>>) {
                let ttl = ttl_arg(py, ttl)?;
                let name = name.to_owned();
                work(move |reg| Ok(Value("Lease", reg.renew(&name, ttl)?)))
            }

            /// Makes process `pid` the owner of `name`'s lease; None makes it permanent.
            ///
            /// Args:
            ///     name: The lease's name.
            ///     pid: The new owner; once it exits, the lease is stale and reclaimed.
            ///     timeout: Seconds this call may wait for the registry's lock, on top of the
            ///         handle's lock_timeout (the shorter wins).
            ///
            /// Returns:
            ///     The Lease as it now is.
            ///
            /// Raises:
            ///     NotFoundError: `name` holds no lease.
            ///     InvalidArgumentError: a bad name or timeout, or no process `pid`.
            ///     BusyError: the registry's lock stayed held for the whole timeout.
            ///     RegistryError: the registry file cannot be used.
            ///     PortpoolIOError: the operating system failed a read or write.
            #[pyo3(signature = (name, pid=None, *, timeout=None))]
            fn set_owner / set_owner_async(py, name: &str, pid: Option<&Bound<'_, PyAny>>) {
                let pid = pid_arg(py, pid)?;
                let name = name.to_owned();
                work(move |reg| Ok(Value("Lease", reg.set_owner(&name, pid)?)))
            }
        }
    };
}
