//! Every front end offers every operation of core: the list in tests/parity/operations.tsv is
//! checked against core's source (both ways), the command line (its help), the C header, the
//! Go package, the Python stubs and modules, and the Node typings. README's operations table
//! is generated from the same list (`PORTPOOL_BLESS=1 cargo test -p portpool-cli --test
//! parity` rewrites it).

use std::collections::BTreeSet;
use std::fs;
use std::path::{Path, PathBuf};
use std::process::Command;

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
    let mut files = Vec::new();
    let mut dirs = vec![repo().join("core/src")];
    while let Some(dir) = dirs.pop() {
        for entry in fs::read_dir(dir).unwrap() {
            let path = entry.unwrap().path();
            if path.is_dir() {
                dirs.push(path);
            } else {
                files.push(path);
            }
        }
    }
    for file in files {
        let text = fs::read_to_string(file).unwrap();
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
