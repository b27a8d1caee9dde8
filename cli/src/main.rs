//! `portpool`: the command line over portpool's core. Argument parsing and printing only;
//! every rule lives in `portpool-core`.

use std::io::Write;
use std::path::PathBuf;
use std::process::ExitCode;
use std::time::{Duration, UNIX_EPOCH};

use clap::{Args, Parser, Subcommand};
use portpool_core::{
    Error, ErrorKind, Lease, LeaseOptions, Mode, PortState, Protocol, Registry, leases_to_json,
    parse_port, pools_to_json,
};

const AFTER_HELP: &str = "\
The registry is PATH, else $PORTPOOL_REGISTRY, else /var/lib/portpool/registry.json as root,
else $XDG_STATE_HOME/portpool/registry.json (~/.local/state/portpool/registry.json).

Exit codes:
  0  ok
  1  not found (get, renew), or port not free (check)
  2  usage error or invalid argument
  3  conflict: the port is leased to another name or bound by another process
  4  exhausted: no free port left
  5  registry error (corrupt, newer format, permission) or I/O error
  6  busy: another process held the registry's lock for the whole --wait
     ($PORTPOOL_LOCK_TIMEOUT seconds, else 10); nothing was changed

A change returns once it is on the disk, unless it concerns only leases owned by a process
(--pid) or a pool's cursor: those survive any crash of a process, but not a power loss, after
which their owners are gone anyway.";

#[derive(Parser)]
#[command(
    name = "portpool",
    version,
    about = "One port registry per host, shared by every supervisor in every language.",
    after_help = AFTER_HELP
)]
struct Cli {
    /// Registry file to use.
    #[arg(long, global = true, value_name = "PATH")]
    registry: Option<PathBuf>,
    /// Wait at most SECS (decimals allowed, 0: not at all) for another process's lock
    /// before failing with exit 6; default $PORTPOOL_LOCK_TIMEOUT, else 10. Reads never wait.
    #[arg(long, global = true, value_name = "SECS", value_parser = wait_secs)]
    wait: Option<Duration>,
    #[command(subcommand)]
    command: Command,
}

#[derive(Args)]
struct LeaseArgs {
    /// Lease a UDP port instead of a TCP one.
    #[arg(long)]
    udp: bool,
    /// Owner process: the lease is reclaimed once that process has exited.
    #[arg(long, value_name = "PID")]
    pid: Option<u32>,
    /// Time to live in seconds; `portpool renew` extends it.
    #[arg(long, value_name = "SECS")]
    ttl: Option<u64>,
}

