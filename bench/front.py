"""The front ends at their own floors (issue 25, targets 2, 4 and 5), for bench/run.py:

- the CLI: `portpool register` of a new name against a Rust hello world that also makes one
  durable append as the floor does (bench/append.rs), and `portpool --version` against the
  plain hello world (bench/hello.rs), spawned in the same rounds;
- Python: `Registry.list()` of 2,000 leases against the same core call whose leases become
  plain tuples in Rust (`portpool._native._lease_tuples`, the baseline kept for this bench);
- refusals against grants, from Python on one registry: `allocate` from a pool whose every
  port is leased against `allocate` from a pool of the same size with free ports (each timed
  grant is released untimed), and `register` of a fixed port another name holds against
  `register` of a free fixed port.

`measure(...)` returns seconds per call, per round; `rows(results)` the rows of the targets
table.
"""

from __future__ import annotations

import os
import subprocess
import time
import warnings
from collections.abc import Callable
from pathlib import Path

from rounds import ROUNDS, fmt_time, median, per_op, ratio, rounds

LIST_SIZE = 2_000
POOL_SIZE = 1_000


def _spawn(argv: list[str], n: int = 100) -> float:
    t = time.perf_counter()
    for _ in range(n):
        subprocess.run(argv, check=True, stdout=subprocess.DEVNULL)
    return (time.perf_counter() - t) / n


def measure_cli(cli: str, hello: Path, append: Path, scratch: Path) -> dict[str, list[float]]:
    """The CLI against a Rust program's floor, spawned in the same rounds."""
    reg = scratch / "front-cli.json"
    base = [cli, "--registry", str(reg)]
    subprocess.run(base + ["register", "front-warm", "50101"], check=True, stdout=subprocess.DEVNULL)

    def register_new() -> float:
        # A new name every time; the release that makes it new again is not timed.
        spent = 0.0
        for _ in range(100):
            t = time.perf_counter()
            subprocess.run(base + ["register", "front-new", "50100"], check=True, stdout=subprocess.DEVNULL)
            spent += time.perf_counter() - t
            subprocess.run(base + ["release", "front-new"], check=True, stdout=subprocess.DEVNULL)
        return spent / 100

    return rounds(
        {
            "hello": lambda: _spawn([str(hello)]),
            "hello + one floor append": lambda: _spawn([str(append), str(scratch / "front-floor")]),
            "--version": lambda: _spawn([cli, "--version"]),
            "register (new name)": register_new,
        }
    )


def _alternating(a: Callable[[], object], b: Callable[[], object], n: int) -> dict[str, list[float]]:
    """`a` ("list()") and `b` ("plain tuples") called in turn `n` times per round: each one's
    seconds per call, per round."""
    out: dict[str, list[float]] = {"list()": [], "plain tuples": []}
    for _ in range(ROUNDS):
        spent = [0.0, 0.0]
        for _ in range(n):
            for i, fn in enumerate((a, b)):
                t = time.perf_counter()
                fn()
                spent[i] += time.perf_counter() - t
        out["list()"].append(spent[0] / n)
        out["plain tuples"].append(spent[1] / n)
    return out


def _full_pools(reg: object, me: int) -> None:
    """Pool "full" of POOL_SIZE ports, every one leased to this process; pool "roomy" of the
    same size, empty. Neither probes (the ports may be bound on the host; the rules are
    measured, not the kernel)."""
    import portpool

    assert isinstance(reg, portpool.Registry)
    with warnings.catch_warnings():
        warnings.simplefilter("ignore", portpool.PortpoolWarning)
        reg.set_pool("full", 41000, 41000 + POOL_SIZE - 1, probe=False)
        reg.set_pool("roomy", 43000, 43000 + POOL_SIZE - 1, probe=False)
    reg.allocate_many([f"full-{i}" for i in range(POOL_SIZE)], "full", pid=me)


def measure_python(scratch: Path) -> dict[str, list[float]]:
    """Python's `list()` against plain tuples, and refusals against grants."""
    import portpool
    from portpool import _native

    listed = portpool.Registry(scratch / "front-list.json")
    with warnings.catch_warnings():
        warnings.simplefilter("ignore", portpool.PortpoolWarning)
        listed.set_pool("fill", 20000, 39999, probe=False)
    listed.allocate_many([f"service-{i:05}" for i in range(LIST_SIZE)], "fill")
    reg = portpool.Registry(scratch / "front-refusals.json")
    me = os.getpid()
    _full_pools(reg, me)
    held = reg.get("full-0")

    def refused(call: Callable[[], object], error: type[Exception]) -> Callable[[], None]:
        def run() -> None:
            try:
                call()
            except error:
                return
            raise SystemExit("bench: a refusal was granted")

        return run

    def granted(call: Callable[[], object], name: str, n: int) -> float:
        spent = 0.0
        for _ in range(n):
            t = time.perf_counter()
            call()
            spent += time.perf_counter() - t
            reg.release(name)
        return spent / n

    # list() and its baseline alternate call by call within each round: with 2,000 leases a
    # call takes milliseconds, long enough for load on a shared machine to come and go.
    lists = _alternating(listed.list, lambda: _native._lease_tuples(listed), 20)
    exhausted = refused(lambda: reg.allocate("front-x", pool="full", pid=me), portpool.ExhaustedError)
    conflict = refused(lambda: reg.register("front-x", held, mode="fixed", pid=me), portpool.ConflictError)
    return lists | rounds(
        {
            "allocate, exhausted pool (refused)": lambda: per_op(exhausted, 200),
            "allocate, pool with free ports (granted)": lambda: granted(
                lambda: reg.allocate("front-y", pool="roomy", pid=me), "front-y", 200
            ),
            "register, port leased to another name (refused)": lambda: per_op(conflict, 200),
            "register, free port (granted)": lambda: granted(
                lambda: reg.register("front-y", 47000, mode="fixed", pid=me), "front-y", 200
            ),
        }
    )


def measure(cli: str, hello: Path, append: Path, scratch: Path) -> dict[str, dict[str, list[float]]]:
    return {"cli": measure_cli(cli, hello, append, scratch), "python": measure_python(scratch)}


def _row(target: str, times: dict[str, list[float]], a: str, b: str, limit: float) -> str:
    r = ratio(times, a, b)
    measured = f"{r:.2f}× ({fmt_time(median(times[a]))} against {fmt_time(median(times[b]))})"
    return f"| {target} | {measured} | {'met' if r <= limit else '**missed**'} |"


def rows(results: dict[str, dict[str, list[float]]]) -> list[str]:
    out: list[str] = []
    cli, py = results.get("cli"), results.get("python")
    if cli:
        out.append(_row("CLI `register` of a new name ≤ 1.2× a Rust hello world + one floor append",
                        cli, "register (new name)", "hello + one floor append", 1.2))
        out.append(_row("`portpool --version` ≤ 1.1× a Rust hello world", cli, "--version", "hello", 1.1))
    if py:
        out.append(_row(f"Python `list()` of {LIST_SIZE:,} leases ≤ 1.5× the same leases as plain tuples from Rust",
                        py, "list()", "plain tuples", 1.5))
        out.append(_row(f"a refusal ≤ a grant: `allocate` from an exhausted pool ({POOL_SIZE:,} ports) "
                        "against one with free ports", py, "allocate, exhausted pool (refused)",
                        "allocate, pool with free ports (granted)", 1.0))
        out.append(_row("a refusal ≤ a grant: `register` of a port leased to another name against a free one",
                        py, "register, port leased to another name (refused)", "register, free port (granted)", 1.0))
    return out
