// Code generated from core's LeaseOptions and tests/parity/options.tsv by cli/tests/parity/gen_cli.rs; DO NOT EDIT.
// PORTPOOL_BLESS=1 cargo test -p portpool-cli --test parity regenerates it.

//! The lease options of each subcommand that takes some: per option of core's
//! `LeaseOptions` that tests/parity/options.tsv gives the subcommand as a `--flag`, a field
//! whose help is core's doc, and its conversion through the converter of its kind
//! ([`crate::values`]).

use clap::Args;
use portpool_core::{Error, LeaseOptions, Protocol};

use crate::values;

// The lease options of `portpool register` (core's register). A plain comment: a doc comment would
// become the subcommand's about, as deferred arguments are added after its own.
#[derive(Args)]
pub(crate) struct RegisterLease {
    /// TCP (the default), UDP, or tcp+udp: one port number held for both. Written tcp, udp or
    /// tcp+udp.
    #[arg(
        long,
        value_name = "PROTO",
        value_parser = values::protocol_value,
        conflicts_with = "udp",
    )]
    pub(crate) protocol: Option<Protocol>,
    /// Short for --protocol udp.
    #[arg(long)]
    pub(crate) udp: bool,
    /// Take the port even when a process outside the registry has it bound (a fixed-mode register
    /// only; a port leased to another name is never taken), and return the port of a name whose
    /// live lease another user made, as every call of a handle opened with force does.
    #[arg(long)]
    pub(crate) force: bool,
    /// The process that owns the lease: once it exits, the lease is stale and is reclaimed.
    #[arg(long, value_name = "PID")]
    pub(crate) pid: Option<u32>,
    /// Seconds the lease lives unless renewed.
    #[arg(long, value_name = "SECS")]
    pub(crate) ttl: Option<u64>,
    /// Ports never handed out, even when preferred or next in the pool. Comma separated or
    /// repeated, e.g. --exclude 4001,4002.
    #[arg(long, value_name = "PORTS", value_delimiter = ',')]
    pub(crate) exclude: Vec<String>,
    /// After the preferred ports, the ports of this range in order (inclusive), in either mode.
    /// Only with preferred ports: a pool has its own range, so allocate refuses one. Written
    /// START-END, e.g. 4000-4100.
    #[arg(long, value_name = "START-END")]
    pub(crate) range: Option<String>,
    /// Probe candidates on this one address instead of the IPv4 and IPv6 wildcards: a port bound on
    /// another address may then be handed out, and is good only for a server bound to this one. run
    /// --listen also binds there unless its listen options name an address. An IPv4 or IPv6
    /// address, e.g. 127.0.0.1 or ::1.
    #[arg(long, value_name = "ADDR")]
    pub(crate) host: Option<String>,
    /// Probe candidates as this process will bind them, for a lease whose holder is the caller
    /// itself (as get-port's is): a port it may not bind, such as a privileged port for an
    /// unprivileged process, is unavailable. Off (the default), such a port is judged by the
    /// kernel's socket tables, as a lease may be for a privileged service.
    #[arg(long)]
    pub(crate) bindable: bool,
}

impl RegisterLease {
    /// The lease options these flags ask for.
    #[allow(clippy::needless_update)] // the update is for the options core adds
    pub(crate) fn options(&self) -> Result<LeaseOptions, Error> {
        Ok(LeaseOptions {
            protocol: values::protocol(self.protocol, self.udp),
            force: self.force,
            pid: self.pid,
            ttl: self.ttl,
            exclude: values::ports(&self.exclude)?,
            range: values::range(self.range.as_deref())?,
            host: values::address(self.host.as_deref())?,
            bindable: self.bindable,
            ..LeaseOptions::default()
        })
    }
}

