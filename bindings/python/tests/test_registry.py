"""Every Registry method and module function, on a temporary registry."""

import json
import os
import pathlib
import socket
import subprocess

import pytest

import portpool


def bound(port: int, kind: int = socket.SOCK_STREAM) -> socket.socket:
    """A socket holding `port` on 127.0.0.1, as an unrelated server would."""
    sock = socket.socket(socket.AF_INET, kind)
    sock.bind(("127.0.0.1", port))
    if kind == socket.SOCK_STREAM:
        sock.listen()
    return sock


def free_tcp_port() -> int:
    """A port that nothing has bound and no lease of the test registry holds."""
    return portpool.find_free()


# --- Registry(path) ---------------------------------------------------------------------


def test_registry_accepts_str_and_pathlike_and_reports_a_pathlib_path(path):
    class Custom:
        def __fspath__(self) -> str:
            return str(path)

    for given in (str(path), path, Custom()):
        reg = portpool.Registry(given)
        assert reg.path == path
        assert isinstance(reg.path, pathlib.Path)
    assert repr(portpool.Registry(path)) == f"Registry({str(path)!r})"


def test_registry_without_path_uses_portpool_registry_variable(tmp_path, monkeypatch):
    monkeypatch.setenv("PORTPOOL_REGISTRY", str(tmp_path / "from-env.json"))
    reg = portpool.Registry()
    assert reg.path == tmp_path / "from-env.json"
    reg.register("web", free_tcp_port())
    assert portpool.Registry(tmp_path / "from-env.json").get("web") is not None


def test_opening_a_registry_touches_nothing_on_disk(path):
    reg = portpool.Registry(path)
    assert reg.list() == []
    assert not path.exists()


# --- register ------------------------------------------------------------------------------


def test_flexible_register_returns_the_preferred_port_when_free(reg):
    port = free_tcp_port()
    assert reg.register("web", port) == port
    assert reg.get("web") == port


def test_flexible_register_skips_ports_leased_to_others(reg):
    port = reg.register("first", free_tcp_port(), "fixed")
    second = reg.register("second", port)
    assert second > port
    assert reg.get("first") == port and reg.get("second") == second


def test_flexible_register_skips_ports_bound_outside_the_registry(reg):
    with bound(0) as sock:
        port = sock.getsockname()[1]
        got = reg.register("web", port)
    assert got > port


def test_fixed_register_of_a_leased_port_raises_conflict_naming_the_holder(reg):
    port = reg.register("holder", free_tcp_port(), "fixed")
    with pytest.raises(portpool.ConflictError, match='leased to "holder"'):
        reg.register("thief", port, "fixed")
    with pytest.raises(portpool.ConflictError):
        reg.register("thief", port, "fixed", force=True)
    assert reg.get("thief") is None


def test_fixed_register_of_a_bound_port_is_a_conflict_unless_forced(reg):
    with bound(0) as sock:
        port = sock.getsockname()[1]
        with pytest.raises(portpool.ConflictError, match="outside the registry"):
            reg.register("web", port, "fixed")
        assert reg.register("web", port, "fixed", force=True) == port
    assert reg.list()[0].mode == "fixed"


def test_register_of_a_name_that_holds_a_lease_returns_its_port(reg):
    port = reg.register("web", free_tcp_port())
    assert reg.register("web", port + 1) == port
    with pytest.raises(portpool.ConflictError, match="release it first"):
        reg.register("web", port + 1, "fixed")
    with pytest.raises(portpool.ConflictError):
        reg.register("web", port, protocol="udp")


def test_tcp_and_udp_leases_of_one_port_coexist(reg):
    port = free_tcp_port()
    assert reg.register("t", port, "fixed", force=True) == port
    assert reg.register("u", port, "fixed", protocol="udp", force=True) == port
    protocols = {lease.name: lease.protocol for lease in reg.list()}
    assert protocols == {"t": "tcp", "u": "udp"}


def test_register_records_owner_pid_and_time_to_live(reg):
    port = reg.register("web", free_tcp_port(), pid=os.getpid(), ttl=60)
    (lease,) = reg.list()
    assert (lease.name, lease.port, lease.pid, lease.ttl) == ("web", port, os.getpid(), 60)
    # Rounded up to the next whole second: a lease never ends early.
    assert lease.created + 60 <= lease.expires <= lease.created + 61


