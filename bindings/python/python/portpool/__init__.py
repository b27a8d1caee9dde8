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
"""

from portpool._native import (
    DEFAULT_POOL,
    DEFAULT_POOL_END,
    DEFAULT_POOL_START,
    FORMAT_VERSION,
    MAX_NAME_BYTES,
    BusyError,
    ConflictError,
    DoctorReport,
    ExhaustedError,
    Finding,
    ImportReport,
    InvalidArgumentError,
    Lease,
    LeaseGuard,
    Next,
    NotFoundError,
    Pool,
    PortState,
    PortpoolError,
    PortpoolIOError,
    Process,
    Reclaimed,
    Registry,
    RegistryError,
    Socket,
    Who,
    find_free,
    is_free,
    __version__,
)

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
