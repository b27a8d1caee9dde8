"""The interop driver: every language's workers against one registry at once, then the checks.

Run by `make -C tests/interop test` with the repository's virtualenv interpreter:

    driver.py --c-worker BIN --go-worker BIN --cli BIN [--copies 2] [--ops 1000] [--keep]

It makes a registry in a temporary directory with pool "interop" (no bind probe, so the host's
own sockets play no part), starts `--copies` processes of each worker at once, waits, reads
their logs and checks them (see README.md). It prints what it measured, one line per check,
and a closing line `N passed, N failed`; it exits 1 when any check failed.
"""

from __future__ import annotations

import argparse
import json
import os
import shutil
import subprocess
import sys
import tempfile
import time
from collections import Counter
from pathlib import Path

import portpool

from checker import (
    Interval,
    LogError,
    Record,
    find_overlaps,
    intervals,
    listing_problems,
    read_log,
    registry_problems,
)

HERE = Path(__file__).resolve().parent
POOL = "interop"
POOL_START = 41000
# Each worker holds at most three ports of one protocol at once (a keeper, a lease and its
# handover port); the pool leaves a few more, so no allocation ever finds it full.
PORTS_PER_WORKER = 3
SPARE_PORTS = 8
TIMEOUT = 300
MIN_OPS = 10000


def commands(args: argparse.Namespace) -> dict[str, list[str]]:
    """How to start each language's worker; the worker's four arguments follow."""
    return {
        "c": [args.c_worker],
        "go": [args.go_worker],
        "python": [sys.executable, str(HERE / "python" / "worker.py")],
        "node": [args.node, str(HERE / "node" / "worker.js")],
        "cli": ["bash", str(HERE / "cli" / "worker.sh")],
    }


class Checks:
    """Named checks: each prints one line; the tally closes the run."""

    def __init__(self) -> None:
        self.passed = 0
        self.failed = 0

    def check(self, name: str, problems: list[str]) -> None:
        if problems:
            self.failed += 1
            print(f"FAIL {name}")
            for p in problems[:10]:
                print(f"     {p}")
            if len(problems) > 10:
                print(f"     ... and {len(problems) - 10} more")
        else:
            self.passed += 1
            print(f"ok   {name}")


def run_workers(
    cmds: dict[str, list[str]], workers: list[tuple[str, str]], registry: Path, ops: int, logs: Path
) -> dict[str, tuple[int, str]]:
    """Starts every worker at once and waits for all; returns each one's exit code and stderr."""
    procs = {}
    for lang, wid in workers:
        log = logs / f"{wid}.log"
        procs[wid] = subprocess.Popen(
            [*cmds[lang], str(registry), wid, str(ops), str(log)],
            stdout=subprocess.DEVNULL,
            stderr=subprocess.PIPE,
            text=True,
        )
    deadline = time.monotonic() + TIMEOUT
    results = {}
    for wid, proc in procs.items():
        try:
            _, err = proc.communicate(timeout=max(1.0, deadline - time.monotonic()))
            results[wid] = (proc.returncode, err.strip())
        except subprocess.TimeoutExpired:
            proc.kill()
            _, err = proc.communicate()
            results[wid] = (-1, f"still running after {TIMEOUT} s; killed. {err.strip()}")
    return results


# A worker in the old generation's place: it allocates a lease it owns, starts the next
# generation (a child that only sleeps), begins a handover to it, prints
# "OLD_PORT NEXT_PORT CHILD_PID" and dies there with SIGKILL, mid-handover.
CRASHING_WORKER = """
import os, signal, subprocess, sys
import portpool
reg = portpool.Registry(sys.argv[1])
old = reg.allocate("crash-svc", sys.argv[2], pid=os.getpid())
child = subprocess.Popen(
    ["sleep", "120"], start_new_session=True,
    stdin=subprocess.DEVNULL, stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL,
)
new = reg.begin_handover("crash-svc", pid=child.pid)
print(old, new, child.pid, flush=True)
os.kill(os.getpid(), signal.SIGKILL)
"""


