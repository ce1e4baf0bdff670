"""Open notebooks: one :class:`Document` per file, shared by every tab that shows it.

The registry (:class:`Documents`) sits beside the broker and is told of every finished run,
so a run's outputs reach the file whether or not a browser tab is open. Every tab edits the
same cells: an edit made in one tab is there for the others the next time they look (the
page watches for it, neuralis/ui/live.py). Two tabs editing the same cell: the later edit
wins and the earlier author is told, with its text kept to restore (:meth:`Document.edit`).
A change made on disk by another program is taken in when nothing here is unsaved, and
otherwise offered as a conflict (reload or overwrite).
"""

from __future__ import annotations

import json
import logging
import threading
import time
from collections.abc import Iterable
from pathlib import Path

from nbformat import NotebookNode

from neuralis.errors import NeuralisError, NotebookChangedOnDisk
from neuralis.execution import Broker, RunRecord, store_run
from neuralis.notebook import Fingerprint, fingerprint, read_notebook, write_notebook
from neuralis.notebook.cells import cell_by_id
from neuralis.notebook.workspace import Workspace, kernel_of, set_kernel

log = logging.getLogger(__name__)

SAVE_DELAY = 0.2
"""Seconds a finished run waits before the file is written: the page draws it first, and
the runs of a "Run all" that finish meanwhile are written together."""
DISK_CHECK = 0.5
"""Seconds between two looks at the file for changes made by another program."""


def content_key(nb: NotebookNode) -> str:
    """Return what a person wrote in a notebook (cells and metadata, not outputs)."""
    cells = [(c.get("id"), c.cell_type, c.source, c.get("metadata", {})) for c in nb.cells]
    return json.dumps([cells, nb.metadata], sort_keys=True, default=str)


def _stat(path: Path) -> tuple[int, int, int] | None:
    try:
        st = path.stat()
    except OSError:
        return None
    return st.st_mtime_ns, st.st_size, st.st_ino


