"""The Notebook page under AppTest, on real local kernels."""

from __future__ import annotations

import importlib.util
import os
from collections.abc import Callable
from pathlib import Path

import pytest
from streamlit.testing.v1 import AppTest

from neuralis.config import Settings
from neuralis.notebook import read_notebook, write_notebook
from neuralis.notebook.workspace import set_kernel
from neuralis.ui.cells import ACCENT
from tests.ui.conftest import act, captions, make_notebook, read, texts, wait_done


def test_first_start_creates_the_welcome_notebook(
    app: Callable[..., AppTest], notebook_dir: Path
) -> None:
    at = app()
    assert not at.exception
    assert (notebook_dir / "welcome.ipynb").is_file()
    assert "welcome.ipynb" in [b.label for b in at.button]


def test_open_by_url_and_from_the_browser(app: Callable[..., AppTest], notebook_dir: Path) -> None:
    make_notebook(notebook_dir, "sales.ipynb", ["print('sales')"])
    make_notebook(notebook_dir, "costs.ipynb", ["print('costs')"])
    at = app(file="sales.ipynb")
    assert not at.exception
    assert at.subheader[0].value == "sales"
    at.button(key="open-costs.ipynb").click().run()
    assert at.subheader[0].value == "costs"
    assert at.query_params["file"] == "costs.ipynb"


def test_add_move_change_and_delete_cells(app: Callable[..., AppTest], notebook_dir: Path) -> None:
    first, second = make_notebook(notebook_dir, "cells.ipynb", ["a = 1", "b = 2"])
    at = app(file="cells.ipynb")
    act(at, first, "below")
    ids = [c["id"] for c in read(notebook_dir, "cells.ipynb")["cells"]]
    assert len(ids) == 3 and ids[0] == first and ids[2] == second
    act(at, first, "down")
    cells = read(notebook_dir, "cells.ipynb")["cells"]
    assert [c["id"] for c in cells][1] == first
    act(at, second, "type")
    assert read(notebook_dir, "cells.ipynb")["cells"][2]["cell_type"] == "markdown"
    act(at, first, "delete")
    assert first not in [c["id"] for c in read(notebook_dir, "cells.ipynb")["cells"]]
    at.button(key="add-cell-end").click().run()
    assert len(read(notebook_dir, "cells.ipynb")["cells"]) == 3
    assert not at.exception


def test_run_a_cell_with_the_editor_text(app: Callable[..., AppTest], notebook_dir: Path) -> None:
    (cid,) = make_notebook(notebook_dir, "run.ipynb", ["print('old text')"])
    at = app(file="run.ipynb")
    at.session_state[f"ace-{cid}-0"] = "print('answer', 6 * 7)"
    at.run()
    at.button(key=f"run-{cid}").click().run()
    wait_done(at)
    assert not at.exception
    assert "answer 42" in texts(at)
    assert any("In [1]" in c and "done" in c for c in captions(at))
    cell = read(notebook_dir, "run.ipynb")["cells"][0]
    assert cell["source"] == "print('answer', 6 * 7)"
    assert cell["execution_count"] == 1
    assert cell["outputs"][0]["text"] == "answer 42\n"


MIME_CELL = r"""
import base64, io, json
from IPython.display import display
from PIL import Image

def enc(fmt):
    buf = io.BytesIO()
    Image.new("RGB", (4, 4), "red").save(buf, fmt)
    return base64.b64encode(buf.getvalue()).decode()

vega = {"data": {"values": [{"x": 1, "y": 2}]}, "mark": "point",
        "encoding": {"x": {"field": "x", "type": "quantitative"}}}
plotly = {"data": [{"type": "bar", "x": [1, 2], "y": [3, 4]}], "layout": {}}
bundles = [
    {"application/vnd.plotly.v1+json": plotly, "text/plain": "plotly"},
    {"application/vnd.vegalite.v5+json": vega, "text/plain": "vega"},
    {"image/png": enc("PNG"), "text/plain": "png"},
    {"image/jpeg": enc("JPEG"), "text/plain": "jpeg"},
    {"image/svg+xml": '<svg xmlns="http://www.w3.org/2000/svg" width="4" height="4"/>'},
    {"text/html": "<b>bold html</b>", "text/plain": "html"},
    {"text/html": "<div id=x></div><script>x.innerText='js'</script>"},
    {"text/markdown": "**md text**", "text/plain": "md"},
    {"text/latex": "$$e^{i\\pi} + 1 = 0$$", "text/plain": "latex"},
    {"application/json": {"key": "json value"}, "text/plain": "json"},
    {"text/plain": "only plain"},
]
for b in bundles:
    display(b, raw=True)
import sys
print("to stdout")
print("to stderr", file=sys.stderr)
"""


