//! What makes portpool a supervisor's tool: handovers, batches, owners, and the view of the
//! host's sockets (who, migrate, doctor), plus import of the flat `{"name": port}` format.

use std::collections::{BTreeMap, BTreeSet, HashSet};
use std::path::Path;

use serde::Serialize;

use crate::error::{Error, ErrorKind, Result};
use crate::model::{Lease, Mode, Next, Pool, Protocol};
use crate::owner::{owner_of, stale_reason};
use crate::registry::{
    LeaseOptions, NewLease, Registry, check_ttl, drop_if_stale, held_port, no_lease, now,
    take_flexible, take_from_pool,
};
use crate::sockets::{Socket, descends_from, ephemeral_range, server_sockets};
use crate::validate::{check_name, port_from_i64};

/// Everything known about one port: [`Registry::who`].
#[derive(Clone, Debug, PartialEq, Eq, Serialize)]
pub struct Who {
    /// The port asked about.
    pub port: u16,
    /// Leases holding it, TCP and UDP (during a handover, as the current or the next port).
    pub leases: Vec<Lease>,
    /// Server sockets bound to it, or `None` when /proc could not be read.
    pub sockets: Option<Vec<Socket>>,
    /// Why `sockets` is `None`.
    pub unavailable: Option<String>,
}

/// What [`Registry::import`] did.
#[derive(Clone, Debug, Default, PartialEq, Eq, Serialize)]
pub struct ImportReport {
    /// Leases made, one per entry of the file.
    pub imported: Vec<Lease>,
    /// Names already present with the same port, left as they were.
    pub skipped: Vec<String>,
}

/// A kind of problem [`Registry::doctor`] reports.
#[derive(Clone, Copy, Debug, PartialEq, Eq, Hash, Serialize)]
#[serde(rename_all = "snake_case")]
pub enum FindingKind {
    /// A live lease whose port no server socket is bound to.
    NotListening,
    /// A socket on a leased port held by a process that is neither the lease's owner nor one
    /// of its descendants.
    ForeignListener,
    /// A lease whose owner process has exited.
    StaleOwner,
    /// A lease whose time to live ran out.
    Expired,
    /// A pool that overlaps the kernel's ephemeral port range, where outgoing connections can
    /// take its ports at any moment.
    EphemeralOverlap,
}

impl FindingKind {
    /// A stable snake_case identifier, e.g. `"not_listening"` (the JSON spelling too).
    pub fn as_str(self) -> &'static str {
        match self {
            FindingKind::NotListening => "not_listening",
            FindingKind::ForeignListener => "foreign_listener",
            FindingKind::StaleOwner => "stale_owner",
            FindingKind::Expired => "expired",
            FindingKind::EphemeralOverlap => "ephemeral_overlap",
        }
    }
}

impl std::fmt::Display for FindingKind {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.write_str(self.as_str())
    }
}

/// One problem found by [`Registry::doctor`].
#[derive(Clone, Debug, PartialEq, Eq, Serialize)]
pub struct Finding {
    /// What kind of problem.
    pub kind: FindingKind,
    /// The lease or pool concerned.
    pub subject: String,
    /// A sentence for people.
    pub message: String,
}

/// The result of [`Registry::doctor`].
#[derive(Clone, Debug, Default, PartialEq, Eq, Serialize)]
pub struct DoctorReport {
    /// Problems found; empty when all is well.
    pub findings: Vec<Finding>,
    /// Set when sockets could not be inspected (no /proc), so listener checks were skipped.
    pub unavailable: Option<String>,
}

/// The kernel's ephemeral range when `pool` overlaps it.
pub fn ephemeral_overlap(pool: &Pool) -> Option<(u16, u16)> {
    ephemeral_range().filter(|(lo, hi)| pool.start <= *hi && *lo <= pool.end)
}

