"""One poller per session while the notebook runs: it reruns only the cells that changed.

A fragment's ``run_every`` is fixed when the fragment is drawn, so the poller is a child
drawn by a host fragment only while something runs; when the runs are over the poller
reruns its host, which draws no child, and Streamlit stops the timer. Cost per tick is one
small fragment run plus the cells whose run record changed, whatever the notebook's size.
"""

from __future__ import annotations

import streamlit as st

from neuralis.document import Document
from neuralis.execution import RunRecord
from neuralis.ui import state
from neuralis.ui.cells import LIVE_KEY, SEEN, STATUS_KEYS, cell_key
from neuralis.ui.rerun import rerun_fragments
from neuralis.ui.window import DRAWN

POLL_SECONDS = 0.25
_STATUS_SEEN = "neuralis_status_seen"
_JUST_DRAWN = "neuralis_poller_drawn"


def draw_live() -> None:
    """Draw the host of the poller (invisible); call it last on the page."""
    st.fragment(_host, key=LIVE_KEY)()


def _host() -> None:
    doc = state.current()
    if doc is None:
        return
    broker = state.broker()
    st.session_state[_STATUS_SEEN] = broker.kernel_status(doc.key)
    # Poll until every record is drawn, not only while runs go on: under load a rerun of a
    # cell can be superseded, and a poller stopped early would leave a finished cell stale.
    if broker.busy(doc.key) or _stale(broker.records(doc.key)):
        st.session_state[_JUST_DRAWN] = True  # what is on screen is fresh: skip one tick
        st.fragment(_poll, run_every=POLL_SECONDS)()


def _poll() -> None:
    if st.session_state.pop(_JUST_DRAWN, False):
        return
    doc = state.current()
    if doc is None:
        return
    broker = state.broker()
    busy = broker.busy(doc.key)  # before reading: once idle, every record is merged below
    records = broker.records(doc.key)
    _merge_hidden(doc, records)
    stale = _stale(records)
    status = broker.kernel_status(doc.key)
    if status != st.session_state.get(_STATUS_SEEN):
        st.session_state[_STATUS_SEEN] = status
        stale.extend(STATUS_KEYS)
    if not stale and not busy:
        stale = [LIVE_KEY, *STATUS_KEYS]  # all drawn, runs over: the host stops the timer
    if stale:
        rerun_fragments(list(dict.fromkeys(stale)))


def _stale(records: dict[str, RunRecord]) -> list[str]:
    """Return the fragment keys of drawn cells whose latest record is not on screen yet."""
    seen = st.session_state.get(SEEN, {})
    drawn = st.session_state.get(DRAWN, set())
    return [
        cell_key(cid) for cid, rec in records.items() if cid in drawn and seen.get(cid) is not rec
    ]


def _merge_hidden(doc: Document, records: dict[str, RunRecord]) -> None:
    """Copy finished runs of cells outside the window into the file (drawn cells do it)."""
    drawn = st.session_state.get(DRAWN, set())
    doc.merge_all({cid: rec for cid, rec in records.items() if cid not in drawn})
