//! Core's layers, read from its own source: every module sits on a floor, imports only from
//! its own floor or those below, and no group of modules imports itself round in a circle.
//! The storage floor (`store/`: model, format, journal, the `Storage` trait) knows nothing of
//! the rules above it, nor of the host's setup.

use std::collections::{BTreeMap, BTreeSet};
use std::fs;
use std::path::{Path, PathBuf};

/// Core's floors, lowest first, and the top-level modules on each. A module missing here fails
/// the test: a new file says where it stands.
const FLOORS: &[(&str, &[&str])] = &[
    ("base", &["error", "sys", "notice", "wait", "account"]),
    ("values", &["spelled", "validate", "paths"]),
    ("storage", &["store"]),
    (
        "rules",
        &[
            "owner",
            "ownership",
            "probe",
            "sockets",
            "registry",
            "choose",
            "allocation",
            "handover",
            "scoped",
            "listen",
            "inspect",
            "import",
            "reserved",
        ],
    ),
    ("host", &["host"]),
];

/// A module of core, as the path of names from the crate's root (`["store", "journal"]`).
type ModPath = Vec<String>;

fn src() -> PathBuf {
    Path::new(env!("CARGO_MANIFEST_DIR")).join("src")
}

/// Every source file of core with the module it defines.
fn modules(dir: &Path, prefix: &[String], out: &mut BTreeMap<ModPath, String>) {
    for entry in fs::read_dir(dir).unwrap() {
        let path = entry.unwrap().path();
        let stem = path.file_stem().unwrap().to_string_lossy().into_owned();
        if path.is_dir() {
            let mut inner = prefix.to_vec();
            inner.push(stem);
            modules(&path, &inner, out);
        } else if path.extension().is_some_and(|e| e == "rs") {
            let mut module = prefix.to_vec();
            if stem != "mod" && stem != "lib" {
                module.push(stem);
            }
            out.insert(
                module,
                without_tests(&strip(&fs::read_to_string(&path).unwrap())),
            );
        }
    }
}

/// The source without comments (doc links are not imports) and without string literals.
fn strip(text: &str) -> String {
    let mut out = String::with_capacity(text.len());
    let b = text.as_bytes();
    let mut i = 0;
    while i < b.len() {
        if b[i..].starts_with(b"//") {
            while i < b.len() && b[i] != b'\n' {
                i += 1;
            }
        } else if b[i..].starts_with(b"/*") {
            let end = text[i + 2..].find("*/").map_or(b.len(), |e| i + 2 + e + 2);
            i = end;
        } else if let Some(len) = raw_string_at(&b[i..]) {
            i += len;
            out.push_str("\"\"");
        } else if b[i] == b'\'' && (b.get(i + 2) == Some(&b'\'') || b.get(i + 1) == Some(&b'\\')) {
            // A character literal ('{', '"', '\n'): skipped whole.
            let end = text[i + 1..].find('\'').map_or(b.len(), |e| i + 1 + e + 1);
            i = end.max(i + 3);
        } else if b[i] == b'"' {
            i += 1;
            while i < b.len() && b[i] != b'"' {
                i += if b[i] == b'\\' { 2 } else { 1 };
            }
            i += 1;
            out.push_str("\"\"");
        } else {
            out.push(b[i] as char);
            i += 1;
        }
    }
    out
}

/// The length of the raw string literal (`r"…"`, `br#"…"#`) that `b` starts with, if any.
fn raw_string_at(b: &[u8]) -> Option<usize> {
    let start = usize::from(b.first() == Some(&b'b'));
    if b.get(start) != Some(&b'r') {
        return None;
    }
    let hashes = b[start + 1..].iter().take_while(|c| **c == b'#').count();
    let open = start + 1 + hashes;
    if b.get(open) != Some(&b'"') {
        return None;
    }
    let mut close = vec![b'"'];
    close.extend(std::iter::repeat_n(b'#', hashes));
    let end = b[open + 1..]
        .windows(close.len())
        .position(|w| w == close.as_slice())?;
    Some(open + 1 + end + close.len())
}

/// The source without its `#[cfg(test)]` items: a unit test may use any part of core.
fn without_tests(text: &str) -> String {
    let mut out = text.to_owned();
    while let Some(at) = out.find("#[cfg(test)]") {
        let Some(open) = out[at..].find(['{', ';']).map(|o| at + o) else {
            break;
        };
        let mut end = open + 1;
        if out.as_bytes()[open] == b'{' {
            let mut depth = 1;
            while end < out.len() && depth > 0 {
                match out.as_bytes()[end] {
                    b'{' => depth += 1,
                    b'}' => depth -= 1,
                    _ => {}
                }
                end += 1;
            }
        }
        out.replace_range(at..end, "");
    }
    out
}

