"""Issue 25, targets 1 and 6: what a new process (the CLI) pays for the registry's size.

- `get`, `register` of a new name and `register` + `release` at 10 and at 10,000 leases,
  interleaved round by round (the ratio is the median of the per-round ratios);
- at 100,000 leases: `get`'s time, and the peak resident memory of `get`, `list`,
  `list --json`, `register` and `gc` (of the stale leases below) (each child's own, from
  `wait4`), against the file's size;
- `gc` of 50,000 stale leases (owned by 50 processes that exited) among 100,000.

The registries are written directly as version-2 files (docs/registry-format.md): a header, the
default pool and one line per lease, sorted by name; leases without an owner unless stale.
"""

from __future__ import annotations

import json
import os
import shutil
import statistics
import subprocess
import time
from collections.abc import Callable
from pathlib import Path

Rounds = Callable[[dict[str, Callable[[], float]]], dict[str, list[float]]]
BIG = 100_000
STALE = 50_000
MEMORY_COMMANDS = {
    "get": ["get", "service-000005"],
    "list": ["list"],
    "list --json": ["list", "--json"],
    "register": ["register", "cold-new", "65200"],
}


def dead_owners(count: int) -> list[int]:
    """Pids of processes that have exited (and been reaped)."""
    pids = []
    for _ in range(count):
        p = subprocess.Popen(["/bin/true"])
        p.wait()
        pids.append(p.pid)
    return pids


def write_registry(path: Path, n: int, stale: int = 0) -> None:
    """A version-2 registry of `n` leases named service-NNNNNN; the first `stale` are owned by
    processes that exited. TCP ports from 1024 up, then UDP ones."""
    dead = dead_owners(50) if stale else []
    lines = [
        json.dumps({"version": 2, "generation": os.urandom(8).hex()}, separators=(",", ":")),
        '{"pool":{"name":"default","start":9000,"end":9999,"cursor":9000,"probe":true}}',
    ]
    for i in range(n):
        lease: dict[str, object] = {
            "name": f"service-{i:06}", "port": 1024 + i % 64_000,
            "protocol": "tcp" if i < 64_000 else "udp", "mode": "fixed", "pool": None,
            "created": 1_795_451_991,
        }
        if i < stale:
            lease["owner"] = {"pid": dead[i % len(dead)], "start_time": 1}
        lines.append(json.dumps({"lease": lease}, separators=(",", ":")))
    path.write_text("\n".join(lines) + "\n")


def run(argv: list[str]) -> tuple[float, int]:
    """Seconds and peak resident memory (bytes) of one child."""
    t = time.perf_counter()
    p = subprocess.Popen(argv, stdout=subprocess.DEVNULL)
    _, status, usage = os.wait4(p.pid, 0)
    spent = time.perf_counter() - t
    p.returncode = os.waitstatus_to_exitcode(status)
    if p.returncode != 0:
        raise RuntimeError(f"{argv} exited with {p.returncode}")
    return spent, usage.ru_maxrss * 1024


def cold_ops(cli: str, reg: Path, n: int) -> dict[str, Callable[[], float]]:
    base = [cli, "--registry", str(reg)]

    def get() -> float:
        return statistics.median(run(base + ["get", "service-000005"])[0] for _ in range(n))

    def register() -> float:
        spent = []
        for _ in range(n):
            spent.append(run(base + ["register", "cold-new", "65200"])[0])
            run(base + ["release", "cold-new"])
        return statistics.median(spent)

    def register_release() -> float:
        return statistics.median(
            run(base + ["register", "cold-rr", "65201"])[0] + run(base + ["release", "cold-rr"])[0]
            for _ in range(n)
        )

    return {"get": get, "register": register, "register+release": register_release}


def measure(cli: str, scratch: Path, rounds: Rounds) -> dict[str, object]:
    contenders = {}
    for size in (10, 10_000):
        reg = scratch / f"cold-{size}.json"
        write_registry(reg, size)
        for op, fn in cold_ops(cli, reg, 10).items():
            contenders[f"{op}@{size}"] = fn
    times = rounds(contenders)
    big = scratch / "cold-big.json"
    write_registry(big, BIG)
    size = big.stat().st_size
    get_big = rounds(cold_ops(cli, big, 3))["get"]
    memory = {}
    for name, args in MEMORY_COMMANDS.items():
        memory[name] = run([cli, "--registry", str(big), *args])[1]
    stale = scratch / "cold-stale.json"
    write_registry(stale, BIG, STALE)
    gc_times = []
    for _ in range(3):
        shutil.copyfile(stale, big)
        spent, memory["gc"] = run([cli, "--registry", str(big), "gc"])
        gc_times.append(spent)
    return {"times": times, "get_big": get_big, "file_size": size, "memory": memory, "gc": gc_times}


def rows(results: dict[str, object]) -> list[str]:
    """The targets' rows of docs/benchmarks.md."""
    times = results["times"]
    out = []
    for op in ("get", "register", "register+release"):
        r = statistics.median(b / a for a, b in zip(times[f"{op}@10"], times[f"{op}@10000"]))
        small, large = (statistics.median(times[f"{op}@{n}"]) * 1e3 for n in (10, 10000))
        out.append(
            f"| a new process's `{op}` at 10,000 leases ≤ 1.5× at 10 | {r:.2f}× "
            f"({large:.2f} ms against {small:.2f} ms) | {'met' if r <= 1.5 else '**missed**'} |"
        )
    size = results["file_size"]
    g = statistics.median(results["get_big"])
    out.append(
        f"| a new process's `get` at 100,000 leases ({size / 1e6:.1f} MB) ≤ 10 ms "
        f"| {g * 1e3:.1f} ms | {'met' if g <= 0.010 else '**missed**'} |"
    )
    for name, rss in results["memory"].items():
        r = rss / size
        out.append(
            f"| peak memory of `{name}` at 100,000 leases ≤ 3× the file | {r:.1f}× "
            f"({rss / 1e6:.0f} MB) | {'met' if r <= 3 else '**missed**'} |"
        )
    gc = statistics.median(results["gc"])
    out.append(
        f"| `gc` of 50,000 stale leases (of 100,000; 50 dead owners) ≤ 0.5 s | {gc:.2f} s "
        f"| {'met' if gc <= 0.5 else '**missed**'} |"
    )
    return out
