//! The `portpool` command line, run as a real process on temporary registries.

mod common;

use common::*;
use std::fs;
use std::net::TcpListener;
use std::os::unix::fs::PermissionsExt;
use std::path::Path;
use std::process::{Command, Stdio};

#[test]
fn register_prints_the_port_alone_on_stdout() {
    let s = scratch();
    let p = free_block(2);
    assert_eq!(
        ok(&s.path, &["register", "web", &p.to_string()]),
        p.to_string()
    );
    assert_eq!(
        ok(&s.path, &["register", "api", &p.to_string(), "flexible"]),
        (p + 1).to_string()
    );
    assert_eq!(ok(&s.path, &["get", "web"]), p.to_string());
}

#[test]
fn fixed_register_of_a_leased_port_exits_3_naming_the_holder() {
    let s = scratch();
    let p = free_block(1).to_string();
    ok(&s.path, &["register", "keycloak", &p, "fixed"]);
    let err = fails(&s.path, &["register", "web", &p, "fixed"], 3);
    assert!(err.contains("keycloak"), "{err}");
}

#[test]
fn a_fixed_request_for_another_port_is_refused_and_get_agrees() {
    let s = scratch();
    let p = free_block(2);
    ok(&s.path, &["register", "web", &p.to_string(), "fixed"]);
    fails(
        &s.path,
        &["register", "web", &(p + 1).to_string(), "fixed"],
        3,
    );
    assert_eq!(ok(&s.path, &["get", "web"]), p.to_string());
}

#[test]
fn fixed_register_of_a_bound_port_exits_3_unless_forced() {
    let s = scratch();
    let l = TcpListener::bind("127.0.0.1:0").unwrap();
    let busy = l.local_addr().unwrap().port().to_string();
    let err = fails(&s.path, &["register", "web", &busy, "fixed"], 3);
    assert!(err.contains("outside the registry"), "{err}");
    assert_eq!(
        ok(&s.path, &["register", "web", &busy, "fixed", "--force"]),
        busy
    );
}

#[test]
fn re_registering_a_running_service_keeps_its_port() {
    let s = scratch();
    let p = free_block(1);
    ok(&s.path, &["register", "web", &p.to_string()]);
    // The service is up and listening on its own port now.
    let _l = TcpListener::bind(("0.0.0.0", p)).unwrap();
    assert_eq!(
        ok(&s.path, &["register", "web", &p.to_string()]),
        p.to_string()
    );
}

#[test]
fn allocate_hands_out_pool_ports_round_robin() {
    let s = scratch();
    let p = free_block(3);
    let (a, b) = (p.to_string(), (p + 2).to_string());
    ok(&s.path, &["pool", "set", "workers", &a, &b, "--no-probe"]);
    let got: Vec<String> = ["w1", "w2", "w3"]
        .iter()
        .map(|n| ok(&s.path, &["allocate", n, "--pool", "workers"]))
        .collect();
    assert_eq!(got, [p, p + 1, p + 2].map(|x| x.to_string()));
    let err = fails(&s.path, &["allocate", "w4", "--pool", "workers"], 4);
    assert!(err.contains("workers"), "{err}");
    ok(&s.path, &["release", "w2"]);
    assert_eq!(
        ok(&s.path, &["allocate", "w4", "--pool", "workers"]),
        (p + 1).to_string()
    );
    let pools: serde_json::Value =
        serde_json::from_str(&ok(&s.path, &["pool", "list", "--json"])).unwrap();
    let workers = pools
        .as_array()
        .unwrap()
        .iter()
        .find(|x| x["name"] == "workers")
        .unwrap();
    assert_eq!(workers["probe"], false);
    assert_eq!(workers["cursor"], p + 2);
}

#[test]
fn register_and_allocate_take_bindable_as_every_front_end_does() {
    let s = scratch();
    let p = free_block(3);
    let (a, b) = (p.to_string(), (p + 2).to_string());
    assert_eq!(ok(&s.path, &["register", "r", &a, "--bindable"]), a);
    ok(&s.path, &["pool", "set", "w", &a, &b, "--no-probe"]);
    let got = ok(
        &s.path,
        &["allocate", "x", "y", "--pool", "w", "--bindable"],
    );
    assert_eq!(got, format!("{}\n{}", p + 1, p + 2));
    // A port this process cannot bind (here: one it has bound itself) is never handed out.
    let held = TcpListener::bind(("0.0.0.0", 0)).unwrap();
    let port = held.local_addr().unwrap().port().to_string();
    fails(&s.path, &["register", "z", &port, "fixed", "--bindable"], 3);
}