# --- get / release ------------------------------------------------------------------------


def test_no_pool_means_the_default_pool(reg):
    port = reg.allocate("a", pool=None)
    assert portpool.DEFAULT_POOL_START <= port <= portpool.DEFAULT_POOL_END
    assert reg.list()[0].pool == portpool.DEFAULT_POOL
    with reg.lease("b") as leased:
        assert reg.get("b") == leased
        assert [l.pool for l in reg.list() if l.name == "b"] == [portpool.DEFAULT_POOL]


def test_get_returns_the_port_or_the_default(reg):
    assert reg.get("nobody") is None
    assert reg.get("nobody", 1234) == 1234
    port = reg.register("web", free_tcp_port())
    assert reg.get("web", 1234) == port


@pytest.mark.parametrize("bad", [-1, 0, 70000, 2**70])
def test_get_checks_its_default_as_a_port_like_the_cli(reg, bad):
    with pytest.raises(portpool.InvalidArgumentError, match=str(bad)):
        reg.get("nobody", bad)


def test_get_refuses_a_default_that_is_not_an_int(reg):
    with pytest.raises(TypeError):
        reg.get("nobody", "x")


def test_release_reports_whether_a_lease_existed(reg):
    reg.register("web", free_tcp_port())
    assert reg.release("web") is True
    assert reg.release("web") is False
    assert reg.get("web") is None


# --- allocate / pools / set_pool ---------------------------------------------------------


def test_allocate_hands_out_pool_ports_round_robin(reg, reserved):
    assert reg.allocate("a", "reserved") == 41000
    assert reg.allocate("b", "reserved") == 41001
    assert reg.release("a")
    # The cursor moves on: a released port is not handed out again at once.
    assert reg.allocate("c", "reserved") == 41002
    assert reg.allocate("a", "reserved") == 41003
    cursor = {p.name: p.cursor for p in reg.pools()}["reserved"]
    assert cursor == 41004
    lease = next(lease for lease in reg.list() if lease.name == "c")
    assert (lease.mode, lease.pool) == ("pool", "reserved")


def test_allocate_from_the_default_pool_by_default(reg):
    port = reg.allocate("worker")
    assert 9000 <= port <= 18999
    assert reg.list()[0].pool == "default"


def test_allocate_of_a_name_that_holds_a_lease_returns_its_port(reg, reserved):
    port = reg.allocate("a", "reserved")
    assert reg.allocate("a", "reserved") == port
    assert len(reg.list()) == 1


def test_allocate_from_a_full_pool_raises_exhausted_and_changes_nothing(reg):
    reg.set_pool("tiny", 41500, 41501, probe=False)
    reg.allocate("a", "tiny")
    reg.allocate("b", "tiny")
    before = reg.list()
    with pytest.raises(portpool.ExhaustedError, match="tiny"):
        reg.allocate("c", "tiny")
    assert reg.list() == before


def test_allocate_from_an_unknown_pool_raises_not_found(reg):
    with pytest.raises(portpool.NotFoundError, match='no pool named "nope"'):
        reg.allocate("a", "nope")


def test_pools_always_include_the_default_pool(reg):
    (default,) = reg.pools()
    assert (default.name, default.start, default.end, default.probe) == (
        portpool.DEFAULT_POOL,
        portpool.DEFAULT_POOL_START,
        portpool.DEFAULT_POOL_END,
        True,
    )
    assert (default.name, default.start, default.end) == ("default", 9000, 18999)


def test_the_longest_name_is_max_name_bytes(reg):
    reg.allocate("x" * portpool.MAX_NAME_BYTES)
    with pytest.raises(portpool.InvalidArgumentError):
        reg.allocate("y" * (portpool.MAX_NAME_BYTES + 1))


def test_written_registry_carries_its_format_version_on_its_first_line(reg, path):
    """Version 2 unless a lease holds its port for TCP and UDP at once (version 3, the newest
    this package reads and writes)."""
    reg.reset()
    header = path.read_text().splitlines()[0]
    assert json.loads(header)["version"] == 2
    reg.register("dns", 41700, protocol="tcp+udp", force=True)
    header = path.read_text().splitlines()[0]
    assert json.loads(header)["version"] == portpool.FORMAT_VERSION == 3


