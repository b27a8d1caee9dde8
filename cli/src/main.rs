//! `portpool`: the command line over portpool's core. Argument parsing and printing only;
//! every rule lives in `portpool-core`.
//!
//! [`args`] defines what the command line accepts (the flags of lease options are generated
//! into [`lease_args`] from core's `LeaseOptions`; [`values`] converts each kind of value),
//! [`commands`] holds one function per command, [`render`] is the only code that prints to
//! stdout, and [`usage`] turns clap's errors into one line. Two subsystems have modules of
//! their own: [`portserver`] (the portserver protocol's server, whose log lines go to stderr)
//! and [`activation`] (starting `run --listen`'s command with its socket as systemd's socket
//! activation hands it).

mod activation;
mod args;
mod commands;
mod lease_args;
mod portserver;
mod render;
mod usage;
mod values;

use std::process::ExitCode;

use clap::Parser;
use portpool_core::ErrorKind;

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

fn main() -> ExitCode {
    let cli = match args::Cli::try_parse() {
        Ok(cli) => cli,
        Err(err) => {
            use clap::error::ErrorKind as K;
            return match err.kind() {
                K::DisplayHelp | K::DisplayVersion => {
                    let _ = err.print();
                    ExitCode::SUCCESS
                }
                _ => {
                    eprintln!("portpool: {}", usage::usage_error(&err));
                    ExitCode::from(2)
                }
            };
        }
    };
    let outcome = commands::run(cli);
    for warning in portpool_core::take_warnings() {
        eprintln!("portpool: warning: {warning}");
    }
    match outcome {
        Ok(Outcome::Ok) => ExitCode::SUCCESS,
        Ok(Outcome::NotFree) => ExitCode::from(1),
        Ok(Outcome::Exit(code)) => ExitCode::from(code),
        Err(err) => {
            eprintln!("portpool: {err}");
            ExitCode::from(exit_code(err.kind()))
        }
    }
}
