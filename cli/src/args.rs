//! What the command line accepts: the clap definitions, from which the help text, the man
//! pages and the completions are all generated, and the conversion of shared flags into
//! core's options. Each multi-argument command's arguments are one struct, handed whole to
//! the function that runs the command.

use std::path::PathBuf;
use std::time::Duration;

use clap::{Args, Parser, Subcommand};
use portpool_core::{Error, Protocol};

use crate::lease_args::{AllocateLease, RegisterLease, RunLease};
use crate::values;

// Each paragraph of the help's epilogue is a macro, so that the man page can put each in its own
// section (FILES, EXIT STATUS, ...) from the same text.
macro_rules! registry_rule {
    () => {
        "\
The registry is PATH, else $PORTPOOL_REGISTRY, else the host registry
/var/lib/portpool/registry.json whenever portpool init set up its directory or it exists (for
every user: there, a missing registry is an error naming portpool repair; as root, also when
neither is there yet), else $XDG_STATE_HOME/portpool/registry.json
(~/.local/state/portpool/registry.json)."
    };
}
pub(crate) use registry_rule;

macro_rules! exit_codes {
    () => {
        "  0  ok
  1  not found (get, renew), or port not free (check)
  2  usage error or invalid argument
  3  conflict: the port is leased to another name or bound by another process
  4  exhausted: no free port left
  5  registry error (corrupt, newer format, permission) or I/O error
  6  busy: another process held the registry's lock for the whole --wait
     ($PORTPOOL_LOCK_TIMEOUT seconds, else 10); nothing was changed"
    };
}
pub(crate) use exit_codes;

macro_rules! durability {
    () => {
        "\
A change returns once it is on the disk, unless it concerns only leases owned by a process
(--pid) or a pool's cursor: those survive any crash of a process, but not a power loss, after
which their owners are gone anyway.

--json prints pretty JSON with object keys in alphabetical order; every time (created, expires)
is an RFC 3339 UTC string, as in the tables."
    };
}
pub(crate) use durability;

const AFTER_HELP: &str = concat!(
    registry_rule!(),
    "\n\nExit codes:\n",
    exit_codes!(),
    "\n\n",
    durability!()
);

#[derive(Parser)]
#[command(
    name = "portpool",
    // Usage lines say `portpool` whatever the binary's file is called (a release asset is
    // portpool-VERSION-linux-ARCH until renamed).
    bin_name = "portpool",
    version,
    about = "One port registry per host, shared by every supervisor in every language.",
    after_help = AFTER_HELP
)]
pub(crate) struct Cli {
    /// Registry file to use (default: $PORTPOOL_REGISTRY, else the host's registry).
    #[arg(long, global = true, value_name = "PATH")]
    pub(crate) registry: Option<PathBuf>,
    /// Wait at most SECS (decimals allowed, 0: not at all) for another process's lock
    /// before failing with exit 6; default $PORTPOOL_LOCK_TIMEOUT, else 10. Reads never wait.
    #[arg(long, global = true, value_name = "SECS", value_parser = wait_secs)]
    pub(crate) wait: Option<Duration>,
    /// Read and write only the names of namespace NS (default: $PORTPOOL_NAMESPACE, else
    /// the default namespace), so two projects may both name a worker worker-1. Ports stay
    /// unique across every namespace.
    #[arg(long, global = true, value_name = "NS")]
    pub(crate) namespace: Option<String>,
    #[command(subcommand)]
    pub(crate) command: Command,
}

