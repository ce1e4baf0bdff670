"""``neuralis run`` on ``docker:NAME`` for a notebook in a folder its kernel (uid 1000) cannot
write: the warning names the folder and the fix, reads still work, a write fails as a cell error
(exit 1, outputs kept), and the run's container is gone afterwards."""

from __future__ import annotations

import os
import subprocess
import sys
from collections.abc import Callable
from pathlib import Path

import nbformat
import pytest

from neuralis.docker import containers
from neuralis.docker.dockerfile import KERNEL_UID
from tests.docker.conftest import Built

pytestmark = [
    pytest.mark.docker,
    pytest.mark.skipif(os.geteuid() != 0, reason="needs root: the folder must be root's"),
]

ROOT = Path(__file__).resolve().parents[2]


def run(*args: str, env: dict[str, str]) -> subprocess.CompletedProcess[str]:
    return subprocess.run(
        [sys.executable, "-m", "neuralis", "run", *args],
        capture_output=True, text=True, timeout=300,
        env=dict(os.environ, PYTHONPATH=str(ROOT), **env),
    )  # fmt: skip


def run_containers(name: str) -> list[str]:
    """Names of the containers of kernel ``name`` that a ``neuralis run`` made."""
    return [
        c.name
        for c in containers.containers_of(name)
        if "#run-" in (c.labels or {}).get(containers.NOTEBOOK_LABEL, "")
    ]


def test_read_only_folder_is_told_with_the_fix_and_the_run_keeps_its_outputs(
    built_kernel: Callable[..., Built], tmp_path: Path
) -> None:
    name = built_kernel("3.11").name
    folder = tmp_path / "root-owned"
    folder.mkdir()
    (folder / "data.txt").write_text("from the host\n")
    os.chown(folder, 0, 0)
    folder.chmod(0o755)
    notebooks = tmp_path / "notebooks"  # the notebook is outside it: its own folder is mounted
    notebooks.mkdir()
    nb = nbformat.v4.new_notebook()
    nb.cells = [
        nbformat.v4.new_code_cell("print(open('data.txt').read().strip())"),
        nbformat.v4.new_code_cell("open('result.txt', 'w').write('x')"),
        nbformat.v4.new_code_cell("print('after')"),
    ]
    src = folder / "analysis.ipynb"
    nbformat.write(nb, src)
    env = {"NEURALIS_NOTEBOOK_DIR": str(notebooks)}

    done = run(str(src), "--kernel", f"docker:{name}", env=env)

    assert done.returncode == 1, done.stderr  # a cell raised: exit 1, as documented
    assert "Traceback" not in done.stderr
    warning = next(line for line in done.stderr.splitlines() if "read-only" in line)
    assert f"uid {KERNEL_UID}" in warning and str(folder.resolve()) in warning
    assert f"chown -R {KERNEL_UID} {folder.resolve()}" in warning
    assert f"chmod o+w {folder.resolve()}" in warning
    assert "Cell 2 raised PermissionError" in done.stderr
    assert not (folder / "result.txt").exists()  # never written elsewhere in the container
    out = nbformat.read(folder / "analysis.out.ipynb", as_version=4)
    first, second, third = out.cells
    assert first.outputs[0]["text"] == "from the host\n"  # reading the folder works
    assert second.outputs[0]["ename"] == "PermissionError"
    assert not third.outputs  # stopped at the error, without --allow-errors
    assert run_containers(name) == []

    os.chown(folder, KERNEL_UID, KERNEL_UID)  # the fix the warning gives
    fixed = run(str(src), "--kernel", f"docker:{name}", "--inplace", env=env)
    assert fixed.returncode == 0, fixed.stderr
    assert "read-only" not in fixed.stderr
    assert (folder / "result.txt").read_text() == "x"
    assert run_containers(name) == []
