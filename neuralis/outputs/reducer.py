"""A pure reducer from Jupyter iopub messages to the nbformat outputs of one cell.

It follows nbclient's rules (``NotebookClient.process_message`` / ``output``):

* only messages answering the cell's request are given to it (the caller filters);
* ``clear_output(wait=True)`` is applied just before the next output, not at once;
* ``update_display_data`` is never appended: it rewrites every earlier output with its
  ``display_id`` (``display_data``/``execute_result`` carrying a known id do too) — across
  the notebook, which is why the update is also returned for the caller to spread;
* ``execute_result`` keeps its ``execution_count``; errors are kept as data.

Beyond nbclient: consecutive streams of one name are merged as they arrive, and ``\\r`` and
``\\b`` are applied as Jupyter front ends show them, so a progress bar is one line. The
folding (:class:`StreamText`) costs each chunk, not the whole stream: a long line or a
progress bar of many writes stays linear, and the text is only joined when read.
"""

from __future__ import annotations

from dataclasses import dataclass, field, replace
from functools import cached_property
from typing import Any

import nbformat
from nbformat import NotebookNode

from neuralis.messages import Msg, msg_type

_OUTPUT_TYPES = frozenset({"stream", "display_data", "execute_result", "error"})


@dataclass(frozen=True)
class DisplayUpdate:
    """New data for every output carrying ``display_id``, wherever it is."""

    display_id: str
    data: dict[str, Any]
    metadata: dict[str, Any]


class _Piece:
    """One chunk of the open line, newest last; a persistent stack (states share pieces).

    The line is ``prev``'s text followed by ``text[:end]`` (a backspace shortens ``end``
    instead of copying), ``size`` long; ``cr`` and ``cr2`` are the indices in the line of its
    last two carriage returns (-1: none).
    """

    __slots__ = ("cr", "cr2", "end", "prev", "size", "text")
    prev: _Piece | None
    text: str
    end: int
    cr: int
    cr2: int
    size: int

    def __init__(self, prev: _Piece | None, text: str, end: int, cr: int, cr2: int) -> None:
        self.prev, self.text, self.end, self.cr, self.cr2 = prev, text, end, cr, cr2
        self.size = (prev.size if prev else 0) + end


def _piece(prev: _Piece | None, text: str, end: int) -> _Piece:
    """Return ``prev`` followed by ``text[:end]``, finding its last two carriage returns."""
    base = prev.size if prev else 0
    last = text.rfind("\r", 0, end)
    if last < 0:
        cr, cr2 = (prev.cr, prev.cr2) if prev else (-1, -1)
    else:
        before = text.rfind("\r", 0, last)
        cr2 = base + before if before >= 0 else (prev.cr if prev else -1)
        cr = base + last
    return _Piece(prev, text, end, cr, cr2)


def _pop(line: _Piece) -> _Piece | None:
    """Remove the line's last character."""
    if line.end == 1:
        return line.prev
    end = line.end - 1
    if line.text[end] == "\r":
        return _piece(line.prev, line.text, end)
    return _Piece(line.prev, line.text, end, line.cr, line.cr2)


def _extend(line: _Piece | None, stuck: int, text: str) -> tuple[_Piece | None, int]:
    """Add ``text`` (no newline) to the open line, applying its backspaces.

    A backspace removes the character before it on its line; with none left it stays, as a
    literal character (``stuck`` counts those: they can only lead the line).
    """
    if "\x08" not in text:
        return (_piece(line, text, len(text)) if text else line), stuck
    first, *rest = text.split("\x08")
    if first:
        line = _piece(line, first, len(first))
    for bit in rest:
        if line is None:
            stuck += 1
        else:
            line = _pop(line)
        if bit:
            line = _piece(line, bit, len(bit))
    return line, stuck


def _slice(line: _Piece | None, start: int) -> str:
    """Return the open line's text from ``start`` on."""
    parts = []
    while line is not None and line.size > start:
        parts.append(line.text[max(start - (line.size - line.end), 0) : line.end])
        line = line.prev
    return "".join(reversed(parts))


def _visible(line: _Piece | None, stuck: int) -> str:
    """Return the line as shown: text before its last ``\\r`` that has text after it goes."""
    if line is None:
        return "\x08" * stuck
    cut = line.cr if line.cr < line.size - 1 else line.cr2
    return _slice(line, cut + 1) if cut >= 0 else "\x08" * stuck + _slice(line, 0)


def _whole_lines(text: str) -> str:
    """Normalise complete lines (``text`` ends with a newline) that arrived in one chunk."""
    if "\r" not in text and "\x08" not in text:
        return text
    return "".join(_visible(*_extend(None, 0, line)) + "\n" for line in text[:-1].split("\n"))


