"""A typed fake kernel the test drives step by step, for the broker's races.

Real kernels decide when a cell ends, so a race between a click and a cell is a matter of luck
with them. Here every start, restart and run waits at a gate the test opens, and says when it
got there, so a test puts the broker exactly where the race is and then makes its move.
"""

from __future__ import annotations

import queue
import threading
from typing import Self

from neuralis.errors import KernelDied
from neuralis.kernels import ExecuteReply, KernelInfo, OnMessage, StdinHandler
from neuralis.messages import Msg

WAIT = 10.0
"""Seconds a step may take before the test fails (never reached when the broker is right)."""


class Gate:
    """A point the fake stops at: it says it arrived, then waits until the test opens it."""

    def __init__(self, *, open_: bool = True) -> None:
        self.reached = threading.Event()
        self._open = threading.Event()
        if open_:
            self._open.set()

    def pass_through(self) -> None:
        self.reached.set()
        if not self._open.wait(WAIT):
            raise AssertionError("the test never opened the gate")

    def open(self) -> None:
        self._open.set()

    def wait_reached(self) -> None:
        if not self.reached.wait(WAIT):
            raise AssertionError("the fake kernel never got to the gate")


def stream(text: str) -> Msg:
    """Return an iopub stdout message, as a kernel sends it."""
    return {"header": {"msg_type": "stream"}, "content": {"name": "stdout", "text": text}}


class FakeKernel:
    """A :class:`neuralis.kernels.Kernel` whose every step the test controls.

    ``execute`` prints the cell's code, then waits until the test calls :meth:`finish`, the
    broker interrupts it (a ``KeyboardInterrupt`` reply) or the test kills it (``KernelDied``).
    Code ``input:PROMPT`` asks for input first and prints the answer.
    """

    def __init__(self, spec: str = "fake", *, hold_start: bool = False) -> None:
        self.spec = spec
        self.start_gate = Gate(open_=not hold_start)
        self.restart_gate = Gate()
        self.log: list[str] = []
        """What happened, in order: ``start``, ``run CODE``, ``interrupt``, ``restart``..."""
        self.entered: queue.Queue[str] = queue.Queue()
        self._end: queue.Queue[str] = queue.Queue()  # "ok", "interrupt" or "die"
        self._count = 0
        self._alive = False
        self._lock = threading.Lock()
        self._in_run = False

    # --- what the test does ------------------------------------------------------------

    def next_run(self) -> str:
        """Wait until a cell is running in the kernel; return its code."""
        try:
            return self.entered.get(timeout=WAIT)
        except queue.Empty:
            raise AssertionError("no cell started running in the fake kernel") from None

    def finish(self) -> None:
        """Let the running cell end well."""
        self._end.put("ok")

    def kill(self) -> None:
        """Make the kernel die under the running cell."""
        self._alive = False
        self._end.put("die")

    # --- the Kernel protocol -----------------------------------------------------------

    def launch(self) -> None:
        self.log.append("launch")

    def start(self, timeout: float = 60.0) -> None:
        self.log.append("start")
        self.start_gate.pass_through()
        self._alive = True

    def execute(
        self,
        code: str,
        on_message: OnMessage,
        *,
        stdin: StdinHandler | None = None,
        timeout: float | None = None,
        stop_on_error: bool = True,
    ) -> ExecuteReply:
        if not self._alive:
            raise KernelDied("The fake kernel is not running.")
        self.log.append(f"run {code}")
        self._count += 1
        with self._lock:
            self._in_run = True
        if code.startswith("input:") and stdin is not None:
            if answer := stdin(code.removeprefix("input:"), False):
                on_message(stream(answer))
        else:
            on_message(stream(code))
        self.entered.put(code)
        end = self._end.get(timeout=WAIT)
        with self._lock:
            self._in_run = False
        if end == "die":
            raise KernelDied("The fake kernel died.")
        if end == "interrupt":
            return ExecuteReply("error", self._count, {"ename": "KeyboardInterrupt"})
        return ExecuteReply("ok", self._count, {"status": "ok"})

    def interrupt(self) -> None:
        self.log.append("interrupt")
        with self._lock:
            if self._in_run:  # as SIGINT to an idle kernel: nothing to stop, nothing kept
                self._end.put("interrupt")

    def restart(self, timeout: float = 60.0) -> None:
        self.log.append("restart")
        self.restart_gate.pass_through()
        self._alive = True

    def shutdown(self) -> None:
        self.log.append("shutdown")
        self._alive = False
        with self._lock:
            if self._in_run:  # a run still waiting ends as it would with its kernel gone
                self._end.put("die")

    def is_alive(self) -> bool:
        return self._alive

    def info(self) -> KernelInfo:
        return KernelInfo("python", "3.11", "fake", "5.3")

    def __enter__(self) -> Self:
        return self

    def __exit__(self, *exc: object) -> None:
        self.shutdown()
