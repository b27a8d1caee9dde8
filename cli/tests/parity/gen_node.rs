//! The Node front end's lease-option code, generated from core's `LeaseOptions` (see lease.rs)
//! and the Node column of tests/parity/options.tsv: bindings/node/src/options_gen.rs declares
//! each options object of an operation that takes lease options — whole, as napi-rs objects
//! cannot flatten one into another — and its `lease()`, which converts the object's lease
//! fields into core's `LeaseOptions` through one hand-written converter per `Kind` (in
//! bindings/node/src/lib.rs). A new lease option of a known kind needs no hand-written Node
//! code; a new kind needs its converter there and its line in `node_kind` below.

use crate::lease::{Kind, LeaseOption, lease_ops, lease_options, lease_rows, wrap};
use crate::{OptionRow, generated_file, options_table, read, table};

const PATH: &str = "bindings/node/src/options_gen.rs";

/// Lines are wrapped to rustfmt's width.
const WIDTH: usize = 100;

/// The doc of each options object, by its name in index.d.ts.
const OBJECTS: &[(&str, &str)] = &[
    ("RegisterOptions", "Options of `Registry.register`."),
    (
        "AllocateOptions",
        "Options of `Registry.allocate` and `Registry.allocateMany`.",
    ),
    (
        "ScopeOptions",
        "Options of `Registry.lease` and `Registry.leaseSync`: a port from a pool (the default) \
         or, with `port`, as `register` chooses it.",
    ),
    (
        "ListenOptions",
        "Options of `Registry.listen` and `Registry.listenScoped`: which port (a pool's, the \
         default, or with `port` as `register` chooses it), how to bind it, and whose lease it is.",
    ),
];

/// A field of an options object that is not one of core's lease options: its Rust type
/// (inside `Option<…>`), its TypeScript type where napi-rs's would not do, and its doc.
struct Other {
    option: &'static str,
    objects: &'static [&'static str],
    rust: &'static str,
    ts: Option<&'static str>,
    doc: &'static str,
}

const MODES: Option<&str> = Some("'flexible' | 'fixed'");
const CHOOSING: &[&str] = &["ScopeOptions", "ListenOptions"];

const OTHERS: &[Other] = &[
    Other {
        option: "mode",
        objects: &["RegisterOptions"],
        rust: "String",
        ts: MODES,
        doc: "`'flexible'` (default): the first free preferred port, then the first free port of \
              `range`, or without a range the next free port above the first preferred one. \
              `'fixed'`: one of the preferred ports or of `range`, else `PORTPOOL_CONFLICT` \
              (`PORTPOOL_EXHAUSTED` when a range was searched).",
    },
    Other {
        option: "mode",
        objects: CHOOSING,
        rust: "String",
        ts: MODES,
        doc: "With `port`: `'flexible'` (default) or `'fixed'`.",
    },
    Other {
        option: "pool",
        objects: &["AllocateOptions"],
        rust: "String",
        ts: None,
        doc: "The pool to take a port from; `'default'` (9000–18999 unless changed) when omitted.",
    },
    Other {
        option: "pool",
        objects: CHOOSING,
        rust: "String",
        ts: None,
        doc: "The pool to take a port from; `'default'` when neither `pool` nor `port` is given.",
    },
    Other {
        option: "port",
        objects: CHOOSING,
        rust: "PortList",
        ts: Some("number | number[]"),
        doc: "The preferred port, or ports in order, as `register` takes them (with `mode` and \
              `range`), instead of a pool's.",
    },
    Other {
        option: "backlog",
        objects: &["ListenOptions"],
        rust: "f64",
        ts: None,
        doc: "TCP: the length of the queue of connections not yet accepted (default, and 0: the \
              kernel's `net.core.somaxconn`, which also caps it).",
    },
];

/// What one options object adds to a lease option's doc from core, and a narrower
/// TypeScript type where it takes fewer values.
struct Note {
    object: &'static str,
    option: &'static str,
    ts: Option<&'static str>,
    doc: &'static str,
}

