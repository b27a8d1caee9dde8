//! How a new lease's port is chosen: the candidates a request allows, in order, and the one
//! search that takes the first candidate no live lease holds and that passes a test (a probe,
//! or for [`Registry::listen`](crate::Registry::listen) a real bind). Also the probes that
//! take no lease: [`is_free_at`] and [`find_free_ports`].

use std::net::IpAddr;
use std::time::Duration;

use crate::error::{Error, Result};
use crate::owner::{Standing, standing};
use crate::probe::{Binder, address_error, free_for, free_on, kernel_pick};
use crate::registry::{LeaseOptions, held_port, live_holder};
use crate::store::model::{Data, Lease, Mode, Next, Owner, Pool, Protocol};
use crate::validate::{check_port, shown};

/// The preferred ports of [`Registry::register`](crate::Registry::register), in order: one
/// port (`8080`), or a list (`vec![3000, 3001]`, `&[3000, 3001][..]`, `[3000, 3001]`).
#[derive(Clone, Debug, Default, PartialEq, Eq)]
pub struct Ports(pub Vec<u16>);

impl From<u16> for Ports {
    fn from(port: u16) -> Ports {
        Ports(vec![port])
    }
}

impl From<Vec<u16>> for Ports {
    fn from(ports: Vec<u16>) -> Ports {
        Ports(ports)
    }
}

impl From<&[u16]> for Ports {
    fn from(ports: &[u16]) -> Ports {
        Ports(ports.to_vec())
    }
}

impl<const N: usize> From<[u16; N]> for Ports {
    fn from(ports: [u16; N]) -> Ports {
        Ports(ports.to_vec())
    }
}

/// What [`find_free_ports`] looks for. `Default`: one TCP port, anywhere, probed on the
/// wildcard addresses.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct FindOptions {
    /// TCP (default), UDP, or `tcp+udp`: ports free for both.
    pub protocol: Protocol,
    /// Ports to try first, in order.
    pub ports: Vec<u16>,
    /// Then this range, in order (inclusive). Without one, the kernel picks.
    pub range: Option<(u16, u16)>,
    /// Ports never returned.
    pub exclude: Vec<u16>,
    /// How many distinct ports to return: at least 1 (the default).
    pub count: usize,
    /// Probe this one address instead of the wildcards (see [`is_free_at`]).
    pub host: Option<IpAddr>,
}

impl Default for FindOptions {
    fn default() -> Self {
        FindOptions {
            protocol: Protocol::Tcp,
            ports: Vec::new(),
            range: None,
            exclude: Vec::new(),
            count: 1,
            host: None,
        }
    }
}

/// Whether `port` can be bound for `protocol` right now: on the wildcard addresses as
/// [`is_free`] checks them when `host` is `None`, else on `host` only.
///
/// With `host`, the port is bound as [`Registry::listen`](crate::Registry::listen) would bind
/// it there (`::` in dual-stack mode, so it covers IPv4 too). That checks one address and
/// nothing else: a port that another process has bound on another address (127.0.0.1 when
/// `host` is 192.0.2.7, say) reads as free, and a lease made on that answer is only good for
/// `host`. A `host` that is not an address of this machine is `InvalidArgument`; port 0 is
/// `InvalidArgument`.
pub fn is_free_at(port: u16, protocol: Protocol, host: Option<IpAddr>) -> Result<bool> {
    free_at(port, protocol, host, Binder::Anyone)
}

/// [`is_free_at`] for `binder`.
fn free_at(port: u16, protocol: Protocol, host: Option<IpAddr>, binder: Binder) -> Result<bool> {
    check_port(port)?;
    match host {
        None => free_for(port, protocol, binder),
        Some(ip) => free_on(ip, port, protocol, binder),
    }
}

