"""Interop worker in Python: ``worker.py REGISTRY WORKER_ID OPS LOG``.

Runs the cycle every interop worker runs (see ../README.md) against pool "interop" of
REGISTRY through ``import portpool``, and writes one JSON object per line to LOG. OPS 0 only
lists the registry once and logs what it saw. Any failed call exits 1 with the call and the
error on stderr.
"""

from __future__ import annotations

import json
import sys
import time
from typing import Any, TextIO

import portpool

POOL = "interop"


class Worker:
    def __init__(self, registry: str, worker_id: str, log: TextIO) -> None:
        self.reg = portpool.Registry(registry)
        self.id = worker_id
        self.log = log
        self.count = 0

    def write(self, record: dict[str, Any]) -> None:
        self.log.write(json.dumps(record, separators=(",", ":")) + "\n")

    def call(self, what: str, fn: Any, *args: Any) -> Any:
        """Calls one portpool function and counts it; any error ends the worker."""
        try:
            result = fn(*args)
        except portpool.PortpoolError as e:
            sys.exit(f"worker {self.id}: {what}({', '.join(map(str, args))}) failed: {e!r}")
        self.count += 1
        return result

    def acquired(self, name: str, port: int) -> None:
        """Logs that `name` holds `port`; called only after the call that leased it returned."""
        self.write({"ev": "acq", "name": name, "port": port, "t": time.time_ns()})

    def released(self, name: str, port: int) -> None:
        """Logs that `name` gives up `port`; called before the call that releases it."""
        self.write({"ev": "rel", "name": name, "port": port, "t": time.time_ns()})

    def allocate(self, name: str) -> int:
        port: int = self.call("allocate", self.reg.allocate, name, POOL)
        self.acquired(name, port)
        return port

    def begin_handover(self, name: str) -> int:
        port: int = self.call("begin_handover", self.reg.begin_handover, name)
        self.acquired(name, port)
        return port

    def commit_handover(self, held: dict[str, Any]) -> None:
        self.released(held["name"], held["port"])
        port = self.call("commit_handover", self.reg.commit_handover, held["name"])
        if port != held["next"]:
            sys.exit(f"worker {self.id}: commit_handover returned {port}, begin gave {held['next']}")
        held["port"], held["next"] = port, None

    def abort_handover(self, held: dict[str, Any]) -> None:
        self.released(held["name"], held["next"])
        port = self.call("abort_handover", self.reg.abort_handover, held["name"])
        if port != held["next"]:
            sys.exit(f"worker {self.id}: abort_handover returned {port}, begin gave {held['next']}")
        held["next"] = None

    def release(self, held: dict[str, Any]) -> None:
        self.released(held["name"], held["port"])
        if not self.call("release", self.reg.release, held["name"]):
            sys.exit(f"worker {self.id}: release({held['name']}) found no lease")

    def list_and_log(self, ev: str, own: list[dict[str, Any]]) -> None:
        """Lists the registry and logs it beside what this worker holds, for the driver."""
        leases = self.call("list", self.reg.list)
        self.write(
            {
                "ev": ev,
                "own": own,
                "leases": [
                    {
                        "name": lease.name,
                        "port": lease.port,
                        "protocol": lease.protocol,
                        "next": lease.next.port if lease.next else None,
                    }
                    for lease in leases
                ],
            }
        )

    def run(self, ops: int) -> None:
        if ops == 0:
            self.list_and_log("seen", [])
            return
        keepers: list[dict[str, Any]] = []
        for k in "ab":
            name = f"{self.id}-keep-{k}"
            keepers.append({"name": name, "port": self.allocate(name), "next": None})
        i = 0
        while self.count < ops:
            name = f"{self.id}-t{i}"
            held = {"name": name, "port": self.allocate(name), "next": None}
            kind = i % 3  # 0: hand over and commit, 1: hand over and abort, 2: neither
            if kind != 2:
                held["next"] = self.begin_handover(name)
            self.list_and_log("list", keepers + [held])
            if kind == 0:
                self.commit_handover(held)
            elif kind == 1:
                self.abort_handover(held)
            self.release(held)
            i += 1
        keepers[0]["next"] = self.begin_handover(keepers[0]["name"])
        self.commit_handover(keepers[0])
        for held in keepers:
            self.write({"ev": "keep", "name": held["name"], "port": held["port"]})


def main() -> None:
    if len(sys.argv) != 5:
        sys.exit(f"usage: {sys.argv[0]} REGISTRY WORKER_ID OPS LOG")
    registry, worker_id, ops, log_path = sys.argv[1:]
    with open(log_path, "w", encoding="utf-8") as log:
        worker = Worker(registry, worker_id, log)
        worker.run(int(ops))
        worker.write({"ev": "done", "ops": worker.count})


if __name__ == "__main__":
    main()
