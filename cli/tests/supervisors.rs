//! Supervisors on the command line: handover tickets, release --all, batches, namespaces.

mod common;

use common::*;
use std::path::Path;
use std::process::Command;

/// `portpool --registry REG ARGS...` with `$PORTPOOL_NAMESPACE` set to `ns`.
fn in_namespace(reg: &Path, ns: &str, args: &[&str]) -> String {
    let out = Command::new(env!("CARGO_BIN_EXE_portpool"))
        .arg("--registry")
        .arg(reg)
        .args(args)
        .env_remove("PORTPOOL_REGISTRY")
        .env("PORTPOOL_NAMESPACE", ns)
        .output()
        .unwrap();
    assert!(out.status.success(), "{args:?}: {}", stderr(&out));
    stdout(&out).trim_end().to_owned()
}

fn json(text: &str) -> serde_json::Value {
    serde_json::from_str(text).unwrap()
}

#[test]
fn a_second_begin_is_a_conflict_naming_the_ticket_unless_retried_or_superseded() {
    let s = scratch();
    ok(&s.path, &["allocate", "api"]);
    let first = json(&ok(&s.path, &["handover", "api", "--json"]));
    assert_eq!(
        (first["ticket"].as_u64(), first["created"].as_bool()),
        (Some(1), Some(true))
    );
    let err = fails(&s.path, &["handover", "api"], 3);
    assert!(err.contains("ticket 1"), "{err}");
    let again = json(&ok(
        &s.path,
        &["handover", "api", "--ticket", "1", "--json"],
    ));
    assert_eq!(
        (&again["port"], again["created"].as_bool()),
        (&first["port"], Some(false))
    );
    let newer = json(&ok(&s.path, &["handover", "api", "--supersede", "--json"]));
    assert_eq!(newer["ticket"].as_u64(), Some(2));
    let err = fails(
        &s.path,
        &["handover", "api", "--commit", "--ticket", "1"],
        3,
    );
    assert!(err.contains("nothing was changed"), "{err}");
    let port = ok(&s.path, &["handover", "api", "--commit", "--ticket", "2"]);
    assert_eq!(port, newer["port"].to_string());
}

#[test]
fn release_with_a_pending_handover_is_a_conflict_unless_all() {
    let s = scratch();
    ok(&s.path, &["allocate", "api"]);
    ok(&s.path, &["handover", "api"]);
    let err = fails(&s.path, &["release", "api"], 3);
    assert!(err.contains("commit or abort"), "{err}");
    assert_eq!(ok(&s.path, &["release", "--all", "api"]), "released api");
    assert!(leases(&s.path).is_empty());
}

#[test]
fn handovers_begin_and_commit_several_names_in_one_change() {
    let s = scratch();
    ok(&s.path, &["allocate", "w-1", "w-2"]);
    let begun = ok(&s.path, &["handovers", "w-1", "w-2"]);
    let lines: Vec<Vec<&str>> = begun.lines().map(|l| l.split(' ').collect()).collect();
    assert_eq!(lines.len(), 2, "{begun}");
    assert_eq!((lines[0][0], lines[0][2]), ("w-1", "1"));
    fails(&s.path, &["handovers", "w-1", "w-2"], 3);
    fails(&s.path, &["handovers", "--commit", "w-1=1", "w-2=9"], 3);
    assert!(leases(&s.path).iter().all(|l| !l["next"].is_null()));
    let committed = ok(&s.path, &["handovers", "--commit", "w-1=1", "w-2=1"]);
    assert_eq!(
        committed,
        format!("w-1 {}\nw-2 {}", lines[0][1], lines[1][1])
    );
    fails(&s.path, &["handovers", "--abort", "w-1=x"], 2);
}

#[test]
fn a_namespace_keeps_its_names_apart_and_list_all_namespaces_shows_every_one() {
    let s = scratch();
    let a = ok(&s.path, &["--namespace", "blue", "allocate", "worker-1"]);
    let b = in_namespace(&s.path, "green", &["allocate", "worker-1"]);
    assert_ne!(a, b);
    assert_eq!(ok(&s.path, &["--namespace", "blue", "get", "worker-1"]), a);
    assert_eq!(in_namespace(&s.path, "green", &["get", "worker-1"]), b);
    fails(&s.path, &["get", "worker-1"], 1);
    let blue: Vec<serde_json::Value> =
        serde_json::from_str(&ok(&s.path, &["--namespace", "blue", "list", "--json"])).unwrap();
    assert_eq!(blue.len(), 1);
    assert_eq!(blue[0]["namespace"], "blue");
    let all = ok(&s.path, &["list", "--all-namespaces"]);
    assert!(all.lines().next().unwrap().ends_with("NAMESPACE"), "{all}");
    assert_eq!(all.lines().count(), 3, "{all}");
    let out = pp(&s.path, &["check", &a]);
    assert!(
        stdout(&out).contains("leased to worker-1 (namespace blue)"),
        "{}",
        stdout(&out)
    );
    let err = fails(&s.path, &["--namespace", "a b", "list"], 2);
    assert!(err.contains("namespace"), "{err}");
}
