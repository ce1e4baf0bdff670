"""User flows in Chromium, each action checked in the saved file afterwards.

Single features pass their own tests; these are the sequences that used to lose work (issue
11): an action then typing, delete then undo, reload while a cell runs, rename while a
variable is set, an upload over an existing name. One server for the module, a fresh
notebook per test.
"""

from __future__ import annotations

import time
import uuid
from collections.abc import Callable
from typing import Any

import pytest

from tests.browser.conftest import Server
from tests.browser.test_notebook_browser import wait_loaded
from tests.ui.conftest import make_notebook, read

pytestmark = pytest.mark.browser


@pytest.fixture(autouse=True)
def _patient(page: Any) -> None:
    """Give each step two minutes: the suite may share a loaded machine with other servers."""
    page.set_default_timeout(120_000)


SETTLE = 1.5
"""Seconds to watch for an action that fires again (it came back within a second)."""


def fresh(server: Server, sources: list[str]) -> tuple[str, list[str]]:
    """Write a notebook with a name of its own; return the name and the cell ids."""
    name = f"flow-{uuid.uuid4().hex[:6]}.ipynb"
    return name, make_notebook(server.notebook_dir, name, sources)


def open_notebook(page: Any, server: Server, name: str) -> None:
    page.goto(f"{server.url}/?file={name}")
    wait_loaded(page)


def cells(server: Server, name: str) -> list[Any]:
    """Return the saved cells."""
    return list(read(server.notebook_dir, name).cells)


def eventually(check: Callable[[], bool], timeout: float = 20.0) -> None:
    """Wait until ``check()`` holds (reading the file as it is saved)."""
    deadline = time.monotonic() + timeout
    while True:
        try:
            if check():
                return
        except (KeyError, IndexError, ValueError):
            pass  # the file is being replaced, or the cell is not there yet
        if time.monotonic() > deadline:
            assert check(), "the saved file never got there"
        time.sleep(0.1)


def action(page: Any, cell_id: str, icon: str) -> None:
    """Click one of a cell's action icons (``arrow_upward``, ``swap_horiz``...)."""
    group = page.locator(f'[class*="st-key-act-{cell_id}-"]')
    group.locator("button", has_text=icon).first.click()  # the first: Streamlit draws two


def type_into(page: Any, cell_id: str, text: str, *, replace: bool = True) -> None:
    """Type into a cell's editor as a person does (its text replaced unless told)."""
    frame = page.frame_locator(f'.st-key-box-{cell_id} iframe[title*="streamlit_ace"]')
    box = frame.locator("textarea.ace_text-input").first
    box.focus()
    box.press("Control+a" if replace else "Control+End")
    box.press_sequentially(text, delay=20)


def editor_text(page: Any, cell_id: str) -> str:
    frame = page.frame_locator(f'.st-key-box-{cell_id} iframe[title*="streamlit_ace"]')
    return str(frame.locator(".ace_content").first.inner_text())


def drawn_ids(page: Any) -> list[str]:
    """Return the ids of the cells on the page, in order."""
    keys: list[str] = page.eval_on_selector_all(
        '[class*="st-key-box-"]',
        "els => els.map(e => [...e.classList].find(c => c.startsWith('st-key-box-')))",
    )
    return [k.removeprefix("st-key-box-") for k in keys]


# --- item 1: an action happens once per click, and typed text is never reverted ---------


def test_change_type_then_type(page: Any, server: Server) -> None:
    name, (cid,) = fresh(server, [""])
    open_notebook(page, server, name)
    action(page, cid, "swap_horiz")
    eventually(lambda: cells(server, name)[0].cell_type == "markdown")
    page.locator(f".st-key-box-{cid} iframe[title*='streamlit_ace']").wait_for()
    type_into(page, cid, "# My heading")
    eventually(lambda: cells(server, name)[0].source == "# My heading")
    time.sleep(SETTLE)
    (cell,) = cells(server, name)
    assert (cell.cell_type, cell.source) == ("markdown", "# My heading")
    assert editor_text(page, cid) == "# My heading"
    page.locator(f".st-key-edit-{cid} button").first.click()  # Done: the heading is drawn
    page.get_by_role("heading", name="My heading").wait_for()
    assert cells(server, name)[0].cell_type == "markdown"


def test_move_up_then_type(page: Any, server: Server) -> None:
    name, ids = fresh(server, ["a = 1", "b = 2", "c = 3"])
    open_notebook(page, server, name)
    action(page, ids[2], "arrow_upward")
    moved = [ids[0], ids[2], ids[1]]
    eventually(lambda: [c.id for c in cells(server, name)] == moved)
    page.wait_for_function(
        f"""() => {{
          const boxes = [...document.querySelectorAll('[class*="st-key-box-"]')];
          return boxes.length === 3 && boxes[1].className.includes('st-key-box-{ids[2]}');
        }}"""
    )
    type_into(page, ids[2], "\nd = 4", replace=False)
    eventually(lambda: cells(server, name)[1].source.endswith("d = 4"))
    time.sleep(SETTLE)
    saved = cells(server, name)
    assert [c.id for c in saved] == moved
    assert saved[1].source == "c = 3\nd = 4"
    assert drawn_ids(page) == moved


