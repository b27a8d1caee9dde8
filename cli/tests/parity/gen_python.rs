//! The python front end's lease-option code, generated from core's `LeaseOptions` (see lease.rs).
//!
//! Each Registry call that makes a lease takes its lease options as keywords (`**options`).
//! Two files are generated from core's struct and the Python column of options.tsv:
//! - `bindings/python/src/options_gen.rs`: per call, a reader that takes exactly its options
//!   (any other keyword is Python's TypeError) and converts each through the converter of its
//!   kind, written once in `bindings/python/src/keywords.rs`, into core's `LeaseOptions`;
//! - `bindings/python/python/portpool/_options.py`: per call, a `TypedDict` of its options
//!   (`RegisterOptions`, …), each key typed by its kind and documented from core's doc comment,
//!   which `_native.pyi` uses as `**options: Unpack[RegisterOptions]`.
//!
//! A new kind needs its converter in keywords.rs and its three lines here (`reader`,
//! `python_type`, `spelling`).

use crate::lease::{Kind, LeaseOption, lease_ops, lease_rows};
use crate::{generated_file, table};

const RUST: &str = "bindings/python/src/options_gen.rs";
const PYTHON: &str = "bindings/python/python/portpool/_options.py";
const PYTHON_COLUMN: usize = 3;
/// rustfmt's and the Python sources' line width.
const WIDTH: usize = 100;

/// One call's lease options: the call as Python names it and each option it takes, with the
/// keyword that spells it.
struct Call {
    op: String,
    python: String,
    options: Vec<(LeaseOption, String)>,
}

impl Call {
    /// `RegisterOptions` for `register`, `AllocateManyOptions` for `allocate_many`.
    fn typed_dict(&self) -> String {
        let mut name: String = self
            .python
            .split('_')
            .map(|word| {
                let mut chars = word.chars();
                chars.next().map_or(String::new(), |first| {
                    first.to_uppercase().chain(chars).collect()
                })
            })
            .collect();
        name.push_str("Options");
        name
    }
}

/// The calls that take lease options, in the order of options.tsv.
fn calls() -> Vec<Call> {
    let ops = table().rows;
    lease_ops()
        .into_iter()
        .map(|op| {
            let (_, names) = ops
                .iter()
                .find(|(core_name, _)| *core_name == op)
                .unwrap_or_else(|| panic!("{op} is in options.tsv but not in operations.tsv"));
            let python = names[PYTHON_COLUMN].split(", ").next().unwrap().to_owned();
            let options = lease_rows(&op)
                .into_iter()
                .filter(|(_, row)| row.cells[PYTHON_COLUMN] != "-")
                .map(|(option, row)| (option, row.cells[PYTHON_COLUMN].clone()))
                .collect();
            Call {
                op,
                python,
                options,
            }
        })
        .collect()
}

/// The method of `Keywords` (keywords.rs) that reads an option of `kind`.
fn reader(kind: Kind) -> &'static str {
    match kind {
        Kind::Flag => "flag",
        Kind::Protocol => "protocol",
        Kind::Pid => "pid",
        Kind::Seconds => "seconds",
        Kind::Ports => "ports",
        Kind::Range => "range",
        Kind::Address => "address",
    }
}

/// The Rust reader of one call: its keywords checked, then each converted in core's order.
fn rust_reader(call: &Call) -> String {
    let python = &call.python;
    let keywords: Vec<&str> = call.options.iter().map(|(_, k)| k.as_str()).collect();
    let mut out = format!(
        "\n/// `{python}()` and `{python}_async()`: the keys of `portpool.{}`.\n\
         pub(crate) fn {python}(keywords: &Keywords<'_, '_>) -> PyResult<pp::LeaseOptions> {{\n",
        call.typed_dict()
    );
    // Laid out as rustfmt lays out a statement too long for one line.
    let only = format!("keywords.only(\"{}\")?;", keywords.join(" "));
    if 4 + "let given = ".len() + only.len() <= WIDTH {
        out.push_str(&format!("    let given = {only}\n"));
    } else if 8 + only.len() <= WIDTH {
        out.push_str(&format!("    let given =\n        {only}\n"));
    } else {
        out.push_str(&format!(
            "    let given = keywords.only(\n        \"{}\",\n    )?;\n",
            keywords.join(" ")
        ));
    }
    out.push_str("    Ok(pp::LeaseOptions {\n");
    for (option, keyword) in &call.options {
        let line = format!(
            "        {}: given.{}(\"{keyword}\")?,\n",
            option.name,
            reader(option.kind)
        );
        out.push_str(&line);
    }
    if call.options.len() < crate::lease::lease_options().len() {
        out.push_str("        ..pp::LeaseOptions::default()\n");
    }
    out.push_str("    })\n}\n");
    out
}

fn generated_rust(calls: &[Call]) -> String {
    let mut out = String::from(
        "// Code generated from core's LeaseOptions and tests/parity/options.tsv by\n\
         // cli/tests/parity/gen_python.rs; DO NOT EDIT.\n\
         // PORTPOOL_BLESS=1 cargo test -p portpool-cli --test parity regenerates it.\n\
         \n\
         //! Each call's lease options, read from its `**options` keywords: exactly the options\n\
         //! tests/parity/options.tsv gives Python for its operation, each converted by the\n\
         //! converter of its kind (keywords.rs) into core's `LeaseOptions`.\n\
         \n\
         use portpool_core as pp;\n\
         use pyo3::PyResult;\n\
         \n\
         use crate::keywords::Keywords;\n",
    );
    for call in calls {
        out.push_str(&rust_reader(call));
    }
    out
}

