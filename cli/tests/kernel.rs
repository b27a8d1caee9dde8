//! `portpool reserve` and `portpool watch` from the command line: reserve as root and as
//! anyone else in a private network namespace (the kernel's reserved ports are per
//! namespace), and watch under a pseudo-terminal (tmux) and with stdout not a terminal.

mod common;

use std::os::unix::fs::PermissionsExt;
use std::process::Command;
use std::time::{Duration, Instant};

use common::{BIN, ok, pp, scratch, stderr, stdout};

fn is_root() -> bool {
    // SAFETY: geteuid has no preconditions.
    unsafe { libc::geteuid() == 0 }
}

/// Runs `script` (sh, `set -eu`) as root in a private network namespace with `pp` (root) and
/// `as_nobody` (uid and gid 65534, no groups) on the registry `$REG`; `fail MESSAGE` ends it.
/// Returns false (the test skipped, saying why) when not root or unshare is not allowed.
fn in_private_netns(test: &str, script: &str) -> bool {
    if !is_root() {
        eprintln!("skipped {test}: the kernel's reserved ports can only be changed as root");
        return false;
    }
    if !Command::new("unshare")
        .args(["-n", "true"])
        .status()
        .is_ok_and(|s| s.success())
    {
        eprintln!("skipped {test}: unshare -n is not allowed here");
        return false;
    }
    let s = scratch();
    std::fs::set_permissions(s.dir.path(), std::fs::Permissions::from_mode(0o755)).unwrap();
    let prelude = r#"
set -eu
ip link set lo up
pp() { "$BIN" --registry "$REG" "$@"; }
as_nobody() { setpriv --reuid=65534 --regid=65534 --clear-groups "$BIN" --registry "$REG" "$@"; }
fail() { echo "FAIL: $*" >&2; exit 1; }
"#;
    let out = Command::new("unshare")
        .args(["-n", "sh", "-c"])
        .arg(format!("{prelude}\n{script}"))
        .env("BIN", BIN)
        .env("REG", &s.path)
        .output()
        .unwrap();
    assert!(
        out.status.success(),
        "stdout:\n{}\nstderr:\n{}",
        stdout(&out),
        stderr(&out)
    );
    true
}

#[test]
fn reserve_is_roots_and_check_reports_drift_to_anyone_with_exit_1() {
    in_private_netns(
        "reserve_is_roots_and_check_reports_drift_to_anyone_with_exit_1",
        r#"
lo=$(cut -f1 /proc/sys/net/ipv4/ip_local_port_range)
pp pool set eph "$lo" "$((lo + 4))" --no-probe >/dev/null
pp allocate a b --pool eph >/dev/null
chmod 0644 "$REG"
if out=$(as_nobody reserve 2>&1); then fail "nobody reserved: $out"; fi
echo "$out" | grep -q "^portpool: reserve writes the kernel's .* must run as root" || fail "error: $out"
[ -z "$(cat /proc/sys/net/ipv4/ip_local_reserved_ports)" ] || fail "nobody's reserve wrote"
if out=$(as_nobody reserve --check); then fail "no drift reported: $out"; fi
echo "$out" | grep -q "^drift: leased but not reserved: $lo-$((lo + 1)) (2 ports)" || fail "check: $out"
out=$(pp reserve)
echo "$out" | grep -q "^added $lo-$((lo + 1)) (2 ports); removed none" || fail "reserve: $out"
[ "$(cat /proc/sys/net/ipv4/ip_local_reserved_ports)" = "$lo-$((lo + 1))" ] || fail kernel
as_nobody reserve --check >/dev/null || fail "drift after a sync"
pp reserve --json | grep -q '"written": false' || fail "a second sync wrote"
as_nobody doctor --fail-on unreserved >/dev/null || fail "doctor: unreserved after a sync"
"#,
    );
}

#[test]
fn doctor_reports_leased_ports_the_kernel_does_not_reserve() {
    in_private_netns(
        "doctor_reports_leased_ports_the_kernel_does_not_reserve",
        r#"
lo=$(cut -f1 /proc/sys/net/ipv4/ip_local_port_range)
out=$(pp pool set eph "$lo" "$((lo + 4))" --no-probe 2>&1)
echo "$out" | grep -q "portpool reserve (as root)" || fail "set_pool's warning: $out"
pp allocate a --pool eph >/dev/null
if out=$(pp doctor --fail-on unreserved); then fail "doctor passed: $out"; fi
echo "$out" | grep -q "1 leased port(s) inside the kernel's ephemeral ports .*: $lo/tcp (\"a\"); portpool reserve" || fail "doctor: $out"
"#,
    );
}

