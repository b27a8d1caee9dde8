"""What the interop driver checks, as pure functions over worker logs (see README.md).

A log is a list of records, one JSON object per line:

- ``{"ev": "acq", "name": N, "port": P, "proto": "tcp" | "udp", "t": NS}``: N held P from at
  latest NS (logged after the call that leased it returned);
- ``{"ev": "rel", "name": N, "port": P, "proto": ..., "t": NS}``: N held P until at least NS
  (logged before the call that released it);
- ``{"ev": "list" | "seen", "own": [...], "leases": [...]}``: a listing of the registry, and
  the leases the worker held while it listed (``own``: name, port, protocol, next);
- ``{"ev": "keep", "name": N, "port": P, "protocol": ...}``: a lease the worker leaves in the
  registry;
- ``{"ev": "done", "ops": K}``: the worker made K calls and finished.

Timestamps are CLOCK_REALTIME nanoseconds, so logged intervals of different processes compare,
and each lies inside the true one: two logged intervals of one port that overlap mean two
names really held it at once.
"""

from __future__ import annotations

import json
from collections import defaultdict
from dataclasses import dataclass
from pathlib import Path
from typing import Any, Iterable, Mapping

Record = dict[str, Any]


@dataclass(frozen=True)
class Interval:
    """A span during which `name` (of `worker`) held `port`/`protocol`; `end` None: never
    released."""

    worker: str
    name: str
    port: int
    protocol: str
    start: int
    end: int | None

    def __str__(self) -> str:
        end = "never released" if self.end is None else f"released at {self.end}"
        return (
            f"{self.name} ({self.worker}) held {self.port}/{self.protocol} from {self.start}, {end}"
        )


class LogError(Exception):
    """A log that cannot be read or is not consistent with itself."""


def read_log(path: Path) -> list[Record]:
    """The records of the log at `path`; a line that is not a JSON object is a LogError."""
    records = []
    with open(path, encoding="utf-8") as f:
        for number, line in enumerate(f, 1):
            try:
                record = json.loads(line)
            except json.JSONDecodeError as e:
                raise LogError(f"{path}:{number}: not JSON ({e})") from None
            if not isinstance(record, dict) or "ev" not in record:
                raise LogError(f"{path}:{number}: not a log record")
            records.append(record)
    return records


def intervals(worker: str, records: Iterable[Record]) -> list[Interval]:
    """The intervals of one worker's log: each "acq" paired with the next "rel" of the same
    name, port and protocol. An "acq" of a port the name already holds, or a "rel" of one it
    does not, is a LogError."""
    open_: dict[tuple[str, int, str], int] = {}
    out = []
    for r in records:
        if r["ev"] not in ("acq", "rel"):
            continue
        key = (r["name"], r["port"], r["proto"])
        if r["ev"] == "acq":
            if key in open_:
                raise LogError(f"{worker}: {key[0]} acquired {key[1]}/{key[2]} twice")
            open_[key] = r["t"]
        else:
            if key not in open_:
                raise LogError(
                    f"{worker}: {key[0]} released {key[1]}/{key[2]}, which it did not hold"
                )
            out.append(Interval(worker, *key, open_.pop(key), r["t"]))
    out.extend(Interval(worker, *key, start, None) for key, start in open_.items())
    return out


def find_overlaps(spans: Iterable[Interval]) -> list[tuple[Interval, Interval]]:
    """Every pair of intervals of one port and transport (TCP or UDP: a "tcp+udp" lease holds
    its port for both) that share a moment. Touching ends (one released at the nanosecond the
    other acquired) do not overlap."""
    by_port: dict[tuple[int, str], list[Interval]] = defaultdict(list)
    for s in spans:
        for transport in s.protocol.split("+"):
            by_port[(s.port, transport)].append(s)
    pairs: list[tuple[Interval, Interval]] = []
    for port_spans in by_port.values():
        port_spans.sort(key=lambda s: s.start)
        active: list[Interval] = []
        for s in port_spans:
            active = [a for a in active if a.end is None or a.end > s.start]
            pairs.extend((a, s) for a in active)
            active.append(s)
    return pairs


def _next_port(value: Any) -> int | None:
    """A lease's handover port as listed: a number, an object with "port", or null."""
    if isinstance(value, dict):
        return int(value["port"])
    return None if value is None else int(value)


@dataclass(frozen=True)
class Listed:
    """One lease of a listing, as the checks compare it."""

    port: int
    protocol: str
    next: int | None


def listed(leases: Iterable[Mapping[str, Any]]) -> dict[str, Listed]:
    """A listing by name."""
    return {
        lease["name"]: Listed(int(lease["port"]), lease["protocol"], _next_port(lease["next"]))
        for lease in leases
    }


def _differences(name: str, found: Listed, want: Listed) -> list[str]:
    problems = []
    if found.port != want.port:
        problems.append(f"{name} is listed with port {found.port}, not {want.port}")
    if found.protocol != want.protocol:
        problems.append(f"{name} is listed as {found.protocol}, not {want.protocol}")
    if found.next != want.next:
        problems.append(f"{name} is listed with next port {found.next}, not {want.next}")
    return problems


def listing_problems(record: Record) -> list[str]:
    """What a "list" record's listing lacks of the leases its worker held: a name missing, or
    listed with another port, protocol or handover port."""
    leases = listed(record["leases"])
    problems = []
    for name, want in listed(record["own"]).items():
        if name not in leases:
            problems.append(f"{name} is not listed")
        else:
            problems += _differences(name, leases[name], want)
    return problems


def registry_problems(
    leases: Iterable[Mapping[str, Any]], expected: Mapping[str, tuple[int, str]]
) -> list[str]:
    """How a listing of the final registry differs from `expected` (name: (port, protocol),
    no handover under way)."""
    found = listed(leases)
    problems = [f"{n} is missing" for n in sorted(expected.keys() - found.keys())]
    problems += [f"{n} should not be there" for n in sorted(found.keys() - expected.keys())]
    for name in sorted(expected.keys() & found.keys()):
        port, protocol = expected[name]
        problems += _differences(name, found[name], Listed(port, protocol, None))
    return problems
