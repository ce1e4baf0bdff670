"""Large notebooks are drawn a window of cells at a time, and scroll as one page.

Every element on a Streamlit page is redrawn by the browser on each run, fragment runs
included, so a click's cost grows with the page (measured: ~0.9 ms per drawn cell, see
bench/ui_scaling.py). Like JupyterLab's windowed notebooks, the page draws only a window of
cells (``NEURALIS_CELL_WINDOW``, 15 by default; 0 draws every cell). There is no pager: as
the reader scrolls near either end of the window, the page (keys.js) presses that end's
button, the window slides by half its size and the reading position stays where it was.
Running, saving and "Run all" still cover the whole notebook.
"""

from __future__ import annotations

import contextlib

import streamlit as st

from neuralis.config import Settings
from neuralis.notebook import cells as ops
from neuralis.session import Document
from neuralis.ui.session_keys import WINDOW_START


def size() -> int:
    """Return how many cells a page draws (0: all)."""
    return Settings.from_env().cell_window


def _step() -> int:
    return max(1, size() // 2)


def bounds(doc: Document) -> tuple[int, int]:
    """Return ``(start, stop)``: the cells this run draws."""
    total, width = len(doc.nb.cells), size()
    if width <= 0 or total <= width:
        return 0, total
    start = st.session_state.get(WINDOW_START, {}).get(doc.key, 0)
    start = min(max(0, start), total - width)
    return start, start + width


def _set_start(doc: Document, start: int) -> None:
    st.session_state.setdefault(WINDOW_START, {})[doc.key] = max(0, start)


def show_index(doc: Document, index: int) -> None:
    """Slide the window so that it holds cell ``index`` (it stays when it does already)."""
    width = size()
    if width <= 0:
        return
    start, stop = bounds(doc)
    if not start <= index < stop:
        _set_start(doc, min(index - width // 3, len(doc.nb.cells) - width))


def show_cell(doc: Document, cell_id: str | None) -> None:
    """Slide the window so that it holds this cell (if it still exists)."""
    if cell_id is None:
        return
    with contextlib.suppress(KeyError):  # deleted meanwhile: the window stays
        show_index(doc, ops.index_of(doc.nb, cell_id))


def slide(doc: Document, cells: int) -> None:
    """Slide the window by ``cells`` (negative: towards the top)."""
    _set_start(doc, bounds(doc)[0] + cells)


def draw_edge(doc: Document, where: str) -> None:
    """Draw the window's top or bottom edge: how many cells lie beyond, and a button that
    slides the window there (the page presses it as the reader scrolls near)."""
    total = len(doc.nb.cells)
    start, stop = bounds(doc)
    beyond = start if where == "top" else total - stop
    if beyond <= 0:
        return
    row = st.container(horizontal=True, vertical_alignment="center", key=f"window-{where}")
    up = where == "top"
    row.button(
        "Show earlier cells" if up else "Show more cells",
        icon=":material/expand_less:" if up else ":material/expand_more:",
        key=f"window-{'earlier' if up else 'later'}",
        type="tertiary",
        help="Scrolling there shows them too",
        on_click=slide,
        args=(doc, -_step() if up else _step()),
    )
    row.caption(f"{beyond} {'above' if up else 'below'} · cells {start + 1}-{stop} of {total}")
