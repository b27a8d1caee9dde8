#!/usr/bin/env python3
"""A tiny dev-server supervisor over portpool.

It leases a port for each of two workers from a pool, starts each worker as a child process
on its port, lists the registry, and asks each worker for a page. Every other portpool user
on the host (another supervisor, a test run, a Go or Node service, the `portpool` command) is
kept off those ports by the registry, with no port numbers written down anywhere.

    PORTPOOL_REGISTRY=/tmp/dev.json python3 supervisor.py          # runs until Ctrl-C
    PORTPOOL_REGISTRY=/tmp/dev.json python3 supervisor.py --once   # starts, checks, stops

Once the workers answer, worker-1 is reloaded with no downtime: a handover leases its next
port with a ticket, a new worker starts there, and the commit names that ticket, so a second
reload begun meanwhile (another SIGHUP, another supervisor) is refused instead of sharing the
port.

`PORTPOOL_NAMESPACE` names the namespace of the worker names (the default one when unset), so
two projects running this supervisor may both call a worker worker-1.
`PORTPOOL_POOL` names the pool to allocate from ("default", 9000-18999, when unset). The
leases belong to this process: they are released when the `with` block ends, also on an
exception or Ctrl-C, and should the process be killed, the next `gc` (or the next allocation
that needs the ports) reclaims them.
"""

import contextlib
import http.server
import os
import signal
import subprocess
import sys
import urllib.request

import portpool

WORKERS = ("worker-1", "worker-2")


def worker(name: str, port: int) -> None:
    """A worker: serves one line of text on the port the supervisor leased for it."""

    class Hello(http.server.BaseHTTPRequestHandler):
        def do_GET(self) -> None:
            body = f"{name} on port {port}\n".encode()
            self.send_response(200)
            self.send_header("Content-Length", str(len(body)))
            self.end_headers()
            self.wfile.write(body)

        def log_message(self, *args: object) -> None:
            pass

    with http.server.HTTPServer(("127.0.0.1", port), Hello) as server:
        print("ready", flush=True)
        with contextlib.suppress(KeyboardInterrupt):
            server.serve_forever()


def start(name: str, port: int) -> subprocess.Popen[str]:
    """Starts a worker on `port` and waits until it serves."""
    child = subprocess.Popen(
        [sys.executable, __file__, "worker", name, str(port)],
        stdout=subprocess.PIPE,
        text=True,
    )
    assert child.stdout is not None
    if child.stdout.readline().strip() != "ready":
        child.kill()
        raise SystemExit(f"supervisor: {name} did not start")
    return child


def reload(reg: portpool.Registry, name: str, old: subprocess.Popen[str]) -> subprocess.Popen[str]:
    """Hands `name` over to a new worker; returns it. The old worker stops after the commit."""
    handover = reg.begin_handover_ticket(name)
    try:
        new = start(name, handover.port)
    except BaseException:
        reg.abort_handover(name, ticket=handover.ticket)
        raise
    reg.commit_handover(name, ticket=handover.ticket)
    old.terminate()
    old.wait()
    print(f"reloaded {name}: port {handover.port} (ticket {handover.ticket})")
    return new


def stop_all(workers: dict[str, subprocess.Popen[str]]) -> None:
    """Stops every worker and waits for it."""
    for child in workers.values():
        child.terminate()
    for child in workers.values():
        child.wait()


def stop(signum: int, frame: object) -> None:
    raise SystemExit(f"supervisor: stopped by signal {signum}")


def main(once: bool) -> None:
    # Ctrl-C and SIGTERM both unwind the `with` blocks below: workers stop, leases go.
    signal.signal(signal.SIGINT, signal.default_int_handler)
    signal.signal(signal.SIGTERM, stop)
    reg = portpool.Registry(namespace=os.environ.get("PORTPOOL_NAMESPACE") or None)
    pool = os.environ.get("PORTPOOL_POOL", "default")
    workers: dict[str, subprocess.Popen[str]] = {}
    with contextlib.ExitStack() as stack:
        children: list[tuple[str, int]] = []
        for name in WORKERS:
            port = stack.enter_context(reg.lease(name, pool))
            # A reload moves the lease to another port, which the block's exit leaves alone:
            # release_all gives back whatever port the name holds then.
            stack.callback(reg.release_all, name)
            workers[name] = start(name, port)
            children.append((name, port))
        stack.callback(stop_all, workers)

        print(f"registry {reg.path}:")
        for lease in reg.list():
            print(f"  {lease.name:<10} {lease.port:>5}/{lease.protocol}  pool={lease.pool}")
        for name, port in children:
            with urllib.request.urlopen(f"http://127.0.0.1:{port}/") as reply:
                print(f"  GET {name}: {reply.read().decode().strip()}")
        workers["worker-1"] = reload(reg, "worker-1", workers["worker-1"])
        with urllib.request.urlopen(f"http://127.0.0.1:{reg.get('worker-1')}/") as reply:
            print(f"  GET worker-1: {reply.read().decode().strip()}")
        if not once:
            print("serving; Ctrl-C or SIGTERM stops the workers and releases their ports")
            with contextlib.suppress(KeyboardInterrupt):
                pid, _ = os.wait()  # until Ctrl-C, or until a worker exits
                print(f"a worker (pid {pid}) exited; stopping")
    print(f"released: {', '.join(WORKERS)}; leases left: {len(reg.list())}")


if __name__ == "__main__":
    if sys.argv[1:2] == ["worker"]:
        worker(sys.argv[2], int(sys.argv[3]))
    else:
        try:
            main(once="--once" in sys.argv[1:])
        except portpool.PortpoolError as err:
            raise SystemExit(f"supervisor: {type(err).__name__}: {err}") from None
