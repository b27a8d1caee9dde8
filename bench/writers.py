"""Writers on one registry at once (issue 25, targets 3 and 7), for bench/run.py.

- **8 processes against 1**, each running `allocate` + `release` of leases without an owner
  (every change waits for its flush) or `get`, on one registry for a fixed time: aggregate
  operations per second; beside them, the same processes running the bare floor (flock,
  append, unlock, fdatasync) from Python, with the lock waited for by the kernel and polled
  as portpool polls it: the ceiling that the flush outside the lock allows on this machine.
- **The tail under contention:** 12 processes reloading at once, each `begin_handover` +
  `commit_handover` of its own pid-owned pool lease, 120 times; every call is timed, and
  the p50 and p99 over all of them are set beside the floor under the same load (12
  processes: flock, append one line, unlock; the lock waited for by the kernel).

`python writers.py --worker ...` is the body of one concurrent process.
"""

from __future__ import annotations

import json
import os
import statistics
import subprocess
import sys
import time
import warnings
from collections.abc import Callable
from pathlib import Path

WRITERS = 8
RELOADERS = 12
RELOADS = 120
P99_TARGET = 2e-3

FLOOR_LINE = b'{"leases":[{"name":"worker-1","port":9000,"protocol":"tcp","mode":"pool","pool":"default","created":1795451991}]}\n'


def floor_step(lock: int, fd: int, polled: bool, flush: bool = True) -> None:
    """The floor of a change, from Python: flock, append one line, unlock, and (`flush`)
    fdatasync. `polled` waits for the lock as portpool did before it blocked (LOCK_NB, pauses
    from 10 µs doubling to 200 µs); otherwise flock blocks and the kernel wakes the waiter."""
    import fcntl

    if polled:
        pause = 10e-6
        while True:
            try:
                fcntl.flock(lock, fcntl.LOCK_EX | fcntl.LOCK_NB)
                break
            except BlockingIOError:
                time.sleep(pause)
                pause = min(pause * 2, 200e-6)
    else:
        fcntl.flock(lock, fcntl.LOCK_EX)
    os.write(fd, FLOOR_LINE)
    fcntl.flock(lock, fcntl.LOCK_UN)
    if flush:
        os.fdatasync(fd)


def open_floor(registry: str) -> tuple[int, int]:
    lock = os.open(f"{registry}.floor.lock", os.O_RDWR | os.O_CREAT, 0o644)
    fd = os.open(f"{registry}.floor", os.O_WRONLY | os.O_APPEND | os.O_CREAT, 0o644)
    return lock, fd


def wait_until(start_at: float) -> None:
    while time.time() < start_at:
        time.sleep(0.001)


def throughput(registry: str, name: str, op: str, start_at: float, seconds: float) -> int:
    """Repeats `op` from `start_at` for `seconds`; returns how many operations completed."""
    import portpool

    reg = portpool.Registry(registry)
    reg.get("service-00000")  # the first parse is not part of the steady state
    floor = op.startswith("floor")
    if floor:
        lock, fd = open_floor(registry)
    wait_until(start_at)
    deadline = start_at + seconds
    done = 0
    while time.time() < deadline:
        if op == "write":
            reg.allocate(name)
            reg.release(name)
            done += 2
        elif floor:
            floor_step(lock, fd, op == "floor-polled")
            floor_step(lock, fd, op == "floor-polled")
            done += 2
        else:
            reg.get("service-00005")
            done += 1
    return done


def reload_times(registry: str, name: str, op: str, start_at: float) -> list[float]:
    """Seconds of each call: `begin_handover` and `commit_handover` of this process's own
    pid-owned pool lease (`op` "reload"), or the floor's flock + append + unlock ("floor")."""
    import portpool

    reg = portpool.Registry(registry)
    pid = os.getpid()
    if op == "reload":
        reg.allocate(name, "bench", pid=pid)
        calls: list[Callable[[], object]] = [
            lambda: reg.begin_handover(name, pid),
            lambda: reg.commit_handover(name, pid),
        ]
    else:
        lock, fd = open_floor(registry)
        step = lambda: floor_step(lock, fd, False, flush=False)  # noqa: E731
        calls = [step, step]
    wait_until(start_at)
    out = []
    clock = time.perf_counter
    for _ in range(RELOADS):
        for call in calls:
            t = clock()
            call()
            out.append(clock() - t)
    if op == "reload":
        reg.release(name)
    return out


