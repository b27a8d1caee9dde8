"""The value types portpool returns, defined once from core's serialized form.

The native module serializes each core value with serde (through ``pythonize``) and hands the
plain data to :func:`from_core`, which builds these frozen dataclasses field by field. A field
takes the core key of its own name, or the path its ``core`` metadata names (``Lease.pid`` is
core's ``owner.pid``); nested values are converted by their annotation. Core keys a class
does not show are listed in its ``_core_hidden``; any other key core sends that no field takes
is an error, so a field added to a core type fails the tests until it is added here.

Every value is immutable, compares and hashes by its fields, and copies, pickles,
``dataclasses.asdict``-s and pattern-matches (``__match_args__``) like any dataclass. Times
are ints (seconds since the Unix epoch) and kinds are strings, as in the registry's JSON.
"""

from __future__ import annotations

import dataclasses
import typing
import warnings
from typing import Any, ClassVar, Literal, TypeVar

__all__ = [
    "DoctorReport",
    "RepairReport",
    "Finding",
    "Handover",
    "ImportReport",
    "Lease",
    "Next",
    "Pool",
    "PortState",
    "PortpoolWarning",
    "Process",
    "Reclaimed",
    "Socket",
    "Who",
]


class PortpoolWarning(UserWarning):
    """A change went through but deserves a look, e.g. a pool that overlaps the kernel's
    ephemeral port range (Registry.set_pool warns with it)."""


_T = TypeVar("_T")


def _core(*path: str) -> dict[str, tuple[str, ...]]:
    """Field metadata: the value lies at `path` in core's serialized form, not at its name."""
    return {"core": path}


def _hash_fields(self: Any) -> int:
    """The hash of a value with list fields (read them as read-only): by their items."""
    return hash(
        tuple(
            tuple(v) if isinstance(v, list) else v
            for v in (getattr(self, f.name) for f in dataclasses.fields(self))
        )
    )



@dataclasses.dataclass(frozen=True, slots=True)
class Next:
    """The next generation's port during a handover (Lease.next). Immutable.

    Attributes:
        port: The new port, leased beside the current one until the handover is committed.
        created: When the handover began, in seconds since the Unix epoch.
        pid: The next generation's process, which owns the lease after the commit; or None.
        ticket: The handover's ticket: commit_handover() and abort_handover() given it end
            this handover and no other.
    """

    port: int
    created: int
    pid: int | None = dataclasses.field(metadata=_core("owner", "pid"))
    ticket: int


@dataclasses.dataclass(frozen=True, slots=True)
class Lease:
    """One port held by one name, as the registry recorded it. Immutable; equal when every
    field is.

    Attributes:
        name: Unique name of the holder.
        port: The port, 1-65535.
        protocol: "tcp", "udp", or "tcp+udp" (one port number held for both).
        mode: "fixed", "flexible" or "pool": how the lease was made.
        pool: The pool it came from, for "pool" leases; else None.
        pid: The owning process's pid; None for a lease no process owns.
        created: When the lease was made, in seconds since the Unix epoch.
        ttl: The time to live in seconds that renew() restarts; None for no expiry.
        expires: When the lease expires, in seconds since the Unix epoch; None for never.
        next: The next generation's port while a handover is under way; else None.
        stale: Why the lease is stale (time to live over, owner gone, a handover's owner
            gone), in leases from list() and who(); None for a lease that holds its ports.
        uid: The user id of the process that made the lease; None in leases made before
            portpool recorded it. Only that user or root may release it, register its name
            again, hand it over or change its owner, unless the Registry forces.
        namespace: The namespace the name lives in; None for the default one.
        generation: How many handovers were begun on the lease (a handover's ticket is the
            generation it began).
    """

    _core_hidden: ClassVar[frozenset[str]] = frozenset({"origin"})

    name: str
    port: int
    protocol: Literal["tcp", "udp", "tcp+udp"]
    mode: Literal["fixed", "flexible", "pool"]
    pool: str | None
    pid: int | None = dataclasses.field(metadata=_core("owner", "pid"))
    created: int
    ttl: int | None
    expires: int | None
    next: Next | None
    stale: str | None
    uid: int | None
    namespace: str | None
    generation: int


@dataclasses.dataclass(frozen=True, slots=True)
class Pool:
    """A named port range whose round-robin cursor every process on the host shares.
    Immutable.

    Attributes:
        name: The pool's name.
        start: First port of the range.
        end: Last port of the range (inclusive).
        cursor: The next port allocate() will consider.
        probe: Whether allocate() bind-probes candidate ports.
        uid: The user id of the process that created the pool; None for the default pool
            and pools created before portpool recorded it. Only that user or root may change
            it, unless the Registry forces.
    """

    name: str
    start: int
    end: int
    cursor: int
    probe: bool
    uid: int | None


