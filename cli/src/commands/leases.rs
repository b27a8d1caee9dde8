//! Commands that lease, look up, renew, hand over and reclaim ports.

use portpool_core::parse_port;
use portpool_core::{
    Ending, Error, ErrorKind, FindOptions, Handover, HandoverOptions, Lease, Mode, PortState,
    Protocol, Reclaimed, Registry, find_free_ports,
};

use crate::Outcome;
use crate::args::{
    AllocateArgs, CheckArgs, FindFreeArgs, GetArgs, HandoverArgs, HandoversArgs, RegisterArgs,
    RenewArgs, SetOwnerArgs,
};
use crate::render::{Render, Row, emit, say, timestamp, value};
use crate::values::{parse_ports, parse_range};

/// `portpool register`: prints the port leased to the name.
pub(super) fn register(reg: &Registry, args: RegisterArgs) -> Result<Outcome, Error> {
    let ports = parse_ports(&args.port)?;
    let mode = args.mode.as_deref().map(str::parse::<Mode>).transpose()?;
    let options = args.lease.options()?;
    reg.set_force(args.lease.force);
    say([reg.register(&args.name, ports, mode.unwrap_or_default(), &options)?]);
    Ok(Outcome::Ok)
}

/// `portpool find-free`: prints free ports, one a line, leasing nothing.
pub(super) fn find_free(args: FindFreeArgs) -> Result<Outcome, Error> {
    let options = FindOptions {
        protocol: args.protocol.protocol(),
        ports: args
            .ports
            .as_deref()
            .map(parse_ports)
            .transpose()?
            .unwrap_or_default(),
        range: args.range.as_deref().map(parse_range).transpose()?,
        exclude: args.probe.excluded()?,
        count: args.count,
        host: args.probe.host()?,
    };
    emit(args.json, &FreePorts(find_free_ports(&options)?));
    Ok(Outcome::Ok)
}

/// The ports `find-free` found: one a line, or a JSON array of numbers.
struct FreePorts(Vec<u16>);

impl Render for FreePorts {
    fn text(&self) -> Vec<String> {
        self.0.iter().map(u16::to_string).collect()
    }

    fn json(&self) -> serde_json::Value {
        value(&self.0)
    }
}

/// `portpool get`: prints the name's port, or the default.
pub(super) fn get(reg: &Registry, args: GetArgs) -> Result<Outcome, Error> {
    let port = match args.default.as_deref().map(parse_port).transpose()? {
        Some(default) => reg.get(&args.name)?.map_or(default, |l| l.port),
        None => reg.lease(&args.name)?.port,
    };
    say([port]);
    Ok(Outcome::Ok)
}

/// `portpool allocate`: prints one port per name, in order.
pub(super) fn allocate(reg: &Registry, args: AllocateArgs) -> Result<Outcome, Error> {
    let options = args.lease.options()?;
    reg.set_force(args.lease.force);
    let ports = match args.names.as_slice() {
        [name] => vec![reg.allocate(name, args.pool.as_str(), &options)?],
        many => {
            let names: Vec<&str> = many.iter().map(String::as_str).collect();
            reg.allocate_many(&names, args.pool.as_str(), &options)?
        }
    };
    say(ports);
    Ok(Outcome::Ok)
}

/// `portpool release`: says whether there was a lease to release.
pub(super) fn release(reg: &Registry, name: &str, all: bool) -> Result<Outcome, Error> {
    let released = if all {
        reg.release_all(name)?
    } else {
        reg.release(name)?
    };
    if released {
        say([format!("released {name}")]);
    } else {
        say([format!("{name} held no lease")]);
    }
    Ok(Outcome::Ok)
}

/// `portpool list`: every lease, as a table.
pub(super) fn list(reg: &Registry, json: bool, all_namespaces: bool) -> Result<Outcome, Error> {
    let leases = if all_namespaces {
        reg.list_all_namespaces()?
    } else {
        reg.list()?
    };
    emit(json, leases.as_slice());
    Ok(Outcome::Ok)
}