#[test]
fn allocate_uses_the_default_pool() {
    let s = scratch();
    let port: u16 = ok(&s.path, &["allocate", "w"]).parse().unwrap();
    assert!((9000..=18999).contains(&port));
    assert_eq!(leases(&s.path)[0]["pool"], "default");
}

#[test]
fn pool_set_rejects_a_start_after_its_end() {
    let s = scratch();
    fails(&s.path, &["pool", "set", "w", "200", "100"], 2);
    fails(&s.path, &["allocate", "x", "--pool", "nope"], 1);
    assert!(!s.path.exists());
}

#[test]
fn get_of_an_unknown_name_prints_the_default_or_exits_1() {
    let s = scratch();
    assert_eq!(ok(&s.path, &["get", "web", "8080"]), "8080");
    fails(&s.path, &["get", "web"], 1);
    fails(&s.path, &["get", "web", "99999"], 2);
}

#[test]
fn release_of_an_unknown_name_is_not_an_error() {
    let s = scratch();
    let p = free_block(1).to_string();
    ok(&s.path, &["register", "web", &p]);
    assert_eq!(ok(&s.path, &["release", "web"]), "released web");
    assert_eq!(ok(&s.path, &["release", "web"]), "web held no lease");
    fails(&s.path, &["get", "web"], 1);
}

#[test]
fn list_prints_a_table_and_json_lease_objects() {
    let s = scratch();
    let p = free_block(1);
    ok(
        &s.path,
        &["register", "web", &p.to_string(), "fixed", "--udp"],
    );
    let table = ok(&s.path, &["list"]);
    let mut lines = table.lines();
    assert!(lines.next().unwrap().starts_with("NAME"));
    let row: Vec<&str> = lines.next().unwrap().split_whitespace().collect();
    assert_eq!(&row[..5], ["web", &p.to_string(), "udp", "fixed", "-"]);
    let all = leases(&s.path);
    assert_eq!(all.len(), 1);
    for key in ["name", "port", "protocol", "mode", "pool", "created"] {
        assert!(all[0].get(key).is_some(), "{key} in {}", all[0]);
    }
    assert_eq!(all[0]["protocol"], "udp");
}

#[test]
fn check_exits_0_when_free_and_1_saying_who_holds_it() {
    let s = scratch();
    let p = free_block(1).to_string();
    assert!(ok(&s.path, &["check", &p]).ends_with("free"));
    ok(&s.path, &["register", "web", &p, "fixed"]);
    let out = pp(&s.path, &["check", &p]);
    assert_eq!(out.status.code(), Some(1));
    assert!(stdout(&out).contains("leased to web"), "{}", stdout(&out));
    // The UDP side of the same port is another lease.
    assert!(ok(&s.path, &["check", &p, "--udp"]).ends_with("free"));
    let l = TcpListener::bind("127.0.0.1:0").unwrap();
    let busy = l.local_addr().unwrap().port().to_string();
    let out = pp(&s.path, &["check", &busy, "--json"]);
    assert_eq!(out.status.code(), Some(1));
    let v: serde_json::Value = serde_json::from_slice(&out.stdout).unwrap();
    assert_eq!(v["state"], "busy");
}

#[test]
fn reset_without_yes_refuses_with_exit_2() {
    let s = scratch();
    ok(&s.path, &["register", "web", &free_block(1).to_string()]);
    fails(&s.path, &["reset"], 2);
    assert_eq!(leases(&s.path).len(), 1);
    ok(&s.path, &["reset", "--yes"]);
    assert!(leases(&s.path).is_empty());
}

#[test]
fn invalid_ports_exit_2_and_store_nothing() {
    let s = scratch();
    for port in ["0", "-5", "70000", "abc", "", "8080x", "1e3"] {
        let err = fails(&s.path, &["register", "web", port], 2);
        assert!(err.contains("port"), "{err}");
    }
    fails(&s.path, &["register", "web", "8080", "sometimes"], 2);
    fails(&s.path, &["check", "65536"], 2);
    fails(&s.path, &["pool", "set", "p", "0", "10"], 2);
    assert!(!s.path.exists());
}

#[test]
fn invalid_names_exit_2_and_store_nothing() {
    let s = scratch();
    let long = "n".repeat(129);
    for name in ["a b", "tab\there", "nl\nx", "", long.as_str(), "bell\u{7}"] {
        fails(&s.path, &["register", name, "30000"], 2);
    }
    assert!(!s.path.exists());
}

