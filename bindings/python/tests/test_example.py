"""examples/python/supervisor.py: it runs, serves on leased ports, releases them, and type-checks."""

import os
import subprocess
import sys

import portpool
from conftest import REPO


def test_supervisor_example_leases_serves_and_releases(reg, path):
    # The workers really bind their ports: start the pool at a port the kernel picked, so
    # that runs on separate registries (other suites, parallel runs) do not pick the same.
    start = portpool.find_free()
    reg.set_pool("example", start, min(start + 19, 65535))
    env = dict(os.environ, PORTPOOL_REGISTRY=str(path), PORTPOOL_POOL="example")
    done = subprocess.run(
        [sys.executable, str(REPO / "examples" / "python" / "supervisor.py"), "--once"],
        capture_output=True,
        text=True,
        env=env,
        timeout=120,
    )
    assert done.returncode == 0, done.stderr
    assert "GET worker-1: worker-1 on port " in done.stdout
    assert "GET worker-2: worker-2 on port " in done.stdout
    assert "reloaded worker-1: port " in done.stdout and "(ticket 1)" in done.stdout
    assert "leases left: 0" in done.stdout
    assert reg.list() == []


def test_the_example_type_checks_against_the_stubs(tmp_path):
    done = subprocess.run(
        [
            sys.executable,
            "-m",
            "mypy",
            "--strict",
            "--cache-dir",
            str(tmp_path / "mypy-cache"),
            str(REPO / "examples" / "python" / "supervisor.py"),
        ],
        capture_output=True,
        text=True,
        cwd=tmp_path,
    )
    assert done.returncode == 0, done.stdout + done.stderr