/// The paths a use tree starting at `text` names, each as its list of names; `text` starts
/// just after a leading `crate::`, `super::` or `self::`.
fn use_tree(text: &str) -> Vec<Vec<String>> {
    fn tree(chars: &[char], i: &mut usize) -> Vec<Vec<String>> {
        let skip = |i: &mut usize| {
            while *i < chars.len() && chars[*i].is_whitespace() {
                *i += 1;
            }
        };
        skip(i);
        if chars.get(*i) == Some(&'{') {
            *i += 1;
            let mut all = Vec::new();
            loop {
                skip(i);
                match chars.get(*i) {
                    None => return all,
                    Some('}') => {
                        *i += 1;
                        return all;
                    }
                    Some(',') => *i += 1,
                    _ => all.extend(tree(chars, i)),
                }
            }
        }
        let start = *i;
        while *i < chars.len() && (chars[*i].is_alphanumeric() || chars[*i] == '_') {
            *i += 1;
        }
        let name: String = chars[start..*i].iter().collect();
        if name.is_empty() {
            *i += 1;
            return vec![];
        }
        skip(i);
        if chars[*i..].starts_with(&[':', ':']) {
            *i += 2;
            let rest = tree(chars, i);
            if rest.is_empty() {
                return vec![vec![name]];
            }
            return rest
                .into_iter()
                .map(|mut p| {
                    p.insert(0, name.clone());
                    p
                })
                .collect();
        }
        vec![vec![name]]
    }
    let chars: Vec<char> = text.chars().take(2000).collect();
    tree(&chars, &mut 0)
}

/// The modules `module`'s source names, as paths from the crate's root.
fn imports(module: &ModPath, text: &str, exports: &BTreeMap<String, String>) -> BTreeSet<ModPath> {
    let mut found = BTreeSet::new();
    for anchor in ["crate::", "super::", "self::"] {
        let mut from = 0;
        while let Some(at) = text[from..].find(anchor) {
            let at = from + at;
            from = at + anchor.len();
            let before = text[..at].chars().last().unwrap_or(' ');
            if before.is_alphanumeric() || before == '_' || (before == ':' && anchor != "super::") {
                continue;
            }
            let mut base = match anchor {
                "crate::" => vec![],
                "super::" => module[..module.len().saturating_sub(1)].to_vec(),
                _ => module.clone(),
            };
            // super::super:: and friends.
            let mut rest = &text[from..];
            while let Some(r) = rest.strip_prefix("super::") {
                base.pop();
                rest = r;
            }
            for path in use_tree(rest) {
                let mut full = base.clone();
                full.extend(path);
                if let Some(module) = full.first().and_then(|name| exports.get(name)) {
                    full = vec![module.clone()];
                }
                found.insert(full);
            }
        }
    }
    found
}

/// The module a path lands in: its longest prefix that is a module of core.
fn owner_of(path: &[String], all: &BTreeMap<ModPath, String>) -> ModPath {
    (0..=path.len())
        .rev()
        .map(|n| path[..n].to_vec())
        .find(|p| all.contains_key(p))
        .unwrap_or_default()
}

/// The unit the circle check works on: a top-level module, except under `store/`, where each
/// part (format, model, journal, the trait beside them) is its own.
fn unit(module: &ModPath) -> String {
    match module.as_slice() {
        [] => "lib".into(),
        [top, part, ..] if top == "store" => format!("store::{part}"),
        [top, ..] => top.clone(),
    }
}

fn floor_of(module: &ModPath) -> Option<(usize, &'static str)> {
    let top = module.first()?;
    FLOORS
        .iter()
        .enumerate()
        .find(|(_, (_, names))| names.contains(&top.as_str()))
        .map(|(n, (name, _))| (n, *name))
}

