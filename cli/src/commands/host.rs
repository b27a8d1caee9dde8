//! Commands about the host rather than one lease: the host registry's setup and path, who
//! holds a port, adopting the listeners and files that predate portpool, and health checks.

use std::path::{Path, PathBuf};

use portpool_core::{DoctorReport, Error, FindingKind, Lease, Registry, RepairReport, Who};

use crate::Outcome;
use crate::args::{DoctorArgs, MigrateArgs, WhoArgs};
use crate::render::{Render, emit, say, value};

/// `portpool init`: sets up the registry at `path` (the host registry unless given) and says
/// what it created or changed.
pub(super) fn init(path: Option<PathBuf>, group: Option<&str>) -> Result<Outcome, Error> {
    let path = path.unwrap_or_else(|| PathBuf::from(portpool_core::HOST_REGISTRY));
    let report = portpool_core::init_host(&path, group)?;
    let created = report.created.iter().map(|l| format!("created {l}"));
    let changed = report.changed.iter().map(|l| format!("changed {l}"));
    say(created.chain(changed));
    if report.created.is_empty() && report.changed.is_empty() {
        let who = match group {
            Some(g) => format!("root and members of group {g} may change it"),
            None => "only root may change it".to_owned(),
        };
        say([format!(
            "nothing to change: {} is set up; {who}",
            path.display()
        )]);
    }
    Ok(Outcome::Ok)
}

/// `portpool path`: the registry in use and the rule that chose it.
pub(super) fn path(reg: &Registry) -> Result<Outcome, Error> {
    say([
        reg.path().display().to_string(),
        format!("rule: {}", reg.source().rule()),
    ]);
    Ok(Outcome::Ok)
}

/// `portpool who`: the leases and the sockets holding a port.
pub(super) fn who(reg: &Registry, args: WhoArgs) -> Result<Outcome, Error> {
    emit(args.json, &reg.who(portpool_core::parse_port(&args.port)?)?);
    Ok(Outcome::Ok)
}

impl Render for Who {
    fn text(&self) -> Vec<String> {
        let mut lines = lease_lines(self);
        lines.extend(socket_lines(self));
        lines
    }

    fn json(&self) -> serde_json::Value {
        value(self)
    }
}

/// One line per lease holding the port, or one saying there is none.
fn lease_lines(who: &Who) -> Vec<String> {
    if who.leases.is_empty() {
        return vec![format!(
            "lease none: port {} is not in the registry",
            who.port
        )];
    }
    let line = |l: &Lease| {
        let role = if l.port == who.port {
            ""
        } else {
            " (next generation)"
        };
        let owner = l
            .owner
            .map(|o| format!(", owner pid {}", o.pid))
            .unwrap_or_default();
        let stale = l
            .stale
            .as_ref()
            .map(|why| format!(" (stale: {why})"))
            .unwrap_or_default();
        format!(
            "lease {} {}/{} {}{role}{owner}{stale}",
            super::leases::named(l),
            who.port,
            l.protocol,
            l.mode
        )
    };
    who.leases.iter().map(line).collect()
}

/// One line per socket bound to the port, or one saying there is none or why it is unknown.
fn socket_lines(who: &Who) -> Vec<String> {
    let Some(sockets) = &who.sockets else {
        let why = who.unavailable.as_deref();
        return vec![format!(
            "bound unknown: {}",
            why.unwrap_or("/proc is unavailable")
        )];
    };
    if sockets.is_empty() {
        return vec!["bound nothing: no process listens on it".to_owned()];
    }
    let line = |s: &portpool_core::Socket| {
        let holders: Vec<String> = s
            .processes
            .iter()
            .map(|p| format!("pid {} {}", p.pid, p.program))
            .collect();
        let holders = if holders.is_empty() {
            "process not visible to this user".to_owned()
        } else {
            holders.join(", ")
        };
        format!("bound {} {}: {holders}", s.protocol, s.address)
    };
    sockets.iter().map(line).collect()
}

/// `portpool migrate`: one line per lease made (or, with `--dry-run`, planned).
pub(super) fn migrate(reg: &Registry, args: MigrateArgs) -> Result<Outcome, Error> {
    let leases = reg.migrate(args.dry_run)?;
    emit(
        args.json,
        &Migrated {
            dry_run: args.dry_run,
            leases,
        },
    );
    Ok(Outcome::Ok)
}

/// What `portpool migrate` did or would do.
struct Migrated {
    dry_run: bool,
    leases: Vec<Lease>,
}

impl Render for Migrated {
    fn text(&self) -> Vec<String> {
        let verb = if self.dry_run {
            "would register"
        } else {
            "registered"
        };
        let line = |l: &Lease| format!("{verb} {} {}/{}", l.name, l.port, l.protocol);
        self.leases.iter().map(line).collect()
    }

    fn json(&self) -> serde_json::Value {
        value(&self.leases)
    }
}

/// `portpool import`: one line per name imported or skipped.
pub(super) fn import(reg: &Registry, file: &Path) -> Result<Outcome, Error> {
    let report = reg.import(file)?;
    let imported = report.imported.iter();
    say(imported.map(|l| format!("imported {} {}", l.name, l.port)));
    say(report
        .skipped
        .iter()
        .map(|name| format!("skipped {name}: already registered")));
    Ok(Outcome::Ok)
}

/// `portpool doctor`: one line per finding; exit 1 when a finding fails the check.
pub(super) fn doctor(reg: &Registry, args: DoctorArgs) -> Result<Outcome, Error> {
    let fail_on = args
        .fail_on
        .iter()
        .map(|k| k.parse::<FindingKind>())
        .collect::<Result<Vec<_>, _>>()?;
    let report = reg.doctor()?;
    emit(args.json, &report);
    Ok(if report.fails(&fail_on) {
        Outcome::NotFree
    } else {
        Outcome::Ok
    })
}

/// `portpool repair`: what was kept, lost and moved aside.
pub(super) fn repair(reg: &Registry, json: bool) -> Result<Outcome, Error> {
    emit(json, &reg.repair()?);
    Ok(Outcome::Ok)
}

impl Render for RepairReport {
    fn text(&self) -> Vec<String> {
        let mut lines = vec![if self.repaired {
            format!("repaired: kept {} lease(s)", self.kept)
        } else {
            format!("nothing to repair: {} lease(s) read back", self.kept)
        }];
        lines.extend(self.lost.iter().map(|l| format!("lost: {l}")));
        lines.extend(
            self.moved_aside
                .iter()
                .map(|p| format!("moved aside: {}", p.display())),
        );
        lines
    }

    fn json(&self) -> serde_json::Value {
        value(self)
    }
}

impl Render for DoctorReport {
    fn text(&self) -> Vec<String> {
        let mut lines: Vec<String> = self
            .findings
            .iter()
            .map(|f| format!("{}: {} [{}]", f.severity.as_str(), f.message, f.kind))
            .collect();
        if let Some(why) = &self.unavailable {
            lines.push(format!("listeners not checked: {why}"));
        }
        if self.findings.is_empty() {
            lines.push("no problems found".to_owned());
        }
        lines
    }

    fn json(&self) -> serde_json::Value {
        value(self)
    }
}
