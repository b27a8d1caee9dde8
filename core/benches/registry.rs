//! What one registry call costs at 10, 1,000 and 10,000 leases, beside the floor of a durable
//! change: the bare flock + append of one line of about 100 bytes + fdatasync, written with
//! std and libc only.
//!
//! Run with `make bench` (or `cargo bench -p portpool-core --bench registry`). Registries live
//! in temporary directories on the file system of `$TMPDIR` (default `/tmp`). Estimates land
//! in `$CARGO_TARGET_DIR/criterion/<group>/<size>/new/estimates.json`, which
//! `bench/run.py` turns into docs/benchmarks.md and its plot.
//!
//! Groups (each parameterised by the number of leases already in the registry):
//! - `register`: a fixed-mode `register` of a new name (bind probe included); the `release`
//!   that undoes it is not timed.
//! - `release`: `release` of a name just registered; the `register` is not timed.
//! - `register_release`: both, timed together (the target compares it with two floor appends).
//!   These leases have no owner: each change waits for its flush.
//! - `allocate`: `allocate` from the probing `default` pool; the `release` is not timed.
//! - `allocate_release_owned`: `allocate` + `release` of a lease owned by this process, both
//!   timed: changes that are appended and not waited for.
//! - `listen_release_owned`: `listen` (lease and bind a TCP socket, listening, from the probing
//!   `default` pool; owned by this process) + `release` + closing the socket, all timed: what
//!   the bind adds to `allocate_release_owned`, where the probe's bind is replaced by the
//!   socket kept.
//! - `get`: `get` of an existing name on an unchanged file (served from the parse cache).
//! - `get_after_write`: `get` after another handle appended a change (the reader parses only
//!   that line).
//! - `floor_append`: the floor of a durable change: `flock` the (open) lock file, append one
//!   line of about 100 bytes to the (open) file in one `write`, unlock, `fdatasync`.
//! - `floor_rewrite`: for scale, what every change used to cost at least: `flock`, write the
//!   registry's bytes to a temporary file, fsync, rename, directory fsync, unlock.
//! - `paired_register_release`: register + release, each pair followed by two floor appends
//!   timed apart; both times per sample, and their ratio, go to
//!   `<criterion dir>/paired/<size>.json`.

use std::fs::{self, File, OpenOptions};
use std::hint::black_box;
use std::io::Write;
use std::os::fd::AsRawFd;
use std::os::unix::fs::OpenOptionsExt;
use std::path::Path;
use std::time::{Duration, Instant};

use criterion::{BenchmarkId, Criterion, criterion_group, criterion_main};
use portpool_core::{Choice, LeaseOptions, ListenOptions, Mode, Registry};
use tempfile::TempDir;

/// Registry sizes, in leases.
const SIZES: [usize; 3] = [10, 1_000, 10_000];
/// The pool the pre-populated leases come from: large, and not probed, so filling it is one
/// write.
const FILL_POOL: (&str, u16, u16) = ("fill", 20_000, 39_999);
/// The port `register` benchmarks lease: outside every pool.
const REGISTER_PORT: u16 = 50_123;
const NEW: &str = "bench-new";

/// A registry in a fresh temporary directory holding `n` leases, made through the core API.
fn populated(n: usize) -> (TempDir, Registry) {
    let dir = tempfile::tempdir().expect("temporary directory");
    let reg = Registry::open(Some(&dir.path().join("registry.json"))).expect("open");
    let (pool, start, end) = FILL_POOL;
    reg.set_pool(pool, start, end, Some(false)).expect("pool");
    let names: Vec<String> = (0..n).map(|i| format!("service-{i:05}")).collect();
    let names: Vec<&str> = names.iter().map(String::as_str).collect();
    reg.allocate_many(&names, pool, &LeaseOptions::default())
        .expect("fill");
    assert_eq!(reg.list().expect("list").len(), n);
    (dir, reg)
}

fn fixed(reg: &Registry) -> u16 {
    reg.register(NEW, REGISTER_PORT, Mode::Fixed, &LeaseOptions::default())
        .expect("register")
}

/// The floor of a durable change: what any locked, flushed append of one line costs, and
/// nothing else (no stat, no parse, no serialisation). The files stay open, as a handle's do.
struct FloorAppend {
    lock: File,
    file: File,
}

/// About what a change line of portpool holds.
const LINE: &[u8] = b"{\"leases\":[{\"name\":\"bench-new\",\"port\":50123,\"protocol\":\"tcp\",\"mode\":\"fixed\",\"pool\":null,\"created\":1795451991}]}\n";

