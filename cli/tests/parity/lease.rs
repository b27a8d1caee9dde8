//! Core's lease options, as every front end's generated option code sees them: each field of
//! `pub struct LeaseOptions` in core/src/registry.rs, in order, with its kind (from its Rust
//! type) and its doc comment, plus the spelling each front end gives it per operation in
//! tests/parity/options.tsv. A new field of a kind below needs no hand-written front-end code:
//! the generators (`gen_*.rs`) write it into each front end.

use std::fs;

use crate::{OptionRow, options_table, read, repo, spans};

/// What a lease option's value is, and so how every front end takes and converts it.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum Kind {
    /// `bool`: off unless given.
    Flag,
    /// `Protocol`: "tcp" (default), "udp" or "tcp+udp".
    Protocol,
    /// `Option<u32>`: a process id.
    Pid,
    /// `Option<u64>`: whole seconds.
    Seconds,
    /// `Vec<u16>`: a list of ports.
    Ports,
    /// `Option<(u16, u16)>`: an inclusive port range.
    Range,
    /// `Option<std::net::IpAddr>`: one address of this machine.
    Address,
}

impl Kind {
    fn of(rust_type: &str) -> Kind {
        match rust_type {
            "bool" => Kind::Flag,
            "Protocol" => Kind::Protocol,
            "Option<u32>" => Kind::Pid,
            "Option<u64>" => Kind::Seconds,
            "Vec<u16>" => Kind::Ports,
            "Option<(u16, u16)>" => Kind::Range,
            "Option<std::net::IpAddr>" => Kind::Address,
            other => panic!(
                "LeaseOptions has a field of type {other}, which no front end's generator knows: \
                 add a Kind for it (cli/tests/parity/lease.rs) and its conversion to each gen_*.rs"
            ),
        }
    }
}

/// One field of core's `LeaseOptions`.
#[derive(Clone, Debug)]
pub struct LeaseOption {
    /// The field's name, which is the option's name in options.tsv.
    pub name: String,
    pub kind: Kind,
    /// The doc comment's lines, `/// ` removed and rustdoc links made plain code spans.
    pub doc: Vec<String>,
}

impl LeaseOption {
    /// The doc comment as one paragraph.
    pub fn doc_text(&self) -> String {
        self.doc.join(" ")
    }
}

/// `[`x`](path)`, `[`x`]` and `[`Type::x`]` become `` `x` ``.
fn plain(line: &str) -> String {
    let mut out = String::new();
    let mut rest = line;
    while let Some(at) = rest.find("[`") {
        let Some(close) = rest[at..].find("`]") else {
            break;
        };
        let code = &rest[at + 2..at + close];
        out.push_str(&rest[..at]);
        out.push('`');
        out.push_str(code.rsplit("::").next().unwrap_or(code));
        out.push('`');
        rest = &rest[at + close + 2..];
        if rest.starts_with('(')
            && let Some(end) = rest.find(')')
        {
            rest = &rest[end + 1..];
        }
    }
    out.push_str(rest);
    out
}

/// `text` as comment lines of at most `width` characters, each `prefix` (e.g. `"    ///"`), a
/// space and words.
pub fn wrap(text: &str, prefix: &str, width: usize) -> String {
    let mut out = String::new();
    let mut line = String::from(prefix);
    for word in text.split_whitespace() {
        if line.len() > prefix.len() && line.len() + 1 + word.len() > width {
            out.push_str(&line);
            out.push('\n');
            line = String::from(prefix);
        }
        line.push(' ');
        line.push_str(word);
    }
    out.push_str(&line);
    out.push('\n');
    out
}

/// Core's lease options, in the order of the struct's fields.
pub fn lease_options() -> Vec<LeaseOption> {
    let text = read("core/src/registry.rs");
    let start = text
        .find("pub struct LeaseOptions {")
        .expect("core/src/registry.rs declares pub struct LeaseOptions");
    let body = &text[start..];
    let body = &body[..body.find("\n}").unwrap()];
    let mut found = Vec::new();
    let mut doc = Vec::new();
    for line in body.lines().skip(1) {
        let line = line.trim();
        if let Some(text) = line.strip_prefix("///") {
            doc.push(plain(text.trim()));
        } else if let Some(field) = line.strip_prefix("pub ") {
            let (name, rust_type) = field.split_once(':').expect("a `name: Type` field");
            found.push(LeaseOption {
                name: name.trim().to_owned(),
                kind: Kind::of(rust_type.trim().trim_end_matches(',')),
                doc: std::mem::take(&mut doc),
            });
        } else if !line.is_empty() && !line.starts_with("//") && !line.starts_with("#[") {
            panic!("LeaseOptions: a line the generators cannot read: {line:?}");
        }
    }
    assert!(!found.is_empty(), "LeaseOptions has no fields");
    found
}

/// The options.tsv rows of `op` that are lease options, in the order of core's struct, each
/// with its lease option. Rows a front end does not take still come back: check the cell
/// (`-`) of the front end at hand.
pub fn lease_rows(op: &str) -> Vec<(LeaseOption, OptionRow)> {
    let rows = options_table();
    lease_options()
        .into_iter()
        .filter_map(|option| {
            let row = rows
                .iter()
                .find(|r| r.op == op && r.option == option.name)?;
            Some((option, row.clone()))
        })
        .collect()
}

