"""Running cells: the broker owns kernels, one run queue and one worker thread per notebook.

``records`` is the pure book of runs (a :class:`RunRecord` per cell, the queue), ``slot`` a
notebook's kernel and its status, ``worker`` what the worker thread does with a queued cell,
``broker`` the thread-safe API the app and the CLI call. What callers use is re-exported here.
"""

from __future__ import annotations

from neuralis.execution.broker import Broker, KernelFactory
from neuralis.execution.records import RunBook, RunRecord, RunStatus, store_run
from neuralis.execution.slot import KernelSlot, KernelStatus
from neuralis.execution.worker import FinishedHook

__all__ = [
    "Broker",
    "FinishedHook",
    "KernelFactory",
    "KernelSlot",
    "KernelStatus",
    "RunBook",
    "RunRecord",
    "RunStatus",
    "store_run",
]
