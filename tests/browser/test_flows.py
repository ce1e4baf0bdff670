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
    group.locator("button", has_text=icon).click()


def type_into(page: Any, cell_id: str, text: str, *, replace: bool = True) -> None:
    """Type into a cell's editor as a person does (its text replaced unless told)."""
    frame = page.frame_locator(f'.st-key-box-{cell_id} iframe[title*="streamlit_ace"]')
    box = frame.locator("textarea.ace_text-input").first
    box.focus()
    if replace:
        box.press("Control+a")
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
    page.locator(f".st-key-edit-{cid} button").click()  # Done: the heading is drawn
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
    assert saved[1].source.replace("\n", "") in ("c = 3d = 4", "d = 4c = 3")
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
