//! `portpool run`: a lease that lives exactly as long as the command it was made for.

use std::os::unix::process::ExitStatusExt;
use std::process::{Child, Command, ExitStatus};

use portpool_core::{
    Choice, Error, ErrorKind, LeaseOptions, Mode, Protocol, Registry, ScopedLease, parse_port,
};
use signal_hook::consts::{SIGHUP, SIGINT, SIGTERM};
use signal_hook::iterator::SignalsInfo;
use signal_hook::iterator::exfiltrator::WithOrigin;
use signal_hook::low_level::siginfo::Cause;

use crate::Outcome;
use crate::args::{RunArgs, protocol};

/// Whether a signal that reached `portpool run` is passed on to the command. The command runs
/// in this process's group, so what the kernel sends to the group — Ctrl-C or a hang-up at the
/// terminal — has reached it already; forwarding that too would deliver it twice.
fn forwarded(cause: Cause) -> bool {
    cause != Cause::Kernel
}

/// Leases a port to `name` (owned by this process, then by the child once it exists), runs
/// `command` with it in the environment, forwards SIGINT/SIGTERM/SIGHUP that a process sent,
/// releases the lease when the child exits, and returns the child's exit status (128 + N for
/// signal N).
pub(super) fn run(reg: &Registry, args: RunArgs) -> Result<Outcome, Error> {
    let RunArgs {
        name,
        pool,
        port,
        mode,
        udp,
        command,
    } = args;
    let lease = lease(reg, &name, pool, port, mode, protocol(udp))?;
    let port = lease.port();
    // Registered before the child exists, so no signal meant for it is lost.
    let signals = SignalsInfo::<WithOrigin>::new([SIGINT, SIGTERM, SIGHUP])
        .map_err(|e| Error::new(ErrorKind::Io, format!("installing signal handlers: {e}")))?;
    let child = Command::new(&command[0])
        .args(&command[1..])
        .env("PORT", port.to_string())
        .env("PORTPOOL_PORT", port.to_string())
        .env("PORTPOOL_NAME", &name)
        .env("PORTPOOL_REGISTRY", reg.path())
        .spawn();
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
    let code = match (status.code(), status.signal()) {
        (Some(code), _) => code,
        (None, Some(signal)) => 128 + signal,
        (None, None) => 1,
    };
    Ok(Outcome::Exit(u8::try_from(code).unwrap_or(1)))
}

/// Leases a new port to `name` for the command's lifetime (core's scoped lease: a name that
/// already holds a lease is a conflict): PORT in MODE when given, else the next one of the
/// pool.
fn lease(
    reg: &Registry,
    name: &str,
    pool: Option<String>,
    port: Option<String>,
    mode: Option<String>,
    protocol: Protocol,
) -> Result<ScopedLease, Error> {
    let choice = match (port, mode) {
        (Some(port), mode) => Choice::Ports {
            ports: vec![parse_port(&port)?],
            mode: mode
                .as_deref()
                .map(str::parse::<Mode>)
                .transpose()?
                .unwrap_or_default(),
        },
        (None, Some(mode)) => {
            return Err(Error::new(
                ErrorKind::InvalidArgument,
                format!("mode {mode:?} needs --port"),
            ));
        }
        (None, None) => Choice::Pool(pool),
    };
    let options = LeaseOptions {
        protocol,
        ..LeaseOptions::default()
    };
    reg.lease_scoped(name, &choice, &options)
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