/// `count` distinct ports, free for `protocol` right now, that no other option rules out.
///
/// Candidates in order: `ports`, then `range`; without a range, ports the kernel picks (as
/// get-port falls back to a random port). Excluded ports are never returned. Each candidate
/// is probed with [`is_free_at`] (on `host`, else the wildcards) as this process would bind
/// it: a port it may not bind (a privileged port, for an unprivileged process) is never
/// returned. Takes no lease: use
/// `Registry::register` or `allocate` to keep other portpool users off the ports. Fewer free
/// ports than `count` is `Exhausted`; `count` 0 or above 65535 (there are no more ports),
/// port 0 or a range whose start is after its end is `InvalidArgument`.
pub fn find_free_ports(options: &FindOptions) -> Result<Vec<u16>> {
    crate::validate::count_from_i64(i64::try_from(options.count).unwrap_or(i64::MAX))?;
    check_ports(&options.ports, options.range, &options.exclude)?;
    check_host(options.host)?;
    let protocol = options.protocol;
    let mut found: Vec<u16> = Vec::with_capacity(options.count.min(1024));
    let consider = |port: u16, found: &mut Vec<u16>| -> Result<()> {
        if !options.exclude.contains(&port)
            && !found.contains(&port)
            && free_at(port, protocol, options.host, Binder::Caller)?
        {
            found.push(port);
        }
        Ok(())
    };
    let range = options.range.map(|(lo, hi)| lo..=hi);
    for port in options
        .ports
        .iter()
        .copied()
        .chain(range.into_iter().flatten())
    {
        if found.len() == options.count {
            return Ok(found);
        }
        consider(port, &mut found)?;
    }
    if options.range.is_none() {
        // The kernel may hand back a port twice or an excluded one: give it room.
        let attempts = 64 + 8 * options.count;
        for _ in 0..attempts {
            if found.len() == options.count {
                break;
            }
            let port = kernel_pick(protocol, options.host).map_err(|e| {
                Error::new(
                    crate::ErrorKind::Io,
                    format!("asking the kernel for a free port: {e}"),
                )
            })?;
            consider(port, &mut found)?;
        }
    }
    if found.len() == options.count {
        return Ok(found);
    }
    Err(too_few_free(options, found.len()))
}

/// The error of a [`find_free_ports`] that found only `found` of the ports asked for.
fn too_few_free(options: &FindOptions, found: usize) -> Error {
    Error::exhausted(format!(
        "found {found} free {} port{} of the {} asked for{}",
        options.protocol,
        if found == 1 { "" } else { "s" },
        options.count,
        match options.range {
            Some((lo, hi)) => format!(" in {}", where_text(&options.ports, lo, hi)),
            None if options.ports.is_empty() => String::new(),
            None => format!(" among {} and the kernel's picks", list(&options.ports)),
        }
    ))
}

/// Checks the ports of a request: no port 0 anywhere, a range whose start is not after its
/// end.
pub(crate) fn check_ports(ports: &[u16], range: Option<(u16, u16)>, exclude: &[u16]) -> Result<()> {
    for port in ports.iter().chain(exclude) {
        check_port(*port)?;
    }
    if let Some((lo, hi)) = range {
        check_port(lo)?;
        check_port(hi)?;
        if lo > hi {
            return Err(Error::invalid(format!(
                "invalid range {lo}-{hi}: start is after end"
            )));
        }
    }
    Ok(())
}

/// Checks that `host` is an address of this machine, by binding it with port 0 (the kernel
/// picks; nothing is held afterwards).
pub(crate) fn check_host(host: Option<IpAddr>) -> Result<()> {
    let Some(ip) = host else {
        return Ok(());
    };
    match kernel_pick(Protocol::Udp, Some(ip)) {
        Ok(_) => Ok(()),
        Err(err) => Err(address_error(ip, &err)),
    }
}

/// Where a new lease's port may come from.
#[derive(Clone, Copy, Debug)]
pub(crate) enum Source<'a> {
    /// A pool's range, from its cursor round; the cursor moves past the port taken.
    Pool(&'a str),
    /// Preferred ports in order, then `range`; without a range, flexible goes on upward
    /// from the first preferred port and fixed stops.
    Ports {
        ports: &'a [u16],
        mode: Mode,
        range: Option<(u16, u16)>,
    },
}

/// A checked request for a new lease's port.
#[derive(Clone, Copy, Debug)]
pub(crate) struct Request<'a> {
    pub(crate) source: Source<'a>,
    pub(crate) exclude: &'a [u16],
    pub(crate) protocol: Protocol,
    /// Keep a lease that is never settled here: the one a handover searches a port for.
    pub(crate) keep: Option<&'a str>,
}

