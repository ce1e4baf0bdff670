"""Docker support is optional: with ``neuralis/docker/`` left out, the CLI and both pages work.

The package is really absent, not mocked: the app is copied without it and run in a fresh
interpreter, so no module imported by this test session can hide a top-level import.
"""

from __future__ import annotations

import os
import shutil
import subprocess
import sys
from pathlib import Path

import nbformat
from nbformat.v4 import new_code_cell, new_notebook

from tests.conftest import ROOT

# Runs in the copy. Each check prints one line; the test reads them back.
_CHECKS = """
import sys
from streamlit.testing.v1 import AppTest

from neuralis.cli import build_parser, main
from neuralis.errors import NoSuchKernel
from neuralis.kernels import connect

choices = build_parser()._subparsers._group_actions[0].choices
print("commands", sorted(choices))
try:
    connect("docker:analytics")
except NoSuchKernel as exc:
    print("connect", exc)
print("run-env", main(["run", sys.argv[1], "--kernel", "env"]))
at = AppTest.from_file("app.py", default_timeout=60).run()
listed = [b.label for b in at.button if b.label == "a.ipynb"]
print("notebook", [e.value for e in at.exception], listed)
at.switch_page("pages/kernels.py").run()
print("kernels", [e.value for e in at.exception], [w.value for w in at.warning])
"""


def test_without_docker_package_cli_and_pages_work(tmp_path: Path) -> None:
    app = tmp_path / "app"
    skip = shutil.ignore_patterns("__pycache__")
    shutil.copytree(ROOT / "neuralis", app / "neuralis", ignore=skip)
    shutil.copytree(ROOT / "pages", app / "pages", ignore=skip)
    shutil.copy(ROOT / "app.py", app / "app.py")
    shutil.rmtree(app / "neuralis" / "docker")
    (app / "checks.py").write_text(_CHECKS)
    notebooks = tmp_path / "notebooks"
    notebooks.mkdir()
    nb = notebooks / "a.ipynb"
    nbformat.write(new_notebook(cells=[new_code_cell("1 + 1")]), nb)
    env = dict(os.environ, PYTHONPATH=str(app), NEURALIS_NOTEBOOK_DIR=str(notebooks))
    done = subprocess.run(
        [sys.executable, "checks.py", str(nb)],
        cwd=app, env=env, capture_output=True, text=True, timeout=300,
    )  # fmt: skip
    assert done.returncode == 0, done.stderr[-3000:]
    lines = dict(line.split(" ", 1) for line in done.stdout.splitlines() if " " in line)
    assert lines["commands"] == "['run']"  # `neuralis kernels` manages Docker: not offered
    assert "no Docker support" in lines["connect"]
    assert lines["run-env"] == "2"  # bad input, said plainly
    assert "no Docker support" in done.stderr
    assert lines["notebook"] == "[] ['a.ipynb']"  # no exception; the folder's notebook listed
    assert lines["kernels"] == (
        "[] ['Docker support is not installed; notebooks run on local kernels.']"
    )
