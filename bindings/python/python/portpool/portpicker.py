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

What differs from portpicker, on purpose:

- No portserver is asked: ``portserver_address`` and ``$PORTSERVER_ADDRESS`` are accepted and
  not used, as the registry already answers for every process on the host. (For programs that
  keep the original portpicker, ``portpool portserver`` serves its protocol from the registry.)
- Ports come from the ``default`` pool (9000-9999 unless ``portpool pool set default`` changed
  it), not from anywhere in 15000-65535; a port is leased for TCP and probed for TCP.
- :func:`return_port` releases the lease: the port goes back to every process on the host,
  not only to this one.
- :func:`is_port_free` also answers ``None`` for a port leased to another process, and raises
  :class:`portpool.InvalidArgumentError` (a ``ValueError``) for a number outside 1-65535.
"""

from __future__ import annotations

import argparse
import itertools
import logging
import os
import secrets
import sys
import threading

from portpool import ExhaustedError, PortpoolError, Registry

__all__ = [
    "NoFreePortFoundError",
    "add_reserved_port",
    "is_port_free",
    "pick_unused_port",
    "return_port",
]

_log = logging.getLogger(__name__)


class NoFreePortFoundError(ExhaustedError):
    """No free port could be found: the pool has no port that is neither leased nor bound.

    Also a :class:`portpool.ExhaustedError`, hence a :class:`portpool.PortpoolError`.
    """


class _State:
    """What this process has leased through this module, and the names it leases under."""

    def __init__(self) -> None:
        self.lock = threading.Lock()
        # Lease names are unique on the host: this process's pid, a random tag (a later
        # process with the same pid never meets a name of this one) and a counter.
        self.prefix = f"portpicker:{os.getpid()}:{secrets.token_hex(4)}"
        self.serial = itertools.count(1)
        # Ports pick_unused_port handed out, with their leases' names and registries.
        self.picked: dict[int, tuple[str, Registry]] = {}
        # Every port add_reserved_port took, likewise; and those not handed out.
        self.reserved: dict[int, tuple[str, Registry]] = {}
        self.spare: list[int] = []

    def name(self, kind: str) -> str:
        return f"{self.prefix}:{kind}{next(self.serial)}"

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


os.register_at_fork(after_in_child=_forget_in_child)


def pick_unused_port(pid: int | None = None, portserver_address: str | None = None) -> int:
    """Picks a port and leases it to process ``pid`` (default: this process).

    The port is the next free one of the registry's ``default`` pool, unless
    :func:`add_reserved_port` gave ports, which are handed out first. It stays leased until
    :func:`return_port` releases it or the process exits; meanwhile no other process on the
    host, in any language, is given it.

    Args:
      pid: the process that owns the lease: it is reclaimed once that process has exited.
      portserver_address: accepted for compatibility with portpicker, and not used: the
        registry answers for every process on the host without a server.

    Returns:
      The port.

    Raises:
      NoFreePortFoundError: the pool has no free port.
      portpool.PortpoolError: the registry could not be used (its message says why).
    """
    del portserver_address  # The registry is the authority; see the module documentation.
    owner = os.getpid() if pid is None else pid
    reg = _reg()
    state = _state
    with state.lock:
        if state.spare:
            port = state.spare[0]
            if owner != os.getpid():
                name, made_in = state.reserved[port]
                made_in.set_owner(name, owner)
            state.spare.pop(0)
            return port
        name = state.name("p")
        try:
            port = reg.allocate(name, pid=owner)
        except ExhaustedError as err:
            raise NoFreePortFoundError(str(err)) from err
        state.picked[port] = (name, reg)
        return port


def return_port(port: int) -> None:
    """Returns a port that :func:`pick_unused_port` gave, once it is no longer used.

    A picked port's lease is released, so any process may be given it again. A port of
    :func:`add_reserved_port` stays leased to this process and goes back to the ports that
    :func:`pick_unused_port` hands out first. Any other port is logged (at INFO) and ignored,
    as portpicker does.
    """
    state = _state
    with state.lock:
        if port in state.picked:
            name, made_in = state.picked.pop(port)
            made_in.release(name)
        elif port in state.reserved:
            if port in state.spare:
                _log.info("port %s was returned already", port)
                return
            name, made_in = state.reserved[port]
            made_in.set_owner(name, os.getpid())
            state.spare.append(port)
        else:
            _log.info("port %s was not given by pick_unused_port: nothing to return", port)


def add_reserved_port(port: int) -> None:
    """Adds a port this process acquired otherwise, for :func:`pick_unused_port` to hand out first.

    The port is leased to this process at once (even when something already has it bound,
    as the caller holds it), so no other portpool user is given it.

    Raises:
      portpool.ConflictError: the port is leased to another holder.
      portpool.InvalidArgumentError: ``port`` is not in 1-65535.
    """
    state = _state
    with state.lock:
        if port in state.reserved:
            return
        name = state.name("r")
        reg = _reg()
        reg.register(name, port, "fixed", force=True, pid=os.getpid())
        state.reserved[port] = (name, reg)
        state.spare.append(port)


def is_port_free(port: int) -> int | None:
    """Returns ``port`` when it is free for this process to use for TCP and UDP, else ``None``.

    Free: bound by no process, and leased to nobody but this process through this module (a
    port :func:`pick_unused_port` gave this process is free for it to bind).

    Raises:
      portpool.InvalidArgumentError: ``port`` is not in 1-65535.
    """
    reg = _reg()
    state = _state
    for protocol in ("tcp", "udp"):
        found = reg.check(port, protocol)
        lease = found.lease
        if found.state == "busy" or (lease is not None and not state.owns(lease.name)):
            return None
    return port


def main(argv: list[str] | None = None) -> int:
    """``python -m portpool.portpicker [PID [BIND_TIMEOUT]]``: prints a port leased to PID."""
    parser = argparse.ArgumentParser(
        prog="python -m portpool.portpicker",
        description=(
            "Print a port leased in the host's registry to process PID (default: the parent "
            "process, e.g. the calling shell) until that process exits."
        ),
    )
    parser.add_argument(
        "pid", type=int, nargs="?", help="process that owns the lease (default: the parent)"
    )
    parser.add_argument(
        "bind_timeout",
        type=float,
        nargs="?",
        help="accepted for compatibility with portpicker; unused, as the lease keeps the port",
    )
    args = parser.parse_args(argv)
    pid = os.getppid() if args.pid is None else args.pid
    try:
        port = pick_unused_port(pid=pid)
    except PortpoolError as err:  # One line on stderr, as a command line tool reports.
        print(f"{parser.prog}: {err}", file=sys.stderr)
        return 1
    print(port)
    return 0


if __name__ == "__main__":
    sys.exit(main())