/// A lease name made from a program name: whitespace and control characters become `-`, and
/// the name is cut to fit.
fn name_from_program(program: &str) -> String {
    let mut name: String = program
        .chars()
        .map(|c| {
            if c.is_whitespace() || c.is_control() {
                '-'
            } else {
                c
            }
        })
        .collect();
    while name.len() > 100 {
        name.pop();
    }
    if name.is_empty() {
        "unknown".into()
    } else {
        name
    }
}

impl Registry {
    /// Begins a zero-downtime handover of `name`: leases a port for the next generation while
    /// the current one stays valid, and returns it. Both ports are leased and listed; `get`
    /// still returns the current port until [`commit_handover`](Self::commit_handover). A pool
    /// lease's new port comes from its pool (round robin, never a port still leased); other
    /// leases take the first free port above the current one. `pid` is the next generation's
    /// process, which owns the lease after the commit. Begun twice, returns the same port.
    /// Errors: `NotFound` for an unknown name, `Exhausted` when no port is free.
    pub fn begin_handover(&self, name: &str, pid: Option<u32>) -> Result<u16> {
        check_name(name)?;
        let owner = pid.map(owner_of).transpose()?;
        self.store.update(|data| {
            let now = now();
            let lease = data.lease(name).ok_or_else(|| no_lease(name))?.clone();
            if let Some(next) = lease.next {
                return Ok((next.port, false));
            }
            let port = match (&lease.mode, &lease.pool) {
                (Mode::Pool, Some(pool)) => take_from_pool(data, pool, lease.protocol, now)?,
                _ => match lease.port.checked_add(1) {
                    Some(from) => take_flexible(data, from, lease.protocol, now)?,
                    None => {
                        return Err(Error::exhausted(format!(
                            "no free {} port above {}",
                            lease.protocol, lease.port
                        )));
                    }
                },
            };
            let next = Next {
                port,
                created: now,
                owner,
            };
            data.replace(Lease {
                next: Some(next),
                ..lease
            });
            Ok((port, true))
        })
    }

    /// Completes `name`'s handover: releases the old port and makes the next one current
    /// (owned by the next generation's process, when one was given). Returns the new port.
    /// Errors: `NotFound` for an unknown name or when no handover is under way.
    pub fn commit_handover(&self, name: &str) -> Result<u16> {
        check_name(name)?;
        self.store.update(|data| {
            let (lease, next) = under_way(data.lease(name), name)?;
            data.replace(Lease {
                port: next.port,
                created: next.created,
                owner: next.owner.or(lease.owner),
                next: None,
                ..lease
            });
            Ok((next.port, true))
        })
    }

    /// Abandons `name`'s handover: releases the next generation's port, which is returned;
    /// the current lease is untouched. Errors: `NotFound` as for `commit_handover`.
    pub fn abort_handover(&self, name: &str) -> Result<u16> {
        check_name(name)?;
        self.store.update(|data| {
            let (lease, next) = under_way(data.lease(name), name)?;
            data.replace(Lease {
                next: None,
                ..lease
            });
            Ok((next.port, true))
        })
    }

    /// Allocates a port of `pool` to each of `names` in one locked write: all or none. Names
    /// that already hold a lease get theirs back. Returns the ports in the order of `names`.
    /// Errors as [`allocate`](Self::allocate); a name given twice is `InvalidArgument`.
    pub fn allocate_many(
        &self,
        names: &[&str],
        pool: &str,
        options: &LeaseOptions,
    ) -> Result<Vec<u16>> {
        let mut seen = HashSet::new();
        for name in names {
            check_name(name)?;
            if !seen.insert(*name) {
                return Err(Error::invalid(format!("name {name:?} is given twice")));
            }
        }
        check_name(pool).map_err(|e| Error::invalid(format!("pool: {e}")))?;
        let owner = options.pid.map(owner_of).transpose()?;
        let ttl = check_ttl(options.ttl)?;
        let protocol = options.protocol;
        self.store.update(|data| {
            let now = now();
            let mut changed = false;
            let mut ports = Vec::with_capacity(names.len());
            for name in names {
                changed |= drop_if_stale(data, name, now);
                if let Some(held) = held_port(data, name, protocol, None)? {
                    ports.push(held);
                    continue;
                }
                let port = take_from_pool(data, pool, protocol, now)?;
                let new = NewLease {
                    name,
                    mode: Mode::Pool,
                    pool: Some(pool),
                    protocol,
                    owner,
                    ttl,
                };
                data.insert(new.at(port, now));
                changed = true;
                ports.push(port);
            }
            Ok((ports, changed))
        })
    }

