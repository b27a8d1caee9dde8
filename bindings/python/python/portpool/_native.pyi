"""Type stubs of portpool's native module; import `portpool` rather than this module."""

import builtins
import os
import pathlib
from collections.abc import Iterable
from types import TracebackType
from typing import Final, Literal, final, overload

__all__ = [
    "DEFAULT_POOL",
    "DEFAULT_POOL_END",
    "DEFAULT_POOL_START",
    "FORMAT_VERSION",
    "MAX_NAME_BYTES",
    "BusyError",
    "ConflictError",
    "DoctorReport",
    "ExhaustedError",
    "Finding",
    "ImportReport",
    "InvalidArgumentError",
    "Lease",
    "LeaseGuard",
    "Next",
    "NotFoundError",
    "Pool",
    "PortState",
    "PortpoolError",
    "PortpoolIOError",
    "Process",
    "Reclaimed",
    "Registry",
    "RegistryError",
    "Socket",
    "Who",
    "__version__",
    "find_free",
    "is_free",
]

__version__: Final[str]
DEFAULT_POOL: Final[str]
"""The pool that always exists, "default"."""
DEFAULT_POOL_START: Final[int]
"""First port of the default pool unless changed (9000)."""
DEFAULT_POOL_END: Final[int]
"""Last port of the default pool unless changed (9999)."""
MAX_NAME_BYTES: Final[int]
"""Longest lease or pool name, in bytes of UTF-8 (128)."""
FORMAT_VERSION: Final[int]
"""The registry file format version this build writes (it also reads version 1)."""

_Protocol = Literal["tcp", "udp"]
_Port = int

class PortpoolError(Exception):
    """Base class of every error portpool raises; `str(err)` is portpool's message."""

class NotFoundError(PortpoolError, KeyError):
    """A lease, pool or other named thing does not exist. Also a KeyError."""

class InvalidArgumentError(PortpoolError, ValueError):
    """An argument was rejected before anything was read or written. Also a ValueError."""

class ConflictError(PortpoolError):
    """The port is taken, or the name already holds something else."""

class ExhaustedError(PortpoolError):
    """No free port was left where one was asked for."""

class RegistryError(PortpoolError):
    """The registry file cannot be used; it is left untouched."""

class PortpoolIOError(PortpoolError, OSError):
    """The operating system failed a read or write. Also an OSError; `errno` is the OS
    error number when there is one."""

class BusyError(PortpoolError, TimeoutError):
    """Another process held the registry's lock for the whole lock timeout. Also a TimeoutError."""

@final
class Lease:
    """One port held by one name, as the registry recorded it. Immutable."""

    @property
    def name(self) -> str: ...
    @property
    def port(self) -> int: ...
    @property
    def protocol(self) -> Literal["tcp", "udp"]: ...
    @property
    def mode(self) -> Literal["fixed", "flexible", "pool"]: ...
    @property
    def pool(self) -> str | None: ...
    @property
    def pid(self) -> int | None: ...
    @property
    def created(self) -> int: ...
    @property
    def ttl(self) -> int | None: ...
    @property
    def expires(self) -> int | None: ...
    @property
    def next(self) -> Next | None: ...
    @property
    def stale(self) -> str | None: ...

@final
class Next:
    """The next generation's port during a handover (Lease.next). Immutable."""

    @property
    def port(self) -> int: ...
    @property
    def created(self) -> int: ...
    @property
    def pid(self) -> int | None: ...

@final
class Pool:
    """A named port range with a round-robin cursor shared by the host. Immutable."""

    @property
    def name(self) -> str: ...
    @property
    def start(self) -> int: ...
    @property
    def end(self) -> int: ...
    @property
    def cursor(self) -> int: ...
    @property
    def probe(self) -> bool: ...

@final
class PortState:
    """What Registry.check() found on a port. Immutable."""

    @property
    def status(self) -> Literal["free", "leased", "busy"]: ...
    @property
    def lease(self) -> Lease | None: ...

@final
class Reclaimed:
    """A stale lease that Registry.gc() released, and why. Immutable."""

    @property
    def lease(self) -> Lease: ...
    @property
    def reason(self) -> str: ...

@final
class ImportReport:
    """What Registry.import_() did. Immutable."""

    @property
    def imported(self) -> list[Lease]: ...
    @property
    def skipped(self) -> list[str]: ...

@final
class Process:
    """A process holding a socket. Immutable."""

    @property
    def pid(self) -> int: ...
    @property
    def program(self) -> str: ...

