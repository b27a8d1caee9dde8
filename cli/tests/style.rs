//! What makes the command line feel native: one-line usage errors that name what is wrong,
//! completions and a man page from the same definitions, and one JSON style for every
//! `--json` output.

mod common;

use common::*;
use std::process::Command;

/// Runs `portpool ARGS` (no --registry), expecting a usage error; returns its one line.
fn usage_error(args: &[&str]) -> String {
    let out = Command::new(BIN)
        .args(args)
        .env_remove("PORTPOOL_REGISTRY")
        .output()
        .unwrap();
    assert_eq!(out.status.code(), Some(2), "{args:?}: {}", stderr(&out));
    assert!(out.stdout.is_empty(), "{args:?}: {}", stdout(&out));
    let err = stderr(&out);
    assert!(
        err.starts_with("portpool: ") && err.lines().count() == 1,
        "{args:?}: {err:?}"
    );
    err
}

#[test]
fn a_missing_argument_is_named_with_the_subcommands_usage_and_help() {
    let err = usage_error(&["register", "web"]);
    assert!(err.contains("not provided: <PORTS>"), "{err}");
    assert!(
        err.contains("usage: portpool register <NAME> <PORTS> [MODE]"),
        "{err}"
    );
    assert!(err.contains("see 'portpool register --help'"), "{err}");
    let err = usage_error(&["pool", "set", "web"]);
    assert!(err.contains("<START> <END>"), "{err}");
    assert!(err.contains("see 'portpool pool set --help'"), "{err}");
}

#[test]
fn a_typo_gets_clap_s_suggestion() {
    let err = usage_error(&["regster", "web", "8080"]);
    assert!(err.contains("unrecognized subcommand 'regster'"), "{err}");
    assert!(err.contains("'register'"), "{err}");
    let err = usage_error(&["list", "--jsn"]);
    assert!(err.contains("did you mean '--json'?"), "{err}");
    assert!(err.contains("see 'portpool list --help'"), "{err}");
    let err = usage_error(&["pool", "sett"]);
    assert!(err.contains("did you mean 'set'?"), "{err}");
}

#[test]
fn a_bad_value_or_a_missing_command_names_what_is_wrong() {
    let err = usage_error(&["register", "web", "8080", "--pid", "abc"]);
    assert!(
        err.contains("invalid value 'abc' for '--pid <PID>'"),
        "{err}"
    );
    assert!(err.contains("see 'portpool register --help'"), "{err}");
    let err = usage_error(&[]);
    assert!(
        err.contains("a command is required: one of register, get,"),
        "{err}"
    );
    let err = usage_error(&["--registry", "/nonexistent/r.json", "pool"]);
    assert!(err.contains("one of set, list"), "{err}");
    assert!(err.contains("see 'portpool pool --help'"), "{err}");
}

#[test]
fn completions_are_generated_for_bash_zsh_and_fish() {
    for (shell, marker) in [
        ("bash", "complete -F"),
        ("zsh", "#compdef portpool"),
        ("fish", "complete -c portpool"),
    ] {
        let out = Command::new(BIN)
            .args(["completions", shell])
            .output()
            .unwrap();
        assert!(out.status.success(), "{shell}: {}", stderr(&out));
        let script = stdout(&out);
        assert!(script.contains(marker), "{shell}");
        for word in ["register", "allocate", "handover", "registry"] {
            assert!(script.contains(word), "{shell} completes {word}");
        }
    }
    // The bash script is valid bash.
    let bash = Command::new(BIN)
        .args(["completions", "bash"])
        .output()
        .unwrap();
    let check = Command::new("bash")
        .args(["-n", "-c", &stdout(&bash)])
        .output()
        .unwrap();
    assert!(check.status.success(), "{}", stderr(&check));
    assert!(usage_error(&["completions", "tcsh"]).contains("possible values"));
}