const NOTES: &[Note] = &[
    Note {
        object: "ScopeOptions",
        option: "pid",
        ts: None,
        doc: "Default: this process (`process.pid`, which in a worker thread is the whole \
              process: the lease outlives the worker).",
    },
    Note {
        object: "ListenOptions",
        option: "pid",
        ts: None,
        doc: "Default: this process (`process.pid`).",
    },
    Note {
        object: "ListenOptions",
        option: "protocol",
        ts: Some("'tcp' | 'udp'"),
        doc: "Here one socket is one protocol: `'tcp'` gives a listening socket, `'udp'` a bound \
              one, and `'tcp+udp'` is `PORTPOOL_INVALID_ARGUMENT`.",
    },
    Note {
        object: "ListenOptions",
        option: "host",
        ts: None,
        doc: "Without it, `listen` binds `::` in dual-stack mode (IPv4 and IPv6) where the host \
              has IPv6, else `0.0.0.0`.",
    },
];

/// How Node takes a lease option of one kind.
struct NodeKind {
    /// The field's Rust type, inside `Option<…>`.
    rust: &'static str,
    /// Its TypeScript type, where napi-rs's would not say it.
    ts: Option<&'static str>,
    /// The sentence its doc gains, where JavaScript spells the value its own way.
    sentence: Option<&'static str>,
    /// The kind's converter (bindings/node/src/lib.rs) and how it takes the field.
    converter: &'static str,
    argument: &'static str,
    fallible: bool,
}

fn node_kind(kind: Kind) -> NodeKind {
    let (rust, ts, sentence, converter, argument, fallible) = match kind {
        Kind::Flag => ("bool", None, None, "flag_arg", "", false),
        Kind::Protocol => (
            "String",
            Some("'tcp' | 'udp' | 'tcp+udp'"),
            None,
            "protocol_arg",
            ".as_deref()",
            true,
        ),
        Kind::Pid => ("f64", None, None, "pid_arg", "", true),
        Kind::Seconds => ("f64", None, Some("A whole number."), "ttl_arg", "", true),
        Kind::Ports => ("Vec<f64>", None, None, "port_list", ".as_deref()", true),
        Kind::Range => (
            "PortRange",
            Some("[number, number]"),
            Some("Written `[lo, hi]`: an array of two port numbers."),
            "range_arg",
            "",
            true,
        ),
        Kind::Address => (
            "String",
            None,
            Some("An IP address, such as `'127.0.0.1'` or `'::1'`."),
            "host_arg",
            ".as_deref()",
            true,
        ),
    };
    NodeKind {
        rust,
        ts,
        sentence,
        converter,
        argument,
        fallible,
    }
}

/// One field of a generated options object.
struct Field {
    /// Its Rust name, which is the option's name in options.tsv.
    option: String,
    rust: String,
    ts: Option<String>,
    doc: String,
    /// Set when the field is one of core's lease options.
    lease: Option<LeaseOption>,
}

struct Object {
    name: String,
    fields: Vec<Field>,
}

/// `lock_timeout` as JavaScript spells it (napi-rs's rule for field names).
fn camel(name: &str) -> String {
    let mut parts = name.split('_');
    let mut out = parts.next().unwrap_or_default().to_owned();
    for part in parts {
        let mut chars = part.chars();
        if let Some(first) = chars.next() {
            out.extend(first.to_uppercase());
            out.push_str(chars.as_str());
        }
    }
    out
}

/// Core's doc in JavaScript's terms: a code span naming a core operation (`is_free_at`,
/// `Registry::listen`) names Node's method instead.
fn js_terms(doc: &str) -> String {
    let ops = table().rows;
    let mut out = String::new();
    for (i, piece) in doc.split('`').enumerate() {
        if i > 0 {
            out.push('`');
        }
        let (registry, name) = match piece.strip_prefix("Registry::") {
            Some(name) => ("Registry.", name),
            None => ("", piece),
        };
        match ops.iter().find(|(op, _)| op == name) {
            Some((_, cells)) if i % 2 == 1 => {
                let node = cells[4].split(", ").next().unwrap_or(name);
                out.push_str(&format!("{registry}{node}"));
            }
            _ => out.push_str(piece),
        }
    }
    out
}

