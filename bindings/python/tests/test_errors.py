"""Every exception class: its place in the hierarchy, its message, and a call that raises it."""

import errno
import os
import pickle
import shutil
import tempfile

import pytest

import portpool

SUBCLASSES = {
    portpool.NotFoundError: KeyError,
    portpool.InvalidArgumentError: ValueError,
    portpool.ConflictError: None,
    portpool.ExhaustedError: None,
    portpool.RegistryError: None,
    portpool.PortpoolIOError: OSError,
    portpool.BusyError: TimeoutError,
}


def test_every_error_is_a_portpool_error_and_its_python_counterpart():
    assert issubclass(portpool.PortpoolError, Exception)
    for cls, builtin in SUBCLASSES.items():
        assert issubclass(cls, portpool.PortpoolError), cls
        assert cls.__module__ == "portpool"
        if builtin is not None:
            assert issubclass(cls, builtin), cls
        assert cls.__doc__


def test_str_of_an_error_is_the_plain_message(reg):
    with pytest.raises(portpool.NotFoundError) as info:
        reg.renew("ghost", 10)
    # KeyError would quote its message; portpool's errors never do.
    assert str(info.value) == 'no lease named "ghost"'
    assert info.value.args == ('no lease named "ghost"',)
    for cls in SUBCLASSES:
        assert str(cls("plain")) == "plain"


def test_errors_survive_pickling_as_multiprocessing_needs():
    for cls in SUBCLASSES:
        again = pickle.loads(pickle.dumps(cls("message")))
        assert type(again) is cls
        assert str(again) == "message"


def test_not_found_is_caught_as_key_error(reg):
    with pytest.raises(KeyError):
        reg.allocate("a", "no-such-pool")
    with pytest.raises(portpool.PortpoolError):
        reg.renew("ghost")


@pytest.mark.parametrize(
    ("call", "message"),
    [
        (lambda r: r.register("a", 0), "invalid port 0: ports are 1-65535"),
        (lambda r: r.register("a", -5), "invalid port -5: ports are 1-65535"),
        (lambda r: r.register("a", 70000), "invalid port 70000: ports are 1-65535"),
        (lambda r: r.register("a", 2**70), "ports are 1-65535"),
        (lambda r: r.register("a b", 8080), "invalid name \"a b\": contains whitespace"),
        (lambda r: r.register("", 8080), "must not be empty"),
        (lambda r: r.register("a", 8080, "pool"), 'invalid mode "pool"'),
        (lambda r: r.register("a", 8080, "sticky"), 'invalid mode "sticky"'),
        (lambda r: r.register("a", 8080, protocol="sctp"), 'invalid protocol "sctp"'),
        (lambda r: r.register("a", 8080, pid=-1), "invalid pid -1: process ids are 1-"),
        (lambda r: r.register("a", 8080, pid=0), "invalid pid 0: process ids are 1-"),
        (lambda r: r.register("a", 8080, pid=2**31), "invalid pid 2147483648"),
        (lambda r: r.register("a", 8080, pid=2**70), "invalid pid"),
        (lambda r: r.register("a", 8080, ttl=2**70), "invalid ttl"),
        (lambda r: r.allocate("a", pid=-2), "invalid pid -2"),
        (lambda r: r.set_owner("a", -1), "invalid pid -1"),
        (lambda r: r.begin_handover("a", pid=0), "invalid pid 0"),
        (lambda r: r.register("a", 8080, ttl=0), "invalid ttl 0"),
        (lambda r: r.register("a", 8080, ttl=-3), "invalid ttl -3"),
        (lambda r: r.allocate("a", "bad pool"), "pool: invalid name"),
        (lambda r: r.set_pool("p", 0, 10), "invalid port 0"),
        (lambda r: r.get("x" * 129), "longer than 128 bytes"),
        (lambda r: r.release("tab\there"), "control character"),
        (lambda r: r.check(65536), "invalid port 65536"),
        (lambda r: r.renew("a", ttl=0), "invalid ttl 0"),
        (lambda r: r.lease("a", protocol="icmp"), 'invalid protocol "icmp"'),
        (lambda r: portpool.is_free(0), "invalid port 0"),
        (lambda r: portpool.find_free("nope"), 'invalid protocol "nope"'),
    ],
)
def test_invalid_arguments_raise_invalid_argument_error_with_cores_message(
    reg, path, call, message
):
    with pytest.raises(portpool.InvalidArgumentError) as info:
        call(reg)
    assert message in str(info.value)
    assert isinstance(info.value, ValueError)
    assert not path.exists(), "nothing is written for a rejected argument"


def test_a_pid_of_no_running_process_is_invalid(reg):
    # Pids are at most 2**22 on Linux; this one cannot exist.
    with pytest.raises(portpool.InvalidArgumentError, match="no such process"):
        reg.register("a", 8080, pid=2**31 - 1)


def test_conflict_error(reg):
    port = reg.register("a", portpool.find_free(), "fixed")
    with pytest.raises(portpool.ConflictError):
        reg.register("b", port, "fixed")


def test_exhausted_error(reg):
    reg.set_pool("one", 42000, 42000, probe=False)
    reg.allocate("a", "one")
    with pytest.raises(portpool.ExhaustedError, match=r"pool \"one\" \(42000-42000\)"):
        reg.allocate("b", "one")


def test_a_corrupt_registry_raises_registry_error_and_is_left_untouched(reg, path):
    path.write_text("{ not json")
    for call in (reg.list, reg.pools, lambda: reg.get("a"), lambda: reg.allocate("a")):
        with pytest.raises(portpool.RegistryError, match="not valid JSON"):
            call()
    assert path.read_text() == "{ not json"


