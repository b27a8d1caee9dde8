//! `portpool run`: a lease that lives exactly as long as the command it was made for.

use std::ffi::OsStr;
use std::os::fd::OwnedFd;
use std::os::unix::process::ExitStatusExt;
use std::process::{Command, ExitStatus};

use portpool_core::{
    Choice, Error, ErrorKind, LeaseOptions, ListenOptions, Mode, Registry, ScopedLease,
};
use signal_hook::consts::{SIGHUP, SIGINT, SIGTERM};
use signal_hook::iterator::SignalsInfo;
use signal_hook::iterator::exfiltrator::WithOrigin;
use signal_hook::low_level::siginfo::Cause;

use crate::Outcome;
use crate::activation;
use crate::args::RunArgs;
use crate::values::parse_ports;

/// Whether a signal that reached `portpool run` is passed on to the command. The command runs
/// in this process's group, so what the kernel sends to the group — Ctrl-C or a hang-up at the
/// terminal — has reached it already; forwarding that too would deliver it twice.
fn forwarded(cause: Cause) -> bool {
    cause != Cause::Kernel
}

/// Leases a port to `name` (owned by this process, then by the child once it exists), runs
/// `command` with it in the environment (with `--listen`, and the bound socket as fd 3),
/// forwards SIGINT/SIGTERM/SIGHUP that a process sent, releases the lease when the child
/// exits, and returns the child's exit status (128 + N for signal N).
pub(super) fn run(reg: &Registry, args: RunArgs) -> Result<Outcome, Error> {
    let RunArgs {
        name,
        pool,
        port,
        mode,
        lease,
        listen,
        command,
    } = args;
    let choice = choice(pool, port, mode)?;
    let options = lease.options()?;
    let (lease, socket) = take_lease(reg, &name, &choice, &options, listen)?;
    let port = lease.port().to_string();
    let env: [(&str, &OsStr); 4] = [
        ("PORT", OsStr::new(&port)),
        ("PORTPOOL_PORT", OsStr::new(&port)),
        ("PORTPOOL_NAME", OsStr::new(&name)),
        ("PORTPOOL_REGISTRY", reg.path().as_os_str()),
    ];
    // Registered before the child exists, so no signal meant for it is lost.
    let signals = SignalsInfo::<WithOrigin>::new([SIGINT, SIGTERM, SIGHUP])
        .map_err(|e| Error::new(ErrorKind::Io, format!("installing signal handlers: {e}")))?;
    let child = match socket {
        Some(socket) => activation::spawn(&command, &env, socket, &name).map(Child::Activated),
        None => Command::new(&command[0])
            .args(&command[1..])
            .envs(env)
            .spawn()
            .map(Child::Plain),
    };
    let mut child = match child {
        Ok(child) => child,
        Err(e) => {
            let _ = lease.release(reg);
            eprintln!("portpool: cannot run {}: {e}", command[0].to_string_lossy());
            return Ok(Outcome::Exit(127));
        }
    };
    // The child owns the lease from now on: if this process dies first, the lease lives as
    // long as the child. A child that already exited leaves the lease with us.
    let _ = reg.set_owner(&name, Some(child.id()));
    let status = wait_forwarding(&mut child, signals);
    let released = lease.release(reg);
    let status =
        status.map_err(|e| Error::new(ErrorKind::Io, format!("waiting for the command: {e}")))?;
    released?;
    Ok(exit(status))
}

/// The scoped lease `run` holds for the command, and with `listen` the socket bound to it.
fn take_lease(
    reg: &Registry,
    name: &str,
    choice: &Choice,
    options: &LeaseOptions,
    listen: bool,
) -> Result<(ScopedLease, Option<OwnedFd>), Error> {
    if listen && name.contains(':') {
        return Err(Error::new(
            ErrorKind::InvalidArgument,
            format!("invalid name {name:?} for --listen: $LISTEN_FDNAMES separates names with ':'"),
        ));
    }
    Ok(if listen {
        let (lease, fd) = reg.listen_scoped(name, choice, options, &ListenOptions::default())?;
        (lease, Some(fd))
    } else {
        (reg.lease_scoped(name, choice, options)?, None)
    })
}

/// `run`'s exit: the command's exit code, or 128 + N when signal N ended it.
fn exit(status: ExitStatus) -> Outcome {
    let code = match (status.code(), status.signal()) {
        (Some(code), _) => code,
        (None, Some(signal)) => 128 + signal,
        (None, None) => 1,
    };
    Outcome::Exit(u8::try_from(code).unwrap_or(1))
}

/// The command `run` started: by std, or with a socket handed over.
enum Child {
    Plain(std::process::Child),
    Activated(activation::Activated),
}

impl Child {
    fn id(&self) -> u32 {
        match self {
            Child::Plain(child) => child.id(),
            Child::Activated(child) => child.id(),
        }
    }

    fn wait(&mut self) -> std::io::Result<ExitStatus> {
        match self {
            Child::Plain(child) => child.wait(),
            Child::Activated(child) => child.wait(),
        }
    }
}

/// How `run` chooses the port: PORTS in MODE when given, else the next one of the pool.
fn choice(
    pool: Option<String>,
    port: Option<String>,
    mode: Option<String>,
) -> Result<Choice, Error> {
    Choice::new(
        pool,
        port.as_deref().map(parse_ports).transpose()?,
        mode.as_deref().map(str::parse::<Mode>).transpose()?,
    )
}

/// Waits for `child` to exit while passing on to it the signals in `signals` that a process
/// sent (see [`forwarded`]).
fn wait_forwarding(
    child: &mut Child,
    mut signals: SignalsInfo<WithOrigin>,
) -> std::io::Result<ExitStatus> {
    let pid = child.id();
    let handle = signals.handle();
    let forwarder = std::thread::spawn(move || {
        for origin in signals.forever() {
            if forwarded(origin.cause) {
                // SAFETY: kill has no memory-safety preconditions.
                unsafe { libc::kill(pid as libc::pid_t, origin.signal) };
            }
        }
    });
    let status = child.wait();
    handle.close();
    let _ = forwarder.join();
    status
}

#[cfg(test)]
mod tests {
    use super::*;
    use signal_hook::low_level::siginfo::Sent;

    #[test]
    fn signals_from_processes_are_forwarded_and_the_terminals_are_not() {
        assert!(forwarded(Cause::Sent(Sent::User)));
        assert!(forwarded(Cause::Sent(Sent::Queue)));
        assert!(forwarded(Cause::Unknown));
        assert!(!forwarded(Cause::Kernel));
    }
}
