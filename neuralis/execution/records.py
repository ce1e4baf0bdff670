"""Run records as a book: what each cell of a notebook ran, runs and waits for.

Pure bookkeeping on values: no threads, no kernels, no lock. The broker keeps one
:class:`RunBook` per notebook and changes it only under its own lock.
"""

from __future__ import annotations

import time
from collections import deque
from collections.abc import Iterable
from dataclasses import dataclass, field, replace
from typing import Literal

from nbformat import NotebookNode

from neuralis.errors import NeuralisError
from neuralis.messages import Msg
from neuralis.notebook.cells import set_outputs
from neuralis.outputs import CellOutputs, DisplayUpdate, apply_display_update, reduce

RunStatus = Literal["queued", "running", "done", "error", "interrupted"]
Spread = dict[str, tuple[CellOutputs, CellOutputs]]
"""What a display update did to other cells: {cell id: (outputs before, outputs after)}."""


@dataclass(frozen=True)
class RunRecord:
    """One run of one cell, as far as it has got."""

    notebook: str
    cell_id: str
    code: str
    status: RunStatus = "queued"
    outputs: CellOutputs = field(default_factory=CellOutputs)
    queued_at: float = field(default_factory=time.time)
    started_at: float | None = None
    ended_at: float | None = None
    message: str | None = None
    """Why the run ended badly when the cell itself could not say (kernel died, timeout)."""
    input_prompt: tuple[str, bool] | None = None
    """An ``input()`` waiting for :meth:`Broker.answer_input`: (prompt, password)."""
    allow_error: bool = False
    failure: NeuralisError | None = field(default=None, compare=False)
    """The infrastructure error behind ``message`` (KernelDied, KernelTimeout, ...)."""

    @property
    def execution_count(self) -> int | None:
        """Return the count the kernel gave this run."""
        return self.outputs.execution_count

    @property
    def finished(self) -> bool:
        """Tell whether the run is over."""
        return self.status in ("done", "error", "interrupted")

    @property
    def duration(self) -> float | None:
        """Return seconds spent running (so far, while it runs)."""
        if self.started_at is None:
            return None
        return (self.ended_at or time.time()) - self.started_at


def store_run(nb: NotebookNode, rec: RunRecord) -> bool:
    """Copy a run's outputs and count into its cell; return whether the cell changed.

    The one way runs reach a notebook: the app's documents and ``neuralis run`` both call it
    from the broker's finished-run hook. A run dropped before it started changes nothing.
    """
    if rec.started_at is None:
        return False
    try:
        set_outputs(nb, rec.cell_id, rec.outputs.outputs, rec.execution_count)
    except KeyError:
        return False  # the cell was deleted while it ran
    return True


def outcome(reply_status: str, ename: object) -> RunStatus:
    """Return how a run ended from its execute reply (a ``KeyboardInterrupt`` interrupted it)."""
    if reply_status == "ok":
        return "done"
    return "interrupted" if ename == "KeyboardInterrupt" else "error"


def spread_update(others: Iterable[tuple[str, CellOutputs]], update: DisplayUpdate) -> Spread:
    """Apply a display update to other cells' outputs; return those it changed."""
    changed = {}
    for cid, old in others:
        new = apply_display_update(old, update)
        if new is not old:
            changed[cid] = (old, new)
    return changed


