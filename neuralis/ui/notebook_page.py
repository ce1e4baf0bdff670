"""The Notebook page: files, kernel, toolbar and cells."""

from __future__ import annotations

import contextlib

import streamlit as st
from streamlit.delta_generator import DeltaGenerator

from neuralis.notebook import cells as ops
from neuralis.notebook.workspace import Workspace
from neuralis.sanitize import markdown_text
from neuralis.session import Document
from neuralis.ui import state
from neuralis.ui.cells import CELL_CSS, QUICK_WAIT, draw_cell, run_range
from neuralis.ui.contents import draw_contents
from neuralis.ui.editor import install_page_helpers
from neuralis.ui.environment import render_environment_panel
from neuralis.ui.files import draw_conflict, draw_document_actions, draw_files
from neuralis.ui.kernel_bar import ask_restart, draw_kernel_bar, draw_kernel_picker
from neuralis.ui.keys import draw_keys
from neuralis.ui.live import begin_page, draw_watcher
from neuralis.ui.session_keys import DRAWN, SELECTED, TOO_LARGE
from neuralis.ui.window import bounds, draw_edge, show_index


def render() -> None:
    """Draw the whole page."""
    install_page_helpers()
    st.html(CELL_CSS)
    ws = state.workspace()
    doc = state.document()
    _show_notice()
    with st.sidebar:
        draw_files(ws, doc)
    if doc is None:
        st.info("Open a notebook in the sidebar (Notebooks), or create one there.")
        return
    with st.sidebar:
        draw_contents(doc)
    doc.flush()  # finished runs are written shortly after they end; at once when the page draws
    begin_page(doc)
    draw_conflict(doc)
    _controls(ws, doc)
    draw_kernel_bar()
    start, stop = bounds(doc)
    drawn = [str(cell["id"]) for cell in doc.nb.cells[start:stop]]
    st.session_state[DRAWN] = set(drawn)
    draw_edge(doc, "top")
    for cell_id in drawn:
        draw_cell(cell_id)
    draw_edge(doc, "bottom")
    if st.button("Add cell", icon=":material/add:", key="add-cell-end"):
        with doc.lock:
            st.session_state[SELECTED] = ops.insert_cell(doc.nb, len(doc.nb.cells))
            show_index(doc, len(doc.nb.cells) - 1)
            doc.save()
        st.rerun()
    draw_watcher()


def _controls(ws: Workspace, doc: Document) -> None:
    """Draw the one row above the cells: name, file actions, kernel and status, run toolbar."""
    row = st.container(horizontal=True, vertical_alignment="center", gap="small", key="controls")
    row.subheader(doc.name.removesuffix(".ipynb"), anchor=False, width="content")
    draw_document_actions(ws, doc, row)
    draw_kernel_picker(doc, row)
    _toolbar(doc, row)
    render_environment_panel(doc, row)
    with row.container(width="content"):
        draw_keys()


def _show_notice() -> None:
    notice = state.pop_notice()
    if notice is not None:
        kind, text = notice
        (st.info if kind == "info" else st.error)(markdown_text(text))  # may quote ?file=
        if kind == "too-large" and (name := st.session_state.get(TOO_LARGE)):
            st.button(
                "Clear its outputs and open it",
                key="clear-too-large",
                help="Deletes every output from the file; code and text stay.",
                on_click=state.clear_outputs_and_open,
                args=(name,),
            )


def _selected_index(doc: Document) -> int:
    selected = st.session_state.get(SELECTED)
    try:
        return ops.index_of(doc.nb, selected) if selected else 0
    except KeyError:
        return 0


def _toolbar(doc: Document, row: DeltaGenerator) -> None:
    broker = state.broker()
    row.button(
        "Run all",
        key="run-all",
        type="primary",
        help="Run every cell, top to bottom",
        on_click=_run,
        args=(doc, "all"),
    )
    if row.button(
        "Interrupt",
        icon=":material/stop:",
        key="interrupt",
        help="Interrupt the kernel: stop the cell that runs",
    ):
        broker.interrupt(doc.key)
    # Callbacks run before the page draws, so the kernel bar already says "starting".
    row.button(
        "Restart",
        icon=":material/restart_alt:",
        key="restart",
        help="Restart the kernel (its variables are lost)",
        on_click=ask_restart,
        args=(doc,),
    )
    more = row.popover("More", icon=":material/more_horiz:", help="More run actions", key="more")
    more.button(
        "Run above",
        key="tb-run-above",
        help="The cells above the selected (outlined) cell",
        on_click=_run,
        args=(doc, "above"),
        width="stretch",
    )
    more.button(
        "Run below",
        key="tb-run-below",
        help="The selected (outlined) cell and those below it",
        on_click=_run,
        args=(doc, "below"),
        width="stretch",
    )
    more.button(
        "Restart & run all",
        key="restart-run-all",
        on_click=ask_restart,
        args=(doc, True),
        width="stretch",
    )
    if more.button("Clear outputs", key="clear-outputs", width="stretch"):
        broker.clear(doc.key)
        with doc.lock:
            ops.clear_outputs(doc.nb)
            doc.merged.clear()
            doc.save()


def _run(doc: Document, which: str) -> None:
    """Queue cells from the toolbar (a callback: before the page draws them).

    Quick cells get a moment to finish first, so the page draws them done: a cell drawn
    running redraws itself until it ends, then redraws the page once more.
    """
    here = _selected_index(doc)
    start, stop = {"all": (0, None), "above": (0, here), "below": (here, None)}[which]
    queued = ops.code_cells(doc.nb, start, stop)
    run_range(doc, start, stop)
    if queued:
        with contextlib.suppress(KeyError):
            state.broker().wait(doc.key, queued[-1][0], timeout=QUICK_WAIT)
