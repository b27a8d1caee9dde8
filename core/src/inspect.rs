//! Host inspection: what the host's sockets and processes say about the registry — who
//! holds a port, migrate (leases for the servers already running), doctor (problems).

use std::collections::BTreeSet;
use std::time::Duration;

use serde::Serialize;

use crate::error::{Error, ErrorKind, Result};
use crate::owner::{Standing, owner_of, standing};
use crate::registry::{NewLease, Registry, marked};
use crate::sockets::{Socket, descends_from, ephemeral_range, server_sockets};
use crate::spelled::spelled;
use crate::store::model::{Lease, Origin, Pool, Protocol};

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

/// A kind of problem [`Registry::doctor`] reports.
#[derive(Clone, Copy, Debug, PartialEq, Eq, Hash, Serialize)]
#[serde(rename_all = "snake_case")]
pub enum FindingKind {
    /// A live lease whose port no server socket is bound to (informational: a service may
    /// simply be stopped, or not started yet).
    NotListening,
    /// A socket on a leased port held by a process that is neither the lease's owner nor one
    /// of its descendants.
    ForeignListener,
    /// A lease whose owner process has exited (during a handover: whose next generation took
    /// over, or whose owners have both exited).
    StaleOwner,
    /// A handover whose next generation's process has exited: its port is free again.
    StaleNextOwner,
    /// A lease whose time to live ran out.
    Expired,
    /// A lease `migrate` recorded whose port another program now holds.
    TakenOver,
    /// A pool that overlaps the kernel's ephemeral port range, where outgoing connections can
    /// take its ports at any moment.
    EphemeralOverlap,
    /// A per-user registry that still holds leases while the host registry exists: nobody
    /// else sees those leases.
    SplitRegistry,
    /// A handover under way for longer than [`HANDOVER_PENDING_LIMIT`]: a supervisor that
    /// crashed between begin and commit, whose handover nobody will end.
    LongHandover,
    /// A registry file whose tail has grown to twice what asks for a compaction: its writers
    /// cannot compact it (no usable spare) and its owner has not written.
    Uncompacted,
    /// Live leases inside the kernel's ephemeral port range whose ports the kernel does not
    /// reserve (`net.ipv4.ip_local_reserved_ports`): an outgoing connection or a port-0 bind
    /// may be given them. One finding for all of them, whose subject is that setting;
    /// `portpool reserve` removes the risk.
    Unreserved,
}

/// How long a handover may be under way before `doctor` reports it (`long_handover`).
pub const HANDOVER_PENDING_LIMIT: Duration = Duration::from_secs(300);

spelled!(FindingKind, "finding kind", {
    NotListening => "not_listening",
    ForeignListener => "foreign_listener",
    StaleOwner => "stale_owner",
    StaleNextOwner => "stale_next_owner",
    Expired => "expired",
    TakenOver => "taken_over",
    EphemeralOverlap => "ephemeral_overlap",
    SplitRegistry => "split_registry",
    LongHandover => "long_handover",
    Uncompacted => "uncompacted",
    Unreserved => "unreserved",
}, parse: [NotListening, ForeignListener, StaleOwner, StaleNextOwner, Expired, TakenOver, EphemeralOverlap, SplitRegistry, LongHandover, Uncompacted, Unreserved]);

impl FindingKind {
    /// How much it matters: only `not_listening` is informational.
    pub fn severity(self) -> Severity {
        match self {
            FindingKind::NotListening => Severity::Info,
            _ => Severity::Warning,
        }
    }
}

/// How much a [`Finding`] matters. `doctor` fails (exit 1 on the command line) on warnings
/// by default; informational findings never fail it unless asked for by kind.
#[derive(Clone, Copy, Debug, PartialEq, Eq, Hash, PartialOrd, Ord, Serialize)]
#[serde(rename_all = "snake_case")]
pub enum Severity {
    /// Worth knowing; nothing is wrong with the registry.
    Info,
    /// Something a person should look at.
    Warning,
}

spelled!(Severity, "severity", { Info => "info", Warning => "warning" }, parse: [Info, Warning]);