def test_each_mime_type_is_rendered(app: Callable[..., AppTest], notebook_dir: Path) -> None:
    (cid,) = make_notebook(notebook_dir, "mime.ipynb", [MIME_CELL])
    at = app(file="mime.ipynb")
    at.button(key=f"run-{cid}").click().run()
    wait_done(at)
    assert not at.exception
    if importlib.util.find_spec("plotly") is not None:
        assert len(at.get("plotly_chart")) == 1
    else:  # st.plotly_chart needs plotly in the app's environment: the bundle falls back
        assert "plotly" in [c.value for c in at.code]
    assert len(at.get("arrow_vega_lite_chart")) + len(at.get("vega_lite_chart")) == 1
    assert len(at.image) == 3  # png, jpeg, svg
    htmls = [h.value for h in at.get("html")]
    assert any("<b>bold html</b>" in h for h in htmls)
    assert any("stderr" in h and "to stderr" in h for h in htmls)
    assert len(at.get("iframe")) == 1  # the HTML that needs its script
    assert "**md text**" in [m.value for m in at.markdown]
    assert "e^{i\\pi} + 1 = 0" in at.latex[0].value
    assert len(at.json) == 1
    codes = [c.value for c in at.code]
    assert "only plain" in codes and "to stdout" in codes


def test_traceback_keeps_its_colours(app: Callable[..., AppTest], notebook_dir: Path) -> None:
    (cid,) = make_notebook(notebook_dir, "err.ipynb", ["1 / 0"])
    at = app(file="err.ipynb")
    at.button(key=f"run-{cid}").click().run()
    wait_done(at)
    html = next(h.value for h in at.get("html") if "ZeroDivisionError" in h.value)
    assert "<span style=" in html and "\x1b[" not in html
    assert any("error" in c for c in captions(at))


def test_long_output_is_clipped_on_screen_and_whole_on_disk(
    app: Callable[..., AppTest], notebook_dir: Path
) -> None:
    (cid,) = make_notebook(notebook_dir, "long.ipynb", ["for i in range(5000): print(i)"])
    at = app(file="long.ipynb")
    at.button(key=f"run-{cid}").click().run()
    wait_done(at)
    assert any("lines hidden" in c for c in captions(at))
    assert read(notebook_dir, "long.ipynb")["cells"][0]["outputs"][0]["text"].count("\n") == 5000


def test_input_box_answers_the_kernel(app: Callable[..., AppTest], notebook_dir: Path) -> None:
    import time

    from neuralis.ui import state

    (cid,) = make_notebook(notebook_dir, "ask.ipynb", ["name = input('Name?')\nprint('hi', name)"])
    at = app(file="ask.ipynb")
    at.button(key=f"run-{cid}").click().run()
    doc = at.session_state["neuralis_doc"]
    broker = state.sessions().broker
    for _ in range(300):
        rec = broker.record(doc.key, cid)
        if rec is not None and rec.input_prompt is not None:
            break
        time.sleep(0.1)
    at.run()
    assert at.text_input(key=f"stdin-text-{cid}").label == "Name?"
    at.text_input(key=f"stdin-text-{cid}").input("Ada")
    at.button(key=f"FormSubmitter:stdin-{cid}-Send").click().run()
    wait_done(at)
    assert "hi Ada" in "\n".join(texts(at))


def test_bad_upload_is_refused_and_changes_nothing(
    app: Callable[..., AppTest], notebook_dir: Path
) -> None:
    at = app()
    before = sorted(p.name for p in notebook_dir.iterdir())
    at.file_uploader[0].set_value(("broken.ipynb", b"{not json", "application/json"))
    at.button(key="FormSubmitter:upload-notebook-Upload").click().run()
    assert any("Upload refused" in e.value and "not JSON" in e.value for e in at.error)
    assert sorted(p.name for p in notebook_dir.iterdir()) == before


