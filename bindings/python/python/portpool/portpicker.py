"""portpicker's API over the host's port registry: change one import.

::

    from portpool import portpicker          # was: import portpicker

    port = portpicker.pick_unused_port()     # leased to this process until returned or its exit
    ...
    portpicker.return_port(port)

portpicker (PyPI) probes for a port and hands it out; without a portserver, two processes
can be given the same one, which is what makes parallel test runs fail with EADDRINUSE. Here
every port :func:`pick_unused_port` returns is a lease in the registry (the one
``portpool.Registry()`` opens: ``$PORTPOOL_REGISTRY``, else the host registry when it exists,
else the per-user one), taken from the ``default`` pool and owned by a process, so no other
process on the host, in any language, is given it while that process lives.

Every public name of portpicker 1.6 is here (``bind``, ``get_port_from_port_server``, the
CapWords aliases ``Bind``, ``IsPortFree``, ``PickUnusedPort``, ``GetPortFromPortServer``), and
``python -m portpool.portpicker [PID [BIND_TIMEOUT]]`` is its command line.

The portserver, as portpicker asks it: when ``portserver_address`` is given, or else
``$PORTSERVER_ADDRESS`` is set and not empty, :func:`pick_unused_port` asks that portserver
first (``portpool portserver`` serves the protocol from this same registry; any other
portserver is asked as portpicker would) and uses the registry when it gives no port. A port a
portserver gave, once returned, is handed out again by this process first, as portpicker does.

What differs from portpicker, on purpose:

- Ports come from the ``default`` pool (9000-18999 unless ``portpool pool set default`` changed
  it), not from anywhere in 15000-65535. Its 10,000 ports are as many as portpicker's own
  portserver hands out (15000-24999): enough for a test farm's workers to hold what they hold
  at once, below the kernel's ephemeral range. As portpicker promises, a port is free for TCP
  and UDP alike: it is probed for both and leased for both (``"tcp+udp"``), so no other lease,
  TCP or UDP, is given its number.
- :func:`return_port` releases the lease: the port goes back to every process on the host,
  not only to this one.
- :func:`is_port_free` also answers ``None`` for a port leased to another process, and raises
  :class:`portpool.InvalidArgumentError` (a ``ValueError``) for a number outside 1-65535.
- The command line's BIND_TIMEOUT holds nothing bound (the lease keeps the port for PID): it
  says so in a ``WARNING`` line on stderr, as portpicker does where it cannot hold the port.
"""

from __future__ import annotations

import argparse
import inspect
import logging
import os
import socket
import sys
import threading
from typing import Literal

from portpool import ExhaustedError, InvalidArgumentError, PortpoolError, Registry, _native, find_free

__all__ = [
    "NoFreePortFoundError",
    "add_reserved_port",
    "bind",
    "get_port_from_port_server",
    "is_port_free",
    "pick_unused_port",
    "return_port",
]

# The ports this process holds, by how it got them, as portpicker keeps them: ports to hand
# out first (reserved, or a portserver's port returned), such ports handed out, and ports
# picked from the registry. Clearing them forgets the ports (their leases stay until this
# process exits).
_free_ports: set[int] = set()
# portpicker's Windows named-pipe API: None on Linux, as in portpicker there (code written
# for portpicker reads it to choose its portserver transport).
_winapi = None
_owned_ports: set[int] = set()
_random_ports: set[int] = set()

_log = logging.getLogger(__name__)


class NoFreePortFoundError(ExhaustedError):
    """No free port could be found: the pool has no port that is neither leased nor bound.

    Also a :class:`portpool.ExhaustedError`, hence a :class:`portpool.PortpoolError`.
    """


class _State:
    """What this process has leased through this module, and the names it leases under."""

    def __init__(self) -> None:
        self.lock = threading.Lock()
        # Ports picked from the registry, with their leases' names and registries.
        self.picked: dict[int, tuple[str, Registry]] = {}
        # Every port add_reserved_port took, likewise.
        self.reserved: dict[int, tuple[str, Registry]] = {}

    def name(self, kind: str) -> str:
        # Unique on the host, as core names every unnamed lease.
        return _native._unnamed_lease_name("portpicker", kind)

    def owns(self, lease_name: str) -> bool:
        return any(name == lease_name for name, _ in self.picked.values()) or any(
            name == lease_name for name, _ in self.reserved.values()
        )


_state = _State()
# The default registry's path when it was last asked for, and a handle on it.
_registry: tuple[str, Registry] | None = None


def _reg() -> Registry:
    """The default registry, as ``Registry()`` chooses it now, through one cached handle.

    A handle reads only what changed since its last call, so it is reused for as long as the
    default path stays the same (opening one costs microseconds; its first read, a parse of
    the whole registry). A lease is given back through the handle that made it.
    """
    global _registry
    current = Registry()
    # Its repr names its file, and costs a fraction of the pathlib.Path that .path builds.
    key = repr(current)
    if _registry is None or _registry[0] != key:
        _registry = (key, current)
    return _registry[1]


