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
            ///     range: A (start, end) pair of ports (inclusive) to try after the preferred ones.
            ///     exclude: Ports never leased, even when preferred (an iterable of int).
            ///     host: Probe candidates on this one address (e.g. "127.0.0.1") instead of the IPv4
            ///         and IPv6 wildcards: a port some process has bound on another address may
            ///         then be leased, and is only good for `host`.
            ///     bindable: Probe as this process will bind: a port it may not bind (a privileged
            ///         port, for an unprivileged process) is unavailable. For a lease this process
            ///         serves on itself; False (default): such a port is judged by the kernel's
            ///         socket tables, as a lease may be for a privileged service.
            ///     protocol: "tcp" (default), "udp", or "tcp+udp" (one port for both).
            ///     force: "fixed" only: take the port even when a process outside the registry has
            ///         it bound. A port leased to another name is never taken. Any mode: also return
            ///         the port of a name whose live lease another user made.
            ///     pid: The owning process; once it exits, the lease is stale and reclaimed.
            ///     ttl: Seconds the lease lives unless renewed.
            ///     timeout: Seconds this call may wait for the registry's lock, on top of the
            ///         handle's lock_timeout (the shorter wins).
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
            ///     TypeError: an argument of the wrong type.
            #[pyo3(signature = (name, port, mode="flexible", *, range=None, exclude=None, host=None, bindable=false, protocol="tcp", force=false, pid=None, ttl=None, timeout=None))]
            fn register / register_async(
                py,
                name: &str,
                port: &Bound<'_, PyAny>,
                mode: &str,
                range: Option<&Bound<'_, PyAny>>,
                exclude: Option<&Bound<'_, PyAny>>,
                host: Option<&Bound<'_, PyAny>>,
                bindable: bool,
                protocol: &str,
                force: bool,
                pid: Option<&Bound<'_, PyAny>>,
                ttl: Option<&Bound<'_, PyAny>>,
            ) {
                let ports = ports_arg(py, port)?;
                let mode = pp::Mode::from_str(mode).or_raise(py)?;
                let opts = options(py, protocol, force, pid, ttl)?;
                let opts = pp::LeaseOptions {
                    bindable,
                    ..choosing(py, opts, range, exclude, host)?
                };
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
            ///     exclude: Ports of the pool never leased (an iterable of int).
            ///     host: Probe candidates on this one address (e.g. "127.0.0.1") instead of the IPv4
            ///         and IPv6 wildcards, as for register().
            ///     bindable: Probe as this process will bind: a port it may not bind (a privileged
            ///         port, for an unprivileged process) is unavailable. For a lease this process
            ///         serves on itself; False (default): such a port is judged by the kernel's
            ///         socket tables, as a lease may be for a privileged service.
            ///     protocol: "tcp" (default), "udp", or "tcp+udp" (one port for both).
            ///     force: Also return the port of a name whose live lease another user made.
            ///     pid: The owning process; once it exits, the lease is stale and reclaimed.
            ///     ttl: Seconds the lease lives unless renewed.
            ///     timeout: Seconds this call may wait for the registry's lock, on top of the
            ///         handle's lock_timeout (the shorter wins).
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
            ///     TypeError: an argument of the wrong type.
            #[pyo3(signature = (name, pool=None, *, exclude=None, host=None, bindable=false, protocol="tcp", force=false, pid=None, ttl=None, timeout=None))]
            fn allocate / allocate_async(
                py,
                name: &str,
                pool: Option<&str>,
                exclude: Option<&Bound<'_, PyAny>>,
                host: Option<&Bound<'_, PyAny>>,
                bindable: bool,
                protocol: &str,
                force: bool,
                pid: Option<&Bound<'_, PyAny>>,
                ttl: Option<&Bound<'_, PyAny>>,
            ) {
                let opts = options(py, protocol, force, pid, ttl)?;
                let opts = pp::LeaseOptions {
                    bindable,
                    ..choosing(py, opts, None, exclude, host)?
                };
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
            ///     exclude: Ports of the pool never leased (an iterable of int).
            ///     host: Probe candidates on this one address, as for register().
            ///     bindable: Probe as this process will bind, as for allocate().
            ///     protocol: "tcp" (default), "udp", or "tcp+udp" (one port for both).
            ///     force: Also return the port of a name whose live lease another user made.
            ///     pid: The owning process of every lease made.
            ///     ttl: Seconds the leases live unless renewed.
            ///     timeout: Seconds this call may wait for the registry's lock, on top of the
            ///         handle's lock_timeout (the shorter wins).
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
            ///     TypeError: `names` is a str, or holds something else than str.
            #[pyo3(signature = (names, pool=None, *, exclude=None, host=None, bindable=false, protocol="tcp", force=false, pid=None, ttl=None, timeout=None))]
            fn allocate_many / allocate_many_async(
                py,
                names: &Bound<'_, PyAny>,
                pool: Option<&str>,
                exclude: Option<&Bound<'_, PyAny>>,
                host: Option<&Bound<'_, PyAny>>,
                bindable: bool,
                protocol: &str,
                force: bool,
                pid: Option<&Bound<'_, PyAny>>,
                ttl: Option<&Bound<'_, PyAny>>,
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
                let opts = options(py, protocol, force, pid, ttl)?;
                let opts = pp::LeaseOptions {
                    bindable,
                    ..choosing(py, opts, None, exclude, host)?
                };
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
            ///     range: With `port`: a (start, end) pair of ports to fall back to.
            ///     exclude: Ports never leased (an iterable of int).
            ///     protocol: "tcp" (default: a listening socket) or "udp" (a bound socket);
            ///         "tcp+udp" is an InvalidArgumentError, as one socket is one protocol.
            ///     host: The address to bind, e.g. "127.0.0.1"; None: the wildcard.
            ///     backlog: TCP: the queue of connections not yet accepted (default, and 0: the kernel's somaxconn).
            ///     pid: The owning process; None: this process.
            ///     ttl: Seconds the lease lives unless renewed.
            ///     timeout: Seconds this call may wait for the registry's lock, on top of the
            ///         handle's lock_timeout (the shorter wins).
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
            ///     TypeError: an argument of the wrong type.
            #[pyo3(signature = (name, *, pool=None, port=None, mode="flexible", range=None, exclude=None, protocol="tcp", host=None, backlog=None, pid=None, ttl=None, timeout=None))]
            fn listen / listen_async(
                py,
                name: &str,
                pool: Option<&str>,
                port: Option<&Bound<'_, PyAny>>,
                mode: &str,
                range: Option<&Bound<'_, PyAny>>,
                exclude: Option<&Bound<'_, PyAny>>,
                protocol: &str,
                host: Option<&Bound<'_, PyAny>>,
                backlog: Option<i64>,
                pid: Option<&Bound<'_, PyAny>>,
                ttl: Option<&Bound<'_, PyAny>>,
            ) {
                let choice = choice_arg(py, pool, port, mode)?;
                let opts = choosing(py, options(py, protocol, false, pid, ttl)?, range, exclude, None)?;
                let listen = pp::ListenOptions {
                    host: host_arg(py, host)?,
                    backlog: backlog_arg(py, backlog)?,
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