/// Why a candidate was passed over, for the message when none is left.
enum Skipped {
    Excluded,
    Leased(String),
    Bound,
}

/// Takes the first candidate of `request` that is not excluded, that no live lease holds
/// (stale ones in the way are settled), and that `take(port, probe)` accepts; `probe` says
/// whether the request wants bound ports skipped (a pool that does not probe says no). `take`
/// returns `Ok(None)` for a port that is in use, `Ok(Some(_))` to take it, `Err` to stop the
/// search with that error. Returns the port and what `take` gave.
///
/// None left: `Exhausted` for a pool, a range, or flexible's climb to 65535; `Conflict` for
/// fixed preferred ports without a range. An unknown pool is `NotFound`.
pub(crate) fn choose<T>(
    data: &mut Data,
    request: &Request<'_>,
    now: Duration,
    probe: bool,
    take: impl FnMut(u16, bool) -> Result<Option<T>>,
) -> Result<(u16, T)> {
    crate::owner::with_liveness_memo(|| choose_among(data, request, now, probe, take))
}

/// [`choose`], with each owner's liveness read once.
fn choose_among<T>(
    data: &mut Data,
    request: &Request<'_>,
    now: Duration,
    probe: bool,
    mut take: impl FnMut(u16, bool) -> Result<Option<T>>,
) -> Result<(u16, T)> {
    let protocol = request.protocol;
    let mut attempt = |data: &mut Data, port: u16, probe: bool| -> Result<Result<T, Skipped>> {
        if request.exclude.contains(&port) {
            return Ok(Err(Skipped::Excluded));
        }
        if let Some(holder) = live_holder(data, port, protocol, now, request.keep)? {
            return Ok(Err(Skipped::Leased(holder)));
        }
        Ok(take(port, probe)?.ok_or(Skipped::Bound))
    };
    match request.source {
        Source::Pool(name) => from_pool(data, name, protocol, probe, now, attempt),
        Source::Ports { ports, mode, range } => {
            let mut skipped = Vec::new();
            for (i, &port) in ports.iter().enumerate() {
                if ports[..i].contains(&port) {
                    continue;
                }
                match attempt(data, port, probe)? {
                    Ok(got) => return Ok((port, got)),
                    Err(why) => skipped.push((port, why)),
                }
            }
            let rest = match (range, mode) {
                (Some((lo, hi)), _) => Some((lo, hi)),
                (None, Mode::Flexible) => ports.first().map(|first| (*first, u16::MAX)),
                (None, _) => None,
            };
            if let Some((lo, hi)) = rest {
                for port in (lo..=hi).filter(|p| !ports.contains(p)) {
                    if let Ok(got) = attempt(data, port, probe)? {
                        return Ok((port, got));
                    }
                }
            }
            Err(none_left(ports, mode, range, protocol, &skipped))
        }
    }
}

/// [`choose_among`] in pool `name`: from its cursor round, moving the cursor past the port
/// taken.
fn from_pool<T>(
    data: &mut Data,
    name: &str,
    protocol: Protocol,
    probe: bool,
    now: Duration,
    mut attempt: impl FnMut(&mut Data, u16, bool) -> Result<Result<T, Skipped>>,
) -> Result<(u16, T)> {
    let pool = data
        .pool(name)
        .ok_or_else(|| Error::not_found(format!("no pool named {}", shown(name))))?
        .clone();
    let next = |p: u16| if p >= pool.end { pool.start } else { p + 1 };
    let mut port = pool.cursor;
    // Past the first candidates, the ports live leases hold are gathered in one pass over the
    // leases and skipped unread: a nearly full or exhausted pool then costs one pass, not one
    // lookup per port (a refusal costs about what a grant does).
    let mut held: Option<Vec<bool>> = None;
    for i in 0..pool.size() {
        if i == SCAN_BEFORE_GATHER {
            held = Some(held_in(data, &pool, protocol, now));
        }
        let known_held = held
            .as_ref()
            .is_some_and(|h| h[usize::from(port - pool.start)]);
        if !known_held && let Ok(got) = attempt(data, port, probe && pool.probe)? {
            data.pool_mut(name).expect("checked above").cursor = next(port);
            return Ok((port, got));
        }
        port = next(port);
    }
    Err(Error::exhausted(format!(
        "pool {} ({}-{}) has no free {protocol} port",
        shown(name),
        pool.start,
        pool.end
    )))
}