/// One problem found by [`Registry::doctor`].
#[derive(Clone, Debug, PartialEq, Eq, Serialize)]
pub struct Finding {
    /// What kind of problem.
    pub kind: FindingKind,
    /// How much it matters (the kind's [`FindingKind::severity`]).
    pub severity: Severity,
    /// The lease or pool concerned.
    pub subject: String,
    /// The port concerned, for findings about a lease.
    pub port: Option<u16>,
    /// The port's protocol, for findings about a lease.
    pub protocol: Option<Protocol>,
    /// A sentence for people.
    pub message: String,
}

impl Finding {
    fn about(kind: FindingKind, lease: &Lease, port: u16, message: String) -> Finding {
        Finding {
            kind,
            severity: kind.severity(),
            subject: lease.name.clone(),
            port: Some(port),
            protocol: Some(lease.protocol),
            message,
        }
    }
}

/// The result of [`Registry::doctor`].
#[derive(Clone, Debug, Default, PartialEq, Eq, Serialize)]
pub struct DoctorReport {
    /// Problems found; empty when all is well.
    pub findings: Vec<Finding>,
    /// Set when sockets could not be inspected (no /proc), so listener checks were skipped.
    pub unavailable: Option<String>,
}

impl DoctorReport {
    /// Whether the report should fail a check: with `fail_on` empty, when any finding is a
    /// warning; else when any finding is of one of those kinds.
    pub fn fails(&self, fail_on: &[FindingKind]) -> bool {
        self.findings.iter().any(|f| {
            if fail_on.is_empty() {
                f.severity >= Severity::Warning
            } else {
                fail_on.contains(&f.kind)
            }
        })
    }
}

/// The kernel's ephemeral range when `pool` overlaps it.
pub fn ephemeral_overlap(pool: &Pool) -> Option<(u16, u16)> {
    ephemeral_range().filter(|(lo, hi)| pool.start <= *hi && *lo <= pool.end)
}