/// Every import between units of core: (from, to) → one place that shows it.
fn graph() -> BTreeMap<(ModPath, ModPath), ()> {
    let mut all = BTreeMap::new();
    modules(&src(), &[], &mut all);
    // Names the crate's root re-exports (`crate::Registry`), with the module they come from.
    let mut exports = BTreeMap::new();
    for path in imports(
        &vec![],
        &all[&vec![]].replace("pub use ", "pub use crate::"),
        &BTreeMap::new(),
    ) {
        if path.len() >= 2 {
            exports.insert(path.last().unwrap().clone(), path[0].clone());
        }
    }
    let mut edges = BTreeMap::new();
    for (module, text) in &all {
        if module.is_empty() {
            continue;
        }
        for path in imports(module, text, &exports) {
            let to = owner_of(&path, &all);
            if to != *module {
                edges.insert((module.clone(), to), ());
            }
        }
    }
    edges
}

#[test]
fn every_module_of_core_stands_on_a_floor() {
    let mut all = BTreeMap::new();
    modules(&src(), &[], &mut all);
    let lost: Vec<_> = all
        .keys()
        .filter(|m| !m.is_empty() && floor_of(m).is_none())
        .map(|m| m.join("::"))
        .collect();
    assert!(
        lost.is_empty(),
        "modules on no floor of tests/layers.rs: {lost:?}"
    );
}

#[test]
fn no_module_of_core_imports_from_a_floor_above_it() {
    let mut upward = Vec::new();
    for (from, to) in graph().keys() {
        let (Some((f, fname)), Some((t, tname))) = (floor_of(from), floor_of(to)) else {
            continue;
        };
        if t > f {
            upward.push(format!(
                "{} ({fname}) imports {} ({tname})",
                from.join("::"),
                to.join("::")
            ));
        }
    }
    assert!(
        upward.is_empty(),
        "imports running up:\n{}",
        upward.join("\n")
    );
}

#[test]
fn the_storage_layer_imports_nothing_of_the_rules_or_the_host_setup() {
    let storage = FLOORS.iter().position(|(n, _)| *n == "storage").unwrap();
    let bad: Vec<_> = graph()
        .keys()
        .filter(|(from, to)| {
            floor_of(from).is_some_and(|(f, _)| f == storage)
                && floor_of(to).is_none_or(|(t, _)| t > storage)
        })
        .map(|(from, to)| format!("{} imports {}", from.join("::"), to.join("::")))
        .collect();
    assert!(bad.is_empty(), "{}", bad.join("\n"));
}

#[test]
fn core_has_no_import_cycle() {
    let mut next: BTreeMap<String, BTreeSet<String>> = BTreeMap::new();
    for (from, to) in graph().keys() {
        let (a, b) = (unit(from), unit(to));
        if a != b && !from.is_empty() {
            next.entry(a).or_default().insert(b);
        }
    }
    // Each unit that reaches itself, with the circle found from it.
    let mut circles = BTreeSet::new();
    for start in next.keys() {
        let mut stack = vec![(start.clone(), vec![start.clone()])];
        let mut seen = BTreeSet::new();
        while let Some((at, trail)) = stack.pop() {
            for to in next.get(&at).into_iter().flatten() {
                if to == start {
                    let mut circle = trail.clone();
                    circle.push(start.clone());
                    circles.insert(circle.join(" → "));
                } else if seen.insert(to.clone()) {
                    let mut longer = trail.clone();
                    longer.push(to.clone());
                    stack.push((to.clone(), longer));
                }
            }
        }
    }
    assert!(
        circles.is_empty(),
        "import circles:\n{}",
        circles.into_iter().collect::<Vec<_>>().join("\n")
    );
}

#[test]
fn the_import_reader_sees_nested_trees_and_skips_comments_strings_and_unit_tests() {
    let source = r##"
        use crate::{registry::Registry, store::{model::Data, format}};
        // use crate::host::init_host;
        /* crate::inspect */
        const S: &str = "crate::listen";
        const R: &str = r#"crate::scoped "quoted""#;
        const C: char = '{';
        fn f() { super::journal::x(); crate::owner::owner_of(1); }
        #[cfg(test)]
        mod tests { use crate::probe::is_free; const D: char = '}'; }
        fn g() { crate::choose::choose(); }
    "##;
    let module = vec!["store".to_owned(), "v1".to_owned()];
    let found: BTreeSet<String> =
        imports(&module, &without_tests(&strip(source)), &BTreeMap::new())
            .into_iter()
            .map(|p| p.join("::"))
            .collect();
    let want: BTreeSet<String> = [
        "registry::Registry",
        "store::model::Data",
        "store::format",
        "store::journal::x",
        "owner::owner_of",
        "choose::choose",
    ]
    .into_iter()
    .map(str::to_owned)
    .collect();
    assert_eq!(found, want);
}
