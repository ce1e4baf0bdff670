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

from neuralis import sanitize
from neuralis.outputs import display, mime
from neuralis.outputs.mime import KnownMime

Renderer = Callable[[Any, dict[str, Any]], None]
REGISTRY: dict[KnownMime, Renderer] = {}
"""Each known MIME type's renderer; the order they are tried in is :data:`mime.PRIORITY`."""


def renders(*types: KnownMime) -> Callable[[Renderer], Renderer]:
    """Register the decorated function as the renderer of ``types``."""

    def register(fn: Renderer) -> Renderer:
        for kind in types:
            if kind in REGISTRY:
                raise ValueError(f"{kind} has a renderer already: {REGISTRY[kind].__name__}")
            REGISTRY[kind] = fn
        return fn

    return register


IFRAME_HEIGHT = 420


@renders("application/vnd.plotly.v1+json")
def _plotly(value: Any, meta: dict[str, Any]) -> None:
    st.plotly_chart(_as_json(value))


@renders(
    "application/vnd.vegalite.v5+json",
    "application/vnd.vegalite.v4+json",
    "application/vnd.vegalite.v3+json",
)
def _vega_lite(value: Any, meta: dict[str, Any]) -> None:
    st.vega_lite_chart(_as_json(value))


INLINE_IMAGE = 1 << 20
"""Images up to this size (base64) go into the page as data: URLs."""


@renders("image/png")
def _png(value: Any, meta: dict[str, Any]) -> None:
    _image(value, meta, "image/png")


@renders("image/jpeg")
def _jpeg(value: Any, meta: dict[str, Any]) -> None:
    _image(value, meta, "image/jpeg")


def _image(value: Any, meta: dict[str, Any], kind: str) -> None:
    # Bytes given to st.image become a /media/ file that lives as long as the session's
    # runs show it: a full run that starts (dropping its references) and is cut short by
    # the next before it redraws the image deletes the file, and an image fetched in that
    # gap stays broken (same URL on the redraw) until a reload. A data: URL has no
    # lifetime; only images too large to resend on every redraw are media files.
    text = "".join(display.as_text(value).split())
    if len(text) <= INLINE_IMAGE:
        st.image(f"data:{kind};base64,{text}", width=_width(meta))
    else:
        st.image(base64.b64decode(text), width=_width(meta))


@renders("image/svg+xml")
def _svg(value: Any, meta: dict[str, Any]) -> None:
    st.image(display.as_text(value), width=_width(meta))


@renders("application/vnd.dataresource+json")
def _table(value: Any, meta: dict[str, Any]) -> None:
    # A pandas DataFrame (table-schema MIME): sortable, scrolls inside the cell.
    table = _as_json(value)
    st.dataframe(display.table_frame(table))
    rows, shown = meta.get("rows"), len(table.get("data") or ())
    if isinstance(rows, int) and rows > shown:
        st.caption(f"First {shown} of {rows} rows (pandas' display.max_rows).")


@renders("text/html")
def _html(value: Any, meta: dict[str, Any]) -> None:
    markup = display.as_text(value)
    if display.needs_scripts(markup):
        _iframe(markup)
    else:  # cleaned and boxed here: an output cannot style the app, cover it or post a form
        st.html(sanitize.contain_html(markup))


@renders("text/markdown")
def _markdown(value: Any, meta: dict[str, Any]) -> None:
    st.markdown(display.display_math(display.as_text(value)))


@renders("text/latex")
def _latex(value: Any, meta: dict[str, Any]) -> None:
    st.latex(display.latex_body(display.as_text(value)))


@renders("application/json")
def _json(value: Any, meta: dict[str, Any]) -> None:
    st.json(_as_json(value), expanded=2)


@renders("text/plain")
def _plain(value: Any, meta: dict[str, Any]) -> None:
    _text(display.as_text(value))


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
    while (kind := mime.pick(remaining, AVAILABLE)) is not None:
        try:
            REGISTRY[kind](remaining.pop(kind), metadata.get(kind) or {})
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