impl FloorAppend {
    fn new(dir: &Path) -> FloorAppend {
        let open = |name: &str| {
            OpenOptions::new()
                .read(true)
                .append(true)
                .create(true)
                .mode(0o644)
                .open(dir.join(name))
                .expect("floor file")
        };
        FloorAppend {
            lock: open("floor.json.lock"),
            file: open("floor.json"),
        }
    }

    fn append(&self, line: &[u8]) {
        self.lock.lock().expect("flock");
        assert_eq!((&self.file).write(line).expect("write"), line.len());
        self.lock.unlock().expect("unlock");
        // SAFETY: fdatasync on a descriptor this process owns.
        assert_eq!(unsafe { libc::fdatasync(self.file.as_raw_fd()) }, 0);
    }
}

/// For scale: what every change used to cost at least, a durable, locked, atomic replacement
/// of `bytes` (temporary file, fsync, rename, directory fsync).
fn floor_rewrite(dir: &Path, bytes: &[u8]) {
    let lock = OpenOptions::new()
        .read(true)
        .write(true)
        .create(true)
        .truncate(false)
        .mode(0o644)
        .open(dir.join("rewrite.json.lock"))
        .expect("lock file");
    lock.lock().expect("flock");
    let tmp = dir.join(".rewrite.json.tmp");
    let mut file = OpenOptions::new()
        .write(true)
        .create(true)
        .truncate(true)
        .mode(0o644)
        .open(&tmp)
        .expect("temporary file");
    file.write_all(bytes).expect("write");
    file.sync_all().expect("fsync");
    drop(file);
    fs::rename(&tmp, dir.join("rewrite.json")).expect("rename");
    File::open(dir)
        .and_then(|d| d.sync_all())
        .expect("directory fsync");
    lock.unlock().expect("unlock");
}

fn benches(c: &mut Criterion) {
    for n in SIZES {
        let (dir, reg) = populated(n);
        lease_benches(c, n, &reg);
        read_benches(c, n, &reg);
        floor_benches(c, n, &reg);
        drop(dir);
    }
}

/// Making and releasing leases on a registry of `n` leases.
fn lease_benches(c: &mut Criterion, n: usize, reg: &Registry) {
    let id = || BenchmarkId::from_parameter(n);
    c.benchmark_group("register").bench_function(id(), |b| {
        b.iter_custom(|iters| {
            let mut spent = Duration::ZERO;
            for _ in 0..iters {
                let t = Instant::now();
                black_box(fixed(reg));
                spent += t.elapsed();
                reg.release(NEW).expect("release");
            }
            spent
        })
    });

    c.benchmark_group("release").bench_function(id(), |b| {
        b.iter_custom(|iters| {
            let mut spent = Duration::ZERO;
            for _ in 0..iters {
                fixed(reg);
                let t = Instant::now();
                assert!(reg.release(black_box(NEW)).expect("release"));
                spent += t.elapsed();
            }
            spent
        })
    });

    c.benchmark_group("register_release")
        .bench_function(id(), |b| {
            b.iter(|| {
                black_box(fixed(reg));
                reg.release(NEW).expect("release")
            })
        });

    c.benchmark_group("allocate").bench_function(id(), |b| {
        b.iter_custom(|iters| {
            let mut spent = Duration::ZERO;
            for _ in 0..iters {
                let t = Instant::now();
                black_box(
                    reg.allocate(NEW, "default", &LeaseOptions::default())
                        .expect("allocate"),
                );
                spent += t.elapsed();
                reg.release(NEW).expect("release");
            }
            spent
        })
    });
    owned_benches(c, n, reg);
}

/// Leases owned by this process, allocated and released, and bound with `listen`.
fn owned_benches(c: &mut Criterion, n: usize, reg: &Registry) {
    let id = || BenchmarkId::from_parameter(n);
    let owned = LeaseOptions {
        pid: Some(std::process::id()),
        ..LeaseOptions::default()
    };
    c.benchmark_group("allocate_release_owned")
        .bench_function(id(), |b| {
            b.iter(|| {
                black_box(reg.allocate(NEW, "default", &owned).expect("allocate"));
                reg.release(NEW).expect("release")
            })
        });

    let pool = Choice::Pool(None);
    c.benchmark_group("listen_release_owned")
        .bench_function(id(), |b| {
            b.iter(|| {
                let bound = reg
                    .listen(NEW, &pool, &owned, &ListenOptions::default())
                    .expect("listen");
                reg.release(NEW).expect("release");
                drop(black_box(bound));
            })
        });
}

