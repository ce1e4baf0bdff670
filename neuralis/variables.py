"""What the kernel's user namespace holds: name, type, shape or length, size.

The kernel runs :data:`CODE` silently (no execution count, no history, no ``_`` or ``Out``):
one expression statement that executes its helper in a namespace of its own, so nothing is
added to the user's variables. It prints one line, a marker and JSON, which :func:`parse`
reads. Pure: no kernel, no Streamlit.
"""

from __future__ import annotations

import base64
import json
from dataclasses import dataclass

MARKER = "\x1eneuralis-variables:"
LIMIT = 300
"""At most this many variables are listed (the rest are counted)."""

_HELPER = f"""
import json, sys, types
HIDDEN = {{"In", "Out", "exit", "quit", "get_ipython"}}
SKIP = (types.ModuleType, types.FunctionType, types.BuiltinFunctionType, type, types.MethodType)
def describe(name, value):
    kind = type(value)
    label = kind.__name__ if kind.__module__ in ("builtins", "__main__") else (
        kind.__module__.split(".")[0] + "." + kind.__name__)
    shape = getattr(value, "shape", None)
    if isinstance(shape, tuple) and all(isinstance(n, int) for n in shape):
        extent = " x ".join(str(n) for n in shape) or "scalar"
    else:
        try:
            extent = str(len(value)) if hasattr(kind, "__len__") else ""
        except Exception:
            extent = ""
    size = getattr(value, "nbytes", None)
    if not isinstance(size, int):
        try:
            size = sys.getsizeof(value)
        except Exception:
            size = None
    return [name, label, extent, size]
rows, more = [], 0
for name, value in list(ns.items()):
    if name.startswith("_") or name in HIDDEN or isinstance(value, SKIP):
        continue
    if len(rows) >= {LIMIT}:
        more += 1
        continue
    try:
        rows.append(describe(name, value))
    except Exception:
        rows.append([name, "?", "", None])
print({MARKER!r} + json.dumps({{"rows": rows, "more": more}}))
"""

CODE = (
    "exec(__import__('base64').b64decode("
    f"{base64.b64encode(_HELPER.encode()).decode()!r}).decode(), {{'ns': globals()}})"
)
"""One statement for a silent execute; it binds no name in the user's namespace."""


@dataclass(frozen=True)
class Variable:
    """One variable of the kernel's namespace."""

    name: str
    type: str
    extent: str
    """The shape (``3 x 4``) or the length, or empty."""
    size: int | None
    """Bytes: ``nbytes`` for arrays and frames, else ``sys.getsizeof`` (shallow)."""


@dataclass(frozen=True)
class Variables:
    """What :data:`CODE` printed: the variables (sorted by name) and how many more there are."""

    rows: tuple[Variable, ...]
    more: int = 0


def parse(stdout: str) -> Variables | None:
    """Read the line :data:`CODE` printed; None when there is none or it is not ours."""
    for line in stdout.split("\n"):  # not splitlines(): the marker is a separator to it
        if not line.startswith(MARKER):
            continue
        try:
            data = json.loads(line[len(MARKER) :])
            rows = tuple(
                Variable(str(r[0]), str(r[1]), str(r[2]), r[3] if isinstance(r[3], int) else None)
                for r in data["rows"]
            )
            return Variables(tuple(sorted(rows, key=lambda v: v.name)), int(data.get("more", 0)))
        except (ValueError, KeyError, IndexError, TypeError):
            return None
    return None


def human_size(size: int | None) -> str:
    """Return ``1.5 KB``-style text for a byte count (empty when unknown)."""
    if size is None:
        return ""
    value = float(size)
    for unit in ("B", "KB", "MB", "GB"):
        if value < 1024 or unit == "GB":
            return f"{value:.0f} {unit}" if unit == "B" else f"{value:.1f} {unit}"
        value /= 1024
    return ""