class StreamText:
    """A stream's text as Jupyter front ends show it, folded as chunks arrive.

    Backspaces apply first (a backspace removes the character before it on its line), then
    carriage returns (text before a ``\\r`` on its line goes when more text follows on
    that line): the result depends on the whole text, never on how it was cut into chunks.
    Appending costs the chunk, not the stream: finished lines are kept as strings and the
    open line as a stack of pieces, both shared with earlier states (which stay valid), and
    the text is only joined when it is read.
    """

    __slots__ = ("_done", "_line", "_stuck", "_text")

    def __init__(
        self,
        done: tuple[Any, str] | None = None,
        line: _Piece | None = None,
        stuck: int = 0,
    ) -> None:
        self._done = done  # (earlier, text of finished lines): a persistent list
        self._line = line
        self._stuck = stuck
        self._text: str | None = None

    def append(self, chunk: str) -> StreamText:
        """Return the stream with ``chunk`` written to it."""
        if not chunk:
            return self
        first = chunk.find("\n")
        if first < 0:
            return StreamText(self._done, *_extend(self._line, self._stuck, chunk))
        line = _visible(*_extend(self._line, self._stuck, chunk[:first]))
        done = (self._done, line + "\n")
        last = chunk.rfind("\n")
        if last > first:
            done = (done, _whole_lines(chunk[first + 1 : last + 1]))
        return StreamText(done, *_extend(None, 0, chunk[last + 1 :]))

    @property
    def text(self) -> str:
        """Return the text as shown (joined once per state, on first read)."""
        if self._text is None:
            parts = [_visible(self._line, self._stuck)]
            done = self._done
            while done is not None:
                done, piece = done
                parts.append(piece)
            self._text = "".join(reversed(parts))
        return self._text


@dataclass(frozen=True)
class _OpenStream:
    """The last output of a cell while it is a stream: folded lazily, built when read."""

    name: str
    text: StreamText

    @cached_property
    def node(self) -> NotebookNode:
        # Built as is: nbformat.v4.new_output validates, which costs a second on 10^7 chars.
        node = {"output_type": "stream", "name": self.name, "text": self.text.text}
        built: NotebookNode = nbformat.from_dict(node)
        return built


@dataclass(frozen=True)
class CellOutputs:
    """The outputs of one cell, and what the reducer must remember between messages."""

    settled: tuple[NotebookNode, ...] = ()
    """The outputs before the open stream (all of them when the last is not a stream)."""
    display_ids: tuple[str | None, ...] = ()
    execution_count: int | None = None
    clear_pending: bool = False
    update: DisplayUpdate | None = field(default=None, compare=False)
    stream: _OpenStream | None = None
    """The last output when it is a stream that more text may join."""

    @cached_property
    def outputs(self) -> tuple[NotebookNode, ...]:
        """Return the nbformat outputs (the open stream's text is joined here, once)."""
        if self.stream is None:
            return self.settled
        return (*self.settled, self.stream.node)


def normalize_stream(text: str) -> str:
    """Apply backspaces and carriage returns the way a notebook front-end shows them."""
    return StreamText().append(text).text


def reduce(state: CellOutputs, msg: Msg) -> CellOutputs:
    """Return the cell's outputs after ``msg`` (an iopub message answering its request).

    A message that changes nothing (status, comms...) returns ``state`` itself.
    """
    kind = msg_type(msg)
    content = msg.get("content") or {}
    if state.update is not None:
        state = replace(state, update=None)
    count = content.get("execution_count")
    if isinstance(count, int) and count != state.execution_count:
        state = replace(state, execution_count=count)
    if kind == "clear_output":
        if content.get("wait"):
            return replace(state, clear_pending=True)
        return _cleared(state)
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
        state = _cleared(state)
    return replace(_append(state, kind, msg, display_id), update=update)


def _cleared(state: CellOutputs) -> CellOutputs:
    return replace(state, settled=(), display_ids=(), stream=None, clear_pending=False)


def _append(state: CellOutputs, kind: str, msg: Msg, display_id: str | None) -> CellOutputs:
    content = msg["content"]
    if kind == "stream":
        name = str(content.get("name", "stdout"))
        text = content.get("text", "")
        if state.stream is not None and state.stream.name == name:
            return replace(state, stream=_OpenStream(name, state.stream.text.append(text)))
        state = _settle(state)
        return replace(state, stream=_OpenStream(name, StreamText().append(text)))
    state = _settle(state)
    output = nbformat.v4.output_from_msg({"msg_type": kind, "content": content, **_header(msg)})
    return replace(state, settled=(*state.settled, output), display_ids=(*_ids(state), display_id))


def _settle(state: CellOutputs) -> CellOutputs:
    """Close the open stream: another output comes after it."""
    if state.stream is None:
        return state
    ids = _ids(state)
    return replace(state, settled=state.outputs, stream=None, display_ids=(*ids, None))


def apply_display_update(state: CellOutputs, update: DisplayUpdate) -> CellOutputs:
    """Rewrite the outputs of ``state`` that carry ``update.display_id``."""
    if update.display_id not in state.display_ids:
        return state  # cheap: no output is looked at (nor any stream text joined)
    outputs = list(state.settled)
    for i, known in enumerate(state.display_ids):
        if known == update.display_id:
            new = nbformat.from_dict(dict(outputs[i]))
            new["data"] = update.data
            new["metadata"] = update.metadata
            outputs[i] = new
    return replace(state, settled=tuple(outputs))


def _ids(state: CellOutputs) -> tuple[str | None, ...]:
    """Return the display ids of the settled outputs (padded: ``settled`` may be given)."""
    pad = len(state.settled) - len(state.display_ids)
    return state.display_ids + (None,) * pad if pad > 0 else state.display_ids[: len(state.settled)]


def _display_id(content: dict[str, Any]) -> str | None:
    transient = content.get("transient") or {}  # may be None: nbclient guards it too
    value = transient.get("display_id")
    return str(value) if value else None


def _header(msg: Msg) -> dict[str, Any]:
    return {"header": msg.get("header", {})}
