"""AppTest fixtures: the app on a temporary notebook folder, kernels stopped afterwards.

Every AppTest run of every test that uses these fixtures (``no_app_error`` is autouse here;
tests/reliability and tests/environment import it) is checked: an exception element after any
run, or an error logged by Streamlit or Neuralis, fails the test.
"""

from __future__ import annotations

import logging
import time
from collections.abc import Callable, Iterator
from pathlib import Path
from typing import Any

import nbformat
import pytest
from streamlit.testing.v1 import AppTest

from neuralis.notebook import cells as ops
from neuralis.notebook import new_notebook, write_notebook

ROOT = Path(__file__).resolve().parents[2]
APP = str(ROOT / "app.py")
TIMEOUT = 30.0


class _Errors(logging.Handler):
    """Keep every ERROR record of Neuralis and Streamlit (whose loggers do not propagate:
    attach to each). Not nbformat's: it logs every invalid notebook a test feeds it."""

    def __init__(self) -> None:
        super().__init__(logging.ERROR)
        self.seen: list[str] = []

    def emit(self, record: logging.LogRecord) -> None:
        self.seen.append(f"{record.name}: {self.format(record)}")


@pytest.fixture(autouse=True)
def no_app_error(monkeypatch: pytest.MonkeyPatch) -> Iterator[None]:
    """Fail a test when an AppTest run showed an exception or an error was logged."""
    shown: list[str] = []
    original = AppTest.run

    def run(self: AppTest, *, timeout: float | None = None) -> AppTest:
        result = original(self, timeout=timeout)
        shown.extend(f"{e.value}\n{''.join(e.stack_trace)}" for e in self.exception)
        return result

    monkeypatch.setattr(AppTest, "run", run)
    handler = _Errors()
    names = [n for n in list(logging.root.manager.loggerDict) if n.startswith("streamlit.")]
    loggers = [logging.getLogger(n) for n in ("neuralis", "streamlit", *names)]
    for logger in loggers:
        logger.addHandler(handler)
    try:
        yield
    finally:
        for logger in loggers:
            logger.removeHandler(handler)
    assert not shown, "an AppTest run showed an exception:\n" + "\n".join(shown)
    assert not handler.seen, "an error was logged:\n" + "\n".join(handler.seen)


@pytest.fixture
def notebook_dir(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> Path:
    """Point the app at an empty temporary folder (the app creates it)."""
    folder = tmp_path / "notebooks"
    monkeypatch.setenv("NEURALIS_NOTEBOOK_DIR", str(folder))
    monkeypatch.chdir(ROOT)  # st.navigation resolves pages/ from the working directory
    return folder


@pytest.fixture
def app(notebook_dir: Path) -> Iterator[Callable[..., AppTest]]:
    """Return a factory of AppTests; every kernel they started is shut down at the end."""
    made: list[AppTest] = []

    def make(file: str | None = None, page: str | None = None) -> AppTest:
        at = AppTest.from_file(APP, default_timeout=TIMEOUT)
        if file:
            at.query_params["file"] = file
        at.run()
        if page:
            at.switch_page(page).run()
        made.append(at)
        return at

    yield make
    from neuralis.ui import state

    state.sessions().broker.shutdown_all()


def make_notebook(folder: Path, name: str, sources: list[str]) -> list[str]:
    """Write a notebook of code cells; return the cell ids."""
    folder.mkdir(parents=True, exist_ok=True)
    nb = new_notebook()
    nb.cells = [ops.new_cell("code", src) for src in sources]
    write_notebook(nb, folder / name)
    return [str(c["id"]) for c in nb.cells]


def read(folder: Path, name: str) -> Any:
    """Return a notebook file as nbformat reads it (sources and texts as strings)."""
    return nbformat.reads((folder / name).read_text(), as_version=4)


def wait_done(at: AppTest, timeout: float = 60.0) -> None:
    """Rerun until no cell is queued or running (run_every is not simulated in AppTest)."""
    from neuralis.ui import state

    deadline = time.monotonic() + timeout
    broker = state.sessions().broker
    while time.monotonic() < deadline:
        doc = at.session_state["neuralis_doc"]
        if not broker.busy(doc.key):
            at.run()
            return
        time.sleep(0.1)
    raise AssertionError("cells still running after the timeout")


def captions(at: AppTest) -> list[str]:
    """Return every caption's text."""
    return [c.value for c in at.caption]


def texts(at: AppTest) -> list[str]:
    """Return what code blocks and HTML blocks show (stream and error outputs)."""
    return [c.value for c in at.code] + [h.value for h in at.get("html")]


def act(at: AppTest, cell_id: str, action: str) -> AppTest:
    """Click one of a cell's action buttons (up, down, above, below, type, delete, edit)."""
    return at.button(key=f"act-{cell_id}-{action}").click().run()
