"""Outputs without Streamlit: the iopub -> nbformat reducer, the MIME types, display helpers.

``reducer`` folds a cell's iopub messages into its nbformat outputs (re-exported here);
``mime`` is the one list of MIME types shown, richest first; ``display`` decides what can be
decided without Streamlit (truncation, ANSI, tables). ``neuralis.ui.outputs`` draws them.
"""

from __future__ import annotations

from neuralis.outputs.reducer import (
    CellOutputs,
    DisplayUpdate,
    StreamText,
    apply_display_update,
    normalize_stream,
    reduce,
)

__all__ = [
    "CellOutputs",
    "DisplayUpdate",
    "StreamText",
    "apply_display_update",
    "normalize_stream",
    "reduce",
]
