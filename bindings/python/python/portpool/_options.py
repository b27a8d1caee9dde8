# Code generated from core's LeaseOptions and tests/parity/options.tsv by
# cli/tests/parity/gen_python.rs; DO NOT EDIT.
# PORTPOOL_BLESS=1 cargo test -p portpool-cli --test parity regenerates it.
"""The lease options each Registry call that makes a lease takes, as keywords: one
TypedDict per call, every key optional.

``reg.register("web", 8080, ttl=60)`` gives register() a key of RegisterOptions. Options
kept in a dict are checked by type checkers when the dict is annotated with the call's
TypedDict: ``options: RegisterOptions = {"ttl": 60}``, then
``reg.register("web", 8080, **options)``.
"""

import ipaddress
from collections.abc import Iterable
from typing import Literal, TypedDict

__all__ = [
    "AllocateManyOptions",
    "AllocateOptions",
    "LeaseOptions",
    "ListenOptions",
    "RegisterOptions",
]


class RegisterOptions(TypedDict, total=False):
    """The lease options of Registry.register() and Registry.register_async(), given as keywords;
    each may be left out."""

    protocol: Literal["tcp", "udp", "tcp+udp"]
    """TCP (the default), UDP, or `tcp+udp`: one port number held for both. Given as "tcp" (the
    default), "udp" or "tcp+udp"."""

    force: bool
    """Take the port even when a process outside the registry has it bound (a fixed-mode
    `register` only; a port leased to another name is never taken), and return the port of a name
    whose live lease another user made, as every call of a handle opened with force does. Given
    as True or False; False when left out."""

    pid: int | None
    """The process that owns the lease: once it exits, the lease is stale and is reclaimed. Given
    as an int; None is the same as leaving it out."""

    ttl: int | None
    """Seconds the lease lives unless renewed. Given as an int; None is the same as leaving it
    out."""

    exclude: Iterable[int] | None
    """Ports never handed out, even when preferred or next in the pool. Given as an iterable of
    int; None is the same as leaving it out."""

    range: tuple[int, int] | None
    """After the preferred ports, the ports of this range in order (inclusive), in either mode.
    Only with preferred ports: a pool has its own range, so `allocate` refuses one. Given as a
    (start, end) pair of ints; None is the same as leaving it out."""

    host: str | ipaddress.IPv4Address | ipaddress.IPv6Address | None
    """Probe candidates on this one address instead of the IPv4 and IPv6 wildcards: a port bound
    on another address may then be handed out, and is good only for a server bound to this one.
    `listen` also binds there unless its listen options name an address. Given as text
    ("127.0.0.1", "::1") or an ipaddress object; None is the same as leaving it out."""

    bindable: bool
    """Probe candidates as this process will bind them, for a lease whose holder is the caller
    itself (as get-port's is): a port it may not bind, such as a privileged port for an
    unprivileged process, is unavailable. Off (the default), such a port is judged by the
    kernel's socket tables, as a lease may be for a privileged service. Given as True or False;
    False when left out."""


class AllocateOptions(TypedDict, total=False):
    """The lease options of Registry.allocate() and Registry.allocate_async(), given as keywords;
    each may be left out."""

    protocol: Literal["tcp", "udp", "tcp+udp"]
    """TCP (the default), UDP, or `tcp+udp`: one port number held for both. Given as "tcp" (the
    default), "udp" or "tcp+udp"."""

    force: bool
    """Take the port even when a process outside the registry has it bound (a fixed-mode
    `register` only; a port leased to another name is never taken), and return the port of a name
    whose live lease another user made, as every call of a handle opened with force does. Given
    as True or False; False when left out."""

    pid: int | None
    """The process that owns the lease: once it exits, the lease is stale and is reclaimed. Given
    as an int; None is the same as leaving it out."""

    ttl: int | None
    """Seconds the lease lives unless renewed. Given as an int; None is the same as leaving it
    out."""

    exclude: Iterable[int] | None
    """Ports never handed out, even when preferred or next in the pool. Given as an iterable of
    int; None is the same as leaving it out."""

    host: str | ipaddress.IPv4Address | ipaddress.IPv6Address | None
    """Probe candidates on this one address instead of the IPv4 and IPv6 wildcards: a port bound
    on another address may then be handed out, and is good only for a server bound to this one.
    `listen` also binds there unless its listen options name an address. Given as text
    ("127.0.0.1", "::1") or an ipaddress object; None is the same as leaving it out."""

    bindable: bool
    """Probe candidates as this process will bind them, for a lease whose holder is the caller
    itself (as get-port's is): a port it may not bind, such as a privileged port for an
    unprivileged process, is unavailable. Off (the default), such a port is judged by the
    kernel's socket tables, as a lease may be for a privileged service. Given as True or False;
    False when left out."""