/// What [`standing`] reads of a lease: its expiry, its owner and its handover.
type StandingInputs = (Option<u64>, Option<Owner>, Option<Next>);

/// How many of a pool's candidates are tried one by one before [`held_in`] gathers the rest.
const SCAN_BEFORE_GATHER: u32 = 16;

/// The ports of `pool` that leases holding their ports (see [`standing`]) hold for
/// `protocol`, current or next, indexed by `port - pool.start`. A port not marked may still be
/// held (by a lease with something to settle): such ports go through the search as before.
fn held_in(data: &Data, pool: &Pool, protocol: Protocol, now: Duration) -> Vec<bool> {
    let mut held = vec![false; pool.size() as usize];
    // How a lease stands depends on its expiry, owner and handover only: leases that share
    // them (one process's, which sort next to each other by name) share the answer.
    let mut last: Option<(StandingInputs, bool)> = None;
    let mut holds = |lease: &Lease| {
        let inputs = (lease.expires, lease.owner, lease.next);
        match last {
            Some((seen, answer)) if seen == inputs => answer,
            _ => {
                let answer = standing(lease, now) == Standing::Held;
                last = Some((inputs, answer));
                answer
            }
        }
    };
    for lease in data.leases().filter(|l| l.protocol == protocol) {
        if lease.ports().any(|p| pool.contains(p)) && holds(lease) {
            for port in lease.ports().filter(|p| pool.contains(*p)) {
                held[usize::from(port - pool.start)] = true;
            }
        }
    }
    held
}

/// The error when no candidate of preferred `ports` (and `range`) was left.
fn none_left(
    ports: &[u16],
    mode: Mode,
    range: Option<(u16, u16)>,
    protocol: Protocol,
    skipped: &[(u16, Skipped)],
) -> Error {
    match (range, mode) {
        (Some((lo, hi)), _) => Error::exhausted(format!(
            "no free {protocol} port in {}",
            where_text(ports, lo, hi)
        )),
        (None, Mode::Flexible) => {
            let first = ports.first().copied().unwrap_or(u16::MAX);
            if ports.len() <= 1 {
                Error::exhausted(format!("no free {protocol} port from {first} to 65535"))
            } else {
                Error::exhausted(format!(
                    "no free {protocol} port among {}, nor from {first} to 65535",
                    list(ports)
                ))
            }
        }
        (None, _) => {
            let why = |(port, skipped): &(u16, Skipped)| match skipped {
                Skipped::Excluded => format!("port {port}/{protocol} is excluded"),
                Skipped::Leased(holder) => {
                    format!("port {port}/{protocol} is leased to {}", shown(holder))
                }
                Skipped::Bound => format!(
                    "port {port}/{protocol} is in use by a process outside the registry (force takes it anyway)"
                ),
            };
            match skipped {
                [one] => Error::conflict(why(one)),
                _ => Error::conflict(format!(
                    "none of ports {} is free: {}",
                    list(ports),
                    skipped.iter().map(why).collect::<Vec<_>>().join("; ")
                )),
            }
        }
    }
}

/// `3000, 3001`.
fn list(ports: &[u16]) -> String {
    ports
        .iter()
        .map(u16::to_string)
        .collect::<Vec<_>>()
        .join(", ")
}

/// `4000-4100`, or `3000, 3001 or 4000-4100` when there are preferred ports.
fn where_text(ports: &[u16], lo: u16, hi: u16) -> String {
    if ports.is_empty() {
        format!("{lo}-{hi}")
    } else {
        format!("{} or {lo}-{hi}", list(ports))
    }
}

