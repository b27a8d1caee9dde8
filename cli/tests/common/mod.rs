//! Helpers shared by the CLI test suites: run the real binary on temporary registries.
#![allow(dead_code)]

use std::path::{Path, PathBuf};
use std::process::{Command, Output};

pub const BIN: &str = env!("CARGO_BIN_EXE_portpool");

/// A registry path in a directory of its own, removed with the value.
pub struct Scratch {
    pub dir: tempfile::TempDir,
    pub path: PathBuf,
}

pub fn scratch() -> Scratch {
    let dir = tempfile::tempdir().unwrap();
    let path = dir.path().join("registry.json");
    Scratch { dir, path }
}

/// Runs `portpool --registry REG ARGS...` with no registry from the environment.
pub fn pp(reg: &Path, args: &[&str]) -> Output {
    Command::new(BIN)
        .arg("--registry")
        .arg(reg)
        .args(args)
        .env_remove("PORTPOOL_REGISTRY")
        .output()
        .unwrap()
}

pub fn stdout(out: &Output) -> String {
    String::from_utf8(out.stdout.clone()).unwrap()
}

pub fn stderr(out: &Output) -> String {
    String::from_utf8(out.stderr.clone()).unwrap()
}

/// Runs and expects success with nothing on stderr; returns stdout without the final newline.
pub fn ok(reg: &Path, args: &[&str]) -> String {
    let out = pp(reg, args);
    assert!(out.status.success(), "{args:?}: {}", stderr(&out));
    assert!(out.stderr.is_empty(), "{args:?}: stderr {}", stderr(&out));
    stdout(&out).trim_end_matches('\n').to_owned()
}

/// Every lease, from `list --json`.
pub fn leases(reg: &Path) -> Vec<serde_json::Value> {
    serde_json::from_str(&ok(reg, &["list", "--json"])).unwrap()
}

/// `program args...` in a private mount namespace where /var/lib is an empty tmpfs, so the
/// host registry neither exists nor can be created there, whatever the real host has. Root
/// only (the caller checks).
pub fn with_empty_var_lib(program: &str) -> Command {
    let mut cmd = Command::new("unshare");
    cmd.args([
        "--mount",
        "--propagation",
        "private",
        "sh",
        "-c",
        "mount -t tmpfs -o size=1m,mode=0755 tmpfs /var/lib && exec \"$@\"",
        "sh",
        program,
    ]);
    cmd
}

/// Runs, expects exit `code` and one error line on stderr; returns that line.
pub fn fails(reg: &Path, args: &[&str], code: i32) -> String {
    let out = pp(reg, args);
    assert_eq!(out.status.code(), Some(code), "{args:?}: {}", stderr(&out));
    let err = stderr(&out);
    assert!(err.starts_with("portpool: "), "{args:?}: {err:?}");
    assert_eq!(err.lines().count(), 1, "one line: {err:?}");
    assert!(
        out.stdout.is_empty(),
        "no data on failure: {}",
        stdout(&out)
    );
    err
}

/// The first of `n` consecutive ports free for TCP and UDP now, in 20000-31999 (below the
/// kernel's ephemeral range): tried from a start that differs per process and per call, at most
/// 400 blocks, then the test fails saying so.
pub fn free_block(n: u16) -> u16 {
    use std::sync::atomic::{AtomicU16, Ordering};
    const LO: u16 = 20000;
    const HI: u16 = 32000;
    static CALLS: AtomicU16 = AtomicU16::new(0);
    let free = |p: u16| {
        std::net::TcpListener::bind(("0.0.0.0", p)).is_ok()
            && std::net::UdpSocket::bind(("0.0.0.0", p)).is_ok()
    };
    assert!(
        n > 0 && n < HI - LO,
        "free_block({n}): 1 to {} ports",
        HI - LO - 1
    );
    let seed = (std::process::id() as u16)
        .wrapping_mul(7919)
        .wrapping_add(CALLS.fetch_add(1, Ordering::Relaxed).wrapping_mul(997));
    let starts = HI - LO - n;
    (0..400u16)
        .map(|i| LO + seed.wrapping_add(i.wrapping_mul(101)) % starts)
        .find(|&start| (start..start + n).all(free))
        .unwrap_or_else(|| {
            panic!(
                "no {n} consecutive free ports in {LO}-{} after 400 tries",
                HI - 1
            )
        })
}
