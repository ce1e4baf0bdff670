"""Kernel secrets out of outputs: every iopub message of a run passes :class:`Redactor`.

A secret's value in any output (stream text, display data, results, tracebacks) becomes
``[secret NAME]`` before the outputs reducer sees it, so neither the page nor the saved file
ever holds it. Stream text may cut a value across chunks: the end of a chunk that could begin
a value is held back until the next chunk shows whether it does (or the run ends, see
:meth:`Redactor.flush`). Values are matched as printed; code that encodes one (reversed,
base64) gets it past any redaction, which guards against accidents, not a hostile cell.
"""

from __future__ import annotations

from collections.abc import Iterable
from typing import Any

from neuralis.messages import Msg, msg_type

MIN_LENGTH = 4
"""Shorter values are given to kernels but not redacted: "1" would blank every digit."""

_OUTPUTS = frozenset(
    {"display_data", "execute_result", "update_display_data", "error", "clear_output"}
)


class Redactor:
    """Redact one run's messages; hold back a stream's tail that may begin a secret."""

    def __init__(self, secrets: Iterable[tuple[str, str]]) -> None:
        marks = {value: f"[secret {name}]" for name, value in secrets if len(value) >= MIN_LENGTH}
        self._marks = sorted(marks.items(), key=lambda item: -len(item[0]))  # longest first
        self._held: dict[str, Msg] = {}
        """Per stream name: a message carrying the text held back."""

    def text(self, text: str) -> str:
        """Return ``text`` with every secret value replaced by its mark."""
        for value, mark in self._marks:
            if value in text:
                text = text.replace(value, mark)
        return text

    def feed(self, msg: Msg) -> list[Msg]:
        """Return what to fold for ``msg``: redacted, perhaps with held text before it."""
        if not self._marks:
            return [msg]
        kind = msg_type(msg)
        content = msg.get("content") or {}
        if kind == "stream":
            name = str(content.get("name", "stdout"))
            out = [m for other, m in list(self._held.items()) if other != name]
            for other in list(self._held):
                if other != name:
                    del self._held[other]  # another stream comes between: the text is settled
            held = self._held.pop(name, None)
            text = self.text((held["content"]["text"] if held else "") + content.get("text", ""))
            keep = self._prefix_tail(text)
            if keep:
                self._held[name] = _with_text(msg, text[-keep:])
                text = text[:-keep]
            return [*out, _with_text(msg, text)] if text else out
        if kind not in _OUTPUTS:
            return [msg]  # status, comms, execute_input: no output, nothing to hold up
        return [*self.flush(), {**msg, "content": self._deep(content)}]

    def flush(self) -> list[Msg]:
        """Return the stream text held back (the run ended, or another output comes)."""
        held, self._held = list(self._held.values()), {}
        return held

    def _prefix_tail(self, text: str) -> int:
        """Return the length of the longest end of ``text`` that begins some value."""
        longest = 0
        for value, _ in self._marks:
            for size in range(min(len(value) - 1, len(text)), longest, -1):
                if text.endswith(value[:size]):
                    longest = size
                    break
        return longest

    def _deep(self, value: Any) -> Any:
        if isinstance(value, str):
            return self.text(value)
        if isinstance(value, dict):
            return {k: self._deep(v) for k, v in value.items()}
        if isinstance(value, list | tuple):
            return [self._deep(v) for v in value]
        return value


def _with_text(msg: Msg, text: str) -> Msg:
    return {**msg, "content": {**(msg.get("content") or {}), "text": text}}
