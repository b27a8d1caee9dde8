//! Every front end offers every operation of core: the list in tests/parity/operations.tsv is
//! checked against core's source (both ways), the command line (its help), the C header, the
//! Go package, the Python stubs and modules, and the Node typings. README's operations table
//! is generated from the same list (`PORTPOOL_BLESS=1 cargo test -p portpool-cli --test
//! parity` rewrites it).

use std::collections::BTreeSet;
use std::fs;
use std::path::{Path, PathBuf};
use std::process::Command;

mod gen_cli;
mod gen_ffi;
mod gen_go;
mod gen_node;
mod gen_python;
mod lease;

const FRONT_ENDS: [&str; 5] = ["CLI", "C", "Go", "Python", "Node"];
const BEGIN: &str = "<!-- operations table: generated from tests/parity/operations.tsv -->";
const END: &str = "<!-- end of operations table -->";

fn repo() -> PathBuf {
    Path::new(env!("CARGO_MANIFEST_DIR"))
        .parent()
        .unwrap()
        .to_owned()
}

fn read(path: &str) -> String {
    fs::read_to_string(repo().join(path)).unwrap_or_else(|e| panic!("{path}: {e}"))
}

/// The texts of every file under `dir` whose name ends in one of `suffixes`.
fn sources(dir: &str, suffixes: &[&str], skip: &[&str]) -> String {
    let mut text = String::new();
    let mut entries: Vec<_> = fs::read_dir(repo().join(dir))
        .unwrap()
        .map(|e| e.unwrap().path())
        .collect();
    entries.sort();
    for path in entries {
        let name = path.file_name().unwrap().to_string_lossy().into_owned();
        if path.is_file()
            && suffixes.iter().any(|s| name.ends_with(s))
            && !skip.iter().any(|s| name.ends_with(s))
        {
            text.push_str(&fs::read_to_string(&path).unwrap());
        }
    }
    text
}

struct Table {
    /// (core name, [cli, c, go, python, node])
    rows: Vec<(String, Vec<String>)>,
    /// Public methods of the handle that are not operations.
    handle: BTreeSet<String>,
}

fn table() -> Table {
    let text = read("tests/parity/operations.tsv");
    let mut rows = Vec::new();
    let mut handle = BTreeSet::new();
    let mut in_handle = false;
    for line in text.lines() {
        if line == "# handle" {
            in_handle = true;
            continue;
        }
        if line.starts_with('#') || line.trim().is_empty() {
            continue;
        }
        if in_handle {
            handle.insert(line.trim().to_owned());
            continue;
        }
        let cells: Vec<String> = line.split('\t').map(str::to_owned).collect();
        assert_eq!(
            cells.len(),
            6,
            "operations.tsv: {line:?} needs 6 tab-separated cells"
        );
        rows.push((cells[0].clone(), cells[1..].to_vec()));
    }
    Table { rows, handle }
}

/// The names of the public functions in `impl Registry` blocks of core/src.
fn core_registry_methods() -> BTreeSet<String> {
    let mut names = BTreeSet::new();
    let text = lease::core_sources();
    let mut inside = false;
    for line in text.lines() {
        if line.starts_with("impl Registry {") {
            inside = true;
        } else if inside && line == "}" {
            inside = false;
        } else if inside && let Some(rest) = line.strip_prefix("    pub fn ") {
            let name: String = rest
                .chars()
                .take_while(|c| c.is_alphanumeric() || *c == '_')
                .collect();
            names.insert(name);
        }
    }
    names
}

#[test]
fn every_public_core_operation_is_listed_once() {
    let table = table();
    let listed: BTreeSet<String> = table.rows.iter().map(|(core, _)| core.clone()).collect();
    assert_eq!(
        listed.len(),
        table.rows.len(),
        "an operation is listed twice"
    );
    let methods = core_registry_methods();
    assert!(methods.len() > 20, "found only {methods:?} in core/src");
    let unlisted: Vec<&String> = methods
        .iter()
        .filter(|m| !listed.contains(*m) && !table.handle.contains(*m))
        .collect();
    assert!(
        unlisted.is_empty(),
        "public Registry methods in core missing from tests/parity/operations.tsv: {unlisted:?}"
    );
    let core = sources("core/src", &[".rs"], &[]);
    for (op, _) in &table.rows {
        assert!(
            core.contains(&format!("pub fn {op}(")) || core.contains(&format!("pub fn {op}<")),
            "operations.tsv lists {op}, which core/src does not define"
        );
    }
    for name in &table.handle {
        assert!(
            methods.contains(name),
            "operations.tsv lists {name} under # handle, but core's Registry has no such method"
        );
    }
}

