"""Pure helpers for showing outputs: truncation, ANSI to HTML, tables (the MIME order is
:mod:`neuralis.outputs.mime`).

The Streamlit side (``neuralis.ui.outputs``) maps each MIME type to one small function;
what can be decided without Streamlit is decided here and tested on its own.
"""

from __future__ import annotations

import html
import re
from dataclasses import dataclass
from typing import Any

MAX_LINES = 400
"""Text outputs longer than this show head and tail; the file keeps them whole."""
MAX_CHARS = 200_000

_SCRIPT = re.compile(r"<script\b|\bon[a-z]+\s*=|javascript:", re.IGNORECASE)
_ANSI = re.compile(r"\x1b\[[0-9;]*[A-Za-z]")


def as_text(value: Any) -> str:
    """Join nbformat's list-of-lines form into one string."""
    if isinstance(value, list):
        return "".join(str(v) for v in value)
    return "" if value is None else str(value)


@dataclass(frozen=True)
class Clipped:
    """A text cut to its head and tail."""

    head: str
    tail: str
    hidden: int

    @property
    def note(self) -> str:
        """Return the line shown between head and tail."""
        return f"… {self.hidden} lines hidden …"


def clip(text: str, max_lines: int = MAX_LINES, max_chars: int = MAX_CHARS) -> Clipped | None:
    """Return head and tail of a text over the limits, or None when it fits."""
    lines = text.splitlines(keepends=True)
    if len(lines) <= max_lines and len(text) <= max_chars:
        return None
    keep = max(1, min(max_lines, len(lines)) // 2)
    head, tail = lines[:keep], lines[-keep:] if len(lines) > keep else []
    head_text = "".join(head)[: max_chars // 2]
    tail_text = "".join(tail)[-(max_chars // 2) :]
    hidden = max(0, len(lines) - len(head) - len(tail))
    if hidden == 0:  # few but very long lines: count the characters dropped instead
        hidden = text.count("\n", len(head_text), len(text) - len(tail_text))
    return Clipped(head_text, tail_text, hidden)


def has_ansi(text: str) -> bool:
    """Tell whether a text carries ANSI escape codes."""
    return bool(_ANSI.search(text))


def ansi_to_html(text: str) -> str:
    """Convert ANSI colours to inline-styled HTML in a ``<pre>`` (ansi2html)."""
    from ansi2html import Ansi2HTMLConverter

    body = Ansi2HTMLConverter(inline=True, scheme="xterm").convert(text, full=False)
    return f'<pre class="neuralis-ansi">{body}</pre>'


def plain_pre(text: str, css_class: str = "neuralis-ansi") -> str:
    """Return text escaped in a ``<pre>``."""
    return f'<pre class="{css_class}">{html.escape(text)}</pre>'


def needs_scripts(markup: str) -> bool:
    """Tell whether HTML only works with JavaScript (then it goes in an iframe)."""
    return bool(_SCRIPT.search(markup))


def table_frame(value: dict[str, Any]) -> Any:
    """Return the pandas DataFrame a table-schema bundle (pandas' ``orient="table"``) holds.

    Built from the schema rather than ``pd.read_json``, which fails on numbered columns.
    Raises on a malformed bundle (the caller then shows the bundle's next type).
    """
    import pandas as pd

    fields = value["schema"]["fields"]
    names = [str(f["name"]) for f in fields]
    frame = pd.DataFrame.from_records(value["data"], columns=names)
    for f, name in zip(fields, names, strict=True):
        if f.get("type") == "datetime":
            frame[name] = pd.to_datetime(frame[name], utc="tz" in f)
            if f.get("tz"):
                frame[name] = frame[name].dt.tz_convert(f["tz"])
        elif f.get("type") == "duration":
            frame[name] = pd.to_timedelta(frame[name])
    key = [str(k) for k in value["schema"].get("primaryKey") or []]
    if key:
        frame = frame.set_index(key)
        if key == ["index"]:
            frame.index.name = None  # pandas' name for an unnamed index
        elif all(k.startswith("level_") for k in key):
            frame.index.names = [None] * len(key)
    return frame


def latex_body(text: str) -> str:
    """Strip the ``$$`` or ``$`` delimiters ``st.latex`` does not want."""
    body = text.strip()
    for delim in ("$$", "$"):
        if body.startswith(delim) and body.endswith(delim) and len(body) > 2 * len(delim):
            return body[len(delim) : -len(delim)].strip()
    return body


_FENCE = re.compile(r"^(```|~~~).*?^\1[^\n]*$", re.DOTALL | re.MULTILINE)
_DISPLAY = re.compile(r"(?<![\\$])\$\$(?!\$)(.+?)\$\$", re.DOTALL)


def display_math(markdown: str) -> str:
    """Put every ``$$...$$`` on lines of its own, outside code blocks.

    Jupyter shows ``$$...$$`` as display math (centred) wherever it stands; Streamlit's
    Markdown only when the delimiters are on lines of their own, else as inline math.
    """
    if "$$" not in markdown:
        return markdown
    parts, last = [], 0
    for fence in _FENCE.finditer(markdown):
        parts.append(_DISPLAY.sub(_own_lines, markdown[last : fence.start()]))
        parts.append(fence.group(0))
        last = fence.end()
    parts.append(_DISPLAY.sub(_own_lines, markdown[last:]))
    return "".join(parts)


def _own_lines(match: re.Match[str]) -> str:
    return f"\n\n$$\n{match.group(1).strip()}\n$$\n\n"


def traceback_text(output: dict[str, Any]) -> str:
    """Return an error output's traceback as one text (with its ANSI codes)."""
    lines = output.get("traceback") or [f"{output.get('ename')}: {output.get('evalue')}"]
    return "\n".join(str(line) for line in lines)


def duration(seconds: float) -> str:
    """Say how long, to the second below an hour and to the minute above: ``3m 05s``, ``1h 02m``."""
    minutes, secs = divmod(int(seconds), 60)
    hours, minutes = divmod(minutes, 60)
    return f"{hours}h {minutes:02d}m" if hours else f"{minutes}m {secs:02d}s"