def test_set_pool_creates_and_changes_a_range_and_keeps_leases(reg):
    pool = reg.set_pool("p", 41600, 41609)
    assert (pool.name, pool.start, pool.end, pool.cursor, pool.probe) == (
        "p",
        41600,
        41609,
        41600,
        True,
    )
    reg.set_pool("p", 41600, 41609, probe=False)
    reg.allocate("a", "p")
    changed = reg.set_pool("p", 41700, 41701)
    assert (changed.start, changed.end, changed.cursor, changed.probe) == (
        41700,
        41701,
        41700,
        False,
    )
    assert reg.get("a") == 41600
    assert [p.name for p in reg.pools()] == ["default", "p"]


def test_set_pool_with_start_after_end_is_invalid(reg):
    with pytest.raises(portpool.InvalidArgumentError, match="start is after end"):
        reg.set_pool("p", 41010, 41000)


# --- check ----------------------------------------------------------------------------------


def test_check_reports_free_leased_and_busy_ports(reg):
    port = free_tcp_port()
    free = reg.check(port)
    assert (free.state, free.lease) == ("free", None)
    reg.register("web", port, "fixed")
    leased = reg.check(port)
    assert leased.state == "leased"
    assert leased.lease == reg.list()[0]
    assert reg.check(port, "udp").state != "leased"
    with bound(0) as sock:
        busy = reg.check(sock.getsockname()[1])
    assert (busy.state, busy.lease) == ("busy", None)


# --- gc / renew / reset ---------------------------------------------------------------------


def test_gc_releases_leases_whose_owner_exited(reg):
    child = subprocess.Popen(["sleep", "60"])
    try:
        reg.register("orphan", free_tcp_port(), pid=child.pid)
        reg.register("mine", free_tcp_port(), pid=os.getpid())
        reg.register("permanent", free_tcp_port())
        assert reg.gc() == []
    finally:
        child.kill()
        child.wait()
    (reclaimed,) = reg.gc()
    assert reclaimed.lease.name == "orphan"
    assert reclaimed.lease.pid == child.pid
    assert f"owner pid {child.pid} is gone" in reclaimed.reason
    assert sorted(lease.name for lease in reg.list()) == ["mine", "permanent"]
    assert reg.gc() == []


def test_a_lease_of_an_exited_owner_is_reclaimed_by_the_next_allocate(reg):
    reg.set_pool("one", 41800, 41800, probe=False)
    child = subprocess.Popen(["sleep", "60"])
    reg.allocate("orphan", "one", pid=child.pid)
    with pytest.raises(portpool.ExhaustedError):
        reg.allocate("next", "one")
    child.kill()
    child.wait()
    assert reg.allocate("next", "one") == 41800
    assert reg.get("orphan") is None


def test_renew_restarts_the_time_to_live(reg):
    reg.register("web", free_tcp_port(), ttl=60)
    renewed = reg.renew("web")
    assert renewed.ttl == 60
    assert renewed.expires >= renewed.created + 60
    longer = reg.renew("web", 3600)
    assert longer.ttl == 3600
    assert longer.expires >= longer.created + 3600
    assert reg.list() == [longer]


def test_renew_of_a_lease_without_ttl_needs_one(reg):
    reg.register("web", free_tcp_port())
    with pytest.raises(portpool.InvalidArgumentError, match="no time to live"):
        reg.renew("web")
    assert reg.renew("web", ttl=30).ttl == 30


def test_renew_of_an_unknown_name_raises_not_found(reg):
    with pytest.raises(portpool.NotFoundError, match='no lease named "ghost"'):
        reg.renew("ghost", 10)


def test_reset_empties_the_registry(reg, reserved):
    reg.allocate("a", "reserved")
    assert reg.reset() is None
    assert reg.list() == []
    assert [p.name for p in reg.pools()] == ["default"]


# --- lease() context manager -----------------------------------------------------------------