/// Whether `portpool WORDS --help` succeeds and shows each of FLAGS.
fn cli_has(cell: &str) -> bool {
    let (words, flags): (Vec<&str>, Vec<&str>) =
        cell.split_whitespace().partition(|w| !w.starts_with('-'));
    let out = Command::new(env!("CARGO_BIN_EXE_portpool"))
        .args(&words)
        .arg("--help")
        .output()
        .unwrap();
    let help = String::from_utf8_lossy(&out.stdout);
    out.status.success() && flags.iter().all(|flag| help.contains(flag))
}

#[test]
fn every_front_end_offers_every_operation() {
    let table = table();
    let header = read("include/portpool.h");
    let go = sources("bindings/go", &[".go"], &["_test.go"]);
    let python = sources("bindings/python/python/portpool", &[".py", ".pyi"], &[]);
    let node = read("bindings/node/index.d.ts");
    let mut missing = Vec::new();
    for (op, cells) in &table.rows {
        let [cli, c, go_name, py, js] = [&cells[0], &cells[1], &cells[2], &cells[3], &cells[4]];
        // A cell may name several functions, ", "-separated: each must exist.
        let all = |cell: &str, has: &dyn Fn(&str) -> bool| cell.split(", ").all(has);
        let found = [
            cli_has(cli),
            all(c, &|c| header.contains(&format!(" {c}("))),
            all(go_name, &|g| {
                go.contains(&format!("func (r *Registry) {g}("))
                    || go.contains(&format!("func {g}("))
            }),
            all(py, &|p| python.contains(&format!("def {p}("))),
            all(js, &|j| {
                node.contains(&format!(" {j}(")) || node.contains(&format!("function {j}("))
            }),
        ];
        for (front, ok) in FRONT_ENDS.iter().zip(found) {
            if !ok {
                let name = &cells[FRONT_ENDS.iter().position(|f| f == front).unwrap()];
                missing.push(format!("{op}: {front} has no {name:?}"));
            }
        }
    }
    assert!(
        missing.is_empty(),
        "front ends behind core:\n{}",
        missing.join("\n")
    );
}

fn generated_table(table: &Table) -> String {
    let mut out = format!("{BEGIN}\n\n| core | {} |\n|", FRONT_ENDS.join(" | "));
    for _ in 0..=FRONT_ENDS.len() {
        out.push_str("---|");
    }
    out.push('\n');
    for (op, cells) in &table.rows {
        let cells: Vec<String> = cells
            .iter()
            .map(|cell| {
                let names: Vec<String> = cell.split(", ").map(|n| format!("`{n}`")).collect();
                names.join(", ")
            })
            .collect();
        out.push_str(&format!("| `{op}` | {} |\n", cells.join(" | ")));
    }
    out.push('\n');
    out.push_str(END);
    out
}

#[test]
fn readmes_operations_table_is_generated_from_the_list() {
    let readme = read("README.md");
    let (Some(start), Some(end)) = (readme.find(BEGIN), readme.find(END)) else {
        panic!("README.md has no operations table between {BEGIN:?} and {END:?}");
    };
    let current = &readme[start..end + END.len()];
    let wanted = generated_table(&table());
    if current != wanted {
        if std::env::var_os("PORTPOOL_BLESS").is_some() {
            fs::write(repo().join("README.md"), readme.replace(current, &wanted)).unwrap();
        } else {
            panic!(
                "README's operations table differs from tests/parity/operations.tsv; \
                 rerun with PORTPOOL_BLESS=1 to regenerate it"
            );
        }
    }
}

const OPTIONS_BEGIN: &str = "<!-- options table: generated from tests/parity/options.tsv -->";
const OPTIONS_END: &str = "<!-- end of options table -->";
const GO_TABLE: &str = "bindings/go/options_table.go";

/// One row of tests/parity/options.tsv.
#[derive(Clone, Debug)]
struct OptionRow {
    op: String,
    option: String,
    /// [cli, c, go, python, node]
    cells: Vec<String>,
    why: String,
}

