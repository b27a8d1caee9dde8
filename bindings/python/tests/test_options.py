"""Lease options as keywords: each call takes exactly the keys of its TypedDict (generated from
core's LeaseOptions and tests/parity/options.tsv), refuses any other as Python does, and the
stubs type them."""

import asyncio
import socket
import subprocess
import sys
import typing

import pytest

import portpool
import portpool._options

# Each call that takes lease options, its TypedDict, and how to call it on `reg` with `pool`
# (a pool that does not probe) and a port no one holds.
CALLS = {
    "register": (
        portpool.RegisterOptions,
        lambda reg, pool, port, **o: reg.register("a", port, **o),
    ),
    "allocate": (
        portpool.AllocateOptions,
        lambda reg, pool, port, **o: reg.allocate("a", pool, **o),
    ),
    "allocate_many": (
        portpool.AllocateManyOptions,
        lambda reg, pool, port, **o: reg.allocate_many(["a", "b"], pool, **o),
    ),
    "lease": (
        portpool.LeaseOptions,
        lambda reg, pool, port, **o: reg.lease("a", pool, **o),
    ),
    "listen": (
        portpool.ListenOptions,
        lambda reg, pool, port, **o: reg.listen("a", port=port, **o),
    ),
}


@pytest.fixture
def pool(reg) -> str:
    start = portpool.find_free(range=(20000, 60000))
    reg.set_pool("options", start, start + 9, probe=False)
    return "options"


def left_out(hint: object) -> object:
    """A value that means what leaving the key out means: None, False or the first literal."""
    if hint is bool:
        return False
    if typing.get_origin(hint) is typing.Literal:
        return typing.get_args(hint)[0]
    assert type(None) in typing.get_args(hint), hint
    return None


def test_every_call_with_lease_options_has_its_typed_dict_exported():
    assert sorted(portpool._options.__all__) == sorted(d.__name__ for d, _ in CALLS.values())
    for typed_dict, _ in CALLS.values():
        assert getattr(portpool, typed_dict.__name__) is typed_dict
        assert typed_dict.__total__ is False
        assert "protocol" in typed_dict.__optional_keys__


@pytest.mark.parametrize("name", CALLS)
def test_a_call_takes_every_key_of_its_options_typed_dict(reg, pool, name):
    typed_dict, call = CALLS[name]
    hints = typing.get_type_hints(typed_dict)
    options = {key: left_out(hint) for key, hint in hints.items()}
    done = call(reg, pool, portpool.find_free(), **options)
    if isinstance(done, portpool.LeaseGuard):
        with done as port:
            assert reg.get("a") == port
    else:
        assert reg.get("a") is not None
        if isinstance(done, socket.socket):
            done.close()


@pytest.mark.parametrize("name", CALLS)
def test_a_keyword_a_call_does_not_take_is_pythons_type_error_and_changes_nothing(
    reg, pool, name
):
    _, call = CALLS[name]
    leases = reg.list()
    with pytest.raises(TypeError) as info:
        done = call(reg, pool, portpool.find_free(), protocl="udp")
        if isinstance(done, portpool.LeaseGuard):
            with done:
                pass
    assert str(info.value) == f"Registry.{name}() got an unexpected keyword argument 'protocl'"
    assert reg.list() == leases


def test_listen_takes_no_lease_option_that_is_not_in_its_row_of_the_table(reg):
    assert "force" not in portpool.ListenOptions.__optional_keys__
    unexpected = r"Registry\.listen\(\) got an unexpected keyword argument 'force'"
    with pytest.raises(TypeError, match=unexpected):
        reg.listen("a", port=portpool.find_free(), force=True)
    assert reg.list() == []


def test_an_async_twin_names_itself_in_the_type_error_when_awaited(reg, pool):
    async def main() -> None:
        with pytest.raises(TypeError, match=r"Registry\.allocate_async\(\) got an unexpected"):
            await reg.allocate_async("a", pool, colour="red")
        with pytest.raises(TypeError, match=r"Registry\.lease_async\(\) got an unexpected"):
            async with reg.lease_async("a", pool, colour="red"):
                pass

    asyncio.run(main())
    assert reg.list() == []


@pytest.mark.parametrize(
    ("options", "key"),
    [({"force": 1}, "force"), ({"bindable": None}, "bindable"), ({"protocol": 6}, "protocol")],
)
def test_a_flag_or_protocol_of_the_wrong_type_is_a_type_error_noting_the_option(
    reg, pool, options, key
):
    with pytest.raises(TypeError) as info:
        reg.allocate("a", pool, **options)
    assert f"while processing '{key}'" in getattr(info.value, "__notes__", [])
    assert reg.list() == []


def test_lease_options_in_a_dict_reach_core(reg, pool):
    options: portpool.AllocateOptions = {"ttl": 60, "protocol": "udp", "exclude": []}
    port = reg.allocate("a", pool, **options)
    (lease,) = reg.list()
    assert (lease.port, lease.ttl, lease.protocol) == (port, 60, "udp")


def test_the_stubs_type_each_calls_lease_options(tmp_path):
    checked = tmp_path / "options_check.py"
    checked.write_text(
        "import portpool\n"
        "reg = portpool.Registry()\n"
        "reg.allocate('a', ttl=60, protocol='udp')\n"
        "reg.allocate('a', ttl='60')\n"
        "reg.allocate('a', range=(1, 2))\n"
        "reg.listen('a', protocol='tcp+udp')\n"
        "options: portpool.RegisterOptions = {'force': True, 'colour': 'red'}\n"
    )
    done = subprocess.run(
        [sys.executable, "-m", "mypy", "--strict", "--cache-dir", str(tmp_path / "c"), checked],
        capture_output=True,
        text=True,
        cwd=tmp_path,
    )
    errors = [line for line in done.stdout.splitlines() if ": error:" in line]
    assert [line.split(":")[1] for line in errors] == ["4", "5", "6", "7"], done.stdout
    assert '"ttl"' in errors[0] and '"range"' in errors[1] and '"colour"' in errors[3]