/// Reading a lease of a registry of `n` leases, with and without a change to catch up on.
fn read_benches(c: &mut Criterion, n: usize, reg: &Registry) {
    let id = || BenchmarkId::from_parameter(n);
    let probe = "service-00005";
    c.benchmark_group("get").bench_function(id(), |b| {
        b.iter(|| reg.get(black_box(probe)).expect("get").expect("present"))
    });

    // Another handle appends a change before each timed `get`, which parses that line.
    let other = Registry::open(Some(reg.path())).expect("open");
    c.benchmark_group("get_after_write")
        .bench_function(id(), |b| {
            b.iter_custom(|iters| {
                let mut spent = Duration::ZERO;
                for i in 0..iters {
                    if i % 2 == 0 {
                        other
                            .register(NEW, REGISTER_PORT, Mode::Fixed, &LeaseOptions::default())
                            .expect("register");
                    } else {
                        other.release(NEW).expect("release");
                    }
                    let t = Instant::now();
                    black_box(reg.get(probe).expect("get"));
                    spent += t.elapsed();
                }
                other.release(NEW).expect("release");
                spent
            })
        });
}

/// The floor (a bare append and a bare rewrite of the same bytes), and register + release
/// timed in pairs with it.
fn floor_benches(c: &mut Criterion, n: usize, reg: &Registry) {
    let id = || BenchmarkId::from_parameter(n);
    let floor_dir = tempfile::tempdir().expect("temporary directory");
    let floor = FloorAppend::new(floor_dir.path());
    c.benchmark_group("floor_append")
        .bench_function(id(), |b| b.iter(|| floor.append(black_box(LINE))));
    // The whole registry as it is now (n leases), rewritten in a directory of its own.
    let bytes = fs::read(reg.path()).expect("registry bytes");
    c.benchmark_group("floor_rewrite")
        .bench_function(id(), |b| {
            b.iter(|| floor_rewrite(floor_dir.path(), black_box(&bytes)))
        });

    // The target's ratio, measured pairwise: every register + release is followed by two
    // floor appends, so that load that comes and goes (other processes' disk writes make
    // fdatasync slower) weighs on both alike. Criterion times the pair; the floor's share
    // goes to `<criterion dir>/paired/<n>.json`.
    let mut pairs: Vec<(Duration, Duration, u64)> = Vec::new();
    c.benchmark_group("paired_register_release")
        .bench_function(id(), |b| {
            b.iter_custom(|iters| {
                let (mut core, mut spent) = (Duration::ZERO, Duration::ZERO);
                for _ in 0..iters {
                    let t = Instant::now();
                    black_box(fixed(reg));
                    reg.release(NEW).expect("release");
                    core += t.elapsed();
                    let t = Instant::now();
                    floor.append(LINE);
                    floor.append(LINE);
                    spent += t.elapsed();
                }
                pairs.push((core, spent, iters));
                core
            })
        });
    write_pairs(n, &pairs);
}

/// Writes, per criterion sample (warm-up included), the time per pair of register + release
/// and per two floor appends, in nanoseconds, and their ratio, as JSON.
fn write_pairs(n: usize, pairs: &[(Duration, Duration, u64)]) {
    let root = std::env::var_os("CRITERION_HOME")
        .map(std::path::PathBuf::from)
        .unwrap_or_else(|| {
            let target = std::env::var_os("CARGO_TARGET_DIR").unwrap_or_else(|| "target".into());
            Path::new(&target).join("criterion")
        });
    let dir = root.join("paired");
    fs::create_dir_all(&dir).expect("paired directory");
    let samples: Vec<String> = pairs
        .iter()
        .filter(|(_, floor, iters)| !floor.is_zero() && *iters > 0)
        .map(|(core, floor, iters)| {
            format!(
                "{{\"core_ns\": {}, \"floor_ns\": {}, \"ratio\": {:.4}}}",
                core.as_nanos() / u128::from(*iters),
                floor.as_nanos() / u128::from(*iters),
                core.as_secs_f64() / floor.as_secs_f64()
            )
        })
        .collect();
    let json = format!(
        "{{\"leases\": {n}, \"samples\": [\n{}\n]}}\n",
        samples.join(",\n")
    );
    fs::write(dir.join(format!("{n}.json")), json).expect("paired results");
}

fn config() -> Criterion {
    // Short runs: `make bench` is meant to finish in minutes on a shared machine. Every
    // estimate is still the median of many timed calls (see docs/benchmarks.md).
    Criterion::default()
        .sample_size(20)
        .warm_up_time(Duration::from_millis(300))
        .measurement_time(Duration::from_secs(2))
        .configure_from_args()
}

criterion_group! {
    name = registry;
    config = config();
    targets = benches
}
criterion_main!(registry);