fn options_table() -> Vec<OptionRow> {
    let text = read("tests/parity/options.tsv");
    let mut rows = Vec::new();
    for line in text.lines() {
        if line.starts_with('#') || line.trim().is_empty() {
            continue;
        }
        let cells: Vec<String> = line.split('\t').map(str::to_owned).collect();
        assert_eq!(
            cells.len(),
            8,
            "options.tsv: {line:?} needs 8 tab-separated cells"
        );
        rows.push(OptionRow {
            op: cells[0].clone(),
            option: cells[1].clone(),
            cells: cells[2..7].to_vec(),
            why: cells[7].clone(),
        });
    }
    rows
}

/// The text from `start` to the first `end` after it, for each place `start` occurs.
fn spans<'a>(text: &'a str, start: &str, end: &str) -> Vec<&'a str> {
    let mut found = Vec::new();
    let mut from = 0;
    while let Some(at) = text[from..].find(start) {
        let begin = from + at;
        let stop = text[begin..].find(end).map_or(text.len(), |e| begin + e);
        found.push(&text[begin..stop]);
        from = stop;
    }
    found
}

/// Whether `text` has `word` with no identifier character on either side.
fn has_word(text: &str, word: &str) -> bool {
    let ident = |c: char| c.is_alphanumeric() || c == '_';
    text.match_indices(word)
        .any(|(at, _)| !text[..at].ends_with(ident) && !text[at + word.len()..].starts_with(ident))
}

/// `(name)`: a parameter of one of `signatures` (`FindFreeN`'s `n`, not `FindFree`'s).
fn param_of(cell: &str, signatures: &[&str]) -> Option<bool> {
    let name = cell.strip_prefix('(')?.strip_suffix(')')?;
    Some(signatures.iter().any(|s| has_word(s, name)))
}

/// `Struct.field` of a C struct, or `Interface.field` of a TypeScript interface.
fn field_of(cell: &str, text: &str, opener: &str, field_end: &[&str]) -> bool {
    let Some((owner, field)) = cell.split_once('.') else {
        return false;
    };
    spans(text, &format!("{opener}{owner} {{"), "\n}")
        .iter()
        .flat_map(|body| body.lines())
        // A declaration, not a word of a comment.
        .filter(|line| {
            !["*", "/*", "//"]
                .iter()
                .any(|c| line.trim_start().starts_with(c))
        })
        .any(|line| {
            field_end.iter().any(|end| {
                line.contains(&format!(" {field}{end}")) || line.contains(&format!("*{field}{end}"))
            })
        })
}

/// The texts every front end is checked in.
struct Fronts {
    header: String,
    go: String,
    stub: String,
    /// The TypedDicts of the calls' `**options` (bindings/python/python/portpool/_options.py).
    py_options: String,
    node: String,
}

impl Fronts {
    fn read() -> Fronts {
        Fronts {
            header: read("include/portpool.h"),
            go: sources("bindings/go", &[".go"], &["_test.go"]),
            stub: read("bindings/python/python/portpool/_native.pyi"),
            py_options: read("bindings/python/python/portpool/_options.py"),
            node: read("bindings/node/index.d.ts"),
        }
    }

    /// Whether the Python stub's `def` whose parameters are `sig` takes `cell`: as a
    /// parameter, or as a key of the TypedDict its `**options` unpacks.
    fn python_takes(&self, sig: &str, cell: &str) -> bool {
        const UNPACK: &str = "**options: Unpack[";
        if sig.contains(&format!(" {cell}:")) {
            return true;
        }
        let Some(at) = sig.find(UNPACK) else {
            return false;
        };
        let dict = &sig[at + UNPACK.len()..];
        let dict = &dict[..dict.find(']').unwrap_or(dict.len())];
        spans(
            &self.py_options,
            &format!("\nclass {dict}("),
            "\n\n\nclass ",
        )
        .iter()
        .any(|body| body.contains(&format!("\n    {cell}: ")))
    }

