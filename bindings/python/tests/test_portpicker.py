"""portpool.portpicker: portpicker's API, where every port handed out is a pid-owned lease.

The original portpicker (pinned in requirements-dev.txt) is imported only to compare the
public API's shape.
"""

import inspect
import logging
import os
import socket
import subprocess
import sys
import threading

import portpicker as original
import pytest

import portpool
from conftest import free_block
from portpool import portpicker

POOL = (41100, 41139)


@pytest.fixture(autouse=True)
def _fresh(monkeypatch):
    """Each test starts with no ports picked or reserved, and a default pool that does not
    bind-probe (so other software on the host cannot disturb it), in the registry that
    `portpool.Registry()` opens: the temporary one conftest points $PORTPOOL_REGISTRY at."""
    monkeypatch.setattr(portpicker, "_state", portpicker._State())
    for ports in (portpicker._free_ports, portpicker._owned_ports, portpicker._random_ports):
        ports.clear()
    portpool.Registry().set_pool("default", *POOL, probe=False)


@pytest.fixture
def default() -> portpool.Registry:
    return portpool.Registry()


def lease_of(reg: portpool.Registry, port: int) -> portpool.Lease:
    (lease,) = [lease for lease in reg.list() if lease.port == port]
    return lease


def sleeper() -> subprocess.Popen:
    return subprocess.Popen([sys.executable, "-c", "import time; time.sleep(60)"])


def test_the_public_api_has_every_public_name_of_portpicker_with_its_signature():
    public = [name for name in vars(original) if not name.startswith("_")]
    public = [name for name in public if inspect.isfunction(getattr(original, name))]
    public = [name for name in public if getattr(getattr(original, name), "__module__", "") == "portpicker"]
    assert {"bind", "get_port_from_port_server", "PickUnusedPort", "IsPortFree", "Bind"} <= set(public)
    for name in public:
        mine = getattr(portpicker, name)
        assert inspect.signature(mine).parameters.keys() == (
            inspect.signature(getattr(original, name)).parameters.keys()
        ), name
    assert set(portpicker.__all__) >= set(original.__all__)
    assert issubclass(portpicker.NoFreePortFoundError, original.NoFreePortFoundError.__base__)
    assert portpicker.IsPortFree is portpicker.is_port_free
    assert issubclass(portpicker.NoFreePortFoundError, Exception)


def test_a_picked_port_is_leased_from_the_default_pool_to_the_calling_process(default):
    port = portpicker.pick_unused_port()
    assert POOL[0] <= port <= POOL[1]
    lease = lease_of(default, port)
    assert lease.pid == os.getpid()
    assert lease.pool == "default"
    assert lease.stale is None


def test_a_picked_port_is_leased_for_tcp_and_udp_as_portpicker_promises(default):
    port = portpicker.pick_unused_port()
    assert lease_of(default, port).protocol == "tcp+udp"
    with pytest.raises(portpool.ConflictError):
        default.register("syslog", port, "fixed", protocol="udp")


def test_a_pick_passes_over_a_pool_port_bound_for_udp_only(default):
    with socket.socket(socket.AF_INET, socket.SOCK_DGRAM) as sock:
        sock.bind(("0.0.0.0", 0))
        busy = sock.getsockname()[1]
        default.set_pool("default", busy, busy, probe=True)
        with pytest.raises(portpicker.NoFreePortFoundError):
            portpicker.pick_unused_port()


def test_picks_never_repeat_a_port_while_it_is_leased(default):
    ports = [portpicker.pick_unused_port() for _ in range(POOL[1] - POOL[0] + 1)]
    assert sorted(ports) == list(range(POOL[0], POOL[1] + 1))


def test_a_port_picked_for_another_pid_is_leased_to_it_and_reclaimed_when_it_exits(default):
    child = sleeper()
    try:
        port = portpicker.pick_unused_port(pid=child.pid)
        assert lease_of(default, port).pid == child.pid
    finally:
        child.kill()
        child.wait()
    assert [r.lease.port for r in default.gc()] == [port]


def test_an_unreachable_portserver_is_said_on_stderr_and_the_registry_answers(
    default, monkeypatch, capfd
):
    monkeypatch.setenv("PORTSERVER_ADDRESS", "@portpool-test-no-such-server")
    port = portpicker.pick_unused_port(portserver_address="@portpool-test-no-such-server")
    assert lease_of(default, port).pid == os.getpid()
    assert "Socket error when connecting to portserver" in capfd.readouterr().err