@final
class Socket:
    """A server socket: a TCP listener, or a bound, unconnected UDP socket. Immutable."""

    @property
    def protocol(self) -> Literal["tcp", "udp"]: ...
    @property
    def address(self) -> str: ...
    @property
    def port(self) -> int: ...
    @property
    def processes(self) -> list[Process]: ...

@final
class Who:
    """Everything known about one port: Registry.who(). Immutable."""

    @property
    def port(self) -> int: ...
    @property
    def leases(self) -> list[Lease]: ...
    @property
    def sockets(self) -> list[Socket] | None: ...
    @property
    def unavailable(self) -> str | None: ...

@final
class Finding:
    """One problem Registry.doctor() found. Immutable."""

    @property
    def kind(
        self,
    ) -> Literal[
        "not_listening",
        "foreign_listener",
        "stale_owner",
        "stale_next_owner",
        "expired",
        "taken_over",
        "ephemeral_overlap",
        "split_registry",
    ]: ...
    @property
    def severity(self) -> Literal["info", "warning"]: ...
    @property
    def subject(self) -> str: ...
    @property
    def port(self) -> int | None: ...
    @property
    def protocol(self) -> Literal["tcp", "udp"] | None: ...
    @property
    def message(self) -> str: ...

@final
class DoctorReport:
    """The result of Registry.doctor(). Immutable."""

    @property
    def findings(self) -> list[Finding]: ...
    @property
    def unavailable(self) -> str | None: ...

@final
class LeaseGuard:
    """A port leased from a pool for the length of a `with` block."""

    @property
    def name(self) -> str: ...
    @property
    def port(self) -> int | None: ...
    def __enter__(self) -> int: ...
    def __exit__(
        self,
        exc_type: type[BaseException] | None,
        exc_value: BaseException | None,
        traceback: TracebackType | None,
    ) -> bool: ...

@final
class Registry:
    """A handle on one registry file, safe to share between threads."""

    def __new__(
        cls, path: str | os.PathLike[str] | None = None, *, lock_timeout: float | None = None
    ) -> Registry: ...
    @property
    def path(self) -> pathlib.Path: ...
    def register(
        self,
        name: str,
        port: _Port,
        mode: Literal["flexible", "fixed"] = "flexible",
        *,
        protocol: _Protocol = "tcp",
        force: bool = False,
        pid: int | None = None,
        ttl: int | None = None,
    ) -> int: ...
    def allocate(
        self,
        name: str,
        pool: str | None = None,
        *,
        protocol: _Protocol = "tcp",
        pid: int | None = None,
        ttl: int | None = None,
    ) -> int: ...
    @overload
    def get(self, name: str, default: None = None) -> int | None: ...
    @overload
    def get(self, name: str, default: int) -> int: ...
    def release(self, name: str) -> bool: ...
    def list(self) -> builtins.list[Lease]: ...
    def pools(self) -> builtins.list[Pool]: ...
    def set_pool(
        self, name: str, start: _Port, end: _Port, *, probe: bool | None = None
    ) -> Pool: ...
    def check(self, port: _Port, protocol: _Protocol = "tcp") -> PortState: ...
    def gc(self) -> builtins.list[Reclaimed]: ...
    def renew(self, name: str, ttl: int | None = None) -> Lease: ...
    def reset(self) -> None: ...
    def begin_handover(self, name: str, pid: int | None = None) -> int: ...
    def commit_handover(self, name: str, pid: int | None = None) -> int: ...
    def abort_handover(self, name: str, pid: int | None = None) -> int: ...
    def allocate_many(
        self,
        names: Iterable[str],
        pool: str | None = None,
        *,
        protocol: _Protocol = "tcp",
        pid: int | None = None,
        ttl: int | None = None,
    ) -> builtins.list[int]: ...
    def set_owner(self, name: str, pid: int | None = None) -> Lease: ...
    def import_(self, file: str | os.PathLike[str]) -> ImportReport: ...
    def who(self, port: _Port) -> Who: ...
    def migrate(self, dry_run: bool = False) -> builtins.list[Lease]: ...
    def doctor(self) -> DoctorReport: ...
    def lease(
        self,
        name: str,
        pool: str | None = None,
        *,
        protocol: _Protocol = "tcp",
        pid: int | None = None,
        ttl: int | None = None,
    ) -> LeaseGuard: ...

def is_free(port: _Port, protocol: _Protocol = "tcp") -> bool: ...
def find_free(protocol: _Protocol = "tcp") -> int: ...