    /// Whether front end `front` (an index into FRONT_ENDS) takes `cell` for the operation
    /// whose names in each front end are `names`.
    fn takes(&self, front: usize, cell: &str, names: &[String]) -> bool {
        let split = |i: usize| names[i].split(", ").collect::<Vec<_>>();
        match front {
            0 => cli_has(&format!("{} {cell}", names[0])),
            1 => {
                let sigs: Vec<&str> = split(1)
                    .iter()
                    .flat_map(|f| spans(&self.header, &format!("portpool_status {f}("), ");"))
                    .collect();
                param_of(cell, &sigs)
                    .unwrap_or_else(|| field_of(cell, &self.header, "struct ", &[";"]))
            }
            2 => {
                let sigs: Vec<&str> = split(2)
                    .iter()
                    .flat_map(|f| {
                        let mut s = spans(&self.go, &format!("func (r *Registry) {f}("), "{");
                        s.extend(spans(&self.go, &format!("func {f}("), "{"));
                        s
                    })
                    .collect();
                param_of(cell, &sigs)
                    .unwrap_or_else(|| self.go.contains(&format!("\nfunc {cell}(")))
            }
            3 => {
                let sigs: Vec<&str> = split(3)
                    .iter()
                    .flat_map(|f| {
                        let mut s = spans(&self.stub, &format!("def {f}("), ") ->");
                        s.extend(spans(&self.stub, &format!("def {f}_async("), ") ->"));
                        s
                    })
                    .collect();
                !sigs.is_empty() && sigs.iter().all(|sig| self.python_takes(sig, cell))
            }
            _ => {
                let sigs: Vec<&str> = split(4)
                    .iter()
                    .flat_map(|f| spans(&self.node, &format!(" {f}("), "\n"))
                    .collect();
                param_of(cell, &sigs).unwrap_or_else(|| {
                    field_of(cell, &self.node, "export interface ", &["?:", ":"])
                })
            }
        }
    }
}

#[test]
fn every_front_end_takes_every_option_of_the_table() {
    let ops: std::collections::BTreeMap<String, Vec<String>> = table().rows.into_iter().collect();
    let fronts = Fronts::read();
    let mut missing = Vec::new();
    for row in options_table() {
        let Some(names) = ops.get(&row.op) else {
            missing.push(format!("{}: not an operation of operations.tsv", row.op));
            continue;
        };
        // The CLI is checked on the subcommand's words, without the operation's own flags.
        let words: Vec<&str> = names[0]
            .split_whitespace()
            .filter(|w| !w.starts_with('-'))
            .collect();
        let names: Vec<String> = std::iter::once(words.join(" "))
            .chain(names[1..].iter().cloned())
            .collect();
        for (front, cell) in row.cells.iter().enumerate() {
            let label = format!("{} {}: {} {cell:?}", row.op, row.option, FRONT_ENDS[front]);
            if cell == "-" {
                if row.why.trim().is_empty() {
                    missing.push(format!("{label} without a why"));
                }
            } else if !fronts.takes(front, cell, &names) {
                missing.push(format!("{label} is missing"));
            }
        }
    }
    assert!(
        missing.is_empty(),
        "front ends behind the options table:\n{}",
        missing.join("\n")
    );
}

/// Writes `wanted` to `path` under PORTPOOL_BLESS, else fails when `current` differs.
fn blessed(path: &str, current: &str, wanted: &str, whole: &str) {
    if current == wanted {
        return;
    }
    if std::env::var_os("PORTPOOL_BLESS").is_some() {
        fs::write(repo().join(path), whole).unwrap();
    } else {
        panic!("{path} differs from tests/parity/options.tsv; rerun with PORTPOOL_BLESS=1");
    }
}

/// Checks that the file at `path` is exactly `wanted`, or writes it under PORTPOOL_BLESS.
fn generated_file(path: &str, wanted: &str) {
    let current = fs::read_to_string(repo().join(path)).unwrap_or_default();
    blessed(path, &current, wanted, wanted);
}

fn generated_go_table() -> String {
    let ops: Vec<(String, Vec<String>)> = table().rows;
    let options = options_table();
    let mut out = String::from(
        "// Code generated from tests/parity/options.tsv by cli/tests/parity/main.rs; DO NOT EDIT.\n\
         // PORTPOOL_BLESS=1 cargo test -p portpool-cli --test parity regenerates it.\n\n\
         //go:build cgo\n\n\
         package portpool\n\n\
         // allowedOptions is, per call, the options its operation takes in the table.\n\
         var allowedOptions = map[string]optionSet{\n",
    );
    let mut lines = Vec::new();
    for (op, names) in &ops {
        let with: Vec<String> = options
            .iter()
            .filter(|o| &o.op == op && o.cells[2].starts_with("With"))
            .map(|o| format!("{:?}", o.cells[2]))
            .collect();
        if with.is_empty() {
            continue;
        }
        for call in names[2].split(", ") {
            lines.push((format!("{call:?}:"), with.join(", ")));
        }
    }
    // Keys padded as gofmt aligns them.
    let width = lines.iter().map(|(key, _)| key.len()).max().unwrap_or(0);
    for (key, with) in lines {
        out.push_str(&format!("\t{key:width$} optionsNamed({with}),\n"));
    }
    out.push_str("}\n");
    out
}