#[derive(Subcommand)]
enum Command {
    /// Lease PORT (fixed) or the first free port from PORT upward (flexible, the default) to
    /// NAME, and print it. A NAME that holds a lease prints its port.
    Register {
        name: String,
        port: String,
        /// fixed or flexible
        mode: Option<String>,
        #[command(flatten)]
        lease: LeaseArgs,
        /// Fixed mode: take the port even if a process outside the registry has it bound.
        #[arg(long)]
        force: bool,
    },
    /// Print NAME's port; an unknown NAME prints DEFAULT, or fails with exit 1.
    Get {
        name: String,
        default: Option<String>,
    },
    /// Lease the next free port of a pool (round robin) to each NAME and print them, one a
    /// line. Several names are leased in one write: all or none.
    Allocate {
        #[arg(required = true, value_name = "NAME")]
        names: Vec<String>,
        /// Pool to take the port from.
        #[arg(long, default_value = portpool_core::DEFAULT_POOL)]
        pool: String,
        #[command(flatten)]
        lease: LeaseArgs,
    },
    /// Release NAME's lease (an unknown NAME is not an error).
    Release { name: String },
    /// List every lease.
    List {
        /// An array of lease objects instead of a table.
        #[arg(long)]
        json: bool,
    },
    /// Manage pools (named port ranges).
    #[command(subcommand)]
    Pool(PoolCommand),
    /// Exit 0 if PORT is free, 1 if it is leased or bound, saying which and by whom.
    Check {
        port: String,
        /// Check the UDP port instead of the TCP one.
        #[arg(long)]
        udp: bool,
        #[arg(long)]
        json: bool,
    },
    /// Release every lease whose owner has exited or whose time to live is over.
    Gc {
        #[arg(long)]
        json: bool,
    },
    /// Restart NAME's time to live.
    Renew {
        name: String,
        /// New time to live in seconds (default: the one it was given).
        #[arg(long, value_name = "SECS")]
        ttl: Option<u64>,
    },
    /// Delete every lease and pool (the default pool comes back). Requires --yes.
    Reset {
        #[arg(long)]
        yes: bool,
    },
    /// Begin a zero-downtime handover of NAME: lease a new port for the next generation
    /// and print it, while the current one stays valid. --commit releases the old port and
    /// prints the new, now current one; --abort releases the new one and prints it.
    Handover {
        name: String,
        #[arg(long, conflicts_with = "abort")]
        commit: bool,
        #[arg(long)]
        abort: bool,
        /// The next generation's process, which owns the lease after the commit.
        #[arg(long, value_name = "PID")]
        pid: Option<u32>,
    },
    /// Lease a port to NAME, run CMD with it in $PORT and $PORTPOOL_PORT, forward SIGINT,
    /// SIGTERM and SIGHUP to CMD, release the lease when CMD exits, and exit as CMD did.
    Run {
        name: String,
        /// Pool to allocate from (the default pool unless --port is given).
        #[arg(long, conflicts_with = "port")]
        pool: Option<String>,
        /// Register this port instead of allocating from a pool.
        #[arg(long)]
        port: Option<String>,
        /// With --port: fixed or flexible.
        mode: Option<String>,
        #[arg(long)]
        udp: bool,
        /// The command and its arguments, after `--`.
        #[arg(last = true, required = true, value_name = "CMD")]
        command: Vec<std::ffi::OsString>,
    },
    /// Show the lease holding PORT and the processes bound to it.
    Who {
        port: String,
        #[arg(long)]
        json: bool,
    },
    /// Register every port a process listens on now as a fixed lease named after its program.
    Migrate {
        /// Print the plan and write nothing.
        #[arg(long)]
        dry_run: bool,
        #[arg(long)]
        json: bool,
    },
    /// Import a flat {"name": port} file as fixed leases, all or nothing.
    Import { file: PathBuf },
    /// Report leases nothing listens on, foreign listeners on leased ports, stale owners,
    /// expired leases and pools in the kernel's ephemeral range. Exit 0 if all is well, 1 if not.
    Doctor {
        #[arg(long)]
        json: bool,
    },
    /// Print the registry path in use.
    Path,
}

#[derive(Subcommand)]
enum PoolCommand {
    /// Create pool NAME over START..=END, or change its range.
    Set {
        name: String,
        start: String,
        end: String,
        /// Do not bind-probe candidates (for a range reserved for portpool).
        #[arg(long, conflicts_with = "probe")]
        no_probe: bool,
        /// Bind-probe candidates (the default for a new pool).
        #[arg(long)]
        probe: bool,
    },
    /// List pools.
    List {
        #[arg(long)]
        json: bool,
    },
}

/// How the command ended, when it did not fail.
pub(crate) enum Outcome {
    Ok,
    /// Exit 1 without an error message (check: the port is not free).
    NotFree,
    /// Exit with this code (run: the command's).
    Exit(u8),
}

fn exit_code(kind: ErrorKind) -> u8 {
    match kind {
        ErrorKind::NotFound => 1,
        ErrorKind::InvalidArgument => 2,
        ErrorKind::Conflict => 3,
        ErrorKind::Exhausted => 4,
        ErrorKind::Registry | ErrorKind::Io => 5,
        ErrorKind::Busy => 6,
    }
}

fn wait_secs(text: &str) -> Result<Duration, String> {
    portpool_core::parse_lock_timeout(text).map_err(|e| e.message().to_owned())
}

