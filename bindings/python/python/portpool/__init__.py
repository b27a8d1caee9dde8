"""portpool: one port registry per host, shared by every process and language.

A :class:`Registry` records which name holds which port in one file that the ``portpool``
command line, the C, Go and Node libraries and this package all read and write::

    import portpool

    reg = portpool.Registry()              # $PORTPOOL_REGISTRY or the host's default file
    web = reg.register("web", 8080)        # 8080, or the next free port above it
    with reg.lease("worker-1") as port:    # from the "default" pool, released on exit
        ...

Every error is a :class:`PortpoolError`; :class:`NotFoundError` is also a ``KeyError``,
:class:`InvalidArgumentError` also a ``ValueError``, :class:`PortpoolIOError` also an
``OSError`` and :class:`BusyError` (another process held the lock for the whole lock
timeout) also a ``TimeoutError``. Calls that touch the registry file release the GIL, and one
Registry may be shared between threads.

A change returns once it is on the disk, unless it concerns only leases owned by a process
(``pid=``) or a pool's cursor: those survive any crash of a process but not a power loss,
after which their owners are gone anyway.

The calls that make a lease take its options as keywords (``reg.allocate("w", ttl=60)``);
each call's are typed by a TypedDict (:class:`RegisterOptions`, :class:`AllocateOptions`, ...).
Every call that touches the registry takes ``timeout=`` and has an awaitable twin,
``await reg.allocate_async(...)``, ``async with reg.lease_async(...) as port``; see
:class:`Registry`. Values (:class:`Lease`, :class:`Pool`, ...) are frozen dataclasses, and a
:class:`Registry` pickles as its path, so both travel to other processes.
"""

from portpool._native import (
    DEFAULT_POOL,
    DEFAULT_POOL_END,
    DEFAULT_POOL_START,
    FORMAT_VERSION,
    MAX_NAME_BYTES,
    BusyError,
    ConflictError,
    ExhaustedError,
    InvalidArgumentError,
    LeaseGuard,
    NotFoundError,
    PortpoolError,
    PortpoolIOError,
    Registry,
    RegistryError,
    find_free,
    is_free,
    __version__,
)
from portpool._options import (
    AllocateManyOptions,
    AllocateOptions,
    LeaseOptions,
    ListenOptions,
    RegisterOptions,
)
from portpool._values import (
    DoctorReport,
    RepairReport,
    Finding,
    Handover,
    ImportReport,
    Lease,
    Next,
    Pool,
    PortpoolWarning,
    PortState,
    Process,
    Reclaimed,
    Socket,
    Who,
)

__all__ = [
    "AllocateManyOptions",
    "AllocateOptions",
    "DEFAULT_POOL",
    "DEFAULT_POOL_END",
    "DEFAULT_POOL_START",
    "FORMAT_VERSION",
    "MAX_NAME_BYTES",
    "BusyError",
    "ConflictError",
    "DoctorReport",
    "RepairReport",
    "ExhaustedError",
    "Finding",
    "Handover",
    "ImportReport",
    "InvalidArgumentError",
    "Lease",
    "LeaseGuard",
    "LeaseOptions",
    "ListenOptions",
    "Next",
    "NotFoundError",
    "Pool",
    "PortState",
    "PortpoolError",
    "PortpoolIOError",
    "PortpoolWarning",
    "Process",
    "Reclaimed",
    "RegisterOptions",
    "Registry",
    "RegistryError",
    "Socket",
    "Who",
    "__version__",
    "find_free",
    "is_free",
]
