//! What makes portpool a supervisor's tool: handovers, batches, owners, and the view of the
//! host's sockets (who, migrate, doctor), plus import of the flat `{"name": port}` format.

use std::collections::{BTreeMap, BTreeSet, HashSet};
use std::path::Path;

use serde::Serialize;

use std::time::Duration;

use crate::error::{Error, ErrorKind, Result};
use crate::model::{Data, Lease, Mode, Next, Origin, Owner, Pool, Protocol};
use crate::owner::{Standing, owner_of, standing};
use crate::registry::{
    LeaseOptions, NewLease, Registry, check_ttl_option, drop_if_stale, held_port, lease_gone,
    live_holder, marked, no_lease, settle, take_flexible, take_from_pool,
};
use crate::sockets::{Socket, descends_from, ephemeral_range, server_sockets};
use crate::validate::{check_name, port_from_i64, shown};

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
}

impl FindingKind {
    /// Every kind, in the order of this enum.
    pub const ALL: [FindingKind; 8] = [
        FindingKind::NotListening,
        FindingKind::ForeignListener,
        FindingKind::StaleOwner,
        FindingKind::StaleNextOwner,
        FindingKind::Expired,
        FindingKind::TakenOver,
        FindingKind::EphemeralOverlap,
        FindingKind::SplitRegistry,
    ];

    /// A stable snake_case identifier, e.g. `"not_listening"` (the JSON spelling too).
    pub fn as_str(self) -> &'static str {
        match self {
            FindingKind::NotListening => "not_listening",
            FindingKind::ForeignListener => "foreign_listener",
            FindingKind::StaleOwner => "stale_owner",
            FindingKind::StaleNextOwner => "stale_next_owner",
            FindingKind::Expired => "expired",
            FindingKind::TakenOver => "taken_over",
            FindingKind::EphemeralOverlap => "ephemeral_overlap",
            FindingKind::SplitRegistry => "split_registry",
        }
    }

    /// How much it matters: only `not_listening` is informational.
    pub fn severity(self) -> Severity {
        match self {
            FindingKind::NotListening => Severity::Info,
            _ => Severity::Warning,
        }
    }
}

impl std::fmt::Display for FindingKind {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.write_str(self.as_str())
    }
}

