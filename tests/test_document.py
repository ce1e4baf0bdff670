"""The shared document and the broker's finished-run hook, on a real local kernel."""

from __future__ import annotations

import re
import time
from collections.abc import Callable
from pathlib import Path

from neuralis.execution import Broker
from neuralis.notebook.workspace import Workspace
from neuralis.session import Document, Sessions
from tests.ui.conftest import make_notebook, read

ROOT = Path(__file__).resolve().parents[1]


def until(check: Callable[[], bool], timeout: float = 60.0) -> None:
    deadline = time.monotonic() + timeout
    while not check():
        assert time.monotonic() < deadline, "not reached within the timeout"
        time.sleep(0.05)


def test_a_finished_run_is_written_with_no_tab_open(tmp_path: Path) -> None:
    (cid,) = make_notebook(tmp_path, "bg.ipynb", ["print('written by the broker')"])
    key = str(tmp_path / "bg.ipynb")
    sessions = Sessions(Broker())
    try:
        sessions.broker.attach(key, "local", tmp_path)
        sessions.broker.run(key, cid, "print('written by the broker')")
        # Nobody opened a document: the broker's hook reads the file, stores the run, saves.
        until(lambda: bool(read(tmp_path, "bg.ipynb").cells[0].outputs))
        cell = read(tmp_path, "bg.ipynb").cells[0]
        assert cell.outputs[0].text == "written by the broker\n"
        assert cell.execution_count == 1
    finally:
        sessions.broker.shutdown_all(wait=True)


def test_exit_writes_what_an_unfinished_run_printed(tmp_path: Path) -> None:
    code = (
        "import time\nfor i in range(100):\n    print('tick', i, flush=True)\n    time.sleep(0.2)"
    )
    (cid,) = make_notebook(tmp_path, "exit.ipynb", [code])
    ws = Workspace(tmp_path)
    sessions = Sessions(Broker())
    doc = sessions.documents.open(ws, "exit.ipynb")
    sessions.broker.attach(doc.key, "local", tmp_path)
    sessions.broker.run(doc.key, cid, code)

    def printed() -> bool:
        rec = sessions.broker.record(doc.key, cid)
        return rec is not None and "tick 2" in str(rec.outputs.outputs)

    until(printed)
    sessions.close()  # what the app does at exit (atexit), with the run still going
    text = read(tmp_path, "exit.ipynb").cells[0].outputs[0].text
    assert re.match(r"tick 0\ntick 1\ntick 2\n", text)


def test_the_later_edit_of_a_cell_wins_and_the_earlier_text_is_kept(tmp_path: Path) -> None:
    (cid,) = make_notebook(tmp_path, "e.ipynb", ["x = 0"])
    doc = Document.load(tmp_path / "e.ipynb")
    assert doc.edit("one", cid, "x = 1", base="x = 0")
    assert doc.edit("two", cid, "x = 2", base="x = 0")  # two never saw one's text
    assert doc.replaced_text("one", cid) == "x = 1" and doc.replaced_text("two", cid) is None
    assert doc.edit("one", cid, "x = 1", base="x = 2")  # one restores it, having seen two's
    assert doc.replaced_text("one", cid) is None and doc.replaced_text("two", cid) is None
    assert doc.edit("two", cid, "x = 3", base="x = 1")  # in turn, no conflict: it saw it


def test_a_change_on_disk_is_merged_or_offered(tmp_path: Path) -> None:
    (cid,) = make_notebook(tmp_path, "d.ipynb", ["x = 0"])
    path = tmp_path / "d.ipynb"
    doc = Document.load(path)
    path.write_text(path.read_text().replace("x = 0", "x = 'disk'"))
    assert doc.check_disk(min_interval=0)  # nothing unsaved here: taken in
    assert doc.nb.cells[0].source == "x = 'disk'" and doc.conflict is None
    assert doc.edit("one", cid, "x = 'mine'", base="x = 'disk'")  # not saved yet
    path.write_text(path.read_text().replace("x = 'disk'", "x = 'again'"))
    assert doc.check_disk(min_interval=0)
    assert doc.conflict and "changed on disk" in doc.conflict
    assert doc.nb.cells[0].source == "x = 'mine'"  # kept, not written
    assert "again" in path.read_text()


def test_the_live_view_uses_public_streamlit_only() -> None:
    """No import of streamlit.runtime and no private Streamlit name anywhere in neuralis/."""
    bad = []
    for file in sorted((ROOT / "neuralis").rglob("*.py")):
        for n, line in enumerate(file.read_text().splitlines(), 1):
            if "streamlit.runtime" in line or re.search(r"\bst(reamlit)?\.\w*\._", line):
                bad.append(f"{file.relative_to(ROOT)}:{n}: {line.strip()}")
            if re.search(r"from streamlit[\w.]* import .*\b_\w+", line):
                bad.append(f"{file.relative_to(ROOT)}:{n}: {line.strip()}")
            if re.search(r"\bst(reamlit)?\._\w+", line):
                bad.append(f"{file.relative_to(ROOT)}:{n}: {line.strip()}")
    assert not bad, "private Streamlit use:\n" + "\n".join(bad)
