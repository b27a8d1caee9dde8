//! Commands that lease, look up, renew, hand over and reclaim ports.

use portpool_core::parse_port;
use portpool_core::{
    Error, ErrorKind, FindOptions, Lease, LeaseOptions, Mode, PortState, Protocol, Reclaimed,
    Registry, find_free_ports,
};

use crate::Outcome;
use crate::args::{
    AllocateArgs, CheckArgs, FindFreeArgs, GetArgs, HandoverArgs, RegisterArgs, RenewArgs,
    SetOwnerArgs, parse_ports, parse_range, protocol,
};
use crate::render::{Render, Row, emit, say, timestamp, value};

/// `portpool register`: prints the port leased to the name.
pub(super) fn register(reg: &Registry, args: RegisterArgs) -> Result<Outcome, Error> {
    let ports = parse_ports(&args.port)?;
    let mode = args.mode.as_deref().map(str::parse::<Mode>).transpose()?;
    let options = LeaseOptions {
        range: args.range.as_deref().map(parse_range).transpose()?,
        ..args.probe.apply(args.lease.options(args.force))?
    };
    reg.set_force(args.force);
    say([reg.register(&args.name, ports, mode.unwrap_or_default(), &options)?]);
    Ok(Outcome::Ok)
}

/// `portpool find-free`: prints free ports, one a line, leasing nothing.
pub(super) fn find_free(args: FindFreeArgs) -> Result<Outcome, Error> {
    let options = FindOptions {
        protocol: protocol(args.udp),
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
    let options = args.probe.apply(args.lease.options(false))?;
    reg.set_force(args.force);
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
pub(super) fn release(reg: &Registry, name: &str) -> Result<Outcome, Error> {
    if reg.release(name)? {
        say([format!("released {name}")]);
    } else {
        say([format!("{name} held no lease")]);
    }
    Ok(Outcome::Ok)
}

/// `portpool list`: every lease, as a table.
pub(super) fn list(reg: &Registry, json: bool) -> Result<Outcome, Error> {
    emit(json, reg.list()?.as_slice());
    Ok(Outcome::Ok)
}

impl Row for Lease {
    const HEADER: &'static [&'static str] = &[
        "NAME", "PORT", "PROTO", "MODE", "POOL", "NEXT", "PID", "EXPIRES", "CREATED", "STALE",
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
        ]
    }
}

/// `portpool check`: exit 1 unless the port is free.
pub(super) fn check(reg: &Registry, args: CheckArgs) -> Result<Outcome, Error> {
    let port = parse_port(&args.port)?;
    let protocol = protocol(args.udp);
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
            PortState::Leased(l) => format!("{port}/{protocol} leased to {} ({})", l.name, l.mode),
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
                format!("{verb} {} {}/{}: {}", l.name, l.port, l.protocol, r.reason)
            })
            .collect()
    }

    fn json(&self) -> serde_json::Value {
        value(self)
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

/// `portpool handover`: begins, commits or aborts, and prints the port concerned.
pub(super) fn handover(reg: &Registry, args: HandoverArgs) -> Result<Outcome, Error> {
    let HandoverArgs {
        name,
        commit,
        abort,
        pid,
        force,
        ..
    } = args;
    reg.set_force(force);
    let port = if commit {
        reg.commit_handover(&name, pid)?
    } else if abort {
        reg.abort_handover(&name, pid)?
    } else {
        reg.begin_handover(&name, pid)?
    };
    say([port]);
    Ok(Outcome::Ok)
}