fn lease_field(object: &str, option: LeaseOption) -> Field {
    let kind = node_kind(option.kind);
    let note = NOTES
        .iter()
        .find(|n| n.object == object && n.option == option.name);
    let doc: Vec<String> = [Some(js_terms(&option.doc_text()))]
        .into_iter()
        .chain([
            kind.sentence.map(str::to_owned),
            note.map(|n| n.doc.to_owned()),
        ])
        .flatten()
        .collect();
    Field {
        option: option.name.clone(),
        rust: kind.rust.to_owned(),
        ts: note.and_then(|n| n.ts).or(kind.ts).map(str::to_owned),
        doc: doc.join(" "),
        lease: Some(option),
    }
}

fn other_field(object: &str, option: &str) -> Field {
    let other = OTHERS
        .iter()
        .find(|o| o.option == option && o.objects.contains(&object))
        .unwrap_or_else(|| {
            panic!(
                "options.tsv gives Node's {object} a field {option:?}, which is neither one of \
                 core's lease options nor in OTHERS (cli/tests/parity/gen_node.rs): add its \
                 type and doc there"
            )
        });
    Field {
        option: option.to_owned(),
        rust: other.rust.to_owned(),
        ts: other.ts.map(str::to_owned),
        doc: other.doc.to_owned(),
        lease: None,
    }
}

/// The options object and field Node's cell of `row` names.
fn node_field(row: &OptionRow) -> (&str, &str) {
    let cell = &row.cells[4];
    let (object, field) = cell.split_once('.').unwrap_or_else(|| {
        panic!(
            "options.tsv: {} {}: Node's cell {cell:?} should be `Interface.field`: the \
             operation takes core's lease options, which Node takes in an options object",
            row.op, row.option
        )
    });
    assert_eq!(
        field,
        camel(&row.option),
        "options.tsv: {} {}: Node spells the field as napi-rs does",
        row.op,
        row.option
    );
    (object, field)
}

/// Adds the field of `row` to its object, unless another operation's row added it.
fn add(objects: &mut Vec<Object>, row: &OptionRow, field: impl FnOnce(&str) -> Field) {
    if row.cells[4] == "-" {
        return;
    }
    let (object, _) = node_field(row);
    if !objects.iter().any(|o| o.name == object) {
        objects.push(Object {
            name: object.to_owned(),
            fields: Vec::new(),
        });
    }
    let fields = &mut objects
        .iter_mut()
        .find(|o| o.name == object)
        .unwrap()
        .fields;
    if !fields.iter().any(|f| f.option == row.option) {
        fields.push(field(object));
    }
}

/// Node's options objects of the operations that take lease options: for each operation, in
/// the order of options.tsv, its other options in that order, then its lease options in the
/// order of core's struct.
fn objects() -> Vec<Object> {
    let names: Vec<String> = lease_options().into_iter().map(|o| o.name).collect();
    let rows = options_table();
    let mut objects: Vec<Object> = Vec::new();
    for op in lease_ops() {
        for row in rows
            .iter()
            .filter(|r| r.op == op && !names.contains(&r.option))
        {
            add(&mut objects, row, |object| other_field(object, &row.option));
        }
        for (option, row) in lease_rows(&op) {
            add(&mut objects, &row, |object| lease_field(object, option));
        }
    }
    objects
}

fn render_object(out: &mut String, object: &Object) {
    let doc = OBJECTS
        .iter()
        .find(|(name, _)| *name == object.name)
        .map(|(_, doc)| *doc)
        .unwrap_or_else(|| {
            panic!(
                "Node's options object {} has no doc in OBJECTS (cli/tests/parity/gen_node.rs)",
                object.name
            )
        });
    out.push_str(&wrap(doc, "    ///", WIDTH));
    out.push_str(&format!("    pub struct {} {{\n", object.name));
    for field in &object.fields {
        out.push_str(&wrap(&field.doc, "        ///", WIDTH));
        if let Some(ts) = &field.ts {
            out.push_str(&format!("        #[napi(ts_type = \"{ts}\")]\n"));
        }
        out.push_str(&format!(
            "        pub {}: Option<{}>,\n",
            field.option, field.rust
        ));
    }
    out.push_str("    }\n");
}

