"""Shared fixtures: every registry a test touches is a temporary file."""

import os
import pathlib
import subprocess

import pytest

import portpool

REPO = pathlib.Path(__file__).resolve().parents[3]


@pytest.fixture(autouse=True)
def _no_default_registry(tmp_path, monkeypatch):
    """Points the default registry at a temporary file, so no test can reach the host's."""
    monkeypatch.setenv("PORTPOOL_REGISTRY", str(tmp_path / "default-registry.json"))


@pytest.fixture
def path(tmp_path) -> pathlib.Path:
    return tmp_path / "registry.json"


@pytest.fixture
def reg(path) -> portpool.Registry:
    return portpool.Registry(path)


@pytest.fixture
def reserved(reg) -> portpool.Pool:
    """A pool that does not bind-probe, so other software on the host cannot disturb it."""
    return reg.set_pool("reserved", 41000, 41009, probe=False)


def cli_binary() -> pathlib.Path:
    """The `portpool` binary: $PORTPOOL_CLI (set by `make test`), else the cargo build."""
    if os.environ.get("PORTPOOL_CLI"):
        return pathlib.Path(os.environ["PORTPOOL_CLI"])
    target = pathlib.Path(os.environ.get("CARGO_TARGET_DIR", REPO / "target"))
    return target / "debug" / "portpool"


@pytest.fixture
def cli(path):
    """Runs the `portpool` CLI on the test's registry; returns the completed process."""
    binary = cli_binary()
    if not binary.is_file():
        pytest.fail(f"{binary} is missing: build it with `cargo build -p portpool-cli`")

    def run(*args: str, check: bool = True) -> subprocess.CompletedProcess[str]:
        done = subprocess.run(
            [str(binary), "--registry", str(path), *args],
            capture_output=True,
            text=True,
            timeout=60,
        )
        if check and done.returncode != 0:
            raise AssertionError(
                f"portpool {' '.join(args)} exited {done.returncode}: {done.stderr}"
            )
        return done

    return run