def test_portserver_address_names_the_portserver_asked_first_as_portpicker_does(
    default, monkeypatch, tmp_path
):
    """A portserver that answers one port per request, as `portpool portserver` or
    portpicker's own would; the port it gives comes back to this process when returned."""
    address = str(tmp_path / "portserver.sock")
    served = []
    with socket.socket(socket.AF_UNIX, socket.SOCK_STREAM) as server:
        server.bind(address)
        server.listen()

        def answer(port: int) -> None:
            conn, _ = server.accept()
            with conn:
                served.append(int(conn.recv(64).split(b"\n")[0]))
                conn.sendall(b"%d\n" % port)

        thread = threading.Thread(target=answer, args=(POOL[1] + 5,))
        thread.start()
        monkeypatch.setenv("PORTSERVER_ADDRESS", address)
        assert portpicker.pick_unused_port() == POOL[1] + 5
        thread.join()
        assert served == [os.getpid()]
        assert default.list() == [], "the portserver's port is no lease of this process"
        portpicker.return_port(POOL[1] + 5)
        assert portpicker.pick_unused_port() == POOL[1] + 5, "handed out again first"
    monkeypatch.setenv("PORTSERVER_ADDRESS", "")
    assert lease_of(default, portpicker.pick_unused_port()).pid == os.getpid()


def test_return_port_releases_the_lease_for_every_process(default):
    port = portpicker.pick_unused_port()
    portpicker.return_port(port)
    assert [lease for lease in default.list() if lease.port == port] == []


def test_returning_a_port_portpicker_never_gave_is_logged_and_changes_nothing(default, caplog):
    port = portpicker.pick_unused_port()
    before = default.list()
    with caplog.at_level(logging.INFO, logger="portpool.portpicker"):
        portpicker.return_port(POOL[1] + 1)
    assert "was not given by pick_unused_port" in caplog.text
    assert default.list() == before
    assert lease_of(default, port).pid == os.getpid()


def test_reserved_ports_are_leased_at_once_handed_out_first_and_come_back_when_returned(
    default,
):
    portpicker.add_reserved_port(41900)
    assert lease_of(default, 41900).pid == os.getpid()
    child = sleeper()
    try:
        assert portpicker.pick_unused_port(pid=child.pid) == 41900
        assert lease_of(default, 41900).pid == child.pid
        assert portpicker.pick_unused_port() != 41900
        portpicker.return_port(41900)
        assert lease_of(default, 41900).pid == os.getpid()
        assert portpicker.pick_unused_port() == 41900
    finally:
        child.kill()
        child.wait()


def test_a_reserved_port_leased_to_another_holder_is_a_conflict(default):
    (theirs,) = free_block(1)
    default.register("someone-else", theirs, "fixed")
    with pytest.raises(portpool.ConflictError):
        portpicker.add_reserved_port(theirs)
    assert portpicker.pick_unused_port() != theirs


def test_is_port_free_is_none_for_a_port_another_process_binds_though_this_one_leased_it(default):
    # The pick is bound and probed below: the pool holds one port free now.
    (free,) = free_block(1)
    default.set_pool("default", free, free, probe=False)
    mine = portpicker.pick_unused_port()
    holder = subprocess.Popen(
        [sys.executable, "-c", f"import socket,sys,time; s=socket.socket(); s.bind(('', {mine})); s.listen(); print(1, flush=True); time.sleep(60)"],
        stdout=subprocess.PIPE,
    )
    try:
        assert holder.stdout.readline() == b"1\n"
        assert portpicker.is_port_free(mine) is None
        assert portpicker.bind(mine, socket.SOCK_STREAM, socket.IPPROTO_TCP) is None
        assert portpicker.bind(mine, socket.SOCK_DGRAM, socket.IPPROTO_UDP) == mine
    finally:
        holder.kill()
        holder.wait()
        holder.stdout.close()
    assert portpicker.is_port_free(mine) == mine


def test_bind_of_port_0_is_a_port_the_kernel_picks():
    port = portpicker.bind(0, socket.SOCK_STREAM, socket.IPPROTO_TCP)
    assert isinstance(port, int) and 0 < port < 65536
    with pytest.raises(portpool.InvalidArgumentError):
        portpicker.bind(0, socket.SOCK_RAW, 0)