/// `impl Object { fn lease() }`: core's lease options, each field through its kind's converter,
/// in the order of core's struct (which is the order their errors are checked in).
fn render_lease(out: &mut String, object: &Object, converters: &mut Vec<&'static str>) {
    out.push_str(&format!(
        "\nimpl {} {{\n    /// Core's lease options from this object's fields, each converted as its kind \
         is.\n    pub fn lease(&self) -> pp::Result<pp::LeaseOptions> {{\n        Ok(pp::LeaseOptions {{\n",
        object.name
    ));
    let all = lease_options();
    let mut missing = false;
    for option in &all {
        let Some(field) = object
            .fields
            .iter()
            .find(|f| f.lease.as_ref().is_some_and(|l| l.name == option.name))
        else {
            missing = true;
            continue;
        };
        let kind = node_kind(option.kind);
        converters.push(kind.converter);
        out.push_str(&format!(
            "            {name}: {converter}(self.{name}{argument}){try_},\n",
            name = field.option,
            converter = kind.converter,
            argument = kind.argument,
            try_ = if kind.fallible { "?" } else { "" },
        ));
    }
    if missing {
        out.push_str("            ..pp::LeaseOptions::default()\n");
    }
    out.push_str("        })\n    }\n}\n");
}

/// `use crate::{a, b};`, or `use crate::a;` for one name, as rustfmt writes it.
fn use_line(path: &str, names: &[&str]) -> String {
    match names {
        [one] => format!("use {path}::{one};\n"),
        _ => format!("use {path}::{{{}}};\n", names.join(", ")),
    }
}

/// The text of bindings/node/src/options_gen.rs.
pub fn generated() -> String {
    let objects = objects();
    let mut body = String::from("options! {\n");
    for (i, object) in objects.iter().enumerate() {
        if i > 0 {
            body.push('\n');
        }
        render_object(&mut body, object);
    }
    body.push_str("}\n");
    let mut converters = Vec::new();
    for object in &objects {
        render_lease(&mut body, object, &mut converters);
    }
    converters.sort_unstable();
    converters.dedup();
    let mut types: Vec<&str> = ["PortList", "PortRange"]
        .into_iter()
        .filter(|t| body.contains(&format!("Option<{t}>")))
        .collect();
    types.push("options");
    let mut out = String::from(
        "// Code generated from core's LeaseOptions and tests/parity/options.tsv by\n\
         // cli/tests/parity/gen_node.rs; DO NOT EDIT.\n\
         // PORTPOOL_BLESS=1 cargo test -p portpool-cli --test parity regenerates it.\n\n\
         //! The options objects of the operations that take core's lease options: each field's doc\n\
         //! is core's, and `lease()` converts the lease fields through one converter per kind of\n\
         //! option (lib.rs). Declared with `options!`, so read strictly.\n\n\
         use napi_derive::napi;\n\
         use portpool_core as pp;\n\n",
    );
    out.push_str(&use_line("crate::options", &types));
    out.push_str(&use_line("crate", &converters));
    out.push('\n');
    out.push_str(&body);
    out
}

#[test]
fn nodes_lease_options_are_generated_from_core_and_the_table() {
    generated_file(PATH, &generated());
}

#[test]
fn every_node_doc_and_note_of_the_generator_is_used() {
    let objects = objects();
    let has = |object: &str, option: &str| {
        objects
            .iter()
            .any(|o| o.name == object && o.fields.iter().any(|f| f.option == option))
    };
    for (object, _) in OBJECTS {
        assert!(
            objects.iter().any(|o| o.name == *object),
            "OBJECTS documents {object}, which no lease operation's row names"
        );
    }
    for other in OTHERS {
        for object in other.objects {
            assert!(
                has(object, other.option),
                "OTHERS: {object} has no {}",
                other.option
            );
        }
    }
    for note in NOTES {
        assert!(
            has(note.object, note.option),
            "NOTES: {} has no {}",
            note.object,
            note.option
        );
    }
}

#[test]
fn nodes_operations_convert_lease_options_only_through_the_generated_lease() {
    let lib = read("bindings/node/src/lib.rs");
    assert!(
        !lib.contains("LeaseOptions {"),
        "bindings/node/src/lib.rs builds core's LeaseOptions itself: call the options object's \
         generated `lease()` (options_gen.rs) instead"
    );
}

#[test]
fn nodes_docs_name_nodes_methods_where_core_names_its_own() {
    assert_eq!(
        js_terms("see `is_free_at`; `Registry::listen` binds; `tcp+udp`"),
        "see `isFree`; `Registry.listen` binds; `tcp+udp`"
    );
    assert_eq!(camel("lock_timeout"), "lockTimeout");
}
