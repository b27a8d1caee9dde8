//! `portpool`: the command line over portpool's core. Argument parsing and printing only;
//! every rule lives in `portpool-core`.

use std::io::Write;
use std::path::PathBuf;
use std::process::ExitCode;
use std::time::{Duration, UNIX_EPOCH};

use clap::{Args, CommandFactory, Parser, Subcommand};
use portpool_core::{
    Error, ErrorKind, FindingKind, Lease, LeaseOptions, Mode, PortState, Protocol, Registry,
    parse_port,
};

const AFTER_HELP: &str = "\
The registry is PATH, else $PORTPOOL_REGISTRY, else the host registry
/var/lib/portpool/registry.json whenever it exists (for every user; as root, also when it does
not yet), else $XDG_STATE_HOME/portpool/registry.json (~/.local/state/portpool/registry.json).

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
which their owners are gone anyway.

--json prints pretty JSON with object keys in alphabetical order; every time (created, expires)
is an RFC 3339 UTC string, as in the tables.";

#[derive(Parser)]
#[command(
    name = "portpool",
    version,
    about = "One port registry per host, shared by every supervisor in every language.",
    after_help = AFTER_HELP
)]
struct Cli {
    /// Registry file to use (default: $PORTPOOL_REGISTRY, else the host's registry).
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
        /// Name to lease the port to: 1-128 bytes, no whitespace or control characters.
        name: String,
        /// Preferred port (flexible) or the exact port (fixed), 1-65535.
        port: String,
        /// fixed: exactly PORT, or a conflict; flexible (default): PORT or the next free one up.
        #[arg(value_name = "MODE")]
        mode: Option<String>,
        #[command(flatten)]
        lease: LeaseArgs,
        /// Fixed mode: take the port even if a process outside the registry has it bound.
        #[arg(long)]
        force: bool,
    },
    /// Print NAME's port; an unknown NAME prints DEFAULT, or fails with exit 1.
    Get {
        /// Name whose port to print.
        name: String,
        /// Port to print when NAME holds no lease (exit 0 instead of 1).
        default: Option<String>,
    },
    /// Lease the next free port of a pool (round robin) to each NAME and print them, one a
    /// line. Several names are leased in one write: all or none.
    Allocate {
        /// Names to lease a port to; several are leased in one write, all or none.
        #[arg(required = true, value_name = "NAME")]
        names: Vec<String>,
        /// Pool to take the port from.
        #[arg(long, default_value = portpool_core::DEFAULT_POOL)]
        pool: String,
        #[command(flatten)]
        lease: LeaseArgs,
    },
    /// Release NAME's lease (an unknown NAME is not an error).
    Release {
        /// Name whose lease to release.
        name: String,
    },
    /// List every lease.
    List {
        /// Print an array of lease objects as JSON instead of a table.
        #[arg(long)]
        json: bool,
    },
    /// Manage pools (named port ranges).
    #[command(subcommand)]
    Pool(PoolCommand),
    /// Exit 0 if PORT is free, 1 if it is leased or bound, saying which and by whom.
    Check {
        /// Port to check, 1-65535.
        port: String,
        /// Check the UDP port instead of the TCP one.
        #[arg(long)]
        udp: bool,
        /// Print {port, protocol, state, lease} as JSON instead of a sentence.
        #[arg(long)]
        json: bool,
    },
    /// Release every lease whose owner has exited or whose time to live is over.
    Gc {
        /// Print the released leases and why, as JSON, instead of one line each.
        #[arg(long)]
        json: bool,
    },
    /// Restart NAME's time to live.
    Renew {
        /// Name whose lease to renew.
        name: String,
        /// New time to live in seconds (default: the one it was given).
        #[arg(long, value_name = "SECS")]
        ttl: Option<u64>,
    },
    /// Delete every lease and pool (the default pool comes back). Requires --yes.
    Reset {
        /// Confirm: without it, reset refuses (exit 2) and changes nothing.
        #[arg(long)]
        yes: bool,
    },
    /// Begin a zero-downtime handover of NAME: lease a new port for the next generation
    /// and print it, while the current one stays valid. --commit releases the old port and
    /// prints the new, now current one; --abort releases the new one and prints it.
    Handover {
        /// Name whose port to hand over.
        name: String,
        /// Complete the handover: release the old port; print the new, now current one.
        #[arg(long, conflicts_with = "abort")]
        commit: bool,
        /// Abandon the handover: release the new port and print it.
        #[arg(long)]
        abort: bool,
        /// Begin: the next generation's process, which owns the lease after the commit (its
        /// death frees the new port; the old owner's death commits). Commit and abort: the
        /// next generation as this supervisor knows it; refused (exit 3) when the handover
        /// was begun for another process. Without --pid, commit and abort are not checked.
        #[arg(long, value_name = "PID")]
        pid: Option<u32>,
    },
    /// Lease a port to NAME, run CMD with it in $PORT and $PORTPOOL_PORT, forward SIGINT,
    /// SIGTERM and SIGHUP to CMD, release the lease when CMD exits, and exit as CMD did.
    Run {
        /// Name to lease the port to, for as long as CMD runs.
        name: String,
        /// Pool to allocate from (the default pool unless --port is given).
        #[arg(long, conflicts_with = "port")]
        pool: Option<String>,
        /// Register this port instead of allocating from a pool.
        #[arg(long)]
        port: Option<String>,
        /// With --port: fixed or flexible (default).
        #[arg(value_name = "MODE")]
        mode: Option<String>,
        /// Lease a UDP port instead of a TCP one.
        #[arg(long)]
        udp: bool,
        /// The command and its arguments, after `--`.
        #[arg(last = true, required = true, value_name = "CMD")]
        command: Vec<std::ffi::OsString>,
    },
    /// Show the lease holding PORT and the processes bound to it.
    Who {
        /// Port to look up, 1-65535.
        port: String,
        /// Print {port, leases, sockets, unavailable} as JSON instead of text.
        #[arg(long)]
        json: bool,
    },
    /// Register every port a process listens on now as a fixed lease named after its program.
    Migrate {
        /// Print the plan and write nothing.
        #[arg(long)]
        dry_run: bool,
        /// Print the leases made (or planned) as JSON instead of one line each.
        #[arg(long)]
        json: bool,
    },
    /// Import a flat {"name": port} file as fixed leases, all or nothing.
    Import {
        /// JSON file of {"name": port, ...}, such as the FOSS stack's port_allocation.json.
        file: PathBuf,
    },
    /// Report leases nothing listens on, foreign listeners on leased ports, stale owners,
    /// expired leases and pools in the kernel's ephemeral range. Exit 0 if all is well, 1 if not.
    Doctor {
        /// Print {findings, unavailable} as JSON instead of one line per finding.
        #[arg(long)]
        json: bool,
        /// Exit 1 only when a finding of this kind is present (repeatable, or comma
        /// separated): not_listening, foreign_listener, stale_owner, stale_next_owner,
        /// expired, taken_over, ephemeral_overlap, split_registry. Default: any warning
        /// (every kind but the informational not_listening).
        #[arg(long, value_name = "KIND", value_delimiter = ',')]
        fail_on: Vec<String>,
    },
    /// Set up the host registry (as root; idempotent): /var/lib/portpool, or --registry's
    /// directory, owned by root. With --group, members of GROUP may change it (directory
    /// root:GROUP 2775, registry 0664, lock file 0660); without, only root may. Everyone can
    /// read it. Prints what it created or changed.
    Init {
        /// The group whose members may change the registry (e.g. portpool). Given again with
        /// another group, changes the group in place and keeps the leases.
        #[arg(long, value_name = "GROUP")]
        group: Option<String>,
    },
    /// Print the registry path in use, then the rule that chose it: --registry, else
    /// $PORTPOOL_REGISTRY, else the host registry whenever it exists, else the per-user one.
    Path,
    /// Print a completion script for SHELL on stdout, e.g.
    /// `portpool completions bash > /etc/bash_completion.d/portpool`.
    Completions {
        /// bash, zsh, fish, elvish or powershell.
        shell: clap_complete::Shell,
    },
    /// Print the manual page portpool(1) in roff on stdout, or with --dir write it and one page
    /// per subcommand (portpool-register(1), ...) into DIR.
    #[command(hide = true)]
    Man {
        /// Directory to write every page into, instead of printing portpool(1).
        #[arg(long, value_name = "DIR")]
        dir: Option<PathBuf>,
    },
}