#[test]
fn the_man_pages_come_from_the_same_definitions() {
    let out = Command::new(BIN).arg("man").output().unwrap();
    assert!(out.status.success(), "{}", stderr(&out));
    let page = stdout(&out);
    assert!(
        page.starts_with(".ie \\n(.g .ds Aq") || page.contains(".TH portpool 1"),
        "{page}"
    );
    assert!(page.contains(".TH portpool 1"));
    assert!(page.contains("register"));
    for section in ["EXAMPLES", "FILES", "ENVIRONMENT", "EXIT STATUS"] {
        assert!(
            page.contains(&format!(".SH \"{section}\"")),
            "{section}: {page}"
        );
    }
    assert!(page.contains("exhausted: no free port left"), "{page}");
    assert!(!page.contains(".SH EXTRA"), "{page}");
    let dir = tempfile::tempdir().unwrap();
    let out = Command::new(BIN)
        .args(["man", "--dir"])
        .arg(dir.path())
        .output()
        .unwrap();
    assert!(out.status.success(), "{}", stderr(&out));
    for page in ["portpool.1", "portpool-register.1", "portpool-pool-set.1"] {
        let text = std::fs::read_to_string(dir.path().join(page)).unwrap();
        assert!(text.contains(".TH"), "{page}");
    }
    let main = std::fs::read_to_string(dir.path().join("portpool.1")).unwrap();
    assert!(main.contains(".SH \"EXIT STATUS\""), "{main}");
    let register = std::fs::read_to_string(dir.path().join("portpool-register.1")).unwrap();
    assert!(
        register.contains("Preferred port"),
        "positional help is in the page"
    );
    // Hidden from the help, but not from anyone who installs the pages.
    let help = stdout(&Command::new(BIN).arg("--help").output().unwrap());
    assert!(!help.contains("\n  man "), "{help}");
}

/// Asserts the one JSON style: pretty-printed (as serde_json prints it), object keys sorted
/// at every level, and every `created`/`expires` an RFC 3339 UTC string or null.
fn assert_json_style(text: &str, what: &str) {
    let value: serde_json::Value = serde_json::from_str(text).unwrap();
    assert_eq!(
        text.trim_end(),
        serde_json::to_string_pretty(&value).unwrap(),
        "{what}: pretty-printed"
    );
    fn walk(v: &serde_json::Value, what: &str, times: &mut usize) {
        match v {
            serde_json::Value::Array(items) => items.iter().for_each(|i| walk(i, what, times)),
            serde_json::Value::Object(map) => {
                let keys: Vec<&String> = map.keys().collect();
                let mut sorted = keys.clone();
                sorted.sort();
                assert_eq!(keys, sorted, "{what}: keys in order");
                for (key, value) in map {
                    if key == "created" || key == "expires" {
                        *times += 1;
                        assert!(
                            value.is_null()
                                || value.as_str().is_some_and(|s| {
                                    s.len() == 20
                                        && s.ends_with('Z')
                                        && humantime::parse_rfc3339(s).is_ok()
                                }),
                            "{what}: {key} = {value}"
                        );
                    }
                    walk(value, what, times);
                }
            }
            _ => {}
        }
    }
    let mut times = 0;
    walk(&value, what, &mut times);
}

