"""Undo a deletion, rename with the kernel kept, upload over an existing name (AppTest)."""

from __future__ import annotations

from collections.abc import Callable
from pathlib import Path

from streamlit.testing.v1 import AppTest

from neuralis.notebook import cells as ops
from neuralis.notebook import new_notebook
from tests.ui.conftest import act, make_notebook, read, texts, wait_done


def ids(folder: Path, name: str) -> list[str]:
    return [str(c["id"]) for c in read(folder, name).cells]


def test_delete_then_undo_puts_the_cell_back(
    app: Callable[..., AppTest], notebook_dir: Path
) -> None:
    first, second, third = make_notebook(notebook_dir, "u.ipynb", ["a = 1", "b = 2", "c = 3"])
    at = app(file="u.ipynb")
    act(at, second, "delete")
    assert ids(notebook_dir, "u.ipynb") == [first, third]
    at.button(key=f"undo-{third}").click().run()  # shown on the cell that took its place
    assert not at.exception
    saved = read(notebook_dir, "u.ipynb").cells
    assert [c.id for c in saved] == [first, second, third] and saved[1].source == "b = 2"
    assert not [b for b in at.button if (b.key or "").startswith("undo-")]
    # Two deletions come back last first, the button following the restored cell.
    act(at, first, "delete")
    act(at, third, "delete")
    assert ids(notebook_dir, "u.ipynb") == [second]
    at.button(key=f"undo-{second}").click().run()
    assert ids(notebook_dir, "u.ipynb") == [second, third]
    at.button(key=f"undo-{third}").click().run()
    assert ids(notebook_dir, "u.ipynb") == [first, second, third]
    assert not [b for b in at.button if (b.key or "").startswith("undo-")]


def test_undo_of_the_last_cell_drops_the_stand_in(
    app: Callable[..., AppTest], notebook_dir: Path
) -> None:
    (only,) = make_notebook(notebook_dir, "one.ipynb", ["print('only')"])
    at = app(file="one.ipynb")
    act(at, only, "delete")
    (stand_in,) = ids(notebook_dir, "one.ipynb")
    assert stand_in != only
    at.button(key=f"undo-{stand_in}").click().run()
    saved = read(notebook_dir, "one.ipynb").cells
    assert [(c.id, c.source) for c in saved] == [(only, "print('only')")]


def test_restore_cell_keeps_outputs_and_place() -> None:
    nb = new_notebook()
    nb.cells = [ops.new_cell("code", f"x{i}") for i in range(3)]
    nb.cells[1].outputs = [{"output_type": "stream", "name": "stdout", "text": "kept\n"}]
    gone = nb.cells[1].id
    deleted = ops.delete_cell(nb, gone)
    ops.move_cell(nb, nb.cells[0].id, 1)  # the notebook changed meanwhile
    assert ops.restore_cell(nb, deleted) == gone
    assert ops.index_of(nb, gone) == 1 and nb.cells[1].outputs[0]["text"] == "kept\n"


def test_rename_keeps_the_kernel_and_its_variables(
    app: Callable[..., AppTest], notebook_dir: Path
) -> None:
    first, second = make_notebook(notebook_dir, "old.ipynb", ["secret = 41", "print(secret + 1)"])
    at = app(file="old.ipynb")
    at.button(key=f"run-{first}").click().run()
    wait_done(at)
    field = next(t for t in at.text_input if t.label == "New name")
    field.input("new.ipynb")
    at.button(key="FormSubmitter:rename-notebook-Rename").click().run()
    assert not at.exception
    assert not (notebook_dir / "old.ipynb").exists() and (notebook_dir / "new.ipynb").exists()
    assert at.query_params["file"] == "new.ipynb"
    at.button(key=f"run-{second}").click().run()
    wait_done(at)
    assert "42" in "\n".join(texts(at))
    saved = read(notebook_dir, "new.ipynb").cells
    assert saved[1].outputs[0].text == "42\n" and saved[1].execution_count == 2


def _upload(at: AppTest, name: str, data: bytes) -> None:
    at.file_uploader[0].set_value((name, data, "application/json"))
    at.button(key="FormSubmitter:upload-notebook-Upload").click().run()


def test_upload_of_an_existing_name_asks_first(
    app: Callable[..., AppTest], notebook_dir: Path, tmp_path: Path
) -> None:
    make_notebook(notebook_dir, "same.ipynb", ["print('here before')"])
    before = (notebook_dir / "same.ipynb").read_bytes()
    make_notebook(tmp_path / "src", "same.ipynb", ["print('uploaded')"])
    data = (tmp_path / "src" / "same.ipynb").read_bytes()
    at = app()
    _upload(at, "same.ipynb", data)
    assert any("same.ipynb already exists" in w.value for w in at.warning)
    assert (notebook_dir / "same.ipynb").read_bytes() == before  # nothing written yet
    assert not (notebook_dir / "same-2.ipynb").exists()
    at.button(key="upload-cancel").click().run()
    assert not at.warning and not (notebook_dir / "same-2.ipynb").exists()

    _upload(at, "same.ipynb", data)
    at.button(key="upload-keep-both").click().run()
    assert (notebook_dir / "same.ipynb").read_bytes() == before
    assert (notebook_dir / "same-2.ipynb").read_bytes() == data
    assert at.subheader[0].value == "same-2"

    _upload(at, "same.ipynb", data)
    at.button(key="upload-replace").click().run()
    assert not at.exception
    assert read(notebook_dir, "same.ipynb").cells[0].source == "print('uploaded')"
    assert at.subheader[0].value == "same"
    assert sorted(p.name for p in notebook_dir.glob("same*")) == ["same-2.ipynb", "same.ipynb"]


def test_broker_rename_mid_run_keeps_kernel_run_and_records(tmp_path: Path) -> None:
    """The broker side of a rename, on a real kernel: a run in progress finishes under it."""
    from neuralis.execution import Broker

    broker = Broker()
    try:
        broker.attach("old", "local", tmp_path)
        broker.run("old", "a", "x = 41")
        broker.wait("old", "a", 60)
        broker.run("old", "b", "import time; time.sleep(1); print(x + 1)")
        broker.rename("old", "new")
        assert broker.notebooks() == ["new"] and broker.record("old", "b") is None
        rec = broker.wait("new", "b", 60)
        assert (rec.status, rec.notebook, rec.outputs.outputs[0].text) == ("done", "new", "42\n")
        assert broker.records("new")["a"].execution_count == 1
    finally:
        broker.shutdown_all(wait=True)
