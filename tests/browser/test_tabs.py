"""Two tabs on one notebook, and runs that outlive the tab or the app, in Chromium.

Each tab is a browser context of its own (a Streamlit session of its own), as two people
would be. What matters is checked in the saved file and in both pages.
"""

from __future__ import annotations

import re
import time
from collections.abc import Callable, Iterator
from pathlib import Path
from typing import Any

import pytest

from tests.browser.conftest import Server, require_browser, start_server, stop_server
from tests.browser.test_notebook_browser import wait_loaded
from tests.ui.conftest import make_notebook, read

pytestmark = pytest.mark.browser

SLOW = (
    "import time\nfor i in range(20):\n"
    "    print('tick', i, flush=True)\n    time.sleep(0.5)\nprint('all done')"
)  # about 10 s


def until(check: Callable[[], bool], timeout: float = 30.0) -> None:
    """Wait until ``check()`` holds."""
    deadline = time.monotonic() + timeout
    while not check():
        assert time.monotonic() < deadline, "not reached within the timeout"
        time.sleep(0.1)


def assert_clean_log(server: Server) -> None:
    """Fail on any uncaught exception in the app's log."""
    assert server.log is not None
    text = server.log.read_text(errors="replace")
    assert "Traceback" not in text, text[-4000:]


def open_tab(browser: Any, server: Server, name: str) -> tuple[Any, Any]:
    """Open a notebook in a new browser context (a new session); return (context, page)."""
    context = browser.new_context(viewport={"width": 1400, "height": 1000})
    page = context.new_page()
    page.set_default_timeout(30_000)
    page.goto(f"{server.url}/?file={name}")
    wait_loaded(page)
    return context, page


def editor(page: Any, cell_id: str) -> Any:
    """Return the frame of a cell's editor (the last one: a replaced one lingers a moment)."""
    frames = page.locator(f'.st-key-box-{cell_id} iframe[title*="streamlit_ace"]:visible')
    return frames.last.content_frame


def type_into(page: Any, cell_id: str, text: str) -> None:
    """Replace a cell's text by typing, as a person does."""
    box = editor(page, cell_id).locator("textarea.ace_text-input").first
    box.focus()
    box.press("Control+a")
    box.press_sequentially(text)


def shown(page: Any, cell_id: str) -> str:
    """Return the text a cell's editor shows ("" while it is being replaced)."""
    try:
        text: str = editor(page, cell_id).locator(".ace_content").first.inner_text(timeout=2000)
    except Exception:  # Playwright's Error: no editor for a moment
        return ""
    return text


def wait_shown(page: Any, cell_id: str, text: str, timeout: float = 30.0) -> None:
    """Wait until a cell's editor shows ``text``."""
    try:
        until(lambda: shown(page, cell_id).strip() == text, timeout)
    except AssertionError:
        frames = page.locator(f'.st-key-box-{cell_id} iframe[title*="streamlit_ace"]')
        raise AssertionError(
            f"editor shows {shown(page, cell_id)!r}, not {text!r} ({frames.count()} editors)"
        ) from None


def sources(folder: Path, name: str) -> list[str]:
    """Return the saved cell sources."""
    return [str(c.source) for c in read(folder, name).cells]


def test_two_tabs_edit_different_cells_and_see_each_other(browser: Any, server: Server) -> None:
    a, b = make_notebook(server.notebook_dir, "pair.ipynb", ["a = 0", "b = 0"])
    one, page1 = open_tab(browser, server, "pair.ipynb")
    two, page2 = open_tab(browser, server, "pair.ipynb")
    try:
        type_into(page1, a, "a = 'tab one'")
        type_into(page2, b, "b = 'tab two'")
        until(
            lambda: sources(server.notebook_dir, "pair.ipynb") == ["a = 'tab one'", "b = 'tab two'"]
        )
        for page in (page1, page2):  # each tab shows both edits, without a reload
            wait_shown(page, a, "a = 'tab one'")
            wait_shown(page, b, "b = 'tab two'")
        assert page1.get_by_text("Another tab changed").count() == 0
        assert page2.get_by_text("changed on disk").count() == 0
    finally:
        one.close()
        two.close()
    assert_clean_log(server)


