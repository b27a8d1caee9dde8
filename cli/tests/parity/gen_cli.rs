//! The cli front end's lease-option code, generated from core's `LeaseOptions` (see lease.rs):
//! cli/src/lease_args.rs holds, per subcommand that serves operations with lease options
//! (operations.tsv's CLI cell), a clap `Args` struct with one flag per lease option whose
//! options.tsv CLI cell is a `--flag`, its help core's doc (plus a sentence per kind), and a
//! method converting it into `LeaseOptions` through cli/src/values.rs's converter of each kind.

use crate::lease::{Kind, LeaseOption, lease_ops, lease_rows, op_name, wrap};
use crate::{generated_file, table};

const PATH: &str = "cli/src/lease_args.rs";
const WIDTH: usize = 100;

/// How the command line spells a value of one kind. `{name}` is the field, `{flag}` the flag.
struct Spelling {
    /// The field's type, as clap reads it.
    ty: &'static str,
    value_name: Option<&'static str>,
    /// More `#[arg]` settings, each led by ", ".
    settings: &'static str,
    /// What the help adds to core's doc, about how the command line writes the value.
    sentence: &'static str,
    /// The expression that converts the field into core's value.
    convert: &'static str,
}

fn spelling(kind: Kind) -> Spelling {
    let (ty, value_name, settings, sentence, convert) = match kind {
        Kind::Flag => ("bool", None, "", "", "self.{name}"),
        Kind::Protocol => (
            "Option<Protocol>",
            Some("PROTO"),
            ", value_parser = values::protocol_value, conflicts_with = \"udp\"",
            "Written tcp, udp or tcp+udp.",
            "values::protocol(self.{name}, self.udp)",
        ),
        Kind::Pid => ("Option<u32>", Some("PID"), "", "", "self.{name}"),
        Kind::Seconds => ("Option<u64>", Some("SECS"), "", "", "self.{name}"),
        Kind::Ports => (
            "Vec<String>",
            Some("PORTS"),
            ", value_delimiter = ','",
            "Comma separated or repeated, e.g. {flag} 4001,4002.",
            "values::ports(&self.{name})?",
        ),
        Kind::Range => (
            "Option<String>",
            Some("START-END"),
            "",
            "Written START-END, e.g. 4000-4100.",
            "values::range(self.{name}.as_deref())?",
        ),
        Kind::Address => (
            "Option<String>",
            Some("ADDR"),
            "",
            "An IPv4 or IPv6 address, e.g. 127.0.0.1 or ::1.",
            "values::address(self.{name}.as_deref())?",
        ),
    };
    Spelling {
        ty,
        value_name,
        settings,
        sentence,
        convert,
    }
}

/// One generated struct: the subcommand's words and the flags of its lease options.
struct Subcommand {
    words: String,
    ops: Vec<String>,
    flags: Vec<(LeaseOption, String)>,
}

/// The subcommands that take lease options, in the order of options.tsv: operations served by
/// the same subcommand (allocate and allocate_many, lease_scoped and listen) must agree.
fn subcommands() -> Vec<Subcommand> {
    let ops = table().rows;
    let mut found: Vec<Subcommand> = Vec::new();
    for op in lease_ops() {
        let cell = &ops.iter().find(|(name, _)| *name == op).unwrap().1[0];
        let words: Vec<&str> = cell
            .split_whitespace()
            .filter(|w| !w.starts_with('-'))
            .collect();
        if cell == "-" || words.is_empty() {
            continue;
        }
        let flags: Vec<(LeaseOption, String)> = lease_rows(&op)
            .into_iter()
            .filter(|(_, row)| row.cells[0] != "-")
            .map(|(option, row)| {
                let flag = row.cells[0].clone();
                assert!(
                    flag.starts_with("--"),
                    "options.tsv: {op} {}: the CLI takes a lease option as a --flag or not (-), \
                     not as {flag:?}",
                    option.name
                );
                (option, flag)
            })
            .collect();
        let words = words.join(" ");
        match found.iter_mut().find(|s| s.words == words) {
            Some(same) => {
                let names = |f: &[(LeaseOption, String)]| -> Vec<String> {
                    f.iter()
                        .map(|(o, flag)| format!("{} {flag}", o.name))
                        .collect()
                };
                assert_eq!(
                    names(&same.flags),
                    names(&flags),
                    "options.tsv: {} and {op} are both `portpool {words}`, so their CLI cells \
                     of lease options must agree",
                    same.ops[0]
                );
                same.ops.push(op);
            }
            None => found.push(Subcommand {
                words,
                ops: vec![op],
                flags,
            }),
        }
    }
    found
}

/// `pool set` → `PoolSetLease`.
fn struct_name(words: &str) -> String {
    let mut name: String = words
        .split([' ', '-'])
        .map(|w| {
            let mut chars = w.chars();
            chars.next().map_or(String::new(), |c| {
                c.to_uppercase().chain(chars).collect::<String>()
            })
        })
        .collect();
    name.push_str("Lease");
    name
}

/// `#[arg(SETTINGS)]` at four spaces, on one line or one setting a line, as rustfmt puts it.
fn arg_attribute(settings: &[String]) -> String {
    let one_line = format!("    #[arg({})]\n", settings.join(", "));
    if one_line.len() - 1 <= WIDTH {
        return one_line;
    }
    let mut out = String::from("    #[arg(\n");
    for setting in settings {
        out.push_str(&format!("        {setting},\n"));
    }
    out.push_str("    )]\n");
    out
}

