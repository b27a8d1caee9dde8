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

    def call(self, what: str, fn: Any, *args: Any, **kwargs: Any) -> Any:
        """Calls one portpool function and counts it; any error ends the worker."""
        try:
            result = fn(*args, **kwargs)
        except portpool.PortpoolError as e:
            sys.exit(f"worker {self.id}: {what}({', '.join(map(str, args))}) failed: {e!r}")
        self.count += 1
        return result

    def event(self, ev: str, held: dict[str, Any], port: int) -> None:
        self.write(
            {
                "ev": ev,
                "name": held["name"],
                "port": port,
                "proto": held["protocol"],
                "t": time.time_ns(),
            }
        )

    def acquired(self, held: dict[str, Any], port: int) -> None:
        """Logs that `held` holds `port`; called only after the call that leased it returned."""
        self.event("acq", held, port)

    def released(self, held: dict[str, Any], port: int) -> None:
        """Logs that `held` gives up `port`; called before the call that releases it."""
        self.event("rel", held, port)

    def allocate(self, name: str, protocol: str) -> dict[str, Any]:
        """Leases a port of the pool to `name`; returns what the worker then holds."""
        port = self.call("allocate", self.reg.allocate, name, POOL, protocol=protocol)
        held = {"name": name, "port": port, "protocol": protocol, "next": None}
        self.acquired(held, port)
        return held

    def begin_handover(self, held: dict[str, Any]) -> None:
        held["next"] = self.call("begin_handover", self.reg.begin_handover, held["name"])
        self.acquired(held, held["next"])

    def commit_without_handover(self, held: dict[str, Any]) -> None:
        """Commits a handover when none is under way: the one error the run expects."""
        try:
            port = self.reg.commit_handover(held["name"])
        except portpool.NotFoundError:
            self.count += 1
            return
        except portpool.PortpoolError as e:
            sys.exit(f"worker {self.id}: commit_handover without a handover raised {e!r}")
        sys.exit(f"worker {self.id}: commit_handover without a handover returned {port}")

    def commit_handover(self, held: dict[str, Any]) -> None:
        self.released(held, held["port"])
        port = self.call("commit_handover", self.reg.commit_handover, held["name"])
        if port != held["next"]:
            sys.exit(f"worker {self.id}: commit_handover returned {port}, begin gave {held['next']}")
        held["port"], held["next"] = port, None

    def abort_handover(self, held: dict[str, Any]) -> None:
        self.released(held, held["next"])
        port = self.call("abort_handover", self.reg.abort_handover, held["name"])
        if port != held["next"]:
            sys.exit(f"worker {self.id}: abort_handover returned {port}, begin gave {held['next']}")
        held["next"] = None

    def release(self, held: dict[str, Any]) -> None:
        self.released(held, held["port"])
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
        keepers = [
            self.allocate(f"{self.id}-keep-a", "tcp"),
            self.allocate(f"{self.id}-keep-b", "udp"),
        ]
        i = 0
        while self.count < ops:
            held = self.allocate(f"{self.id}-t{i}", ("tcp", "udp", "tcp+udp")[(i // 3) % 3])
            kind = i % 3  # 0: hand over and commit, 1: hand over and abort, 2: neither
            if kind != 2:
                self.begin_handover(held)
            self.list_and_log("list", keepers + [held])
            if kind == 0:
                self.commit_handover(held)
            elif kind == 1:
                self.abort_handover(held)
            else:
                self.commit_without_handover(held)
            self.release(held)
            i += 1
        self.begin_handover(keepers[0])
        self.commit_handover(keepers[0])
        for held in keepers:
            self.write(
                {
                    "ev": "keep",
                    "name": held["name"],
                    "port": held["port"],
                    "protocol": held["protocol"],
                }
            )


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
