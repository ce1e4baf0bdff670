"""Recorded environments on the real engine: record, delete, rebuild, drift, ``--kernel env``.

One small kernel (Python 3.11 with six pinned) is built for the module; its rebuild from the
notebook's record reuses the cached venv layers, so the module costs about two builds.
"""

from __future__ import annotations

import os
import subprocess
import sys
from collections.abc import Iterator
from dataclasses import dataclass
from pathlib import Path

import nbformat
import pytest

from neuralis.config import Settings
from neuralis.docker import containers, freeze
from neuralis.docker.build import build
from neuralis.docker.spec import make_spec
from neuralis.environment import engine, record
from neuralis.environment.record import Drift, Environment
from neuralis.kernels.smoke import smoke_test
from tests.environment.conftest import PREFIX

pytestmark = pytest.mark.docker
ROOT = Path(__file__).resolve().parents[2]
SOURCE = f"{PREFIX}-envsrc"
CELL = "import six\nprint(six.__version__)"


@dataclass(frozen=True)
class Recorded:
    """A notebook run once on the source kernel, and the environment it recorded."""

    folder: Path
    notebook: Path
    env: Environment


def neuralis(folder: Path, *args: str) -> subprocess.CompletedProcess[str]:
    env = dict(
        os.environ,
        PYTHONPATH=str(ROOT),
        NEURALIS_NOTEBOOK_DIR=str(folder),
        NEURALIS_ENV_PREFIX=f"{PREFIX}-env",  # rebuilt kernels are this run's: cleanup finds them
        NEURALIS_DATA_DIR=str(folder.parent / "data"),
    )
    return subprocess.run(
        [sys.executable, "-m", "neuralis", *args],
        capture_output=True, text=True, env=env, timeout=600,
    )  # fmt: skip


def stdout_of(path: Path) -> str:
    nb = nbformat.read(path, as_version=4)
    return "".join(o.get("text", "") for o in nb.cells[0].outputs)


@pytest.fixture(scope="module")
def recorded(docker_engine: None, tmp_path_factory: pytest.TempPathFactory) -> Iterator[Recorded]:
    """Build the source kernel and run a notebook on it headless, recording its environment."""
    folder = tmp_path_factory.mktemp("envs") / "notebooks"
    folder.mkdir()
    folder.chmod(0o777)  # the kernel runs as uid 1000
    list(
        build(
            make_spec("3.11", ["six==1.16.0"], name=SOURCE), Settings.from_env(), verify=smoke_test
        )
    )
    source = folder / "nb.ipynb"
    nbformat.write(nbformat.v4.new_notebook(cells=[nbformat.v4.new_code_cell(CELL)]), source)
    done = neuralis(folder, "run", str(source), "--kernel", f"docker:{SOURCE}", "--inplace")
    assert done.returncode == 0, done.stderr
    env = record.read(nbformat.read(source, as_version=4))
    assert env is not None
    yield Recorded(folder, source, env)


def test_a_docker_run_records_the_environment(recorded: Recorded) -> None:
    env = recorded.env
    assert env.python == "3.11" and env.packages == ("six==1.16.0",)
    assert env.image == containers.get_image(SOURCE).id
    pins = record.pins(env.frozen)
    assert pins["six"].version == "1.16.0"
    assert pins["jupyter-server"].version == "2.21.1"  # the whole venv, not only the request
    assert stdout_of(recorded.notebook) == "1.16.0\n"


def test_drift_is_shown_when_a_version_differs(recorded: Recorded) -> None:
    assert engine.kernel_drift(recorded.env, SOURCE) == ()
    older = [p if not p.startswith("six==") else "six==1.15.0" for p in recorded.env.frozen]
    doctored = Environment("3.11", recorded.env.packages, tuple(older), recorded.env.image)
    assert engine.kernel_drift(doctored, SOURCE) == (Drift("six", "1.15.0", "1.16.0"),)
    nb = nbformat.read(recorded.notebook, as_version=4)
    record.write(nb, doctored)
    path = recorded.folder / "doctored.ipynb"
    nbformat.write(nb, path)
    done = neuralis(recorded.folder, "run", str(path), "--kernel", f"docker:{SOURCE}", "--inplace")
    assert done.returncode == 0, done.stderr
    assert "Environment record updated: 1 differ (six)" in done.stderr
    assert record.read(nbformat.read(path, as_version=4)) == recorded.env


def test_adding_a_package_pins_the_version_the_kernel_runs(recorded: Recorded) -> None:
    """ "Add X to this kernel's environment" after `%pip install X`: the rebuild gets the
    version the running container has, not whatever is newest on the index."""
    containers.ensure_running(SOURCE, Settings.from_env())
    try:
        assert "six==1.16.0" in freeze.installed_now(SOURCE)
        assert "six==1.16.0" in engine.spec_with(SOURCE, "six").packages
        assert engine.pinned_to_running(SOURCE, "Six[x]") == "Six[x]==1.16.0"
        assert engine.pinned_to_running(SOURCE, "six>=1") == "six>=1"  # asked: kept
        assert engine.pinned_to_running(SOURCE, "tabulate") == "tabulate"  # not there
        # The running container, not the image, is what counts: change it as a notebook's
        # `%pip` would (the kernel's user owns the venv) and see.
        container = containers.find(SOURCE)
        assert container is not None
        gone = container.exec_run(
            ["/opt/neuralis/bin/python", "-m", "pip", "uninstall", "-y", "six"]
        )
        assert gone.exit_code == 0, gone.output
        assert engine.pinned_to_running(SOURCE, "six") == "six"
        assert "six==1.16.0" in engine.of_kernel(SOURCE).frozen  # the image still has it
    finally:
        containers.remove(SOURCE, image=False)
    assert freeze.installed_now(SOURCE) == ()  # no container: nothing to pin to


def test_deleted_image_is_rebuilt_from_the_notebook(recorded: Recorded) -> None:
    settings = Settings.from_env(dict(os.environ, NEURALIS_ENV_PREFIX=f"{PREFIX}-env"))
    assert engine.locate(recorded.env, settings) == SOURCE
    assert containers.remove(SOURCE)
    assert engine.locate(recorded.env, settings) is None

    out = recorded.folder / "rebuilt.ipynb"
    done = neuralis(
        recorded.folder, "run", str(recorded.notebook), "--kernel", "env", "--output", str(out)
    )
    assert done.returncode == 0, done.stderr
    assert "Smoke test" in done.stderr  # it was built, not found
    name = record.spec_for(recorded.env, f"{PREFIX}-env").name
    assert f"on docker:{name}" in done.stderr
    assert stdout_of(out) == "1.16.0\n"
    again = record.read(nbformat.read(out, as_version=4))
    assert again is not None and again.image == containers.get_image(name).id
    assert again.frozen == recorded.env.frozen  # the same versions, package by package
    assert engine.kernel_drift(recorded.env, name) == ()

    # Cached by spec hash: a second run finds the kernel and builds nothing.
    done = neuralis(recorded.folder, "run", str(recorded.notebook), "--kernel", "env", "--inplace")
    assert done.returncode == 0, done.stderr
    assert "Smoke test" not in done.stderr and f"on docker:{name}" in done.stderr