def worker(argv: list[str]) -> None:
    """One concurrent process; prints what it measured as JSON."""
    kind, registry, name, op, start_at, seconds = argv
    if kind == "throughput":
        print(json.dumps(throughput(registry, name, op, float(start_at), float(seconds))))
    else:
        print(json.dumps(reload_times(registry, name, op, float(start_at))))


def run_processes(kind: str, registry: Path, count: int, op: str, seconds: float) -> list[object]:
    """Starts `count` processes running `op` on `registry` together; returns what each printed."""
    start_at = time.time() + 1.5
    procs = [
        subprocess.Popen(
            [sys.executable, __file__, "--worker", kind, str(registry), f"worker-{i}", op, str(start_at), str(seconds)],
            stdout=subprocess.PIPE,
            text=True,
        )
        for i in range(count)
    ]
    results = []
    for p in procs:
        out, _ = p.communicate()
        if p.returncode != 0:
            raise SystemExit(f"bench worker failed with status {p.returncode}")
        results.append(json.loads(out))
    return results


def bench_throughput(scratch: Path, fill: Callable[[Path, int], None], rounds: int) -> dict[str, dict[str, list[float]]]:
    """Aggregate operations per second, 1 process and 8, interleaved over `rounds`."""
    out: dict[str, dict[str, list[float]]] = {}
    for op, size, seconds in (
        ("floor", 10, 2.0),
        ("floor-polled", 10, 2.0),
        ("write", 10, 2.0),
        ("write", 1_000, 2.0),
        ("read", 1_000, 1.0),
    ):
        reg = scratch / f"conc-{op}-{size}.json"
        fill(reg, size)
        key = f"{op}@{size}"
        out[key] = {"1": [], str(WRITERS): []}
        for _ in range(rounds):
            for count in (1, WRITERS):
                done = run_processes("throughput", reg, count, op, seconds)
                out[key][str(count)].append(sum(done) / seconds)  # type: ignore[arg-type]
    return out


def bench_reload(scratch: Path, rounds: int) -> dict[str, list[list[float]]]:
    """Every call's seconds, per round: 12 processes reloading, and the floor under the same
    load, interleaved."""
    import portpool

    reg = scratch / "reload.json"
    with warnings.catch_warnings():
        # A scratch pool: its overlap with the ephemeral range is harmless.
        warnings.simplefilter("ignore", portpool.PortpoolWarning)
        portpool.Registry(reg).set_pool("bench", 40000, 40999, probe=True)
    out: dict[str, list[list[float]]] = {"reload": [], "floor": []}
    for _ in range(rounds):
        for op in out:
            times = run_processes("reload", reg, RELOADERS, op, 0.0)
            out[op].append([t for per in times for t in per])  # type: ignore[union-attr]
    return out


def measure(scratch: Path, fill: Callable[[Path, int], None], rounds: int) -> dict[str, object]:
    return {
        "throughput": bench_throughput(scratch, fill, rounds),
        "reload": bench_reload(scratch, rounds),
    }


def quantile(xs: list[float], q: float) -> float:
    return statistics.quantiles(xs, n=100, method="inclusive")[round(q * 100) - 1]


def fmt_time(seconds: float) -> str:
    if seconds >= 1e-3:
        return f"{seconds * 1e3:.2f} ms"
    return f"{seconds * 1e6:.1f} µs"


def tail_of(runs: list[list[float]]) -> tuple[float, float]:
    """(p50, p99) per run, the median over runs of each."""
    p50 = statistics.median(quantile(r, 0.50) for r in runs)
    p99 = statistics.median(quantile(r, 0.99) for r in runs)
    return p50, p99


