"""Run a whole notebook headless on any kernel, as ``neuralis run`` does."""

from __future__ import annotations

from dataclasses import dataclass
from pathlib import Path

from nbformat import NotebookNode

from neuralis.config import Settings
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
    infrastructure failures; a cell raising is reported in the result, not raised.
    ``kernel``, when given (perhaps already launched), is used and shut down like our own.
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
        try:
            for index, cell in cells:
                rec = broker.wait(key, cell.id)
                if rec.status == "interrupted" and rec.started_at is None:
                    break  # dropped after an earlier failure
                executed.append(cell)
                failure = _failure(index, rec)
                if failure is not None and cell.id not in allowed:
                    break
                failure = None
        finally:
            # Stored at the end: a later cell may update an earlier cell's display.
            records = broker.records(key)
            for cell in executed:
                _store(cell, records[cell.id])
        return RunResult(len(executed), failure)
    finally:
        broker.shutdown_all(wait=True)


def _store(cell: NotebookNode, rec: RunRecord) -> None:
    cell.outputs = list(rec.outputs.outputs)
    cell.execution_count = rec.execution_count


def _failure(index: int, rec: RunRecord) -> CellFailure | None:
    if rec.status == "done":
        return None
    if rec.failure is not None:  # the kernel, not the cell, failed: raise it as such
        raise type(rec.failure)(f"Cell {index + 1}: {rec.failure}") from rec.failure
    for out in rec.outputs.outputs:
        if out.output_type == "error":
            return CellFailure(index, out.ename, out.evalue)
    return CellFailure(index, "Error", "the kernel reported an error")
