"""The table of contents in the sidebar: the Markdown headings, each a jump to its cell."""

from __future__ import annotations

import streamlit as st

from neuralis.notebook import cells as ops
from neuralis.sanitize import label_text
from neuralis.session import Document
from neuralis.ui.session_keys import REVEAL, SELECTED
from neuralis.ui.window import show_cell


def draw_contents(doc: Document) -> None:
    """Draw the headings as links (indented by level); nothing when there are none."""
    found = ops.headings(doc.nb)
    if not found:
        return
    st.caption("Contents")
    box = st.container(key="contents", gap=None)
    for n, (cell_id, level, text) in enumerate(found):
        box.button(
            label_text(text),
            key=f"toc-{n}-{cell_id}",
            type="tertiary",
            help=f"Go to this heading (level {level})",
            on_click=jump,
            args=(doc, cell_id),
        )
    # Indent by level: the n-th button's key names it, its level is in the CSS below.
    rules = [
        f".st-key-toc-{n}-{cell_id} {{ padding-left: {(level - 1) * 0.9}rem; }}"
        for n, (cell_id, level, _) in enumerate(found)
        if level > 1
    ]
    if rules:
        st.html(f"<style>{' '.join(rules)}</style>")


def jump(doc: Document, cell_id: str) -> None:
    """Select a heading's cell, slide the window to it and have the page scroll there."""
    show_cell(doc, cell_id)
    st.session_state[SELECTED] = cell_id
    st.session_state[REVEAL] = cell_id
