"""JupyterLab's keyboard in Chromium: each shortcut as a person presses it, checked in the
saved file (and on the page)."""

from __future__ import annotations

import time
from typing import Any

import pytest

from tests.browser.conftest import Server
from tests.browser.test_flows import cells, drawn_ids, eventually, fresh, open_notebook

pytestmark = pytest.mark.browser


@pytest.fixture(autouse=True)
def _patient(page: Any) -> None:
    page.set_default_timeout(60_000)


def editor(page: Any, cell_id: str) -> Any:
    frame = page.frame_locator(f'.st-key-box-{cell_id} iframe[title*="streamlit_ace"]')
    return frame.locator("textarea.ace_text-input").first


def type_fast(page: Any, cell_id: str, text: str) -> Any:
    """Replace the editor's text at once (no pause for its debounce); return the editor."""
    box = editor(page, cell_id)
    box.focus()
    box.press("Control+a")
    box.press_sequentially(text)
    return box


def command_mode(page: Any, cell_id: str) -> None:
    """Esc out of the cell's editor: the page has the keys."""
    box = editor(page, cell_id)
    box.focus()
    box.press("Escape")
    page.wait_for_function("document.body.dataset.neuralisMode === 'command'")


def selected_outline(page: Any) -> str:
    """Return the id of the cell the key listener outlines."""
    return str(page.evaluate("document.body.dataset.neuralisSelected || ''"))


def test_ctrl_enter_runs_what_was_typed_a_moment_ago(page: Any, server: Server) -> None:
    name, (cid,) = fresh(server, ["print('old')"])
    open_notebook(page, server, name)
    type_fast(page, cid, "print('new', 6 * 7)").press("Control+Enter")
    page.get_by_text("new 42").first.wait_for()
    assert page.get_by_text("old", exact=True).count() == 0
    eventually(lambda: cells(server, name)[0].outputs[0].text == "new 42\n")
    time.sleep(1.0)  # the editor's own late update must not bring older text back
    assert cells(server, name)[0].source == "print('new', 6 * 7)"
    assert editor(page, cid).evaluate("() => document.activeElement !== null")


def test_shift_enter_runs_and_moves_on_adding_a_cell_after_the_last(
    page: Any, server: Server
) -> None:
    name, ids = fresh(server, ["x = 20", "print(x + 1)"])
    open_notebook(page, server, name)
    editor(page, ids[0]).focus()
    editor(page, ids[0]).press("Shift+Enter")
    page.wait_for_function(f"document.body.dataset.neuralisSelected === '{ids[1]}'")
    page.keyboard.press("Shift+Enter")  # command mode on the second cell: runs it
    page.get_by_text("21", exact=True).first.wait_for()
    eventually(lambda: len(cells(server, name)) == 3)  # a new cell after the last
    new = cells(server, name)[2].id
    page.wait_for_function(f"document.querySelector('.st-key-box-{new}') !== null")
    eventually(lambda: selected_outline(page) == new)
    saved = cells(server, name)
    assert saved[0].execution_count is not None and saved[1].outputs[0].text == "21\n"


def test_alt_enter_runs_and_inserts_below(page: Any, server: Server) -> None:
    name, ids = fresh(server, ["print('alt')", "y = 1"])
    open_notebook(page, server, name)
    type_fast(page, ids[0], "print('alt', 2)").press("Alt+Enter")
    page.get_by_text("alt 2").first.wait_for()
    eventually(lambda: len(cells(server, name)) == 3)
    saved = cells(server, name)
    assert saved[0].source == "print('alt', 2)"
    assert [saved[0].id, saved[2].id] == ids and saved[1].source == ""


def test_command_mode_add_above_below_and_move(page: Any, server: Server) -> None:
    name, ids = fresh(server, ["a = 1", "b = 2"])
    open_notebook(page, server, name)
    command_mode(page, ids[0])
    assert selected_outline(page) == ids[0]
    page.keyboard.press("b")
    eventually(lambda: len(cells(server, name)) == 3)
    below = cells(server, name)[1].id
    eventually(lambda: selected_outline(page) == below)
    page.keyboard.press("a")
    eventually(lambda: len(cells(server, name)) == 4)
    above = cells(server, name)[1].id
    assert [c.id for c in cells(server, name)] == [ids[0], above, below, ids[1]]
    eventually(lambda: selected_outline(page) == above)
    page.keyboard.press("ArrowDown")
    eventually(lambda: selected_outline(page) == below)
    page.keyboard.press("j")
    eventually(lambda: selected_outline(page) == ids[1])
    page.keyboard.press("k")
    page.keyboard.press("ArrowUp")
    eventually(lambda: selected_outline(page) == above)


def test_d_d_deletes_and_z_undoes(page: Any, server: Server) -> None:
    name, ids = fresh(server, ["keep = 1", "drop = 2", "last = 3"])
    open_notebook(page, server, name)
    command_mode(page, ids[1])
    page.keyboard.press("d")
    time.sleep(0.3)
    assert len(cells(server, name)) == 3  # one D does nothing
    page.keyboard.press("d")
    eventually(lambda: [c.id for c in cells(server, name)] == [ids[0], ids[2]])
    page.wait_for_function(f"document.querySelector('.st-key-box-{ids[1]}') === null")
    page.keyboard.press("z")
    eventually(lambda: [c.id for c in cells(server, name)] == ids)
    page.wait_for_function(f"document.querySelector('.st-key-box-{ids[1]}') !== null")
    assert cells(server, name)[1].source == "drop = 2"