def _forget_in_child() -> None:
    # A forked child neither hands out nor returns its parent's ports, and opens its own handle.
    global _state, _registry
    _state = _State()
    _registry = None
    for ports in (_free_ports, _owned_ports, _random_ports):
        ports.clear()


os.register_at_fork(after_in_child=_forget_in_child)


def pick_unused_port(pid: int | None = None, portserver_address: str | None = None) -> int:
    """Picks a port and leases it to process ``pid`` (default: this process).

    The port is one :func:`add_reserved_port` gave (or a portserver's port returned), first;
    else one the portserver at ``portserver_address``, else at ``$PORTSERVER_ADDRESS``, gives
    (as portpicker asks it); else the next free one of the registry's ``default`` pool, free
    and leased for TCP and UDP alike (as portpicker's ports are). A registry port stays leased until :func:`return_port` releases it or the process exits;
    meanwhile no other process on the host, in any language, is given it.

    Args:
      pid: the process that owns the lease: it is reclaimed once that process has exited.
      portserver_address: a portserver's Unix socket (a leading ``@``: the abstract
        namespace) to ask first.

    Returns:
      The port.

    Raises:
      NoFreePortFoundError: the pool has no free port.
      portpool.PortpoolError: the registry could not be used (its message says why).
    """
    owner = os.getpid() if pid is None else pid
    state = _state
    with state.lock:
        try:
            port = _free_ports.pop()
        except KeyError:
            pass
        else:
            _owned_ports.add(port)
            if port in state.reserved and owner != os.getpid():
                name, made_in = state.reserved[port]
                made_in.set_owner(name, owner)
            return port
    for address in (portserver_address, os.environ.get("PORTSERVER_ADDRESS")):
        if address:
            served = get_port_from_port_server(address, pid=owner)
            if served:
                return served
    return _pick_unused_port_without_server(pid=owner)


def _pick_unused_port_without_server(bind_timeout: float = 0, pid: int | None = None) -> int:
    """The registry's answer, where portpicker probes on its own: the next free port of the
    ``default`` pool, leased to ``pid`` (default: this process). ``bind_timeout`` is accepted
    as portpicker's; the lease, not a bound socket, keeps the port."""
    del bind_timeout
    owner = os.getpid() if pid is None else pid
    reg = _reg()
    state = _state
    with state.lock:
        name = state.name("p")
        try:
            port = reg.allocate(name, pid=owner, protocol="tcp+udp")
        except ExhaustedError as err:
            raise NoFreePortFoundError(str(err)) from err
        state.picked[port] = (name, reg)
        _random_ports.add(port)
        return port


def return_port(port: int) -> None:
    """Returns a port that :func:`pick_unused_port` gave, once it is no longer used.

    A port picked from the registry has its lease released, so any process may be given it
    again. A port of :func:`add_reserved_port` (leased to this process again) or of a
    portserver goes back to the ports that :func:`pick_unused_port` hands out first. Any other
    port is logged (at INFO) and ignored, as portpicker does.
    """
    state = _state
    with state.lock:
        if port in _random_ports:
            _random_ports.discard(port)
            if port in state.picked:
                name, made_in = state.picked.pop(port)
                made_in.release(name)
        elif port in _owned_ports:
            _owned_ports.discard(port)
            if port in state.reserved:
                name, made_in = state.reserved[port]
                made_in.set_owner(name, os.getpid())
            _free_ports.add(port)
        elif port in _free_ports:
            _log.info("port %s was returned already", port)
        else:
            _log.info("port %s was not given by pick_unused_port: nothing to return", port)


def add_reserved_port(port: int) -> None:
    """Adds a port this process acquired otherwise, for :func:`pick_unused_port` to hand out first.

    The port is leased to this process at once, for TCP and UDP (even when something already
    has it bound, as the caller holds it), so no other portpool user is given it.

    Raises:
      portpool.ConflictError: the port is leased to another holder.
      portpool.InvalidArgumentError: ``port`` is not in 1-65535.
    """
    state = _state
    with state.lock:
        if port not in state.reserved:
            name = state.name("r")
            reg = _reg()
            reg.register(name, port, "fixed", force=True, pid=os.getpid(), protocol="tcp+udp")
            state.reserved[port] = (name, reg)
        _free_ports.add(port)


def bind(port: int, socket_type: int, socket_proto: int) -> int | None:
    """Returns ``port`` when this process could bind it now, else ``None``; port 0: a port the
    kernel picks. As portpicker's ``bind``, which probes for :func:`is_port_free`.

    Args:
      port: the port, or 0.
      socket_type: ``socket.SOCK_STREAM`` (TCP) or ``socket.SOCK_DGRAM`` (UDP).
      socket_proto: ``socket.IPPROTO_TCP``, ``socket.IPPROTO_UDP`` or 0.

    Raises:
      portpool.InvalidArgumentError: an unknown socket type, or a port outside 0-65535.
    """
    protocol: Literal["tcp", "udp"]
    if socket_type == socket.SOCK_STREAM:
        protocol = "tcp"
    elif socket_type == socket.SOCK_DGRAM:
        protocol = "udp"
    else:
        socket_proto = -1
    if socket_proto not in (0, socket.IPPROTO_TCP, socket.IPPROTO_UDP):
        raise InvalidArgumentError(
            f"socket type {socket_type} and protocol {socket_proto}: not a TCP or UDP socket"
        )
    if port == 0:
        return find_free(protocol)
    # Probed as this process would bind it; a port that is not free gives another one.
    try:
        return port if find_free(protocol, ports=[port]) == port else None
    except ExhaustedError:
        return None


