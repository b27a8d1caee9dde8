//! One function per command, grouped by what they act on as core's registry is: `leases`
//! (leasing, renewing, handing over and reclaiming ports), `pools`, `host` (what the host
//! itself holds: its registry's setup and path, listeners, imports, health), `docs` (help
//! generated from the definitions) and `run`. `portpool portserver` is a subsystem of its own,
//! in [`crate::portserver`], and `run --listen`'s socket activation is in [`crate::activation`].
//! A command parses its arguments into core's values, calls core, and hands the result to
//! [`crate::render`]; it prints nothing on stdout itself.

mod docs;
mod host;
mod leases;
mod pools;
mod reserve;
mod run;
mod watch;

use portpool_core::{Error, Registry};

use crate::Outcome;
use crate::args::{Cli, Command, PoolCommand};

/// Runs the command `cli` names.
pub(crate) fn run(cli: Cli) -> Result<Outcome, Error> {
    let Cli {
        registry,
        wait,
        namespace,
        command,
    } = cli;
    match command {
        // These work without a registry, or on one that does not exist yet.
        Command::Init { group } => host::init(registry, group.as_deref()),
        Command::Completions { shell } => docs::completions(shell),
        Command::Man { dir } => docs::man(dir.as_deref()),
        Command::Version => docs::version(),
        Command::FindFree(args) => leases::find_free(args),
        command => {
            let namespace = namespace.or_else(|| std::env::var("PORTPOOL_NAMESPACE").ok());
            let reg = Registry::open(registry.as_deref())?
                .with_namespace(namespace.as_deref().filter(|ns| !ns.is_empty()))?;
            if let Some(wait) = wait {
                reg.set_lock_timeout(wait);
            }
            // Root's first change on a host without a host registry creates it: say so, once.
            let note = reg.source().created_note(reg.path());
            let existed = reg.path().parent().is_some_and(|dir| dir.exists());
            let outcome = on_registry(&reg, command);
            if let Some(note) = note
                && !existed
                && reg.path().parent().is_some_and(|dir| dir.exists())
            {
                eprintln!("portpool: {note}");
            }
            outcome
        }
    }
}

/// Runs a command that reads or changes the registry `reg`.
fn on_registry(reg: &Registry, command: Command) -> Result<Outcome, Error> {
    match command {
        Command::Register(args) => leases::register(reg, args),
        Command::Get(args) => leases::get(reg, args),
        Command::Allocate(args) => leases::allocate(reg, args),
        Command::Release { name, force, all } => {
            reg.set_force(force);
            leases::release(reg, &name, all)
        }
        Command::List {
            json,
            all_namespaces,
        } => leases::list(reg, json, all_namespaces),
        Command::Check(args) => leases::check(reg, args),
        Command::Gc { json } => leases::gc(reg, json),
        Command::Renew(args) => leases::renew(reg, args),
        Command::SetOwner(args) => leases::set_owner(reg, args),
        Command::Reset { yes, force } => {
            reg.set_force(force);
            leases::reset(reg, yes)
        }
        Command::Handover(args) => leases::handover(reg, args),
        Command::Handovers(args) => leases::handovers(reg, args),
        Command::Pool(PoolCommand::Set(args)) => pools::set(reg, args),
        Command::Pool(PoolCommand::List { json }) => pools::list(reg, json),
        Command::Run(args) => run::run(reg, args),
        Command::Who(args) => host::who(reg, args),
        Command::Migrate(args) => host::migrate(reg, args),
        Command::Import { file } => host::import(reg, &file),
        Command::Doctor(args) => host::doctor(reg, args),
        Command::Repair { json } => host::repair(reg, json),
        Command::Path => host::path(reg),
        Command::Portserver(args) => crate::portserver::portserver(reg, args),
        Command::Reserve(args) => reserve::reserve(reg, args),
        Command::Watch(args) => watch::watch(reg, args),
        Command::Init { .. }
        | Command::Completions { .. }
        | Command::Man { .. }
        | Command::Version
        | Command::FindFree(_) => {
            unreachable!("handled before the registry is opened")
        }
    }
}