fn main() -> ExitCode {
    let cli = match Cli::try_parse() {
        Ok(cli) => cli,
        Err(err) => {
            use clap::error::ErrorKind as K;
            return match err.kind() {
                K::DisplayHelp | K::DisplayVersion => {
                    let _ = err.print();
                    ExitCode::SUCCESS
                }
                _ => {
                    let text = err.to_string();
                    let first = text.lines().next().unwrap_or("invalid usage");
                    let first = first.strip_prefix("error: ").unwrap_or(first);
                    eprintln!("portpool: {first} (see 'portpool --help')");
                    ExitCode::from(2)
                }
            };
        }
    };
    match run(cli) {
        Ok(Outcome::Ok) => ExitCode::SUCCESS,
        Ok(Outcome::NotFree) => ExitCode::from(1),
        Ok(Outcome::Exit(code)) => ExitCode::from(code),
        Err(err) => {
            eprintln!("portpool: {err}");
            ExitCode::from(exit_code(err.kind()))
        }
    }
}

fn protocol(udp: bool) -> Protocol {
    if udp { Protocol::Udp } else { Protocol::Tcp }
}

fn options(lease: &LeaseArgs, force: bool) -> LeaseOptions {
    LeaseOptions {
        protocol: protocol(lease.udp),
        force,
        pid: lease.pid,
        ttl: lease.ttl,
    }
}

