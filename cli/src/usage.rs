//! Usage errors: clap's multi-line report of a bad command line, as one `portpool: ` line.

use clap::CommandFactory;

use crate::args::Cli;

/// A clap usage error as one line: what is missing or wrong (each item clap lists), clap's
/// suggestion ("did you mean ...?"), the usage of the (sub)command concerned and where its
/// help is, e.g. `the following required arguments were not provided: <PORTS>; usage:
/// portpool register [OPTIONS] <NAME> <PORTS> [MODE]; see 'portpool register --help'`.
pub(crate) fn usage_error(err: &clap::Error) -> String {
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
    // Subcommands are defined when built (see `args::Command`): build them all to walk them.
    cmd.build();
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