// Each subcommand's arguments are defined when that subcommand runs (or when help, usage,
// completions or man pages build the whole tree), not at every start: a new process pays for
// the one command it runs.
#[derive(Subcommand)]
#[command(defer = true)]
pub(crate) enum Command {
    /// Lease a port to NAME and print it: the first of PORTS (e.g. 3000,3001) that is free,
    /// then the first free one of --range; without a range, flexible (the default) goes on
    /// upward from the first of PORTS and fixed stops. A NAME that holds a lease prints its
    /// port.
    Register(RegisterArgs),
    /// Print NAME's port; an unknown NAME prints DEFAULT, or fails with exit 1.
    Get(GetArgs),
    /// Lease the next free port of a pool (round robin) to each NAME and print them, one a
    /// line. Several names are leased in one write: all or none.
    Allocate(AllocateArgs),
    /// Release NAME's lease (an unknown NAME is not an error).
    /// A lease with a handover under way is refused (exit 3): commit or abort the handover,
    /// or give --all.
    Release {
        /// Name whose lease to release.
        name: String,
        /// Release it also when another user made it (root always may): without, that is a
        /// conflict (exit 3) naming the user.
        #[arg(long)]
        force: bool,
        /// Also release the port of the handover under way: end both generations.
        #[arg(long)]
        all: bool,
    },
    /// List every lease of the namespace (see --namespace).
    List {
        /// Print an array of lease objects as JSON instead of a table.
        #[arg(long)]
        json: bool,
        /// List the leases of every namespace.
        #[arg(long)]
        all_namespaces: bool,
    },
    /// Manage pools (named port ranges).
    #[command(subcommand)]
    Pool(PoolCommand),
    /// Exit 0 if PORT is free, 1 if it is leased or bound, saying which and by whom.
    Check(CheckArgs),
    /// Release every lease whose owner has exited or whose time to live is over.
    Gc {
        /// Print the released leases and why, as JSON, instead of one line each.
        #[arg(long)]
        json: bool,
    },
    /// Restart NAME's time to live.
    Renew(RenewArgs),
    /// Make process PID the owner of NAME's lease (its exit makes the lease stale, to be
    /// reclaimed), or, without PID, make the lease permanent. Prints the lease's port.
    SetOwner(SetOwnerArgs),
    /// Delete every lease and pool (the default pool comes back). Requires --yes.
    Reset {
        /// Confirm: without it, reset refuses (exit 2) and changes nothing.
        #[arg(long)]
        yes: bool,
        /// Reset also when other users hold live leases (root always may): without, that is
        /// a conflict (exit 3) naming one of them.
        #[arg(long)]
        force: bool,
    },
    /// Begin a zero-downtime handover of NAME: lease a new port for the next generation
    /// and print it (with --json, its ticket too), while the current one stays valid. A
    /// handover under way is refused (exit 3) unless --ticket retries it or --supersede
    /// replaces it. --commit releases the old port and prints the new, now current one;
    /// --abort releases the new one and prints it.
    Handover(HandoverArgs),
    /// Begin (the default), commit or abort the handovers of several names in one change:
    /// all or none. Prints NAME PORT TICKET for each, one a line.
    Handovers(HandoversArgs),
    /// Lease a port to NAME, run CMD with it in $PORT and $PORTPOOL_PORT, forward SIGINT,
    /// SIGTERM and SIGHUP to CMD, release the lease when CMD exits, and exit as CMD did.
    /// With --listen, bind the port as it is leased and pass the socket to CMD as fd 3 (systemd
    /// socket activation: $LISTEN_FDS=1, $LISTEN_PID, $LISTEN_FDNAMES=NAME).
    Run(RunArgs),
    /// Print free ports, one a line, without leasing them: the first of PORTS that are free,
    /// then of --range, else ports the kernel picks.
    FindFree(FindFreeArgs),
    /// Show the lease holding PORT and the processes bound to it.
    Who(WhoArgs),
    /// Register every port a process listens on now as a fixed lease named after its program.
    Migrate(MigrateArgs),
    /// Import a flat {"name": port} file as fixed leases, all or nothing.
    Import {
        /// JSON file of {"name": port, ...}, such as the FOSS stack's port_allocation.json.
        file: PathBuf,
    },
    /// Report leases nothing listens on, foreign listeners on leased ports, stale owners,
    /// expired leases, pools in the kernel's ephemeral range and leased ports there that the
    /// kernel does not reserve. Exit 0 if all is well, 1 if not.
    Doctor(DoctorArgs),
    /// Bring a damaged registry back: keep every line that reads back, move the damaged file
    /// aside as REGISTRY.damaged-SECONDS (never deleted), rewrite the registry from what was
    /// kept with the owner, group and mode its directory gives it, and move aside FIFOs,
    /// directories and other users' files planted at the registry's, the lock's or the
    /// spare's name. Prints what it kept and exactly what it could not keep. As root on the
    /// host registry, as its directory's owner elsewhere. A newer version's file is refused.
    Repair {
        /// Print {repaired, kept, lost, moved_aside} as JSON.
        #[arg(long)]
        json: bool,
    },
    /// Make the kernel's reserved ports (net.ipv4.ip_local_reserved_ports, of this network
    /// namespace) hold every leased port, TCP and UDP, so that no outgoing connection or
    /// port-0 bind is given one; ports reserved by hand stay. As root; afterwards root's changes
    /// sync at once and the systemd unit portpool-reserve.path syncs members'. --check, for
    /// anyone, reports drift and exits 1 when there is some.
    Reserve(ReserveArgs),
    /// A live view of the registry, redrawn whenever it changes: per pool a strip of its
    /// ports, the leases with owner, age, time to live left and handovers, and the last
    /// changes. Every namespace is shown, or only --namespace's when given. Keys: / filter by
    /// name, p by pool, n by namespace (- the default one), Esc clear, q quit. When stdout is
    /// not a terminal, prints the leases and the changes every --interval.
    Watch(WatchArgs),
    /// Set up the host registry (as root; idempotent): /var/lib/portpool, or --registry's
    /// directory, owned by root. With --group, members of GROUP may change it (directory
    /// root:GROUP 3775: sticky, so no one replaces a file they do not own; registry 0664,
    /// lock file 0660); without, only root may (1755, 0644, 0600). Everyone can read it. Once
    /// init has set up the directory, it is the registry of every user. Refuses a planted
    /// link, a hard-linked file, a file not root's or a damaged registry, naming
    /// `portpool repair`. Prints what it created or changed.
    Init {
        /// The group whose members may change the registry (e.g. portpool). Given again with
        /// another group, changes the group in place and keeps the leases.
        #[arg(long, value_name = "GROUP")]
        group: Option<String>,
    },
    /// Serve portpicker's portserver protocol on a Unix socket, in the foreground until
    /// SIGTERM: each port handed out is a lease of POOL for TCP and UDP (tcp+udp, as
    /// portpicker promises) owned by the pid the client sent, so no portpool user is given it
    /// until that process exits. A client may claim itself or a
    /// process of its own user (root: any process), as the kernel's SO_PEERCRED tells.
    Portserver(PortserverArgs),
    /// Print the registry path in use, then the rule that chose it: --registry, else
    /// $PORTPOOL_REGISTRY, else the host registry whenever init set up its directory or it
    /// exists, else the per-user one.
    Path,
    /// Print a completion script for SHELL on stdout, e.g.
    /// `portpool completions bash > /etc/bash_completion.d/portpool`.
    Completions {
        /// bash, zsh, fish, elvish or powershell.
        shell: clap_complete::Shell,
    },
    /// Print portpool's version, as --version does.
    Version,
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
#[command(defer = true)]
pub(crate) enum PoolCommand {
    /// Create pool NAME over START..=END, or change its range.
    Set(PoolSetArgs),
    /// List pools.
    List {
        /// Print an array of {name, start, end, cursor, probe} objects as JSON instead of a table.
        #[arg(long)]
        json: bool,
    },
}

#[derive(Args)]
pub(crate) struct RegisterArgs {
    /// Name to lease the port to: 1-128 bytes, no whitespace or control characters.
    pub(crate) name: String,
    /// Preferred ports in order, comma separated (e.g. 3000,3001), each 1-65535.
    #[arg(value_name = "PORTS")]
    pub(crate) port: String,
    /// fixed: one of PORTS (or of --range), or a conflict; flexible (default): one of PORTS,
    /// else of --range, else the next free one up from the first of PORTS.
    #[arg(value_name = "MODE")]
    pub(crate) mode: Option<String>,
    #[command(flatten)]
    pub(crate) lease: RegisterLease,
}

// Which ports find-free must not print and where it probes (register, allocate and run take
// these as lease options, in lease_args.rs). (A plain comment: a doc comment here would become the `about` of every
// subcommand that flattens it, since deferred arguments are added after the subcommand's own.)
#[derive(Args)]
pub(crate) struct ProbeArgs {
    /// Never hand out these ports: comma separated or repeated, e.g. --exclude 4001,4002.
    #[arg(long, value_name = "PORTS", value_delimiter = ',')]
    pub(crate) exclude: Vec<String>,
    /// Probe this one address (e.g. 127.0.0.1) instead of the IPv4 and IPv6 wildcards; a port
    /// another process has bound on another address may then be handed out.
    #[arg(long, value_name = "ADDR")]
    pub(crate) host: Option<String>,
}

#[derive(Args)]
pub(crate) struct FindFreeArgs {
    /// Ports to try first, in order, comma separated (e.g. 3000,3001).
    #[arg(value_name = "PORTS")]
    pub(crate) ports: Option<String>,
    /// Then this range in order (inclusive), e.g. 4000-4100; without one, the kernel picks.
    #[arg(long, value_name = "START-END")]
    pub(crate) range: Option<String>,
    /// How many distinct ports to print (default 1); fewer free ones exit 4.
    #[arg(long, value_name = "N", default_value_t = 1)]
    pub(crate) count: usize,
    #[command(flatten)]
    pub(crate) protocol: ProtocolArgs,
    #[command(flatten)]
    pub(crate) probe: ProbeArgs,
    /// Print a JSON array of the ports instead of one a line.
    #[arg(long)]
    pub(crate) json: bool,
}

#[derive(Args)]
pub(crate) struct GetArgs {
    /// Name whose port to print.
    pub(crate) name: String,
    /// Port to print when NAME holds no lease (exit 0 instead of 1).
    pub(crate) default: Option<String>,
}

#[derive(Args)]
pub(crate) struct AllocateArgs {
    /// Names to lease a port to; several are leased in one write, all or none.
    #[arg(required = true, value_name = "NAME")]
    pub(crate) names: Vec<String>,
    /// Pool to take the port from.
    #[arg(long, default_value = portpool_core::DEFAULT_POOL)]
    pub(crate) pool: String,
    #[command(flatten)]
    pub(crate) lease: AllocateLease,
}

#[derive(Args)]
pub(crate) struct CheckArgs {
    /// Port to check, 1-65535.
    pub(crate) port: String,
    #[command(flatten)]
    pub(crate) protocol: ProtocolArgs,
    /// Print {port, protocol, state, lease} as JSON instead of a sentence.
    #[arg(long)]
    pub(crate) json: bool,
}

#[derive(Args)]
pub(crate) struct RenewArgs {
    /// Name whose lease to renew.
    pub(crate) name: String,
    /// New time to live in seconds (default: the one it was given).
    #[arg(long, value_name = "SECS")]
    pub(crate) ttl: Option<u64>,
}

#[derive(Args)]
pub(crate) struct SetOwnerArgs {
    /// Name whose lease changes owner.
    pub(crate) name: String,
    /// The new owner's process id; omitted: no owner (a permanent lease).
    pub(crate) pid: Option<u32>,
    /// Change the owner also when another user made the lease (root always may): without,
    /// that is a conflict (exit 3) naming the user.
    #[arg(long)]
    pub(crate) force: bool,
}

#[derive(Args)]
pub(crate) struct HandoverArgs {
    /// Name whose port to hand over.
    pub(crate) name: String,
    /// Complete the handover: release the old port; print the new, now current one.
    #[arg(long, conflicts_with = "abort")]
    pub(crate) commit: bool,
    /// Abandon the handover: release the new port and print it.
    #[arg(long)]
    pub(crate) abort: bool,
    /// Hand over also a lease another user made (root always may): without, that is a
    /// conflict (exit 3) naming the user.
    #[arg(long)]
    pub(crate) force: bool,
    /// Begin: the next generation's process, which owns the lease after the commit (its
    /// death frees the new port; the old owner's death commits). Commit and abort: the
    /// next generation as this supervisor knows it; refused (exit 3) when the handover
    /// was begun for another process. Without --pid, commit and abort are not checked.
    #[arg(long, value_name = "PID")]
    pub(crate) pid: Option<u32>,
    /// The handover's ticket (begin prints it with --json): commit or abort that handover
    /// only, or retry its begin; another is refused (exit 3). Without it, commit and abort
    /// end whatever handover is under way.
    #[arg(long, value_name = "TICKET")]
    pub(crate) ticket: Option<u64>,
    /// Begin: abort the handover under way, whichever it is, and begin a new one in one
    /// change (without it, a handover under way is refused, exit 3).
    #[arg(long, conflicts_with_all = ["commit", "abort"])]
    pub(crate) supersede: bool,
    /// Print {name, port, ticket, created} as JSON instead of the port (begin only).
    #[arg(long, conflicts_with_all = ["commit", "abort"])]
    pub(crate) json: bool,
}

#[derive(Args)]
pub(crate) struct HandoversArgs {
    /// Names whose ports to hand over; with --commit or --abort, NAME=TICKET checks each
    /// handover's ticket (a bare NAME ends whatever handover is under way).
    #[arg(value_name = "NAME[=TICKET]", required = true)]
    pub(crate) names: Vec<String>,
    /// Commit every handover: release the old ports.
    #[arg(long, conflicts_with = "abort")]
    pub(crate) commit: bool,
    /// Abort every handover: release the new ports.
    #[arg(long)]
    pub(crate) abort: bool,
    /// Begin: abort handovers under way and begin new ones, in the same change.
    #[arg(long, conflicts_with_all = ["commit", "abort"])]
    pub(crate) supersede: bool,
    /// Begin: the next generation's process; commit and abort: checked as for handover.
    #[arg(long, value_name = "PID")]
    pub(crate) pid: Option<u32>,
    /// Print an array of {name, port, ticket, created} objects as JSON instead (begin only).
    #[arg(long, conflicts_with_all = ["commit", "abort"])]
    pub(crate) json: bool,
    /// Hand over also leases another user made (root always may): without, that is a
    /// conflict (exit 3) naming the user.
    #[arg(long)]
    pub(crate) force: bool,
}

#[derive(Args)]
pub(crate) struct RunArgs {
    /// Name to lease the port to, for as long as CMD runs.
    pub(crate) name: String,
    /// Pool to allocate from (the default pool unless --port is given).
    #[arg(long, conflicts_with = "port")]
    pub(crate) pool: Option<String>,
    /// Register this port (or the first free of a comma-separated list) instead of
    /// allocating from a pool.
    #[arg(long, value_name = "PORTS")]
    pub(crate) port: Option<String>,
    /// With --port: fixed or flexible (default).
    #[arg(value_name = "MODE")]
    pub(crate) mode: Option<String>,
    #[command(flatten)]
    pub(crate) lease: RunLease,
    /// Bind the port under the registry's lock as it is leased, so nothing can take it
    /// first, and pass the socket (TCP: listening) to CMD as fd 3, as systemd socket
    /// activation does: $LISTEN_FDS=1, $LISTEN_PID=CMD's pid, $LISTEN_FDNAMES=NAME.
    #[arg(long)]
    pub(crate) listen: bool,
    /// The command and its arguments, after `--`.
    #[arg(last = true, required = true, value_name = "CMD")]
    pub(crate) command: Vec<std::ffi::OsString>,
}

#[derive(Args)]
pub(crate) struct PortserverArgs {
    /// Unix socket to listen on: @NAME in the abstract namespace (portpicker's
    /// PORTSERVER_ADDRESS spelling), else a filesystem path, created mode 0666 and removed
    /// on exit.
    #[arg(long, value_name = "ADDRESS", default_value = "@unittest-portserver")]
    pub(crate) address: String,
    /// Pool to lease ports from (default: the default pool, 10,000 ports from 9000: as many
    /// as portpicker's own portserver hands out).
    #[arg(long, value_name = "POOL")]
    pub(crate) pool: Option<String>,
    /// Most live leases this server grants to the clients of one user at once (root's are
    /// unlimited); past it, that user's requests get no port until some of its leases end.
    /// Default: a quarter of the pool.
    #[arg(long, value_name = "N")]
    pub(crate) per_user_leases: Option<u32>,
}

#[derive(Args)]
pub(crate) struct WhoArgs {
    /// Port to look up, 1-65535.
    pub(crate) port: String,
    /// Print {port, leases, sockets, unavailable} as JSON instead of text.
    #[arg(long)]
    pub(crate) json: bool,
}

#[derive(Args)]
pub(crate) struct MigrateArgs {
    /// Print the plan and write nothing.
    #[arg(long)]
    pub(crate) dry_run: bool,
    /// Print the leases made (or planned) as JSON instead of one line each.
    #[arg(long)]
    pub(crate) json: bool,
}

#[derive(Args)]
pub(crate) struct ReserveArgs {
    /// Only report what a sync would change, for any user; exit 1 when the kernel's list and
    /// the registry disagree.
    #[arg(long)]
    pub(crate) check: bool,
    /// Print the result as JSON ({leased, reserved, added, removed, by_hand, written}).
    #[arg(long)]
    pub(crate) json: bool,
}

#[derive(Args)]
pub(crate) struct WatchArgs {
    /// Show only leases whose name contains TEXT.
    #[arg(long, value_name = "TEXT")]
    pub(crate) name: Option<String>,
    /// Show only POOL and its leases.
    #[arg(long, value_name = "POOL")]
    pub(crate) pool: Option<String>,
    /// When stdout is not a terminal: seconds between two printouts (decimals allowed).
    #[arg(long, value_name = "SECS", default_value = "2", value_parser = wait_secs)]
    pub(crate) interval: Duration,
    /// When stdout is not a terminal: stop after N printouts (default: until interrupted).
    #[arg(long, value_name = "N")]
    pub(crate) count: Option<u64>,
}

#[derive(Args)]
pub(crate) struct DoctorArgs {
    /// Print {findings, unavailable} as JSON instead of one line per finding.
    #[arg(long)]
    pub(crate) json: bool,
    /// Exit 1 only when a finding of this kind is present (repeatable, or comma
    /// separated): not_listening, foreign_listener, stale_owner, stale_next_owner,
    /// expired, taken_over, ephemeral_overlap, split_registry, long_handover, uncompacted,
    /// unreserved. Default: any warning
    /// (every kind but the informational not_listening).
    #[arg(long, value_name = "KIND", value_delimiter = ',')]
    pub(crate) fail_on: Vec<String>,
}

#[derive(Args)]
pub(crate) struct PoolSetArgs {
    /// Pool name.
    pub(crate) name: String,
    /// First port of the range, 1-65535.
    pub(crate) start: String,
    /// Last port of the range (inclusive), START-65535.
    pub(crate) end: String,
    /// Do not bind-probe candidates (for a range reserved for portpool).
    #[arg(long, conflicts_with = "probe")]
    pub(crate) no_probe: bool,
    /// Bind-probe candidates (the default for a new pool).
    #[arg(long)]
    pub(crate) probe: bool,
    /// Change the pool also when another user created it (root always may): without, that
    /// is a conflict (exit 3) naming the user.
    #[arg(long)]
    pub(crate) force: bool,
}

fn wait_secs(text: &str) -> Result<Duration, String> {
    portpool_core::parse_lock_timeout(text).map_err(|e| e.message().to_owned())
}

// Which protocols a port is for: `--protocol`, or `--udp` for short. (A plain comment, as on
// ProbeArgs: a doc comment would become the `about` of every subcommand that flattens it.)
#[derive(Args)]
pub(crate) struct ProtocolArgs {
    /// tcp (the default), udp, or tcp+udp: one port number free and held for both, as
    /// portpicker promises its ports.
    #[arg(long, value_name = "PROTO", value_parser = values::protocol_value, conflicts_with = "udp")]
    pub(crate) protocol: Option<Protocol>,
    /// Short for --protocol udp.
    #[arg(long)]
    pub(crate) udp: bool,
}

impl ProtocolArgs {
    /// The protocol these flags name: TCP unless told otherwise.
    pub(crate) fn protocol(&self) -> Protocol {
        values::protocol(self.protocol, self.udp)
    }
}

impl ProbeArgs {
    /// The ports of every --exclude.
    pub(crate) fn excluded(&self) -> Result<Vec<u16>, Error> {
        values::ports(&self.exclude)
    }

