"""Registry.listen: lease and bind in one step, and the socket handed to the server."""

import asyncio
import fcntl
import http.server
import os
import socket
import threading
import urllib.request

import pytest

import portpool
from conftest import free_block


@pytest.fixture
def reserved(reg) -> portpool.Pool:
    """conftest's pool that does not bind-probe, here on ports free now: listen binds its
    ports for real, so a server of the host on one of them would change what it gets."""
    ports = free_block(10)
    return reg.set_pool("reserved", ports[0], ports[-1], probe=False)


def test_listen_serves_an_http_request_through_the_leased_port(reg, reserved):
    sock = reg.listen("web", pool="reserved")
    port = sock.getsockname()[1]
    assert port == reg.get("web") == reserved.start
    assert sock.type == socket.SOCK_STREAM
    assert not sock.get_inheritable()

    class Handler(http.server.BaseHTTPRequestHandler):
        def do_GET(self) -> None:
            body = b"served on the leased port"
            self.send_response(200)
            self.send_header("Content-Length", str(len(body)))
            self.end_headers()
            self.wfile.write(body)

        def log_message(self, *args: object) -> None:
            pass

    server = http.server.HTTPServer(("", port), Handler, bind_and_activate=False)
    server.socket.close()
    server.socket = sock  # the bound, listening socket listen() handed over
    thread = threading.Thread(target=server.handle_request)
    thread.start()
    with urllib.request.urlopen(f"http://127.0.0.1:{port}/", timeout=10) as response:
        assert response.read() == b"served on the leased port"
    thread.join()
    server.server_close()
    (lease,) = reg.list()
    assert (lease.name, lease.port, lease.pid) == ("web", port, os.getpid())


def test_listen_udp_binds_a_datagram_socket_on_the_leased_port(reg, reserved):
    with reg.listen("dns", pool="reserved", protocol="udp", host="127.0.0.1") as sock:
        port = sock.getsockname()[1]
        assert sock.type == socket.SOCK_DGRAM
        assert reg.list()[0].protocol == "udp"
        with socket.socket(socket.AF_INET, socket.SOCK_DGRAM) as client:
            client.sendto(b"ping", ("127.0.0.1", port))
            assert sock.recvfrom(16)[0] == b"ping"


def test_closing_the_socket_keeps_the_lease_until_it_is_released(reg):
    p = free_block(2)
    sock = reg.listen("web", port=[p[0], p[1]], host="127.0.0.1")
    port = sock.getsockname()[1]
    sock.close()
    assert reg.get("web") == port == p[0]
    assert reg.release("web")


def test_listen_passes_over_a_port_someone_else_has_bound(reg):
    p = free_block(3)
    with socket.create_server(("0.0.0.0", p[0])):
        with reg.listen("web", port=p[0]) as sock:
            assert sock.getsockname()[1] == p[1]
    with pytest.raises(portpool.ConflictError):
        with socket.create_server(("0.0.0.0", p[2])):
            reg.listen("fixed", port=p[2], mode="fixed")
    assert reg.get("fixed") is None


def test_a_name_that_holds_a_lease_gets_a_socket_on_its_port(reg, reserved):
    port = reg.allocate("web", "reserved")
    with reg.listen("web", pool="reserved") as sock:
        assert sock.getsockname()[1] == port


@pytest.mark.parametrize(
    ("kwargs", "error"),
    [
        ({"pool": "reserved", "port": 41000}, portpool.InvalidArgumentError),
        ({"host": "192.0.2.7"}, portpool.InvalidArgumentError),
        ({"backlog": -1}, portpool.InvalidArgumentError),
        ({"protocol": "sctp"}, portpool.InvalidArgumentError),
        ({"port": "80"}, TypeError),
    ],
)
def test_bad_listen_arguments_are_clear_errors_that_lease_nothing(reg, reserved, kwargs, error):
    with pytest.raises(error):
        reg.listen("web", **kwargs)
    assert reg.list() == []


@pytest.mark.anyio
@pytest.mark.parametrize("anyio_backend", ["asyncio"])
async def test_listen_async_serves_and_a_cancelled_one_leaves_no_lease(reg, anyio_backend):
    ports = free_block(10)
    reg.set_pool("reserved", ports[0], ports[-1], probe=False)
    with await reg.listen_async("web", pool="reserved", host="127.0.0.1") as sock:
        assert sock.getsockname()[1] == reg.get("web")
    reg.reset()
    with open(f"{reg.path}.lock", "a") as held:
        fcntl.flock(held, fcntl.LOCK_EX)
        with pytest.raises(TimeoutError):
            await asyncio.wait_for(reg.listen_async("late"), 0.2)
    assert reg.list() == []