#[test]
fn watch_works_for_a_user_who_may_only_read() {
    in_private_netns(
        "watch_works_for_a_user_who_may_only_read",
        r#"
pp register web "$(pp find-free)" >/dev/null
chmod 0644 "$REG"
out=$(as_nobody watch --count 1)
echo "$out" | grep -q ": 1 lease(s)" || fail "watch as nobody: $out"
echo "$out" | grep -q "^web " || fail "watch as nobody: $out"
"#,
    );
}

/// tmux on a server of this test's own, whose socket lives in a scratch directory, so that no
/// other tmux user is touched and nothing is left in /tmp once it is dropped.
struct Tmux {
    dir: tempfile::TempDir,
}

impl Tmux {
    fn new() -> Tmux {
        Tmux {
            dir: tempfile::tempdir().unwrap(),
        }
    }

    fn cmd(&self) -> Command {
        let mut cmd = Command::new("tmux");
        cmd.arg("-S")
            .arg(self.dir.path().join("socket"))
            .env_remove("TMUX");
        cmd
    }

    /// The text tmux shows in the pane.
    fn screen(&self) -> String {
        let out = self.cmd().args(["capture-pane", "-p", "-t", "w"]).output();
        String::from_utf8_lossy(&out.unwrap().stdout).into_owned()
    }

    /// Polls the screen until it shows `text`, for at most `bound`; returns how long it
    /// took, or None.
    fn shows_within(&self, text: &str, bound: Duration) -> Option<Duration> {
        let start = Instant::now();
        while start.elapsed() < bound {
            if self.screen().contains(text) {
                return Some(start.elapsed());
            }
            std::thread::sleep(Duration::from_millis(5));
        }
        None
    }
}

impl Drop for Tmux {
    fn drop(&mut self) {
        let _ = self.cmd().arg("kill-server").output();
    }
}

#[test]
fn watch_shows_a_change_another_process_makes_and_quits_on_q() {
    if Command::new("tmux").arg("-V").output().is_err() {
        eprintln!("skipped: tmux is not installed");
        return;
    }
    let s = scratch();
    let p: u16 = ok(&s.path, &["find-free"]).parse().unwrap();
    ok(&s.path, &["register", "before", &p.to_string()]);
    let cmd = format!("{BIN} --registry {} watch", s.path.display());
    let pane = Tmux::new();
    let started = pane
        .cmd()
        .args([
            "new-session",
            "-d",
            "-x",
            "140",
            "-y",
            "45",
            "-s",
            "w",
            &cmd,
        ])
        .status()
        .unwrap();
    assert!(started.success());
    assert!(
        pane.shows_within("before", Duration::from_secs(10))
            .is_some(),
        "{}",
        pane.screen()
    );
    // A change by another process: a functional wait, bounded generously; the latency
    // observed is printed (the 200 ms target is the benchmark's to meet).
    let port = ok(&s.path, &["allocate", "from-elsewhere"]);
    let seen = pane.shows_within("leased from-elsewhere", Duration::from_secs(10));
    let seen = seen.unwrap_or_else(|| panic!("not on screen:\n{}", pane.screen()));
    eprintln!("watch showed the change after {seen:?}");
    assert!(pane.screen().contains(&format!("{port}/tcp")));
    pane.cmd()
        .args(["send-keys", "-t", "w", "q"])
        .status()
        .unwrap();
    let start = Instant::now();
    while start.elapsed() < Duration::from_secs(10) && pane.screen().contains("leases") {
        std::thread::sleep(Duration::from_millis(20));
    }
    assert!(!pane.screen().contains("leases"), "q did not quit");
}

#[test]
fn watch_prints_plain_text_when_stdout_is_not_a_terminal() {
    let s = scratch();
    let p: u16 = ok(&s.path, &["find-free"]).parse().unwrap();
    ok(&s.path, &["register", "web", &p.to_string()]);
    let out = pp(&s.path, &["watch", "--count", "2", "--interval", "0.05"]);
    assert!(out.status.success(), "{}", stderr(&out));
    let text = stdout(&out);
    assert_eq!(text.matches(": 1 lease(s)").count(), 2, "{text}");
    assert!(text.contains(&format!("{p}/tcp")), "{text}");
}
