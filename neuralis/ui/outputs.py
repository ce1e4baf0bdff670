"""Render nbformat outputs through a MIME registry, richest type first."""

from __future__ import annotations

import base64
import importlib.util
import json
import re
from collections.abc import Callable, Sequence
from typing import Any, Literal

import streamlit as st
from nbformat import NotebookNode

from neuralis import display, sanitize

Renderer = Callable[[Any, dict[str, Any]], None]

IFRAME_HEIGHT = 420


def _plotly(value: Any, meta: dict[str, Any]) -> None:
    st.plotly_chart(_as_json(value))


def _vega_lite(value: Any, meta: dict[str, Any]) -> None:
    st.vega_lite_chart(_as_json(value))


def _image(value: Any, meta: dict[str, Any]) -> None:
    data = base64.b64decode(display.as_text(value))
    st.image(data, width=_width(meta))


def _svg(value: Any, meta: dict[str, Any]) -> None:
    st.image(display.as_text(value), width=_width(meta))


def _table(value: Any, meta: dict[str, Any]) -> None:
    # A pandas DataFrame (table-schema MIME): sortable, scrolls inside the cell.
    table = _as_json(value)
    st.dataframe(display.table_frame(table))
    rows, shown = meta.get("rows"), len(table.get("data") or ())
    if isinstance(rows, int) and rows > shown:
        st.caption(f"First {shown} of {rows} rows (pandas' display.max_rows).")


def _html(value: Any, meta: dict[str, Any]) -> None:
    markup = display.as_text(value)
    if display.needs_scripts(markup):
        _iframe(markup)
    else:  # cleaned and boxed here: an output cannot style the app, cover it or post a form
        st.html(sanitize.contain_html(markup))


def _markdown(value: Any, meta: dict[str, Any]) -> None:
    st.markdown(display.as_text(value))


def _latex(value: Any, meta: dict[str, Any]) -> None:
    st.latex(display.latex_body(display.as_text(value)))


def _json(value: Any, meta: dict[str, Any]) -> None:
    st.json(_as_json(value), expanded=2)


def _plain(value: Any, meta: dict[str, Any]) -> None:
    _text(display.as_text(value))


REGISTRY: dict[str, Renderer] = {
    "application/vnd.plotly.v1+json": _plotly,
    "application/vnd.vegalite.v5+json": _vega_lite,
    "application/vnd.vegalite.v4+json": _vega_lite,
    "application/vnd.vegalite.v3+json": _vega_lite,
    "image/png": _image,
    "image/jpeg": _image,
    "image/svg+xml": _svg,
    "application/vnd.dataresource+json": _table,
    "text/html": _html,
    "text/markdown": _markdown,
    "text/latex": _latex,
    "application/json": _json,
    "text/plain": _plain,
}

# st.plotly_chart needs the plotly package in the app's environment; without it the
# bundle's next type (usually text/html in an iframe) is shown instead.
AVAILABLE = frozenset(
    m for m in REGISTRY if "plotly" not in m or importlib.util.find_spec("plotly") is not None
)


def render_outputs(outputs: Sequence[NotebookNode]) -> None:
    """Render a cell's outputs in order."""
    for output in outputs:
        render_output(output)


def render_output(output: NotebookNode) -> None:
    """Render one output: a stream, an error or a MIME bundle."""
    kind = output.get("output_type")
    if kind == "stream":
        _stream(output)
    elif kind == "error":
        _ansi(display.traceback_text(output))
    elif kind in ("display_data", "execute_result"):
        render_bundle(output.get("data") or {}, output.get("metadata") or {})


def render_bundle(data: dict[str, Any], metadata: dict[str, Any]) -> None:
    """Render the richest type of a MIME bundle; fall back to plainer ones on failure."""
    remaining = dict(data)
    while (mime := display.pick_mime(remaining, AVAILABLE)) is not None:
        try:
            REGISTRY[mime](remaining.pop(mime), metadata.get(mime) or {})
            return
        except Exception:  # a malformed payload: try the next type, as Jupyter does
            continue
    if data:
        st.caption(f"No renderer for {', '.join(sorted(data))}.")


def _stream(output: NotebookNode) -> None:
    text = display.as_text(output.get("text"))
    if display.has_ansi(text):
        _ansi(text)
    else:
        _text(text, error=output.get("name") == "stderr")


def _text(text: str, *, error: bool = False) -> None:
    clipped = display.clip(text)
    parts = [text] if clipped is None else [clipped.head, clipped.tail]
    for i, part in enumerate(parts):
        if i:
            st.caption(clipped.note if clipped else "")
        if error:  # stderr gets the tinted block Jupyter users expect
            st.html(display.plain_pre(part.rstrip("\n"), "neuralis-stderr"))
        else:
            st.code(part.rstrip("\n"), language=None, wrap_lines=True)


def _ansi(text: str) -> None:
    clipped = display.clip(text)
    if clipped is None:
        st.html(display.ansi_to_html(text))
        return
    st.html(display.ansi_to_html(clipped.head))
    st.caption(clipped.note)
    st.html(display.ansi_to_html(clipped.tail))


FRAME_POLICY = '<meta http-equiv="Content-Security-Policy" content="form-action \'none\'">'
"""Put first in every frame: a form in an output cannot send what is typed into it."""
_DOCTYPE = re.compile(r"\s*<!doctype[^>]*>", re.IGNORECASE)


def _iframe(markup: str) -> None:
    # A data: URL gives the frame an opaque origin: its scripts run but cannot reach the
    # app (st.iframe given raw HTML would be same-origin, and notebooks come from anywhere).
    # A policy can only be tightened by later ones, so the output cannot undo FRAME_POLICY.
    doctype = _DOCTYPE.match(markup)  # kept first: a page without one renders in quirks mode
    at = doctype.end() if doctype else 0
    page = (markup[:at] + FRAME_POLICY + markup[at:]).encode("utf-8", "replace")
    url = "data:text/html;base64," + base64.b64encode(page).decode("ascii")
    st.iframe(url, height=IFRAME_HEIGHT)


def _as_json(value: Any) -> Any:
    return json.loads(value) if isinstance(value, str) else value


def _width(meta: dict[str, Any]) -> int | Literal["content"]:
    width = meta.get("width")
    return int(width) if isinstance(width, int | float) and width > 0 else "content"
