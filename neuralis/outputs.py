"""A pure reducer from Jupyter iopub messages to the nbformat outputs of one cell.

It follows nbclient's rules (``NotebookClient.process_message`` / ``output``):

* only messages answering the cell's request are given to it (the caller filters);
* ``clear_output(wait=True)`` is applied just before the next output, not at once;
* ``update_display_data`` is never appended: it rewrites every earlier output with its
  ``display_id`` (``display_data``/``execute_result`` carrying a known id do too) — across
  the notebook, which is why the update is also returned for the caller to spread;
* ``execute_result`` keeps its ``execution_count``; errors are kept as data.

Beyond nbclient: consecutive streams of one name are merged as they arrive, and ``\\r`` and
``\\b`` are applied as a terminal front-end does, so a progress bar is one line.
"""

from __future__ import annotations

import re
from dataclasses import dataclass, field, replace
from typing import Any

import nbformat
from nbformat import NotebookNode

from neuralis.messages import Msg, msg_type

# Text before a \r on its line is dropped when more text follows on that line (nbclient's
# _RGX_CARRIAGERETURN). A backspace removes the character before it: this must be the
# control character "\x08"; nbclient's r"[^\n]\b" is a word boundary and never matches.
_CARRIAGE_RETURN = re.compile(r"[^\n]*\r(?=[^\n])")
_BACKSPACE = re.compile(r"[^\n\x08]\x08")

_OUTPUT_TYPES = frozenset({"stream", "display_data", "execute_result", "error"})


@dataclass(frozen=True)
class DisplayUpdate:
    """New data for every output carrying ``display_id``, wherever it is."""

    display_id: str
    data: dict[str, Any]
    metadata: dict[str, Any]


@dataclass(frozen=True)
class CellOutputs:
    """The outputs of one cell, and what the reducer must remember between messages."""

    outputs: tuple[NotebookNode, ...] = ()
    display_ids: tuple[str | None, ...] = ()
    execution_count: int | None = None
    clear_pending: bool = False
    update: DisplayUpdate | None = field(default=None, compare=False)


def normalize_stream(text: str) -> str:
    """Apply backspaces and carriage returns the way a notebook front-end shows them."""
    previous = None
    while previous != text:
        previous, text = text, _BACKSPACE.sub("", text)
    return _CARRIAGE_RETURN.sub("", text)


def append_stream(existing: str, new: str) -> str:
    """Append ``new`` to ``existing`` and normalise; only the last line can change."""
    cut = existing.rfind("\n") + 1
    return existing[:cut] + normalize_stream(existing[cut:] + new)


def reduce(state: CellOutputs, msg: Msg) -> CellOutputs:
    """Return the cell's outputs after ``msg`` (an iopub message answering its request)."""
    kind = msg_type(msg)
    content = msg.get("content") or {}
    state = replace(state, update=None)
    if isinstance(content.get("execution_count"), int):
        state = replace(state, execution_count=content["execution_count"])
    if kind == "clear_output":
        if content.get("wait"):
            return replace(state, clear_pending=True)
        return replace(state, outputs=(), display_ids=(), clear_pending=False)
    display_id = _display_id(content)
    update = None
    if display_id and kind in ("display_data", "execute_result", "update_display_data"):
        update = DisplayUpdate(display_id, content.get("data", {}), content.get("metadata", {}))
        state = apply_display_update(state, update)
    if kind == "update_display_data":
        return replace(state, update=update)
    if kind not in _OUTPUT_TYPES:
        return state  # status, execute_input, comms, iopub_welcome...
    if state.clear_pending:
        state = replace(state, outputs=(), display_ids=(), clear_pending=False)
    return replace(_append(state, kind, msg, display_id), update=update)


def _append(state: CellOutputs, kind: str, msg: Msg, display_id: str | None) -> CellOutputs:
    content = msg["content"]
    last = state.outputs[-1] if state.outputs else None
    if (
        kind == "stream"
        and last is not None
        and last.output_type == "stream"
        and last.name == content.get("name")
    ):
        text = append_stream(last.text, content.get("text", ""))
        merged = nbformat.v4.new_output("stream", name=last.name, text=text)
        return replace(state, outputs=(*state.outputs[:-1], merged))
    output = nbformat.v4.output_from_msg({"msg_type": kind, "content": content, **_header(msg)})
    if kind == "stream":
        output.text = normalize_stream(output.text)
    return replace(
        state,
        outputs=(*state.outputs, output),
        display_ids=(*_ids(state), display_id),
    )


def apply_display_update(state: CellOutputs, update: DisplayUpdate) -> CellOutputs:
    """Rewrite the outputs of ``state`` that carry ``update.display_id``."""
    ids = _ids(state)
    if update.display_id not in ids:
        return state
    outputs = list(state.outputs)
    for i, known in enumerate(ids):
        if known == update.display_id:
            new = nbformat.from_dict(dict(outputs[i]))
            new["data"] = update.data
            new["metadata"] = update.metadata
            outputs[i] = new
    return replace(state, outputs=tuple(outputs))


def _ids(state: CellOutputs) -> tuple[str | None, ...]:
    pad = len(state.outputs) - len(state.display_ids)
    return state.display_ids + (None,) * pad if pad > 0 else state.display_ids


def _display_id(content: dict[str, Any]) -> str | None:
    transient = content.get("transient") or {}  # may be None: nbclient guards it too
    value = transient.get("display_id")
    return str(value) if value else None


def _header(msg: Msg) -> dict[str, Any]:
    return {"header": msg.get("header", {})}