def test_good_upload_is_stored_and_opened(
    app: Callable[..., AppTest], notebook_dir: Path, tmp_path: Path
) -> None:
    make_notebook(tmp_path / "src", "up.ipynb", ["print(1)"])
    data = (tmp_path / "src" / "up.ipynb").read_bytes()
    at = app()
    at.file_uploader[0].set_value(("up.ipynb", data, "application/json"))
    at.button(key="FormSubmitter:upload-notebook-Upload").click().run()
    assert (notebook_dir / "up.ipynb").read_bytes() == data
    assert at.subheader[0].value == "up"


@pytest.mark.parametrize("name", ["../outside.ipynb", "/etc/passwd", "sub/../../x.ipynb", ".."])
def test_names_that_leave_the_folder_are_refused(
    app: Callable[..., AppTest], notebook_dir: Path, name: str
) -> None:
    at = app(file=name)
    assert not at.exception
    assert any("not a notebook name" in e.value or "leave" in e.value for e in at.error)
    assert "neuralis_doc" not in at.session_state
    assert not (notebook_dir.parent / "outside.ipynb").exists()


def test_rename_refuses_traversal(app: Callable[..., AppTest], notebook_dir: Path) -> None:
    make_notebook(notebook_dir, "keep.ipynb", ["1"])
    at = app(file="keep.ipynb")
    field = next(t for t in at.text_input if t.label == "New name")
    field.input("../escaped.ipynb")
    at.button(key="FormSubmitter:rename-notebook-Rename").click().run()
    assert any("not a notebook name" in e.value for e in at.error)
    assert (notebook_dir / "keep.ipynb").exists()
    assert not (notebook_dir.parent / "escaped.ipynb").exists()


def test_kernel_choice_is_kept_in_the_file(app: Callable[..., AppTest], notebook_dir: Path) -> None:
    make_notebook(notebook_dir, "k.ipynb", ["1"])
    at = app(file="k.ipynb")
    at.selectbox(key="kernel-pick-k.ipynb").select("Gateway URL…").run()
    at.text_input(key="gateway-url").input("http://127.0.0.1:9")
    at.button(key="FormSubmitter:gateway-form-Use this gateway").click().run()
    assert not at.exception
    assert read(notebook_dir, "k.ipynb")["metadata"]["neuralis"]["kernel"] == (
        "gateway:http://127.0.0.1:9"
    )
    again = app(file="k.ipynb")
    assert again.selectbox(key="kernel-pick-k.ipynb").value == "gateway:http://127.0.0.1:9"


def test_a_file_changed_on_disk_is_not_overwritten(
    app: Callable[..., AppTest], notebook_dir: Path
) -> None:
    (cid,) = make_notebook(notebook_dir, "c.ipynb", ["x = 1"])
    at = app(file="c.ipynb")
    path = notebook_dir / "c.ipynb"
    path.write_text(path.read_text().replace("x = 1", "x = 'theirs'"))
    at.session_state[f"ace-{cid}-0"] = "x = 'mine'"
    at.run()
    assert "theirs" in path.read_text()
    assert any("changed on disk" in w.value for w in at.warning)
    at.button(key="conflict-reload").click().run()
    assert not at.warning
    assert at.session_state["neuralis_doc"].nb.cells[0].source == "x = 'theirs'"


def test_clear_outputs(app: Callable[..., AppTest], notebook_dir: Path) -> None:
    make_notebook(notebook_dir, "clr.ipynb", ["print('x')"])
    at = app(file="clr.ipynb")
    at.button(key="run-all").click().run()
    wait_done(at)
    assert read(notebook_dir, "clr.ipynb")["cells"][0]["outputs"]
    at.button(key="clear-outputs").click().run()
    assert read(notebook_dir, "clr.ipynb")["cells"][0]["outputs"] == []
    assert "x" not in [c.value for c in at.code]


def test_large_notebooks_open_editors_on_demand(
    app: Callable[..., AppTest], notebook_dir: Path
) -> None:
    ids = make_notebook(notebook_dir, "big.ipynb", [f"x{i} = {i}" for i in range(45)])
    at = app(file="big.ipynb")
    assert not at.exception
    assert "x3 = 3" in [c.value for c in at.code]  # shown as code, no editor iframe
    editors = [e for e in at.get("component_instance")]
    assert editors == []
    act(at, ids[3], "edit")
    assert len(at.get("component_instance")) == 1
    at.session_state[f"ace-{ids[3]}-0"] = "print('edited big')"
    at.run()
    at.button(key=f"run-{ids[3]}").click().run()
    wait_done(at)
    assert "edited big" in [c.value for c in at.code]