/// The port `name` already holds, when it may keep it for `request`: the same protocol and,
/// for fixed preferred ports, one of them or of the range. Anything else held is a
/// `Conflict`.
pub(crate) fn held_for(data: &Data, name: &str, request: &Request<'_>) -> Result<Option<u16>> {
    let (ports, range) = match request.source {
        Source::Ports {
            ports,
            mode: Mode::Fixed,
            range,
        } => (ports, range),
        _ => return held_port(data, name, request.protocol, None),
    };
    if let ([port], None) = (ports, range) {
        return held_port(data, name, request.protocol, Some(*port));
    }
    let Some(held) = held_port(data, name, request.protocol, None)? else {
        return Ok(None);
    };
    if ports.contains(&held) || range.is_some_and(|(lo, hi)| (lo..=hi).contains(&held)) {
        return Ok(Some(held));
    }
    let wanted = match range {
        Some((lo, hi)) => where_text(ports, lo, hi),
        None => list(ports),
    };
    Err(Error::conflict(format!(
        "{} already holds port {held}/{}, not one of {wanted}; release it first",
        shown(name),
        request.protocol
    )))
}

/// The port a new lease of `request` takes, as `register` and `allocate` choose it: when
/// `probe`, ports bound on `host` (else the wildcards) are passed over (a pool that does not
/// probe never probes).
pub(crate) fn take_probed(
    data: &mut Data,
    request: &Request<'_>,
    probe: bool,
    host: Option<IpAddr>,
    binder: Binder,
    now: Duration,
) -> Result<u16> {
    let protocol = request.protocol;
    choose(data, request, now, probe, |port, probe| {
        Ok((!probe || free_at(port, protocol, host, binder)?).then_some(()))
    })
    .map(|(port, ())| port)
}

/// The first free port from `from` up to 65535, kept off `keep`'s other ports: the next
/// port of a flexible lease's handover.
pub(crate) fn take_flexible(
    data: &mut Data,
    from: u16,
    protocol: Protocol,
    now: Duration,
    keep: Option<&str>,
) -> Result<u16> {
    let request = Request {
        source: Source::Ports {
            ports: &[from],
            mode: Mode::Flexible,
            range: None,
        },
        exclude: &[],
        protocol,
        keep,
    };
    take_probed(data, &request, true, None, Binder::Anyone, now)
}

/// The pool's next free port, from its cursor round the range; moves the cursor past it.
pub(crate) fn take_from_pool(
    data: &mut Data,
    pool: &str,
    protocol: Protocol,
    now: Duration,
    keep: Option<&str>,
) -> Result<u16> {
    let request = Request {
        source: Source::Pool(pool),
        exclude: &[],
        protocol,
        keep,
    };
    take_probed(data, &request, true, None, Binder::Anyone, now)
}

/// The checks `register` makes on its preferred ports before anything is read: a mode a
/// caller may ask for, at least one port or a range, no port 0, a valid range and host.
pub(crate) fn check_register(
    ports: &[u16],
    mode: Mode,
    range: Option<(u16, u16)>,
    exclude: &[u16],
    host: Option<IpAddr>,
) -> Result<()> {
    if mode == Mode::Pool {
        return Err(Error::invalid(
            "invalid mode \"pool\" for register: pool leases come from allocate",
        ));
    }
    if ports.is_empty() && range.is_none() {
        return Err(Error::invalid(
            "no port given: name at least one preferred port, or a range",
        ));
    }
    check_ports(ports, range, exclude)?;
    check_host(host)
}

/// The checks of the options of a lease from a pool: no range (a pool has its own), no port
/// 0 among the excluded ones, a host of this machine.
pub(crate) fn check_pool_options(options: &LeaseOptions) -> Result<()> {
    if let Some((lo, hi)) = options.range {
        return Err(Error::invalid(format!(
            "range {lo}-{hi} applies to register, not to a pool: a pool has its own range"
        )));
    }
    check_ports(&[], None, &options.exclude)?;
    check_host(options.host)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn ports_convert_from_one_port_a_vec_a_slice_and_an_array() {
        assert_eq!(Ports::from(80).0, vec![80]);
        assert_eq!(Ports::from(vec![1, 2]).0, vec![1, 2]);
        assert_eq!(Ports::from(&[3u16, 4][..]).0, vec![3, 4]);
        assert_eq!(Ports::from([5, 6]).0, vec![5, 6]);
    }

    #[test]
    fn messages_list_ports_and_ranges() {
        assert_eq!(list(&[3000, 3001]), "3000, 3001");
        assert_eq!(where_text(&[], 4000, 4100), "4000-4100");
        assert_eq!(where_text(&[80], 4000, 4100), "80 or 4000-4100");
    }
}
