"""The size a notebook may have, and cutting outputs so a save never exceeds it.

The app refuses to open files over :data:`MAX_NOTEBOOK_BYTES`, so it must never write one:
when a notebook's outputs would take it over, the largest outputs are cut (a stream keeps
its beginning) and each cut output says how much was left out and why.
"""

from __future__ import annotations

import json
from collections.abc import Callable
from typing import Any

from nbformat import NotebookNode

MAX_NOTEBOOK_BYTES = 32 * 1024 * 1024
"""Larger files are not opened (only offered with their outputs cleared)."""
MAX_DEPTH = 100
"""JSON nested deeper than this is refused: no notebook needs it, and Python would recurse."""


def megabytes(size: int) -> str:
    """Return a byte count as people read file sizes (``55.1 MB``)."""
    return f"{size / 2**20:.1f} MB" if size < 10 * 2**20 else f"{size / 2**20:.0f} MB"


def fit_outputs(
    nb: NotebookNode, serialise: Callable[[NotebookNode], bytes], limit: int = MAX_NOTEBOOK_BYTES
) -> bytes:
    """Return the notebook's bytes, at most ``limit`` long, cutting outputs in ``nb`` itself.

    Outputs are capped at one common size, the largest that lets the file fit: smaller
    outputs stay whole, larger ones keep their beginning and say what was cut. The cut is
    made in ``nb``, so the notebook shown is the one saved. A notebook whose sources alone
    are too large is left as it is (the caller refuses to write it).
    """
    data = serialise(nb)
    for _ in range(4):  # sizes are estimated: measure again, cut again
        if len(data) <= limit:
            break
        _cap_outputs(nb, len(data) - limit + 256 * 1024)  # room for the notes
        data = serialise(nb)
    return data


def _cap_outputs(nb: NotebookNode, excess: int) -> None:
    """Cut the largest outputs to one common size so that ``excess`` bytes go."""
    found = [
        (file_bytes(o), cell, i)
        for cell in nb.cells
        for i, o in enumerate(cell.get("outputs") or [])
    ]
    found.sort(key=lambda f: f[0])
    budget = sum(size for size, _, _ in found) - excess
    for k, (size, _, _) in enumerate(found):
        if size * (len(found) - k) > budget:
            cap = max(0, budget // (len(found) - k))
            break
        budget -= size
    else:
        return
    for size, cell, i in found[k:]:
        if size > max(cap, 4096):
            cell["outputs"][i] = _cut(cell["outputs"][i], size, keep=cap)


def file_bytes(output: Any) -> int:
    """Estimate what an output takes in the file: nbformat writes each line of a text
    as its own indented string, about 10 bytes more per line than compact JSON."""
    compact = json.dumps(output, ensure_ascii=False)
    return len(compact.encode("utf-8")) + 10 * compact.count("\\n")


def _cut(output: NotebookNode, size: int, keep: int) -> NotebookNode:
    """Return the output cut to about ``keep`` bytes of the file, saying what was left out."""
    text = _plain_text(output)
    per_char = max(1.0, size / max(1, len(text)))  # escapes, line layout, other MIME types
    kept = text[: int(keep / per_char * 0.95)]
    if output.get("output_type") == "stream":
        what = (
            f"The last {megabytes(len(text) - len(kept))} of this output's {megabytes(len(text))}"
        )
    else:
        what = f"This {megabytes(size)} output (only its beginning as text is kept)"
    note = (
        f"[Neuralis: {what} were not saved, to keep the notebook under "
        f"{megabytes(MAX_NOTEBOOK_BYTES)}, the size it can open. Run the cell again to see it "
        "whole, or write large results to a file.]\n"
    )
    body = (kept.rstrip("\n") + "\n" if kept else "") + note
    return NotebookNode(output_type="stream", name="stdout", text=body)


def _plain_text(output: dict[str, Any]) -> str:
    if output.get("output_type") == "stream":
        return _joined(output.get("text"))
    if output.get("output_type") == "error":
        return f"{output.get('ename')}: {output.get('evalue')}"
    return _joined((output.get("data") or {}).get("text/plain"))


def _joined(value: Any) -> str:
    return "".join(map(str, value)) if isinstance(value, list) else str(value or "")


def too_deep(value: Any, limit: int = MAX_DEPTH) -> bool:
    """Tell whether parsed JSON nests deeper than ``limit`` (walked without recursion)."""
    if not isinstance(value, dict | list):
        return False
    stack: list[tuple[Any, int]] = [(value, 1)]
    while stack:
        node, depth = stack.pop()
        children = node.values() if isinstance(node, dict) else node
        for child in children:
            if isinstance(child, dict | list):
                if depth + 1 > limit:
                    return True
                stack.append((child, depth + 1))
    return False