def test_is_port_free_returns_the_port_or_none(default):
    # Both ports are probed: the pool's one port and the other holder's are free now.
    free, theirs = free_block(2)
    default.set_pool("default", free, free, probe=False)
    mine = portpicker.pick_unused_port()
    assert portpicker.is_port_free(mine) == mine, "a port picked here is free for this process"
    default.register("other", theirs, "fixed")
    assert portpicker.is_port_free(theirs) is None, "leased to another holder"
    with socket.socket() as s:
        s.bind(("", 0))
        s.listen()
        assert portpicker.is_port_free(s.getsockname()[1]) is None, "bound"
    with socket.socket(socket.AF_INET, socket.SOCK_DGRAM) as s:
        s.bind(("", 0))
        assert portpicker.is_port_free(s.getsockname()[1]) is None, "bound for UDP"
    free = portpool.find_free()
    assert portpicker.is_port_free(free) in (free, None)  # None only if taken meanwhile


@pytest.mark.parametrize("port", [0, -1, 65536])
def test_is_port_free_refuses_a_number_that_is_not_a_port(port):
    with pytest.raises(portpool.InvalidArgumentError):
        portpicker.is_port_free(port)


def test_an_exhausted_pool_raises_no_free_port_found_which_is_a_portpool_error(default):
    default.set_pool("default", 41140, 41140, probe=False)
    portpicker.pick_unused_port()
    with pytest.raises(portpicker.NoFreePortFoundError) as caught:
        portpicker.pick_unused_port()
    assert isinstance(caught.value, portpool.ExhaustedError)
    assert isinstance(caught.value, portpool.PortpoolError)
    assert "no free tcp+udp port" in str(caught.value)


def test_processes_picking_at_once_never_share_a_port(default):
    script = (
        "from portpool import portpicker\n"
        "print(*(portpicker.pick_unused_port() for _ in range(5)))\n"
    )
    workers = [
        subprocess.Popen([sys.executable, "-c", script], stdout=subprocess.PIPE, text=True)
        for _ in range(8)
    ]
    ports = []
    for worker in workers:
        out, _ = worker.communicate(timeout=60)
        assert worker.returncode == 0
        ports += [int(p) for p in out.split()]
    assert len(ports) == 40
    assert len(set(ports)) == 40


def test_a_forked_child_neither_hands_out_nor_returns_its_parents_ports(default):
    portpicker.add_reserved_port(41903)
    picked = portpicker.pick_unused_port()
    read, write = os.pipe()
    pid = os.fork()
    if pid == 0:  # the child: report what it was given, return the parent's port, exit
        try:
            port = portpicker.pick_unused_port()
            portpicker.return_port(picked)
            os.write(write, str(port).encode())
        finally:
            os._exit(0)
    os.close(write)
    os.waitpid(pid, 0)
    child_port = int(os.read(read, 100))
    os.close(read)
    assert child_port not in (41903, picked)
    assert lease_of(default, picked).pid == os.getpid()


def run_cli(*args: str) -> subprocess.CompletedProcess[str]:
    return subprocess.run(
        [sys.executable, "-m", "portpool.portpicker", *args],
        capture_output=True,
        text=True,
        timeout=60,
    )


def test_the_command_line_leases_a_port_to_its_parent_by_default(default):
    out = run_cli()
    assert out.returncode == 0, out.stderr
    assert lease_of(default, int(out.stdout)).pid == os.getpid()


def test_the_command_line_leases_to_the_given_pid_and_accepts_a_bind_timeout(default):
    child = sleeper()
    try:
        out = run_cli(str(child.pid), "1.5")
        assert out.returncode == 0, out.stderr
        assert lease_of(default, int(out.stdout)).pid == child.pid
    finally:
        child.kill()
        child.wait()


def test_the_command_line_help_is_portpickers_usage_and_exits_non_zero(default):
    for flag in ("-h", "--help"):
        out = run_cli(flag)
        assert out.returncode != 0
        assert "usage" in out.stdout
        assert "\nIf passed an arg" in out.stdout
        assert "\n  #!/bin/bash" in out.stdout
    assert default.list() == []


def test_the_command_line_refuses_a_bad_pid_on_one_line_and_leases_nothing(default):
    out = run_cli("abc")
    assert out.returncode == 2
    assert "invalid int value: 'abc'" in out.stderr
    out = run_cli(str(2**22 + 17))  # beyond the largest pid_max: no such process
    assert out.returncode == 1
    assert out.stderr.startswith("python -m portpool.portpicker: ")
    assert len(out.stderr.splitlines()) == 1
    assert default.list() == []
