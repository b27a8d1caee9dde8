"""Handovers, batches, owners, import, and the view of the host's sockets."""

import json
import os
import pathlib
import socket
import subprocess
import sys
import tempfile

import pytest

import portpool


def listener() -> socket.socket:
    sock = socket.socket()
    sock.bind(("127.0.0.1", 0))
    sock.listen()
    return sock


# --- handover -------------------------------------------------------------------------------


def test_handover_leases_the_next_port_beside_the_current_one_until_commit(reg, reserved):
    old = reg.allocate("svc", "reserved")
    new = reg.begin_handover("svc")
    assert new != old
    with pytest.raises(portpool.ConflictError, match="ticket 1"):
        reg.begin_handover("svc")  # begun twice: refused, not shared
    assert reg.get("svc") == old
    (lease,) = reg.list()
    assert lease.next is not None and lease.next.port == new
    assert reg.check(new).lease == lease
    assert reg.commit_handover("svc") == new
    assert reg.get("svc") == new
    (lease,) = reg.list()
    assert lease.next is None
    assert reg.check(old).state != "leased"


def test_handover_commit_makes_the_next_generation_the_owner(reg, reserved):
    child = subprocess.Popen(["sleep", "60"])
    try:
        reg.allocate("svc", "reserved", pid=os.getpid())
        reg.begin_handover("svc", pid=child.pid)
        assert reg.list()[0].next.pid == child.pid
        reg.commit_handover("svc")
        assert reg.list()[0].pid == child.pid
    finally:
        child.kill()
        child.wait()


def test_a_second_supervisor_cannot_commit_or_abort_anothers_handover(reg, reserved):
    a, b = subprocess.Popen(["sleep", "60"]), subprocess.Popen(["sleep", "60"])
    try:
        reg.allocate("svc", "reserved")
        new = reg.begin_handover("svc", pid=a.pid)
        for call in (reg.begin_handover, reg.commit_handover, reg.abort_handover):
            with pytest.raises(portpool.ConflictError):
                call("svc", pid=b.pid)
        assert reg.commit_handover("svc", pid=a.pid) == new
        assert reg.list()[0].pid == a.pid
    finally:
        for child in (a, b):
            child.kill()
            child.wait()


def test_a_stale_lease_is_marked_in_list_and_absent_from_get(reg):
    child = subprocess.Popen(["sleep", "60"])
    reg.register("w", portpool.find_free(), pid=child.pid)
    child.kill()
    child.wait()
    (lease,) = reg.list()
    assert lease.stale is not None and "is gone" in lease.stale
    assert reg.get("w", 1234) == 1234
    with pytest.raises(portpool.NotFoundError):
        reg.renew("w", 60)


def test_aborted_handover_releases_the_next_port_and_keeps_the_lease(reg, reserved):
    old = reg.allocate("svc", "reserved")
    new = reg.begin_handover("svc")
    assert reg.abort_handover("svc") == new
    (lease,) = reg.list()
    assert (lease.port, lease.next) == (old, None)
    assert reg.check(new).state != "leased"


def test_handover_without_one_under_way_is_not_found(reg, reserved):
    reg.allocate("svc", "reserved")
    for settle in (reg.commit_handover, reg.abort_handover):
        with pytest.raises(portpool.NotFoundError, match="no handover"):
            settle("svc")
    with pytest.raises(portpool.NotFoundError, match="no lease named"):
        reg.begin_handover("ghost")


# --- allocate_many / set_owner --------------------------------------------------------------


def test_allocate_many_leases_every_name_in_order(reg, reserved):
    held = reg.allocate("b", "reserved")
    ports = reg.allocate_many(("a", "b", "c"), "reserved", ttl=60)
    assert ports[1] == held
    assert len(set(ports)) == 3
    assert {lease.name: lease.port for lease in reg.list()} == dict(zip("abc", ports))
    assert reg.allocate_many([], "reserved") == []


def test_allocate_many_is_all_or_none(reg):
    reg.set_pool("two", 41960, 41961, probe=False)
    with pytest.raises(portpool.ExhaustedError):
        reg.allocate_many(["a", "b", "c"], "two")
    assert reg.list() == []
    with pytest.raises(portpool.InvalidArgumentError, match="given twice"):
        reg.allocate_many(["a", "a"], "two")
    with pytest.raises(TypeError):
        reg.allocate_many("ab", "two")
    with pytest.raises(TypeError):
        reg.allocate_many(["a", 1], "two")


def test_set_owner_gives_and_removes_an_owner(reg, reserved):
    reg.allocate("svc", "reserved")
    assert reg.set_owner("svc", os.getpid()).pid == os.getpid()
    assert reg.list()[0].pid == os.getpid()
    assert reg.set_owner("svc").pid is None
    with pytest.raises(portpool.NotFoundError):
        reg.set_owner("ghost")


# --- import_ --------------------------------------------------------------------------------


def test_import_reads_a_flat_port_map_once(reg, tmp_path):
    ports = tmp_path / "port_allocation.json"
    ports.write_text(json.dumps({"web": 41970, "api": "41971"}))
    report = reg.import_(ports)
    assert sorted(lease.name for lease in report.imported) == ["api", "web"]
    assert report.skipped == []
    assert {lease.name: (lease.port, lease.mode) for lease in reg.list()} == {
        "api": (41971, "fixed"),
        "web": (41970, "fixed"),
    }
    again = reg.import_(str(ports))
    assert (again.imported, sorted(again.skipped)) == ([], ["api", "web"])


