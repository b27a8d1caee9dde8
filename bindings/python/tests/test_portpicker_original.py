"""portpicker 1.6's own test file, run against portpool.portpicker.

The file comes from portpicker's sdist on PyPI (pip download, kept under target/), and
imports ``portpicker``: a one-line alias module of that name is portpool.portpicker, for
``import portpicker`` and ``python -m portpicker`` alike. Its portserver tests launch the
original ``portserver.py`` (installed with portpicker in the virtualenv) and point
``$PORTSERVER_ADDRESS`` at it, which the drop-in asks as portpicker does.

Every test passes except those README lists ("portpool.portpicker and portpicker's own
tests"), each for a reason given there.
"""

import os
import pathlib
import subprocess
import sys
import tarfile
import xml.etree.ElementTree as ET

from conftest import REPO

VERSION = "1.6.0"
ALIAS = (
    "import sys, runpy, portpool.portpicker as m; sys.modules[__name__] = m "
    'if __name__ != "__main__" else runpy.run_module("portpool.portpicker", run_name="__main__")\n'
)
# The tests of portpicker's file that cannot pass here, and why (README says the same).
NOT_PASSING = {
    # It makes Python's socket.socket raise and expects is_port_free to fail: the drop-in
    # probes in portpool's core, not through Python's socket module.
    "testIsPortFreeException": "failure",
    # It skips itself when the command line's bind timeout holds nothing bound (a WARNING on
    # stderr): the lease keeps the port for the pid instead.
    "test_command_line_interface_no_portserver_bind_timeout": "skipped",
}


def portpicker_test_file(into: pathlib.Path) -> pathlib.Path:
    """portpicker's src/tests/portpicker_test.py, from its sdist (downloaded once)."""
    cache = pathlib.Path(os.environ.get("CARGO_TARGET_DIR", REPO / "target")) / "portpicker-sdist"
    sdist = cache / f"portpicker-{VERSION}.tar.gz"
    if not sdist.exists():
        subprocess.run(
            [sys.executable, "-m", "pip", "download", "--quiet", "--disable-pip-version-check",
             "--no-deps", "--no-binary", ":all:", "-d", str(cache), f"portpicker=={VERSION}"],
            check=True,
            timeout=300,
        )
    with tarfile.open(sdist) as tar:
        member = tar.extractfile(f"portpicker-{VERSION}/src/tests/portpicker_test.py")
        assert member is not None
        target = into / "portpicker_test.py"
        target.write_bytes(member.read())
    return target


def test_portpickers_own_tests_pass_against_the_drop_in_but_for_those_readme_lists(tmp_path):
    test_file = portpicker_test_file(tmp_path)
    (tmp_path / "portpicker.py").write_text(ALIAS)
    report = tmp_path / "report.xml"
    env = dict(os.environ, PORTPOOL_REGISTRY=str(tmp_path / "registry.json"))
    env["PATH"] = f"{pathlib.Path(sys.executable).parent}{os.pathsep}{env['PATH']}"
    env.pop("PORTSERVER_ADDRESS", None)
    run = subprocess.run(
        [sys.executable, "-m", "pytest", "-q", "-p", "no:cacheprovider", "-o", "addopts=",
         "-W", "default", f"--junitxml={report}", str(test_file)],
        cwd=tmp_path,
        env=env,
        capture_output=True,
        text=True,
        timeout=600,
        start_new_session=True,  # the original portserver it starts goes with its group
    )
    outcomes = {}
    for case in ET.parse(report).iter("testcase"):
        kinds = [child.tag for child in case if child.tag in ("failure", "error", "skipped")]
        outcomes[case.get("name")] = kinds[0] if kinds else "passed"
    assert outcomes.get("testPickUnusedPortActuallyWorks") == "passed", run.stdout
    assert outcomes.get("testGetPortFromPortServer") == "passed", "the portserver tests ran"
    odd = {name: kind for name, kind in outcomes.items() if kind != "passed"}
    assert odd == NOT_PASSING, run.stdout + run.stderr
    assert len(outcomes) == 21
