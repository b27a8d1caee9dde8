"""Waits for the registry's lock as a Python process lives them: per-call timeouts, signals
(Ctrl-C, SIGUSR1, SIGCHLD) arriving meanwhile, fork while another thread is inside a call,
and the lease guard entered by two threads."""

import contextlib
import fcntl
import multiprocessing
import os
import signal
import subprocess
import threading
import time

import pytest

import portpool
from conftest import free_block

FORKS = 50


@contextlib.contextmanager
def lock_held(reg: portpool.Registry):
    """Holds the registry's lock as another process would (flock on its lock file)."""
    reg.reset()  # creates the registry and its lock file
    with open(f"{reg.path}.lock", "a") as held:
        fcntl.flock(held, fcntl.LOCK_EX)
        try:
            yield
        finally:
            fcntl.flock(held, fcntl.LOCK_UN)


@pytest.fixture
def sigint_raises():
    """Python's own SIGINT handler (KeyboardInterrupt) for the test, whatever this process
    inherited: started in the background by a shell, it inherited SIGINT ignored, and Python
    then installs no handler, so the interrupt a test sends itself would be lost."""
    previous = signal.signal(signal.SIGINT, signal.default_int_handler)
    try:
        yield
    finally:
        signal.signal(signal.SIGINT, previous)


def signal_later(signum: int, after: float) -> list[float]:
    """Sends `signum` to this process after `after` seconds; returns [when it was sent]."""
    sent: list[float] = []

    def send() -> None:
        time.sleep(after)
        sent.append(time.monotonic())
        os.kill(os.getpid(), signum)

    threading.Thread(target=send, daemon=True).start()
    return sent


# --- timeout= ---------------------------------------------------------------------------------


def test_a_call_timeout_ends_a_lock_wait_with_busy_and_leaves_no_lease(reg):
    with lock_held(reg):
        started = time.monotonic()
        with pytest.raises(portpool.BusyError):
            reg.register("web", 41100, timeout=0.2)
        assert time.monotonic() - started < reg.lock_timeout
    assert reg.list() == []


def test_the_handle_lock_timeout_still_applies_when_the_call_timeout_is_longer(path):
    reg = portpool.Registry(path, lock_timeout=0.1)
    with lock_held(reg):
        with pytest.raises(portpool.BusyError):
            reg.allocate("w", timeout=3600)
    assert reg.list() == []


@pytest.mark.parametrize("bad", [-1, float("nan"), 10**9])
def test_a_bad_call_timeout_is_an_invalid_argument(reg, bad):
    with pytest.raises(portpool.InvalidArgumentError, match="lock timeout"):
        reg.allocate("w", timeout=bad)
    assert reg.list() == []


# --- signals during a wait ------------------------------------------------------------------


def test_sigint_during_a_lock_wait_is_a_keyboard_interrupt_that_ends_the_wait(reg, sigint_raises):
    with lock_held(reg):
        sent = signal_later(signal.SIGINT, 0.3)
        with pytest.raises(KeyboardInterrupt) as raised:
            reg.register("web", 41100)
        late = time.monotonic() - sent[0]
    assert type(raised.value) is KeyboardInterrupt
    assert raised.value.__context__ is None
    # The wait ends with the interrupt, not with the lock timeout (how soon is a benchmark's
    # business: this machine may be loaded).
    assert late < reg.lock_timeout / 2, f"KeyboardInterrupt came {late:.3f} s after SIGINT"
    assert reg.list() == []


def test_sigint_while_waiting_behind_another_thread_is_a_keyboard_interrupt_that_ends_the_wait(
    reg, sigint_raises
):
    """The main thread waits for a call of another thread of this process, which itself
    waits for another process's lock."""
    with lock_held(reg):
        worker = threading.Thread(
            target=lambda: pytest.raises(portpool.BusyError, reg.register, "w", 41101, timeout=3)
        )
        worker.start()
        time.sleep(0.1)
        sent = signal_later(signal.SIGINT, 0.3)
        with pytest.raises(KeyboardInterrupt) as raised:
            reg.register("main", 41100)
        late = time.monotonic() - sent[0]
        worker.join()
    assert type(raised.value) is KeyboardInterrupt
    # The wait ends with the interrupt, not with the lock timeout (how soon is a benchmark's
    # business: this machine may be loaded).
    assert late < reg.lock_timeout / 2, f"KeyboardInterrupt came {late:.3f} s after SIGINT"
    assert reg.list() == []


