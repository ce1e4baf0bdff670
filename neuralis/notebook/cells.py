"""Cell operations on an nbformat notebook, in place; no kernels, no Streamlit."""

from __future__ import annotations

import contextlib
import copy
import re
import uuid
from collections.abc import Callable, Sequence
from dataclasses import dataclass
from typing import Any, Literal

import nbformat
from nbformat import NotebookNode

CellType = Literal["code", "markdown"]

# nbformat is untyped: give the three functions used here their types once.
_new_code: Callable[[str], NotebookNode] = nbformat.v4.new_code_cell
_new_markdown: Callable[[str], NotebookNode] = nbformat.v4.new_markdown_cell
_from_dict: Callable[[Any], NotebookNode] = nbformat.from_dict


def new_cell(kind: CellType = "code", source: str = "") -> NotebookNode:
    """Return a new cell with a fresh id."""
    cell = (_new_code if kind == "code" else _new_markdown)(source)
    cell["id"] = uuid.uuid4().hex[:8]
    return cell


def index_of(nb: NotebookNode, cell_id: str) -> int:
    """Return the position of a cell; raise KeyError when it is not there."""
    for i, cell in enumerate(nb.cells):
        if cell.get("id") == cell_id:
            return i
    raise KeyError(cell_id)


def cell_by_id(nb: NotebookNode, cell_id: str) -> NotebookNode:
    """Return the cell with that id."""
    cell: NotebookNode = nb.cells[index_of(nb, cell_id)]
    return cell


def insert_cell(nb: NotebookNode, index: int, kind: CellType = "code", source: str = "") -> str:
    """Insert a new cell at ``index`` (clamped); return its id."""
    cell = new_cell(kind, source)
    nb.cells.insert(max(0, min(index, len(nb.cells))), cell)
    return str(cell["id"])


def insert_near(nb: NotebookNode, cell_id: str, where: Literal["above", "below"]) -> str:
    """Insert a code cell above or below a cell; return the new id."""
    i = index_of(nb, cell_id)
    return insert_cell(nb, i if where == "above" else i + 1)


@dataclass(frozen=True)
class Deleted:
    """A deleted cell and where it stood, enough to put it back."""

    index: int
    cell: NotebookNode
    placeholder: str | None = None
    """The empty cell added because the notebook would have had none."""


def delete_cell(nb: NotebookNode, cell_id: str) -> Deleted:
    """Remove a cell; a notebook never becomes empty (an empty code cell stays)."""
    i = index_of(nb, cell_id)
    cell = nb.cells.pop(i)
    placeholder = insert_cell(nb, 0) if not nb.cells else None
    return Deleted(i, cell, placeholder)


def restore_cell(nb: NotebookNode, deleted: Deleted) -> str:
    """Put a deleted cell back where it was (or as near as the notebook allows).

    The empty placeholder the deletion left goes again, unless someone wrote in it. A cell
    whose id came back meanwhile (another tab) is restored under a fresh id. Return its id.
    """
    cell = deleted.cell
    if deleted.placeholder is not None:
        with contextlib.suppress(KeyError):
            stand_in = cell_by_id(nb, deleted.placeholder)
            if not stand_in.source and not stand_in.get("outputs"):
                nb.cells.remove(stand_in)
    if any(c.get("id") == cell.get("id") for c in nb.cells):
        cell = copy.deepcopy(cell)
        cell["id"] = uuid.uuid4().hex[:8]
    nb.cells.insert(max(0, min(deleted.index, len(nb.cells))), cell)
    return str(cell["id"])


def move_cell(nb: NotebookNode, cell_id: str, delta: int) -> bool:
    """Move a cell up (negative) or down; return False when it is already at the edge."""
    i = index_of(nb, cell_id)
    j = max(0, min(i + delta, len(nb.cells) - 1))
    if i == j:
        return False
    nb.cells.insert(j, nb.cells.pop(i))
    return True


def change_type(nb: NotebookNode, cell_id: str, kind: CellType) -> bool:
    """Turn a cell into code or markdown, keeping id, source and metadata."""
    i = index_of(nb, cell_id)
    old = nb.cells[i]
    if old.cell_type == kind:
        return False
    cell = new_cell(kind, old.source)
    cell["id"] = old["id"]
    cell["metadata"] = old.get("metadata", {})
    nb.cells[i] = cell
    return True


def set_source(nb: NotebookNode, cell_id: str, source: str) -> bool:
    """Replace a cell's text; return whether it changed."""
    cell = cell_by_id(nb, cell_id)
    if cell.source == source:
        return False
    cell.source = source
    return True


def set_outputs(
    nb: NotebookNode,
    cell_id: str,
    outputs: Sequence[NotebookNode],
    execution_count: int | None,
) -> None:
    """Store a run's outputs and count in a code cell."""
    cell = cell_by_id(nb, cell_id)
    if cell.cell_type != "code":
        return
    cell.outputs = [_from_dict(dict(o)) for o in outputs]
    cell.execution_count = execution_count


def clear_outputs(nb: NotebookNode) -> None:
    """Remove every output and execution count."""
    for cell in nb.cells:
        if cell.cell_type == "code":
            cell.outputs = []
            cell.execution_count = None


def code_cells(nb: NotebookNode, start: int = 0, stop: int | None = None) -> list[tuple[str, str]]:
    """Return (id, source) of the non-empty code cells in ``nb.cells[start:stop]``."""
    return [
        (str(c["id"]), c.source)
        for c in nb.cells[start:stop]
        if c.cell_type == "code" and c.source.strip()
    ]


def tagged(nb: NotebookNode, tag: str) -> set[str]:
    """Return the ids of the cells carrying a tag (e.g. ``raises-exception``)."""
    return {str(c["id"]) for c in nb.cells if tag in c.get("metadata", {}).get("tags", [])}


_HEADING = re.compile(r"^(#{1,6})\s+(.+?)\s*#*\s*$")


def headings(nb: NotebookNode) -> list[tuple[str, int, str]]:
    """Return the Markdown headings as (cell id, level, text), in order, outside code blocks."""
    found: list[tuple[str, int, str]] = []
    for cell in nb.cells:
        if cell.cell_type != "markdown":
            continue
        fenced = False
        for line in str(cell.source).splitlines():
            if line.lstrip().startswith(("```", "~~~")):
                fenced = not fenced
            elif not fenced and (m := _HEADING.match(line)):
                found.append((str(cell["id"]), len(m.group(1)), m.group(2)))
    return found
