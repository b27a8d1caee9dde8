// Code generated from core's LeaseOptions and tests/parity/options.tsv by
// cli/tests/parity/gen_node.rs; DO NOT EDIT.
// PORTPOOL_BLESS=1 cargo test -p portpool-cli --test parity regenerates it.

//! The options objects of the operations that take core's lease options: each field's doc
//! is core's, and `lease()` converts the lease fields through one converter per kind of
//! option (lib.rs). Declared with `options!`, so read strictly.

use napi_derive::napi;
use portpool_core as pp;

use crate::options::{PortList, PortRange, options};
use crate::{flag_arg, host_arg, pid_arg, port_list, protocol_arg, range_arg, ttl_arg};

options! {
    /// Options of `Registry.register`.
    pub struct RegisterOptions {
        /// `'flexible'` (default): the first free preferred port, then the first free port of
        /// `range`, or without a range the next free port above the first preferred one. `'fixed'`:
        /// one of the preferred ports or of `range`, else `PORTPOOL_CONFLICT` (`PORTPOOL_EXHAUSTED`
        /// when a range was searched).
        #[napi(ts_type = "'flexible' | 'fixed'")]
        pub mode: Option<String>,
        /// TCP (the default), UDP, or `tcp+udp`: one port number held for both.
        #[napi(ts_type = "'tcp' | 'udp' | 'tcp+udp'")]
        pub protocol: Option<String>,
        /// Take the port even when a process outside the registry has it bound (a fixed-mode
        /// `register` only; a port leased to another name is never taken), and return the port of a
        /// name whose live lease another user made, as every call of a handle opened with force
        /// does.
        pub force: Option<bool>,
        /// The process that owns the lease: once it exits, the lease is stale and is reclaimed.
        pub pid: Option<f64>,
        /// Seconds the lease lives unless renewed. A whole number.
        pub ttl: Option<f64>,
        /// Ports never handed out, even when preferred or next in the pool.
        pub exclude: Option<Vec<f64>>,
        /// After the preferred ports, the ports of this range in order (inclusive), in either mode.
        /// Only with preferred ports: a pool has its own range, so `allocate` refuses one. Written
        /// `[lo, hi]`: an array of two port numbers.
        #[napi(ts_type = "[number, number]")]
        pub range: Option<PortRange>,
        /// Probe candidates on this one address instead of the IPv4 and IPv6 wildcards: a port
        /// bound on another address may then be handed out, and is good only for a server bound to
        /// this one. `listen` also binds there unless its listen options name an address. An IP
        /// address, such as `'127.0.0.1'` or `'::1'`.
        pub host: Option<String>,
        /// Probe candidates as this process will bind them, for a lease whose holder is the caller
        /// itself (as get-port's is): a port it may not bind, such as a privileged port for an
        /// unprivileged process, is unavailable. Off (the default), such a port is judged by the
        /// kernel's socket tables, as a lease may be for a privileged service.
        pub bindable: Option<bool>,
    }

    /// Options of `Registry.allocate` and `Registry.allocateMany`.
    pub struct AllocateOptions {
        /// The pool to take a port from; `'default'` (9000–18999 unless changed) when omitted.
        pub pool: Option<String>,
        /// TCP (the default), UDP, or `tcp+udp`: one port number held for both.
        #[napi(ts_type = "'tcp' | 'udp' | 'tcp+udp'")]
        pub protocol: Option<String>,
        /// Take the port even when a process outside the registry has it bound (a fixed-mode
        /// `register` only; a port leased to another name is never taken), and return the port of a
        /// name whose live lease another user made, as every call of a handle opened with force
        /// does.
        pub force: Option<bool>,
        /// The process that owns the lease: once it exits, the lease is stale and is reclaimed.
        pub pid: Option<f64>,
        /// Seconds the lease lives unless renewed. A whole number.
        pub ttl: Option<f64>,
        /// Ports never handed out, even when preferred or next in the pool.
        pub exclude: Option<Vec<f64>>,
        /// Probe candidates on this one address instead of the IPv4 and IPv6 wildcards: a port
        /// bound on another address may then be handed out, and is good only for a server bound to
        /// this one. `listen` also binds there unless its listen options name an address. An IP
        /// address, such as `'127.0.0.1'` or `'::1'`.
        pub host: Option<String>,
        /// Probe candidates as this process will bind them, for a lease whose holder is the caller
        /// itself (as get-port's is): a port it may not bind, such as a privileged port for an
        /// unprivileged process, is unavailable. Off (the default), such a port is judged by the
        /// kernel's socket tables, as a lease may be for a privileged service.
        pub bindable: Option<bool>,
    }

    /// Options of `Registry.lease` and `Registry.leaseSync`: a port from a pool (the default) or,
    /// with `port`, as `register` chooses it.
    pub struct ScopeOptions {
        /// The pool to take a port from; `'default'` when neither `pool` nor `port` is given.
        pub pool: Option<String>,
        /// The preferred port, or ports in order, as `register` takes them (with `mode` and
        /// `range`), instead of a pool's.
        #[napi(ts_type = "number | number[]")]
        pub port: Option<PortList>,
        /// With `port`: `'flexible'` (default) or `'fixed'`.
        #[napi(ts_type = "'flexible' | 'fixed'")]
        pub mode: Option<String>,
        /// TCP (the default), UDP, or `tcp+udp`: one port number held for both.
        #[napi(ts_type = "'tcp' | 'udp' | 'tcp+udp'")]
        pub protocol: Option<String>,
        /// Take the port even when a process outside the registry has it bound (a fixed-mode
        /// `register` only; a port leased to another name is never taken), and return the port of a
        /// name whose live lease another user made, as every call of a handle opened with force
        /// does.
        pub force: Option<bool>,
        /// The process that owns the lease: once it exits, the lease is stale and is reclaimed.
        /// Default: this process (`process.pid`, which in a worker thread is the whole process: the
        /// lease outlives the worker).
        pub pid: Option<f64>,
        /// Seconds the lease lives unless renewed. A whole number.
        pub ttl: Option<f64>,
        /// Ports never handed out, even when preferred or next in the pool.
        pub exclude: Option<Vec<f64>>,
        /// After the preferred ports, the ports of this range in order (inclusive), in either mode.
        /// Only with preferred ports: a pool has its own range, so `allocate` refuses one. Written
        /// `[lo, hi]`: an array of two port numbers.
        #[napi(ts_type = "[number, number]")]
        pub range: Option<PortRange>,
        /// Probe candidates on this one address instead of the IPv4 and IPv6 wildcards: a port
        /// bound on another address may then be handed out, and is good only for a server bound to
        /// this one. `listen` also binds there unless its listen options name an address. An IP
        /// address, such as `'127.0.0.1'` or `'::1'`.
        pub host: Option<String>,
        /// Probe candidates as this process will bind them, for a lease whose holder is the caller
        /// itself (as get-port's is): a port it may not bind, such as a privileged port for an
        /// unprivileged process, is unavailable. Off (the default), such a port is judged by the
        /// kernel's socket tables, as a lease may be for a privileged service.
        pub bindable: Option<bool>,
    }

    /// Options of `Registry.listen` and `Registry.listenScoped`: which port (a pool's, the default,
    /// or with `port` as `register` chooses it), how to bind it, and whose lease it is.
    pub struct ListenOptions {
        /// The pool to take a port from; `'default'` when neither `pool` nor `port` is given.
        pub pool: Option<String>,
        /// The preferred port, or ports in order, as `register` takes them (with `mode` and
        /// `range`), instead of a pool's.
        #[napi(ts_type = "number | number[]")]
        pub port: Option<PortList>,
        /// With `port`: `'flexible'` (default) or `'fixed'`.
        #[napi(ts_type = "'flexible' | 'fixed'")]
        pub mode: Option<String>,
        /// TCP: the length of the queue of connections not yet accepted (default, and 0: the
        /// kernel's `net.core.somaxconn`, which also caps it).
        pub backlog: Option<f64>,
        /// TCP (the default), UDP, or `tcp+udp`: one port number held for both. Here one socket is
        /// one protocol: `'tcp'` gives a listening socket, `'udp'` a bound one, and `'tcp+udp'` is
        /// `PORTPOOL_INVALID_ARGUMENT`.
        #[napi(ts_type = "'tcp' | 'udp'")]
        pub protocol: Option<String>,
        /// The process that owns the lease: once it exits, the lease is stale and is reclaimed.
        /// Default: this process (`process.pid`).
        pub pid: Option<f64>,
        /// Seconds the lease lives unless renewed. A whole number.
        pub ttl: Option<f64>,
        /// Ports never handed out, even when preferred or next in the pool.
        pub exclude: Option<Vec<f64>>,
        /// After the preferred ports, the ports of this range in order (inclusive), in either mode.
        /// Only with preferred ports: a pool has its own range, so `allocate` refuses one. Written
        /// `[lo, hi]`: an array of two port numbers.
        #[napi(ts_type = "[number, number]")]
        pub range: Option<PortRange>,
        /// Probe candidates on this one address instead of the IPv4 and IPv6 wildcards: a port
        /// bound on another address may then be handed out, and is good only for a server bound to
        /// this one. `listen` also binds there unless its listen options name an address. An IP
        /// address, such as `'127.0.0.1'` or `'::1'`. Without it, `listen` binds `::` in dual-stack
        /// mode (IPv4 and IPv6) where the host has IPv6, else `0.0.0.0`.
        pub host: Option<String>,
    }
}

