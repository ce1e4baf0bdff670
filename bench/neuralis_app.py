"""Neuralis for the benchmark: `streamlit run app.py` (tests/browser's server), and a driver.

A 50-cell notebook has more code cells than the page opens editors for at once
(``EAGER_EDITORS``), so a key pressed in a cell first opens its editor, as a person would.
A shortcut the page does not answer within a while is reported as missing, so the script
runs on trees with and without the keyboard model.
"""

from __future__ import annotations

import contextlib
import json
from collections.abc import Iterator
from pathlib import Path
from typing import Any

from bench.page_timer import Unsupported, arm, density, first_drawn, shown, steps
from bench.ui_scaling import page_to
from tests.browser.conftest import Server, start_server, stop_server
from tests.browser.test_flows import action

BOX = '[class*="st-key-box-"]'
EDITOR = 'iframe[title*="streamlit_ace"]'
NO_SHORTCUT_MS = 20_000
"""How long a key may go unanswered before the page is taken not to have the shortcut."""


@contextlib.contextmanager
def neuralis(folder: Path) -> Iterator[Server]:
    """Run the app on ``folder`` until the block ends (its log checked when it stops)."""
    server = start_server(folder)
    try:
        yield server
    finally:
        stop_server(server)


# The first cell's code is on the screen: in its editor's frame, or drawn as code.
_FIRST = f"""() => {{
  const box = document.querySelector('{BOX}');
  if (!box) {{ return null; }}
  let text = box.textContent;
  const frame = box.querySelector('{EDITOR}');
  try {{ text += frame ? frame.contentDocument.body.textContent : ""; }} catch (e) {{}}
  return text.includes("globals") ? box : null;
}}"""


# Main's Ctrl+Enter script and the keyboard model (neuralis/ui/keys.js) both mark the editor
# frames they listen to.
_HOOKED = f"""(cell) => {{
  const frame = document.querySelector(`.st-key-box-${{cell}} {EDITOR}`);
  const w = frame && frame.contentWindow;
  return Boolean(w && w.__neuralisHooked && w.document.querySelector(".ace_text-input"));
}}"""


class Neuralis:
    """Drive the Notebook page as a person does."""

    name = "Neuralis"

    def __init__(self, server: Server, notebook: str, ids: list[str]) -> None:
        self.server, self.notebook, self.ids = server, notebook, ids

    def open(self, page: Any) -> float:
        return first_drawn(page, f"{self.server.url}/?file={self.notebook}", _FIRST)

    def ready(self, page: Any) -> None:
        page.get_by_role("button", name="Run all", exact=True).wait_for()
        page.locator(f".st-key-run-{self.ids[0]} button").first.wait_for()

    def density(self, page: Any) -> float:
        return density(page, BOX)

    def click_run(self, page: Any) -> float:
        arm(page, r"run-(\d+)-done")
        page.locator(f".st-key-run-{self.ids[0]} button").first.click()
        return shown(page)

    def _editor(self, page: Any, cell_id: str) -> Any:
        """Open the cell's editor unless it is open; return its text input, focused."""
        box = page.locator(f".st-key-box-{cell_id}")
        if not box.locator(EDITOR).count():
            action(page, cell_id, "edit")
        text = page.frame_locator(f".st-key-box-{cell_id} {EDITOR}").locator(
            "textarea.ace_text-input"
        )
        text.first.wait_for(state="attached")
        page.wait_for_function(_HOOKED, arg=cell_id)  # the page's keys are in the frame
        text.first.focus()
        return text.first

    def ctrl_enter(self, page: Any) -> float:
        self._editor(page, self.ids[0])
        arm(page, r"run-(\d+)-done")
        page.keyboard.press("Control+Enter")
        try:
            return shown(page, NO_SHORTCUT_MS)
        except Exception as exc:  # Playwright's TimeoutError
            raise Unsupported("no shortcut") from exc

    def shift_enter(self, page: Any, count: int) -> float:
        self._editor(page, self.ids[1])
        return steps(page, count, "Shift+Enter", NO_SHORTCUT_MS, self._paged())

    def _paged(self) -> str:
        """JS: the window moved on past cell ``i``, to one showing cell ``i + 1`` selected."""
        ids = json.dumps(self.ids)
        return f"""(i) => {{
          const ids = {ids};
          return !document.querySelector(`.st-key-box-${{ids[i]}}`)
            && document.querySelector(`.st-key-box-${{ids[i + 1]}}`) !== null
            && document.body.dataset.neuralisSelected === ids[i + 1];
        }}"""

    def run_all(self, page: Any) -> float:
        last = self.ids[-1]
        if not page.locator(f".st-key-box-{last}").count():
            page_to(page, last)  # scrolling, as a person would
        page.locator(f".st-key-box-{last}").scroll_into_view_if_needed()
        arm(page, r"last-(\d+)-done")
        page.get_by_role("button", name="Run all", exact=True).click()
        return shown(page)