def boxes(at: AppTest) -> list[str]:
    """Return the ids of the cells drawn, in order (each sits in a keyed ``box-`` container)."""
    seen = [getattr(node, "key", None) or "" for node in at.get("flex_container")]
    return [key.removeprefix("box-") for key in seen if key.startswith("box-")]


def test_large_notebooks_are_drawn_a_window_at_a_time(
    app: Callable[..., AppTest], notebook_dir: Path
) -> None:
    w = Settings().cell_window
    step = w // 2
    total = 2 * w + 5
    ids = make_notebook(notebook_dir, "paged.ipynb", [f"print('c{i}')" for i in range(total)])
    at = app(file="paged.ipynb")
    assert not at.exception
    assert boxes(at) == ids[:w]
    assert not [b for b in at.button if b.key == "window-earlier"]  # nothing above
    at.button(key="window-later").click().run()  # what scrolling near the end presses
    assert boxes(at) == ids[step : step + w]
    while [b for b in at.button if b.key == "window-later"]:
        at.button(key="window-later").click().run()
    assert boxes(at) == ids[-w:]  # the end: the window stops there
    assert not [b for b in at.button if b.key == "window-later"]
    # Run all covers the whole notebook, drawn or not; every output reaches the file.
    at.button(key="run-all").click().run()
    wait_done(at)
    outputs = [c.outputs[0].text for c in read(notebook_dir, "paged.ipynb").cells]
    assert outputs == [f"c{i}\n" for i in range(total)]
    shown = [c.value for c in at.code]
    assert f"c{total - 1}" in shown and "c3" not in shown
    at.button(key="window-earlier").click().run()
    assert boxes(at) == ids[-w - step : -step]


def test_a_new_cell_past_the_window_brings_the_window_along(
    app: Callable[..., AppTest], notebook_dir: Path
) -> None:
    w = Settings().cell_window
    ids = make_notebook(notebook_dir, "grow.ipynb", [f"x{i} = {i}" for i in range(w)])
    at = app(file="grow.ipynb")
    assert boxes(at) == ids  # one window: no edges
    assert not [b for b in at.button if (b.key or "").startswith("window-")]
    act(at, ids[-1], "below")
    cells = read(notebook_dir, "grow.ipynb").cells
    assert len(cells) == w + 1
    assert boxes(at)[-1] == cells[w].id  # the new cell is drawn, at the window's end
    at.button(key="window-earlier").click().run()
    assert boxes(at) == ids


def test_the_contents_jump_to_a_heading_past_the_window(
    app: Callable[..., AppTest], notebook_dir: Path
) -> None:
    w = Settings().cell_window
    make_notebook(notebook_dir, "toc.ipynb", [f"x{i} = {i}" for i in range(2 * w)])
    nb = read_notebook(notebook_dir / "toc.ipynb")
    nb.cells[0].cell_type, nb.cells[0].source = "markdown", "# Start"
    nb.cells[-1].cell_type, nb.cells[-1].source = "markdown", "## The end\n```\n# not one\n```"
    for cell in (nb.cells[0], nb.cells[-1]):
        cell.pop("outputs", None), cell.pop("execution_count", None)
    write_notebook(nb, notebook_dir / "toc.ipynb")
    at = app(file="toc.ipynb")
    toc = [b for b in at.sidebar.button if (b.key or "").startswith("toc-")]
    assert [b.label for b in toc] == ["Start", "The end"]
    last = str(nb.cells[-1]["id"])
    assert last not in boxes(at)
    toc[1].click().run()
    assert last in boxes(at)
    assert at.session_state["neuralis_selected"] == last


