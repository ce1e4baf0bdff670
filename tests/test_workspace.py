"""The notebook folder, cell operations, export and display helpers, without Streamlit."""

from __future__ import annotations

from pathlib import Path

import nbformat
import pytest

from neuralis.errors import InvalidName, NotebookFormatError, NotebookTooLarge
from neuralis.execution import RunRecord
from neuralis.notebook import cells as ops
from neuralis.notebook import new_notebook
from neuralis.notebook.workspace import Workspace, check_name, export_python, kernel_of, set_kernel
from neuralis.outputs import CellOutputs, display, mime
from neuralis.session import Document


def test_first_start_writes_a_valid_welcome_notebook(tmp_path: Path) -> None:
    ws = Workspace(tmp_path / "nb")
    ws.ensure()
    assert [e.name for e in ws.list()] == ["welcome.ipynb"]
    nb = ws.read("welcome.ipynb")
    assert kernel_of(nb) == "local"
    assert ops.tagged(nb, "raises-exception")


@pytest.mark.parametrize(
    "bad", ["", "   ", "../x", "a/b.ipynb", "..", ".hidden.ipynb", "a\\b", "x\x00.ipynb", "a..b"]
)
def test_names_outside_the_rules_are_refused(tmp_path: Path, bad: str) -> None:
    with pytest.raises(InvalidName):
        Workspace(tmp_path).path(bad)


@pytest.mark.parametrize(
    "name",
    [
        "welcome\u200b.ipynb",  # zero-width space: looks like welcome.ipynb
        "report\u202egnp.ipynb",  # right-to-left override: reads backwards
        "a\u200fb.ipynb",  # right-to-left mark
        "\ufeffbom.ipynb",  # byte order mark
        "tab\tname.ipynb",
    ],
)
def test_invisible_and_direction_characters_are_refused(name: str) -> None:
    with pytest.raises(InvalidName, match=r"invisible or direction-changing|not a notebook name"):
        check_name(name)


def test_what_is_listed_opens_and_the_rest_is_named(tmp_path: Path) -> None:
    ws = Workspace(tmp_path)
    ws.ensure()
    good = nbformat.writes(new_notebook())
    for name in ("a:b.ipynb", "x<y>.ipynb", "w\u200b.ipynb", "ok.ipynb", "日本語.ipynb"):
        (tmp_path / name).write_text(good)
    (tmp_path / "link.ipynb").symlink_to(tmp_path.parent / "elsewhere.ipynb")
    listed = [e.name for e in ws.list()]
    assert listed == ["ok.ipynb", "日本語.ipynb"]
    for name in listed:
        ws.read(name)  # every listed name opens
    assert ws.unlisted() == ["a:b.ipynb", "link.ipynb", "w\u200b.ipynb", "x<y>.ipynb"]


def test_outputs_of_a_file_too_large_to_open_can_be_cleared(tmp_path: Path) -> None:
    ws = Workspace(tmp_path)
    nb = new_notebook()
    nb.cells[0].source = "print('big')"
    nb.cells[0].outputs = [nbformat.v4.new_output("stream", name="stdout", text="b" * 40 * 2**20)]
    (tmp_path / "big.ipynb").write_text(nbformat.writes(nb))
    with pytest.raises(NotebookTooLarge, match="is 40 MB"):
        ws.read("big.ipynb")
    assert ws.clear_outputs("big.ipynb") == "big.ipynb"
    cleared = ws.read("big.ipynb")
    assert cleared.cells[0].source == "print('big')" and cleared.cells[0].outputs == []


@pytest.mark.parametrize("blank", ["", "   ", ".ipynb", "  .ipynb "])
def test_a_blank_name_asks_for_one(blank: str) -> None:
    with pytest.raises(InvalidName, match=r"^Give the notebook a name, e\.g\. analysis\.ipynb\.$"):
        check_name(blank)


def test_names_get_the_suffix(tmp_path: Path) -> None:
    assert check_name("report") == "report.ipynb"
    assert Workspace(tmp_path).path("my report.ipynb") == tmp_path.resolve() / "my report.ipynb"


def test_create_rename_and_free_names(tmp_path: Path) -> None:
    ws = Workspace(tmp_path)
    assert ws.create("a") == "a.ipynb"
    with pytest.raises(InvalidName):
        ws.create("a.ipynb")
    assert ws.rename("a.ipynb", "b") == "b.ipynb"
    assert [e.name for e in ws.list()] == ["b.ipynb"]
    assert ws.free_name("b.ipynb") == "b-2.ipynb"


def test_upload_validates_before_writing(tmp_path: Path) -> None:
    ws = Workspace(tmp_path)
    for data in (b"{nope", b'{"a": 1}', b'{"nbformat": 9}'):
        with pytest.raises(NotebookFormatError):
            ws.upload("x.ipynb", data)
    assert list(tmp_path.iterdir()) == []
    assert ws.upload("x.ipynb", nbformat.writes(new_notebook()).encode()) == "x.ipynb"