def test_add_below_then_type_above(page: Any, server: Server) -> None:
    name, ids = fresh(server, ["x = 1", "y = 2"])
    open_notebook(page, server, name)
    action(page, ids[0], "vertical_align_bottom")
    eventually(lambda: len(cells(server, name)) == 3)
    page.wait_for_function("document.querySelectorAll('[class*=\"st-key-box-\"]').length === 3")
    type_into(page, ids[0], "x = 10")
    eventually(lambda: cells(server, name)[0].source == "x = 10")
    time.sleep(SETTLE)
    saved = cells(server, name)
    assert len(saved) == 3 and saved[0].id == ids[0] and saved[2].id == ids[1]
    assert saved[1].source == ""
    assert len(drawn_ids(page)) == 3


def test_type_then_change_type_twice_keeps_the_text(page: Any, server: Server) -> None:
    name, (cid,) = fresh(server, ["first"])
    open_notebook(page, server, name)
    type_into(page, cid, "x = 'typed'")
    eventually(lambda: cells(server, name)[0].source == "x = 'typed'")
    action(page, cid, "swap_horiz")  # to markdown: its editor starts from the typed text
    eventually(lambda: cells(server, name)[0].cell_type == "markdown")
    page.locator(f".st-key-box-{cid} iframe[title*='streamlit_ace']").wait_for()
    type_into(page, cid, " and more", replace=False)
    eventually(lambda: cells(server, name)[0].source == "x = 'typed' and more")
    action(page, cid, "swap_horiz")  # back to code: the code editor must not bring back "first"
    eventually(lambda: cells(server, name)[0].cell_type == "code")
    time.sleep(SETTLE)
    (cell,) = cells(server, name)
    assert (cell.cell_type, cell.source) == ("code", "x = 'typed' and more")
    assert editor_text(page, cid) == "x = 'typed' and more"


# --- item 3: delete can be undone; rename keeps the kernel; upload asks ----------------


def test_delete_then_undo(page: Any, server: Server) -> None:
    name, ids = fresh(server, ["a = 1", "b = 2", "c = 3"])
    open_notebook(page, server, name)
    type_into(page, ids[1], "b = 20")
    eventually(lambda: cells(server, name)[1].source == "b = 20")
    action(page, ids[1], "delete")
    eventually(lambda: [c.id for c in cells(server, name)] == [ids[0], ids[2]])
    page.locator(f".st-key-undo-{ids[2]}").get_by_role("button", name="Undo delete").click()
    eventually(lambda: [c.id for c in cells(server, name)] == ids)
    page.wait_for_function("document.querySelectorAll('[class*=\"st-key-box-\"]').length === 3")
    assert drawn_ids(page) == ids
    assert editor_text(page, ids[1]) == "b = 20"
    type_into(page, ids[1], "\nb += 1", replace=False)
    eventually(lambda: cells(server, name)[1].source == "b = 20\nb += 1")
    time.sleep(SETTLE)
    saved = cells(server, name)
    assert [c.id for c in saved] == ids and saved[1].source == "b = 20\nb += 1"
    assert page.locator('[class*="st-key-undo-"]').count() == 0


def run_cell(page: Any, cell_id: str) -> None:
    page.locator(f".st-key-run-{cell_id} button").first.click()


def test_reload_while_a_cell_runs(page: Any, server: Server) -> None:
    slow = "import time\nfor i in range(4):\n    print('tick', i, flush=True)\n    time.sleep(1)"
    name, (cid,) = fresh(server, [slow])
    open_notebook(page, server, name)
    run_cell(page, cid)
    page.get_by_text("tick 0").first.wait_for()
    page.reload()
    wait_loaded(page)
    page.get_by_text("tick 3").first.wait_for()
    eventually(lambda: len(cells(server, name)[0].outputs) > 0, timeout=30)
    (cell,) = cells(server, name)
    assert "".join(o.text for o in cell.outputs) == "".join(f"tick {i}\n" for i in range(4))
    assert cell.execution_count is not None


