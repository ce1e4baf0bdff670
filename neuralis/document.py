"""An open notebook: the file, its in-memory cells, saving without trampling others.

A browser session holds one :class:`Document`. Run records live in the broker (shared by
every tab); a finished record is merged into the cells once and the file is saved.
"""

from __future__ import annotations

import json
import time
from dataclasses import dataclass, field
from pathlib import Path

from nbformat import NotebookNode

from neuralis.errors import NotebookChangedOnDisk
from neuralis.execution import RunRecord
from neuralis.notebook import Fingerprint, fingerprint, read_notebook, write_notebook
from neuralis.notebook.cells import set_outputs
from neuralis.workspace import Workspace, kernel_of, set_kernel


def content_key(nb: NotebookNode) -> str:
    """Return what a person wrote in a notebook (cells and metadata, not outputs)."""
    cells = [(c.get("id"), c.cell_type, c.source, c.get("metadata", {})) for c in nb.cells]
    return json.dumps([cells, nb.metadata], sort_keys=True, default=str)


@dataclass
class Document:
    """One notebook opened by one browser session."""

    name: str
    path: Path
    nb: NotebookNode
    fp: Fingerprint | None
    base: str
    conflict: str | None = None
    saved_at: float | None = None
    merged: dict[str, float] = field(default_factory=dict)
    """Cell id -> ``queued_at`` of the run record already copied into the cell."""
    generation: int = 0
    """Bumped when the cells are replaced from disk, so editors are recreated."""

    @classmethod
    def open(cls, workspace: Workspace, name: str) -> Document:
        """Read a notebook of the workspace."""
        path = workspace.path(name)
        fp = fingerprint(path)
        nb = read_notebook(path)
        return cls(path.name, path, nb, fp, content_key(nb))

    @property
    def key(self) -> str:
        """Return the broker's key for this notebook (shared by every tab)."""
        return str(self.path)

    @property
    def kernel(self) -> str:
        """Return the kernel spec the notebook asks for."""
        return kernel_of(self.nb)

    def set_kernel(self, spec: str) -> bool:
        """Remember the kernel in the notebook and save; return whether it changed."""
        changed = set_kernel(self.nb, spec)
        if changed:
            self.save()
        return changed

    def save(self, *, force: bool = False) -> bool:
        """Write the file atomically; on a real conflict keep it and set ``conflict``."""
        if self.conflict and not force:
            return False
        try:
            self.fp = write_notebook(self.nb, self.path, expected=None if force else self.fp)
        except NotebookChangedOnDisk as exc:
            if not self._only_outputs_changed():
                self.conflict = str(exc)
                return False
            self.fp = write_notebook(self.nb, self.path)
        self.base = content_key(self.nb)
        self.conflict = None
        self.saved_at = time.time()
        return True

    def _only_outputs_changed(self) -> bool:
        """Tell whether the file on disk differs from our last save only in outputs.

        Another tab of the same notebook saves the same run outputs; that is no conflict.
        """
        try:
            disk = read_notebook(self.path)
        except Exception:
            return False
        return content_key(disk) == self.base

    def reload(self) -> None:
        """Replace the cells with the file on disk (dropping unsaved edits)."""
        self.fp = fingerprint(self.path)
        self.nb = read_notebook(self.path)
        self.base = content_key(self.nb)
        self.conflict = None
        self.generation += 1

    def merge(self, rec: RunRecord) -> bool:
        """Copy a finished run into its cell once; return whether the cell changed."""
        if not rec.finished or self.merged.get(rec.cell_id) == rec.queued_at:
            return False
        self.merged[rec.cell_id] = rec.queued_at
        if rec.started_at is None:
            return False  # dropped from the queue: the cell keeps its old outputs
        try:
            set_outputs(self.nb, rec.cell_id, rec.outputs.outputs, rec.execution_count)
        except KeyError:
            return False  # the cell was deleted while it ran
        return True

    def merge_all(self, records: dict[str, RunRecord]) -> bool:
        """Merge every finished record; save when anything changed."""
        changed = False
        for rec in records.values():
            changed = self.merge(rec) or changed
        if changed:
            self.save()
        return changed
