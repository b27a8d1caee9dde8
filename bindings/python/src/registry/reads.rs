//! The operations that only read of the registry table: entries of `registry_methods!`
//! (see `registry/mod.rs`), passed on to the next part of the table.

/// The operations that only read: appends its entries to the table and hands it to the next macro.
macro_rules! reads_entries {
    ([$next:ident! $($rest:ident!)*] $($table:tt)*) => {
        $next! { [$($rest!)*] $($table)*

            /// The port leased to `name`, or `default` when it holds none.
            ///
            /// A stale lease (time to live over, owner gone) holds nothing, and gives `default`.
            ///
            /// Args:
            ///     name: The holder's name.
            ///     default: What to return when `name` holds no lease: None, or a port (1-65535),
            ///         checked as the command line checks `portpool get NAME DEFAULT`.
            ///     timeout: Seconds this call may wait behind another thread's call, on top of the
            ///         handle's lock_timeout (the shorter wins).
            ///
            /// Returns:
            ///     The port, or `default`.
            ///
            /// Raises:
            ///     InvalidArgumentError: a bad name, default or timeout.
            ///     BusyError: another thread's call held the registry for the whole timeout.
            ///     RegistryError: the registry file cannot be used.
            ///     PortpoolIOError: the operating system failed a read or write.
            #[pyo3(signature = (name, default=None, *, timeout=None))]
            fn get / get_async(py, name: &str, default: Option<&Bound<'_, PyAny>>) {
                let default = default.map(|d| port_arg(py, d)).transpose()?;
                let name = name.to_owned();
                work(move |reg| Ok(reg.get(&name)?.map(|l| l.port).or(default)))
            }

            /// Every lease, sorted by name.
            ///
            /// Args:
            ///     timeout: Seconds this call may wait behind another thread's call, on top of the
            ///         handle's lock_timeout (the shorter wins).
            ///
            /// Returns:
            ///     A list of Lease.
            ///
            /// Raises:
            ///     BusyError: another thread's call held the registry for the whole timeout.
            ///     RegistryError: the registry file cannot be used.
            ///     PortpoolIOError: the operating system failed a read or write.
            #[pyo3(signature = (*, timeout=None))]
            fn list / list_async(py) {
                work(|reg| Ok(Leases(reg.list()?)))
            }

            /// Every lease of every namespace, sorted by namespace (the default one first), then
            /// name.
            ///
            /// Args:
            ///     timeout: Seconds this call may wait behind another thread's call, on top of the
            ///         handle's lock_timeout (the shorter wins).
            ///
            /// Returns:
            ///     A list of Lease.
            ///
            /// Raises:
            ///     As list().
            #[pyo3(signature = (*, timeout=None))]
            fn list_all_namespaces / list_all_namespaces_async(py) {
                work(|reg| Ok(Leases(reg.list_all_namespaces()?)))
            }

            /// Every pool, sorted by name; "default" is always there.
            ///
            /// Args:
            ///     timeout: Seconds this call may wait behind another thread's call, on top of the
            ///         handle's lock_timeout (the shorter wins).
            ///
            /// Returns:
            ///     A list of Pool.
            ///
            /// Raises:
            ///     BusyError: another thread's call held the registry for the whole timeout.
            ///     RegistryError: the registry file cannot be used.
            ///     PortpoolIOError: the operating system failed a read or write.
            #[pyo3(signature = (*, timeout=None))]
            fn pools / pools_async(py) {
                work(|reg| Ok(Value("list[Pool]", reg.pools()?)))
            }

            /// Whether `port` is free, leased (to whom) or bound outside the registry.
            ///
            /// Stale leases count as free, as register() and allocate() would reclaim them.
            ///
            /// Args:
            ///     port: The port, 1-65535.
            ///     protocol: "tcp" (default), "udp", or "tcp+udp" (one port for both).
            ///     timeout: Seconds this call may wait behind another thread's call, on top of the
            ///         handle's lock_timeout (the shorter wins).
            ///
            /// Returns:
            ///     A PortState.
            ///
            /// Raises:
            ///     InvalidArgumentError: a bad port, protocol or timeout.
            ///     BusyError: another thread's call held the registry for the whole timeout.
            ///     RegistryError: the registry file cannot be used.
            ///     PortpoolIOError: the operating system failed a read or write.
            #[pyo3(signature = (port, protocol="tcp", *, timeout=None))]
            fn check / check_async(py, port: &Bound<'_, PyAny>, protocol: &str) {
                let port = port_arg(py, port)?;
                let protocol = protocol_arg(py, protocol)?;
                work(move |reg| Ok(Value("PortState", reg.check(port, protocol)?)))
            }

            /// Everything known about `port`: the leases holding it (TCP and UDP, current or next)
            /// and the server sockets bound to it with their processes, read from /proc.
            ///
            /// Args:
            ///     port: The port, 1-65535.
            ///     timeout: Seconds this call may wait behind another thread's call, on top of the
            ///         handle's lock_timeout (the shorter wins).
            ///
            /// Returns:
            ///     A Who.
            ///
            /// Raises:
            ///     InvalidArgumentError: a bad port or timeout.
            ///     BusyError: another thread's call held the registry for the whole timeout.
            ///     RegistryError: the registry file cannot be used.
            ///     PortpoolIOError: the operating system failed a read or write.
            #[pyo3(signature = (port, *, timeout=None))]
            fn who / who_async(py, port: &Bound<'_, PyAny>) {
                let port = port_arg(py, port)?;
                work(move |reg| Ok(Value("Who", reg.who(port)?)))
            }

            /// Checks the registry against the host: leases nothing listens on, listeners on leased
            /// ports that are not the owner (or its descendants), stale owners, expired leases, and
            /// pools overlapping the kernel's ephemeral ports. Reads only.
            ///
            /// Args:
            ///     timeout: Seconds this call may wait behind another thread's call, on top of the
            ///         handle's lock_timeout (the shorter wins).
            ///
            /// Returns:
            ///     A DoctorReport; its findings are empty when all is well.
            ///
            /// Raises:
            ///     BusyError: another thread's call held the registry for the whole timeout.
            ///     RegistryError: the registry file cannot be used.
            ///     PortpoolIOError: the operating system failed a read or write.
            #[pyo3(signature = (*, timeout=None))]
            fn doctor / doctor_async(py) {
                work(|reg| Ok(Value("DoctorReport", reg.doctor()?)))
            }
        }
    };
}