def is_port_free(port: int) -> int | None:
    """Returns ``port`` when it is free for this process to use for TCP and UDP, else ``None``.

    Free: bound by no process (this one included, as portpicker's bind finds), and leased to
    nobody but this process through this module (a port :func:`pick_unused_port` gave this
    process is free for it to bind).

    Raises:
      portpool.InvalidArgumentError: ``port`` is not in 1-65535.
    """
    reg = _reg()
    state = _state
    protocols: tuple[tuple[Literal["tcp", "udp"], int], ...] = (
        ("tcp", socket.SOCK_STREAM),
        ("udp", socket.SOCK_DGRAM),
    )
    for protocol, kind in protocols:
        lease = reg.check(port, protocol).lease
        if lease is not None and not state.owns(lease.name):
            return None
        if bind(port, kind, 0) is None:
            return None
    return port


def get_port_from_port_server(portserver_address: str, pid: int | None = None) -> int | None:
    """Asks the portserver at ``portserver_address`` for a port for process ``pid`` (default:
    this one), with portpicker's protocol: the pid and a newline, answered by a port and a
    newline (0: none). A leading ``@`` names an address in the abstract namespace.

    Returns:
      The port, or ``None`` when the portserver could not be reached or gave none (said on
      stderr, as portpicker says it).
    """
    if not portserver_address:
        return None
    if pid is None:
        pid = os.getpid()
    address = "\0" + portserver_address[1:] if portserver_address[0] == "@" else portserver_address
    try:
        sock = socket.socket(socket.AF_UNIX, socket.SOCK_STREAM)
        try:
            sock.settimeout(_PORTSERVER_TIMEOUT)
            sock.connect(address)
            sock.sendall(b"%d\n" % pid)
            answer = sock.recv(1024)
        finally:
            sock.close()
    except OSError as error:
        print("Socket error when connecting to portserver:", error, file=sys.stderr)
        return None
    try:
        port = int(answer.split(b"\n")[0])
    except ValueError:
        port = 0
    if not port:
        print("Portserver failed to find a port.", file=sys.stderr)
        return None
    _owned_ports.add(port)
    return port


# A portserver that accepts and never answers costs a caller at most this many seconds.
_PORTSERVER_TIMEOUT = 10.0

# portpicker's names from before 1.1.
Bind = bind
GetPortFromPortServer = get_port_from_port_server
IsPortFree = is_port_free
PickUnusedPort = pick_unused_port


def main(argv: list[str] | None = None) -> int:
    """If passed an arg, treat it as a PID, otherwise we use getppid().

    The port printed is leased in the host's port registry to that PID until it exits (or
    until `portpool release` or `gc`), so no portpool user of any language is given it
    meanwhile. A second optional argument, a bind timeout in seconds, is accepted as
    portpicker accepts it; nothing is held bound (a WARNING on stderr says so), as the lease
    keeps the port.

      #!/bin/bash
      port="$(python -m portpool.portpicker $$)"
      test_my_server "$port"

    This will pick a port for your script's PID and assign it to $port.

    Older versions of the portpicker CLI ignore everything beyond the first arg.
    Older versions also used getpid() instead of getppid(), so script users are
    strongly encouraged to be explicit and pass $$ or your languages equivalent
    to associate the port with the PID of the controlling process.
    """
    argv = sys.argv if argv is None else argv
    if "-h" in argv or "--help" in argv:
        # As portpicker: this text on stdout, and a non-zero exit.
        print(argv[0], "usage:\n")
        print(inspect.getdoc(main))
        return 1
    parser = argparse.ArgumentParser(prog="python -m portpool.portpicker", add_help=False)
    parser.add_argument("pid", type=int, nargs="?")
    parser.add_argument("bind_timeout", type=float, nargs="?")
    args = parser.parse_args(argv[1:])
    pid = os.getppid() if args.pid is None else args.pid
    try:
        port = pick_unused_port(pid=pid)
    except PortpoolError as err:  # One line on stderr, as a command line tool reports.
        print(f"{parser.prog}: {err}", file=sys.stderr)
        return 1
    if args.bind_timeout:
        print(
            f"WARNING: nothing is held bound for {args.bind_timeout} s: port {port} is leased to pid {pid}",
            file=sys.stderr,
        )
    print(port)
    return 0


if __name__ == "__main__":
    sys.exit(main())