@dataclasses.dataclass(frozen=True, slots=True)
class PortState:
    """What Registry.check() found on a port. Immutable.

    Attributes:
        state: "free" (neither leased nor bound), "leased" (to a live holder) or "busy"
            (bound by a process outside the registry), as every front end and the JSON
            spell it.
        lease: The lease holding the port when state is "leased"; else None.
    """

    state: Literal["free", "leased", "busy"]
    lease: Lease | None

    @property
    def status(self) -> Literal["free", "leased", "busy"]:
        """Deprecated: the old name of `state`, kept for existing callers."""
        warnings.warn(
            "PortState.status is deprecated; use PortState.state",
            DeprecationWarning,
            stacklevel=2,
        )
        return self.state


@dataclasses.dataclass(frozen=True, slots=True)
class Reclaimed:
    """A stale lease that Registry.gc() released, and why. Immutable.

    Attributes:
        lease: The lease as it was.
        reason: Why it was stale, e.g. "owner pid 4242 is gone".
    """

    lease: Lease
    reason: str


@dataclasses.dataclass(frozen=True, slots=True)
class ImportReport:
    """What Registry.import_() did. Immutable.

    Attributes:
        imported: Leases made, one per new entry of the file.
        skipped: Names already present with the same port, left as they were.
    """
    __hash__ = _hash_fields


    imported: list[Lease]
    skipped: list[str]


@dataclasses.dataclass(frozen=True, slots=True)
class Process:
    """A process holding a socket. Immutable.

    Attributes:
        pid: Process id.
        program: Its program name (/proc/PID/comm).
    """

    pid: int
    program: str


@dataclasses.dataclass(frozen=True, slots=True)
class Socket:
    """A server socket: a TCP listener, or a bound, unconnected UDP socket. Immutable.

    Attributes:
        protocol: "tcp" or "udp".
        address: The local address it is bound to, e.g. "0.0.0.0:8080" or "[::1]:8080".
        processes: The processes holding it; empty when their descriptors cannot be seen.
    """
    __hash__ = _hash_fields


    protocol: Literal["tcp", "udp"]
    address: str
    processes: list[Process]

    @property
    def port(self) -> int:
        """The port it is bound to (the part of `address` after the last colon)."""
        return int(self.address.rpartition(":")[2])


@dataclasses.dataclass(frozen=True, slots=True)
class Who:
    """Everything known about one port: Registry.who(). Immutable.

    Attributes:
        port: The port asked about.
        leases: Leases holding it, TCP and UDP (during a handover, as the current or the
            next port).
        sockets: Server sockets bound to it, or None when /proc could not be read.
        unavailable: Why `sockets` is None; else None.
    """
    __hash__ = _hash_fields


    port: int
    leases: list[Lease]
    sockets: list[Socket] | None
    unavailable: str | None


@dataclasses.dataclass(frozen=True, slots=True)
class Handover:
    """A handover under way, as begin_handover_ticket() and begin_handovers() return it.
    Immutable.

    Attributes:
        name: The lease's name.
        port: The next generation's port.
        ticket: The ticket that commits or aborts this handover and no other.
        created: Whether this call began it (False: a retry that named its ticket).
    """

    name: str
    port: int
    ticket: int
    created: bool


@dataclasses.dataclass(frozen=True, slots=True)
class Finding:
    """One problem Registry.doctor() found. Immutable.

    Attributes:
        kind: "not_listening", "foreign_listener", "stale_owner", "stale_next_owner",
            "expired", "taken_over", "ephemeral_overlap", "split_registry",
            "long_handover", "uncompacted" or "unreserved".
        severity: "info" for "not_listening", "warning" for every other kind.
        subject: The lease or pool concerned.
        port: The port concerned, for findings about a lease; else None.
        protocol: "tcp", "udp" or "tcp+udp", for findings about a lease; else None.
        message: A sentence for people.
    """

    kind: Literal[
        "not_listening",
        "foreign_listener",
        "stale_owner",
        "stale_next_owner",
        "expired",
        "taken_over",
        "ephemeral_overlap",
        "split_registry",
        "long_handover",
        "uncompacted",
        "unreserved",
    ]
    severity: Literal["info", "warning"]
    subject: str
    port: int | None
    protocol: Literal["tcp", "udp", "tcp+udp"] | None
    message: str


@dataclasses.dataclass(frozen=True, slots=True)
class DoctorReport:
    """The result of Registry.doctor(). Immutable.

    Attributes:
        findings: Problems found; empty when all is well.
        unavailable: Why listener checks were skipped (no /proc); else None.
    """
    __hash__ = _hash_fields


    findings: list[Finding]
    unavailable: str | None


