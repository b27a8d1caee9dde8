//! Commands that print what is generated from the definitions in [`crate::args`]: shell
//! completions and man pages.

use std::path::Path;

use clap::CommandFactory;
use portpool_core::{Error, ErrorKind};

use crate::Outcome;
use crate::args::Cli;
use crate::render::raw;

/// `portpool completions`: the completion script for `shell`.
pub(super) fn completions(shell: clap_complete::Shell) -> Result<Outcome, Error> {
    let mut script = Vec::new();
    clap_complete::generate(shell, &mut Cli::command(), "portpool", &mut script);
    raw(&script);
    Ok(Outcome::Ok)
}

/// `portpool man`: portpool(1) on stdout, or every page into `dir`.
pub(super) fn man(dir: Option<&Path>) -> Result<Outcome, Error> {
    let cmd = Cli::command();
    let io_err = |e: std::io::Error| Error::new(ErrorKind::Io, format!("writing man pages: {e}"));
    match dir {
        None => {
            let mut page = Vec::new();
            clap_mangen::Man::new(cmd)
                .render(&mut page)
                .map_err(io_err)?;
            raw(&page);
        }
        Some(dir) => clap_mangen::generate_to(cmd, dir).map_err(io_err)?,
    }
    Ok(Outcome::Ok)
}
