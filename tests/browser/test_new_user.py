"""A new user's first minutes in Chromium: what they reported, each as they did it."""

from __future__ import annotations

from typing import Any

import pytest

from tests.browser.conftest import Server
from tests.browser.test_flows import cells, eventually, fresh, open_notebook

pytestmark = pytest.mark.browser


@pytest.fixture(autouse=True)
def _patient(page: Any) -> None:
    """Give each step two minutes: the suite may share a loaded machine with other servers."""
    page.set_default_timeout(120_000)


def test_enter_while_typing_never_takes_a_completion(page: Any, server: Server) -> None:
    """Ace's live completion popup took Enter and saved `import NotImplementedx = 21`."""
    name, (cid,) = fresh(server, [""])
    open_notebook(page, server, name)
    frame = page.frame_locator(f'.st-key-box-{cid} iframe[title*="streamlit_ace"]')
    box = frame.locator("textarea.ace_text-input").first
    box.focus()
    box.press_sequentially("import time", delay=150)
    box.press("Enter")
    box.press_sequentially("x = 21", delay=150)
    eventually(lambda: cells(server, name)[0].source.endswith("21"), timeout=30)
    assert cells(server, name)[0].source == "import time\nx = 21"
    assert frame.locator(".ace_autocomplete:visible").count() == 0
    # Completion is still there on an explicit key.
    box.press("Control+End")
    box.press("Enter")
    box.press_sequentially("pri", delay=150)
    box.press("Control+Space")
    frame.locator(".ace_autocomplete").first.wait_for()
    box.press("Escape")


def test_uploading_a_text_file_says_why_it_is_refused(
    page: Any, server: Server, tmp_path: Any
) -> None:
    notes = tmp_path / "notes.txt"
    notes.write_text("shopping: milk, eggs\n")
    page.goto(server.url)
    uploader = page.get_by_test_id("stFileUploader")
    uploader.wait_for()
    uploader.locator('input[type="file"]').set_input_files(str(notes))
    uploader.get_by_text("notes.txt").wait_for()
    page.get_by_test_id("stBaseButton-secondaryFormSubmit").filter(has_text="Upload").click()
    page.get_by_text("only .ipynb notebooks can be uploaded").wait_for()
    assert not list(server.notebook_dir.glob("notes*"))


def test_create_after_enter_shows_no_stale_error(page: Any, server: Server) -> None:
    """Enter in "New notebook" creates it; a click on Create after it is no blank name."""
    page.goto(server.url)
    field = page.get_by_label("New notebook")
    field.fill("first-steps")
    field.press("Enter")
    page.wait_for_url("**file=first-steps.ipynb*")
    page.get_by_role("button", name="Run all", exact=True).wait_for()
    create = page.get_by_test_id("stBaseButton-secondaryFormSubmit").filter(has_text="Create")
    for _ in range(10):  # the file browser shuts once a notebook is open: open it again
        page.wait_for_timeout(500)
        if create.is_visible():
            break
        page.locator('[data-testid="stExpander"] summary').first.click()
    create.click()
    page.get_by_text("first-steps.ipynb is open").first.wait_for()
    assert page.get_by_text("Give the notebook a name").count() == 0
    assert (server.notebook_dir / "first-steps.ipynb").exists()
    assert not (server.notebook_dir / "first-steps-2.ipynb").exists()


def test_the_first_plot_of_a_fresh_notebook_is_drawn(page: Any, server: Server) -> None:
    """The image of a first run was a broken icon (its URL answered later, a reload drew it)."""
    name, (cid,) = fresh(
        server, ["import matplotlib.pyplot as plt\nplt.plot([1, 3, 2, 5]); plt.show()"]
    )
    media: list[tuple[int, str]] = []
    page.on("response", lambda r: "/media/" in r.url and media.append((r.status, r.url)))
    open_notebook(page, server, name)
    page.locator(f".st-key-run-{cid} button").first.click()
    image = page.locator('[data-testid="stImage"] img').first
    image.wait_for()
    page.wait_for_function(
        "() => { const i = document.querySelector('[data-testid=\"stImage\"] img');"
        " return i && i.complete; }"
    )
    page.wait_for_timeout(1500)  # any redraw that follows the run
    width = page.evaluate(
        "() => Array.from(document.querySelectorAll('[data-testid=\"stImage\"] img'))"
        ".map(i => i.complete ? i.naturalWidth : -1)"
    )
    assert width and all(w > 0 for w in width), f"broken image(s): naturalWidth {width} {media}"
    assert all(status == 200 for status, _ in media), media
    # The image is in the page itself: no media file whose lifetime a rerun can end.
    sources = page.eval_on_selector_all('[data-testid="stImage"] img', "els => els.map(e => e.src)")
    assert all(src.startswith("data:image/png;base64,") for src in sources), sources