def test_a_newer_registry_format_raises_registry_error(reg, path):
    path.write_text('{"version": 4}')
    with pytest.raises(portpool.RegistryError, match="newer than this portpool reads"):
        reg.register("a", 8080)
    assert path.read_text() == '{"version": 4}'


def test_a_registry_behind_a_symbolic_link_raises_registry_error(tmp_path):
    real = portpool.Registry(tmp_path / "real.json")
    real.reset()
    link = tmp_path / "link.json"
    link.symlink_to(tmp_path / "real.json")
    with pytest.raises(portpool.RegistryError, match="symbolic link"):
        portpool.Registry(link).register("a", 8080)


def test_an_operating_system_failure_raises_portpool_io_error(tmp_path):
    # The registry's directory is a regular file: no lock file can be made there.
    (tmp_path / "plain-file").write_text("")
    reg = portpool.Registry(tmp_path / "plain-file" / "registry.json")
    with pytest.raises(portpool.PortpoolIOError) as info:
        reg.register("a", 8080)
    assert isinstance(info.value, OSError)
    assert "plain-file" in str(info.value)
    # What the system call said: the path exists and is no directory.
    assert info.value.errno in (errno.EEXIST, errno.ENOTDIR)
    assert os.strerror(info.value.errno) in str(info.value)


def test_an_io_error_without_a_system_call_behind_it_has_no_errno():
    assert portpool.PortpoolIOError("plain").errno is None


def test_a_lock_held_past_the_lock_timeout_raises_busy_error_and_reads_go_on(reg, path):
    import fcntl

    reg.register("a", 41900, "fixed", force=True)
    with open(f"{path}.lock") as lock:
        fcntl.flock(lock, fcntl.LOCK_EX)
        impatient = portpool.Registry(path, lock_timeout=0.1)
        with pytest.raises(portpool.BusyError, match=f"pid {os.getpid()}") as info:
            impatient.release("a")
        assert isinstance(info.value, TimeoutError)
        assert impatient.get("a") == 41900
        fcntl.flock(lock, fcntl.LOCK_UN)
    assert impatient.release("a")


def test_a_lock_timeout_is_seconds_from_zero_to_a_year(path, monkeypatch):
    portpool.Registry(path, lock_timeout=0)
    for bad in (-1.0, float("nan"), 1e12):
        with pytest.raises(portpool.InvalidArgumentError, match="lock timeout"):
            portpool.Registry(path, lock_timeout=bad)
    monkeypatch.setenv("PORTPOOL_LOCK_TIMEOUT", "later")
    with pytest.raises(portpool.InvalidArgumentError, match="PORTPOOL_LOCK_TIMEOUT"):
        portpool.Registry(path)


def test_an_empty_path_is_invalid():
    with pytest.raises(portpool.InvalidArgumentError, match="empty"):
        portpool.Registry("")


@pytest.mark.parametrize(
    "call",
    [
        lambda r: portpool.Registry(5),
        lambda r: portpool.Registry(b"/tmp/registry.json"),
        lambda r: r.register(5, 8080),
        lambda r: r.register("a", "8080"),
        lambda r: r.register("a", 8080.0),
        lambda r: r.register("a", True),
        lambda r: r.register("a", None),
        lambda r: r.register("a", 8080, 1),
        lambda r: r.register("a", 8080, protocol=None),
        lambda r: r.register("a", 8080, force="yes"),
        lambda r: r.register("a", 8080, pid="1"),
        lambda r: r.register("a", 8080, ttl=1.5),
        lambda r: r.register("a", 8080, "fixed", True),
        lambda r: r.allocate(["a"]),
        lambda r: r.allocate("a", pool=5),
        lambda r: r.get(None),
        lambda r: r.release(1),
        lambda r: r.set_pool("p", "1", 2),
        lambda r: r.set_pool("p", 1, 2, probe="no"),
        lambda r: r.check("80"),
        lambda r: r.renew("a", "10"),
        lambda r: r.lease("a", ttl="10"),
        lambda r: portpool.is_free("80"),
        lambda r: portpool.find_free(6),
    ],
)
def test_a_wrong_argument_type_raises_type_error(reg, path, call):
    with pytest.raises(TypeError):
        call(reg)
    assert not path.exists()


def test_an_int_like_object_is_accepted_as_a_port(reg):
    class Index:
        def __index__(self) -> int:
            return 41234

    assert reg.set_pool("p", Index(), Index()).start == 41234



def _release_theirs() -> None:
    """On a registry of its own holding a lease uid 4242 made: releasing it is a
    ConflictError naming that user, and force=True releases it."""
    d = tempfile.mkdtemp(dir="/tmp")
    path = os.path.join(d, "r.json")
    with open(path, "w") as f:
        f.write(
            '{"version":2}\n{"lease":{"name":"theirs","port":1,"protocol":"tcp",'
            '"mode":"fixed","pool":null,"created":1,"uid":4242}}\n'
        )
    with pytest.raises(portpool.ConflictError, match="uid 4242"):
        portpool.Registry(path).release("theirs")
    forced = portpool.Registry(path, force=True)
    assert forced.force and forced.release("theirs")
    shutil.rmtree(d)


def test_another_users_lease_is_a_conflict_error_to_release_unless_forced():
    if os.geteuid() != 0:
        _release_theirs()
        return
    # Root may anyway: the check runs in a child that becomes nobody.
    child = os.fork()
    if child == 0:
        code = 1
        try:
            os.setgroups([])
            os.setgid(65534)
            os.setuid(65534)
            _release_theirs()
            code = 0
        finally:
            os._exit(code)
    _, status = os.waitpid(child, 0)
    assert os.waitstatus_to_exitcode(status) == 0
