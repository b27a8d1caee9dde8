"""examples/python/supervisor.py: it runs, serves on leased ports, releases them, and type-checks."""

import os
import subprocess
import sys

from conftest import REPO


def test_supervisor_example_leases_serves_and_releases(reg, path):
    reg.set_pool("example", 41980, 41999)
    env = dict(os.environ, PORTPOOL_REGISTRY=str(path), PORTPOOL_POOL="example")
    done = subprocess.run(
        [sys.executable, str(REPO / "examples" / "python" / "supervisor.py"), "--once"],
        capture_output=True,
        text=True,
        env=env,
        timeout=120,
    )
    assert done.returncode == 0, done.stderr
    assert "GET worker-1: worker-1 on port 4198" in done.stdout
    assert "GET worker-2: worker-2 on port 4198" in done.stdout
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