fn run(cli: Cli) -> Result<Outcome, Error> {
    let reg = Registry::open(cli.registry.as_deref())?;
    if let Some(wait) = cli.wait {
        reg.set_lock_timeout(wait);
    }
    let mut out = std::io::stdout().lock();
    let print = |out: &mut std::io::StdoutLock, text: &str| {
        // A closed stdout (`| head`) is not the registry's failure.
        let _ = writeln!(out, "{text}");
    };
    match cli.command {
        Command::Register {
            name,
            port,
            mode,
            lease,
            force,
        } => {
            let port = parse_port(&port)?;
            let mode = mode.as_deref().map(str::parse::<Mode>).transpose()?;
            let got = reg.register(
                &name,
                port,
                mode.unwrap_or_default(),
                &options(&lease, force),
            )?;
            print(&mut out, &got.to_string());
        }
        Command::Get { name, default } => {
            let port = match default.as_deref().map(parse_port).transpose()? {
                Some(default) => reg.get(&name)?.map_or(default, |l| l.port),
                None => reg.lease(&name)?.port,
            };
            print(&mut out, &port.to_string());
        }
        Command::Allocate { names, pool, lease } => {
            let opts = options(&lease, false);
            let ports = match names.as_slice() {
                [name] => vec![reg.allocate(name, &pool, &opts)?],
                many => {
                    let names: Vec<&str> = many.iter().map(String::as_str).collect();
                    reg.allocate_many(&names, &pool, &opts)?
                }
            };
            for port in ports {
                print(&mut out, &port.to_string());
            }
        }
        Command::Release { name } => {
            if reg.release(&name)? {
                print(&mut out, &format!("released {name}"));
            } else {
                print(&mut out, &format!("{name} held no lease"));
            }
        }
        Command::List { json } => {
            let leases = reg.list()?;
            if json {
                print(&mut out, &leases_to_json(&leases, true));
            } else {
                print(&mut out, &lease_table(&leases));
            }
        }
        Command::Pool(PoolCommand::Set {
            name,
            start,
            end,
            no_probe,
            probe,
        }) => {
            let probe = match (probe, no_probe) {
                (true, _) => Some(true),
                (_, true) => Some(false),
                _ => None,
            };
            let pool = reg.set_pool(&name, parse_port(&start)?, parse_port(&end)?, probe)?;
            if let Some((lo, hi)) = portpool_core::ephemeral_overlap(&pool) {
                eprintln!(
                    "portpool: warning: pool {} ({}-{}) overlaps the kernel's ephemeral ports {lo}-{hi}; outgoing connections may take its ports",
                    pool.name, pool.start, pool.end
                );
            }
            print(
                &mut out,
                &format!("pool {} {}-{}", pool.name, pool.start, pool.end),
            );
        }
        Command::Pool(PoolCommand::List { json }) => {
            let pools = reg.pools()?;
            if json {
                print(&mut out, &pools_to_json(&pools, true));
            } else {
                let rows = pools.iter().map(|p| {
                    vec![
                        p.name.clone(),
                        p.start.to_string(),
                        p.end.to_string(),
                        p.cursor.to_string(),
                        if p.probe { "yes" } else { "no" }.to_owned(),
                    ]
                });
                print(
                    &mut out,
                    &table(&["NAME", "START", "END", "CURSOR", "PROBE"], rows),
                );
            }
        }
        Command::Check { port, udp, json } => {
            let port = parse_port(&port)?;
            let protocol = protocol(udp);
            let state = reg.check(port, protocol)?;
            let free = state == PortState::Free;
            if json {
                let (state_name, lease) = match &state {
                    PortState::Free => ("free", None),
                    PortState::Leased(l) => ("leased", Some(l)),
                    PortState::Busy => ("busy", None),
                };
                let value = serde_json::json!({
                    "port": port, "protocol": protocol, "state": state_name, "lease": lease,
                });
                print(&mut out, &value.to_string());
            } else {
                let text = match &state {
                    PortState::Free => format!("{port}/{protocol} free"),
                    PortState::Leased(l) => {
                        format!("{port}/{protocol} leased to {} ({})", l.name, l.mode)
                    }
                    PortState::Busy => {
                        format!("{port}/{protocol} busy: bound by a process outside the registry")
                    }
                };
                print(&mut out, &text);
            }
            if !free {
                return Ok(Outcome::NotFree);
            }
        }
        Command::Gc { json } => {
            let reclaimed = reg.gc()?;
            if json {
                print(
                    &mut out,
                    &serde_json::to_string(&reclaimed).expect("plain data"),
                );
            } else {
                for r in &reclaimed {
                    print(
                        &mut out,
                        &format!(
                            "released {} {}/{}: {}",
                            r.lease.name, r.lease.port, r.lease.protocol, r.reason
                        ),
                    );
                }
            }
        }
        Command::Renew { name, ttl } => {
            let lease = reg.renew(&name, ttl)?;
            print(&mut out, &timestamp(lease.expires));
        }
        Command::Reset { yes } => {
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
        }
        Command::Path => print(&mut out, &reg.path().display().to_string()),
        Command::Handover {
            name,
            commit,
            abort,
            pid,
        } => {
            if commit {
                print(&mut out, &reg.commit_handover(&name)?.to_string());
            } else if abort {
                print(&mut out, &reg.abort_handover(&name)?.to_string());
            } else {
                print(&mut out, &reg.begin_handover(&name, pid)?.to_string());
            }
        }
        Command::Run {
            name,
            pool,
            port,
            mode,
            udp,
            command,
        } => {
            drop(out);
            return run::run(&reg, &name, pool, port, mode, protocol(udp), &command);
        }
        Command::Who { port, json } => {
            let who = reg.who(parse_port(&port)?)?;
            if json {
                print(
                    &mut out,
                    &serde_json::to_string_pretty(&who).expect("plain data"),
                );
            } else {
                print(&mut out, &who_text(&who));
            }
        }
        Command::Migrate { dry_run, json } => {
            let made = reg.migrate(dry_run)?;
            if json {
                print(&mut out, &leases_to_json(&made, true));
            } else {
                let verb = if dry_run {
                    "would register"
                } else {
                    "registered"
                };
                for lease in &made {
                    print(
                        &mut out,
                        &format!("{verb} {} {}/{}", lease.name, lease.port, lease.protocol),
                    );
                }
            }
        }
        Command::Import { file } => {
            let report = reg.import(&file)?;
            for lease in &report.imported {
                print(&mut out, &format!("imported {} {}", lease.name, lease.port));
            }
            for name in &report.skipped {
                print(&mut out, &format!("skipped {name}: already registered"));
            }
        }
        Command::Doctor { json } => {
            let report = reg.doctor()?;
            if json {
                print(
                    &mut out,
                    &serde_json::to_string_pretty(&report).expect("plain data"),
                );
            } else {
                for finding in &report.findings {
                    print(&mut out, &finding.message);
                }
                if let Some(why) = &report.unavailable {
                    print(&mut out, &format!("listeners not checked: {why}"));
                }
                if report.findings.is_empty() {
                    print(&mut out, "no problems found");
                }
            }
            if !report.findings.is_empty() {
                return Ok(Outcome::NotFree);
            }
        }
    }
    Ok(Outcome::Ok)
}