class AllocateManyOptions(TypedDict, total=False):
    """The lease options of Registry.allocate_many() and Registry.allocate_many_async(), given as
    keywords; each may be left out."""

    protocol: Literal["tcp", "udp", "tcp+udp"]
    """TCP (the default), UDP, or `tcp+udp`: one port number held for both. Given as "tcp" (the
    default), "udp" or "tcp+udp"."""

    force: bool
    """Take the port even when a process outside the registry has it bound (a fixed-mode
    `register` only; a port leased to another name is never taken), and return the port of a name
    whose live lease another user made, as every call of a handle opened with force does. Given
    as True or False; False when left out."""

    pid: int | None
    """The process that owns the lease: once it exits, the lease is stale and is reclaimed. Given
    as an int; None is the same as leaving it out."""

    ttl: int | None
    """Seconds the lease lives unless renewed. Given as an int; None is the same as leaving it
    out."""

    exclude: Iterable[int] | None
    """Ports never handed out, even when preferred or next in the pool. Given as an iterable of
    int; None is the same as leaving it out."""

    host: str | ipaddress.IPv4Address | ipaddress.IPv6Address | None
    """Probe candidates on this one address instead of the IPv4 and IPv6 wildcards: a port bound
    on another address may then be handed out, and is good only for a server bound to this one.
    `listen` also binds there unless its listen options name an address. Given as text
    ("127.0.0.1", "::1") or an ipaddress object; None is the same as leaving it out."""

    bindable: bool
    """Probe candidates as this process will bind them, for a lease whose holder is the caller
    itself (as get-port's is): a port it may not bind, such as a privileged port for an
    unprivileged process, is unavailable. Off (the default), such a port is judged by the
    kernel's socket tables, as a lease may be for a privileged service. Given as True or False;
    False when left out."""


class LeaseOptions(TypedDict, total=False):
    """The lease options of Registry.lease() and Registry.lease_async(), given as keywords; each
    may be left out."""

    protocol: Literal["tcp", "udp", "tcp+udp"]
    """TCP (the default), UDP, or `tcp+udp`: one port number held for both. Given as "tcp" (the
    default), "udp" or "tcp+udp"."""

    force: bool
    """Take the port even when a process outside the registry has it bound (a fixed-mode
    `register` only; a port leased to another name is never taken), and return the port of a name
    whose live lease another user made, as every call of a handle opened with force does. Given
    as True or False; False when left out."""

    pid: int | None
    """The process that owns the lease: once it exits, the lease is stale and is reclaimed. Given
    as an int; None is the same as leaving it out."""

    ttl: int | None
    """Seconds the lease lives unless renewed. Given as an int; None is the same as leaving it
    out."""

    exclude: Iterable[int] | None
    """Ports never handed out, even when preferred or next in the pool. Given as an iterable of
    int; None is the same as leaving it out."""

    range: tuple[int, int] | None
    """After the preferred ports, the ports of this range in order (inclusive), in either mode.
    Only with preferred ports: a pool has its own range, so `allocate` refuses one. Given as a
    (start, end) pair of ints; None is the same as leaving it out."""

    host: str | ipaddress.IPv4Address | ipaddress.IPv6Address | None
    """Probe candidates on this one address instead of the IPv4 and IPv6 wildcards: a port bound
    on another address may then be handed out, and is good only for a server bound to this one.
    `listen` also binds there unless its listen options name an address. Given as text
    ("127.0.0.1", "::1") or an ipaddress object; None is the same as leaving it out."""

    bindable: bool
    """Probe candidates as this process will bind them, for a lease whose holder is the caller
    itself (as get-port's is): a port it may not bind, such as a privileged port for an
    unprivileged process, is unavailable. Off (the default), such a port is judged by the
    kernel's socket tables, as a lease may be for a privileged service. Given as True or False;
    False when left out."""


class ListenOptions(TypedDict, total=False):
    """The lease options of Registry.listen() and Registry.listen_async(), given as keywords;
    each may be left out."""

    protocol: Literal["tcp", "udp"]
    """TCP (the default), UDP, or `tcp+udp`: one port number held for both. Given as "tcp" (the
    default) or "udp": one socket is one protocol."""

    pid: int | None
    """The process that owns the lease: once it exits, the lease is stale and is reclaimed. Given
    as an int; None is the same as leaving it out."""

    ttl: int | None
    """Seconds the lease lives unless renewed. Given as an int; None is the same as leaving it
    out."""

    exclude: Iterable[int] | None
    """Ports never handed out, even when preferred or next in the pool. Given as an iterable of
    int; None is the same as leaving it out."""

    range: tuple[int, int] | None
    """After the preferred ports, the ports of this range in order (inclusive), in either mode.
    Only with preferred ports: a pool has its own range, so `allocate` refuses one. Given as a
    (start, end) pair of ints; None is the same as leaving it out."""

    host: str | ipaddress.IPv4Address | ipaddress.IPv6Address | None
    """Probe candidates on this one address instead of the IPv4 and IPv6 wildcards: a port bound
    on another address may then be handed out, and is good only for a server bound to this one.
    `listen` also binds there unless its listen options name an address. Given as text
    ("127.0.0.1", "::1") or an ipaddress object; None is the same as leaving it out."""
