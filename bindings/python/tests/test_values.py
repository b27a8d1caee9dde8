"""The value types: derived from core's serialized form, and values that travel (copy,
pickle, dataclasses.asdict, pattern matching, other processes)."""

import copy
import dataclasses
import json
import multiprocessing
import os
import pickle
import socket
import subprocess
import warnings

import pytest

import portpool
import portpool._values as values
from conftest import free_block

VALUE_TYPES = [getattr(portpool, name) for name in values.__all__ if name != "PortpoolWarning"]


@pytest.fixture
def seen(monkeypatch):
    """The keys of core's serialized form that each value type was built from."""
    keys: dict[type, set[str]] = {cls: set() for cls in VALUE_TYPES}
    build = values._build

    def recording(cls, data):
        keys[cls] |= set(data)
        return build(cls, data)

    monkeypatch.setattr(values, "_build", recording)
    return keys


def test_every_value_type_declares_exactly_the_fields_core_serializes(reg, tmp_path, seen):
    """Each core value, with every optional field set, is converted once: a field added to,
    renamed in or dropped from a core type fails here until portpool/_values.py follows."""
    reg.set_pool("reserved", 41000, 41009, probe=False)
    listener = socket.create_server(("127.0.0.1", 0))
    sleeper = subprocess.Popen(["sleep", "60"])
    try:
        reg.allocate("current", "reserved", pid=os.getpid(), ttl=60)
        reg.begin_handover_ticket("current", pid=os.getpid())  # next, with an owner
        reg.allocate("orphan", "reserved", pid=sleeper.pid)
        sleeper.kill()
        sleeper.wait()
        assert {lease.name: lease.stale is not None for lease in reg.list()} == {
            "current": False,
            "orphan": True,
        }
        # list() builds its leases natively; who() goes through core's serialized form.
        listed = {lease.name: lease for lease in reg.list()}
        assert reg.who(listed["orphan"].port).leases == [listed["orphan"]]
        assert reg.who(listed["current"].port).leases == [listed["current"]]  # with its next
        port = listener.getsockname()[1]
        planned = reg.migrate(dry_run=True)  # leases with an origin
        assert any(lease.port == port for lease in planned)
        reg.register("listener", port, "fixed", force=True)
        who = reg.who(port)
        assert who.sockets and who.sockets[0].processes
        assert reg.check(port).lease is not None
        assert reg.doctor().findings
        assert reg.gc()
        assert reg.pools()
        mapping = tmp_path / "ports.json"
        mapping.write_text(json.dumps({"imported": 41500}))
        assert reg.import_(mapping).imported
        assert reg.repair().repaired is False
    finally:
        listener.close()
        sleeper.kill()
        sleeper.wait()
    for cls in VALUE_TYPES:
        assert seen[cls] == values.core_keys(cls), cls.__name__


def test_list_gives_each_lease_as_core_serializes_it(reg):
    """list() builds its leases without going through core's serialized form (it is the call
    that returns thousands): each one equals the lease who() converts from that form, field
    by field, a handover's next generation, a stale mark and a namespace included."""
    reg.set_pool("reserved", 41000, 41009, probe=False)
    sleeper = subprocess.Popen(["sleep", "60"])
    try:
        reg.allocate("current", "reserved", pid=os.getpid(), ttl=60)
        reg.begin_handover_ticket("current", pid=os.getpid())
        reg.allocate("orphan", "reserved", pid=sleeper.pid)
        portpool.Registry(reg.path, namespace="other").allocate("plain", "reserved")
    finally:
        sleeper.kill()
        sleeper.wait()
    listed = reg.list_all_namespaces()
    assert [(lease.namespace, lease.name) for lease in listed] == [
        (None, "current"),
        (None, "orphan"),
        ("other", "plain"),
    ]
    assert listed[0].next is not None and listed[1].stale is not None
    for lease in listed:
        assert [lease] == [w for w in reg.who(lease.port).leases if w.name == lease.name]
        assert type(lease) is portpool.Lease and type(lease.next) in (portpool.Next, type(None))
    assert reg.list() == listed[:2]


def test_a_core_field_no_dataclass_declares_is_an_error_naming_it():
    data = {"name": "p", "start": 1, "end": 2, "cursor": 1, "probe": True, "colour": "red"}
    with pytest.raises(RuntimeError, match=r"Pool has fields \['colour'\]"):
        values.from_core("Pool", data)


def test_port_state_is_named_state_as_in_node_and_the_json(reg):
    (port,) = free_block(1)
    state = reg.check(port)
    assert state.state == "free"
    assert [f.name for f in dataclasses.fields(state)] == ["state", "lease"]