def test_sigusr1_and_sigchld_handlers_during_a_lock_wait_cause_no_error(reg):
    (wanted,) = free_block(1)
    ran: list[int] = []
    previous = {
        signum: signal.signal(signum, lambda signum, frame: ran.append(signum))
        for signum in (signal.SIGUSR1, signal.SIGCHLD)
    }
    reg.reset()
    unlocked: list[float] = []
    try:
        with open(f"{reg.path}.lock", "a") as held:
            fcntl.flock(held, fcntl.LOCK_EX)

            def poke_then_unlock() -> None:
                for _ in range(5):
                    time.sleep(0.05)
                    os.kill(os.getpid(), signal.SIGUSR1)
                    subprocess.run(["true"], check=True)  # exits: a SIGCHLD
                time.sleep(0.05)
                unlocked.append(time.monotonic())
                fcntl.flock(held, fcntl.LOCK_UN)

            poker = threading.Thread(target=poke_then_unlock)
            poker.start()
            port = reg.register("web", wanted)  # the main thread waits, and runs the handlers
            returned = time.monotonic()
            poker.join()
    finally:
        for signum, handler in previous.items():
            signal.signal(signum, handler)
    assert returned >= unlocked[0], "register() must have waited for the lock"
    assert (port, reg.get("web")) == (wanted, wanted)
    assert ran.count(signal.SIGUSR1) == 5
    assert signal.SIGCHLD in ran


# --- fork -------------------------------------------------------------------------------------


def busy_caller(reg: portpool.Registry, stop: threading.Event, errors: list[BaseException]):
    """A thread that is inside a registry call most of the time."""

    def run() -> None:
        try:
            while not stop.is_set():
                reg.register("busy", 41900, timeout=2)
                reg.release("busy", timeout=2)
        except BaseException as err:  # reported by the test
            errors.append(err)

    thread = threading.Thread(target=run)
    thread.start()
    return thread


def test_fork_with_a_busy_thread_never_blocks_the_others_for_longer_than_one_call(reg):
    """50 forks while another thread is inside a call: no child keeps the parent's lock
    (other callers would wait for it as long as the child lives, and fail after their
    2 s timeout here), and each child's own handle works at once."""
    reg.set_pool("forks", 41000, 41000 + FORKS - 1, probe=False)
    stop, errors = threading.Event(), []
    busy = busy_caller(reg, stop, errors)
    children = []
    try:
        for i in range(FORKS):
            pid = os.fork()
            if pid == 0:
                code = 0
                try:
                    reg.allocate(f"child-{i}", "forks", timeout=2)
                    reg.release(f"child-{i}", timeout=2)
                except BaseException:
                    code = 1
                time.sleep(3)  # lives on, holding whatever it inherited
                os._exit(code)
            children.append(pid)
            time.sleep(0.01)
        # Every child is alive now, and the busy thread must keep going meanwhile.
        for _ in range(20):
            reg.register("parent", 41950, timeout=2)
            reg.release("parent", timeout=2)
    finally:
        stop.set()
        busy.join()
        codes = [os.waitstatus_to_exitcode(os.waitpid(pid, 0)[1]) for pid in children]
    assert errors == []
    assert codes == [0] * FORKS
    assert reg.list() == []


def idle_worker(seconds: float) -> int:
    """A multiprocessing worker that never touches portpool."""
    time.sleep(seconds)
    return os.getpid()


def test_a_multiprocessing_fork_pool_beside_a_busy_thread_blocks_no_one(reg):
    stop, errors = threading.Event(), []
    busy = busy_caller(reg, stop, errors)
    try:
        for _ in range(3):
            with multiprocessing.get_context("fork").Pool(4) as pool:
                waiting = pool.map_async(idle_worker, [0.5] * 4)
                for _ in range(10):
                    reg.register("parent", 41950, timeout=2)
                    reg.release("parent", timeout=2)
                assert len(waiting.get(timeout=30)) == 4
    finally:
        stop.set()
        busy.join()
    assert errors == []


def test_a_lease_block_left_in_a_forked_child_does_not_release_the_parents_lease(reg, reserved):
    pid = -1
    try:
        with reg.lease("worker", "reserved") as port:
            pid = os.fork()
            if pid:
                # The child has left its copy of the block (and exited) by now.
                code = os.waitstatus_to_exitcode(os.waitpid(pid, 0)[1])
                assert reg.get("worker") == port
    except BaseException:
        if pid == 0:
            os._exit(2)
        raise
    if pid == 0:
        os._exit(0 if reg.get("worker") == port else 3)
    assert code == 0
    assert reg.get("worker") is None


# --- the lease guard --------------------------------------------------------------------------


def test_a_guard_entered_by_two_threads_at_once_lets_one_in_and_leaks_nothing(reg, reserved):
    for trial in range(20):
        guard = reg.lease(f"worker-{trial}", "reserved")
        start = threading.Barrier(2)
        tried = threading.Barrier(2)
        outcomes: list[object] = []

        def enter() -> None:
            start.wait()
            try:
                with guard as port:
                    outcomes.append(port)
                    tried.wait()  # stays inside until the other thread has tried
                    return
            except RuntimeError as err:
                outcomes.append(err)
            tried.wait()

        threads = [threading.Thread(target=enter) for _ in range(2)]
        for thread in threads:
            thread.start()
        for thread in threads:
            thread.join()
        ports = [o for o in outcomes if isinstance(o, int)]
        refused = [o for o in outcomes if isinstance(o, RuntimeError)]
        assert len(ports) == 1 and len(refused) == 1, outcomes
        assert "already entered" in str(refused[0])
        assert reg.list() == [], f"trial {trial} left a lease"