// The lease options of `portpool allocate` (core's allocate and allocate_many). A plain comment: a
// doc comment would become the subcommand's about, as deferred arguments are added after its own.
#[derive(Args)]
pub(crate) struct AllocateLease {
    /// TCP (the default), UDP, or tcp+udp: one port number held for both. Written tcp, udp or
    /// tcp+udp.
    #[arg(
        long,
        value_name = "PROTO",
        value_parser = values::protocol_value,
        conflicts_with = "udp",
    )]
    pub(crate) protocol: Option<Protocol>,
    /// Short for --protocol udp.
    #[arg(long)]
    pub(crate) udp: bool,
    /// Take the port even when a process outside the registry has it bound (a fixed-mode register
    /// only; a port leased to another name is never taken), and return the port of a name whose
    /// live lease another user made, as every call of a handle opened with force does.
    #[arg(long)]
    pub(crate) force: bool,
    /// The process that owns the lease: once it exits, the lease is stale and is reclaimed.
    #[arg(long, value_name = "PID")]
    pub(crate) pid: Option<u32>,
    /// Seconds the lease lives unless renewed.
    #[arg(long, value_name = "SECS")]
    pub(crate) ttl: Option<u64>,
    /// Ports never handed out, even when preferred or next in the pool. Comma separated or
    /// repeated, e.g. --exclude 4001,4002.
    #[arg(long, value_name = "PORTS", value_delimiter = ',')]
    pub(crate) exclude: Vec<String>,
    /// Probe candidates on this one address instead of the IPv4 and IPv6 wildcards: a port bound on
    /// another address may then be handed out, and is good only for a server bound to this one. run
    /// --listen also binds there unless its listen options name an address. An IPv4 or IPv6
    /// address, e.g. 127.0.0.1 or ::1.
    #[arg(long, value_name = "ADDR")]
    pub(crate) host: Option<String>,
    /// Probe candidates as this process will bind them, for a lease whose holder is the caller
    /// itself (as get-port's is): a port it may not bind, such as a privileged port for an
    /// unprivileged process, is unavailable. Off (the default), such a port is judged by the
    /// kernel's socket tables, as a lease may be for a privileged service.
    #[arg(long)]
    pub(crate) bindable: bool,
}

impl AllocateLease {
    /// The lease options these flags ask for.
    #[allow(clippy::needless_update)] // the update is for the options core adds
    pub(crate) fn options(&self) -> Result<LeaseOptions, Error> {
        Ok(LeaseOptions {
            protocol: values::protocol(self.protocol, self.udp),
            force: self.force,
            pid: self.pid,
            ttl: self.ttl,
            exclude: values::ports(&self.exclude)?,
            host: values::address(self.host.as_deref())?,
            bindable: self.bindable,
            ..LeaseOptions::default()
        })
    }
}

// The lease options of `portpool run` (core's lease_scoped and listen). A plain comment: a doc
// comment would become the subcommand's about, as deferred arguments are added after its own.
#[derive(Args)]
pub(crate) struct RunLease {
    /// TCP (the default), UDP, or tcp+udp: one port number held for both. Written tcp, udp or
    /// tcp+udp.
    #[arg(
        long,
        value_name = "PROTO",
        value_parser = values::protocol_value,
        conflicts_with = "udp",
    )]
    pub(crate) protocol: Option<Protocol>,
    /// Short for --protocol udp.
    #[arg(long)]
    pub(crate) udp: bool,
    /// Probe candidates on this one address instead of the IPv4 and IPv6 wildcards: a port bound on
    /// another address may then be handed out, and is good only for a server bound to this one. run
    /// --listen also binds there unless its listen options name an address. An IPv4 or IPv6
    /// address, e.g. 127.0.0.1 or ::1.
    #[arg(long, value_name = "ADDR")]
    pub(crate) host: Option<String>,
}

impl RunLease {
    /// The lease options these flags ask for.
    #[allow(clippy::needless_update)] // the update is for the options core adds
    pub(crate) fn options(&self) -> Result<LeaseOptions, Error> {
        Ok(LeaseOptions {
            protocol: values::protocol(self.protocol, self.udp),
            host: values::address(self.host.as_deref())?,
            ..LeaseOptions::default()
        })
    }
}
