"""Supervisors in the loop: handover tickets, ending one generation, batches, namespaces."""

import asyncio
import fcntl

import pytest

import portpool


def test_a_second_begin_is_a_conflict_unless_it_retries_its_ticket_or_supersedes(reg):
    reg.allocate("api")
    first = reg.begin_handover_ticket("api")
    assert (first.ticket, first.created) == (1, True)
    with pytest.raises(portpool.ConflictError, match="ticket 1"):
        reg.begin_handover("api")
    again = reg.begin_handover_ticket("api", ticket=first.ticket)
    assert (again.port, again.created) == (first.port, False)
    newer = reg.begin_handover_ticket("api", supersede=True)
    assert newer.ticket > first.ticket
    with pytest.raises(portpool.ConflictError, match="nothing was changed"):
        reg.commit_handover("api", ticket=first.ticket)
    assert reg.commit_handover("api", ticket=newer.ticket) == newer.port


def test_release_with_a_pending_handover_is_a_conflict_unless_release_all(reg):
    reg.allocate("api")
    reg.begin_handover("api")
    with pytest.raises(portpool.ConflictError, match="commit or abort"):
        reg.release("api")
    assert reg.list()[0].next is not None
    assert reg.release_all("api")
    assert reg.list() == []


def test_a_batch_handover_is_all_or_none(reg):
    reg.allocate_many(["w-1", "w-2"])
    begun = reg.begin_handovers(["w-1", "w-2"])
    with pytest.raises(portpool.ConflictError):
        reg.begin_handovers(["w-1", "w-2"])
    with pytest.raises(portpool.ConflictError, match="99"):
        reg.commit_handovers([("w-1", begun[0].ticket), ("w-2", 99)])
    assert all(lease.next is not None for lease in reg.list())
    ports = reg.commit_handovers([(h.name, h.ticket) for h in begun])
    assert ports == [h.port for h in begun]
    with pytest.raises(portpool.InvalidArgumentError, match="twice"):
        reg.abort_handovers([("w-1", None), ("w-1", None)])


def test_the_async_twins_take_tickets_and_batches(reg):
    async def main():
        reg.allocate("api")
        begun = await reg.begin_handover_ticket_async("api")
        assert await reg.abort_handover_async("api", ticket=begun.ticket) == begun.port
        (again,) = await reg.begin_handovers_async(["api"])
        assert await reg.commit_handovers_async([("api", again.ticket)]) == [again.port]

    asyncio.run(main())


def test_names_live_in_namespaces_and_ports_stay_unique_across_them(path):
    blue = portpool.Registry(path, namespace="blue")
    green = portpool.Registry(path, namespace="green")
    assert blue.namespace == "blue"
    a, b = blue.allocate("worker-1"), green.allocate("worker-1")
    assert a != b
    (lease,) = blue.list()
    assert (lease.namespace, lease.port) == ("blue", a)
    assert len(green.list_all_namespaces()) == 2
    assert portpool.Registry(path).get("worker-1") is None
    with pytest.raises(portpool.InvalidArgumentError, match="namespace"):
        portpool.Registry(path, namespace="a b")


@pytest.mark.parametrize(
    "begin",
    [
        lambda reg: reg.begin_handover_ticket_async("svc"),
        lambda reg: reg.begin_handovers_async(["svc"]),
    ],
    ids=["begin_handover_ticket_async", "begin_handovers_async"],
)
def test_a_ticketed_handover_begun_after_the_cancel_is_aborted_again(reg, begin):
    reg.allocate("svc")

    async def main():
        with open(f"{reg.path}.lock", "a") as held:
            fcntl.flock(held, fcntl.LOCK_EX)
            call = asyncio.ensure_future(begin(reg))
            await asyncio.sleep(0.1)
            fcntl.flock(held, fcntl.LOCK_UN)
            call.cancel()
            with pytest.raises(asyncio.CancelledError):
                await call

    asyncio.run(main())
    assert reg.list()[0].next is None
    assert '"ticket":1' in reg.path.read_text().replace(" ", ""), "the handover never began"