#[derive(Subcommand)]
enum PoolCommand {
    /// Create pool NAME over START..=END, or change its range.
    Set {
        /// Pool name.
        name: String,
        /// First port of the range, 1-65535.
        start: String,
        /// Last port of the range (inclusive), START-65535.
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
        /// Print an array of {name, start, end, cursor, probe} objects as JSON instead of a table.
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
                    eprintln!("portpool: {}", usage_error(&err));
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
    match &cli.command {
        Command::Init { group } => {
            let path = cli
                .registry
                .clone()
                .unwrap_or_else(|| PathBuf::from(portpool_core::HOST_REGISTRY));
            return init(&path, group.as_deref());
        }
        Command::Completions { shell } => {
            let mut script = Vec::new();
            clap_complete::generate(*shell, &mut Cli::command(), "portpool", &mut script);
            // A closed stdout (`| head`) is not a failure, as for every other command.
            let _ = std::io::stdout().write_all(&script);
            return Ok(Outcome::Ok);
        }
        Command::Man { dir } => return man(dir.as_deref()).map(|()| Outcome::Ok),
        _ => {}
    }
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
                print(&mut out, &json_text(&leases));
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
                print(&mut out, &json_text(&pools));
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
                print(&mut out, &json_text(&value));
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
                print(&mut out, &json_text(&reclaimed));
            } else {
                for r in &reclaimed {
                    let verb = match &r.lease.next {
                        Some(_) => "settled",
                        None => "released",
                    };
                    print(
                        &mut out,
                        &format!(
                            "{verb} {} {}/{}: {}",
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
        Command::Path => {
            print(&mut out, &reg.path().display().to_string());
            print(&mut out, &format!("rule: {}", reg.source().rule()));
        }
        Command::Init { .. } | Command::Completions { .. } | Command::Man { .. } => {
            unreachable!("handled before the registry is opened")
        }
        Command::Handover {
            name,
            commit,
            abort,
            pid,
        } => {
            if commit {
                print(&mut out, &reg.commit_handover(&name, pid)?.to_string());
            } else if abort {
                print(&mut out, &reg.abort_handover(&name, pid)?.to_string());
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
                print(&mut out, &json_text(&who));
            } else {
                print(&mut out, &who_text(&who));
            }
        }
        Command::Migrate { dry_run, json } => {
            let made = reg.migrate(dry_run)?;
            if json {
                print(&mut out, &json_text(&made));
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
        Command::Doctor { json, fail_on } => {
            let fail_on = fail_on
                .iter()
                .map(|k| k.parse::<FindingKind>())
                .collect::<Result<Vec<_>, _>>()?;
            let report = reg.doctor()?;
            if json {
                print(&mut out, &json_text(&report));
            } else {
                for finding in &report.findings {
                    print(
                        &mut out,
                        &format!(
                            "{}: {} [{}]",
                            finding.severity.as_str(),
                            finding.message,
                            finding.kind
                        ),
                    );
                }
                if let Some(why) = &report.unavailable {
                    print(&mut out, &format!("listeners not checked: {why}"));
                }
                if report.findings.is_empty() {
                    print(&mut out, "no problems found");
                }
            }
            if report.fails(&fail_on) {
                return Ok(Outcome::NotFree);
            }
        }
    }
    Ok(Outcome::Ok)
}

fn init(path: &std::path::Path, group: Option<&str>) -> Result<Outcome, Error> {
    let report = portpool_core::init_host(path, group)?;
    let mut out = std::io::stdout().lock();
    for line in &report.created {
        let _ = writeln!(out, "created {line}");
    }
    for line in &report.changed {
        let _ = writeln!(out, "changed {line}");
    }
    if report.created.is_empty() && report.changed.is_empty() {
        let who = match group {
            Some(g) => format!("root and members of group {g} may change it"),
            None => "only root may change it".to_owned(),
        };
        let _ = writeln!(
            out,
            "nothing to change: {} is set up; {who}",
            path.display()
        );
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
        let stale = l
            .stale
            .as_ref()
            .map(|why| format!(" (stale: {why})"))
            .unwrap_or_default();
        lines.push(format!(
            "lease {} {}/{} {}{role}{owner}{stale}",
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

/// The fields of every `--json` output that hold a time (seconds since the epoch in core's
/// values): printed as RFC 3339 strings, as the tables print them. A new time field of a
/// value printed with `--json` belongs here.
const TIMESTAMP_KEYS: [&str; 2] = ["created", "expires"];

/// The one JSON style of every `--json` output: pretty-printed, the keys of every object in
/// alphabetical order, and times (see [`TIMESTAMP_KEYS`]) as RFC 3339 UTC strings, or null.
fn json_text<T: serde::Serialize>(value: &T) -> String {
    fn normalise(value: serde_json::Value) -> serde_json::Value {
        use serde_json::Value;
        match value {
            Value::Array(items) => Value::Array(items.into_iter().map(normalise).collect()),
            Value::Object(map) => {
                let mut entries: Vec<(String, Value)> = map.into_iter().collect();
                entries.sort_by(|a, b| a.0.cmp(&b.0));
                let entries = entries.into_iter().map(|(key, v)| {
                    let v = match v.as_u64() {
                        Some(secs) if TIMESTAMP_KEYS.contains(&key.as_str()) => {
                            Value::String(timestamp(Some(secs)))
                        }
                        _ => normalise(v),
                    };
                    (key, v)
                });
                Value::Object(entries.collect())
            }
            other => other,
        }
    }
    let value = serde_json::to_value(value).expect("serializing plain data cannot fail");
    serde_json::to_string_pretty(&normalise(value)).expect("a JSON value prints")
}

/// A clap usage error as one line: what is missing or wrong (each item clap lists), clap's
/// suggestion ("did you mean ...?"), the usage of the (sub)command concerned and where its
/// help is, e.g. `the following required arguments were not provided: <PORT>; usage:
/// portpool register [OPTIONS] <NAME> <PORT> [MODE]; see 'portpool register --help'`.
fn usage_error(err: &clap::Error) -> String {
    if err.kind() == clap::error::ErrorKind::DisplayHelpOnMissingArgumentOrSubcommand {
        // clap would print the whole help: name what is missing instead.
        let (path, cmd) = subcommand_path();
        let names: Vec<&str> = cmd
            .get_subcommands()
            .filter(|s| !s.is_hide_set())
            .map(|s| s.get_name())
            .filter(|n| *n != "help")
            .collect();
        return format!(
            "a command is required: one of {}; see '{path} --help'",
            names.join(", ")
        );
    }
    let text = err.render().to_string();
    let mut what = Vec::new();
    let mut tips = Vec::new();
    let mut usage = None;
    for line in text.lines().map(str::trim).filter(|l| !l.is_empty()) {
        if let Some(u) = line.strip_prefix("Usage: ") {
            usage = Some(u.to_owned());
        } else if let Some(tip) = line.strip_prefix("tip: ") {
            tips.push(match tip.rsplit_once(" exists: ") {
                Some((_, suggestion)) => format!("did you mean {suggestion}?"),
                None => match tip.rsplit_once(" exist: ") {
                    Some((_, suggestions)) => format!("did you mean one of {suggestions}?"),
                    None => tip.to_owned(),
                },
            });
        } else if line.starts_with("For more information") {
        } else {
            what.push(line.strip_prefix("error: ").unwrap_or(line).to_owned());
        }
    }
    let mut message = what.join(" ");
    if !tips.is_empty() {
        message = format!("{message} ({})", tips.join("; "));
    }
    let command = usage
        .as_deref()
        .map(|u| {
            u.split_whitespace()
                .take_while(|w| !w.starts_with(['[', '<', '-']))
                .collect::<Vec<_>>()
                .join(" ")
        })
        .unwrap_or_else(|| subcommand_path().0);
    if let Some(usage) = usage {
        message.push_str(&format!("; usage: {usage}"));
    }
    format!("{message}; see '{command} --help'")
}

/// The subcommand named on the command line (`portpool pool set`) and its definition, for an
/// error clap reported without a usage line.
fn subcommand_path() -> (String, clap::Command) {
    let mut cmd = Cli::command();
    let mut path = vec!["portpool".to_owned()];
    let mut args = std::env::args_os().skip(1);
    while let Some(arg) = args.next() {
        let Some(arg) = arg.to_str() else { break };
        if arg == "--registry" {
            args.next();
            continue;
        }
        if arg.starts_with('-') {
            continue;
        }
        match cmd.find_subcommand(arg).cloned() {
            Some(sub) => {
                path.push(sub.get_name().to_owned());
                cmd = sub;
            }
            None => break,
        }
    }
    (path.join(" "), cmd)
}

/// `portpool man`: portpool(1) on stdout, or every page into `dir`.
fn man(dir: Option<&std::path::Path>) -> Result<(), Error> {
    let cmd = Cli::command();
    let io_err = |e: std::io::Error| Error::new(ErrorKind::Io, format!("writing man pages: {e}"));
    match dir {
        None => {
            let mut page = Vec::new();
            clap_mangen::Man::new(cmd)
                .render(&mut page)
                .map_err(io_err)?;
            let _ = std::io::stdout().write_all(&page);
            Ok(())
        }
        Some(dir) => clap_mangen::generate_to(cmd, dir).map_err(io_err),
    }
}

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
            l.stale.clone().unwrap_or_else(|| "-".into()),
        ]
    });
    table(
        &[
            "NAME", "PORT", "PROTO", "MODE", "POOL", "NEXT", "PID", "EXPIRES", "CREATED", "STALE",
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

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn every_subcommand_flag_and_argument_has_help_text() {
        fn walk(cmd: &clap::Command, path: &str, missing: &mut Vec<String>) {
            for arg in cmd.get_arguments() {
                let id = arg.get_id().as_str();
                if !arg.is_hide_set()
                    && !["help", "version"].contains(&id)
                    && arg.get_help().is_none()
                {
                    missing.push(format!("{path} {id}"));
                }
            }
            for sub in cmd.get_subcommands().filter(|s| s.get_name() != "help") {
                let path = format!("{path} {}", sub.get_name());
                if sub.get_about().is_none() {
                    missing.push(path.clone());
                }
                walk(sub, &path, missing);
            }
        }
        let cmd = Cli::command();
        cmd.clone().debug_assert();
        let mut missing = Vec::new();
        walk(&cmd, "portpool", &mut missing);
        assert!(missing.is_empty(), "no help text: {missing:?}");
    }

    #[test]
    fn json_text_sorts_keys_and_prints_times_as_rfc_3339() {
        let value = serde_json::json!({
            "name": "web", "created": 0, "next": {"port": 2, "created": 86400, "owner": null},
            "expires": null, "ttl": 60,
        });
        assert_eq!(
            json_text(&value),
            "{\n  \"created\": \"1970-01-01T00:00:00Z\",\n  \"expires\": null,\n  \"name\": \"web\",\n  \
             \"next\": {\n    \"created\": \"1970-01-02T00:00:00Z\",\n    \"owner\": null,\n    \
             \"port\": 2\n  },\n  \"ttl\": 60\n}"
        );
    }
}