class Document:
    """One notebook file, open for every session that shows it.

    Change ``nb`` under ``lock`` (an edit, a new cell, outputs from the broker's thread),
    then :meth:`save`. Sessions keep their own view state (editors, selection) elsewhere.
    """

    def __init__(self, path: Path, nb: NotebookNode, fp: Fingerprint | None) -> None:
        self.name = path.name
        self.path = path
        self.nb = nb
        self.fp = fp
        self.base = content_key(nb)
        """What the file held when last read or written (without outputs)."""
        self.conflict: str | None = None
        self.saved_at: float | None = None
        self.merged: dict[str, RunRecord] = {}
        """Cell id -> the run record last copied into the cell."""
        self.generation = 0
        """Bumped when the cells are replaced from disk."""
        self.lock = threading.RLock()
        self.authors: dict[str, str] = {}
        """Cell id -> the session that last wrote its text."""
        self.replaced: dict[tuple[str, str], str] = {}
        """(session, cell id) -> that session's text, replaced by a later edit elsewhere."""
        self._unsaved: set[str] = set()
        """Cells whose merged outputs are not in the file yet."""
        self._timer: threading.Timer | None = None
        self._stat = _stat(path)
        self._checked = time.monotonic()

    @classmethod
    def open(cls, workspace: Workspace, name: str) -> Document:
        """Read a notebook of the workspace."""
        return cls.load(workspace.path(name))

    @classmethod
    def load(cls, path: Path) -> Document:
        """Read a notebook file."""
        stat = _stat(path)
        fp = fingerprint(path)
        doc = cls(path, read_notebook(path), fp)
        doc._stat = stat  # as read: a change made after this is noticed
        return doc

    @property
    def key(self) -> str:
        """Return the broker's key for this notebook (shared by every tab)."""
        return str(self.path)

    @property
    def kernel(self) -> str:
        """Return the kernel spec the notebook asks for."""
        return kernel_of(self.nb)

    @property
    def dirty(self) -> bool:
        """Tell whether cells or metadata differ from the file (outputs aside)."""
        with self.lock:
            return content_key(self.nb) != self.base

    def set_kernel(self, spec: str) -> bool:
        """Remember the kernel in the notebook and save; return whether it changed."""
        with self.lock:
            changed = set_kernel(self.nb, spec)
            if changed:
                self.save()
            return changed

    # --- saving ------------------------------------------------------------------------

    def save(self, *, force: bool = False) -> bool:
        """Write the file atomically; on a real conflict keep it and set ``conflict``."""
        with self.lock:
            self._cancel_timer()
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
            self._unsaved.clear()
            self._stat = _stat(self.path)
            return True

    def save_later(self, delay: float = SAVE_DELAY) -> None:
        """Save within ``delay`` seconds (once, however often it is asked meanwhile)."""
        with self.lock:
            if self._timer is None:
                self._timer = threading.Timer(delay, self._save_now)
                self._timer.daemon = True  # Sessions.close flushes it at exit
                self._timer.start()

    def flush(self) -> None:
        """Write a pending save now."""
        with self.lock:
            if self._timer is not None or self._unsaved:
                self._save_quietly()

    def _save_now(self) -> None:
        with self.lock:
            self._timer = None
            self._save_quietly()

    def _save_quietly(self) -> None:
        if not self.path.exists():
            self._cancel_timer()
            return  # renamed or deleted meanwhile: never bring the old name back
        try:
            self.save()
        except NeuralisError as exc:  # e.g. the folder became read-only: the page says so
            self.conflict = self.conflict or f"Saving {self.name} failed: {exc}"
            log.warning("saving %s failed: %s", self.path, exc)

    def _cancel_timer(self) -> None:
        if self._timer is not None:
            self._timer.cancel()
            self._timer = None

    def _only_outputs_changed(self) -> bool:
        """Tell whether the file on disk differs from our last save only in outputs.

        A notebook saved by another copy of the app with the same run outputs is no conflict.
        """
        try:
            disk = read_notebook(self.path)
        except Exception:
            return False
        return content_key(disk) == self.base

    # --- changes from disk -------------------------------------------------------------

    def reload(self) -> None:
        """Replace the cells with the file on disk (dropping unsaved edits).

        Finished runs not written yet are copied into the new cells again.
        """
        with self.lock:
            self._cancel_timer()
            stat = _stat(self.path)
            fp = fingerprint(self.path)
            nb = read_notebook(self.path)
            pending = [self.merged[c] for c in self._unsaved if c in self.merged]
            self.nb, self.fp, self._stat = nb, fp, stat
            self.base = content_key(nb)
            self.conflict = None
            self.generation += 1
            self.merged = {}
            self.authors.clear()
            self._unsaved.clear()
            if any([self.merge(rec) for rec in pending]):
                self.save_later()

    def check_disk(self, min_interval: float = DISK_CHECK) -> bool:
        """Look for a change made by another program; return whether the cells changed.

        Taken in when nothing is unsaved here; otherwise ``conflict`` says so (once).
        """
        with self.lock:
            now = time.monotonic()
            if now - self._checked < min_interval:
                return False
            self._checked = now
            stat = _stat(self.path)
            if stat is None or stat == self._stat:
                return False
            self._stat = stat
            if fingerprint(self.path) == self.fp or self.conflict:
                return False
            if self.dirty:
                self.conflict = (
                    f"{self.name} changed on disk while edits here were not saved; "
                    "reload it or overwrite the file."
                )
                return True
            try:
                self.reload()
            except NeuralisError as exc:
                self.conflict = f"{self.name} changed on disk and cannot be read: {exc}"
            return True

    # --- edits -------------------------------------------------------------------------

    def edit(self, session: str, cell_id: str, text: str, base: str) -> bool:
        """Set a cell's text typed in ``session`` over ``base``; return whether it changed.

        When the cell changed elsewhere since ``base`` (another tab typed in it), this
        later edit wins and the other tab's text is kept in ``replaced`` to restore.
        """
        with self.lock:
            try:
                cell = cell_by_id(self.nb, cell_id)
            except KeyError:
                return False  # deleted in another tab meanwhile
            current = str(cell.source)
            self.replaced.pop((session, cell_id), None)  # this session moved on
            if current == text:
                self.authors[cell_id] = session
                return False
            author = self.authors.get(cell_id)
            if current != base and author is not None and author != session:
                self.replaced[(author, cell_id)] = current
            cell.source = text
            self.authors[cell_id] = session
            return True

    def replaced_text(self, session: str, cell_id: str) -> str | None:
        """Return this session's text of a cell that a later edit elsewhere replaced."""
        with self.lock:
            return self.replaced.get((session, cell_id))

    def dismiss(self, session: str, cell_id: str) -> None:
        """Forget a replaced text (restored, or let go)."""
        with self.lock:
            self.replaced.pop((session, cell_id), None)

    # --- runs --------------------------------------------------------------------------

    def merge(self, rec: RunRecord, *, partial: bool = False) -> bool:
        """Copy a finished run (or, with ``partial``, a run so far) into its cell once.

        Return whether the cell changed.
        """
        with self.lock:
            if (not rec.finished and not partial) or self.merged.get(rec.cell_id) is rec:
                return False
            self.merged[rec.cell_id] = rec
            if not store_run(self.nb, rec):
                return False  # dropped from the queue, or the cell deleted while it ran
            self._unsaved.add(rec.cell_id)
            return True

    def merge_all(self, records: dict[str, RunRecord]) -> bool:
        """Merge every finished record; save when anything changed."""
        with self.lock:
            changed = False
            for rec in records.values():
                changed = self.merge(rec) or changed
            if changed:
                self.save()
            return changed

    def finished(self, records: Iterable[RunRecord]) -> None:
        """Store finished runs (from the broker's thread) and save shortly."""
        with self.lock:
            if any([self.merge(rec) for rec in records]):
                self.save_later()