    /// Makes process `pid` the owner of `name`'s lease (`None`: permanent). Returns the lease.
    /// `portpool run` uses it to hand its lease to the child it started.
    pub fn set_owner(&self, name: &str, pid: Option<u32>) -> Result<Lease> {
        check_name(name)?;
        let owner = pid.map(owner_of).transpose()?;
        self.store.update(|data| {
            let lease = data.lease_mut(name).ok_or_else(|| no_lease(name))?;
            lease.owner = owner;
            Ok((lease.clone(), true))
        })
    }

    /// Reads a flat `{"name": port, ...}` file (the format of hand-kept port maps such as a
    /// `port_allocation.json`) into fixed, permanent TCP leases, in one write. Names already
    /// present with the same port are skipped. Any problem — invalid JSON, a bad name or port,
    /// one port given to two names, a port leased to another name, a name holding another
    /// port — refuses the whole file with every problem listed, and writes nothing. Ports are
    /// not probed: importing the ports of running services is the point.
    pub fn import(&self, file: &Path) -> Result<ImportReport> {
        let text = std::fs::read(file).map_err(|e| match e.kind() {
            std::io::ErrorKind::NotFound => {
                Error::not_found(format!("{}: no such file", file.display()))
            }
            _ => Error::from_io(file, "reading", e),
        })?;
        let map: BTreeMap<String, serde_json::Value> =
            serde_json::from_slice(&text).map_err(|e| {
                Error::invalid(format!(
                    "{}: not a {{\"name\": port}} map: {e}",
                    file.display()
                ))
            })?;
        let mut problems = Vec::new();
        let mut entries: Vec<(String, u16)> = Vec::new();
        for (name, value) in map {
            let port = match &value {
                serde_json::Value::Number(n) => n.as_i64().map(port_from_i64),
                serde_json::Value::String(s) => Some(crate::validate::parse_port(s)),
                _ => None,
            };
            match (check_name(&name), port) {
                (Err(e), _) => problems.push(e.to_string()),
                (_, Some(Ok(port))) => entries.push((name, port)),
                (_, Some(Err(e))) => problems.push(format!("{name:?}: {e}")),
                (_, None) => problems.push(format!("{name:?}: {value} is not a port")),
            }
        }
        let mut by_port: BTreeMap<u16, Vec<&str>> = BTreeMap::new();
        for (name, port) in &entries {
            by_port.entry(*port).or_default().push(name);
        }
        for (port, names) in by_port.iter().filter(|(_, n)| n.len() > 1) {
            problems.push(format!("port {port} is given to {}", names.join(", ")));
        }
        if !problems.is_empty() {
            return Err(Error::invalid(format!(
                "{}: nothing imported: {}",
                file.display(),
                problems.join("; ")
            )));
        }
        self.store.update(|data| {
            let now = now();
            let mut report = ImportReport::default();
            let mut conflicts = Vec::new();
            for (name, port) in &entries {
                if let Some(held) = data.lease(name) {
                    if held.port == *port && held.protocol == Protocol::Tcp {
                        report.skipped.push(name.clone());
                    } else {
                        conflicts.push(format!(
                            "{name:?} already holds port {}/{}",
                            held.port, held.protocol
                        ));
                    }
                    continue;
                }
                if let Some(holder) = data.holder(*port, Protocol::Tcp) {
                    conflicts.push(format!("port {port} is leased to {:?}", holder.name));
                }
            }
            if !conflicts.is_empty() {
                return Err(Error::conflict(format!(
                    "{}: nothing imported: {}",
                    file.display(),
                    conflicts.join("; ")
                )));
            }
            for (name, port) in &entries {
                if report.skipped.contains(name) {
                    continue;
                }
                let new = NewLease {
                    name,
                    mode: Mode::Fixed,
                    pool: None,
                    protocol: Protocol::Tcp,
                    owner: None,
                    ttl: None,
                };
                let lease = new.at(*port, now);
                report.imported.push(lease.clone());
                data.insert(lease);
            }
            let changed = !report.imported.is_empty();
            Ok((report, changed))
        })
    }

