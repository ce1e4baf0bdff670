"""Run a whole notebook headless on any kernel, as ``neuralis run`` does."""

from __future__ import annotations

import time
from dataclasses import dataclass
from pathlib import Path

import nbformat
from nbformat import NotebookNode

from neuralis.config import Settings
from neuralis.errors import NeuralisError
from neuralis.execution import Broker, RunRecord, store_run
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

    def stored(_key: str, records: list[RunRecord]) -> None:
        for rec in records:  # the same path as the app's: each run as it finishes
            store_run(nb, rec)

    broker = Broker(
        settings, kernel_factory=factory, confirm_gateways=False, on_finished=stored
    )  # the CLI warns about gateways itself
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
            # The hook stores each run (and display updates of earlier cells) before the
            # notebook counts as idle: wait for that before touching the cells here.
            deadline = time.monotonic() + 10  # a cell still running (Ctrl-C) stops below
            while broker.busy(key) and time.monotonic() < deadline:
                time.sleep(0.01)
        if broken is not None:
            index, cell, exc = broken
            cell.outputs.append(_stopped(exc))
            raise type(exc)(f"Cell {index + 1}: {exc}") from exc
        return RunResult(len(executed), failure)
    finally:
        broker.shutdown_all(wait=True)


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