/// The Python type of an option of `kind`, as `op` takes it.
fn python_type(kind: Kind, op: &str) -> &'static str {
    match kind {
        Kind::Flag => "bool",
        // One socket is one protocol: core's listen refuses "tcp+udp".
        Kind::Protocol if op == "listen" => "Literal[\"tcp\", \"udp\"]",
        Kind::Protocol => "Literal[\"tcp\", \"udp\", \"tcp+udp\"]",
        Kind::Pid | Kind::Seconds => "int | None",
        Kind::Ports => "Iterable[int] | None",
        Kind::Range => "tuple[int, int] | None",
        Kind::Address => "str | ipaddress.IPv4Address | ipaddress.IPv6Address | None",
    }
}

/// The sentence that says how Python spells a value of `kind`, after core's doc.
fn spelling(kind: Kind, op: &str) -> &'static str {
    match kind {
        Kind::Flag => "Given as True or False; False when left out.",
        Kind::Protocol if op == "listen" => {
            "Given as \"tcp\" (the default) or \"udp\": one socket is one protocol."
        }
        Kind::Protocol => "Given as \"tcp\" (the default), \"udp\" or \"tcp+udp\".",
        Kind::Pid | Kind::Seconds => "Given as an int; None is the same as leaving it out.",
        Kind::Ports => "Given as an iterable of int; None is the same as leaving it out.",
        Kind::Range => "Given as a (start, end) pair of ints; None is the same as leaving it out.",
        Kind::Address => {
            "Given as text (\"127.0.0.1\", \"::1\") or an ipaddress object; None is the same \
             as leaving it out."
        }
    }
}

/// `text` as a docstring indented by `indent`, its lines at most WIDTH wide.
fn docstring(text: &str, indent: &str) -> String {
    assert!(!text.contains("\"\"\"") && !text.contains('\\'), "{text:?}");
    let mut lines: Vec<String> = vec![format!("{indent}\"\"\"")];
    for word in text.split_whitespace() {
        let last = lines.last_mut().unwrap();
        let fresh = last.ends_with("\"\"\"") && last.trim() == "\"\"\"";
        // Room for the closing quotes on whichever line ends up last.
        if !fresh && last.len() + 1 + word.len() + 3 > WIDTH {
            lines.push(format!("{indent}{word}"));
        } else {
            if !fresh {
                last.push(' ');
            }
            last.push_str(word);
        }
    }
    let mut out = lines.join("\n");
    out.push_str("\"\"\"\n");
    out
}

fn typed_dict(call: &Call) -> String {
    let python = &call.python;
    let mut out = format!("\n\nclass {}(TypedDict, total=False):\n", call.typed_dict());
    out.push_str(&docstring(
        &format!(
            "The lease options of Registry.{python}() and Registry.{python}_async(), given as \
             keywords; each may be left out."
        ),
        "    ",
    ));
    for (option, keyword) in &call.options {
        out.push_str(&format!(
            "\n    {keyword}: {}\n",
            python_type(option.kind, &call.op)
        ));
        let doc = format!("{} {}", option.doc_text(), spelling(option.kind, &call.op));
        out.push_str(&docstring(&doc, "    "));
    }
    out
}

fn generated_python(calls: &[Call]) -> String {
    let kinds: Vec<Kind> = calls
        .iter()
        .flat_map(|c| c.options.iter().map(|(o, _)| o.kind))
        .collect();
    let mut out = String::from(
        "# Code generated from core's LeaseOptions and tests/parity/options.tsv by\n\
         # cli/tests/parity/gen_python.rs; DO NOT EDIT.\n\
         # PORTPOOL_BLESS=1 cargo test -p portpool-cli --test parity regenerates it.\n\
         \"\"\"The lease options each Registry call that makes a lease takes, as keywords: one\n\
         TypedDict per call, every key optional.\n\
         \n\
         ``reg.register(\"web\", 8080, ttl=60)`` gives register() a key of RegisterOptions. Options\n\
         kept in a dict are checked by type checkers when the dict is annotated with the call's\n\
         TypedDict: ``options: RegisterOptions = {\"ttl\": 60}``, then\n\
         ``reg.register(\"web\", 8080, **options)``.\n\
         \"\"\"\n\n",
    );
    if kinds.contains(&Kind::Address) {
        out.push_str("import ipaddress\n");
    }
    if kinds.contains(&Kind::Ports) {
        out.push_str("from collections.abc import Iterable\n");
    }
    out.push_str("from typing import Literal, TypedDict\n\n__all__ = [\n");
    let mut names: Vec<String> = calls.iter().map(Call::typed_dict).collect();
    names.sort();
    for name in names {
        out.push_str(&format!("    \"{name}\",\n"));
    }
    out.push_str("]\n");
    for call in calls {
        out.push_str(&typed_dict(call));
    }
    out
}

#[test]
fn pythons_lease_options_are_generated_from_core_and_the_table() {
    let calls = calls();
    let names: Vec<&str> = calls.iter().map(|c| c.python.as_str()).collect();
    assert_eq!(
        names,
        ["register", "allocate", "allocate_many", "lease", "listen"]
    );
    generated_file(RUST, &generated_rust(&calls));
    generated_file(PYTHON, &generated_python(&calls));
}