@pytest.mark.xfail(
    strict=False,
    reason="the test makes the edits simultaneous by taking tab two offline; what that tab "
    "typed offline is sometimes dropped when Streamlit reconnects and redraws it, so the "
    "flow cannot finish (tests/ui/test_tabs.py covers later-wins and restore in AppTest)",
)
def test_the_same_cell_in_two_tabs_later_wins_and_the_other_restores(
    browser: Any, server: Server
) -> None:
    (a,) = make_notebook(server.notebook_dir, "same.ipynb", ["x = 0"])
    one, page1 = open_tab(browser, server, "same.ipynb")
    two, page2 = open_tab(browser, server, "same.ipynb")
    try:
        # Tab two is cut off while tab one edits, so it types over the old text: both
        # edited the same cell at the same time, as far as either could know.
        two.set_offline(True)
        type_into(page1, a, "x = 'one'")
        until(lambda: sources(server.notebook_dir, "same.ipynb") == ["x = 'one'"])
        type_into(page2, a, "x = 'two'")
        page2.wait_for_timeout(500)  # its editor sends the text after a pause in typing
        two.set_offline(False)
        until(lambda: sources(server.notebook_dir, "same.ipynb") == ["x = 'two'"])  # later wins
        warning = page1.get_by_text("Another tab changed this cell")
        warning.wait_for()  # the tab whose edit was replaced says so
        wait_shown(page1, a, "x = 'two'")
        assert page2.get_by_text("Another tab changed this cell").count() == 0
        page1.locator(f".st-key-restore-{a} button").first.click()
        until(lambda: sources(server.notebook_dir, "same.ipynb") == ["x = 'one'"])
        wait_shown(page1, a, "x = 'one'")
        wait_shown(page2, a, "x = 'one'")
        warning.wait_for(state="detached")
    finally:
        one.close()
        two.close()
    assert_clean_log(server)


def test_closing_the_browser_mid_run_keeps_the_output(browser: Any, server: Server) -> None:
    (cid,) = make_notebook(server.notebook_dir, "closed.ipynb", [SLOW])
    context, page = open_tab(browser, server, "closed.ipynb")
    page.locator(f".st-key-run-{cid} button").first.click()
    page.get_by_text("tick 1", exact=True).first.wait_for()
    page.wait_for_timeout(3000)  # about 4 s into the 10 s run
    context.close()  # no tab shows the notebook any more
    until(lambda: bool(read(server.notebook_dir, "closed.ipynb").cells[0].outputs), 60)
    text = read(server.notebook_dir, "closed.ipynb").cells[0].outputs[0].text
    assert text.startswith("tick 0\ntick 1\n") and text.endswith("tick 19\nall done\n")
    assert_clean_log(server)


@pytest.fixture
def own_server(tmp_path: Path) -> Iterator[Server]:
    """A server this test may stop and start again, on its own folder."""
    require_browser()
    srv = start_server(tmp_path / "notebooks")
    yield srv
    if srv.process.poll() is None:
        stop_server(srv)


def test_a_graceful_restart_mid_run_keeps_what_it_printed(browser: Any, own_server: Server) -> None:
    folder = own_server.notebook_dir
    (cid,) = make_notebook(folder, "restart.ipynb", [SLOW])
    context, page = open_tab(browser, own_server, "restart.ipynb")
    try:
        page.locator(f".st-key-run-{cid} button").first.click()
        page.get_by_text("tick 3", exact=True).first.wait_for()
        stop_server(own_server)  # SIGTERM, as a service manager restarts the app
    finally:
        context.close()
    text = read(folder, "restart.ipynb").cells[0].outputs[0].text
    assert re.match(r"tick 0\ntick 1\ntick 2\ntick 3\n", text) and "all done" not in text
    assert_clean_log(own_server)
    again = start_server(folder)
    try:
        context, page = open_tab(browser, again, "restart.ipynb")
        page.get_by_text("tick 3", exact=True).first.wait_for()  # shown after the restart
        context.close()
    finally:
        stop_server(again)
    assert_clean_log(again)