#[test]
fn gos_allowed_option_sets_are_generated_from_the_table() {
    generated_file(GO_TABLE, &generated_go_table());
}

fn generated_options_table() -> String {
    let mut out = format!(
        "{OPTIONS_BEGIN}\n\n| core | option | {} |\n|",
        FRONT_ENDS.join(" | ")
    );
    for _ in 0..=FRONT_ENDS.len() + 1 {
        out.push_str("---|");
    }
    out.push('\n');
    for row in options_table() {
        let cells: Vec<String> = row
            .cells
            .iter()
            .map(|c| {
                if c == "-" {
                    "—".to_owned()
                } else {
                    format!("`{c}`")
                }
            })
            .collect();
        out.push_str(&format!(
            "| `{}` | `{}` | {} |\n",
            row.op,
            row.option,
            cells.join(" | ")
        ));
    }
    out.push('\n');
    out.push_str(OPTIONS_END);
    out
}

#[test]
fn readmes_options_table_is_generated_from_the_list() {
    let readme = read("README.md");
    let (Some(start), Some(end)) = (readme.find(OPTIONS_BEGIN), readme.find(OPTIONS_END)) else {
        panic!("README.md has no options table between {OPTIONS_BEGIN:?} and {OPTIONS_END:?}");
    };
    let current = &readme[start..end + OPTIONS_END.len()];
    let wanted = generated_options_table();
    blessed(
        "README.md",
        current,
        &wanted,
        &readme.replace(current, &wanted),
    );
}

/// Words of messages and rules that are core's, as front ends once wrote them themselves:
/// a count, backlog or lock timeout checked, a too-wide integer refused, who may claim a
/// process, an unnamed lease named, or a cancelled call undone, outside core.
const CORES_WORDS: &[&str] = &[
    "at least 1 port",
    "expected 0 or more",
    ": expected an integer",
    ": out of range\"",
    "invalid backlog",
    "invalid lock timeout",
    "/proc/{pid}/status",
    "portpicker:{",
    "get-port:${",
    "portserver:{pid}",
    // An undo that releases by name, whoever holds it now (core's Grant::undo checks).
    "releaseAsync(args[0])",
    "release_holding(",
];

/// Every file of a front end under `dir` (recursively) whose name ends in one of `suffixes`,
/// tests left out.
fn front_end_files(dir: &str, suffixes: &[&str], found: &mut Vec<PathBuf>) {
    for entry in fs::read_dir(repo().join(dir)).unwrap() {
        let path = entry.unwrap().path();
        let name = path.file_name().unwrap().to_string_lossy().into_owned();
        let relative = path
            .strip_prefix(repo())
            .unwrap()
            .to_string_lossy()
            .into_owned();
        if path.is_dir() && !["node_modules", "test", "tests"].contains(&name.as_str()) {
            front_end_files(&relative, suffixes, found);
        } else if suffixes.iter().any(|s| name.ends_with(s)) && !name.ends_with("_test.go") {
            found.push(path);
        }
    }
}

#[test]
fn no_front_end_words_a_rule_that_is_cores() {
    let mut files = Vec::new();
    for dir in [
        "cli/src",
        "ffi/src",
        "bindings/go",
        "bindings/python",
        "bindings/node",
    ] {
        front_end_files(
            dir,
            &[".rs", ".go", ".py", ".pyi", ".js", ".mjs", ".ts"],
            &mut files,
        );
    }
    assert!(
        files.len() > 40,
        "found only {} front-end files",
        files.len()
    );
    let mut found = Vec::new();
    for path in files {
        let text = fs::read_to_string(&path).unwrap();
        for words in CORES_WORDS {
            if text.contains(words) {
                found.push(format!("{}: {words:?}", path.display()));
            }
        }
    }
    assert!(
        found.is_empty(),
        "core's rules worded outside core:\n{}",
        found.join("\n")
    );
}