#[test]
fn every_json_output_has_one_style_and_times_as_in_the_tables() {
    let s = scratch();
    let server = std::net::TcpListener::bind("0.0.0.0:0").unwrap();
    let port = server.local_addr().unwrap().port().to_string();
    ok(
        &s.path,
        &["register", "web", &port, "fixed", "--force", "--ttl", "600"],
    );
    ok(
        &s.path,
        &["pool", "set", "jsonstyle", "27310", "27319", "--no-probe"],
    );
    // A lease whose owner has exited, for gc to release.
    let mut owner = Command::new("sleep").arg("30").spawn().unwrap();
    let pid = owner.id().to_string();
    ok(
        &s.path,
        &["allocate", "w1", "--pool", "jsonstyle", "--pid", &pid],
    );
    owner.kill().unwrap();
    owner.wait().unwrap();
    ok(&s.path, &["allocate", "moving", "--pool", "jsonstyle"]);
    ok(&s.path, &["handover", "moving"]);
    let file = s.dir.path().join("ports.json");
    std::fs::write(&file, r#"{"imported": 27330}"#).unwrap();
    ok(&s.path, &["import", file.to_str().unwrap()]);
    let gc = pp(&s.path, &["gc", "--json"]);
    assert!(stdout(&gc).contains("\"w1\""), "{}", stdout(&gc));
    assert_json_style(&stdout(&gc), "gc --json");
    for args in [
        &["list", "--json"][..],
        &["pool", "list", "--json"],
        &["check", &port, "--json"],
        &["who", &port, "--json"],
        &["migrate", "--dry-run", "--json"],
        &["doctor", "--json"],
    ] {
        let out = pp(&s.path, args);
        assert!(
            matches!(out.status.code(), Some(0 | 1)),
            "{args:?}: {}",
            stderr(&out)
        );
        assert_json_style(&stdout(&out), &args.join(" "));
    }

    // The table shows the same strings as the JSON.
    let leases = leases(&s.path);
    let web = leases.iter().find(|l| l["name"] == "web").unwrap();
    let table = ok(&s.path, &["list"]);
    let row = table.lines().find(|l| l.starts_with("web ")).unwrap();
    assert!(row.contains(web["created"].as_str().unwrap()), "{row}");
    assert!(row.contains(web["expires"].as_str().unwrap()), "{row}");
    let moving = leases.iter().find(|l| l["name"] == "moving").unwrap();
    assert!(moving["next"]["created"].is_string());
    // renew prints the new expiry the same way.
    let renewed = ok(&s.path, &["renew", "web"]);
    assert!(humantime::parse_rfc3339(&renewed).is_ok(), "{renewed}");
}

#[test]
fn version_is_a_command_too_and_prints_what_dash_dash_version_prints() {
    let command = Command::new(BIN).arg("version").output().unwrap();
    let flag = Command::new(BIN).arg("--version").output().unwrap();
    assert!(command.status.success(), "{}", stderr(&command));
    assert_eq!(stdout(&command), stdout(&flag));
    assert!(stdout(&command).starts_with("portpool "));
}

#[test]
fn usage_lines_say_portpool_whatever_the_binary_file_is_called() {
    let dir = tempfile::tempdir().unwrap();
    let renamed = dir.path().join("portpool-9.9.9-linux-x86_64");
    std::fs::copy(BIN, &renamed).unwrap();
    let out = Command::new(&renamed).arg("register").output().unwrap();
    assert_eq!(out.status.code(), Some(2));
    let err = stderr(&out);
    assert!(err.contains("usage: portpool register"), "{err}");
    assert!(!err.contains("9.9.9"), "{err}");
    let help = stdout(&Command::new(&renamed).arg("--help").output().unwrap());
    assert!(help.contains("Usage: portpool [OPTIONS]"), "{help}");
}

#[test]
fn readmes_copy_of_the_usage_errors_is_what_the_cli_prints() {
    let readme =
        std::fs::read_to_string(concat!(env!("CARGO_MANIFEST_DIR"), "/../README.md")).unwrap();
    let block = readme
        .split("\n$ portpool register web\n")
        .nth(1)
        .and_then(|rest| rest.split("\n```").next())
        .expect("README shows the usage errors of `portpool register web`");
    let mut shown_commands = 0;
    for (i, part) in block.split("\n$ portpool ").enumerate() {
        let (args, shown) = if i == 0 {
            ("register web", part)
        } else {
            part.split_once('\n')
                .expect("a command line, then what it printed")
        };
        let dir = tempfile::tempdir().unwrap();
        let args: Vec<&str> = args.split_whitespace().collect();
        let out = pp(&dir.path().join("registry.json"), &args);
        assert_eq!(out.status.code(), Some(2), "{args:?}");
        assert_eq!(
            stderr(&out).trim_end(),
            shown,
            "README's copy of `portpool {args:?}`"
        );
        shown_commands += 1;
    }
    assert!(shown_commands >= 2, "{block}");
}
