"""The environment panel in an AppTest, on the real engine: recorded, drift, missing, %pip."""

from __future__ import annotations

from pathlib import Path

import nbformat
import pytest
from streamlit.testing.v1 import AppTest

from neuralis.environment import record
from neuralis.environment.record import Environment
from tests.environment.test_engine import SOURCE, Recorded, recorded

pytestmark = pytest.mark.docker
__all__ = ["recorded"]


def panel_app(path: str) -> None:
    """Open one notebook and draw only the environment panel."""
    from pathlib import Path

    from neuralis.notebook.workspace import Workspace
    from neuralis.session import Document
    from neuralis.ui.environment import render_environment_panel

    p = Path(path)
    render_environment_panel(Document.open(Workspace(p.parent), p.name))


def open_panel(
    rec: Recorded, env: Environment, *, kernel: str, cells: list[str]
) -> tuple[AppTest, Path]:
    nb = nbformat.v4.new_notebook(metadata={"neuralis": {"kernel": kernel}})
    for source in cells:
        nb.cells.append(nbformat.v4.new_code_cell(source, execution_count=1))
    record.write(nb, env)
    path = rec.folder / f"panel-{abs(hash((env, kernel, *cells)))}.ipynb"
    nbformat.write(nb, path)
    at = AppTest.from_function(panel_app, args=(str(path),), default_timeout=60)
    at.run()
    assert not at.exception, at.exception
    return at, path


def buttons(at: AppTest) -> list[str]:
    return [b.label for b in at.button]


def test_matching_kernel_shows_the_record_and_offers_pip_adds(recorded: Recorded) -> None:
    at, _ = open_panel(
        recorded, recorded.env, kernel=f"docker:{SOURCE}", cells=["%pip install tabulate six"]
    )
    text = " ".join(m.value for m in at.markdown)
    assert "Python `3.11`" in text and not at.warning and not at.dataframe
    assert buttons(at) == ["Add `tabulate` to this kernel's environment"]  # six is requested
    assert {d.label for d in at.get("download_button")} == {"requirements.txt", "Build script"}


def test_drift_table_and_its_two_actions(recorded: Recorded) -> None:
    older = tuple("six==1.15.0" if p.startswith("six==") else p for p in recorded.env.frozen)
    env = Environment("3.11", recorded.env.packages, older, recorded.env.image)
    at, path = open_panel(recorded, env, kernel=f"docker:{SOURCE}", cells=[])
    table = at.dataframe[0].value
    assert table.to_dict("records") == [
        {"package": "six", "recorded": "1.15.0", "kernel": "1.16.0"}
    ]
    assert "Rebuild from the record" in buttons(at)
    assert "Update the record to this kernel" in buttons(at)
    at.button(key="env-update").click().run()
    assert not at.exception
    assert record.read(nbformat.read(path, as_version=4)) == recorded.env  # saved
    assert not at.dataframe  # no drift left to show


def test_missing_environment_offers_one_build(recorded: Recorded) -> None:
    env = Environment("3.11", ("six==1.16.0",), ("six==1.15.0",), None)
    at, _ = open_panel(recorded, env, kernel="local", cells=[])
    assert "not built here" in at.warning[0].value
    assert buttons(at) == ["Build it and select it"]