/// The one wording of the ephemeral-range warning: `set_pool`'s and `doctor`'s.
pub(crate) fn ephemeral_warning(pool: &Pool) -> Option<String> {
    ephemeral_overlap(pool).map(|(lo, hi)| {
        format!(
            "pool {} ({}-{}) overlaps the kernel's ephemeral ports {lo}-{hi}; outgoing connections may take its ports unless the kernel reserves them: portpool reserve (as root) does",
            pool.name, pool.start, pool.end
        )
    })
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
    /// The leases recorded on `port` (TCP, UDP and `tcp+udp`, each once; a stale one says why in
    /// [`Lease::stale`]) and the server sockets bound to it with their processes. Where /proc cannot be read, the lease part only, and `unavailable` says why.
    pub fn who(&self, port: u16) -> Result<Who> {
        crate::validate::check_port(port)?;
        let now = self.now();
        let leases = self.store.read(|data| {
            data.holders(port, Protocol::TcpUdp)
                .map(|l| marked(l, now))
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
        let candidates: Vec<(u16, Protocol, String, Option<Origin>)> = {
            let mut seen = BTreeSet::new();
            sockets
                .into_iter()
                .filter(|s| s.protocol == Protocol::Tcp || s.port() < ephemeral_start)
                .filter(|s| seen.insert((s.port(), s.protocol)))
                .map(|s| {
                    let process = s.processes.first();
                    let program = process.map(|p| name_from_program(&p.program));
                    let name = program.unwrap_or_else(|| format!("port-{}", s.port()));
                    let origin = process.and_then(|p| {
                        owner_of(p.pid).ok().map(|o| Origin {
                            pid: o.pid,
                            start_time: o.start_time,
                            program: p.program.clone(),
                        })
                    });
                    (s.port(), s.protocol, name, origin)
                })
                .collect()
        };
        let plan = |data: &mut crate::store::model::Data| -> Result<Vec<Lease>> {
            let now = self.now();
            let mut made = Vec::new();
            for (port, protocol, base, origin) in &candidates {
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
                let new = NewLease::recorded(&name, *protocol);
                let lease = Lease {
                    origin: origin.clone(),
                    ..new.at(*port, now)
                };
                data.insert(lease.clone())?;
                made.push(lease);
            }
            Ok(made)
        };
        if dry_run {
            return self.store.read(|data| plan(&mut data.clone()))?;
        }
        self.store.update(|data| {
            let made = plan(data)?;
            let changed = !made.is_empty();
            Ok((made, changed))
        })
    }

    /// Checks the registry against the host: leases nothing listens on, listeners on leased
    /// ports that are not the owner (or its descendants), ports `migrate` recorded that
    /// another program has taken over, stale owners (of a lease or of a handover's next
    /// generation), expired leases, pools overlapping the kernel's ephemeral port range, and leased ports in that range the
    /// kernel does not reserve.
    /// Reads only; staleness is judged as by every other call.
    pub fn doctor(&self) -> Result<DoctorReport> {
        let (leases, pools) = self.store.read(|data| {
            (
                data.leases().cloned().collect::<Vec<_>>(),
                data.pools().cloned().collect::<Vec<_>>(),
            )
        })?;
        let now = self.now();
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
            let stale = |kind, port, why: &str| {
                Finding::about(kind, lease, port, format!("{} ({at}): {why}", lease.name))
            };
            match standing(lease, now) {
                Standing::Held => {}
                Standing::Expired(why) => {
                    report
                        .findings
                        .push(stale(FindingKind::Expired, lease.port, &why));
                    continue;
                }
                Standing::Gone(why) | Standing::Committed(why) => {
                    report
                        .findings
                        .push(stale(FindingKind::StaleOwner, lease.port, &why));
                    continue;
                }
                Standing::NextGone(why) => {
                    let next = lease.next.map_or(lease.port, |n| n.port);
                    report
                        .findings
                        .push(stale(FindingKind::StaleNextOwner, next, &why));
                }
            }
            if let Some(sockets) = &sockets {
                report.findings.extend(listener_findings(lease, sockets));
            }
        }
        report.findings.extend(long_handovers(&leases, now));
        report.findings.extend(self.split_registry(now));
        report.findings.extend(self.uncompacted()?);
        report.findings.extend(unreserved_finding(&leases, now));
        report
            .findings
            .extend(pools.iter().filter_map(ephemeral_finding));
        Ok(report)
    }
}

impl Registry {
    /// The registry file's growth, when no one who may compact it has written for twice the
    /// changes that ask for a compaction.
    fn uncompacted(&self) -> Result<Option<Finding>> {
        let Some((records, entries)) = self.store.overgrown()? else {
            return Ok(None);
        };
        Ok(Some(Finding {
            kind: FindingKind::Uncompacted,
            severity: FindingKind::Uncompacted.severity(),
            subject: self.path().display().to_string(),
            port: None,
            protocol: None,
            message: format!(
                "{} holds {records} change lines after a snapshot of {entries} lines: it is not being compacted (its writers have no usable spare); a change by its owner compacts it, and `portpool init` makes the spare",
                self.path().display()
            ),
        }))
    }

    /// When this handle is on the host registry and the caller's per-user registry still
    /// holds live leases, the finding that says so and how to move them.
    fn split_registry(&self, now: Duration) -> Option<Finding> {
        if self.source() != crate::paths::PathSource::Host {
            return None;
        }
        let mine = crate::paths::user_registry().ok()?;
        if mine == self.path() || !mine.exists() {
            return None;
        }
        let live = Registry::open(Some(&mine))
            .ok()?
            .list()
            .ok()?
            .into_iter()
            .filter(|l| standing(l, now) == Standing::Held)
            .count();
        (live > 0).then(|| Finding {
            kind: FindingKind::SplitRegistry,
            severity: FindingKind::SplitRegistry.severity(),
            subject: mine.display().to_string(),
            port: None,
            protocol: None,
            message: format!(
                "{} holds {live} lease(s) that nobody else sees, while the host registry {} exists; move them with: portpool import {}",
                mine.display(),
                self.path().display(),
                mine.display()
            ),
        })
    }
}

/// The `ephemeral_overlap` finding of a pool that overlaps the kernel's ephemeral ports.
fn ephemeral_finding(pool: &Pool) -> Option<Finding> {
    ephemeral_warning(pool).map(|message| Finding {
        kind: FindingKind::EphemeralOverlap,
        severity: FindingKind::EphemeralOverlap.severity(),
        subject: pool.name.clone(),
        port: None,
        protocol: None,
        message,
    })
}

/// A finding for each live lease whose handover has been under way longer than
/// [`HANDOVER_PENDING_LIMIT`], naming its ticket so that a person can end it.
fn long_handovers(leases: &[Lease], now: Duration) -> Vec<Finding> {
    let limit = HANDOVER_PENDING_LIMIT.as_secs();
    leases
        .iter()
        .filter(|l| standing(l, now) == Standing::Held)
        .filter_map(|lease| {
            let next = lease.next?;
            let age = now.as_secs().saturating_sub(next.created);
            (age > limit).then(|| {
                let message = format!(
                    "{}: a handover to port {}/{} (ticket {}) has been under way for {age} s, longer than {limit} s; commit or abort it",
                    crate::validate::shown(&lease.key()),
                    next.port,
                    lease.protocol,
                    next.ticket
                );
                Finding::about(FindingKind::LongHandover, lease, next.port, message)
            })
        })
        .collect()
}

/// One finding for the live leases whose ports (a handover's next one too) lie in the
/// kernel's ephemeral range but not in its reserved list, naming the first few; none when
/// there are none, or either list cannot be read. Its subject is the kernel's setting, so that
/// what doctor says about each lease's listeners stays apart.
fn unreserved_finding(leases: &[Lease], now: Duration) -> Option<Finding> {
    let (lo, hi) = ephemeral_range()?;
    let reserved = crate::reserved::kernel_reserved().ok()?;
    let exposed: Vec<String> = leases
        .iter()
        .filter(|l| standing(l, now) == Standing::Held)
        .flat_map(|l| l.ports().map(move |p| (p, l)))
        .filter(|(p, _)| (lo..=hi).contains(p) && !reserved.contains(p))
        .map(|(p, l)| format!("{p}/{} ({})", l.protocol, crate::validate::shown(&l.key())))
        .collect();
    let first = exposed.first()?;
    let more = match exposed.len() {
        1 => first.clone(),
        n => format!("{first} and {} more", n - 1),
    };
    Some(Finding {
        kind: FindingKind::Unreserved,
        severity: FindingKind::Unreserved.severity(),
        subject: "net.ipv4.ip_local_reserved_ports".to_owned(),
        port: None,
        protocol: None,
        message: format!(
            "{} leased port(s) inside the kernel's ephemeral ports {lo}-{hi} are not reserved, so an outgoing connection or a port-0 bind may be given them: {more}; portpool reserve (as root) reserves every leased port",
            exposed.len()
        ),
    })
}

/// What the host's server sockets say about a live lease: nothing listening on its port, a
/// process other than its owners (or their descendants) bound to it, or, for a lease
/// `migrate` recorded, another program holding its port now.
fn listener_findings(lease: &Lease, sockets: &[Socket]) -> Vec<Finding> {
    let at = format!("{}/{}", lease.port, lease.protocol);
    let mut findings = Vec::new();
    let on_port: Vec<&Socket> = sockets
        .iter()
        .filter(|s| s.port() == lease.port && lease.protocol.covers(s.protocol))
        .collect();
    if on_port.is_empty() {
        findings.push(Finding::about(
            FindingKind::NotListening,
            lease,
            lease.port,
            format!("{} ({at}): nothing is listening", lease.name),
        ));
    }
    let processes = || on_port.iter().flat_map(|s| &s.processes);
    let owners: Vec<u32> = lease
        .owner
        .iter()
        .chain(lease.next.iter().filter_map(|n| n.owner.as_ref()))
        .map(|o| o.pid)
        .collect();
    if !owners.is_empty() {
        for process in processes() {
            if !owners.iter().any(|o| descends_from(process.pid, *o)) {
                findings.push(Finding::about(
                    FindingKind::ForeignListener,
                    lease,
                    lease.port,
                    format!(
                        "{} ({at}) is owned by pid {}, but {} (pid {}) is bound to it",
                        lease.name, owners[0], process.program, process.pid
                    ),
                ));
            }
        }
    }
    if let (Some(origin), None) = (&lease.origin, lease.owner) {
        for process in processes() {
            if process.program != origin.program && !descends_from(process.pid, origin.pid) {
                findings.push(Finding::about(
                    FindingKind::TakenOver,
                    lease,
                    lease.port,
                    format!(
                        "{} ({at}) was recorded for {} (pid {}), but {} (pid {}) holds it now",
                        lease.name, origin.program, origin.pid, process.program, process.pid
                    ),
                ));
            }
        }
    }
    findings
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::validate::check_name;

    #[test]
    fn program_names_become_valid_lease_names() {
        assert_eq!(name_from_program("Web Content"), "Web-Content");
        assert_eq!(name_from_program(""), "unknown");
        check_name(&name_from_program(&"x".repeat(300))).unwrap();
    }
}
