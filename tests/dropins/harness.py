"""The headline harness of the drop-ins: PROCESSES processes each ask for PORTS ports at once,
without binding any, and we count the ports that more than one process was given.

Contenders (each one run alone, all its processes started together on a barrier, and kept
alive until every one of them has its ports, so that every port handed out is still held):

- ``portpicker``: the original (PyPI), with no portserver: each process probes on its own;
- ``get-port``: the original (npm), likewise;
- ``portpool.portpicker`` and ``portpool/get-port``: the drop-ins, on one scratch registry
  ($PORTPOOL_REGISTRY), whose default pool (9000-18999: 10,000 ports) holds the 20 x 50 leases
  at once.

A duplicate is one more process given a port that another process was given: a port handed to
three processes counts two. The originals are expected to have some (they check only that a
port is unbound, and nothing is bound); the drop-ins must have none. ``--expect-zero`` makes
the run fail when a drop-in has any, which is what ``make -C tests/dropins test`` asserts.

Usage (the Makefile passes the paths):
  harness.py --python PY --node NODE --get-port GET_PORT_INDEX_JS --dropin PORTPOOL_GET_PORT_JS
             [--contenders a,b] [--processes 20] [--ports 50] [--json FILE]
             [--expect-zero]
"""

from __future__ import annotations

import argparse
import collections
import json
import os
import subprocess
import sys
import tempfile
import time
from pathlib import Path

HERE = Path(__file__).resolve().parent
ORIGINALS = ("portpicker", "get-port")
DROPINS = ("portpool.portpicker", "portpool/get-port")


def worker_command(args: argparse.Namespace, contender: str) -> list[str]:
    count = str(args.ports)
    if contender in ("portpicker", "portpool.portpicker"):
        return [args.python, str(HERE / "worker.py"), contender, count]
    module = args.get_port if contender == "get-port" else args.dropin
    return [args.node, str(HERE / "worker.mjs"), module, count]


def run(args: argparse.Namespace, contender: str) -> dict[str, object]:
    """Runs one contender; returns its counts."""
    with tempfile.TemporaryDirectory(prefix="portpool-dropins-") as scratch:
        registry = Path(scratch) / "registry.json"
        env = {**os.environ, "PORTPOOL_REGISTRY": str(registry)}
        env.pop("PORTSERVER_ADDRESS", None)  # the original portpicker probes on its own
        workers = [
            subprocess.Popen(
                worker_command(args, contender),
                stdin=subprocess.PIPE,
                stdout=subprocess.PIPE,
                env=env,
                text=True,
            )
            for _ in range(args.processes)
        ]
        try:
            for worker in workers:
                assert worker.stdout is not None
                line = worker.stdout.readline()
                if line.strip() != "ready":
                    raise SystemExit(f"{contender}: a worker did not start ({line!r})")
            start = time.perf_counter()
            for worker in workers:  # the barrier: every worker is waiting for this line
                assert worker.stdin is not None
                worker.stdin.write("go\n")
                worker.stdin.flush()
            given = []
            for worker in workers:
                assert worker.stdout is not None
                line = worker.stdout.readline()
                try:
                    given.append(json.loads(line))
                except json.JSONDecodeError:
                    raise SystemExit(f"{contender}: a worker failed ({line!r})") from None
            seconds = time.perf_counter() - start
        finally:
            for worker in workers:
                if worker.stdin is not None:
                    worker.stdin.close()
            for worker in workers:
                worker.wait(timeout=60)
    holders = collections.Counter(port for ports in given for port in set(ports))
    within = sum(len(ports) - len(set(ports)) for ports in given)
    return {
        "contender": contender,
        "processes": args.processes,
        "ports_each": args.ports,
        "duplicates": sum(n - 1 for n in holders.values() if n > 1),
        "shared_ports": sum(1 for n in holders.values() if n > 1),
        "duplicates_within_a_process": within,
        "seconds": round(seconds, 3),
    }


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--python", default=sys.executable)
    parser.add_argument("--node", default="node")
    parser.add_argument("--get-port", required=True, help="the original get-port's index.js")
    parser.add_argument("--dropin", required=True, help="portpool's get-port.js")
    parser.add_argument("--contenders", default=",".join(ORIGINALS + DROPINS))
    parser.add_argument("--processes", type=int, default=20)
    parser.add_argument("--ports", type=int, default=50)
    parser.add_argument("--json", type=Path, help="also write the results here as JSON")
    parser.add_argument("--expect-zero", action="store_true", help="fail when a drop-in has a duplicate")
    args = parser.parse_args()
    contenders = args.contenders.split(",")
    unknown = set(contenders) - set(ORIGINALS + DROPINS)
    if unknown:
        parser.error(f"unknown contenders: {', '.join(sorted(unknown))}")
    results = [run(args, contender) for contender in contenders]
    for r in results:
        print(
            f"{r['contender']:<20} {r['processes']} processes x {r['ports_each']} ports: "
            f"{r['duplicates']} duplicates across processes ({r['shared_ports']} ports shared), "
            f"{r['duplicates_within_a_process']} within one, {r['seconds']} s"
        )
    if args.json:
        args.json.write_text(json.dumps(results, indent=2) + "\n")
    failed = [
        r["contender"]
        for r in results
        if r["contender"] in DROPINS
        and (r["duplicates"] or r["duplicates_within_a_process"])
    ]
    if args.expect_zero and failed:
        print(f"harness: FAIL: duplicates from {', '.join(map(str, failed))}", file=sys.stderr)
        return 1
    return 0


if __name__ == "__main__":
    sys.exit(main())
