"""The variable explorer in the sidebar: what the open notebook's kernel holds.

Read with a silent request (:meth:`Broker.peek`): the user's execution count, history and
``_`` stay as they were. Drawn in a fragment of its own, which runs again when the kernel's
status changes (the live poller) and after a quick run (the run's rerun includes it).
"""

from __future__ import annotations

import streamlit as st

from neuralis.ui import state
from neuralis.ui.cells import VARIABLES_KEY
from neuralis.variables import CODE, Variables, human_size, parse

_LAST = "neuralis_variables_last"
"""Notebook key -> what the explorer showed last (kept while the kernel is busy)."""


def draw_variables() -> None:
    """Draw the explorer (call it inside ``st.sidebar``)."""
    st.fragment(_explorer, key=VARIABLES_KEY)()


def _explorer() -> None:
    doc = state.current()
    if doc is None:
        return
    broker = state.broker()
    last: dict[str, Variables] = st.session_state.setdefault(_LAST, {})
    status = broker.kernel_status(doc.key)
    seen = parse(broker.peek(doc.key, CODE) or "") if status == "idle" else None
    if seen is not None:
        last[doc.key] = seen
    elif status in ("none", "dead"):
        last.pop(doc.key, None)
    shown = last.get(doc.key)
    st.caption("Variables")
    with st.container(key="variables"):
        if shown is None:
            st.caption("The kernel is busy." if status == "busy" else "No kernel running yet.")
            return
        if not shown.rows:
            st.caption("No variables yet: run a cell.")
            return
        if status == "busy":
            st.caption("As of the last run (a cell is running).")
        st.dataframe(
            {
                "Name": [v.name for v in shown.rows],
                "Type": [v.type for v in shown.rows],
                "Shape / length": [v.extent for v in shown.rows],
                "Size": [human_size(v.size) for v in shown.rows],
            },
            hide_index=True,
            height=min(400, 38 + 35 * len(shown.rows)),
            key=f"variables-table-{doc.key}",
        )
        if shown.more:
            st.caption(f"and {shown.more} more")