class RunBook:
    """One notebook's run records, its queue of cells and the cell that runs."""

    def __init__(self) -> None:
        self.records: dict[str, RunRecord] = {}
        self.queue: deque[str] = deque()
        self.running: str | None = None
        self.spread: set[str] = set()
        """Cells whose record a display update of the running cell rewrote."""

    def enqueue(
        self, notebook: str, cells: Iterable[tuple[str, str]], allowed: set[str]
    ) -> list[RunRecord]:
        """Queue cells in order with fresh records; skip those already queued or running."""
        queued = []
        for cell_id, code in cells:
            if cell_id in self.queue or self.running == cell_id:
                continue  # already on its way: running it twice helps nobody
            rec = RunRecord(notebook, cell_id, code, allow_error=cell_id in allowed)
            self.records[cell_id] = rec
            self.queue.append(cell_id)
            queued.append(rec)
        return queued

    def drop_queue(self, why: str) -> None:
        """Empty the queue; each dropped cell's record says ``why`` it did not run."""
        while self.queue:
            cid = self.queue.popleft()
            rec = self.records.get(cid)
            if rec is not None and rec.status == "queued":
                self.records[cid] = replace(
                    rec, status="interrupted", message=why, ended_at=time.time()
                )

    def take(self) -> RunRecord | None:
        """Start the next queued cell's run and return its record; None when none waits."""
        if not self.queue:
            return None
        cid = self.queue.popleft()
        rec = replace(self.records[cid], status="running", started_at=time.time())
        self.records[cid] = rec
        self.running = cid
        return rec

    def interrupt(self, cell_id: str, why: str) -> None:
        """End a cell's run as interrupted, saying ``why``."""
        rec = self.records[cell_id]
        self.records[cell_id] = replace(
            rec, status="interrupted", message=why, ended_at=time.time()
        )

    def finish(self, cell_id: str, status: RunStatus, execution_count: int | None) -> RunRecord:
        """End a cell's run with ``status`` and the kernel's count; return its record."""
        current = self.records[cell_id]
        outputs = current.outputs
        if execution_count is not None:
            outputs = replace(outputs, execution_count=execution_count)
        rec = replace(
            current, status=status, outputs=outputs, ended_at=time.time(), input_prompt=None
        )
        self.records[cell_id] = rec
        return rec

    def fail(self, cell_id: str, exc: NeuralisError) -> None:
        """End a cell's run in error for ``exc``, an infrastructure failure, not the cell's."""
        rec = self.records[cell_id]
        self.records[cell_id] = replace(
            rec,
            status="error",
            message=str(exc),
            failure=exc,
            ended_at=time.time(),
            input_prompt=None,
        )

    def ask(self, cell_id: str, prompt: tuple[str, bool] | None) -> None:
        """Show (or, with None, take away) the ``input()`` prompt a cell waits on."""
        self.records[cell_id] = replace(self.records[cell_id], input_prompt=prompt)

    def others(self, origin: str) -> list[tuple[str, CellOutputs]]:
        """Return every other cell's outputs (what a display update of ``origin`` may touch)."""
        return [(cid, r.outputs) for cid, r in self.records.items() if cid != origin]

    def publish(
        self,
        cell_id: str,
        base: CellOutputs,
        msg: Msg,
        outputs: CellOutputs,
        spread: Spread,
        update: DisplayUpdate | None,
    ) -> bool:
        """Put ``outputs`` (``msg`` reduced into ``base``) and a display update's ``spread``
        into the records; return False when the cell's record is gone.

        Should the cell's outputs no longer be ``base``, ``msg`` is reduced into what they are,
        and a spread cell run again meanwhile gets the update applied afresh: no output lost.
        """
        rec = self.records.get(cell_id)
        if rec is None:
            return False
        if rec.outputs is not base:  # never expected; correct rather than lose output
            outputs = reduce(rec.outputs, msg)
        self.records[cell_id] = replace(rec, outputs=outputs)
        for cid, (old, new) in spread.items():
            other = self.records.get(cid)
            if other is None:
                continue  # cleared meanwhile
            if other.outputs is not old and update is not None:  # a new run meanwhile
                new = apply_display_update(other.outputs, update)
            self.records[cid] = replace(other, outputs=new)
            self.spread.add(cid)  # stored again when this run finishes
        return True

    def changed_by(self, cell_id: str) -> list[RunRecord]:
        """Return the records a finished run changed, its own first, and forget the spread."""
        cells = [cell_id, *(c for c in self.spread if c != cell_id)]
        changed = [self.records[c] for c in cells if c in self.records]
        self.spread.clear()
        return changed

    def clear(self, cell_ids: Iterable[str] | None = None) -> None:
        """Forget finished records (all, or of some cells)."""
        for cid in list(self.records if cell_ids is None else cell_ids):
            rec = self.records.get(cid)
            if rec is not None and rec.finished:
                del self.records[cid]

    def rename(self, notebook: str) -> None:
        """Give every record the notebook's new key."""
        self.records = {cid: replace(r, notebook=notebook) for cid, r in self.records.items()}
