"""Density and reading in Chromium: the selection's colour, centred math, named icon buttons,
prose-like Markdown cells, one compact row of controls, continuous scrolling, the contents."""

from __future__ import annotations

import uuid
from typing import Any

import pytest

from neuralis.notebook import cells as ops
from neuralis.notebook import new_notebook, write_notebook
from tests.browser.conftest import Server
from tests.browser.test_flows import open_notebook

pytestmark = pytest.mark.browser

ACCENT_RGB = "rgb(59, 111, 182)"  # neuralis.ui.cells.ACCENT
ERROR_RED = "rgb(255, 75, 75)"


@pytest.fixture(autouse=True)
def _patient(page: Any) -> None:
    page.set_default_timeout(60_000)


def notebook(server: Server, cells: list[tuple[str, str]]) -> tuple[str, list[str]]:
    """Write a notebook of (kind, source) cells under a name of its own; return name and ids."""
    name = f"dense-{uuid.uuid4().hex[:6]}.ipynb"
    nb = new_notebook()
    nb.cells = [ops.new_cell(kind, source) for kind, source in cells]  # type: ignore[arg-type]
    server.notebook_dir.mkdir(parents=True, exist_ok=True)
    write_notebook(nb, server.notebook_dir / name)
    return name, [str(c["id"]) for c in nb.cells]


def border(page: Any, cell_id: str) -> str:
    return str(
        page.locator(f".st-key-box-{cell_id}").evaluate("e => getComputedStyle(e).borderTopColor")
    )


def test_the_selected_cell_is_outlined_in_the_accent_and_math_is_centred(
    page: Any, server: Server
) -> None:
    name, ids = notebook(
        server,
        [("markdown", "Prose, then $$\\int_0^1 x^2\\,dx$$"), ("code", "print('picked')")],
    )
    open_notebook(page, server, name)
    page.locator(f".st-key-run-{ids[1]} button").first.click()
    page.get_by_text("picked", exact=True).first.wait_for()
    page.wait_for_function(
        f"getComputedStyle(document.querySelector('.st-key-box-{ids[1]}')).borderTopColor"
        f" === '{ACCENT_RGB}'"
    )
    assert border(page, ids[1]) != ERROR_RED
    math = page.locator(f".st-key-box-{ids[0]} .katex-display .base").first
    cell = page.locator(f".st-key-box-{ids[0]}")
    m, c = math.bounding_box(), cell.bounding_box()
    centre, middle = m["x"] + m["width"] / 2, c["x"] + c["width"] / 2
    assert abs(centre - middle) < 0.05 * c["width"], (m, c)
