"""Type stubs of portpool's native module; import `portpool` rather than this module."""

import builtins
import ipaddress
import os
import pathlib
import socket
from collections.abc import Iterable
from types import TracebackType
from typing import Final, Literal, Unpack, final, overload

from portpool._options import (
    AllocateManyOptions,
    AllocateOptions,
    LeaseOptions,
    ListenOptions,
    RegisterOptions,
)
from portpool._values import (
    DoctorReport,
    Handover,
    ImportReport,
    Lease,
    Pool,
    PortState,
    Reclaimed,
    RepairReport,
    Who,
)

__all__ = [
    "DEFAULT_POOL",
    "DEFAULT_POOL_END",
    "DEFAULT_POOL_START",
    "FORMAT_VERSION",
    "MAX_NAME_BYTES",
    "BusyError",
    "ConflictError",
    "ExhaustedError",
    "InvalidArgumentError",
    "LeaseGuard",
    "NotFoundError",
    "PortpoolError",
    "PortpoolIOError",
    "Registry",
    "RegistryError",
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
"""Last port of the default pool unless changed (18999)."""
MAX_NAME_BYTES: Final[int]
"""Longest lease or pool name, in bytes of UTF-8 (128)."""
FORMAT_VERSION: Final[int]
"""The registry file format version this build writes (it also reads version 1)."""

_Protocol = Literal["tcp", "udp", "tcp+udp"]
_Port = int
_Mode = Literal["flexible", "fixed"]
_Host = str | ipaddress.IPv4Address | ipaddress.IPv6Address

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
class LeaseGuard:
    """A scoped lease for one `with` or `async with` block; see Registry.lease()."""

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
    async def __aenter__(self) -> int: ...
    async def __aexit__(
        self,
        exc_type: type[BaseException] | None,
        exc_value: BaseException | None,
        traceback: TracebackType | None,
    ) -> bool: ...

@final
class Registry:
    """A handle on one registry file, safe to share between threads; pickles as its path."""

    def __new__(
        cls,
        path: str | os.PathLike[str] | None = None,
        *,
        lock_timeout: float | None = None,
        force: bool = False,
        namespace: str | None = None,
    ) -> Registry: ...
    def __getnewargs_ex__(
        self,
    ) -> tuple[tuple[pathlib.Path], dict[str, float | bool | str | None]]: ...
    @property
    def path(self) -> pathlib.Path: ...
    @property
    def namespace(self) -> str | None: ...
    @property
    def lock_timeout(self) -> float: ...
    @property
    def force(self) -> bool: ...
    def lease(
        self,
        name: str,
        pool: str | None = None,
        *,
        port: _Port | Iterable[_Port] | None = None,
        mode: _Mode = "flexible",
        timeout: float | None = None,
        **options: Unpack[LeaseOptions],
    ) -> LeaseGuard: ...
    def lease_async(
        self,
        name: str,
        pool: str | None = None,
        *,
        port: _Port | Iterable[_Port] | None = None,
        mode: _Mode = "flexible",
        timeout: float | None = None,
        **options: Unpack[LeaseOptions],
    ) -> LeaseGuard: ...
    def register(
        self,
        name: str,
        port: _Port | Iterable[_Port],
        mode: _Mode = "flexible",
        *,
        timeout: float | None = None,
        **options: Unpack[RegisterOptions],
    ) -> int: ...
    async def register_async(
        self,
        name: str,
        port: _Port | Iterable[_Port],
        mode: _Mode = "flexible",
        *,
        timeout: float | None = None,
        **options: Unpack[RegisterOptions],
    ) -> int: ...
    def allocate(
        self,
        name: str,
        pool: str | None = None,
        *,
        timeout: float | None = None,
        **options: Unpack[AllocateOptions],
    ) -> int: ...
    async def allocate_async(
        self,
        name: str,
        pool: str | None = None,
        *,
        timeout: float | None = None,
        **options: Unpack[AllocateOptions],
    ) -> int: ...
    @overload
    def get(self, name: str, default: None = None, *, timeout: float | None = None) -> int | None: ...
    @overload
    def get(self, name: str, default: int, *, timeout: float | None = None) -> int: ...
    @overload
    async def get_async(
        self, name: str, default: None = None, *, timeout: float | None = None
    ) -> int | None: ...
    @overload
    async def get_async(
        self, name: str, default: int, *, timeout: float | None = None
    ) -> int: ...
    def release(self, name: str, *, timeout: float | None = None) -> bool: ...
    async def release_async(self, name: str, *, timeout: float | None = None) -> bool: ...
    def list(self, *, timeout: float | None = None) -> builtins.list[Lease]: ...
    async def list_async(self, *, timeout: float | None = None) -> builtins.list[Lease]: ...
    def pools(self, *, timeout: float | None = None) -> builtins.list[Pool]: ...
    async def pools_async(self, *, timeout: float | None = None) -> builtins.list[Pool]: ...
    def set_pool(
        self,
        name: str,
        start: _Port,
        end: _Port,
        *,
        probe: bool | None = None,
        timeout: float | None = None,
    ) -> Pool: ...
    async def set_pool_async(
        self,
        name: str,
        start: _Port,
        end: _Port,
        *,
        probe: bool | None = None,
        timeout: float | None = None,
    ) -> Pool: ...
    def check(self, port: _Port, protocol: _Protocol = "tcp", *, timeout: float | None = None) -> PortState: ...
    async def check_async(self, port: _Port, protocol: _Protocol = "tcp", *, timeout: float | None = None) -> PortState: ...
    def gc(self, *, timeout: float | None = None) -> builtins.list[Reclaimed]: ...
    async def gc_async(self, *, timeout: float | None = None) -> builtins.list[Reclaimed]: ...
    def renew(self, name: str, ttl: int | None = None, *, timeout: float | None = None) -> Lease: ...
    async def renew_async(self, name: str, ttl: int | None = None, *, timeout: float | None = None) -> Lease: ...
    def reset(self, *, timeout: float | None = None) -> None: ...
    async def reset_async(self, *, timeout: float | None = None) -> None: ...
    def repair(self, *, timeout: float | None = None) -> RepairReport: ...
    async def repair_async(self, *, timeout: float | None = None) -> RepairReport: ...
    def begin_handover(self, name: str, pid: int | None = None, *, timeout: float | None = None) -> int: ...
    async def begin_handover_async(self, name: str, pid: int | None = None, *, timeout: float | None = None) -> int: ...
    def commit_handover(self, name: str, pid: int | None = None, *, ticket: int | None = None, timeout: float | None = None) -> int: ...
    async def commit_handover_async(self, name: str, pid: int | None = None, *, ticket: int | None = None, timeout: float | None = None) -> int: ...
    def abort_handover(self, name: str, pid: int | None = None, *, ticket: int | None = None, timeout: float | None = None) -> int: ...
    async def abort_handover_async(self, name: str, pid: int | None = None, *, ticket: int | None = None, timeout: float | None = None) -> int: ...
    def begin_handover_ticket(self, name: str, pid: int | None = None, *, ticket: int | None = None, supersede: bool = False, timeout: float | None = None) -> Handover: ...
    async def begin_handover_ticket_async(self, name: str, pid: int | None = None, *, ticket: int | None = None, supersede: bool = False, timeout: float | None = None) -> Handover: ...
    def begin_handovers(self, names: Iterable[str], pid: int | None = None, *, supersede: bool = False, timeout: float | None = None) -> builtins.list[Handover]: ...
    async def begin_handovers_async(self, names: Iterable[str], pid: int | None = None, *, supersede: bool = False, timeout: float | None = None) -> builtins.list[Handover]: ...
    def commit_handovers(self, endings: Iterable[tuple[str, int | None]], pid: int | None = None, *, timeout: float | None = None) -> builtins.list[int]: ...
    async def commit_handovers_async(self, endings: Iterable[tuple[str, int | None]], pid: int | None = None, *, timeout: float | None = None) -> builtins.list[int]: ...
    def abort_handovers(self, endings: Iterable[tuple[str, int | None]], pid: int | None = None, *, timeout: float | None = None) -> builtins.list[int]: ...
    async def abort_handovers_async(self, endings: Iterable[tuple[str, int | None]], pid: int | None = None, *, timeout: float | None = None) -> builtins.list[int]: ...
    def release_all(self, name: str, *, timeout: float | None = None) -> bool: ...
    async def release_all_async(self, name: str, *, timeout: float | None = None) -> bool: ...
    def list_all_namespaces(self, *, timeout: float | None = None) -> builtins.list[Lease]: ...
    async def list_all_namespaces_async(self, *, timeout: float | None = None) -> builtins.list[Lease]: ...
    def allocate_many(
        self,
        names: Iterable[str],
        pool: str | None = None,
        *,
        timeout: float | None = None,
        **options: Unpack[AllocateManyOptions],
    ) -> builtins.list[int]: ...
    async def allocate_many_async(
        self,
        names: Iterable[str],
        pool: str | None = None,
        *,
        timeout: float | None = None,
        **options: Unpack[AllocateManyOptions],
    ) -> builtins.list[int]: ...
    def set_owner(self, name: str, pid: int | None = None, *, timeout: float | None = None) -> Lease: ...
    async def set_owner_async(self, name: str, pid: int | None = None, *, timeout: float | None = None) -> Lease: ...
    def import_(self, file: str | os.PathLike[str], *, timeout: float | None = None) -> ImportReport: ...
    async def import_async(self, file: str | os.PathLike[str], *, timeout: float | None = None) -> ImportReport: ...
    def who(self, port: _Port, *, timeout: float | None = None) -> Who: ...
    async def who_async(self, port: _Port, *, timeout: float | None = None) -> Who: ...
    def migrate(self, dry_run: bool = False, *, timeout: float | None = None) -> builtins.list[Lease]: ...
    async def migrate_async(self, dry_run: bool = False, *, timeout: float | None = None) -> builtins.list[Lease]: ...
    def doctor(self, *, timeout: float | None = None) -> DoctorReport: ...
    async def doctor_async(self, *, timeout: float | None = None) -> DoctorReport: ...
    def listen(
        self,
        name: str,
        *,
        pool: str | None = None,
        port: _Port | Iterable[_Port] | None = None,
        mode: _Mode = "flexible",
        backlog: int | None = None,
        timeout: float | None = None,
        **options: Unpack[ListenOptions],
    ) -> socket.socket: ...
    async def listen_async(
        self,
        name: str,
        *,
        pool: str | None = None,
        port: _Port | Iterable[_Port] | None = None,
        mode: _Mode = "flexible",
        backlog: int | None = None,
        timeout: float | None = None,
        **options: Unpack[ListenOptions],
    ) -> socket.socket: ...

def _unnamed_lease_name(tool: str, label: str) -> str: ...
def _lease_tuples(registry: Registry) -> builtins.list[tuple[object, ...]]: ...
def is_free(port: _Port, protocol: _Protocol = "tcp", *, host: _Host | None = None) -> bool: ...
@overload
def find_free(
    protocol: _Protocol = "tcp",
    *,
    ports: Iterable[_Port] | None = None,
    range: tuple[_Port, _Port] | None = None,
    exclude: Iterable[_Port] | None = None,
    count: None = None,
    host: _Host | None = None,
) -> int: ...
@overload
def find_free(
    protocol: _Protocol = "tcp",
    *,
    ports: Iterable[_Port] | None = None,
    range: tuple[_Port, _Port] | None = None,
    exclude: Iterable[_Port] | None = None,
    count: int,
    host: _Host | None = None,
) -> list[int]: ...