def test_lease_context_leases_on_entry_and_releases_on_exit(reg, reserved):
    guard = reg.lease("worker", "reserved")
    assert guard.port is None
    assert reg.get("worker") is None
    with guard as port:
        assert port == 41000
        assert guard.port == port
        assert reg.get("worker") == port
        (lease,) = reg.list()
        assert (lease.mode, lease.pool, lease.pid) == ("pool", "reserved", os.getpid())
    assert guard.port is None
    assert reg.get("worker") is None


def test_lease_context_releases_when_the_block_raises(reg, reserved):
    with pytest.raises(RuntimeError, match="boom"):
        with reg.lease("worker", "reserved") as port:
            assert reg.get("worker") == port
            raise RuntimeError("boom")
    assert reg.list() == []


def test_lease_context_takes_protocol_pid_and_ttl(reg, reserved):
    with reg.lease("w", "reserved", protocol="udp", ttl=120) as port:
        (lease,) = reg.list()
        assert (lease.port, lease.protocol, lease.ttl) == (port, "udp", 120)
        assert lease.pid == os.getpid()


def test_lease_context_refuses_a_name_that_already_holds_a_lease_and_keeps_it(reg, reserved):
    port = reg.allocate("service", "reserved")
    guard = reg.lease("service", "reserved")
    with pytest.raises(portpool.ConflictError, match="already holds port"):
        with guard:
            pytest.fail("the block must not run")
    assert guard.port is None
    assert reg.get("service") == port
    (lease,) = reg.list()
    assert (lease.port, lease.pid) == (port, None)


def test_a_lease_guard_cannot_be_entered_twice_at_once(reg, reserved):
    guard = reg.lease("worker", "reserved")
    with guard as port:
        with pytest.raises(RuntimeError, match="already entered"):
            with guard:
                pytest.fail("the inner block must not run")
        assert reg.get("worker") == port
    assert reg.get("worker") is None
    with guard as again:
        assert reg.get("worker") == again


def test_lease_context_from_an_exhausted_pool_raises_on_entry(reg):
    reg.set_pool("tiny", 41900, 41900, probe=False)
    reg.allocate("holder", "tiny")
    with pytest.raises(portpool.ExhaustedError):
        with reg.lease("w", "tiny"):
            pytest.fail("the block must not run")
    assert reg.get("holder") == 41900


# --- values ---------------------------------------------------------------------------------


def test_leases_are_frozen_comparable_and_hashable(reg, reserved):
    reg.allocate("b", "reserved")
    reg.register("a", free_tcp_port())
    leases = reg.list()
    assert [lease.name for lease in leases] == ["a", "b"]
    with pytest.raises(AttributeError):
        leases[0].port = 1
    assert reg.list() == leases
    assert len({*leases, *reg.list()}) == 2
    text = repr(leases[1])
    assert text.startswith("Lease(name='b', port=41000, protocol='tcp', mode='pool', pool='reserved'")
    pool = reg.pools()[0]
    with pytest.raises(AttributeError):
        pool.start = 1
    assert hash(pool) == hash(reg.pools()[0])
    assert repr(pool) == (
        "Pool(name='default', start=9000, end=18999, cursor=9000, probe=True, uid=None)"
    )


def test_names_are_stored_exactly(reg):
    name = 'evil":1,"名前/../x'
    port = reg.register(name, free_tcp_port())
    assert reg.get(name) == port
    assert reg.list()[0].name == name


# --- module functions -------------------------------------------------------------------------


def test_is_free_sees_a_bound_port_and_its_release(reg):
    with bound(0) as sock:
        port = sock.getsockname()[1]
        assert portpool.is_free(port) is False
    assert portpool.is_free(port) is True


def test_is_free_tells_tcp_from_udp():
    with bound(0, socket.SOCK_DGRAM) as sock:
        port = sock.getsockname()[1]
        assert portpool.is_free(port, "udp") is False
        assert portpool.is_free(port, protocol="UDP") is False


def test_find_free_returns_a_port_that_binds():
    for protocol in ("tcp", "udp"):
        port = portpool.find_free(protocol)
        assert 1 <= port <= 65535
        kind = socket.SOCK_STREAM if protocol == "tcp" else socket.SOCK_DGRAM
        bound(port, kind).close()