def test_import_refuses_the_whole_file_on_any_problem(reg, tmp_path):
    bad = tmp_path / "bad.json"
    bad.write_text(json.dumps({"ok": 41972, "bad": 0, "twice-a": 41973, "twice-b": 41973}))
    with pytest.raises(portpool.InvalidArgumentError, match="nothing imported") as info:
        reg.import_(bad)
    assert "invalid port 0" in str(info.value)
    assert "41973" in str(info.value)
    assert reg.list() == []
    reg.register("holder", 41974, "fixed", force=True)
    taken = tmp_path / "taken.json"
    taken.write_text(json.dumps({"other": 41974}))
    with pytest.raises(portpool.ConflictError, match='leased to "holder"'):
        reg.import_(taken)
    with pytest.raises(portpool.NotFoundError, match="no such file"):
        reg.import_(tmp_path / "missing.json")


# --- who / migrate / doctor -----------------------------------------------------------------


def test_who_names_the_lease_and_the_process_bound_to_a_port(reg):
    with listener() as sock:
        port = sock.getsockname()[1]
        reg.register("mine", port, "fixed", force=True, pid=os.getpid())
        who = reg.who(port)
    assert who.port == port
    assert [lease.name for lease in who.leases] == ["mine"]
    assert who.unavailable is None
    (bound,) = who.sockets
    assert (bound.protocol, bound.address, bound.port) == ("tcp", f"127.0.0.1:{port}", port)
    assert os.getpid() in [process.pid for process in bound.processes]


def test_who_of_an_unused_port_is_empty(reg):
    port = portpool.find_free()
    who = reg.who(port)
    assert (who.leases, who.sockets) == ([], [])


def test_migrate_registers_listening_ports_once(reg):
    with listener() as sock:
        port = sock.getsockname()[1]
        plan = reg.migrate(dry_run=True)
        assert port in [lease.port for lease in plan]
        assert reg.list() == []
        made = reg.migrate()
        assert port in [lease.port for lease in made]
        assert all(lease.mode == "fixed" and lease.pid is None for lease in made)
        assert port not in [lease.port for lease in reg.migrate()]
    assert port in [lease.port for lease in reg.list()]


def test_doctor_reports_stale_owners_and_silent_leases(reg):
    child = subprocess.Popen(["sleep", "60"])
    reg.register("orphan", portpool.find_free(), pid=child.pid)
    child.kill()
    child.wait()
    reg.register("silent", portpool.find_free(), pid=os.getpid())
    with listener() as sock:
        reg.register("serving", sock.getsockname()[1], "fixed", force=True, pid=os.getpid())
        report = reg.doctor()
    kinds = {(f.subject, f.kind) for f in report.findings}
    assert ("orphan", "stale_owner") in kinds
    assert ("silent", "not_listening") in kinds
    assert not any(subject == "serving" for subject, _ in kinds)
    assert report.unavailable is None
    assert all(f.message for f in report.findings)
    (orphan,) = [f for f in report.findings if f.subject == "orphan"]
    assert (orphan.severity, orphan.protocol) == ("warning", "tcp")
    assert orphan.port == [lease.port for lease in reg.list() if lease.name == "orphan"][0]
    (silent,) = [f for f in report.findings if f.subject == "silent"]
    assert silent.severity == "info"


# --- repair ----------------------------------------------------------------------------------


def test_repair_names_what_it_lost_and_brings_a_damaged_registry_back(reg, path):
    damaged = (
        '{"version":2}\n'
        '{"lease":{"name":"web","port":22950,"protocol":"tcp","mode":"fixed","created":1}}\n'
        '{"leases":[{"name":"api","port":22950,"protocol":"tcp","mode":"fixed","created":1}]}\n'
    )
    with open(path, "w") as f:
        f.write(damaged)
    with pytest.raises(portpool.RegistryError, match="portpool repair"):
        reg.list()
    report = reg.repair()
    assert isinstance(report, portpool.RepairReport)
    assert (report.repaired, report.kept) == (True, 1)
    assert len(report.lost) == 1 and 'lease "api" (port 22950)' in report.lost[0]
    (aside,) = report.moved_aside
    with open(aside) as f:
        assert f.read() == damaged
    assert reg.get("web") == 22950
    assert reg.repair().repaired is False


@pytest.mark.skipif(os.geteuid() != 0, reason="needs root to become another user")
def test_a_registry_this_process_cannot_compact_is_a_portpool_warning_once():
    # Root's registry in a sticky directory others may write, with a long tail and no spare:
    # another user's changes append, and say once that they cannot compact it. (pytest's
    # tmp_path is under a directory only root may enter.)
    with tempfile.TemporaryDirectory() as name:
        check_the_compaction_warning(pathlib.Path(name))


def check_the_compaction_warning(tmp_path):
    tmp_path.chmod(0o1777)
    path = tmp_path / "registry.json"
    portpool.Registry(str(path)).register("web", portpool.find_free(), "fixed")
    with open(path, "a") as f:
        f.write('{"cursors":{"default":9000}}\n' * 300)
    path.chmod(0o666)
    (tmp_path / "registry.json.lock").chmod(0o666)
    script = (
        "import sys, warnings, portpool\n"
        "reg = portpool.Registry(sys.argv[1])\n"
        "with warnings.catch_warnings(record=True) as seen:\n"
        "    warnings.simplefilter('always')\n"
        "    for name in ('a', 'b'):\n"
        "        reg.allocate(name, pid=1)\n"
        "print(len(seen), seen[0].category.__name__, seen[0].message)\n"
    )
    out = subprocess.run(
        ["setpriv", "--reuid=65534", "--regid=65534", "--clear-groups", sys.executable, "-c", script,
         str(path)],
        capture_output=True, text=True, check=True,
    ).stdout
    assert out.startswith("1 PortpoolWarning "), out
    assert "cannot be compacted" in out, out