class Documents:
    """The open documents of the process, one per notebook path, beside the broker.

    It is the broker's finished-run hook: a run that ends is written into its file even when
    no tab shows the notebook any more (the document is read from disk again if needed).
    """

    def __init__(self, broker: Broker) -> None:
        self.broker = broker
        self._lock = threading.Lock()
        self._docs: dict[str, Document] = {}
        broker.on_finished = self._finished

    def open(self, workspace: Workspace, name: str) -> Document:
        """Return the shared document of a workspace notebook, reading it if needed."""
        path = workspace.path(name)
        with self._lock:
            doc = self._docs.get(str(path))
        if doc is not None and doc.path.is_file():
            doc.check_disk(min_interval=0)
            return doc
        doc = Document.open(workspace, name)
        with self._lock:
            self._docs[doc.key] = doc
        return doc

    def get(self, key: str) -> Document | None:
        """Return the open document of a notebook path, if one is open."""
        with self._lock:
            return self._docs.get(key)

    def all(self) -> list[Document]:
        """Return every open document."""
        with self._lock:
            return list(self._docs.values())

    def rename(self, key: str, path: Path) -> None:
        """Follow a notebook file to its new name (its tabs and pending runs go along)."""
        with self._lock:
            doc = self._docs.pop(key, None)
            if doc is None:
                return
            with doc.lock:
                doc.path, doc.name = path, path.name
                doc._stat = _stat(path)
            self._docs[doc.key] = doc

    def forget(self, key: str) -> None:
        """Close a document whose file went away (renamed or deleted)."""
        with self._lock:
            doc = self._docs.pop(key, None)
        if doc is not None:
            with doc.lock:
                doc._cancel_timer()

    def drop_idle(self, key: str) -> None:
        """Close a document nobody shows, once everything is written and nothing runs."""
        doc = self.get(key)
        if doc is None or self.broker.busy(key):
            return
        doc.flush()
        with doc.lock, self._lock:
            if not doc.conflict and not doc._unsaved and doc._timer is None:
                self._docs.pop(key, None)

    def flush_all(self) -> None:
        """Write every pending save."""
        for doc in self.all():
            doc.flush()

    def store_partial(self) -> None:
        """Copy what unfinished runs have printed so far into their cells (at exit)."""
        for key in self.broker.notebooks():
            doc = self.get(key)
            records = [r for r in self.broker.records(key).values() if not r.finished]
            if doc is not None and records:
                for rec in records:
                    doc.merge(rec, partial=True)

    def _finished(self, key: str, records: list[RunRecord]) -> None:
        doc = self.get(key)
        if doc is None:
            path = Path(key)
            if not path.is_file():
                return  # not a notebook file (a headless run) or gone
            try:
                doc = Document.load(path)
            except NeuralisError as exc:
                log.warning("cannot store the run of %s: %s", key, exc)
                return
            with self._lock:
                doc = self._docs.setdefault(key, doc)
        doc.finished(records)
