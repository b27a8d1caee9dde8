"""protocol="tcp+udp": one port number leased, probed and read back for TCP and UDP at once."""

import socket

import pytest

import portpool


def udp_bound() -> socket.socket:
    sock = socket.socket(socket.AF_INET, socket.SOCK_DGRAM)
    sock.bind(("0.0.0.0", 0))
    return sock


def test_a_tcp_udp_lease_conflicts_with_a_tcp_and_a_udp_lease_of_its_port(reg):
    port = portpool.find_free("tcp+udp")
    reg.register("dns", port, "fixed", protocol="tcp+udp")
    with pytest.raises(portpool.ConflictError, match="dns"):
        reg.register("web", port, "fixed")
    with pytest.raises(portpool.ConflictError, match="dns"):
        reg.register("syslog", port, "fixed", protocol="udp")


def test_a_tcp_udp_registration_of_a_port_leased_for_udp_is_a_conflict(reg):
    port = portpool.find_free("tcp+udp")
    reg.register("syslog", port, "fixed", protocol="udp")
    with pytest.raises(portpool.ConflictError, match="syslog"):
        reg.register("dns", port, "fixed", protocol="tcp+udp")


def test_the_probe_refuses_for_tcp_udp_a_port_bound_for_udp_only(reg):
    with udp_bound() as sock:
        busy = sock.getsockname()[1]
        assert portpool.is_free(busy, "tcp+udp") is False
        assert reg.check(busy, "tcp+udp").state == "busy"
        assert reg.register("dns", busy, protocol="tcp+udp") != busy


def test_a_tcp_udp_lease_reads_back_through_the_file(path, reg):
    port = reg.register("dns", portpool.find_free("tcp+udp"), "fixed", protocol="tcp+udp")
    assert '"protocol":"tcp+udp"' in path.read_text()
    (lease,) = portpool.Registry(path).list()
    assert (lease.name, lease.port, lease.protocol) == ("dns", port, "tcp+udp")


def test_listen_refuses_tcp_udp_as_one_socket_is_one_protocol(reg):
    with pytest.raises(portpool.InvalidArgumentError, match="one socket"):
        reg.listen("dns", protocol="tcp+udp")
    assert reg.list() == []


def test_a_tcp_udp_lease_crosses_the_file_between_python_and_the_command_line(reg, cli):
    mine = reg.register("from-python", portpool.find_free("tcp+udp"), "fixed", protocol="tcp+udp")
    assert '"protocol": "tcp+udp"' in cli("list", "--json").stdout.replace('":"', '": "')
    other = portpool.find_free("tcp+udp")
    cli("register", "from-cli", str(other), "fixed", "--protocol", "tcp+udp")
    protocols = {lease.name: (lease.port, lease.protocol) for lease in reg.list()}
    assert protocols == {"from-python": (mine, "tcp+udp"), "from-cli": (other, "tcp+udp")}