def test_the_window_can_be_turned_off(
    app: Callable[..., AppTest], notebook_dir: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.setenv("NEURALIS_CELL_WINDOW", "0")
    ids = make_notebook(notebook_dir, "all.ipynb", [f"x{i} = {i}" for i in range(30)])
    at = app(file="all.ipynb")
    assert boxes(at) == ids


def outlined(at: AppTest) -> list[str]:
    """Return the ids of the cells drawn with the selection outline."""
    styles = [h.proto.body for h in at.get("html") if ACCENT in h.proto.body]
    return [s.split("st-key-box-")[1].split()[0] for s in styles]


def test_run_above_and_below_count_from_the_outlined_cell(
    app: Callable[..., AppTest], notebook_dir: Path
) -> None:
    ids = make_notebook(notebook_dir, "sel.ipynb", [f"print('s{i}')" for i in range(4)])
    at = app(file="sel.ipynb")
    assert outlined(at) == []
    at.button(key=f"run-{ids[2]}").click().run()
    wait_done(at)
    assert outlined(at) == [ids[2]]
    at.button(key="tb-run-above").click().run()
    wait_done(at)
    ran = [bool(c.outputs) for c in read(notebook_dir, "sel.ipynb").cells]
    assert ran == [True, True, True, False]  # cells 0 and 1 above, and 2 itself before
    at.session_state[f"ace-{ids[3]}-0"] = "print('edited s3')"  # editing selects a cell
    at.run()
    assert outlined(at) == [ids[3]]
    at.button(key="tb-run-below").click().run()
    wait_done(at)
    assert read(notebook_dir, "sel.ipynb").cells[3].outputs[0].text == "edited s3\n"


def test_restart_and_restart_run_all(app: Callable[..., AppTest], notebook_dir: Path) -> None:
    ids = make_notebook(notebook_dir, "rs.ipynb", ["x = 1", "print('x' in dir())"])
    at = app(file="rs.ipynb")
    at.button(key=f"run-{ids[0]}").click().run()
    wait_done(at)
    at.button(key="restart").click().run()  # the kernel holds x: the page asks first
    at.button(key="restart-cancel").click().run()
    assert not at.exception and not at.error
    at.button(key=f"run-{ids[1]}").click().run()
    wait_done(at)
    assert read(notebook_dir, "rs.ipynb").cells[1].outputs[0].text == "True\n"  # kept
    at.button(key="restart").click().run()
    at.button(key="restart-confirm").click().run()  # returns at once; it restarts meanwhile
    assert not at.exception and not at.error
    wait_done(at)
    at.button(key=f"run-{ids[1]}").click().run()
    wait_done(at)
    cells = read(notebook_dir, "rs.ipynb").cells
    assert cells[1].outputs[0].text == "False\n"  # x went with the old kernel
    at.button(key="restart-run-all").click().run()
    at.button(key="restart-confirm").click().run()
    wait_done(at)
    cells = read(notebook_dir, "rs.ipynb").cells
    assert [c.execution_count for c in cells] == [1, 2]  # both, in order, on a fresh kernel
    assert cells[1].outputs[0].text == "True\n"


def test_restart_of_a_kernel_that_ran_nothing_does_not_ask(
    app: Callable[..., AppTest], notebook_dir: Path
) -> None:
    make_notebook(notebook_dir, "fresh.ipynb", ["print(1)"])
    at = app(file="fresh.ipynb")
    at.button(key="restart").click().run()
    assert not at.exception
    assert not [b for b in at.button if b.key == "restart-confirm"]  # nothing to lose: no question


@pytest.mark.skipif(os.geteuid() != 0, reason="needs root: the folder is root-owned")
def test_kernel_bar_warns_for_a_docker_notebook(
    app: Callable[..., AppTest], notebook_dir: Path
) -> None:
    make_notebook(notebook_dir, "d.ipynb", ["print(1)"])
    nb = read_notebook(notebook_dir / "d.ipynb")
    set_kernel(nb, "docker:some-kernel")
    write_notebook(nb, notebook_dir / "d.ipynb")
    notebook_dir.chmod(0o755)  # root-owned, as the app (root here) created it
    at = app(file="d.ipynb")
    assert any("read-only to that user" in w.value for w in at.warning)
    notebook_dir.chmod(0o757)
    at.run()
    assert not any("read-only to that user" in w.value for w in at.warning)
    make_notebook(notebook_dir, "l.ipynb", ["print(1)"])  # a local kernel: nothing to say
    notebook_dir.chmod(0o755)
    assert not any("read-only" in w.value for w in app(file="l.ipynb").warning)