impl RegisterOptions {
    /// Core's lease options from this object's fields, each converted as its kind is.
    pub fn lease(&self) -> pp::Result<pp::LeaseOptions> {
        Ok(pp::LeaseOptions {
            protocol: protocol_arg(self.protocol.as_deref())?,
            force: flag_arg(self.force),
            pid: pid_arg(self.pid)?,
            ttl: ttl_arg(self.ttl)?,
            exclude: port_list(self.exclude.as_deref())?,
            range: range_arg(self.range)?,
            host: host_arg(self.host.as_deref())?,
            bindable: flag_arg(self.bindable),
        })
    }
}

impl AllocateOptions {
    /// Core's lease options from this object's fields, each converted as its kind is.
    pub fn lease(&self) -> pp::Result<pp::LeaseOptions> {
        Ok(pp::LeaseOptions {
            protocol: protocol_arg(self.protocol.as_deref())?,
            force: flag_arg(self.force),
            pid: pid_arg(self.pid)?,
            ttl: ttl_arg(self.ttl)?,
            exclude: port_list(self.exclude.as_deref())?,
            host: host_arg(self.host.as_deref())?,
            bindable: flag_arg(self.bindable),
            ..pp::LeaseOptions::default()
        })
    }
}

impl ScopeOptions {
    /// Core's lease options from this object's fields, each converted as its kind is.
    pub fn lease(&self) -> pp::Result<pp::LeaseOptions> {
        Ok(pp::LeaseOptions {
            protocol: protocol_arg(self.protocol.as_deref())?,
            force: flag_arg(self.force),
            pid: pid_arg(self.pid)?,
            ttl: ttl_arg(self.ttl)?,
            exclude: port_list(self.exclude.as_deref())?,
            range: range_arg(self.range)?,
            host: host_arg(self.host.as_deref())?,
            bindable: flag_arg(self.bindable),
        })
    }
}

impl ListenOptions {
    /// Core's lease options from this object's fields, each converted as its kind is.
    pub fn lease(&self) -> pp::Result<pp::LeaseOptions> {
        Ok(pp::LeaseOptions {
            protocol: protocol_arg(self.protocol.as_deref())?,
            pid: pid_arg(self.pid)?,
            ttl: ttl_arg(self.ttl)?,
            exclude: port_list(self.exclude.as_deref())?,
            range: range_arg(self.range)?,
            host: host_arg(self.host.as_deref())?,
            ..pp::LeaseOptions::default()
        })
    }
}