    /// The leases holding `port` (TCP and UDP) and the server sockets bound to it with their
    /// processes. Where /proc cannot be read, the lease part only, and `unavailable` says why.
    pub fn who(&self, port: u16) -> Result<Who> {
        crate::validate::check_port(port)?;
        let leases = self.store.read(|data| {
            [Protocol::Tcp, Protocol::Udp]
                .into_iter()
                .filter_map(|p| data.holder(port, p).cloned())
                .collect::<Vec<_>>()
        })?;
        let (sockets, unavailable) = match server_sockets() {
            Ok(all) => (
                Some(all.into_iter().filter(|s| s.port() == port).collect()),
                None,
            ),
            Err(why) => (None, Some(why)),
        };
        Ok(Who {
            port,
            leases,
            sockets,
            unavailable,
        })
    }

    /// Registers every port a server socket is bound to now as a fixed, permanent lease named
    /// after its program (`nginx`, `nginx-2`, ...; `port-N` when the program cannot be seen).
    /// TCP listeners count, and UDP sockets below the kernel's ephemeral range (above it, they
    /// are clients'). Ports already leased are left alone, so a second run changes nothing.
    /// With `dry_run`, returns the plan and writes nothing. Errors: `Io` when /proc cannot be
    /// read.
    pub fn migrate(&self, dry_run: bool) -> Result<Vec<Lease>> {
        let sockets = server_sockets().map_err(|why| Error::new(ErrorKind::Io, why))?;
        let ephemeral_start = ephemeral_range().map_or(32768, |(lo, _)| lo);
        let candidates: Vec<(u16, Protocol, String)> = {
            let mut seen = BTreeSet::new();
            sockets
                .into_iter()
                .filter(|s| s.protocol == Protocol::Tcp || s.port() < ephemeral_start)
                .filter(|s| seen.insert((s.port(), s.protocol)))
                .map(|s| {
                    let program = s.processes.first().map(|p| name_from_program(&p.program));
                    let name = program.unwrap_or_else(|| format!("port-{}", s.port()));
                    (s.port(), s.protocol, name)
                })
                .collect()
        };
        let plan = |data: &mut crate::model::Data| {
            let now = now();
            let mut made = Vec::new();
            for (port, protocol, base) in &candidates {
                if data.holder(*port, *protocol).is_some() {
                    continue;
                }
                let name = (1..)
                    .map(|i| {
                        if i == 1 {
                            base.clone()
                        } else {
                            format!("{base}-{i}")
                        }
                    })
                    .find(|n| data.lease(n).is_none())
                    .expect("some suffix is free");
                let new = NewLease {
                    name: &name,
                    mode: Mode::Fixed,
                    pool: None,
                    protocol: *protocol,
                    owner: None,
                    ttl: None,
                };
                let lease = new.at(*port, now);
                data.insert(lease.clone());
                made.push(lease);
            }
            made
        };
        if dry_run {
            return self.store.read(|data| plan(&mut data.clone()));
        }
        self.store.update(|data| {
            let made = plan(data);
            let changed = !made.is_empty();
            Ok((made, changed))
        })
    }

