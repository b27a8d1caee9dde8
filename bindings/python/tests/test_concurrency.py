"""One registry shared by threads of one process and by several processes."""

import faulthandler
import fcntl
import multiprocessing
import threading
import time

import portpool

THREADS = 8
PER_THREAD = 12
PROCESSES = 4
PER_PROCESS = 15


def test_threads_sharing_one_registry_get_distinct_ports(reg):
    reg.set_pool("shared", 43000, 43000 + THREADS * PER_THREAD - 1, probe=False)
    results: dict[str, int] = {}
    errors: list[BaseException] = []
    start = threading.Barrier(THREADS)

    def work(t: int) -> None:
        try:
            start.wait()
            for i in range(PER_THREAD):
                name = f"t{t}-{i}"
                results[name] = reg.allocate(name, "shared")
                assert reg.get(name) == results[name]
        except BaseException as err:  # reported by the main thread
            errors.append(err)

    threads = [threading.Thread(target=work, args=(t,)) for t in range(THREADS)]
    for thread in threads:
        thread.start()
    for thread in threads:
        thread.join()
    assert errors == []
    assert len(results) == THREADS * PER_THREAD
    assert len(set(results.values())) == THREADS * PER_THREAD
    assert {lease.name: lease.port for lease in reg.list()} == results


def test_a_call_waiting_for_the_registry_lock_releases_the_gil(reg, path):
    """A thread waiting for the file lock must let other threads run Python code.

    The main thread holds the registry's lock, a worker thread calls register() and waits
    for it (portpool polls the lock until its timeout), and the main thread goes on running
    Python a hundred times while the worker still waits. Were the GIL held while waiting, the
    main thread could not run until the worker gave up with BusyError, and the checks below
    would see the worker gone; faulthandler ends a hang with a traceback instead.
    """
    reg.reset()  # creates the registry and its lock file
    lock_file = f"{path}.lock"
    result: list[int] = []
    faulthandler.dump_traceback_later(120, exit=True)
    try:
        with open(lock_file, "a") as held:
            fcntl.flock(held, fcntl.LOCK_EX)
            worker = threading.Thread(target=lambda: result.append(reg.register("w", 41950)))
            worker.start()
            for _ in range(100):
                assert worker.is_alive(), "register() returned while the lock was held"
                time.sleep(0.005)
            assert result == [], "register() must wait for the lock"
            fcntl.flock(held, fcntl.LOCK_UN)
        worker.join()
    finally:
        faulthandler.cancel_dump_traceback_later()
    assert result == [reg.get("w")]


def allocate_many(path: str, proc: int, count: int) -> list[int]:
    """Runs in a child process: its own Registry on the shared file."""
    reg = portpool.Registry(path)
    return [reg.allocate(f"p{proc}-{i}", "shared") for i in range(count)]


def test_processes_allocating_from_one_pool_get_distinct_ports(reg, path):
    size = PROCESSES * PER_PROCESS
    reg.set_pool("shared", 43200, 43200 + size - 1, probe=False)
    with multiprocessing.get_context("spawn").Pool(PROCESSES) as pool:
        per_process = pool.starmap(
            allocate_many, [(str(path), p, PER_PROCESS) for p in range(PROCESSES)]
        )
    ports = [port for ports in per_process for port in ports]
    assert len(ports) == size
    assert sorted(ports) == list(range(43200, 43200 + size))
    leases = reg.list()
    assert len(leases) == size
    assert {lease.port for lease in leases} == set(ports)


def test_a_full_pool_shared_by_processes_hands_out_each_port_once(reg, path):
    reg.set_pool("shared", 43400, 43409, probe=False)
    with multiprocessing.get_context("spawn").Pool(PROCESSES) as pool:
        outcomes = pool.starmap(try_allocate, [(str(path), p, 5) for p in range(PROCESSES)])
    ports = [port for got in outcomes for port in got if port is not None]
    exhausted = [port for got in outcomes for port in got if port is None]
    assert sorted(ports) == list(range(43400, 43410))
    assert len(exhausted) == PROCESSES * 5 - 10


def try_allocate(path: str, proc: int, count: int) -> list[int | None]:
    reg = portpool.Registry(path)
    got: list[int | None] = []
    for i in range(count):
        try:
            got.append(reg.allocate(f"p{proc}-{i}", "shared"))
        except portpool.ExhaustedError:
            got.append(None)
    return got
