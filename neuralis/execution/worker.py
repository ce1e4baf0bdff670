"""The worker: what a notebook's worker thread does with the cells queued for it.

It takes the next queued cell, starts the kernel if none runs, executes the cell and folds
each iopub message into the cell's record, then tells the finished-run hook. One kernel is
only ever driven by its own worker thread (a jupyter_client client is not thread-safe). The
broker's lock is held to read or change a slot and never while a kernel is called.
"""

from __future__ import annotations

import logging
import threading
from collections.abc import Callable

from neuralis.config import Settings
from neuralis.errors import KernelDied, KernelError, NeuralisError
from neuralis.execution.records import RunRecord, outcome, spread_update
from neuralis.execution.slot import KernelSlot, shutdown_quietly
from neuralis.kernels import Kernel
from neuralis.messages import Msg
from neuralis.outputs import reduce
from neuralis.redaction import Redactor

log = logging.getLogger(__name__)

FinishedHook = Callable[[str, list[RunRecord]], None]
"""Called with a notebook key and the records a finished run changed (its own first)."""

_PASSWORD_ECHO = "········"
"""What Jupyter shows in place of an answered password."""


class Worker:
    """The loop of every notebook's worker thread, and what it does to one cell; one per broker."""

    def __init__(
        self,
        lock: threading.RLock,
        changed: threading.Condition,
        settings: Settings,
        start: Callable[[KernelSlot], Kernel],
        hook: Callable[[], FinishedHook | None],
    ) -> None:
        """``lock`` is the broker's, ``changed`` its condition; ``start`` starts a slot's
        kernel (checks first, outside the lock); ``hook`` returns the finished-run hook."""
        self._lock = lock
        self._changed = changed
        self._settings = settings
        self._start = start
        self._hook = hook

    def work(self, nb: KernelSlot) -> None:
        """Run the slot's queued cells one by one until the queue is empty."""
        while nb.ready.wait() and (item := self._next(nb)) is not None:
            rec, kernel = item
            try:
                if kernel is None:
                    kernel = self._start_for_run(nb)
                if self._cancelled(nb, rec.cell_id):
                    continue
                with nb.driving:
                    self._execute(nb, rec, kernel)
            except NeuralisError as exc:
                self._fail(nb, rec.cell_id, exc, kernel)
            except Exception as exc:  # a bug must not wedge the notebook with a cell "running"
                log.exception("run of cell %s failed", rec.cell_id)
                self._fail(nb, rec.cell_id, KernelError(f"Internal error: {exc!r}"))
            finally:
                self._finished(nb, rec.cell_id)
                with self._lock:
                    nb.book.running = None
                    if nb.status == "busy":
                        nb.become("idle")
                    self._changed.notify_all()

    def warm(self, nb: KernelSlot) -> None:
        """Start the kernel as the notebook's worker, then run what was queued meanwhile.

        A kernel that is no longer wanted when it is up (the notebook was shut down, given
        another kernel or restarted meanwhile) is shut down again.
        """
        spec = nb.spec
        try:
            kernel = self._start(nb)
        except Exception as exc:
            log.info("background start of the kernel of %s failed: %s", nb.key, exc)
            with self._lock:
                if nb.status == "starting":  # only a run the user asked for reports it
                    nb.become("none")
                self._changed.notify_all()
        else:
            with self._lock:
                keep = (
                    nb.status == "starting"
                    and nb.kernel is None
                    and nb.spec == spec
                    and nb.ready.is_set()
                )
                if keep:
                    nb.kernel = kernel
                    nb.become("idle")
                self._changed.notify_all()
            if not keep:
                shutdown_quietly(kernel)
        finally:
            nb.warmed.set()
        self.work(nb)

    def mark_dead(self, nb: KernelSlot, why: str) -> None:
        """Mark the slot's kernel dead, with ``why`` redacted."""
        with self._lock:
            nb.become("dead", Redactor(self._settings.kernel_env).text(why))
            self._changed.notify_all()

    def _next(self, nb: KernelSlot) -> tuple[RunRecord, Kernel | None] | None:
        with self._lock:
            rec = nb.book.take()
            if rec is None:
                nb.worker = None
                return None
            nb.cancel = False
            nb.answered.clear()
            if nb.kernel is not None and nb.status != "dead":
                nb.become("busy")
            self._changed.notify_all()
            return rec, nb.kernel if nb.status != "dead" else None

    def _finished(self, nb: KernelSlot, cell_id: str) -> None:
        """Tell the hook (while the notebook still counts as busy, so waiters see it done)."""
        hook = self._hook()
        with self._lock:
            changed = nb.book.changed_by(cell_id)
        if hook is None or not changed:
            return
        try:
            hook(nb.key, changed)
        except Exception:  # the run is over whatever the hook does; say why it failed
            log.exception("storing the run of cell %s failed", cell_id)

    def _cancelled(self, nb: KernelSlot, cell_id: str) -> bool:
        with self._lock:
            if not nb.cancel:
                return False
            nb.book.interrupt(cell_id, "Interrupted while the kernel started.")
            return True

    def _start_for_run(self, nb: KernelSlot) -> Kernel:
        with self._lock:
            if nb.status == "dead":
                raise KernelDied(nb.error or "The kernel is dead. Restart it to continue.")
            nb.become("starting")
            self._changed.notify_all()
        try:
            kernel = self._start(nb)
        except NeuralisError as exc:
            self.mark_dead(nb, str(exc))
            raise
        with self._lock:
            nb.kernel = kernel
            nb.become("busy")
            self._changed.notify_all()
        return kernel

    def _execute(self, nb: KernelSlot, rec: RunRecord, kernel: Kernel) -> None:
        # Every output passes the redactor before it is folded: no secret is shown or saved.
        redact = Redactor(self._settings.kernel_env)

        def on_message(msg: Msg) -> None:
            for part in redact.feed(msg):
                self._fold(nb, rec.cell_id, part)

        def on_input(prompt: str, password: bool) -> str:
            return self._ask(nb, rec.cell_id, redact.text(prompt), password)

        try:
            reply = kernel.execute(
                rec.code,
                on_message,
                stdin=on_input if nb.allow_stdin else None,
                timeout=nb.timeout,
                stop_on_error=False,
            )
        finally:
            for part in redact.flush():
                self._fold(nb, rec.cell_id, part)
        with self._lock:
            status = outcome(reply.status, reply.content.get("ename"))
            current = nb.book.finish(rec.cell_id, status, reply.execution_count)
            # A cell cut short by a restart drops nothing: what is queued is for the new kernel.
            restarting = not nb.ready.is_set()
            failed = status != "done"
            if failed and nb.stop_on_error and not current.allow_error and not restarting:
                nb.book.drop_queue("Not run: an earlier cell failed.")
            self._changed.notify_all()

    def _fold(self, nb: KernelSlot, cell_id: str, msg: Msg) -> None:
        """Fold one message into the running cell: reduce off the lock, publish under it.

        Only this worker writes a running record's outputs, so what it read is still current
        when it publishes; other fields (status, input prompt) are taken fresh under the lock.
        """
        with self._lock:
            rec = nb.book.records.get(cell_id)
        if rec is None:
            return
        base = rec.outputs
        outputs = reduce(base, msg)
        if outputs is base:
            return  # status, comms...: nothing changed, no reader is woken
        update = outputs.update
        spread = {}
        if update is not None:  # the other cells are read under the lock, updated off it
            with self._lock:
                others = nb.book.others(cell_id)
            spread = spread_update(others, update)
        with self._lock:
            if nb.book.publish(cell_id, base, msg, outputs, spread, update):
                self._changed.notify_all()

    def _ask(self, nb: KernelSlot, cell_id: str, prompt: str, password: bool) -> str:
        with self._lock:
            nb.book.ask(cell_id, (prompt, password))
            self._changed.notify_all()
        nb.answered.wait()
        with self._lock:
            answer, nb.answer = nb.answer, None
            nb.answered.clear()
            nb.book.ask(cell_id, None)
            if answer is not None:  # echoed as Jupyter does, the password hidden
                echo = _PASSWORD_ECHO if password else answer
                self._fold(nb, cell_id, _stdout(f"{prompt}{echo}\n"))
            self._changed.notify_all()
            return answer or ""

    def _fail(
        self, nb: KernelSlot, cell_id: str, exc: NeuralisError, kernel: Kernel | None = None
    ) -> None:
        exc = _redacted(exc, self._settings.kernel_env)
        with self._lock:
            nb.book.fail(cell_id, exc)
            # Cut short by a restart, or by a switch of kernel: they own the status now.
            if not nb.ready.is_set() or (kernel is not None and kernel is not nb.kernel):
                self._changed.notify_all()
                return
            if isinstance(exc, KernelDied):
                nb.become("dead", str(exc))
            elif isinstance(exc, KernelError) and nb.status in ("busy", "starting"):
                if nb.kernel is not None:
                    nb.become("idle")  # the cell failed, the kernel did not
                else:
                    nb.become("dead", str(exc))
            nb.book.drop_queue("Not run: an earlier cell failed.")
            self._changed.notify_all()


def _stdout(text: str) -> Msg:
    """Build the iopub stream message a front end adds itself (the ``input()`` echo)."""
    return {"header": {"msg_type": "stream"}, "content": {"name": "stdout", "text": text}}


def _redacted(exc: NeuralisError, secrets: tuple[tuple[str, str], ...]) -> NeuralisError:
    """Return ``exc``, or one like it without secrets (a dead kernel's stderr may show one)."""
    text = Redactor(secrets).text(str(exc))
    if text == str(exc):
        return exc
    try:
        return type(exc)(text)
    except TypeError:
        return KernelError(text)