    /// Checks the registry against the host: leases nothing listens on, listeners on leased
    /// ports that are not the owner (or its descendants), stale owners, expired leases, and
    /// pools overlapping the kernel's ephemeral port range. Reads only.
    pub fn doctor(&self) -> Result<DoctorReport> {
        let (leases, pools) = self.store.read(|data| {
            (
                data.leases().cloned().collect::<Vec<_>>(),
                data.pools().cloned().collect::<Vec<_>>(),
            )
        })?;
        let now = now();
        let mut report = DoctorReport::default();
        let sockets = match server_sockets() {
            Ok(s) => Some(s),
            Err(why) => {
                report.unavailable = Some(why);
                None
            }
        };
        for lease in &leases {
            let at = format!("{}/{}", lease.port, lease.protocol);
            if let Some(expires) = lease.expires.filter(|e| *e <= now) {
                report.findings.push(Finding {
                    kind: FindingKind::Expired,
                    subject: lease.name.clone(),
                    message: format!("{} ({at}) expired {}s ago", lease.name, now - expires),
                });
                continue;
            }
            if let Some(why) = stale_reason(lease, now) {
                report.findings.push(Finding {
                    kind: FindingKind::StaleOwner,
                    subject: lease.name.clone(),
                    message: format!("{} ({at}): {why}", lease.name),
                });
                continue;
            }
            let Some(sockets) = &sockets else { continue };
            let on_port: Vec<&Socket> = sockets
                .iter()
                .filter(|s| s.port() == lease.port && s.protocol == lease.protocol)
                .collect();
            if on_port.is_empty() {
                report.findings.push(Finding {
                    kind: FindingKind::NotListening,
                    subject: lease.name.clone(),
                    message: format!("{} ({at}): nothing is listening", lease.name),
                });
            }
            let owners: Vec<u32> = lease
                .owner
                .iter()
                .chain(lease.next.iter().filter_map(|n| n.owner.as_ref()))
                .map(|o| o.pid)
                .collect();
            if owners.is_empty() {
                continue;
            }
            for process in on_port.iter().flat_map(|s| &s.processes) {
                if !owners.iter().any(|o| descends_from(process.pid, *o)) {
                    report.findings.push(Finding {
                        kind: FindingKind::ForeignListener,
                        subject: lease.name.clone(),
                        message: format!(
                            "{} ({at}) is owned by pid {}, but {} (pid {}) is bound to it",
                            lease.name, owners[0], process.program, process.pid
                        ),
                    });
                }
            }
        }
        for pool in &pools {
            if let Some((lo, hi)) = ephemeral_overlap(pool) {
                report.findings.push(Finding {
                    kind: FindingKind::EphemeralOverlap,
                    subject: pool.name.clone(),
                    message: format!(
                        "pool {} ({}-{}) overlaps the kernel's ephemeral ports {lo}-{hi}",
                        pool.name, pool.start, pool.end
                    ),
                });
            }
        }
        Ok(report)
    }
}

/// `name`'s lease and its handover, or `NotFound`.
fn under_way(lease: Option<&Lease>, name: &str) -> Result<(Lease, Next)> {
    let lease = lease.ok_or_else(|| no_lease(name))?;
    let next = lease
        .next
        .ok_or_else(|| Error::not_found(format!("no handover of {name:?} is under way")))?;
    Ok((lease.clone(), next))
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn finding_kinds_are_spelled_as_in_json() {
        for kind in [
            FindingKind::NotListening,
            FindingKind::ForeignListener,
            FindingKind::StaleOwner,
            FindingKind::Expired,
            FindingKind::EphemeralOverlap,
        ] {
            let json = serde_json::to_string(&kind).unwrap();
            assert_eq!(json, format!("\"{kind}\""));
        }
    }

    #[test]
    fn program_names_become_valid_lease_names() {
        assert_eq!(name_from_program("Web Content"), "Web-Content");
        assert_eq!(name_from_program(""), "unknown");
        check_name(&name_from_program(&"x".repeat(300))).unwrap();
    }
}