#[test]
fn non_utf8_arguments_exit_2() {
    use std::os::unix::ffi::OsStrExt;
    let s = scratch();
    let out = Command::new(BIN)
        .arg("--registry")
        .arg(&s.path)
        .args(["register"])
        .arg(std::ffi::OsStr::from_bytes(b"we\xffb"))
        .arg("30000")
        .output()
        .unwrap();
    assert_eq!(out.status.code(), Some(2));
    assert!(stderr(&out).starts_with("portpool: "));
    assert!(!s.path.exists());
}

#[test]
fn hostile_names_neither_inject_nor_delete_other_entries() {
    let s = scratch();
    let p = free_block(4);
    for (i, name) in ["abc", "a.c", "evil\":1,\"keycloak", "x/y"]
        .iter()
        .enumerate()
    {
        ok(
            &s.path,
            &["register", name, &(p + i as u16).to_string(), "fixed"],
        );
    }
    ok(&s.path, &["release", "a.c"]);
    let names: Vec<String> = leases(&s.path)
        .iter()
        .map(|l| l["name"].as_str().unwrap().to_owned())
        .collect();
    assert_eq!(names, ["abc", "evil\":1,\"keycloak", "x/y"]);
    fails(&s.path, &["get", "keycloak"], 1);
}

#[test]
fn usage_errors_are_one_line_with_exit_2_and_help_exits_0() {
    let s = scratch();
    for args in [
        &["bogus"][..],
        &["register", "web"],
        &["register"],
        &["list", "--nope"],
        &[],
    ] {
        let out = pp(&s.path, args);
        assert_eq!(out.status.code(), Some(2), "{args:?}");
        let err = stderr(&out);
        assert!(
            err.starts_with("portpool: ") && err.lines().count() == 1,
            "{args:?}: {err:?}"
        );
    }
    let help = pp(&s.path, &["--help"]);
    assert_eq!(help.status.code(), Some(0));
    assert!(stdout(&help).contains("Exit codes"));
    assert_eq!(pp(&s.path, &["--version"]).status.code(), Some(0));
}

#[test]
fn corrupt_registries_exit_5_and_are_left_byte_for_byte() {
    let cases: [&[u8]; 7] = [
        b"",
        b"\n",
        b"{\"version\": 1, \"pools\": {\"default\": {\"start\": 9000,",
        b"{\"a\":}",
        b"{\"keycloak\": 8080, \"web\": 80}",
        b"{\"version\": 4, \"leases\": {}}",
        b"not json at all",
    ];
    for case in cases {
        let s = scratch();
        fs::write(&s.path, case).unwrap();
        for args in [
            &["register", "web", "30000"][..],
            &["allocate", "w"],
            &["release", "web"],
            &["list"],
            &["get", "web", "80"],
            &["reset", "--yes"],
            &["pool", "set", "p", "1000", "2000"],
        ] {
            let err = fails(&s.path, args, 5);
            assert!(err.contains(s.path.to_str().unwrap()), "{err}");
        }
        assert_eq!(fs::read(&s.path).unwrap(), case);
    }
}

#[test]
fn a_registry_reformatted_by_jq_style_tools_still_reads() {
    let s = scratch();
    let p = free_block(2);
    ok(&s.path, &["register", "web", &p.to_string()]);
    // `jq -c . registry.json`: every line again, keys in another order.
    let text = fs::read_to_string(&s.path).unwrap();
    let lines: Vec<String> = text
        .lines()
        .map(|l| {
            serde_json::from_str::<serde_json::Value>(l)
                .unwrap()
                .to_string()
                + "\n"
        })
        .collect();
    assert_ne!(lines.concat(), text, "the keys were reordered");
    fs::write(&s.path, lines.concat()).unwrap();
    assert_eq!(ok(&s.path, &["get", "web"]), p.to_string());
    assert_eq!(
        ok(&s.path, &["register", "api", &p.to_string()]),
        (p + 1).to_string()
    );
}

#[test]
fn read_only_commands_never_create_files() {
    let s = scratch();
    let path = s.dir.path().join("sub/dir/registry.json");
    ok(&path, &["list"]);
    ok(&path, &["list", "--json"]);
    ok(&path, &["pool", "list"]);
    ok(&path, &["get", "x", "80"]);
    ok(&path, &["check", &free_block(1).to_string()]);
    assert!(!s.dir.path().join("sub").exists());
    ok(&path, &["register", "web", &free_block(1).to_string()]);
    assert!(path.exists());
}

