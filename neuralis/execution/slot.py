"""A notebook's kernel slot: the kernel, its status, its run book and the worker's signals.

Guarded by the broker's lock; the events and the driving lock are what threads wait on
outside it. A kernel's status changes only in :meth:`KernelSlot.become`.
"""

from __future__ import annotations

import contextlib
import threading
from pathlib import Path
from typing import Literal

from neuralis.errors import NeuralisError
from neuralis.execution.records import RunBook
from neuralis.kernels import Kernel

KernelStatus = Literal["none", "starting", "idle", "busy", "dead"]


class KernelSlot:
    """One notebook's kernel, status, run book and worker thread; guarded by the broker's lock."""

    def __init__(self, key: str, spec: str, cwd: Path | None) -> None:
        self.key = key
        self.spec = spec
        self.cwd = cwd
        self.kernel: Kernel | None = None
        self.status: KernelStatus = "none"
        self.error: str | None = None
        self.book = RunBook()
        self.worker: threading.Thread | None = None
        self.answer: str | None = None
        self.answered = threading.Event()
        self.timeout: float | None = None
        self.stop_on_error = True
        self.allow_stdin = True
        self.cancel = False
        """Set by an interrupt that came while the kernel was still starting."""
        self.ready = threading.Event()
        """Cleared while the kernel restarts: the worker waits before taking the next cell."""
        self.ready.set()
        self.confirmed: set[str] = set()
        """Gateway URLs (other than the configured one) the user agreed to connect to."""
        self.driving = threading.Lock()
        """Held by whoever sends the kernel a request: the worker, or :meth:`Broker.peek`."""
        self.warmed = threading.Event()
        """Cleared while :meth:`Broker.warm` starts a kernel; a shutdown that waits waits for it."""
        self.warmed.set()

    def become(self, status: KernelStatus, error: str | None = None) -> None:
        """Move the kernel to ``status``: the one place it changes (the broker's lock held).

        ``error`` says why a kernel is "dead"; every other status clears it, so a reason never
        outlives the death it explains.
        """
        self.status, self.error = status, error

    def release_input(self) -> None:
        """Unblock a cell waiting on ``input()`` with no answer (nothing is echoed)."""
        self.answer = None
        self.answered.set()


def interrupt_quietly(kernel: Kernel | None) -> None:
    """Interrupt a running kernel; a dead one is noticed by its run, so errors are dropped."""
    if kernel is not None:
        with contextlib.suppress(NeuralisError):
            kernel.interrupt()


def shutdown_quietly(kernel: Kernel) -> None:
    """Shut a kernel down, saying nothing when it is already gone."""
    with contextlib.suppress(Exception):  # shutting down what is already gone: nothing to say
        kernel.shutdown()