def crash_mid_handover(cli: str, registry: Path) -> list[str]:
    """A worker (Python) crashes mid-handover; the CLI settles it; every rule is checked."""
    problems: list[str] = []

    def pp(*args: str) -> subprocess.CompletedProcess[str]:
        return subprocess.run([cli, "--registry", str(registry), *args], capture_output=True, text=True)

    done = subprocess.run(
        [sys.executable, "-c", CRASHING_WORKER, str(registry), POOL], capture_output=True, text=True
    )
    if done.returncode != -9 or len(done.stdout.split()) != 3:
        return [f"the crashing worker exited {done.returncode}: {done.stdout!r} {done.stderr!r}"]
    old, new, child = (int(x) for x in done.stdout.split())
    try:
        # The old generation is gone, the next one lives: the handover commits, never frees.
        gc = pp("gc", "--json")
        if gc.returncode != 0 or "took over" not in gc.stdout:
            problems.append(f"gc after the old generation crashed: {gc.returncode} {gc.stdout!r}")
        leases = {lease["name"]: lease for lease in json.loads(pp("list", "--json").stdout)}
        lease = leases.get("crash-svc", {})
        if (lease.get("port"), (lease.get("owner") or {}).get("pid"), lease.get("next")) != (new, child, None):
            problems.append(f"after the crash, crash-svc is {lease}, want port {new} owned by {child}")
        if pp("check", str(old)).returncode != 0:
            problems.append(f"the crashed generation's port {old} is not free again")
        taken = pp("register", "intruder", str(new), "fixed", "--force")
        if taken.returncode != 3:
            problems.append(f"another name took the next generation's live port {new}: {taken.stdout!r}")
    finally:
        os.kill(child, 9)
    # The next generation dies too: its lease is reclaimed.
    time.sleep(0.2)
    gc = pp("gc", "--json")
    if "crash-svc" not in gc.stdout or "crash-svc" in pp("list").stdout.split():
        problems.append(f"crash-svc outlived both generations: {gc.stdout!r}")
    return problems


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--c-worker", required=True)
    parser.add_argument("--go-worker", required=True)
    parser.add_argument("--cli", required=True, help="the portpool binary")
    parser.add_argument("--node", default="node")
    parser.add_argument("--copies", type=int, default=2, help="processes per language")
    parser.add_argument("--ops", type=int, default=1000, help="calls per worker")
    parser.add_argument("--keep", action="store_true", help="keep the registry and logs")
    args = parser.parse_args()

    cmds = commands(args)
    os.environ["PORTPOOL"] = args.cli
    workers = [(lang, f"{lang}{i}") for lang in cmds for i in range(1, args.copies + 1)]
    lang_of = dict((wid, lang) for lang, wid in workers)
    pool_end = POOL_START + PORTS_PER_WORKER * len(workers) + SPARE_PORTS - 1

    scratch = Path(tempfile.mkdtemp(prefix="portpool-interop-"))
    failed = True
    try:
        registry = scratch / "registry.json"
        logs = scratch / "logs"
        logs.mkdir()
        portpool.Registry(registry).set_pool(POOL, POOL_START, pool_end, probe=False)

        started = time.monotonic()
        results = run_workers(cmds, workers, registry, args.ops, logs)
        elapsed = time.monotonic() - started

        checks = Checks()
        checks.check(
            "every worker exits 0",
            [f"{wid} exited {code}: {err}" for wid, (code, err) in results.items() if code != 0],
        )

        records: dict[str, list[Record]] = {}
        log_problems = []
        for _, wid in workers:
            try:
                records[wid] = read_log(logs / f"{wid}.log")
            except (OSError, LogError) as e:
                log_problems.append(str(e))
        checks.check("every log parses", log_problems)

        ops: Counter[str] = Counter()
        done_problems = []
        for wid, recs in records.items():
            done = [r for r in recs if r["ev"] == "done"]
            if not done:
                done_problems.append(f"{wid} did not finish")
            else:
                ops[lang_of[wid]] += done[0]["ops"]
        total = sum(ops.values())
        if total < MIN_OPS:
            done_problems.append(f"{total} operations in all, fewer than {MIN_OPS}")
        checks.check(f"every worker finishes, >= {MIN_OPS} operations in all", done_problems)

        spans: list[Interval] = []
        span_problems = []
        for wid, recs in records.items():
            try:
                spans += intervals(wid, recs)
            except LogError as e:
                span_problems.append(str(e))
        span_problems += [
            f"{s} is outside pool {POOL} ({POOL_START}-{pool_end})"
            for s in spans
            if not POOL_START <= s.port <= pool_end
        ]
        checks.check("every logged lease pairs up and lies in the pool", span_problems)

        # Each worker's run, from its first logged call to its last: every pair must share a
        # moment, or the processes did not really run at once.
        windows = {
            wid: (min(ts), max(ts))
            for wid, recs in records.items()
            if (ts := [r["t"] for r in recs if "t" in r])
        }
        checks.check(
            "every worker runs while every other one does",
            [
                f"{a} ({windows[a][0]}-{windows[a][1]}) and {b} ({windows[b][0]}-{windows[b][1]})"
                for a in windows
                for b in windows
                if a < b and not (windows[a][0] < windows[b][1] and windows[b][0] < windows[a][1])
            ],
        )
        shared = min(end for _, end in windows.values()) - max(start for start, _ in windows.values())

        overlaps = find_overlaps(spans)
        checks.check(
            "no two names ever hold one port at the same time",
            [f"{a}  AND  {b}" for a, b in overlaps],
        )

        listing_errors = []
        listings = 0
        foreign_views: Counter[str] = Counter()
        for wid, recs in records.items():
            for r in recs:
                if r["ev"] != "list":
                    continue
                listings += 1
                try:
                    listing_errors += [f"{wid}: {p}" for p in listing_problems(r)]
                    names = [lease["name"] for lease in r["leases"]]
                except (KeyError, TypeError, ValueError) as e:
                    listing_errors.append(f"{wid}: a listing cannot be read: {e!r}")
                    continue
                others = {lang_of.get(n.split("-", 1)[0]) for n in names} - {lang_of[wid], None}
                foreign_views[lang_of[wid]] += bool(others)
        checks.check("every listing holds the worker's own leases", listing_errors)

        expected: dict[str, tuple[int, str]] = {}
        for recs in records.values():
            expected.update(
                {r["name"]: (r["port"], r["protocol"]) for r in recs if r["ev"] == "keep"}
            )
        keeper_problems = [
            f"{wid} reported {n} keepers, not 2"
            for wid, recs in records.items()
            if (n := sum(r["ev"] == "keep" for r in recs)) != 2
        ]
        checks.check("every worker reports its two keepers", keeper_problems)

        checks.check(
            "a worker that crashes mid-handover leaves its port to the next generation",
            crash_mid_handover(args.cli, registry),
        )

        # The final registry, read by each language's worker in turn (OPS 0: list once).
        final = run_workers(cmds, [(lang, f"final-{lang}") for lang in cmds], registry, 0, logs)
        for lang in cmds:
            code, err = final[f"final-{lang}"]
            problems = [f"exited {code}: {err}"] if code != 0 else []
            if not problems:
                try:
                    seen = [r for r in read_log(logs / f"final-{lang}.log") if r["ev"] == "seen"]
                    problems = registry_problems(seen[0]["leases"], expected)
                except (OSError, LogError, IndexError, KeyError, TypeError, ValueError) as e:
                    problems = [f"its listing cannot be read: {e!r}"]
            checks.check(f"{lang} reads the final registry as exactly the keepers", problems)

        print()
        print(
            f"interop: {len(workers)} processes, {elapsed:.1f} s, all running at once for "
            f"{max(shared, 0) / 1e9:.1f} s; pool of {pool_end - POOL_START + 1} ports"
        )
        print("operations: " + ", ".join(f"{lang} {ops[lang]}" for lang in cmds) + f"; total {total}")
        holders = Counter((s.port, s.protocol) for s in spans)
        print(
            f"leases logged: {len(spans)} over {len(holders)} ports and protocols "
            f"(up to {max(holders.values(), default=0)} holders each); listings: {listings}"
        )
        print(f"python package: {Path(portpool.__file__).parent}")
        print(
            "listings showing other languages' leases: "
            + ", ".join(f"{lang} {foreign_views[lang]}" for lang in cmds)
        )
        if args.keep or checks.failed:
            print(f"registry and logs kept in {scratch}")
        print(f"{checks.passed} passed, {checks.failed} failed")
        failed = checks.failed > 0
        return 1 if failed else 0
    finally:
        if not (args.keep or failed):
            shutil.rmtree(scratch, ignore_errors=True)


if __name__ == "__main__":
    sys.exit(main())
