"""The registry shared with the `portpool` command line: what one writes, the other reads."""

import datetime
import json
import os

import portpool


def test_python_reads_what_the_cli_registers(reg, cli):
    port = int(cli("register", "from-cli", str(portpool.find_free())).stdout)
    assert reg.get("from-cli") == port
    (lease,) = reg.list()
    assert (lease.name, lease.port, lease.mode, lease.protocol) == (
        "from-cli",
        port,
        "flexible",
        "tcp",
    )


def test_cli_reads_what_python_registers(reg, cli):
    port = reg.register("from-python", portpool.find_free(), "fixed", pid=os.getpid())
    assert cli("get", "from-python").stdout.strip() == str(port)
    (listed,) = json.loads(cli("list", "--json").stdout)
    assert listed["name"] == "from-python"
    assert listed["port"] == port
    assert listed["mode"] == "fixed"
    assert listed["owner"]["pid"] == os.getpid()


def test_both_allocate_from_one_pool_without_duplicates(reg, cli):
    cli("pool", "set", "shared", "41320", "41329")
    assert [p.name for p in reg.pools()] == ["default", "shared"]
    reg.set_pool("shared", 41320, 41329, probe=False)
    ports = []
    for i in range(5):
        ports.append(int(cli("allocate", f"cli-{i}", "--pool", "shared").stdout))
        ports.append(reg.allocate(f"py-{i}", "shared"))
    assert sorted(ports) == list(range(41320, 41330))
    listed = {entry["name"]: entry["port"] for entry in json.loads(cli("list", "--json").stdout)}
    assert listed == {lease.name: lease.port for lease in reg.list()}


def test_pools_set_by_python_are_listed_by_the_cli(reg, cli):
    reg.set_pool("mine", 41340, 41349, probe=False)
    pools = {p["name"]: p for p in json.loads(cli("pool", "list", "--json").stdout)}
    assert (pools["mine"]["start"], pools["mine"]["end"], pools["mine"]["probe"]) == (
        41340,
        41349,
        False,
    )


def test_a_release_on_either_side_is_seen_by_the_other(reg, cli):
    reg.register("a", portpool.find_free())
    cli("register", "b", str(portpool.find_free()))
    cli("release", "a")
    assert reg.get("a") is None
    assert reg.release("b") is True
    missing = cli("get", "b", check=False)
    assert missing.returncode == 1
    assert "no lease named" in missing.stderr


def rfc3339(secs: int | None) -> str | None:
    if secs is None:
        return None
    return datetime.datetime.fromtimestamp(secs, datetime.UTC).strftime("%Y-%m-%dT%H:%M:%SZ")


def test_cli_and_python_report_the_same_leases(reg, cli):
    reg.register("udp-svc", portpool.find_free("udp"), protocol="udp", ttl=300)
    cli("register", "tcp-svc", str(portpool.find_free()), "--ttl", "60")
    from_cli = json.loads(cli("list", "--json").stdout)
    from_python = reg.list()
    assert [e["name"] for e in from_cli] == [lease.name for lease in from_python]
    for entry, lease in zip(from_cli, from_python):
        assert (entry["port"], entry["protocol"], entry["mode"], entry["pool"]) == (
            lease.port,
            lease.protocol,
            lease.mode,
            lease.pool,
        )
        # The CLI prints times as RFC 3339 UTC strings; Python has seconds since the epoch.
        assert (entry["created"], entry["ttl"], entry["expires"]) == (
            rfc3339(lease.created),
            lease.ttl,
            rfc3339(lease.expires),
        )


def test_a_handover_begun_by_the_cli_is_committed_from_python(reg, cli):
    reg.set_pool("svc", 41330, 41339, probe=False)
    old = reg.allocate("api", "svc")
    new = int(cli("handover", "api").stdout)
    assert reg.list()[0].next.port == new
    assert reg.commit_handover("api") == new
    assert cli("get", "api").stdout.strip() == str(new)
    assert reg.check(old).state != "leased"