/// Core operation `op` as the command line spells it: its subcommand, or `run --listen`.
fn cli_name(op: &str) -> Option<String> {
    let cell = op_name(op, 0)?;
    Some(if cell.starts_with("run ") {
        cell
    } else {
        cell.split(' ').next()?.to_owned()
    })
}

/// The struct field (and its `#[arg]`) of one lease option taken as `flag`.
fn field(option: &LeaseOption, flag: &str) -> String {
    let spelling = spelling(option.kind);
    let sentence = spelling.sentence.replace("{flag}", flag);
    // Help is plain text: core's code spans lose their backticks.
    let doc = option.doc_named(cli_name).replace('`', "");
    let doc = format!("{doc} {sentence}");
    let mut out = wrap(&doc, "    ///", WIDTH);
    let mut settings = vec![if flag == format!("--{}", option.name.replace('_', "-")) {
        "long".to_owned()
    } else {
        format!("long = {:?}", &flag[2..])
    }];
    if let Some(value_name) = spelling.value_name {
        settings.push(format!("value_name = {value_name:?}"));
    }
    settings.extend(
        spelling
            .settings
            .split(", ")
            .filter(|s| !s.is_empty())
            .map(str::to_owned),
    );
    out.push_str(&arg_attribute(&settings));
    out.push_str(&format!(
        "    pub(crate) {}: {},\n",
        option.name, spelling.ty
    ));
    if option.kind == Kind::Protocol {
        out.push_str(&format!(
            "    /// Short for {flag} udp.\n    #[arg(long)]\n    pub(crate) udp: bool,\n"
        ));
    }
    out
}

/// One subcommand's struct and its conversion into `LeaseOptions`.
fn render_struct(sub: &Subcommand) -> String {
    let name = struct_name(&sub.words);
    let comment = format!(
        "The lease options of `portpool {}` (core's {}). A plain comment: a doc comment would \
         become the subcommand's about, as deferred arguments are added after its own.",
        sub.words,
        sub.ops.join(" and ")
    );
    let mut out = wrap(&comment, "//", WIDTH);
    out.push_str(&format!("#[derive(Args)]\npub(crate) struct {name} {{\n"));
    for (option, flag) in &sub.flags {
        out.push_str(&field(option, flag));
    }
    // `..LeaseOptions::default()` also when every field is given, so that this file, before
    // the bless that regenerates it, still builds after core gained a field.
    out.push_str(&format!(
        "}}\n\nimpl {name} {{\n    /// The lease options these flags ask for.\n    \
         #[allow(clippy::needless_update)] // the update is for the options core adds\n    \
         pub(crate) fn options(&self) -> Result<LeaseOptions, Error> {{\n        \
         Ok(LeaseOptions {{\n"
    ));
    for (option, _) in &sub.flags {
        let convert = spelling(option.kind)
            .convert
            .replace("{name}", &option.name);
        out.push_str(&format!("            {}: {convert},\n", option.name));
    }
    out.push_str("            ..LeaseOptions::default()\n        })\n    }\n}\n");
    out
}

/// The whole of cli/src/lease_args.rs.
pub fn render() -> String {
    let subs = subcommands();
    let kinds: Vec<Kind> = subs
        .iter()
        .flat_map(|s| s.flags.iter().map(|(o, _)| o.kind))
        .collect();
    let mut core = vec!["Error", "LeaseOptions"];
    if kinds.contains(&Kind::Protocol) {
        core.push("Protocol");
    }
    let mut out = String::from(
        "// Code generated from core's LeaseOptions and tests/parity/options.tsv by cli/tests/parity/gen_cli.rs; DO NOT EDIT.\n\
         // PORTPOOL_BLESS=1 cargo test -p portpool-cli --test parity regenerates it.\n\n\
         //! The lease options of each subcommand that takes some: per option of core's\n\
         //! `LeaseOptions` that tests/parity/options.tsv gives the subcommand as a `--flag`, a field\n\
         //! whose help is core's doc, and its conversion through the converter of its kind\n\
         //! ([`crate::values`]).\n\n\
         use clap::Args;\n",
    );
    out.push_str(&format!("use portpool_core::{{{}}};\n\n", core.join(", ")));
    if kinds
        .iter()
        .any(|k| spelling(*k).convert.contains("values::"))
    {
        out.push_str("use crate::values;\n");
    }
    for sub in &subs {
        out.push('\n');
        out.push_str(&render_struct(sub));
    }
    out
}

#[test]
fn the_clis_lease_options_are_generated_from_core_and_the_table() {
    generated_file(PATH, &render());
}

#[test]
fn operations_of_one_subcommand_share_its_generated_lease_options() {
    let subs = subcommands();
    let words: Vec<&str> = subs.iter().map(|s| s.words.as_str()).collect();
    assert_eq!(words, ["register", "allocate", "run"]);
    let allocate = &subs[1];
    assert_eq!(allocate.ops, ["allocate", "allocate_many"]);
    assert!(allocate.flags.iter().all(|(o, _)| o.name != "range"));
    assert_eq!(struct_name("pool set"), "PoolSetLease");
}
