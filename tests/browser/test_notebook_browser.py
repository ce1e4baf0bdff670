"""The Notebook page in Chromium against `streamlit run app.py`."""

from __future__ import annotations

import re
import time
from typing import Any

import pytest

from neuralis.config import Settings
from tests.browser.conftest import Server
from tests.ui.conftest import make_notebook, read

pytestmark = pytest.mark.browser

DEMO = [
    "print('hello from the browser test')",
    "import io\nfrom PIL import Image as Picture\nfrom IPython.display import Image\n"
    "buf = io.BytesIO()\nPicture.new('RGB', (40, 20), 'teal').save(buf, 'PNG')\n"
    "Image(buf.getvalue())",
    "1 / 0",
]


def open_notebook(page: Any, server: Server, name: str) -> None:
    """Open a notebook by URL and wait for its cells."""
    page.goto(f"{server.url}/?file={name}")
    wait_loaded(page)


def wait_loaded(page: Any) -> None:
    """Wait for the toolbar and the editors, with the Ctrl+Enter hook in them."""
    page.get_by_role("button", name="Run all", exact=True).wait_for()
    page.locator('iframe[title*="streamlit_ace"]').first.wait_for()
    page.wait_for_function(HOOKED)


HOOKED = """() => {
  const frames = Array.from(document.querySelectorAll('iframe[title*="streamlit_ace"]'));
  return frames.length > 0 && frames.every(f => {
    const w = f.contentWindow;
    return w && w.__neuralisHooked && w.document.querySelector("textarea.ace_text-input");
  });
}"""


def expect_demo_outputs(page: Any) -> None:
    """Wait for the text, the image and the coloured traceback of DEMO."""
    page.get_by_text("hello from the browser test").first.wait_for()
    page.locator('[data-testid="stImage"] img').first.wait_for()
    colour = page.locator('pre.neuralis-ansi span[style*="color"]', has_text="ZeroDivisionError")
    colour.first.wait_for()


def test_run_all_then_reload(page: Any, server: Server) -> None:
    make_notebook(server.notebook_dir, "demo.ipynb", DEMO)
    open_notebook(page, server, "demo.ipynb")
    page.get_by_role("button", name="Run all", exact=True).click()
    expect_demo_outputs(page)
    assert "\x1b[" not in page.content()
    page.reload()
    wait_loaded(page)
    expect_demo_outputs(page)


def test_ctrl_enter_runs_what_the_editor_shows(page: Any, server: Server) -> None:
    make_notebook(server.notebook_dir, "typing.ipynb", ["print('stale text')"])
    open_notebook(page, server, "typing.ipynb")
    editor = page.frame_locator('iframe[title*="streamlit_ace"]').first
    typing = editor.locator("textarea.ace_text-input").first
    typing.focus()
    typing.press("Control+a")
    typing.press_sequentially("print('typed', 6 * 7)")
    typing.press("Control+Enter")
    page.get_by_text("typed 42").first.wait_for()
    assert page.get_by_text("stale text", exact=True).count() == 0
    saved = read(server.notebook_dir, "typing.ipynb").cells[0]
    assert saved.source == "print('typed', 6 * 7)"
    assert saved.outputs[0].text == "typed 42\n"


def test_outputs_stream_in_and_survive_a_reload(page: Any, server: Server) -> None:
    slow = (
        "import time\nfor i in range(1, 7):\n"
        "    print('tick', i, flush=True)\n    time.sleep(1.5)\nprint('finished')"
    )
    make_notebook(server.notebook_dir, "slow.ipynb", [slow])
    open_notebook(page, server, "slow.ipynb")
    page.locator('[class*="st-key-run-"] button').first.click()
    page.get_by_text("tick 1").first.wait_for()
    assert page.get_by_text("finished").count() == 0  # streamed in while the cell runs
    page.reload()
    page.get_by_text(re.compile(r"tick 1\s+tick 2")).first.wait_for()  # all it printed so far
    other = page.context.new_page()  # a second tab attaches to the same run
    other.goto(f"{server.url}/?file=slow.ipynb")
    for tab in (page, other):
        tab.get_by_text("finished").first.wait_for()
    other.close()


def test_a_paged_notebook_runs_and_saves_every_cell(page: Any, server: Server) -> None:
    """More cells than a window: Run all shows drawn outputs live and saves hidden ones."""
    w = Settings().cell_window
    total = w + 5
    make_notebook(server.notebook_dir, "paged.ipynb", [f"print('paged {i}')" for i in range(total)])
    page.goto(f"{server.url}/?file=paged.ipynb")
    page.get_by_role("button", name="Run all", exact=True).wait_for()
    page.get_by_text(f"cells 1-{w} of {total}").wait_for()  # the window's bottom edge
    page.get_by_role("button", name="Run all", exact=True).click()
    page.get_by_text(f"paged {w - 1}", exact=True).first.wait_for()
    assert page.get_by_text(f"paged {w}", exact=True).count() == 0  # on the next page
    deadline = time.monotonic() + 30  # the live poller merges the hidden cells and saves
    while time.monotonic() < deadline:
        outputs = [c.outputs for c in read(server.notebook_dir, "paged.ipynb").cells]
        if all(outputs):
            break
        time.sleep(0.2)
    assert [o[0].text for o in outputs] == [f"paged {i}\n" for i in range(total)]
    while not page.get_by_text(f"paged {total - 1}", exact=True).count():  # scroll on down
        page.mouse.move(700, 600)
        page.mouse.wheel(0, 1500)
        page.wait_for_timeout(300)
    page.get_by_text(f"paged {total - 1}", exact=True).first.wait_for()
    assert page.get_by_text("paged 3", exact=True).count() == 0


def test_restart_keeps_the_page_usable(page: Any, server: Server) -> None:
    ids = make_notebook(server.notebook_dir, "restart.ipynb", ["x = 1", "print('x' in dir())"])
    open_notebook(page, server, "restart.ipynb")
    page.locator(f".st-key-run-{ids[0]} button").first.click()
    page.get_by_text("In [1]").first.wait_for()
    page.locator(".st-key-restart button").first.click()
    page.locator(".st-key-restart-confirm button").first.click()  # it ran something: asked
    # The restart runs in the background: the status says "starting", then "idle" again
    # without another click (the live poller redraws it).
    page.get_by_text("starting", exact=True).first.wait_for()
    page.wait_for_function(
        "!document.body.innerText.includes('starting') && document.body.innerText.includes('idle')"
    )
    page.locator(f".st-key-run-{ids[1]} button").first.click()
    page.get_by_text("False", exact=True).first.wait_for()