    /// The address of --host.
    pub(crate) fn host(&self) -> Result<Option<std::net::IpAddr>, Error> {
        values::address(self.host.as_deref())
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use clap::CommandFactory;

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
        let mut cmd = Cli::command();
        cmd.clone().debug_assert();
        cmd.build(); // the subcommands' arguments are deferred
        let mut missing = Vec::new();
        walk(&cmd, "portpool", &mut missing);
        assert!(missing.is_empty(), "no help text: {missing:?}");
    }

    /// The lease options the parsed command line asks for, or its parse error.
    fn lease_options(words: &[&str]) -> Result<portpool_core::LeaseOptions, String> {
        let cli = Cli::try_parse_from(std::iter::once("portpool").chain(words.iter().copied()))
            .map_err(|e| e.to_string())?;
        let options = match cli.command {
            Command::Register(args) => args.lease.options(),
            Command::Allocate(args) => args.lease.options(),
            Command::Run(args) => args.lease.options(),
            _ => panic!("{words:?} takes no lease options"),
        };
        options.map_err(|e| e.to_string())
    }

    #[test]
    #[allow(clippy::needless_update)] // options core adds are off here
    fn lease_flags_reach_cores_lease_options_converted_by_kind() {
        let register = lease_options(&[
            "register",
            "web",
            "3000",
            "--udp",
            "--force",
            "--pid",
            "7",
            "--ttl",
            "60",
            "--exclude",
            "3001,3002",
            "--exclude",
            "3003",
            "--range",
            "4000-4100",
            "--host",
            "127.0.0.1",
            "--bindable",
        ]);
        let wanted = portpool_core::LeaseOptions {
            protocol: Protocol::Udp,
            force: true,
            pid: Some(7),
            ttl: Some(60),
            exclude: vec![3001, 3002, 3003],
            range: Some((4000, 4100)),
            host: Some("127.0.0.1".parse().unwrap()),
            bindable: true,
            ..Default::default()
        };
        assert_eq!(register, Ok(wanted));
        let allocate = lease_options(&["allocate", "a", "b", "--protocol", "tcp+udp"]).unwrap();
        assert_eq!(allocate.protocol, Protocol::TcpUdp);
        let run = lease_options(&["run", "web", "--host", "::1", "--", "true"]).unwrap();
        assert_eq!(run.host, Some("::1".parse().unwrap()));
        assert_eq!(run.protocol, Protocol::Tcp);
    }