#[test]
fn registry_comes_from_the_environment_when_not_given() {
    let s = scratch();
    let p = free_block(1).to_string();
    let run = |args: &[&str]| {
        Command::new(BIN)
            .args(args)
            .env("PORTPOOL_REGISTRY", &s.path)
            .output()
            .unwrap()
    };
    assert!(run(&["register", "web", &p]).status.success());
    assert_eq!(ok(&s.path, &["get", "web"]), p);
    let out = stdout(&run(&["path"]));
    assert_eq!(out.lines().next(), s.path.to_str());
    assert_eq!(out.lines().nth(1), Some("rule: from $PORTPOOL_REGISTRY"));
}

#[test]
fn the_per_user_default_path_is_under_xdg_state_home_with_mode_0600() {
    // SAFETY: geteuid has no preconditions.
    if unsafe { libc::geteuid() } != 0 {
        // Needs root to become another user; the same rule is pinned in core for any user.
        return;
    }
    let s = scratch();
    let state = s.dir.path().join("state");
    fs::create_dir(&state).unwrap();
    fs::set_permissions(s.dir.path(), fs::Permissions::from_mode(0o755)).unwrap();
    let chown = Command::new("chown")
        .arg("65534:65534")
        .arg(&state)
        .status()
        .unwrap();
    assert!(chown.success());
    let out = as_nobody(&["path"], ("XDG_STATE_HOME", &state));
    let expected = state.join("portpool/registry.json");
    assert_eq!(
        stdout(&out).lines().next(),
        expected.to_str(),
        "{}",
        stderr(&out)
    );
    assert!(stdout(&out).contains("rule: the per-user registry"));
    let out = as_nobody(
        &["register", "web", &free_block(1).to_string()],
        ("XDG_STATE_HOME", &state),
    );
    assert!(out.status.success(), "{}", stderr(&out));
    assert_eq!(mode_of(&expected), 0o600);
    assert_eq!(mode_of(&state.join("portpool")), 0o700);
    let out = as_nobody(&["path"], ("HOME", &state));
    assert_eq!(
        stdout(&out).lines().next(),
        state.join(".local/state/portpool/registry.json").to_str()
    );
    // As root the default is the host-wide registry.
    let root = with_empty_var_lib(BIN)
        .arg("path")
        .env_remove("PORTPOOL_REGISTRY")
        .output()
        .unwrap();
    assert_eq!(
        stdout(&root).lines().next(),
        Some("/var/lib/portpool/registry.json")
    );
}

/// `portpool ARGS` as nobody (uid 65534) with `env` set, without a host registry whatever
/// the real host has (the per-user rule applies), and without $PORTPOOL_REGISTRY nor
/// $XDG_STATE_HOME unless `env` sets it.
fn as_nobody(args: &[&str], env: (&str, &Path)) -> std::process::Output {
    with_empty_var_lib("setpriv")
        .args(["--reuid=65534", "--regid=65534", "--clear-groups", BIN])
        .args(args)
        .env_remove("PORTPOOL_REGISTRY")
        .env_remove("XDG_STATE_HOME")
        .env(env.0, env.1)
        .output()
        .unwrap()
}

/// The permission bits of `path`.
fn mode_of(path: &Path) -> u32 {
    fs::metadata(path).unwrap().permissions().mode() & 0o777
}

#[test]
fn fifty_concurrent_registrations_get_fifty_distinct_ports() {
    let s = scratch();
    let children: Vec<_> = (0..50)
        .map(|i| {
            Command::new(BIN)
                .arg("--registry")
                .arg(&s.path)
                .args(["register", &format!("svc{i}"), "20000"])
                .stdout(Stdio::piped())
                .stderr(Stdio::piped())
                .spawn()
                .unwrap()
        })
        .collect();
    let mut ports: Vec<u16> = children
        .into_iter()
        .map(|c| {
            let out = c.wait_with_output().unwrap();
            assert!(out.status.success(), "{}", stderr(&out));
            stdout(&out).trim().parse().unwrap()
        })
        .collect();
    ports.sort();
    ports.dedup();
    assert_eq!(ports.len(), 50);
    let all = leases(&s.path);
    assert_eq!(all.len(), 50);
    let mut recorded: Vec<u64> = all.iter().map(|l| l["port"].as_u64().unwrap()).collect();
    recorded.sort();
    assert_eq!(
        recorded,
        ports.iter().map(|p| u64::from(*p)).collect::<Vec<_>>()
    );
}