def test_rename_while_a_variable_is_set_then_use_it(page: Any, server: Server) -> None:
    name, ids = fresh(server, ["answer = 41", "print('answer is', answer + 1)"])
    new = "renamed-" + name
    open_notebook(page, server, name)
    run_cell(page, ids[0])
    eventually(lambda: cells(server, name)[0].execution_count == 1)
    page.get_by_role("button", name="Rename").first.click()
    field = page.get_by_label("New name")
    field.fill(new)
    page.get_by_role("button", name="Rename", exact=True).last.click()
    page.wait_for_url(f"**file={new}*")
    wait_loaded(page)
    assert not (server.notebook_dir / name).exists()
    run_cell(page, ids[1])
    page.get_by_text("answer is 42").first.wait_for()
    eventually(lambda: cells(server, new)[1].execution_count == 2)
    assert cells(server, new)[1].outputs[0].text == "answer is 42\n"
    assert not (server.notebook_dir / name).exists()


def upload(page: Any, path: Any) -> None:
    """Choose a file in the uploader, wait until it is listed, then press Upload."""
    uploader = page.get_by_test_id("stFileUploader")
    uploader.wait_for()
    uploader.locator('input[type="file"]').set_input_files(str(path))
    uploader.get_by_text(path.name).wait_for()
    page.get_by_test_id("stBaseButton-secondaryFormSubmit").filter(has_text="Upload").click()


def test_upload_an_existing_name_keep_both_or_replace(
    page: Any, server: Server, tmp_path: Any
) -> None:
    name, _ = fresh(server, ["print('already here')"])
    before = (server.notebook_dir / name).read_bytes()
    make_notebook(tmp_path / "one", name, ["print('from the upload')"])
    # Chromium fires no change event for the very file chosen before: the second upload
    # comes from another folder, as when a person picks a newer copy.
    make_notebook(tmp_path / "two", name, ["print('the newer copy')"])
    stem = name.removesuffix(".ipynb")
    page.goto(server.url)
    page.get_by_test_id("stFileUploader").wait_for()
    upload(page, tmp_path / "one" / name)
    page.get_by_text(f"{name} already exists").wait_for()
    assert (server.notebook_dir / name).read_bytes() == before
    page.get_by_role("button", name="Keep both").click()
    page.wait_for_url(f"**file={stem}-2.ipynb*")
    wait_loaded(page)
    assert (server.notebook_dir / name).read_bytes() == before
    assert cells(server, f"{stem}-2.ipynb")[0].source == "print('from the upload')"
    if not page.get_by_test_id("stFileUploader").is_visible():  # the file browser is shut
        page.locator('[data-testid="stExpander"] summary').first.click()
    upload(page, tmp_path / "two" / name)
    page.get_by_text(f"{name} already exists").wait_for()
    page.get_by_role("button", name="Replace").click()
    page.wait_for_url(f"**file={name}*")
    wait_loaded(page)
    assert cells(server, name)[0].source == "print('the newer copy')"
    assert cells(server, f"{stem}-2.ipynb")[0].source == "print('from the upload')"
    assert not (server.notebook_dir / f"{stem}-3.ipynb").exists()


# --- item 12: the editor draws every character at 1x pixel density ---------------------


def line_image(page: Any, cell_id: str) -> tuple[Any, float]:
    """Return the first characters of a cell's editor as drawn (grey PIL image), and the
    width of one character in pixels."""
    import io

    from PIL import Image

    frame = page.frame_locator(f'.st-key-box-{cell_id} iframe[title*="streamlit_ace"]')
    frame.locator("#neuralis-ace").wait_for(state="attached")  # the page's editor style
    line = frame.locator(".ace_text-layer .ace_line").first
    line.wait_for()
    page.wait_for_timeout(500)  # Ace relays out on its next font check
    char = float(frame.locator(".ace_editor").evaluate("e => e.env.editor.renderer.characterWidth"))
    box = line.bounding_box()
    clip = {"x": box["x"], "y": box["y"], "width": 3 * char + 2, "height": box["height"]}
    shot = page.screenshot(clip=clip, animations="disabled")
    return Image.open(io.BytesIO(shot)).convert("L"), char


def ink_under_second_character(image: Any, char: float) -> int:
    """Count the inked pixels in the lower half of the second character's cell."""
    height = image.size[1]
    return sum(
        1
        for y in range(height // 2, height)
        for x in range(int(char) + 1, int(2 * char))
        if image.getpixel((x, y)) < 200
    )


def test_underscores_are_drawn_at_1x(browser: Any, server: Server, tmp_path: Any) -> None:
    name, (under, space) = fresh(server, ["a_b", "a b"])
    context = browser.new_context(viewport={"width": 1000, "height": 800}, device_scale_factor=1)
    try:
        page = context.new_page()
        page.set_default_timeout(120_000)
        open_notebook(page, server, name)
        (with_, char), (without, _) = line_image(page, under), line_image(page, space)
        with_.save(tmp_path / "a_b.png")
        without.save(tmp_path / "a b.png")
        assert ink_under_second_character(without, char) == 0  # the crop holds no other ink
        assert ink_under_second_character(with_, char) >= char / 2, (
            f"the underscore of a_b is not drawn (crops in {tmp_path})"
        )
    finally:
        context.close()
