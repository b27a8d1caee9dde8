//! I/O fault injection, as SQLite tests it: over a scripted sequence of changes, each
//! `write`, `fdatasync`, `fsync`, `rename`, `renameat2` and `ftruncate` the store makes
//! fails in turn (EIO, then ENOSPC), one failure per run, through the test builds'
//! `PORTPOOL_TEST_FAULT` hook. After each run: no acknowledged change is lost, no change that
//! failed was reported done, and the file reads back (or is refused naming `portpool
//! repair`, after which it reads back).

mod common;

use common::*;
use std::collections::BTreeMap;
use std::fs;
use std::path::Path;
use std::process::{Command, Output};

const CALLS: [&str; 6] = [
    "write",
    "fdatasync",
    "fsync",
    "rename",
    "renameat2",
    "ftruncate",
];

/// A port free now.
fn port() -> u16 {
    std::net::TcpListener::bind("127.0.0.1:0")
        .unwrap()
        .local_addr()
        .unwrap()
        .port()
}

fn portpool(reg: &Path, args: &[String], fault: Option<&str>) -> Output {
    let mut cmd = Command::new(BIN);
    cmd.arg("--registry")
        .arg(reg)
        .args(args)
        .env_remove("PORTPOOL_REGISTRY")
        .env_remove("PORTPOOL_TEST_PAUSE")
        .env_remove("PORTPOOL_TEST_FAULT");
    if let Some(fault) = fault {
        cmd.env("PORTPOOL_TEST_FAULT", fault);
    }
    cmd.output().unwrap()
}

