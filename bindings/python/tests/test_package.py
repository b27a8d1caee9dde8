"""The package as installed: version, stubs, py.typed, signatures and docstrings."""

import ast
import importlib
import importlib.metadata
import inspect
import pathlib
import subprocess
import sys
import tomllib

import pytest

import portpool
import portpool._native
import portpool._options
import portpool._values

from conftest import REPO, free_block

PACKAGE = pathlib.Path(portpool.__file__).parent
STUB = PACKAGE / "_native.pyi"


def workspace_version() -> str:
    with open(REPO / "Cargo.toml", "rb") as f:
        return tomllib.load(f)["workspace"]["package"]["version"]


def test_version_equals_the_cargo_workspace_version():
    assert portpool.__version__ == workspace_version()
    assert importlib.metadata.version("portpool") == workspace_version()


def test_the_installed_package_ships_stubs_and_py_typed():
    assert (PACKAGE / "py.typed").is_file()
    assert STUB.is_file()


def stubbed_names() -> dict[str, list[str]]:
    """Top-level names of the stub, each with the public members its class declares."""
    tree = ast.parse(STUB.read_text())
    names: dict[str, list[str]] = {}
    for node in tree.body:
        if isinstance(node, ast.ClassDef):
            names[node.name] = [
                item.name
                for item in node.body
                if isinstance(item, ast.FunctionDef)
                and (not item.name.startswith("_") or item.name in ("__enter__", "__exit__"))
            ]
        elif isinstance(node, ast.FunctionDef):
            names[node.name] = []
        elif isinstance(node, ast.AnnAssign) and isinstance(node.target, ast.Name):
            names[node.target.id] = []
    return {name: members for name, members in names.items() if not name.startswith("_T")}


def test_every_stubbed_name_imports_from_portpool():
    for name, members in stubbed_names().items():
        if name.startswith("_") and name != "__version__":
            continue
        exported = importlib.import_module("portpool").__dict__[name]
        assert getattr(portpool._native, name) is exported
        for member in members:
            assert hasattr(exported, member), f"{name}.{member}"


def test_every_value_type_imports_from_portpool_under_its_own_name():
    for name in portpool._values.__all__:
        value_type = getattr(portpool._values, name)
        assert getattr(portpool, name) is value_type
        assert (value_type.__module__, value_type.__qualname__) == ("portpool", name)


def test_every_public_name_is_stubbed_and_exported():
    native = {name for name in dir(portpool._native) if not name.startswith("_")}
    native.add("__version__")
    assert native <= set(stubbed_names())
    assert set(portpool._native.__all__) == native
    options = set(portpool._options.__all__)
    assert set(portpool.__all__) == native | set(portpool._values.__all__) | options


def test_stubs_agree_with_the_runtime_signatures(tmp_path):
    done = subprocess.run(
        [sys.executable, "-m", "mypy.stubtest", "portpool", "--concise"],
        capture_output=True,
        text=True,
        cwd=tmp_path,
    )
    assert done.returncode == 0, done.stdout + done.stderr


PUBLIC_CALLABLES = [
    portpool.Registry.register,
    portpool.Registry.allocate,
    portpool.Registry.get,
    portpool.Registry.release,
    portpool.Registry.list,
    portpool.Registry.pools,
    portpool.Registry.set_pool,
    portpool.Registry.check,
    portpool.Registry.gc,
    portpool.Registry.renew,
    portpool.Registry.reset,
    portpool.Registry.lease,
    portpool.Registry.lease_async,
    portpool.Registry.begin_handover,
    portpool.Registry.commit_handover,
    portpool.Registry.abort_handover,
    portpool.Registry.begin_handover_ticket,
    portpool.Registry.begin_handovers,
    portpool.Registry.commit_handovers,
    portpool.Registry.abort_handovers,
    portpool.Registry.release_all,
    portpool.Registry.list_all_namespaces,
    portpool.Registry.allocate_many,
    portpool.Registry.set_owner,
    portpool.Registry.import_,
    portpool.Registry.who,
    portpool.Registry.migrate,
    portpool.Registry.doctor,
    portpool.Registry.repair,
    portpool.Registry.listen,
    portpool.is_free,
    portpool.find_free,
]


@pytest.mark.parametrize("func", PUBLIC_CALLABLES, ids=lambda f: f.__qualname__)
def test_public_callables_have_text_signatures_and_docstrings(func):
    assert func.__text_signature__
    inspect.signature(func)
    doc = func.__doc__
    assert "Raises:" in doc
    has_args = len(inspect.signature(func).parameters) > (1 if "." in func.__qualname__ else 0)
    if has_args:
        assert "Args:" in doc, func.__qualname__
    if func is not portpool.Registry.reset:
        assert "Returns:" in doc, func.__qualname__


ASYNC_TWINS = [
    name.removesuffix("_async")
    for name in dir(portpool.Registry)
    if name.endswith("_async") and name != "lease_async"
]


def test_every_call_that_touches_the_registry_has_an_async_twin_and_a_timeout():
    ops = {f.__name__ for f in PUBLIC_CALLABLES if f.__qualname__.startswith("Registry.")}
    ops -= {"lease", "lease_async"}
    assert {name.removesuffix("_") for name in ops} == set(ASYNC_TWINS)
    for name in ops:
        assert "timeout" in inspect.signature(getattr(portpool.Registry, name)).parameters


@pytest.mark.parametrize("name", ASYNC_TWINS)
def test_an_async_twin_takes_the_arguments_of_its_call(name):
    sync = getattr(portpool.Registry, name if name != "import" else "import_")
    twin = getattr(portpool.Registry, f"{name}_async")
    assert inspect.signature(twin) == inspect.signature(sync)
    assert "awaitable twin" in twin.__doc__


def test_registry_constructor_signature():
    assert (
        str(inspect.signature(portpool.Registry))
        == "(path=None, *, lock_timeout=None, force=False, namespace=None)"
    )
    assert "Args:" in portpool.Registry.__doc__


def test_the_readme_example_runs_as_written(tmp_path, monkeypatch):
    readme = (REPO / "bindings" / "python" / "README.md").read_text()
    code = readme.split("```python\n", 1)[1].split("```", 1)[0]
    served = []
    monkeypatch.setenv("PORTPOOL_REGISTRY", str(tmp_path / "readme.json"))
    exec(compile(code, "README.md", "exec"), {"serve": served.append, "print": lambda *a: None})
    assert len(served) == 1
    assert [lease.name for lease in portpool.Registry().list()] == ["api"]


def test_values_have_readable_reprs(reg):
    # Ports free now: doctor's first finding is that nothing listens on the lease's port.
    old, new = free_block(2)
    reg.set_pool("reserved", old, new, probe=False)
    reg.allocate("svc", "reserved")
    reg.begin_handover("svc")
    (lease,) = reg.list()
    assert repr(lease).startswith(f"Lease(name='svc', port={old},")
    assert repr(lease.next).startswith(f"Next(port={new}, created=")
    assert repr(reg.who(old)).startswith(f"Who(port={old}, leases=[Lease(name='svc'")
    assert repr(reg.check(old)).startswith("PortState(state='leased', lease=Lease(")
    assert repr(reg.lease("x", "reserved")) == "LeaseGuard(name='x', pool='reserved', port=None)"
    assert repr(reg.lease("y", port=41005)) == (
        "LeaseGuard(name='y', ports=[41005], mode='flexible', port=None)"
    )
    report = reg.doctor()
    assert repr(report).startswith("DoctorReport(findings=[Finding(kind='not_listening'")
