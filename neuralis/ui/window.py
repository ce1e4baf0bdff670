"""Large notebooks are drawn a window of cells at a time.

Every element on a Streamlit page is redrawn by the browser on each run, fragment runs
included, so a click's cost grows with the page (measured: ~0.9 ms per drawn cell, see
bench/ui_scaling.py). Like JupyterLab's windowed notebooks, the page draws only a window of
cells (``NEURALIS_CELL_WINDOW``, 15 by default; 0 draws every cell) with a pager above and
below; running, saving and "Run all" still cover the whole notebook.
"""

from __future__ import annotations

import contextlib

import streamlit as st
from streamlit.delta_generator import DeltaGenerator

from neuralis.config import Settings
from neuralis.notebook import cells as ops
from neuralis.session import Document
from neuralis.ui.session_keys import WINDOW_START


def size() -> int:
    """Return how many cells a page draws (0: all)."""
    return Settings.from_env().cell_window


def bounds(doc: Document) -> tuple[int, int]:
    """Return ``(start, stop)``: the cells this run draws."""
    total, step = len(doc.nb.cells), size()
    if step <= 0 or total <= step:
        return 0, total
    start = st.session_state.get(WINDOW_START, {}).get(doc.key, 0)
    start = min(max(0, start), (total - 1) // step * step)
    return start, min(total, start + step)


def show_index(doc: Document, index: int) -> None:
    """Move the window to the page holding cell ``index``."""
    step = size()
    if step > 0:
        st.session_state.setdefault(WINDOW_START, {})[doc.key] = max(0, index) // step * step


def show_cell(doc: Document, cell_id: str | None) -> None:
    """Move the window to the page holding this cell (if it still exists)."""
    if cell_id is None:
        return
    with contextlib.suppress(KeyError):  # deleted meanwhile: the window stays
        show_index(doc, ops.index_of(doc.nb, cell_id))


def draw_pager(doc: Document, where: str) -> None:
    """Draw "Cells a-b of N" with previous/next and a page picker, when paged."""
    total, step = len(doc.nb.cells), size()
    if step <= 0 or total <= step:
        return
    start, stop = bounds(doc)
    row = st.container(horizontal=True, vertical_alignment="center", key=f"pager-{where}")
    row.button(
        "Previous",
        icon=":material/chevron_left:",
        key=f"pager-prev-{where}",
        disabled=start == 0,
        on_click=show_index,
        args=(doc, start - step),
    )
    if where != "top":  # below the cells: previous and next only (each widget costs a click)
        row.caption(f"Cells {start + 1}-{stop} of {total}")
    else:
        _page_picker(doc, row, start, total, step)
    row.button(
        "Next",
        icon=":material/chevron_right:",
        key=f"pager-next-{where}",
        disabled=stop >= total,
        on_click=show_index,
        args=(doc, stop),
    )


def _page_picker(doc: Document, row: DeltaGenerator, start: int, total: int, step: int) -> None:
    key = f"pager-pick-top-{start}-{total}"
    row.selectbox(
        "Cells",
        range(0, total, step),
        index=start // step,
        format_func=lambda first: f"Cells {first + 1}-{min(total, first + step)} of {total}",
        key=key,
        label_visibility="collapsed",
        on_change=_picked,
        args=(doc, key),
        width=260,
    )


def _picked(doc: Document, key: str) -> None:
    first = st.session_state.get(key)
    if isinstance(first, int):
        show_index(doc, first)