/// One step of the script, and what it does to each lease name when it succeeds.
enum Step {
    Run(Vec<String>, Vec<(&'static str, bool)>),
    /// A reset: every lease gone.
    Reset,
    /// A torn append left by a killed writer (not a command: no fault).
    Tear,
}

/// What is known of each lease: present, absent, or unknown (a change that failed).
type Known = BTreeMap<&'static str, Option<bool>>;

fn script(ports: &[u16]) -> Vec<Step> {
    let args = |v: &[&str]| v.iter().map(|s| s.to_string()).collect::<Vec<_>>();
    let p = |i: usize| ports[i].to_string();
    vec![
        Step::Run(
            args(&["repair"]),
            vec![("web", true), ("old1", false), ("old2", true)],
        ),
        Step::Tear,
        Step::Run(args(&["register", "a", &p(3)]), vec![("a", true)]),
        Step::Run(
            args(&["register", "b", &p(4), "--pid", "1"]),
            vec![("b", true)],
        ),
        Step::Run(args(&["release", "a"]), vec![("a", false)]),
        Step::Reset,
        Step::Run(args(&["register", "c", &p(5)]), vec![("c", true)]),
    ]
}

/// A registry holding web, old1 and old2, with old1's line lost to a block of NUL bytes:
/// damage that the script's first step repairs.
fn damaged_base(reg: &Path, ports: &[u16]) {
    for (i, name) in ["web", "old1", "old2"].iter().enumerate() {
        ok(reg, &["register", name, &ports[i].to_string()]);
    }
    let mut bytes = fs::read(reg).unwrap();
    let at = bytes.windows(6).position(|w| w == b"\"old1\"").unwrap();
    bytes[at..at + 12].fill(0);
    fs::write(reg, bytes).unwrap();
}

/// Runs the script with `fault` on step `faulty`; returns what is known after it, and
/// whether the faulty step failed.
fn run_script(reg: &Path, ports: &[u16], faulty: usize, fault: &str) -> (Known, bool) {
    let mut failed = false;
    let mut known: Known = ["web", "old1", "old2", "a", "b", "c"]
        .into_iter()
        .map(|n| (n, None))
        .collect();
    for (i, step) in script(ports).into_iter().enumerate() {
        let fault = (i == faulty).then_some(fault);
        let (args, effects) = match step {
            Step::Tear => {
                let mut file = fs::OpenOptions::new().append(true).open(reg).unwrap();
                std::io::Write::write_all(&mut file, b"{\"leases\":[{\"na").unwrap();
                continue;
            }
            Step::Reset => (vec!["reset".into(), "--yes".into()], Vec::new()),
            Step::Run(args, effects) => (args, effects),
        };
        let reset = args[0] == "reset";
        let out = portpool(reg, &args, fault);
        let ok = out.status.success();
        if !ok {
            let err = stderr(&out);
            assert!(
                err.starts_with("portpool: ") && err.lines().count() == 1,
                "{fault:?} {args:?}: {err:?}"
            );
            if fault.is_some() {
                failed = true;
                assert!(
                    matches!(out.status.code(), Some(5 | 6)),
                    "{fault:?} {args:?}: {err}"
                );
            }
        }
        for value in known.values_mut().filter(|_| reset) {
            *value = ok.then_some(false);
        }
        for (name, present) in effects {
            let value = known.get_mut(name).unwrap();
            *value = ok.then_some(present);
            if args[0] == "repair" && !ok {
                // The file stays as it was: nothing is known until a repair succeeds.
                *value = None;
            }
        }
    }
    (known, failed)
}

fn check(reg: &Path, known: &Known, what: &str) {
    let mut listed = portpool(reg, &["list".into(), "--json".into()], None);
    if !listed.status.success() {
        let err = stderr(&listed);
        assert!(err.contains("portpool repair"), "{what}: {err}");
        let repaired = portpool(reg, &["repair".into()], None);
        assert!(repaired.status.success(), "{what}: {}", stderr(&repaired));
        listed = portpool(reg, &["list".into(), "--json".into()], None);
        assert!(listed.status.success(), "{what}: {}", stderr(&listed));
    }
    let leases: Vec<serde_json::Value> = serde_json::from_slice(&listed.stdout).unwrap();
    let names: Vec<&str> = leases.iter().map(|l| l["name"].as_str().unwrap()).collect();
    for (name, present) in known {
        if let Some(present) = present {
            assert_eq!(
                names.contains(name),
                *present,
                "{what}: {name} should be {}: {names:?}",
                if *present { "there" } else { "gone" }
            );
        }
    }
}

#[test]
fn each_failing_write_sync_rename_and_truncate_is_reported_and_loses_no_acknowledged_change() {
    let ports: Vec<u16> = (0..6).map(|_| port()).collect();
    let steps = script(&ports).len();
    let mut fired = BTreeMap::new();
    for call in CALLS {
        for errno in [libc::EIO, libc::ENOSPC] {
            for faulty in 0..steps {
                for nth in 1..=2 {
                    let s = scratch();
                    damaged_base(&s.path, &ports);
                    let fault = format!("{call}:{nth}:{errno}");
                    let (known, failed) = run_script(&s.path, &ports, faulty, &fault);
                    let what = format!("{fault} at step {faulty}");
                    check(&s.path, &known, &what);
                    if failed {
                        *fired.entry(call).or_insert(0) += 1;
                    }
                }
            }
        }
    }
    // Every kind of call the store makes failed somewhere in the script.
    for call in CALLS {
        assert!(
            fired.get(call).is_some_and(|n| *n > 0),
            "{call} never failed: {fired:?}"
        );
    }
}

/// `portpool ARGS` as user nobody, with `fault` planted.
fn as_nobody(reg: &Path, args: &[&str], fault: Option<&str>) -> Output {
    let mut cmd = Command::new("setpriv");
    cmd.args([
        "--reuid=65534",
        "--regid=65534",
        "--clear-groups",
        BIN,
        "--registry",
    ])
    .arg(reg)
    .args(args)
    .env_remove("PORTPOOL_REGISTRY")
    .env_remove("PORTPOOL_TEST_PAUSE")
    .env_remove("PORTPOOL_TEST_FAULT");
    if let Some(fault) = fault {
        cmd.env("PORTPOOL_TEST_FAULT", fault);
    }
    cmd.output().unwrap()
}

#[test]
fn each_failing_call_of_a_compaction_in_place_loses_nothing_and_the_next_writer_goes_on() {
    use std::os::unix::fs::PermissionsExt;
    // SAFETY: geteuid has no preconditions.
    if unsafe { libc::geteuid() } != 0 {
        return; // Needs root to become another user.
    }
    let (p, q, r) = (port().to_string(), port().to_string(), port().to_string());
    let mut fired = 0;
    for call in ["write", "fdatasync", "fsync", "ftruncate"] {
        for errno in [libc::EIO, libc::ENOSPC] {
            for nth in 1..=4 {
                // Root's registry in a sticky directory, others may write it, with a spare and
                // a tail long enough that a member's next change compacts it in place.
                let s = scratch();
                fs::set_permissions(s.dir.path(), fs::Permissions::from_mode(0o1777)).unwrap();
                ok(&s.path, &["register", "web", &p]);
                let mut bytes = fs::read(&s.path).unwrap();
                for _ in 0..300 {
                    bytes.extend_from_slice(b"{\"cursors\":{\"default\":9000}}\n");
                }
                fs::write(&s.path, &bytes).unwrap();
                let spare = s.dir.path().join(".registry.json.spare");
                fs::write(&spare, b"").unwrap();
                for path in [&s.path, &spare, &s.dir.path().join("registry.json.lock")] {
                    fs::set_permissions(path, fs::Permissions::from_mode(0o666)).unwrap();
                }
                let fault = format!("{call}:{nth}:{errno}");
                let out = as_nobody(
                    &s.path,
                    &["register", "api", &q, "--pid", "1"],
                    Some(&fault),
                );
                let acknowledged = out.status.success();
                if !acknowledged {
                    fired += 1;
                    let err = stderr(&out);
                    assert!(
                        err.starts_with("portpool: ") && err.lines().count() == 1,
                        "{fault}: {err}"
                    );
                }
                // Readers see the whole registry; the next member's change goes on.
                assert_eq!(ok(&s.path, &["get", "web"]), p, "{fault}");
                let next = as_nobody(&s.path, &["register", "next", &r, "--pid", "1"], None);
                assert!(next.status.success(), "{fault}: {}", stderr(&next));
                let text = fs::read_to_string(&s.path).unwrap();
                assert!(!text.contains("copying"), "{fault}: the copy was finished");
                assert_eq!(ok(&s.path, &["get", "web"]), p, "{fault}");
                assert_eq!(ok(&s.path, &["get", "next"]), r, "{fault}");
                if acknowledged {
                    assert_eq!(ok(&s.path, &["get", "api"]), q, "{fault}");
                }
            }
        }
    }
    assert!(fired > 0, "no fault ever fired");
}