impl Row for Lease {
    const HEADER: &'static [&'static str] = &[
        "NAME",
        "PORT",
        "PROTO",
        "MODE",
        "POOL",
        "NEXT",
        "PID",
        "EXPIRES",
        "CREATED",
        "STALE",
        "TICKET",
        "NAMESPACE",
    ];

    fn row(&self) -> Vec<String> {
        vec![
            self.name.clone(),
            self.port.to_string(),
            self.protocol.to_string(),
            self.mode.to_string(),
            self.pool.clone().unwrap_or_else(|| "-".into()),
            self.next.map_or_else(|| "-".into(), |n| n.port.to_string()),
            self.owner.map_or_else(|| "-".into(), |o| o.pid.to_string()),
            timestamp(self.expires),
            timestamp(Some(self.created)),
            self.stale.clone().unwrap_or_else(|| "-".into()),
            self.next
                .map_or_else(|| "-".into(), |n| n.ticket.to_string()),
            self.namespace.clone().unwrap_or_else(|| "-".into()),
        ]
    }
}

/// `portpool check`: exit 1 unless the port is free.
pub(super) fn check(reg: &Registry, args: CheckArgs) -> Result<Outcome, Error> {
    let port = parse_port(&args.port)?;
    let protocol = args.protocol.protocol();
    let state = reg.check(port, protocol)?;
    let free = state.is_free();
    emit(
        args.json,
        &Checked {
            port,
            protocol,
            state,
        },
    );
    Ok(if free { Outcome::Ok } else { Outcome::NotFree })
}

/// What `portpool check` found.
struct Checked {
    port: u16,
    protocol: Protocol,
    state: PortState,
}

impl Render for Checked {
    fn text(&self) -> Vec<String> {
        let Checked { port, protocol, .. } = self;
        vec![match &self.state {
            PortState::Free => format!("{port}/{protocol} free"),
            PortState::Leased(l) => {
                format!("{port}/{protocol} leased to {} ({})", named(l), l.mode)
            }
            PortState::Busy => {
                format!("{port}/{protocol} busy: bound by a process outside the registry")
            }
        }]
    }

    fn json(&self) -> serde_json::Value {
        serde_json::json!({
            "port": self.port, "protocol": self.protocol,
            "state": self.state.as_str(), "lease": self.state.lease(),
        })
    }
}

/// `portpool gc`: one line per reclaimed lease, and why.
pub(super) fn gc(reg: &Registry, json: bool) -> Result<Outcome, Error> {
    emit(json, reg.gc()?.as_slice());
    Ok(Outcome::Ok)
}

impl Render for [Reclaimed] {
    fn text(&self) -> Vec<String> {
        self.iter()
            .map(|r| {
                let verb = match &r.lease.next {
                    Some(_) => "settled",
                    None => "released",
                };
                let l = &r.lease;
                format!(
                    "{verb} {} {}/{}: {}",
                    named(l),
                    l.port,
                    l.protocol,
                    r.reason
                )
            })
            .collect()
    }

    fn json(&self) -> serde_json::Value {
        value(self)
    }
}

/// A lease's name as a person reads it: with its namespace, when it has one.
pub(super) fn named(lease: &Lease) -> String {
    match &lease.namespace {
        Some(ns) => format!("{} (namespace {ns})", lease.name),
        None => lease.name.clone(),
    }
}

/// `portpool renew`: prints when the lease now expires.
pub(super) fn renew(reg: &Registry, args: RenewArgs) -> Result<Outcome, Error> {
    let lease = reg.renew(&args.name, args.ttl)?;
    say([timestamp(lease.expires)]);
    Ok(Outcome::Ok)
}

/// `portpool set-owner`: prints the lease's port.
pub(super) fn set_owner(reg: &Registry, args: SetOwnerArgs) -> Result<Outcome, Error> {
    reg.set_force(args.force);
    let lease = reg.set_owner(&args.name, args.pid)?;
    say([lease.port.to_string()]);
    Ok(Outcome::Ok)
}