fn who_text(who: &portpool_core::Who) -> String {
    let mut lines = Vec::new();
    for l in &who.leases {
        let role = if l.port == who.port {
            ""
        } else {
            " (next generation)"
        };
        let owner = l
            .owner
            .map(|o| format!(", owner pid {}", o.pid))
            .unwrap_or_default();
        lines.push(format!(
            "lease {} {}/{} {}{role}{owner}",
            l.name, who.port, l.protocol, l.mode
        ));
    }
    if who.leases.is_empty() {
        lines.push(format!(
            "lease none: port {} is not in the registry",
            who.port
        ));
    }
    match (&who.sockets, &who.unavailable) {
        (Some(sockets), _) => {
            for s in sockets {
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
                lines.push(format!("bound {} {}: {holders}", s.protocol, s.address));
            }
            if sockets.is_empty() {
                lines.push("bound nothing: no process listens on it".to_owned());
            }
        }
        (None, why) => lines.push(format!(
            "bound unknown: {}",
            why.as_deref().unwrap_or("/proc is unavailable")
        )),
    }
    lines.join("\n")
}

mod run;

fn timestamp(secs: Option<u64>) -> String {
    match secs {
        Some(s) => {
            humantime::format_rfc3339_seconds(UNIX_EPOCH + Duration::from_secs(s)).to_string()
        }
        None => "-".to_owned(),
    }
}

fn lease_table(leases: &[Lease]) -> String {
    let rows = leases.iter().map(|l| {
        vec![
            l.name.clone(),
            l.port.to_string(),
            l.protocol.to_string(),
            l.mode.to_string(),
            l.pool.clone().unwrap_or_else(|| "-".into()),
            l.next.map_or_else(|| "-".into(), |n| n.port.to_string()),
            l.owner.map_or_else(|| "-".into(), |o| o.pid.to_string()),
            timestamp(l.expires),
            timestamp(Some(l.created)),
        ]
    });
    table(
        &[
            "NAME", "PORT", "PROTO", "MODE", "POOL", "NEXT", "PID", "EXPIRES", "CREATED",
        ],
        rows,
    )
}

/// Left-aligned columns separated by two spaces. Names hold no whitespace or control
/// characters (core rejects them), so a cell never breaks the layout.
fn table(header: &[&str], rows: impl Iterator<Item = Vec<String>>) -> String {
    let rows: Vec<Vec<String>> = rows.collect();
    let mut widths: Vec<usize> = header.iter().map(|h| h.chars().count()).collect();
    for row in &rows {
        for (w, cell) in widths.iter_mut().zip(row) {
            *w = (*w).max(cell.chars().count());
        }
    }
    let line = |cells: Vec<&str>| {
        let mut s = String::new();
        for (i, (cell, w)) in cells.iter().zip(&widths).enumerate() {
            if i + 1 == cells.len() {
                s.push_str(cell);
            } else {
                s.push_str(&format!("{cell:<w$}  "));
            }
        }
        s
    };
    let mut lines = vec![line(header.to_vec())];
    lines.extend(
        rows.iter()
            .map(|r| line(r.iter().map(String::as_str).collect())),
    );
    lines.join("\n")
}
