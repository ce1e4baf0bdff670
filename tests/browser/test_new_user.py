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