#[test]
fn loopback_only_and_ipv6_only_listeners_count_as_busy() {
    let s = scratch();
    let v4 = TcpListener::bind("127.0.0.1:0").unwrap();
    let mut busy = vec![v4.local_addr().unwrap().port()];
    // A host without IPv6 has no [::1] to bind; the IPv4 case still runs.
    let v6 = TcpListener::bind("[::1]:0").ok();
    busy.extend(v6.as_ref().map(|l| l.local_addr().unwrap().port()));
    for port in busy {
        let p = port.to_string();
        let out = pp(&s.path, &["check", &p]);
        assert_eq!(out.status.code(), Some(1), "{p}");
        assert!(stdout(&out).contains("busy"), "{}", stdout(&out));
        let got: u16 = ok(&s.path, &["register", &format!("svc{p}"), &p])
            .parse()
            .unwrap();
        assert!(
            got > port,
            "flexible register skipped the busy {port}: got {got}"
        );
        fails(&s.path, &["register", &format!("fixed{p}"), &p, "fixed"], 3);
    }
}

#[test]
fn a_udp_only_holder_never_blocks_a_tcp_registration() {
    let s = scratch();
    let udp = std::net::UdpSocket::bind("0.0.0.0:0").unwrap();
    let port = udp.local_addr().unwrap().port();
    let p = port.to_string();
    fails(&s.path, &["register", "dns", &p, "fixed", "--udp"], 3);
    if TcpListener::bind(("0.0.0.0", port)).is_ok() {
        assert_eq!(ok(&s.path, &["register", "web", &p, "fixed"]), p);
    }
}

#[test]
fn an_unprivileged_probe_sees_a_privileged_port_that_root_bound() {
    // SAFETY: geteuid has no preconditions.
    if unsafe { libc::geteuid() } != 0 {
        // Needs root to bind a port below 1024 and to become another user.
        return;
    }
    let s = scratch();
    fs::set_permissions(s.dir.path(), fs::Permissions::from_mode(0o777)).unwrap();
    // A privileged port nothing uses yet, bound by root for TCP and UDP.
    let (tcp, udp, port) = (900..1024)
        .find_map(|p| {
            let tcp = TcpListener::bind(("0.0.0.0", p)).ok()?;
            let udp = std::net::UdpSocket::bind(("0.0.0.0", p)).ok()?;
            Some((tcp, udp, p.to_string()))
        })
        .expect("a free privileged port");
    let as_nobody = |args: &[&str]| {
        Command::new("setpriv")
            .args(["--reuid=65534", "--regid=65534", "--clear-groups", BIN])
            .arg("--registry")
            .arg(&s.path)
            .args(args)
            .output()
            .unwrap()
    };
    for args in [vec!["check", &port], vec!["check", &port, "--udp"]] {
        let out = as_nobody(&args);
        assert_eq!(out.status.code(), Some(1), "{args:?}: {}", stdout(&out));
        assert!(stdout(&out).contains("busy"), "{}", stdout(&out));
    }
    let out = as_nobody(&["register", "x", &port, "fixed"]);
    assert_eq!(out.status.code(), Some(3), "{}", stderr(&out));
    drop((tcp, udp));
    let out = as_nobody(&["check", &port]);
    assert_eq!(out.status.code(), Some(0), "{}", stdout(&out));
}

#[test]
fn roots_first_change_that_creates_the_host_registry_says_so_once_and_what_init_would_add() {
    // SAFETY: geteuid has no preconditions.
    if unsafe { libc::geteuid() } != 0 {
        return; // only root's changes create the host registry; CI runs as root
    }
    // A private mount namespace with an empty /var/lib: the host's own is never touched.
    let script = r#"
set -eu
mount -t tmpfs -o size=16m,mode=0755 tmpfs /var/lib
"$BIN" list > /dev/null 2> first-read || { cat first-read >&2; exit 1; }
[ ! -e /var/lib/portpool ] || { echo "a read created /var/lib/portpool" >&2; exit 1; }
"$BIN" allocate first
"$BIN" allocate second
"#;
    let scratch = tempfile::tempdir().unwrap();
    let out = Command::new("unshare")
        .args(["--mount", "--propagation", "private", "bash", "-c"])
        .arg(script)
        .current_dir(scratch.path())
        .env("BIN", BIN)
        .env_remove("PORTPOOL_REGISTRY")
        .output()
        .unwrap();
    let err = stderr(&out);
    assert!(out.status.success(), "{err}");
    assert_eq!(stdout(&out).lines().count(), 2, "{}", stdout(&out));
    assert_eq!(err.matches("created the host registry").count(), 1, "{err}");
    assert!(err.contains("/var/lib/portpool/registry.json"), "{err}");
    assert!(err.contains("portpool init --group portpool"), "{err}");
}