def test_cell_operations() -> None:
    nb = new_notebook()
    first = str(nb.cells[0]["id"])
    second = ops.insert_near(nb, first, "below")
    assert [c["id"] for c in nb.cells] == [first, second]
    assert ops.move_cell(nb, second, -1) and [c["id"] for c in nb.cells] == [second, first]
    assert not ops.move_cell(nb, second, -1)
    ops.set_source(nb, first, "x = 1")
    assert ops.change_type(nb, first, "markdown")
    assert nb.cells[1].cell_type == "markdown" and nb.cells[1].source == "x = 1"
    assert nb.cells[1]["id"] == first
    ops.delete_cell(nb, first)
    ops.delete_cell(nb, second)
    assert len(nb.cells) == 1  # never empty
    nbformat.validate(nb)


def test_kernel_metadata_and_python_export() -> None:
    nb = new_notebook()
    nb.cells[0].source = "print(1)"
    nb.cells.append(ops.new_cell("markdown", "# Title\ntext"))
    assert set_kernel(nb, "docker:ds") and kernel_of(nb) == "docker:ds"
    assert nb.metadata["kernelspec"]["name"] == "python3"  # stays Jupyter-valid
    assert export_python(nb) == "# %%\nprint(1)\n\n# %% [markdown]\n# # Title\n# text\n"


def test_clip_and_ansi() -> None:
    text = "".join(f"{i}\n" for i in range(1000))
    clipped = display.clip(text, max_lines=100)
    assert clipped is not None and clipped.hidden == 900 and clipped.head.startswith("0\n")
    assert clipped.tail.endswith("999\n") and "900 lines hidden" in clipped.note
    assert display.clip("short") is None
    html = display.ansi_to_html("\x1b[31mred\x1b[0m <tag>")
    assert "<span style=" in html and "&lt;tag&gt;" in html and "\x1b" not in html
    assert display.needs_scripts("<script>x</script>") and not display.needs_scripts("<b>x</b>")
    assert mime.pick({"text/plain": 1, "image/png": 2}) == "image/png"
    assert display.latex_body("$$x^2$$") == "x^2"


def _finished(cell_id: str, text: str) -> RunRecord:
    out = nbformat.v4.new_output("stream", name="stdout", text=text)
    return RunRecord(
        "k", cell_id, "code", "done", CellOutputs((out,), execution_count=3),
        started_at=1.0, ended_at=2.0,
    )  # fmt: skip


def test_document_merges_runs_once_and_saves(tmp_path: Path) -> None:
    ws = Workspace(tmp_path)
    ws.create("d")
    doc = Document.open(ws, "d.ipynb")
    cid = str(doc.nb.cells[0]["id"])
    rec = _finished(cid, "hi\n")
    assert doc.merge_all({cid: rec})
    saved = ws.read("d.ipynb").cells[0]
    assert saved.outputs[0].text == "hi\n" and saved.execution_count == 3
    assert not doc.merge_all({cid: rec})  # merged once


def test_document_refuses_to_overwrite_a_changed_file(tmp_path: Path) -> None:
    ws = Workspace(tmp_path)
    ws.create("d")
    doc = Document.open(ws, "d.ipynb")
    other = Document.open(ws, "d.ipynb")
    other.nb.cells[0].source = "theirs"
    assert other.save()
    doc.nb.cells[0].source = "mine"
    assert not doc.save() and doc.conflict
    assert ws.read("d.ipynb").cells[0].source == "theirs"
    assert doc.save(force=True) and ws.read("d.ipynb").cells[0].source == "mine"


def test_outputs_saved_by_another_tab_are_no_conflict(tmp_path: Path) -> None:
    ws = Workspace(tmp_path)
    ws.create("d")
    doc, other = Document.open(ws, "d.ipynb"), Document.open(ws, "d.ipynb")
    cid = str(doc.nb.cells[0]["id"])
    other.merge_all({cid: _finished(cid, "same run\n")})
    assert doc.merge_all({cid: _finished(cid, "same run\n")})
    assert doc.conflict is None


def test_sessions_cull_only_detached_idle_notebooks() -> None:
    from neuralis.execution import Broker
    from neuralis.session import Sessions

    broker = Broker()
    sessions = Sessions(broker, idle_timeout=10)
    a, b = sessions.handle(), sessions.handle()
    a.attach("nb1")
    b.attach("nb1")
    a.release()
    assert sessions.attached("nb1") == 1
    b.release()
    assert sessions.cull() == []  # not idle long enough yet
    import time

    assert sessions.cull(now=time.monotonic() + 11) == ["nb1"]