/// Whether core's `op` takes a `&LeaseOptions`: its signature (up to its body) names one. Not
/// every operation with an option of a lease option's name does (`find_free_ports` takes
/// `FindOptions`, `is_free_at` a protocol and a host).
fn takes_lease_options(core: &str, op: &str) -> bool {
    [format!("pub fn {op}("), format!("pub fn {op}<")]
        .iter()
        .flat_map(|start| spans(core, start, "{"))
        .any(|signature| signature.contains("&LeaseOptions"))
}

/// The text of every `.rs` file under core/src, its subdirectories included.
pub fn core_sources() -> String {
    let mut text = String::new();
    let mut dirs = vec![repo().join("core/src")];
    while let Some(dir) = dirs.pop() {
        let mut entries: Vec<_> = fs::read_dir(dir)
            .unwrap()
            .map(|e| e.unwrap().path())
            .collect();
        entries.sort();
        for path in entries {
            if path.is_dir() {
                dirs.push(path);
            } else if path.extension().is_some_and(|e| e == "rs") {
                text.push_str(&fs::read_to_string(path).unwrap());
            }
        }
    }
    text
}

/// Every operation that takes lease options, in the order of options.tsv.
pub fn lease_ops() -> Vec<String> {
    let core = core_sources();
    let names: Vec<String> = lease_options().into_iter().map(|o| o.name).collect();
    let mut ops: Vec<String> = Vec::new();
    for row in options_table() {
        if names.contains(&row.option)
            && !ops.contains(&row.op)
            && takes_lease_options(&core, &row.op)
        {
            ops.push(row.op);
        }
    }
    ops
}

#[test]
fn core_lease_options_are_read_with_their_kinds_and_docs() {
    let options = lease_options();
    let names: Vec<&str> = options.iter().map(|o| o.name.as_str()).collect();
    assert_eq!(names[..3], ["protocol", "force", "pid"]);
    let ttl = options.iter().find(|o| o.name == "ttl").unwrap();
    assert_eq!(ttl.kind, Kind::Seconds);
    assert!(
        options.iter().all(|o| !o.doc.is_empty()),
        "every field is documented"
    );
    let host = options.iter().find(|o| o.name == "host").unwrap();
    assert!(
        host.doc_text().contains("`listen` also binds"),
        "{:?}",
        host.doc
    );
    assert_eq!(plain("see [`Registry::set_force`])."), "see `set_force`).");
}

#[test]
fn every_lease_option_of_core_is_in_the_options_table() {
    let rows = options_table();
    for option in lease_options() {
        assert!(
            rows.iter().any(|r| r.option == option.name),
            "core's LeaseOptions.{} is in no row of tests/parity/options.tsv",
            option.name
        );
    }
    assert!(lease_ops().contains(&"register".to_owned()));
}

#[test]
fn lease_operations_are_those_whose_core_signature_takes_lease_options() {
    let ops = lease_ops();
    for op in ["register", "allocate_many", "listen"] {
        assert!(
            ops.contains(&op.to_owned()),
            "{op} takes LeaseOptions: {ops:?}"
        );
    }
    // They share option names (protocol, exclude, host), not LeaseOptions.
    for op in ["find_free_ports", "is_free_at"] {
        assert!(
            !ops.contains(&op.to_owned()),
            "{op} takes no LeaseOptions: {ops:?}"
        );
    }
}
impl LeaseOption {
    /// The doc comment as one paragraph, each code span that names a core operation
    /// (`register`, `Registry::listen`) renamed by `name` to the front end's spelling (`None`:
    /// left as core writes it).
    pub fn doc_named(&self, name: impl Fn(&str) -> Option<String>) -> String {
        let text = self.doc_text();
        let mut out = String::new();
        let mut parts = text.split('`');
        out.push_str(parts.next().unwrap_or_default());
        for (i, part) in parts.enumerate() {
            out.push('`');
            let op = part.strip_prefix("Registry::").unwrap_or(part);
            let is_name = !op.is_empty() && op.chars().all(|c| c.is_alphanumeric() || c == '_');
            match (i % 2, is_name.then(|| name(op)).flatten()) {
                (0, Some(renamed)) => out.push_str(&renamed),
                _ => out.push_str(part),
            }
        }
        out
    }
}

/// The first name front end `front` (an index into FRONT_ENDS) gives core operation `op` in
/// tests/parity/operations.tsv, if `op` is one.
pub fn op_name(op: &str, front: usize) -> Option<String> {
    let (_, cells) = crate::table()
        .rows
        .into_iter()
        .find(|(core, _)| core == op)?;
    Some(cells[front].split(", ").next()?.to_owned())
}

#[test]
fn a_docs_core_operations_are_renamed_for_the_front_end() {
    let option = LeaseOption {
        name: "x".to_owned(),
        kind: Kind::Flag,
        doc: vec!["`register` and `Registry::listen`, not `tcp+udp`.".to_owned()],
    };
    let go = option.doc_named(|op| op_name(op, 2));
    assert_eq!(go, "`Register` and `Listen`, not `tcp+udp`.");
}