def test_port_state_status_is_a_deprecated_alias_of_state(reg, reserved):
    state = reg.check(41000)
    with pytest.deprecated_call(match="use PortState.state"):
        assert state.status == state.state


def lease_of(reg) -> portpool.Lease:
    reg.set_pool("reserved", 41000, 41009, probe=False)
    reg.allocate("svc", "reserved", pid=os.getpid(), ttl=60)
    reg.begin_handover("svc")
    (lease,) = reg.list()
    return lease


def test_values_are_frozen_dataclasses_that_compare_and_hash_by_their_fields(reg):
    lease = lease_of(reg)
    assert dataclasses.is_dataclass(lease)
    with pytest.raises(dataclasses.FrozenInstanceError):
        lease.port = 1  # type: ignore[misc]
    assert lease == reg.list()[0]
    assert hash(lease) == hash(reg.list()[0])
    report = reg.doctor()
    assert hash(report) == hash(reg.doctor())
    assert len({reg.who(41000), reg.who(41000)}) == 1


def test_values_copy_and_pickle_to_equal_values(reg):
    lease = lease_of(reg)
    for value in (lease, reg.check(41000), reg.who(41000), reg.doctor(), reg.pools()[0]):
        assert copy.copy(value) == value
        assert copy.deepcopy(value) == value
        for protocol in range(2, pickle.HIGHEST_PROTOCOL + 1):
            again = pickle.loads(pickle.dumps(value, protocol))
            assert again == value
            assert type(again) is type(value)


def test_values_convert_with_dataclasses_asdict(reg):
    lease = lease_of(reg)
    plain = dataclasses.asdict(lease)
    assert plain["name"] == "svc"
    assert plain["pid"] == os.getpid()
    assert plain["next"] == {
        "port": 41001,
        "created": lease.next.created,
        "pid": None,
        "ticket": 1,
    }
    json.dumps(dataclasses.asdict(reg.who(41000)))


def test_values_match_positionally_by_their_field_order(reg):
    lease = lease_of(reg)
    match lease:
        case portpool.Lease("svc", port, "tcp", "pool", "reserved", pid, next=portpool.Next(new)):
            assert (port, pid, new) == (41000, os.getpid(), 41001)
        case _:
            pytest.fail("no match")
    match reg.check(41000):
        case portpool.PortState("leased", portpool.Lease(name=name)):
            assert name == "svc"
        case _:
            pytest.fail("no match")


def test_a_registry_pickles_as_its_path_lock_timeout_and_force_and_reopens(path):
    reg = portpool.Registry(path, lock_timeout=2.5, force=True)
    (port,) = free_block(1)
    reg.register("kept", port)
    for protocol in range(2, pickle.HIGHEST_PROTOCOL + 1):
        again = pickle.loads(pickle.dumps(reg, protocol))
        assert (again.path, again.lock_timeout, again.force) == (path, 2.5, True)
        assert again.get("kept") == port
    assert copy.copy(reg).path == path


def lease_in_a_spawned_process(reg: portpool.Registry, name: str) -> list[portpool.Lease]:
    reg.allocate(name, "reserved")
    return [lease for lease in reg.list() if lease.name == name]


def test_multiprocessing_spawn_takes_a_registry_and_returns_leases(reg, reserved):
    with multiprocessing.get_context("spawn").Pool(2) as pool:
        got = pool.starmap(lease_in_a_spawned_process, [(reg, "a"), (reg, "b")])
    by_name = {lease.name: lease for lease in reg.list()}
    assert got == [[by_name["a"]], [by_name["b"]]]


def ephemeral_range() -> tuple[int, int]:
    with open("/proc/sys/net/ipv4/ip_local_port_range") as f:
        low, high = f.read().split()
    return int(low), int(high)


def test_set_pool_warns_with_portpool_warning_and_still_sets_the_pool(reg):
    low, _ = ephemeral_range()
    with pytest.warns(portpool.PortpoolWarning, match="ephemeral") as caught:
        pool = reg.set_pool("inside", low, low + 9)
    assert caught[0].filename == __file__
    assert issubclass(portpool.PortpoolWarning, UserWarning)
    assert (pool.start, pool.end) == (low, low + 9)
    assert [p.name for p in reg.pools()] == ["default", "inside"]


def test_set_pool_outside_the_ephemeral_range_does_not_warn(reg):
    low, high = ephemeral_range()
    start = 20000 if low > 20010 else high + 1
    with warnings.catch_warnings():
        warnings.simplefilter("error")
        reg.set_pool("outside", start, start + 9)