def test_m_and_y_switch_type(page: Any, server: Server) -> None:
    name, (cid,) = fresh(server, ["# Title"])
    open_notebook(page, server, name)
    command_mode(page, cid)
    page.keyboard.press("m")
    eventually(lambda: cells(server, name)[0].cell_type == "markdown")
    page.wait_for_function("document.body.innerText.includes('Markdown')")
    command_mode(page, cid)  # the Markdown cell opened its editor
    page.keyboard.press("y")
    eventually(lambda: cells(server, name)[0].cell_type == "code")
    assert cells(server, name)[0].source == "# Title"


def test_enter_returns_to_the_editor_and_tab_indents(page: Any, server: Server) -> None:
    name, (cid,) = fresh(server, ["if True:"])
    open_notebook(page, server, name)
    command_mode(page, cid)
    page.keyboard.press("Enter")
    page.wait_for_function("document.body.dataset.neuralisMode === 'edit'")
    box = editor(page, cid)
    box.press("Control+End")
    box.press("Enter")
    box.press("Tab")  # indents: the focus stays in the editor
    box.press_sequentially("z = 5")
    eventually(lambda: cells(server, name)[0].source.endswith("z = 5"))
    source = cells(server, name)[0].source
    assert source.split("\n")[1].strip() == "z = 5" and source.split("\n")[1].startswith(" ")
    box.press("Escape")
    page.keyboard.press("Tab")  # Esc then Tab moves on: out of the cell's editor
    focus = page.evaluate("() => { const a = document.activeElement; return a ? a.tagName : ''; }")
    assert focus != "IFRAME"


def test_ctrl_s_saves_and_h_lists_the_shortcuts(page: Any, server: Server) -> None:
    name, (cid,) = fresh(server, ["s = 0"])
    open_notebook(page, server, name)
    box = type_fast(page, cid, "s = 'saved by key'")
    box.press("Control+s")
    eventually(lambda: cells(server, name)[0].source == "s = 'saved by key'")
    page.get_by_text("Saved").first.wait_for()
    box.press("Escape")
    page.keyboard.press("h")
    dialog = page.get_by_role("dialog", name="Keyboard shortcuts")
    dialog.wait_for()
    assert dialog.get_by_text("Undo the delete").is_visible()
    page.keyboard.press("Escape")
    dialog.wait_for(state="hidden")
    page.get_by_role("button", name="Keyboard shortcuts").click()
    dialog.wait_for()


def test_letters_typed_in_an_editor_stay_there(page: Any, server: Server) -> None:
    name, ids = fresh(server, ["", "two = 2"])
    open_notebook(page, server, name)
    type_fast(page, ids[0], "abdd zmy")
    eventually(lambda: cells(server, name)[0].source == "abdd zmy")
    time.sleep(1.0)
    saved = cells(server, name)
    assert [c.id for c in saved] == ids and saved[0].cell_type == "code"
    assert drawn_ids(page) == ids


def test_i_i_interrupts_and_0_0_asks_then_restarts(page: Any, server: Server) -> None:
    name, ids = fresh(server, ["x = 7\nwhile True:\n    pass", "print('x' in dir())"])
    open_notebook(page, server, name)
    editor(page, ids[0]).focus()
    editor(page, ids[0]).press("Control+Enter")
    page.locator(f".st-key-box-{ids[0]}").get_by_text("running").first.wait_for()
    command_mode(page, ids[0])
    page.keyboard.press("i")
    page.keyboard.press("i")
    eventually(lambda: cells(server, name)[0].outputs[-1].ename == "KeyboardInterrupt")
    page.keyboard.press("0")
    page.keyboard.press("0")
    page.get_by_text("Restart the kernel?").wait_for()  # x is in the kernel: it asks first
    page.get_by_role("button", name="Cancel").click()
    page.get_by_text("Restart the kernel?").wait_for(state="hidden")
    command_mode(page, ids[1])
    page.keyboard.press("Control+Enter")
    eventually(lambda: cells(server, name)[1].outputs[0].text == "True\n")  # kept
    page.keyboard.press("0")
    page.keyboard.press("0")
    page.get_by_role("button", name="Restart", exact=True).last.wait_for()
    page.locator(".st-key-restart-confirm button").click()
    page.get_by_text("Restart the kernel?").wait_for(state="hidden")
    page.keyboard.press("Control+Enter")
    eventually(lambda: cells(server, name)[1].outputs[0].text == "False\n")  # x went with it


def test_shift_enter_pressed_quickly_runs_each_cell_once(page: Any, server: Server) -> None:
    """Keys faster than the server answers: a late answer must not pull the selection back."""
    name, ids = fresh(server, [f"print({i})" for i in range(10)])
    open_notebook(page, server, name)
    editor(page, ids[0]).focus()
    for _ in range(8):
        page.keyboard.press("Shift+Enter")
        time.sleep(0.1)
    eventually(lambda: [bool(c.outputs) for c in cells(server, name)] == [True] * 8 + [False] * 2)
    assert [c.outputs[0].text for c in cells(server, name)[:8]] == [f"{i}\n" for i in range(8)]
    assert [c.execution_count for c in cells(server, name)[:8]] == list(range(1, 9))  # once each
    page.wait_for_function(f"document.body.dataset.neuralisSelected === '{ids[8]}'")