impl std::str::FromStr for FindingKind {
    type Err = Error;
    /// Accepts the snake_case identifiers of [`as_str`](Self::as_str).
    fn from_str(s: &str) -> Result<Self> {
        FindingKind::ALL
            .into_iter()
            .find(|k| k.as_str() == s)
            .ok_or_else(|| {
                let all: Vec<&str> = FindingKind::ALL.iter().map(|k| k.as_str()).collect();
                Error::invalid(format!(
                    "invalid finding kind {}: expected one of {}",
                    shown(s),
                    all.join(", ")
                ))
            })
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

impl Severity {
    /// `"info"` or `"warning"`.
    pub fn as_str(self) -> &'static str {
        match self {
            Severity::Info => "info",
            Severity::Warning => "warning",
        }
    }
}

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
            "pool {} ({}-{}) overlaps the kernel's ephemeral ports {lo}-{hi}; outgoing connections may take its ports",
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
    /// Begins a zero-downtime handover of `name`: leases a port for the next generation while
    /// the current one stays valid, and returns it. Both ports are leased and listed; `get`
    /// still returns the current port until [`commit_handover`](Self::commit_handover). A pool
    /// lease's new port comes from its pool (round robin, never a port still leased); a
    /// flexible lease takes the first free port above the current one. `pid` is the next
    /// generation's process: it owns the lease after the commit, and while the handover is
    /// under way its death frees the next port and the current owner's death commits the
    /// handover (see [`gc`](Self::gc)).
    ///
    /// Begun again for the same `pid` (or again without one), returns the same port.
    /// Errors: `NotFound` for an unknown or stale name; `Conflict` when a handover for
    /// another process is under way, and for a fixed lease (its port is the point of it: a
    /// handover would move it); `Exhausted` when no port is free.
    pub fn begin_handover(&self, name: &str, pid: Option<u32>) -> Result<u16> {
        check_name(name)?;
        let owner = pid.map(owner_of).transpose()?;
        self.store.update(|data| {
            let now = self.now();
            let lease = current(data, name, now)?;
            if let Some(next) = lease.next {
                if next.owner.map(|o| o.pid) != owner.map(|o| o.pid) {
                    return Err(Error::conflict(format!(
                        "a handover of {} to {} is already under way (port {}); commit or abort it first",
                        shown(name),
                        pid_text(next.owner),
                        next.port
                    )));
                }
                return Ok((next.port, false));
            }
            let port = match (&lease.mode, &lease.pool) {
                (Mode::Fixed, _) => {
                    return Err(Error::conflict(format!(
                        "{} is a fixed lease of port {}/{}: a handover would move it; use a flexible or pool lease for zero-downtime reloads",
                        shown(name),
                        lease.port,
                        lease.protocol
                    )));
                }
                (Mode::Pool, Some(pool)) => {
                    take_from_pool(data, pool, lease.protocol, now, Some(name))?
                }
                _ => match lease.port.checked_add(1) {
                    Some(from) => take_flexible(data, from, lease.protocol, now, Some(name))?,
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
                created: now.as_secs(),
                owner,
            };
            data.replace(Lease {
                next: Some(next),
                ..lease
            })?;
            Ok((port, true))
        })
    }

    /// Completes `name`'s handover: releases the old port and makes the next one current.
    /// Returns the new port. The lease's owner becomes the next generation's process: the
    /// `pid` given when the handover began, else `pid` given here, else none (the lease then
    /// holds until it is released or its time to live ends; the old generation's process
    /// never owns the new port).
    ///
    /// `pid` names the next generation as the caller knows it: when the handover began with
    /// another process, the commit is a `Conflict`, so one supervisor cannot commit
    /// another's handover. A caller that gives no `pid` is not checked.
    /// Errors: `NotFound` for an unknown or stale name, or when no handover is under way.
    pub fn commit_handover(&self, name: &str, pid: Option<u32>) -> Result<u16> {
        check_name(name)?;
        let caller = pid.map(owner_of).transpose()?;
        self.store.update(|data| {
            let now = self.now();
            let (lease, next) = under_way(current(data, name, now)?, name)?;
            check_handover_caller(name, &next, caller.as_ref())?;
            data.replace(Lease {
                port: next.port,
                created: next.created,
                owner: next.owner.or(caller),
                next: None,
                ..lease
            })?;
            Ok((next.port, true))
        })
    }

    /// Abandons `name`'s handover: releases the next generation's port, which is returned;
    /// the current lease is untouched. `pid` is checked as in
    /// [`commit_handover`](Self::commit_handover). Errors: as `commit_handover`.
    pub fn abort_handover(&self, name: &str, pid: Option<u32>) -> Result<u16> {
        check_name(name)?;
        let caller = pid.map(owner_of).transpose()?;
        self.store.update(|data| {
            let now = self.now();
            let (lease, next) = under_way(current(data, name, now)?, name)?;
            check_handover_caller(name, &next, caller.as_ref())?;
            data.replace(Lease {
                next: None,
                ..lease
            })?;
            Ok((next.port, true))
        })
    }

    /// Allocates a port of `pool` to each of `names` in one locked write: all or none. Names
    /// that already hold a lease get theirs back. Returns the ports in the order of `names`.
    /// Errors as [`allocate`](Self::allocate); a name given twice is `InvalidArgument`. `pool`
    /// `None` is the default pool, as for `allocate`.
    pub fn allocate_many<'p>(
        &self,
        names: &[&str],
        pool: impl Into<Option<&'p str>>,
        options: &LeaseOptions,
    ) -> Result<Vec<u16>> {
        let pool = pool.into().unwrap_or(crate::model::DEFAULT_POOL);
        let mut seen = HashSet::new();
        for name in names {
            check_name(name)?;
            if !seen.insert(*name) {
                return Err(Error::invalid(format!("name {name:?} is given twice")));
            }
        }
        check_name(pool).map_err(|e| Error::invalid(format!("pool: {e}")))?;
        let owner = options.pid.map(owner_of).transpose()?;
        let ttl = check_ttl_option(options.ttl)?;
        let protocol = options.protocol;
        self.store.update(|data| {
            let now = self.now();
            let mut changed = false;
            let mut ports = Vec::with_capacity(names.len());
            for name in names {
                changed |= drop_if_stale(data, name, now)?;
                if let Some(held) = held_port(data, name, protocol, None)? {
                    ports.push(held);
                    continue;
                }
                let port = take_from_pool(data, pool, protocol, now, None)?;
                let new = NewLease {
                    name,
                    mode: Mode::Pool,
                    pool: Some(pool),
                    protocol,
                    owner,
                    ttl,
                };
                data.insert(new.at(port, now))?;
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
            let now = self.now();
            current(data, name, now)?;
            let lease = data.lease_mut(name).ok_or_else(|| no_lease(name))?;
            lease.owner = owner;
            Ok((lease.clone(), true))
        })
    }

    /// Imports leases from `file`, in one write: either a flat `{"name": port, ...}` map
    /// (the format of hand-kept port maps such as a `port_allocation.json`), whose entries
    /// become fixed, permanent TCP leases, or another portpool registry file (to move a
    /// per-user registry's leases into the host registry), whose live leases are copied as
    /// they are. Names already present with the same port and protocol are skipped, and so
    /// are a registry file's stale leases.
    ///
    /// Any problem — not a regular file, invalid JSON, a key given twice, a bad name or port,
    /// one port given to two names, a port leased to another live name, a name holding
    /// another port — refuses the whole file with every problem listed, and writes nothing.
    /// Ports are not probed: importing the ports of running services is the point.
    pub fn import(&self, file: &Path) -> Result<ImportReport> {
        let bytes = read_import_file(file)?;
        let now = self.now();
        let entries = import_entries(file, &bytes, now)?;
        self.store.update(|data| {
            let now = self.now();
            let mut report = ImportReport::default();
            let mut conflicts = Vec::new();
            for lease in &entries {
                settle(data, &lease.name, now)?;
                if let Some(held) = data.lease(&lease.name) {
                    if held.port == lease.port && held.protocol == lease.protocol {
                        report.skipped.push(lease.name.clone());
                    } else {
                        conflicts.push(format!(
                            "{} already holds port {}/{}",
                            shown(&lease.name),
                            held.port,
                            held.protocol
                        ));
                    }
                    continue;
                }
                for port in lease.ports() {
                    if let Some(holder) = live_holder(data, port, lease.protocol, now, None)? {
                        conflicts.push(format!(
                            "port {port}/{} is leased to {}",
                            lease.protocol,
                            shown(&holder)
                        ));
                    }
                }
            }
            if !conflicts.is_empty() {
                return Err(Error::conflict(format!(
                    "{}: nothing imported: {}",
                    file.display(),
                    conflicts.join("; ")
                )));
            }
            for lease in entries {
                if report.skipped.contains(&lease.name) {
                    continue;
                }
                data.insert(lease.clone())?;
                report.imported.push(lease);
            }
            let changed = !report.imported.is_empty();
            Ok((report, changed))
        })
    }

    /// The leases recorded on `port` (TCP and UDP; a stale one says why in
    /// [`Lease::stale`]) and the server sockets bound to it with their processes. Where /proc cannot be read, the lease part only, and `unavailable` says why.
    pub fn who(&self, port: u16) -> Result<Who> {
        crate::validate::check_port(port)?;
        let now = self.now();
        let leases = self.store.read(|data| {
            [Protocol::Tcp, Protocol::Udp]
                .into_iter()
                .filter_map(|p| data.holder(port, p).map(|l| marked(l, now)))
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
        let plan = |data: &mut crate::model::Data| -> Result<Vec<Lease>> {
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
                let new = NewLease {
                    name: &name,
                    mode: Mode::Fixed,
                    pool: None,
                    protocol: *protocol,
                    owner: None,
                    ttl: None,
                };
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
    /// generation), expired leases, and pools overlapping the kernel's ephemeral port range.
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
        report.findings.extend(self.split_registry(now));
        for pool in &pools {
            if let Some(message) = ephemeral_warning(pool) {
                report.findings.push(Finding {
                    kind: FindingKind::EphemeralOverlap,
                    severity: FindingKind::EphemeralOverlap.severity(),
                    subject: pool.name.clone(),
                    port: None,
                    protocol: None,
                    message,
                });
            }
        }
        Ok(report)
    }
}

impl Registry {
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

/// What the host's server sockets say about a live lease: nothing listening on its port, a
/// process other than its owners (or their descendants) bound to it, or, for a lease
/// `migrate` recorded, another program holding its port now.
fn listener_findings(lease: &Lease, sockets: &[Socket]) -> Vec<Finding> {
    let at = format!("{}/{}", lease.port, lease.protocol);
    let mut findings = Vec::new();
    let on_port: Vec<&Socket> = sockets
        .iter()
        .filter(|s| s.port() == lease.port && s.protocol == lease.protocol)
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

/// The largest file `import` reads: a port map or registry many times any real one.
const MAX_IMPORT_BYTES: u64 = 64 << 20;

/// Reads an import file: a regular file of at most [`MAX_IMPORT_BYTES`]. A FIFO, device,
/// socket or directory is refused at once, never waited on.
fn read_import_file(file: &Path) -> Result<Vec<u8>> {
    use std::io::Read;
    use std::os::unix::fs::OpenOptionsExt;
    let io_err = |e: std::io::Error| match e.kind() {
        std::io::ErrorKind::NotFound => {
            Error::not_found(format!("{}: no such file", file.display()))
        }
        _ => Error::from_io(file, "reading", e),
    };
    let handle = std::fs::OpenOptions::new()
        .read(true)
        .custom_flags(libc::O_NONBLOCK | libc::O_NOCTTY)
        .open(file)
        .map_err(io_err)?;
    let meta = handle.metadata().map_err(io_err)?;
    if !meta.is_file() {
        return Err(Error::invalid(format!(
            "{}: not a regular file; import reads a {{\"name\": port}} map or a portpool registry",
            file.display()
        )));
    }
    let mut bytes = Vec::new();
    handle
        .take(MAX_IMPORT_BYTES + 1)
        .read_to_end(&mut bytes)
        .map_err(io_err)?;
    if bytes.len() as u64 > MAX_IMPORT_BYTES {
        return Err(Error::invalid(format!(
            "{}: larger than {} MiB, not a port map",
            file.display(),
            MAX_IMPORT_BYTES >> 20
        )));
    }
    Ok(bytes)
}

/// Whether `bytes` hold a portpool registry rather than a flat port map: the first JSON value
/// is an object with a `"version"` and either registry sections or more values after it.
fn is_registry_file(bytes: &[u8]) -> bool {
    let mut values = serde_json::Deserializer::from_slice(bytes).into_iter::<serde_json::Value>();
    let Some(Ok(serde_json::Value::Object(first))) = values.next() else {
        return false;
    };
    first.contains_key("version")
        && (first.contains_key("leases") || first.contains_key("pools") || values.next().is_some())
}

/// The leases an import file asks for, checked: every problem listed, or the leases.
fn import_entries(file: &Path, bytes: &[u8], now: Duration) -> Result<Vec<Lease>> {
    if is_registry_file(bytes) {
        let data = crate::format::decode(file, bytes)?.into_data();
        return Ok(data
            .leases()
            .filter(|l| standing(l, now) == Standing::Held)
            .cloned()
            .collect());
    }
    let map = crate::model::entries_once(bytes).map_err(|e| {
        Error::invalid(format!(
            "{}: not a {{\"name\": port}} map: {e}",
            file.display()
        ))
    })?;
    let mut problems = Vec::new();
    let mut entries: Vec<Lease> = Vec::new();
    for (name, value) in map {
        let port = match &value {
            serde_json::Value::Number(n) => Some(n.as_i64().map_or_else(
                || {
                    Err(Error::invalid(format!(
                        "invalid port {n}: ports are 1-65535"
                    )))
                },
                port_from_i64,
            )),
            serde_json::Value::String(s) => Some(crate::validate::parse_port(s)),
            _ => None,
        };
        match (check_name(&name), port) {
            (Err(e), _) => problems.push(e.to_string()),
            (_, Some(Ok(port))) => {
                let new = NewLease {
                    name: &name,
                    mode: Mode::Fixed,
                    pool: None,
                    protocol: Protocol::Tcp,
                    owner: None,
                    ttl: None,
                };
                entries.push(new.at(port, now));
            }
            (_, Some(Err(e))) => problems.push(format!("{}: {e}", shown(&name))),
            (_, None) => problems.push(format!("{}: {value} is not a port", shown(&name))),
        }
    }
    entries.sort_by(|a, b| a.name.cmp(&b.name));
    let mut by_port: BTreeMap<u16, Vec<&str>> = BTreeMap::new();
    for lease in &entries {
        by_port.entry(lease.port).or_default().push(&lease.name);
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
    Ok(entries)
}

/// `name`'s lease as it stands now, settled in `data`; `NotFound` when there is none or it
/// was stale.
fn current(data: &mut Data, name: &str, now: Duration) -> Result<Lease> {
    match settle(data, name, now)? {
        Some(gone) if data.lease(name).is_none() => Err(lease_gone(name, &gone.reason)),
        _ => data.lease(name).cloned().ok_or_else(|| no_lease(name)),
    }
}

/// `name`'s lease and its handover, or `NotFound`.
fn under_way(lease: Lease, name: &str) -> Result<(Lease, Next)> {
    let next = lease
        .next
        .ok_or_else(|| Error::not_found(format!("no handover of {} is under way", shown(name))))?;
    Ok((lease, next))
}

/// A commit or abort by `caller` of a handover begun for `next.owner`: refused when both are
/// known and differ.
fn check_handover_caller(name: &str, next: &Next, caller: Option<&Owner>) -> Result<()> {
    match (next.owner, caller) {
        (Some(pending), Some(caller)) if pending != *caller => Err(Error::conflict(format!(
            "the handover of {} is for {}, not pid {}; only its supervisor may commit or abort it",
            shown(name),
            pid_text(next.owner),
            caller.pid
        ))),
        _ => Ok(()),
    }
}

fn pid_text(owner: Option<Owner>) -> String {
    owner.map_or_else(|| "no process".to_owned(), |o| format!("pid {}", o.pid))
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
