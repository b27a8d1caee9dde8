"""The port choices get-port and port-for users expect: preferred lists, a range to fall
back to, exclude lists, count, and the probe address (issue 14; the rules are core's)."""

import ipaddress
import socket

import pytest

import portpool
from conftest import free_block


def bound(port: int) -> socket.socket:
    """A socket holding `port` on the wildcard, as an unrelated server would."""
    sock = socket.socket(socket.AF_INET, socket.SOCK_STREAM)
    sock.bind(("0.0.0.0", port))
    sock.listen()
    return sock


def test_register_takes_the_first_free_of_a_preferred_list(reg):
    p = free_block(4)
    with bound(p[0]):
        assert reg.register("web", [p[0], p[1], p[2]]) == p[1]
    assert reg.register("api", (p[1], p[3]), "fixed") == p[3]


def test_register_falls_back_to_its_range_after_the_preferred_ports(reg):
    p = free_block(4)
    reg.register("other", p[0], "fixed")
    assert reg.register("web", p[0], "fixed", range=(p[1], p[3])) == p[1]
    assert reg.register("api", [p[0], p[1]], range=[p[1], p[3]]) == p[2]


def test_fixed_without_a_range_takes_only_its_list(reg):
    (port,) = free_block(1)
    reg.register("other", port, "fixed")
    with pytest.raises(portpool.ConflictError):
        reg.register("web", [port], "fixed")
    assert reg.get("web") is None


def test_register_and_allocate_never_hand_out_excluded_ports(reg, reserved):
    p = free_block(3)
    assert reg.register("web", p[0], exclude=[p[0], p[1]]) == p[2]
    assert reg.allocate("a", "reserved", exclude={41000, 41001}) == 41002
    with pytest.raises(portpool.ConflictError):
        reg.register("api", 41410, "fixed", exclude=[41410])


def test_a_scoped_lease_takes_a_preferred_list_and_its_options(reg):
    p = free_block(4)
    reg.register("other", p[0], "fixed")
    with reg.lease("worker", port=[p[0], p[1]], exclude=[p[1]], range=(p[2], p[3])) as port:
        assert port == p[2]
    assert reg.get("worker") is None


def test_find_free_tries_the_preferred_ports_then_the_range_and_skips_excluded_ones():
    p = free_block(6)
    with bound(p[0]):
        assert portpool.find_free(ports=[p[0], p[1]]) == p[1]
        assert portpool.find_free(ports=[p[0]], range=(p[2], p[5]), exclude=[p[2]]) == p[3]


def test_find_free_with_a_count_returns_that_many_distinct_ports_in_its_range():
    ports = portpool.find_free(range=(41700, 41720), count=3)
    assert len(set(ports)) == 3
    assert all(41700 <= port <= 41720 for port in ports)
    assert isinstance(portpool.find_free(count=1), list)
    with pytest.raises(portpool.ExhaustedError):
        portpool.find_free(range=(41730, 41731), count=3)


def test_find_free_on_one_host_probes_that_address_only():
    with socket.socket() as sock:
        sock.bind(("127.0.0.2", 0))
        sock.listen()
        port = sock.getsockname()[1]
        assert portpool.find_free(ports=[port], range=(port, port), host="127.0.0.1") == port
        assert portpool.find_free(ports=[port], host=ipaddress.ip_address("127.0.0.1")) == port
        with pytest.raises(portpool.ExhaustedError):
            portpool.find_free(range=(port, port))


@pytest.mark.parametrize(
    ("call", "error"),
    [
        (lambda reg: reg.register("w", "8080"), TypeError),
        (lambda reg: reg.register("w", [41800, "x"]), TypeError),
        (lambda reg: reg.register("w", 41800, range=(1, 2, 3)), TypeError),
        (lambda reg: reg.register("w", 41800, range=(41810, 41800)), portpool.InvalidArgumentError),
        (lambda reg: reg.register("w", 41800, exclude=[0]), portpool.InvalidArgumentError),
        (lambda reg: reg.register("w", 41800, host="not-an-address"), portpool.InvalidArgumentError),
        (lambda reg: reg.register("w", 41800, host="192.0.2.7"), portpool.InvalidArgumentError),
        (lambda reg: reg.register("w", []), portpool.InvalidArgumentError),
        (lambda reg: reg.allocate("w", exclude="41800"), TypeError),
        (lambda reg: reg.lease("w", "default", port=41800), portpool.InvalidArgumentError),
        (lambda reg: portpool.find_free(count=0), portpool.InvalidArgumentError),
        (lambda reg: portpool.find_free(count=-2), portpool.InvalidArgumentError),
        (lambda reg: portpool.find_free(count=True), TypeError),
    ],
)
def test_bad_port_choices_are_clear_errors_that_change_nothing(reg, call, error):
    with pytest.raises(error):
        call(reg)
    assert reg.list() == []


def test_every_lease_call_and_is_free_take_the_probe_address(reg):
    # tests/parity/options.tsv declares host for allocate, allocate_many and is_free too.
    with socket.socket() as sock:
        sock.bind(("127.0.0.2", 0))
        sock.listen()
        port = sock.getsockname()[1]
        reg.set_pool("one", port, port)
        assert portpool.is_free(port, host="127.0.0.1")
        assert not portpool.is_free(port)
        with pytest.raises(portpool.ExhaustedError):
            reg.allocate("a", "one")
        assert reg.allocate("a", "one", host="127.0.0.1") == port
        reg.release("a")
        assert reg.allocate_many(["b"], "one", host="127.0.0.1", bindable=True) == [port]


def test_allocate_many_never_hands_out_an_excluded_port(reg):
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        port = sock.getsockname()[1]
    reg.set_pool("one", port, port, probe=False)
    with pytest.raises(portpool.ExhaustedError):
        reg.allocate_many(["a"], "one", exclude=[port])
    assert reg.get("a") is None


def test_a_scoped_lease_takes_bindable(reg, reserved):
    with reg.lease("w", "reserved", bindable=True) as port:
        assert 41000 <= port <= 41009


def test_allocate_and_allocate_many_take_force_per_call(reg, reserved):
    port = reg.allocate("a", "reserved", force=True)
    assert reg.allocate("a", "reserved", force=True) == port
    assert reg.allocate_many(["a", "b"], "reserved", force=True)[0] == port


def test_a_scoped_lease_takes_force_as_register_does(reg):
    with socket.socket() as sock:
        sock.bind(("0.0.0.0", 0))
        sock.listen()
        port = sock.getsockname()[1]
        with pytest.raises(portpool.ConflictError):
            with reg.lease("w", port=port, mode="fixed"):
                pass
        with reg.lease("w", port=port, mode="fixed", force=True) as got:
            assert got == port
