"""Run a whole notebook headless on any kernel, as ``neuralis run`` does."""

from __future__ import annotations

from dataclasses import dataclass
from pathlib import Path

import nbformat
from nbformat import NotebookNode

from neuralis.config import Settings
from neuralis.errors import NeuralisError
from neuralis.execution import Broker, RunRecord
from neuralis.kernels import Kernel, connect

SKIP_TAG = "skip-execution"
RAISES_TAG = "raises-exception"


@dataclass(frozen=True)
class CellFailure:
    """The cell that stopped a run, and why."""

    index: int
    ename: str
    evalue: str


@dataclass(frozen=True)
class RunResult:
    """What a headless run did."""

    executed: int
    failure: CellFailure | None


def runnable(cell: NotebookNode) -> bool:
    """Tell whether a cell is executed: code, not empty, not tagged ``skip-execution``."""
    tags = cell.get("metadata", {}).get("tags", [])
    return cell.cell_type == "code" and bool(cell.source.strip()) and SKIP_TAG not in tags


def run_notebook(
    nb: NotebookNode,
    *,
    spec: str = "local",
    cwd: Path | None = None,
    timeout: float | None = None,
    allow_errors: bool = False,
    settings: Settings | None = None,
    kernel: Kernel | None = None,
) -> RunResult:
    """Execute ``nb`` in place on a fresh kernel that is shut down before returning.

    Raises KernelError (died, timed out, failed to start) or GatewayError/DockerError for
    infrastructure failures; a cell raising is reported in the result, not raised. Either
    way ``nb`` holds everything that ran, stopped or not: the cells before, and the outputs
    the failed cell had made, with an error output naming what stopped it (papermill's
    convention), so the caller can write it. ``kernel``, when given (perhaps already
    launched), is used and shut down like our own.
    """

    def factory(spec: str, cwd: Path | None) -> Kernel:
        return kernel or connect(spec, cwd=cwd, settings=settings, headless=True)

    broker = Broker(settings, kernel_factory=factory, confirm_gateways=False)  # the CLI warns
    key = f"run:{id(nb)}"
    broker.attach(key, spec, cwd, stdin=False)
    cells = [(i, c) for i, c in enumerate(nb.cells) if runnable(c)]
    allowed = {c.id for _, c in cells if allow_errors or RAISES_TAG in c.metadata.get("tags", [])}
    try:
        broker.run_many(
            key, [(c.id, c.source) for _, c in cells], allow_errors=allowed, timeout=timeout
        )
        executed: list[NotebookNode] = []
        failure = None
        broken: tuple[int, NotebookNode, NeuralisError] | None = None
        try:
            for index, cell in cells:
                rec = broker.wait(key, cell.id)
                if rec.status == "interrupted" and rec.started_at is None:
                    break  # dropped after an earlier failure
                executed.append(cell)
                if rec.failure is not None:  # the kernel, not the cell, failed
                    broken = (index, cell, rec.failure)
                    break
                failure = _failure(index, rec)
                if failure is not None and cell.id not in allowed:
                    break
                failure = None
        finally:
            # Stored at the end: a later cell may update an earlier cell's display.
            records = broker.records(key)
            for cell in executed:
                _store(cell, records[cell.id])
        if broken is not None:
            index, cell, exc = broken
            cell.outputs.append(_stopped(exc))
            raise type(exc)(f"Cell {index + 1}: {exc}") from exc
        return RunResult(len(executed), failure)
    finally:
        broker.shutdown_all(wait=True)


def _store(cell: NotebookNode, rec: RunRecord) -> None:
    cell.outputs = list(rec.outputs.outputs)
    cell.execution_count = rec.execution_count


def _stopped(exc: NeuralisError) -> NotebookNode:
    """Return the error output that marks the cell a kernel failure stopped."""
    name = type(exc).__name__
    output: NotebookNode = nbformat.v4.new_output(
        "error", ename=name, evalue=str(exc), traceback=[f"{name}: {exc}"]
    )
    return output


def _failure(index: int, rec: RunRecord) -> CellFailure | None:
    if rec.status == "done":
        return None
    for out in rec.outputs.outputs:
        if out.output_type == "error":
            return CellFailure(index, out.ename, out.evalue)
    return CellFailure(index, "Error", "the kernel reported an error")
