//! Commands that print what is generated from the definitions in [`crate::args`]: shell
//! completions, man pages and the version.

use std::io::Write;
use std::path::Path;

use clap::CommandFactory;
use portpool_core::{Error, ErrorKind};

use crate::Outcome;
use crate::args::{Cli, durability, exit_codes, registry_rule};
use crate::render::{raw, say};

/// `portpool completions`: the completion script for `shell`.
pub(super) fn completions(shell: clap_complete::Shell) -> Result<Outcome, Error> {
    let mut script = Vec::new();
    clap_complete::generate(shell, &mut Cli::command(), "portpool", &mut script);
    raw(&script);
    Ok(Outcome::Ok)
}

/// `portpool version`: what `--version` prints.
pub(super) fn version() -> Result<Outcome, Error> {
    say([Cli::command().render_version().trim_end()]);
    Ok(Outcome::Ok)
}

/// `portpool man`: portpool(1) on stdout, or every page into `dir`.
pub(super) fn man(dir: Option<&Path>) -> Result<Outcome, Error> {
    let mut cmd = Cli::command().disable_help_subcommand(true);
    cmd.build();
    let io_err = |e: std::io::Error| Error::new(ErrorKind::Io, format!("writing man pages: {e}"));
    match dir {
        None => {
            let mut page = Vec::new();
            main_page(cmd, &mut page).map_err(io_err)?;
            raw(&page);
        }
        Some(dir) => {
            for sub in cmd.get_subcommands().filter(|s| !s.is_hide_set()) {
                subcommand_pages(sub.clone(), dir).map_err(io_err)?;
            }
            let mut file = std::fs::File::create(dir.join("portpool.1")).map_err(io_err)?;
            main_page(cmd, &mut file).map_err(io_err)?;
            file.flush().map_err(io_err)?;
        }
    }
    Ok(Outcome::Ok)
}

/// Writes the page of `cmd` and of each of its subcommands into `dir`.
fn subcommand_pages(cmd: clap::Command, dir: &Path) -> std::io::Result<()> {
    for sub in cmd.get_subcommands().filter(|s| !s.is_hide_set()) {
        subcommand_pages(sub.clone(), dir)?;
    }
    clap_mangen::Man::new(cmd).generate_to(dir).map(drop)
}

const EXAMPLES: &str = "\
Lease a port to web, preferring 3000, and print it:
  portpool register web 3000
Run a server on a leased port (in $PORT), released when it exits:
  portpool run web -- python3 -m http.server
Lease one port each from the default pool, in one write:
  portpool allocate api worker
Who holds port 8080, in the registry and in the kernel:
  portpool who 8080
Share the host registry with the members of group portpool (as root):
  portpool init --group portpool";

const FILES: &str = "\
/var/lib/portpool/registry.json: the host registry, shared by every user (created by
'portpool init'); registry.json.lock beside it is its lock file.
~/.local/state/portpool/registry.json: the per-user registry, on a host without a host registry.";

const ENVIRONMENT: &str = "\
PORTPOOL_REGISTRY: the registry file, when --registry is not given.
PORTPOOL_LOCK_TIMEOUT: seconds to wait for another process's lock (default 10), when --wait is
not given.
XDG_STATE_HOME: where the per-user registry lives (portpool/registry.json under it).
PORT, PORTPOOL_PORT: set by 'portpool run' for the command it runs; LISTEN_FDS, LISTEN_PID and
LISTEN_FDNAMES too with --listen.";

/// portpool(1): clap's sections, then EXAMPLES, FILES, ENVIRONMENT, EXIT STATUS and NOTES from
/// the same text as the help's epilogue, then the version.
fn main_page(cmd: clap::Command, out: &mut dyn Write) -> std::io::Result<()> {
    let man = clap_mangen::Man::new(cmd);
    man.render_title(out)?;
    man.render_name_section(out)?;
    man.render_synopsis_section(out)?;
    man.render_description_section(out)?;
    man.render_options_section(out)?;
    man.render_subcommands_section(out)?;
    section(out, "EXAMPLES", EXAMPLES)?;
    section(out, "FILES", &format!("{}\n\n{FILES}", registry_rule!()))?;
    section(out, "ENVIRONMENT", ENVIRONMENT)?;
    section(out, "EXIT STATUS", exit_codes!())?;
    section(out, "NOTES", durability!())?;
    man.render_version_section(out)
}

/// A section `title` holding `text` as written (lines kept), escaped for roff.
fn section(out: &mut dyn Write, title: &str, text: &str) -> std::io::Result<()> {
    writeln!(out, ".SH \"{title}\"\n.nf")?;
    for line in text.lines() {
        let line = line.replace('\\', "\\e").replace('-', "\\-");
        if line.starts_with(['.', '\'']) {
            writeln!(out, "\\&{line}")?;
        } else {
            writeln!(out, "{line}")?;
        }
    }
    writeln!(out, ".fi")
}