/// `portpool reset`: refuses without `--yes`.
pub(super) fn reset(reg: &Registry, yes: bool) -> Result<Outcome, Error> {
    if !yes {
        return Err(Error::new(
            ErrorKind::InvalidArgument,
            format!(
                "reset deletes every lease in {}; run 'portpool reset --yes' to confirm",
                reg.path().display()
            ),
        ));
    }
    reg.reset()?;
    Ok(Outcome::Ok)
}

/// `portpool handover`: begins, commits or aborts, and prints the port concerned (begin
/// with --json: the handover and its ticket).
pub(super) fn handover(reg: &Registry, args: HandoverArgs) -> Result<Outcome, Error> {
    let HandoverArgs {
        name,
        commit,
        abort,
        pid,
        force,
        ticket,
        supersede,
        json,
    } = args;
    reg.set_force(force);
    let port = if commit {
        reg.commit_handover_ticket(&name, pid, ticket)?
    } else if abort {
        reg.abort_handover_ticket(&name, pid, ticket)?
    } else {
        let options = HandoverOptions {
            pid,
            ticket,
            supersede,
        };
        let handover = reg.begin_handover_with(&name, &options)?;
        if json {
            emit(true, &handover);
            return Ok(Outcome::Ok);
        }
        handover.port
    };
    say([port]);
    Ok(Outcome::Ok)
}

/// `portpool handovers`: begins, commits or aborts several handovers in one change and
/// prints NAME PORT TICKET for each (commit and abort: NAME PORT).
pub(super) fn handovers(reg: &Registry, args: HandoversArgs) -> Result<Outcome, Error> {
    reg.set_force(args.force);
    let endings = args
        .names
        .iter()
        .map(|arg| ending(arg))
        .collect::<Result<Vec<_>, Error>>()?;
    if args.commit || args.abort {
        let ports = if args.commit {
            reg.commit_handovers(&endings, args.pid)?
        } else {
            reg.abort_handovers(&endings, args.pid)?
        };
        say(endings
            .iter()
            .zip(ports)
            .map(|(e, p)| format!("{} {p}", e.name)));
        return Ok(Outcome::Ok);
    }
    if let Some(e) = endings.iter().find(|e| e.ticket.is_some()) {
        return Err(Error::new(
            ErrorKind::InvalidArgument,
            format!(
                "{}: a ticket is for --commit or --abort; a begin takes names",
                e.name
            ),
        ));
    }
    let names: Vec<&str> = endings.iter().map(|e| e.name).collect();
    let options = HandoverOptions {
        pid: args.pid,
        ticket: None,
        supersede: args.supersede,
    };
    let begun = reg.begin_handovers(&names, &options)?;
    if args.json {
        emit(true, begun.as_slice());
    } else {
        say(begun
            .iter()
            .map(|h| format!("{} {} {}", h.name, h.port, h.ticket)));
    }
    Ok(Outcome::Ok)
}

/// `NAME` or `NAME=TICKET`: the handover to end and the ticket to check.
fn ending(arg: &str) -> Result<Ending<'_>, Error> {
    let Some((name, ticket)) = arg.rsplit_once('=') else {
        return Ok(Ending {
            name: arg,
            ticket: None,
        });
    };
    let ticket = ticket.parse::<u64>().map_err(|_| {
        Error::new(
            ErrorKind::InvalidArgument,
            format!("invalid ticket {ticket:?} in {arg:?}: a ticket is a whole number"),
        )
    })?;
    Ok(Ending {
        name,
        ticket: Some(ticket),
    })
}

impl Row for Handover {
    const HEADER: &'static [&'static str] = &["NAME", "PORT", "TICKET", "CREATED"];

    fn row(&self) -> Vec<String> {
        vec![
            self.name.clone(),
            self.port.to_string(),
            self.ticket.to_string(),
            self.created.to_string(),
        ]
    }
}

impl Render for Handover {
    fn text(&self) -> Vec<String> {
        vec![self.port.to_string()]
    }

    fn json(&self) -> serde_json::Value {
        value(self)
    }
}
