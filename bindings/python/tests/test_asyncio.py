"""The awaitable twins (`reg.allocate_async(...)`, `async with reg.lease_async(...)`) under
asyncio and under anyio: the loop never blocks, and a cancelled or timed-out call leaves no
lease."""

import asyncio
import contextlib
import fcntl
import random
import time

import anyio
import pytest

import portpool
from conftest import free_block

pytestmark = pytest.mark.anyio


@pytest.fixture(params=["asyncio"])
def anyio_backend(request):
    return request.param


@contextlib.contextmanager
def lock_held_keeping_leases(reg: portpool.Registry):
    """Holds the registry's lock as another process would, leaving its leases as they are."""
    with open(f"{reg.path}.lock", "a") as held:
        fcntl.flock(held, fcntl.LOCK_EX)
        try:
            yield held
        finally:
            fcntl.flock(held, fcntl.LOCK_UN)


@contextlib.contextmanager
def lock_held(reg: portpool.Registry):
    """Holds the registry's lock as another process would (flock on its lock file), on an
    empty registry."""
    reg.reset()
    with lock_held_keeping_leases(reg) as held:
        yield held


async def test_async_twins_return_what_their_calls_return(reg, reserved):
    assert await reg.allocate_async("a", "reserved") == 41000
    (fixed,) = free_block(1)
    assert await reg.register_async("b", fixed, "fixed") == fixed
    assert await reg.get_async("a") == 41000
    assert await reg.get_async("nope", 8080) == 8080
    assert [lease.name for lease in await reg.list_async()] == ["a", "b"]
    assert (await reg.check_async(41000)).state == "leased"
    assert await reg.allocate_many_async(["c", "d"], "reserved") == [41001, 41002]
    assert await reg.release_async("a") is True
    assert await reg.reset_async() is None
    assert await reg.list_async() == []


async def test_an_async_twin_raises_its_argument_errors_when_awaited(reg):
    call = reg.register_async("web", 70000)
    with pytest.raises(portpool.InvalidArgumentError, match="70000"):
        await call
    with pytest.raises(TypeError):
        await reg.register_async("web", "8080")


async def test_the_event_loop_keeps_running_while_a_call_waits_for_the_lock(reg):
    ticks = 0

    async def ticker() -> None:
        nonlocal ticks
        while True:
            await asyncio.sleep(0.01)
            ticks += 1

    (port,) = free_block(1)
    with lock_held(reg) as held:
        tick = asyncio.ensure_future(ticker())
        call = asyncio.ensure_future(reg.register_async("web", port))
        await asyncio.sleep(0.3)
        assert not call.done()
        assert ticks >= 10
        fcntl.flock(held, fcntl.LOCK_UN)
        assert await call == port
        tick.cancel()


async def test_a_timeout_argument_ends_an_async_wait_with_busy_and_leaves_no_lease(reg):
    with lock_held(reg):
        with pytest.raises(portpool.BusyError):
            await reg.allocate_async("w", timeout=0.2)
    assert reg.list() == []


async def test_a_call_cancelled_while_waiting_for_the_lock_never_leases(reg):
    with lock_held(reg):
        started = time.monotonic()
        with pytest.raises(TimeoutError):
            await asyncio.wait_for(reg.allocate_async("w"), 0.2)
        assert time.monotonic() - started < 1
    assert reg.list() == []


async def test_a_call_cancelled_at_any_moment_leaves_no_lease(reg, reserved):
    """Cancelled at random points, a call either never leased or released what it leased
    before its caller saw the CancelledError."""
    for trial in range(60):
        name = f"w{trial}"
        call = asyncio.ensure_future(reg.allocate_async(name, "reserved"))
        await asyncio.sleep(random.uniform(0, 0.004))
        call.cancel()
        try:
            port = await call
        except asyncio.CancelledError:
            assert reg.get(name) is None, f"trial {trial}: the cancelled call left a lease"
        else:
            assert reg.get(name) == port
            reg.release(name)
    assert reg.list() == []


