"""The live view, on public Streamlit API only: a running cell redraws itself, a watcher the rest.

- A running cell draws its outputs in a child fragment with ``run_every``, so only that
  small fragment reruns while output streams in. When the run ends (or asks for input) the
  child calls ``st.rerun()``: the page draws the cell finished, and without the child, which
  stops its timer. A cell that takes milliseconds never gets there: its Run callback waits
  briefly and reruns the cell by key (allowed in a callback) with the output in it.
- A watcher fragment (``run_every``, drawn once per page) looks at the notebook twice a
  second: another tab's edit, a run started elsewhere, a kernel that changed status, the file
  changed by another program. It costs a few comparisons; when what the page shows is out of
  date it calls a full ``st.rerun()``.

Each drawn cell remembers what it showed (:func:`remember`); the watcher compares that with
the shared document and the broker's records. Nothing here reaches into Streamlit's runtime.
"""

from __future__ import annotations

from typing import Any

import streamlit as st

from neuralis.execution import RunRecord
from neuralis.session import Document
from neuralis.ui import state
from neuralis.ui.outputs import render_outputs
from neuralis.ui.session_keys import DRAWN, PAGE, SHOWN

POLL_SECONDS = 0.25
"""How often a running cell redraws its outputs."""
WATCH_SECONDS = 0.5
"""How often the page looks for changes made elsewhere when another tab shows the notebook
too, or something runs."""
WATCH_ALONE = 2.0
"""How often it looks when this is the only tab (for the file changed by another program):
every look costs the server a fragment run, and ten idle tabs should cost next to nothing."""
WATCH_KEY = "nb-watch"


def is_live(rec: RunRecord) -> bool:
    """Tell whether a cell's outputs redraw themselves (it runs and waits for no input)."""
    return rec.status == "running" and rec.input_prompt is None


def draw_live_outputs(cell_id: str, rec: RunRecord) -> None:
    """Draw a running cell's outputs in a child fragment that redraws them while it runs."""
    st.fragment(_live_outputs, run_every=POLL_SECONDS)(cell_id, rec)


def _live_outputs(cell_id: str, drawn: RunRecord) -> None:
    doc = state.current()
    if doc is None:
        return
    rec = state.broker().record(doc.key, cell_id)
    if rec is None or not is_live(rec) or rec.queued_at != drawn.queued_at:
        st.rerun()  # over, or waiting for input: the whole page shows it (and ends this timer)
    render_outputs(rec.outputs.outputs)


def begin_page(doc: Document) -> None:
    """Note what the notebook looks like as a full run starts drawing it."""
    st.session_state[PAGE] = _page_view(doc)


def draw_watcher() -> None:
    """Draw the page's watcher (invisible); call it once per full run, after the cells.

    Its pace is set here, by the full run: a second tab opening the notebook changes the
    page view below, so this tab redraws and speeds up.
    """
    doc = state.current()
    alone = doc is not None and _tabs(doc) <= 1 and not state.broker().busy(doc.key)
    st.fragment(_watch, run_every=WATCH_ALONE if alone else WATCH_SECONDS, key=WATCH_KEY)()


def _tabs(doc: Document) -> int:
    return state.sessions().attached(doc.key)


def _watch() -> None:
    doc = state.current()
    if doc is None:
        return
    if doc.check_disk() or stale(doc):
        st.rerun()


def remember(doc: Document, cell_id: str, rec: RunRecord | None) -> None:
    """Note what a cell shows now (call it when the cell is drawn)."""
    cell = _cells(doc).get(cell_id)
    if cell is not None:
        st.session_state.setdefault(SHOWN, {})[cell_id] = _view(doc, cell, rec)


def stale(doc: Document) -> bool:
    """Tell whether this session's page shows something that changed since it was drawn."""
    if st.session_state.get(PAGE) != _page_view(doc):
        return True
    shown: dict[str, tuple[Any, ...]] = st.session_state.get(SHOWN, {})
    drawn: set[str] = st.session_state.get(DRAWN, set())
    by_id = _cells(doc)
    records = state.broker().records(doc.key)
    for cell_id in drawn:
        cell, before = by_id.get(cell_id), shown.get(cell_id)
        if cell is None or before is None:
            continue  # gone: the page view above says so; never drawn: nothing to refresh
        if not _same(before, _view(doc, cell, records.get(cell_id))):
            return True
    return False


def _cells(doc: Document) -> dict[str, Any]:
    with doc.lock:
        return {str(c.get("id")): c for c in doc.nb.cells}


def _page_view(doc: Document) -> tuple[Any, ...]:
    """Return what a full run draws of the notebook beyond its cells."""
    with doc.lock:
        ids = tuple(str(c.get("id")) for c in doc.nb.cells)
        kernel, conflict, generation = doc.kernel, doc.conflict, doc.generation
    broker = state.broker()
    status, error = broker.kernel_status(doc.key), broker.kernel_error(doc.key)
    return doc.name, ids, kernel, conflict, generation, status, error, min(_tabs(doc), 2)


def _view(doc: Document, cell: Any, rec: RunRecord | None) -> tuple[Any, ...]:
    """Return what a drawn cell depends on, compared by identity where it is an object.

    A running cell's own fragment redraws its outputs, so while it runs its record counts
    as ``"live"``; a finished run copied into the cell changes nothing on screen (the cell
    already shows that record), so the cell's outputs count only when no record is shown.
    """
    shown: object = rec
    if rec is not None and is_live(rec):
        shown = ("live", rec.queued_at)
    outputs = count = None
    if rec is None or (rec.started_at is None and rec.status != "queued"):
        outputs, count = cell.get("outputs"), cell.get("execution_count")
    mine = doc.replaced_text(state.session_id(), str(cell.get("id")))
    return cell.cell_type, cell.source, shown, outputs, count, mine


_BY_VALUE = (str, int, float, tuple, type(None))


def _same(a: tuple[Any, ...], b: tuple[Any, ...]) -> bool:
    """Compare two views: texts and numbers by value, records and outputs by identity."""
    for x, y in zip(a, b, strict=True):
        if x is y or (type(x) in _BY_VALUE and type(y) is type(x) and x == y):
            continue
        return False
    return True