def scaling(v: dict[str, list[float]]) -> float:
    """Median over rounds of (aggregate of 8 processes) / (one process)."""
    return statistics.median([b / a for a, b in zip(v["1"], v[str(WRITERS)])])


def rows(results: dict[str, object]) -> list[str]:
    """The "### Targets" rows."""
    verdict = lambda ok: "met" if ok else "**missed**"  # noqa: E731
    out = []
    conc: dict[str, dict[str, list[float]]] = results.get("throughput", {})  # type: ignore[assignment]
    scale = {key: scaling(v) for key, v in conc.items()}
    floors = ", ".join(f"{label} {scale[key]:.2f}×" for key, label in (("floor@10", "blocking"), ("floor-polled@10", "polled")) if key in scale)
    for key in conc:
        if key.startswith("write"):
            r = scale[key]
            out.append(
                f"| {WRITERS} processes' durable allocate + release ≥ 2× one's ({key.replace('write@', '')}"
                f" leases) | {r:.2f}× (the floor in the same run: {floors}) | {verdict(r >= 2.0)} |"
            )
    reload: dict[str, list[list[float]]] = results.get("reload", {})  # type: ignore[assignment]
    if reload.get("reload"):
        p50, p99 = tail_of(reload["reload"])
        f50, f99 = tail_of(reload["floor"])
        out.append(
            f"| {RELOADERS} processes reloading (begin + commit handover, pid-owned pool lease, "
            f"{RELOADS} each): p99 ≤ 2 ms | p99 {fmt_time(p99)}, p50 {fmt_time(p50)} (floor under the same "
            f"load: p99 {fmt_time(f99)}, p50 {fmt_time(f50)}) | {verdict(p99 <= P99_TARGET)} |"
        )
    return out


def tables(results: dict[str, object]) -> list[str]:
    """The section of docs/benchmarks.md with every number behind those rows."""
    conc: dict[str, dict[str, list[float]]] = results.get("throughput", {})  # type: ignore[assignment]
    L = [
        f"### One registry, {WRITERS} processes against 1 (Python, release wheel)",
        "",
        f"| Operation | 1 process (ops/s) | {WRITERS} processes, aggregate (ops/s) | {WRITERS} ÷ 1 |",
        "|---|---|---|---|",
    ]
    labels = {
        "floor": "floor from Python: flock (blocking), append, unlock, fdatasync",
        "floor-polled": "the same floor, the lock polled (pauses from 10 µs doubling to 200 µs)",
        "write": "allocate + release (no owner: flushed)",
        "read": "get",
    }
    for key, v in conc.items():
        op, size = key.split("@")
        label = labels[op] if op.startswith("floor") else f"{labels[op]}, {int(size):,} leases"
        L.append(
            f"| {label} | {statistics.median(v['1']):,.0f} | {statistics.median(v[str(WRITERS)]):,.0f} | {scaling(v):.2f}× |"
        )
    reload: dict[str, list[list[float]]] = results.get("reload", {})  # type: ignore[assignment]
    if reload.get("reload"):
        L += [
            "",
            f"{RELOADERS} processes at once, {RELOADS} reloads each, every call timed (median over rounds):",
            "",
            "| Call | p50 | p90 | p99 | max |",
            "|---|---|---|---|---|",
        ]
        for op, label in (("reload", "`begin_handover` or `commit_handover`"), ("floor", "floor: flock, append, unlock")):
            runs = reload[op]
            cells = [statistics.median(quantile(r, q) for r in runs) for q in (0.5, 0.9, 0.99)]
            cells.append(statistics.median(max(r) for r in runs))
            L.append(f"| {label} | " + " | ".join(fmt_time(c) for c in cells) + " |")
    L.append("")
    return L


if __name__ == "__main__":
    if len(sys.argv) > 1 and sys.argv[1] == "--worker":
        worker(sys.argv[2:])
    else:
        raise SystemExit("run by bench/run.py (or `python writers.py --worker ...`)")
