"""How the asyncio twins (``Registry.allocate_async`` and the others, ``LeaseGuard``'s
``async with``) run a registry call: on the event loop's default executor, so that the loop
never blocks, with one cancellation protocol.

A cancelled caller (``asyncio.wait_for``, ``asyncio.timeout``, ``Task.cancel``, an anyio
cancel scope on the asyncio backend) gets its ``CancelledError`` only once the call is over
and has left nothing behind: a call still waiting for the registry's lock gives up within a
few milliseconds having written nothing, and a lease the call made anyway (register,
allocate, listen, a lease block's entry) is released first, its socket closed. Waiting for
that is not itself cancellable, and takes at most one call's time.
"""

from __future__ import annotations

import asyncio
import socket
from typing import Any, NoReturn


async def run(job: Any) -> Any:
    """Runs one native `_Job` on the loop's default executor; see the module."""
    loop = asyncio.get_running_loop()
    call = loop.run_in_executor(None, job.run)
    try:
        result = await asyncio.shield(call)
    except asyncio.CancelledError:
        job.cancel()
        await _settle(call)
        if job.leased():
            result = call.result()
            if isinstance(result, socket.socket):  # listen_async's, never handed over
                result.close()
            await _settle(loop.run_in_executor(None, job.abandon))
        raise
    job.keep()
    return result


async def fail(error: BaseException) -> NoReturn:
    """An asyncio twin whose arguments were rejected: raises when awaited, like the call."""
    raise error


async def _settle(call: asyncio.Future[Any]) -> None:
    """Waits for `call` to end, through any further cancellation of the caller."""
    while not call.done():
        try:
            await asyncio.wait((call,))
        except asyncio.CancelledError:
            continue
    if not call.cancelled():
        call.exception()  # retrieved: its caller is cancelled and will never see it