async def test_async_lease_block_leases_on_entry_and_releases_on_exit(reg, reserved):
    guard = reg.lease_async("worker", "reserved")
    async with guard as port:
        assert port == guard.port == 41000
        assert reg.get("worker") == port
    assert guard.port is None
    assert reg.get("worker") is None


async def test_an_async_lease_block_cancelled_on_entry_leaves_no_lease(reg, reserved):
    async def enter() -> None:
        async with reg.lease_async("worker", "reserved"):
            pytest.fail("the block must not run")

    with lock_held(reg):
        with pytest.raises(TimeoutError):
            await asyncio.wait_for(enter(), 0.2)
    assert reg.list() == []


async def test_an_async_lease_block_cancelled_inside_releases_its_lease(reg, reserved):
    inside = asyncio.Event()

    async def hold() -> None:
        async with reg.lease_async("worker", "reserved"):
            inside.set()
            await asyncio.sleep(60)

    task = asyncio.ensure_future(hold())
    await inside.wait()
    assert reg.get("worker") == 41000
    task.cancel()
    with pytest.raises(asyncio.CancelledError):
        await task
    assert reg.get("worker") is None


async def test_anyio_cancel_scopes_leave_no_lease(reg, reserved):
    async with anyio.create_task_group() as group:
        for i in range(4):
            group.start_soon(reg.allocate_async, f"t{i}", "reserved")
    assert sorted(lease.port for lease in reg.list()) == [41000, 41001, 41002, 41003]
    with lock_held(reg):  # also empties the registry
        with anyio.move_on_after(0.2) as scope:
            await reg.allocate_async("w")
        assert scope.cancelled_caught
        with pytest.raises(TimeoutError):
            with anyio.fail_after(0.2):
                async with reg.lease_async("worker"):
                    pytest.fail("the block must not run")
    assert reg.list() == []


async def test_a_lease_that_lands_after_the_cancel_is_released_before_the_caller_hears(reg):
    """The lock frees and the caller is cancelled in the same instant: the waiting call
    takes the lock before it looks at its cancel token, so its lease lands, and is released
    before the CancelledError reaches the caller."""
    with lock_held(reg) as held:
        call = asyncio.ensure_future(reg.allocate_async("landed"))
        await asyncio.sleep(0.1)  # the call polls every 5 ms by now
        fcntl.flock(held, fcntl.LOCK_UN)
        call.cancel()
        with pytest.raises(asyncio.CancelledError):
            await call
        assert reg.get("landed") is None
    assert reg.list() == []
    assert '"landed"' in reg.path.read_text(), "the lease never landed: nothing was tested"


async def test_a_batch_that_lands_after_the_cancel_gives_back_only_the_leases_it_made(reg):
    kept = reg.allocate("kept")
    with lock_held_keeping_leases(reg) as held:
        call = asyncio.ensure_future(reg.allocate_many_async(["kept", "batch-1", "batch-2"]))
        await asyncio.sleep(0.1)
        fcntl.flock(held, fcntl.LOCK_UN)
        call.cancel()
        with pytest.raises(asyncio.CancelledError):
            await call
    assert [lease.name for lease in reg.list()] == ["kept"]
    assert reg.get("kept") == kept
    assert '"batch-2"' in reg.path.read_text(), "the batch never landed: nothing was tested"


async def test_a_handover_begun_after_the_cancel_is_aborted_again(reg):
    reg.allocate("svc")
    with lock_held_keeping_leases(reg) as held:
        call = asyncio.ensure_future(reg.begin_handover_async("svc"))
        await asyncio.sleep(0.1)
        fcntl.flock(held, fcntl.LOCK_UN)
        call.cancel()
        with pytest.raises(asyncio.CancelledError):
            await call
    assert reg.list()[0].next is None
    assert '"next":{' in reg.path.read_text().replace(" ", ""), "the handover never began"
