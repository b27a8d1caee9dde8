"""Real servers on the socket `portpool run --listen` hands over, answering HTTP through the
leased port: Python (`socket.socket(fileno=3)`), Node (`server.listen({fd: 3})`), Go
(`net.FileListener(os.NewFile(3, ...))`) and gunicorn, which finds the socket by the
socket-activation variables alone (so LISTEN_PID must be its own pid) or by `--bind fd://3`.

The lease exists, and the socket listens, before `run` starts the server: the test connects
as soon as the lease is recorded, with no wait for the server to come up and no retry loop
beyond the kernel's accept queue.
"""

import json
import os
import signal
import subprocess
import sys
import time
import urllib.request
from pathlib import Path

import pytest

HERE = Path(__file__).resolve().parent
PORTPOOL = os.environ["PORTPOOL"]
GO_SERVER = os.environ["PORTPOOL_GO_SERVER"]
NODE = os.environ.get("NODE", "node")
VENV_BIN = Path(sys.executable).parent

GUNICORN = ["--workers", "1", "--chdir", str(HERE / "servers"), "wsgi:app"]

SERVERS = {
    "python": [sys.executable, str(HERE / "servers" / "server.py")],
    "node": [NODE, str(HERE / "servers" / "server.js")],
    "go": [GO_SERVER],
    # gunicorn finds the socket by the protocol alone (LISTEN_PID is its own pid)...
    "gunicorn": [str(VENV_BIN / "gunicorn"), *GUNICORN],
    # ... or takes it from --bind fd://3 once the variables are gone (given both, gunicorn 27
    # would take fd 3 twice).
    "gunicorn-bind-fd": [
        "env", "-u", "LISTEN_FDS", "-u", "LISTEN_PID", "-u", "LISTEN_FDNAMES",
        str(VENV_BIN / "gunicorn"), "--bind", "fd://3", *GUNICORN,
    ],
}


def leases(registry: Path) -> list:
    out = subprocess.run(
        [PORTPOOL, "--registry", str(registry), "list", "--json"],
        check=True, capture_output=True, text=True,
    )
    return json.loads(out.stdout)


def leased_port(registry: Path, name: str, run: subprocess.Popen) -> int:
    deadline = time.monotonic() + 30
    while time.monotonic() < deadline:
        for lease in leases(registry):
            if lease["name"] == name:
                return int(lease["port"])
        assert run.poll() is None, f"portpool run exited early: {run.returncode}"
        time.sleep(0.01)
    raise AssertionError(f"no lease named {name} after 30 s")


@pytest.mark.parametrize("kind", sorted(SERVERS))
def test_a_server_on_the_passed_socket_answers_through_the_leased_port(
    kind: str, tmp_path: Path
) -> None:
    registry = tmp_path / "registry.json"
    name = f"web-{kind}"
    run = subprocess.Popen(
        [PORTPOOL, "--registry", str(registry), "run", name, "--listen", "--", *SERVERS[kind]],
        stdout=subprocess.DEVNULL,
    )
    try:
        port = leased_port(registry, name, run)
        with urllib.request.urlopen(f"http://127.0.0.1:{port}/", timeout=30) as answer:
            body = answer.read().decode()
        assert body.startswith(kind.split("-")[0]), body
        if not kind.startswith("gunicorn"):  # gunicorn clears LISTEN_* before the app runs
            assert body.endswith("listen-pid-is-mine=True"), body
    finally:
        run.send_signal(signal.SIGTERM)  # forwarded to the server by portpool run
        run.wait(timeout=30)
    assert not [l for l in leases(registry) if l["name"] == name], "released on exit"