@dataclasses.dataclass(frozen=True, slots=True)
class RepairReport:
    """The result of Registry.repair(). Immutable.

    Attributes:
        repaired: False when the registry read back and every file beside it was as it
            should be (nothing was touched).
        kept: How many leases the registry holds now.
        lost: What could not be kept, one sentence each, naming its line and its lease.
        moved_aside: Where damaged or foreign files were moved; nothing is deleted.
    """
    __hash__ = _hash_fields


    repaired: bool
    kept: int
    lost: list[str]
    moved_aside: list[str]


# ---------------------------------------------------------------------------------------------
# From core's serialized form

_CLASSES: dict[str, type] = {
    cls.__name__: cls
    for cls in (
        Next, Lease, Pool, PortState, Reclaimed, ImportReport, Process, Socket, Who, Finding,
        DoctorReport, Handover, RepairReport,
    )
}

# Shown and pickled as portpool.<name>, the name users import them by.
for _cls in (*_CLASSES.values(), PortpoolWarning):
    _cls.__module__ = "portpool"

class _Plan(typing.NamedTuple):
    """How to build one class from core's data: the keys it may hold, and per field (in
    order) its top-level key, the rest of its path, and its converter (None: as it is)."""

    keys: frozenset[str]
    fields: tuple[tuple[str, tuple[str, ...], Any], ...]


_PLANS: dict[type, _Plan] = {}


def _converter(hint: Any) -> Any:
    """How to turn core's plain data, not None, into a value of type `hint` (None: as is)."""
    if isinstance(hint, type) and dataclasses.is_dataclass(hint):
        return lambda data: _build(hint, data)
    if typing.get_origin(hint) is list:
        (item,) = typing.get_args(hint)
        convert = _converter(item)
        return None if convert is None else (lambda data: [convert(d) for d in data])
    args = [a for a in typing.get_args(hint) if a is not type(None)]
    if typing.get_origin(hint) is not Literal and len(args) == 1:
        return _converter(args[0])  # `X | None`: None is passed through as it is
    return None


def _plan(cls: type) -> _Plan:
    plan = _PLANS.get(cls)
    if plan is None:  # once per class
        hints = typing.get_type_hints(cls, globalns=globals())
        fields = tuple(
            (path[0], path[1:], _converter(hints[f.name]))
            for f in dataclasses.fields(cls)
            for path in [f.metadata.get("core", (f.name,))]
        )
        hidden: frozenset[str] = getattr(cls, "_core_hidden", frozenset())
        plan = _Plan(frozenset(key for key, _, _ in fields) | hidden, fields)
        _PLANS[cls] = plan
    return plan


def core_keys(cls: type) -> set[str]:
    """The top-level keys of core's serialized form that `cls` reads or hides."""
    return set(_plan(cls).keys)


def _builder(cls: type) -> Any:
    """A function that builds `cls` from core's data, written out field by field (as
    dataclasses writes `__init__`), since `list()` of a large registry builds thousands."""
    plan = _plan(cls)
    env: dict[str, Any] = {"cls": cls}
    args = []
    for i, (key, rest, convert) in enumerate(plan.fields):
        value = f"data.get({key!r})"
        for step in rest:
            value = f"(None if (v{i} := {value}) is None else v{i}.get({step!r}))"
        if convert is not None:
            env[f"convert{i}"] = convert
            value = f"(None if (w{i} := {value}) is None else convert{i}(w{i}))"
        args.append(value)
    source = f"def build(data):\n    return cls({', '.join(args)})\n"
    exec(source, env)  # noqa: S102 - the text is made above from field names only
    return env["build"]


_BUILDERS: dict[type, Any] = {}


def _build(cls: type[_T], data: dict[str, Any]) -> _T:
    if not _plan(cls).keys.issuperset(data):
        unknown = sorted(data.keys() - _plan(cls).keys)
        raise RuntimeError(
            f"portpool bug: core's {cls.__name__} has fields {unknown} that "
            f"portpool.{cls.__name__} does not declare (add them to portpool/_values.py)"
        )
    build = _BUILDERS.get(cls)
    if build is None:
        build = _BUILDERS[cls] = _builder(cls)
    value: _T = build(data)
    return value


def from_core(kind: str, data: Any) -> Any:
    """The value of type `kind` ("Lease", or "list[Lease]") made from core's serialized
    `data`; called by the native module."""
    if kind.startswith("list[") and kind.endswith("]"):
        cls = _CLASSES[kind[5:-1]]
        return [_build(cls, d) for d in data]
    return _build(_CLASSES[kind], data)