    #[test]
    fn a_lease_flag_of_another_subcommand_or_a_bad_value_is_refused() {
        let range = lease_options(&["register", "web", "3000", "--range", "4000"]);
        assert!(range.unwrap_err().contains("START-END"));
        assert!(lease_options(&["allocate", "a", "--range", "4000-4100"]).is_err());
        assert!(lease_options(&["run", "web", "--ttl", "5", "--", "true"]).is_err());
        let host = lease_options(&["register", "web", "3000", "--host", "nowhere"]);
        assert!(host.is_err(), "{host:?}");
    }

    #[test]
    fn every_subcommand_is_described_by_its_own_about_once_its_arguments_are_built() {
        fn walk(cmd: &clap::Command, path: &str, seen: &mut Vec<(String, String)>) {
            for sub in cmd.get_subcommands().filter(|s| s.get_name() != "help") {
                let path = format!("{path} {}", sub.get_name());
                let about = sub.get_about().map(|a| a.to_string()).unwrap_or_default();
                seen.push((path.clone(), about));
                walk(sub, &path, seen);
            }
        }
        let mut cmd = Cli::command();
        cmd.build();
        let mut seen = Vec::new();
        walk(&cmd, "portpool", &mut seen);
        for (i, (path, about)) in seen.iter().enumerate() {
            let twin = seen[..i].iter().find(|(_, other)| other == about);
            assert!(
                twin.is_none(),
                "{path} and {twin:?} share the about {about:?}"
            );
        }
        let register = seen
            .iter()
            .find(|(path, _)| path == "portpool register")
            .unwrap();
        assert!(
            register.1.starts_with("Lease a port to NAME"),
            "{register:?}"
        );
    }
}
