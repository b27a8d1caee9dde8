//! What keeping the kernel's reserved ports in sync adds to a change root makes
//! (docs/benchmarks.md, "Leases the kernel honours"). Not part of `make bench`: run with
//! `cargo bench -p portpool-core --bench reserve` as root; it re-runs itself in a private
//! network namespace (`unshare -n`), so the host's reserved ports are never touched.
//!
//! Groups, on a registry of 200 leases inside the ephemeral range:
//! - `allocate_release_owned/unsynced`: `allocate` + `release` of a lease owned by this
//!   process (no flush waited for), with no reservation record: the hook costs a `stat`.
//! - `allocate_release_owned/synced`: the same once `reserve` has run: each of the two
//!   changes alters the leased ports, so each syncs (one write of the kernel's list, and the
//!   record rewritten).
//! - `renew_owned/synced`: a change that leaves the leased ports as they are: the sync is a
//!   comparison of two port sets, nothing is written.
//! - `reserve/in_sync`: `portpool reserve` with nothing to change (what the path unit's run
//!   costs, process start aside).

use std::hint::black_box;
use std::process::Command;

use criterion::Criterion;
use portpool_core::{LeaseOptions, Registry, reserve};
use tempfile::TempDir;

const INNER: &str = "PORTPOOL_BENCH_IN_NETNS";

fn registry(synced: bool) -> (TempDir, Registry) {
    let dir = tempfile::tempdir().expect("temporary directory");
    let reg = Registry::open(Some(&dir.path().join("registry.json"))).expect("open");
    let (lo, _) = portpool_core::ephemeral_range().expect("ephemeral range");
    reg.set_pool("eph", lo, lo + 999, Some(false))
        .expect("pool");
    let names: Vec<String> = (0..200).map(|i| format!("fill-{i}")).collect();
    let names: Vec<&str> = names.iter().map(String::as_str).collect();
    reg.allocate_many(&names, "eph", &LeaseOptions::default())
        .expect("fill");
    if synced {
        reserve(&reg).expect("reserve");
    }
    (dir, reg)
}

fn owned() -> LeaseOptions {
    LeaseOptions {
        pid: Some(std::process::id()),
        ttl: Some(3600),
        ..LeaseOptions::default()
    }
}

fn benches(c: &mut Criterion) {
    let mut group = c.benchmark_group("allocate_release_owned");
    for synced in [false, true] {
        let (_dir, reg) = registry(synced);
        let id = if synced { "synced" } else { "unsynced" };
        group.bench_function(id, |b| {
            b.iter(|| {
                black_box(reg.allocate("bench", "eph", &owned()).expect("allocate"));
                reg.release("bench").expect("release");
            })
        });
    }
    group.finish();
    let (_dir, reg) = registry(true);
    reg.allocate("kept", "eph", &owned()).expect("allocate");
    c.bench_function("renew_owned/synced", |b| {
        b.iter(|| black_box(reg.renew("kept", None).expect("renew")))
    });
    c.bench_function("reserve/in_sync", |b| {
        b.iter(|| black_box(reserve(&reg).expect("reserve")))
    });
}

fn main() {
    if std::env::var_os(INNER).is_none() {
        let exe = std::env::current_exe().expect("this program");
        let status = Command::new("unshare")
            .args([
                "-n",
                "--",
                "sh",
                "-c",
                "ip link set lo up && exec \"$0\" \"$@\"",
            ])
            .arg(exe)
            .args(std::env::args_os().skip(1))
            .env(INNER, "1")
            .status()
            .expect("unshare");
        std::process::exit(status.code().unwrap_or(1));
    }
    let mut c = Criterion::default()
        .sample_size(20)
        .warm_up_time(std::time::Duration::from_millis(300))
        .measurement_time(std::time::Duration::from_secs(2))
        .configure_from_args();
    benches(&mut c);
    c.final_summary();
}
