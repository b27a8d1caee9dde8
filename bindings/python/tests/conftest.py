"""Shared fixtures: every registry a test touches is a temporary file."""

import errno
import os
import pathlib
import random
import socket
import subprocess

import pytest

import portpool

REPO = pathlib.Path(__file__).resolve().parents[3]

# Where free_block looks: above the default pool (9000-18999), below the kernel's ephemeral
# range (where outgoing connections take ports meanwhile) and the fixed pools of tests that
# never probe (41000 and up).
FREE_BLOCK_FROM = 20000
FREE_BLOCK_BEFORE = 32768
FREE_BLOCK_TRIES = 200
_starts = random.Random()


def free_block(n: int) -> range:
    """`n` consecutive ports, each free now for TCP and UDP, for a test whose outcome depends
    on its ports being free (a fixed number may be any server's on this host).

    Probes blocks from random starts below the kernel's ephemeral range, at most
    FREE_BLOCK_TRIES of them; fails the test when none is free.
    """
    with open("/proc/sys/net/ipv4/ip_local_port_range") as f:
        ephemeral = int(f.read().split()[0])
    before = FREE_BLOCK_BEFORE
    if FREE_BLOCK_FROM + 1000 < ephemeral < before:
        before = ephemeral
    for _ in range(FREE_BLOCK_TRIES):
        start = _starts.randrange(FREE_BLOCK_FROM, before - n)
        if all(_free_now(port) for port in range(start, start + n)):
            return range(start, start + n)
    pytest.fail(f"no {n} consecutive free ports in {FREE_BLOCK_FROM}-{before - 1}")


def _free_now(port: int) -> bool:
    """Whether `port` binds now for TCP and UDP on the IPv4 and IPv6 wildcards, as portpool's
    probe binds them, only stricter: without SO_REUSEADDR, so TCP's TIME_WAIT counts as busy.
    An address family the host lacks has nothing to collide with."""
    for family, wildcard in ((socket.AF_INET, "0.0.0.0"), (socket.AF_INET6, "::")):
        for kind in (socket.SOCK_STREAM, socket.SOCK_DGRAM):
            try:
                sock = socket.socket(family, kind)
            except OSError as err:
                if err.errno == errno.EAFNOSUPPORT:
                    continue
                raise
            with sock:
                if family == socket.AF_INET6:
                    sock.setsockopt(socket.IPPROTO_IPV6, socket.IPV6_V6ONLY, 1)
                try:
                    sock.bind((wildcard, port))
                except OSError as err:
                    if err.errno in (errno.EADDRNOTAVAIL, errno.EAFNOSUPPORT):
                        continue
                    return False
    return True


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
