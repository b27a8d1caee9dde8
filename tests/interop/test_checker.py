"""The checker fails what it must: hand-made logs with an overlap, a missing lease, a wrong
final registry; and passes what it must not fail."""

from __future__ import annotations

import json
from pathlib import Path
from typing import Any

import pytest

from checker import (
    LogError,
    find_overlaps,
    intervals,
    listing_problems,
    read_log,
    registry_problems,
)


def acq(name: str, port: int, t: int, proto: str = "tcp") -> dict[str, Any]:
    return {"ev": "acq", "name": name, "port": port, "proto": proto, "t": t}


def rel(name: str, port: int, t: int, proto: str = "tcp") -> dict[str, Any]:
    return {"ev": "rel", "name": name, "port": port, "proto": proto, "t": t}


def lease(name: str, port: int, protocol: str = "tcp", next: Any = None) -> dict[str, Any]:
    return {"name": name, "port": port, "protocol": protocol, "next": next}


def write_log(path: Path, records: list[dict[str, Any]]) -> Path:
    path.write_text("".join(json.dumps(r) + "\n" for r in records))
    return path


def test_two_names_holding_one_port_at_once_are_reported(tmp_path: Path) -> None:
    c1 = read_log(write_log(tmp_path / "c1.log", [acq("c1-t0", 41000, 100), rel("c1-t0", 41000, 200)]))
    py1 = read_log(write_log(tmp_path / "py1.log", [acq("py1-t3", 41000, 150), rel("py1-t3", 41000, 300)]))
    overlaps = find_overlaps(intervals("c1", c1) + intervals("python1", py1))
    assert [(a.name, b.name) for a, b in overlaps] == [("c1-t0", "py1-t3")]


def test_a_port_released_then_leased_by_another_name_is_no_overlap() -> None:
    first = intervals("c1", [acq("c1-t0", 41000, 100), rel("c1-t0", 41000, 200)])
    second = intervals("go1", [acq("go1-t0", 41000, 200), rel("go1-t0", 41000, 300)])
    third = intervals("node1", [acq("node1-t0", 41000, 301)])
    assert find_overlaps(first + second + third) == []


def test_one_port_held_for_tcp_and_for_udp_at_once_is_no_overlap() -> None:
    tcp = intervals("c1", [acq("c1-t0", 41000, 100), rel("c1-t0", 41000, 200)])
    udp = intervals("cli1", [acq("cli1-t3", 41000, 150, "udp"), rel("cli1-t3", 41000, 300, "udp")])
    assert find_overlaps(tcp + udp) == []


def test_a_lease_never_released_overlaps_every_later_holder_of_its_port() -> None:
    keeper = intervals("cli1", [acq("cli1-keep-b", 41007, 100, "udp")])
    later = intervals("node2", [acq("node2-t9", 41007, 5_000, "udp"), rel("node2-t9", 41007, 6_000, "udp")])
    assert len(find_overlaps(keeper + later)) == 1


def test_a_handover_holds_both_ports_until_the_commit() -> None:
    # One name holds its port and the next one at once; only other names conflict.
    log = [
        acq("py1-t0", 41000, 10),
        acq("py1-t0", 41001, 20),
        rel("py1-t0", 41000, 30),
        rel("py1-t0", 41001, 40),
    ]
    spans = intervals("py1", log)
    assert sorted((s.port, s.start, s.end) for s in spans) == [(41000, 10, 30), (41001, 20, 40)]
    other = intervals("c2", [acq("c2-t4", 41001, 35), rel("c2-t4", 41001, 50)])
    assert len(find_overlaps(spans + other)) == 1


def test_a_release_of_a_port_never_acquired_is_a_log_error() -> None:
    with pytest.raises(LogError, match="did not hold"):
        intervals("go2", [rel("go2-t1", 41003, 10)])


def test_a_log_line_that_is_not_json_is_a_log_error(tmp_path: Path) -> None:
    path = tmp_path / "cli1.log"
    path.write_text('{"ev":"list","own":[],"leases":[{"name":"a",\n')
    with pytest.raises(LogError, match="cli1.log:1: not JSON"):
        read_log(path)


def test_a_listing_without_the_workers_lease_is_reported() -> None:
    record = {
        "ev": "list",
        "own": [lease("c1-keep-a", 41000), lease("c1-t2", 41004, next=41005)],
        "leases": [lease("c1-keep-a", 41000)],
    }
    assert listing_problems(record) == ["c1-t2 is not listed"]


def test_a_listing_with_another_handover_port_or_protocol_is_reported() -> None:
    # The raw JSON of the C library and the CLI gives "next" as an object.
    record = {
        "ev": "list",
        "own": [lease("cli2-t0", 41004, "udp", next=41005)],
        "leases": [lease("cli2-t0", 41004, "tcp", next={"port": 41009, "created": 1, "owner": None})],
    }
    assert listing_problems(record) == [
        "cli2-t0 is listed as tcp, not udp",
        "cli2-t0 is listed with next port 41009, not 41005",
    ]


def test_a_listing_that_holds_the_workers_leases_passes() -> None:
    record = {
        "ev": "list",
        "own": [lease("node1-t0", 41004, "udp", next=41005)],
        "leases": [
            lease("go1-keep-a", 41000),
            lease("node1-t0", 41004, "udp", next={"port": 41005, "created": 1, "owner": None}),
        ],
    }
    assert listing_problems(record) == []


def test_a_final_registry_that_differs_from_the_keepers_is_reported() -> None:
    expected = {"c1-keep-a": (41002, "tcp"), "c1-keep-b": (41001, "udp")}
    leases = [lease("c1-keep-a", 41003), lease("c1-t7", 41009)]
    assert registry_problems(leases, expected) == [
        "c1-keep-b is missing",
        "c1-t7 should not be there",
        "c1-keep-a is listed with port 41003, not 41002",
    ]


def test_a_keeper_left_mid_handover_is_reported() -> None:
    leases = [lease("go1-keep-a", 41000, next={"port": 41011})]
    assert registry_problems(leases, {"go1-keep-a": (41000, "tcp")}) == [
        "go1-keep-a is listed with next port 41011, not None"
    ]


def test_the_final_registry_of_the_keepers_passes() -> None:
    leases = [lease("go1-keep-a", 41000), lease("go1-keep-b", 41000, "udp")]
    expected = {"go1-keep-a": (41000, "tcp"), "go1-keep-b": (41000, "udp")}
    assert registry_problems(leases, expected) == []


def test_a_tcp_udp_lease_overlaps_a_tcp_lease_and_a_udp_lease_of_its_port() -> None:
    both = intervals("go1", [acq("go1-t6", 41000, 100, "tcp+udp"), rel("go1-t6", 41000, 400, "tcp+udp")])
    tcp = intervals("c1", [acq("c1-t0", 41000, 200, "tcp"), rel("c1-t0", 41000, 300, "tcp")])
    udp = intervals("cli1", [acq("cli1-t3", 41000, 150, "udp"), rel("cli1-t3", 41000, 250, "udp")])
    assert len(find_overlaps(both + tcp)) == 1
    assert len(find_overlaps(both + udp)) == 1
