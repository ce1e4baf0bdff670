"""The broker: owns kernels, one run queue and one worker thread per notebook.

A run never executes in its caller's thread: it is queued, a worker executes it and folds
each iopub message into the cell's :class:`RunRecord` through the outputs reducer. Records
are keyed by (notebook, cell id) and kept in the broker, so any number of readers (a page
rerun, a second tab, the CLI) see the same progress. Every public method is thread-safe;
one kernel is only ever driven by its own worker (a jupyter_client client is not).
"""

from __future__ import annotations

import contextlib
import logging
import threading
import time
from collections import deque
from collections.abc import Callable, Iterable
from dataclasses import dataclass, field, replace
from pathlib import Path
from typing import Literal

from nbformat import NotebookNode

from neuralis.config import Settings
from neuralis.errors import GatewayNotConfirmed, KernelDied, KernelError, NeuralisError
from neuralis.kernels import Kernel, connect, is_configured_gateway
from neuralis.messages import Msg, msg_type
from neuralis.notebook.cells import set_outputs
from neuralis.outputs import CellOutputs, DisplayUpdate, apply_display_update, reduce
from neuralis.redaction import Redactor

log = logging.getLogger(__name__)

RunStatus = Literal["queued", "running", "done", "error", "interrupted"]
KernelStatus = Literal["none", "starting", "idle", "busy", "dead"]
KernelFactory = Callable[[str, Path | None], Kernel]
FinishedHook = Callable[[str, list["RunRecord"]], None]
"""Called with a notebook key and the records a finished run changed (its own first)."""


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


class _Notebook:
    """A notebook's kernel, queue and worker; guarded by the broker's lock."""

    def __init__(self, key: str, spec: str, cwd: Path | None) -> None:
        self.key = key
        self.spec = spec
        self.cwd = cwd
        self.kernel: Kernel | None = None
        self.status: KernelStatus = "none"
        self.error: str | None = None
        self.queue: deque[str] = deque()
        self.records: dict[str, RunRecord] = {}
        self.running: str | None = None
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
        self.spread: set[str] = set()
        """Cells whose record a display update of the running cell rewrote."""
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


class Broker:
    """Process-wide owner of kernels and run records."""

    def __init__(
        self,
        settings: Settings | None = None,
        *,
        kernel_factory: KernelFactory | None = None,
        start_timeout: float = 120.0,
        confirm_gateways: bool = True,
        on_finished: FinishedHook | None = None,
    ) -> None:
        """``confirm_gateways``: a gateway other than ``NEURALIS_GATEWAY_URL`` waits for
        :meth:`confirm_gateway` before it is connected to (the CLI warns instead)."""
        self._settings = settings or Settings.from_env()
        self._confirm_gateways = confirm_gateways
        self.on_finished = on_finished
        """Told of every finished run from the worker thread, before the notebook is idle.

        The app stores finished runs into the notebook file this way, whether or not a
        browser tab shows it (neuralis/document.py).
        """
        self._factory = kernel_factory
        self._start_timeout = start_timeout
        self._lock = threading.RLock()
        self._changed = threading.Condition(self._lock)
        self._notebooks: dict[str, _Notebook] = {}

    def _connect(self, nb: _Notebook) -> Kernel:
        if self._factory is not None:
            return self._factory(nb.spec, nb.cwd)
        # The notebook names the kernel's own container on docker:NAME (one per notebook).
        return connect(nb.spec, cwd=nb.cwd, settings=self._settings, notebook=nb.key)

    # --- kernels -----------------------------------------------------------------------

    def attach(
        self, notebook: str, spec: str = "local", cwd: Path | None = None, *, stdin: bool = True
    ) -> None:
        """Choose the kernel for a notebook; a different spec replaces the running kernel.

        With ``stdin=False`` (headless runs) ``input()`` in a cell raises instead of waiting.
        """
        with self._lock:
            nb = self._notebooks.get(notebook)
            if nb is None:
                nb = self._notebooks[notebook] = _Notebook(notebook, spec, cwd)
                nb.allow_stdin = stdin
                return
            nb.allow_stdin = stdin
            if nb.spec != spec or nb.cwd != cwd:
                self._stop_kernel(nb)
                nb.spec, nb.cwd = spec, cwd

    def warm(self, notebook: str) -> None:
        """Start the notebook's kernel in the background, so its first run does not wait.

        Does not wait. Does nothing when a kernel runs, starts or is dead, when a cell is
        on its way (its run starts the kernel), or when a gateway waits for the user's yes.
        A start that fails leaves no trace: the first run tries again and tells why.
        """
        with self._lock:
            nb = self._notebooks.get(notebook)
            if (
                nb is None
                or nb.kernel is not None
                or nb.status != "none"
                or nb.worker is not None
                or not nb.ready.is_set()
                or self._unconfirmed(nb) is not None
            ):
                return
            nb.become("starting")
            nb.warmed.clear()
            nb.worker = threading.Thread(
                target=self._warm, args=(nb,), name=f"neuralis-warm-{nb.key[-40:]}", daemon=True
            )
            nb.worker.start()
            self._changed.notify_all()

    def _warm(self, nb: _Notebook) -> None:
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
                _quiet_shutdown(kernel)
        finally:
            nb.warmed.set()
        self._work(nb)

    def rename(self, old: str, new: str) -> None:
        """Move a notebook's kernel, queue and records to its new key (the file was renamed).

        The kernel, its variables and a run in progress carry on under the new name.
        """
        with self._lock:
            nb = self._notebooks.pop(old, None)
            if nb is None or old == new:
                if nb is not None:
                    self._notebooks[old] = nb
                return
            stale = self._notebooks.pop(new, None)  # a notebook gone from that path
            if stale is not None:
                self._drop_queue(stale, "The notebook was replaced by a renamed one.")
                self._stop_kernel(stale)
            nb.key = new
            nb.records = {cid: replace(r, notebook=new) for cid, r in nb.records.items()}
            self._notebooks[new] = nb
            self._changed.notify_all()

    def kernel_status(self, notebook: str) -> KernelStatus:
        """Return none, starting, idle, busy or dead."""
        with self._lock:
            nb = self._notebooks.get(notebook)
            return nb.status if nb else "none"

    def kernel_error(self, notebook: str) -> str | None:
        """Return why the kernel is dead or failed to start, if it is."""
        with self._lock:
            nb = self._notebooks.get(notebook)
            return nb.error if nb else None

    def spec(self, notebook: str) -> str | None:
        """Return the kernel spec attached to a notebook."""
        with self._lock:
            nb = self._notebooks.get(notebook)
            return nb.spec if nb else None

    def unconfirmed_gateway(self, notebook: str) -> str | None:
        """Return the gateway URL the notebook's kernel names, if it needs the user's yes."""
        with self._lock:
            nb = self._notebooks.get(notebook)
            return self._unconfirmed(nb) if nb else None

    def confirm_gateway(self, notebook: str, url: str) -> None:
        """Let the notebook connect to gateway ``url`` (never with the configured token)."""
        with self._lock:
            nb = self._require(notebook)
            nb.confirmed.add(url)
            if nb.kernel is None and nb.status == "dead":  # dead only for want of a yes
                nb.become("none")
            self._changed.notify_all()

    def notebooks(self) -> list[str]:
        """List the notebooks the broker knows."""
        with self._lock:
            return list(self._notebooks)

    # --- runs --------------------------------------------------------------------------

    def run(
        self, notebook: str, cell_id: str, code: str, *, allow_error: bool = False
    ) -> RunRecord:
        """Queue one cell; return its record (status queued)."""
        return self.run_many(
            notebook, [(cell_id, code)], allow_errors={cell_id} if allow_error else ()
        )[0]

    def run_many(
        self,
        notebook: str,
        cells: Iterable[tuple[str, str]],
        *,
        allow_errors: Iterable[str] = (),
        timeout: float | None = None,
        stop_on_error: bool = True,
    ) -> list[RunRecord]:
        """Queue cells in order; an error (not allowed) drops what is queued after it."""
        allowed = set(allow_errors)
        with self._lock:
            nb = self._require(notebook)
            nb.timeout, nb.stop_on_error = timeout, stop_on_error
            queued = []
            for cell_id, code in cells:
                if cell_id in nb.queue or nb.running == cell_id:
                    continue  # already on its way: running it twice helps nobody
                rec = RunRecord(notebook, cell_id, code, allow_error=cell_id in allowed)
                nb.records[cell_id] = rec
                nb.queue.append(cell_id)
                queued.append(rec)
            self._ensure_worker(nb)
            self._changed.notify_all()
            return queued

    def record(self, notebook: str, cell_id: str) -> RunRecord | None:
        """Return the latest run record of a cell."""
        with self._lock:
            nb = self._notebooks.get(notebook)
            return nb.records.get(cell_id) if nb else None

    def records(self, notebook: str) -> dict[str, RunRecord]:
        """Return the latest run record of every cell that ran."""
        with self._lock:
            nb = self._notebooks.get(notebook)
            return dict(nb.records) if nb else {}

    def busy(self, notebook: str) -> bool:
        """Tell whether a cell is running or queued, or the kernel starts or restarts."""
        with self._lock:
            nb = self._notebooks.get(notebook)
            return bool(
                nb and (nb.running or nb.queue or not nb.ready.is_set() or nb.status == "starting")
            )

    def wait(self, notebook: str, cell_id: str, timeout: float | None = None) -> RunRecord:
        """Block until the cell's current run has finished; return its record."""
        deadline = None if timeout is None else time.monotonic() + timeout
        with self._lock:
            while True:
                rec = self._require(notebook).records.get(cell_id)
                if rec is None or rec.finished:
                    if rec is None:
                        raise KeyError(cell_id)
                    return rec
                remaining = None if deadline is None else deadline - time.monotonic()
                if remaining is not None and remaining <= 0:
                    return rec
                self._changed.wait(remaining if remaining is not None else 1.0)

    def peek(self, notebook: str, code: str, timeout: float = 5.0) -> str | None:
        """Run ``code`` silently on an idle kernel; return what it printed to stdout.

        Silent: no execution count, no history, no record. None when no kernel runs, a cell
        runs or is queued, or the kernel does not answer within ``timeout``. Never starts a
        kernel and never waits for a cell; a cell queued meanwhile waits for it.
        """
        with self._lock:
            nb = self._notebooks.get(notebook)
            if nb is None or nb.kernel is None or nb.status != "idle" or nb.running or nb.queue:
                return None
            kernel = nb.kernel
        if not nb.driving.acquire(blocking=False):
            return None
        out: list[str] = []

        def on_message(msg: Msg) -> None:
            content = msg.get("content", {})
            if msg_type(msg) == "stream" and content.get("name") == "stdout":
                out.append(str(content.get("text", "")))

        try:
            kernel.execute(code, on_message, timeout=timeout, silent=True)
        except NeuralisError as exc:
            log.info("silent request to the kernel of %s failed: %s", notebook, exc)
            return None
        finally:
            nb.driving.release()
        return "".join(out)

    def answer_input(self, notebook: str, text: str) -> None:
        """Answer the ``input()`` the notebook's running cell waits on."""
        with self._lock:
            nb = self._require(notebook)
            nb.answer = text
            nb.answered.set()

    def clear(self, notebook: str, cell_ids: Iterable[str] | None = None) -> None:
        """Forget finished run records (all, or of some cells)."""
        with self._lock:
            nb = self._notebooks.get(notebook)
            if nb is None:
                return
            for cid in list(nb.records if cell_ids is None else cell_ids):
                rec = nb.records.get(cid)
                if rec is not None and rec.finished:
                    del nb.records[cid]
            self._changed.notify_all()

    # --- control -----------------------------------------------------------------------

    def interrupt(self, notebook: str) -> None:
        """Drop what is queued and interrupt what runs; does not wait for it to stop."""
        with self._lock:
            nb = self._notebooks.get(notebook)
            if nb is None:
                return
            self._drop_queue(nb, "Interrupted before it ran.")
            kernel = nb.kernel if nb.running else None
            nb.cancel = nb.running is not None and nb.status == "starting"
            _release_input(nb)
        _interrupt_quietly(kernel)

    def restart(self, notebook: str, *, wait: bool = True) -> None:
        """Drop the queue, restart the kernel and wait until it is ready (or dead).

        With ``wait=False`` the restart happens in a thread and this returns at once: the
        status says "starting" meanwhile, cells queued after this call run on the restarted
        kernel, and a failure leaves the kernel "dead" with the reason (``kernel_error``).
        """
        with self._lock:
            nb = self._require(notebook)
            nb.ready.clear()  # before anything else: cells queued from now on wait for us
            self._drop_queue(nb, "The kernel was restarted before it ran.")
            _release_input(nb)  # a cell waiting on input() must let go of the kernel
            nb.become("starting")  # what the page shows from now on
            self._changed.notify_all()
        if wait:
            self._restart(nb)
            return
        threading.Thread(
            target=self._restart_quietly, args=(nb,), name=f"neuralis-restart-{notebook[-40:]}",
            daemon=True,
        ).start()  # fmt: skip

    def _restart_quietly(self, nb: _Notebook) -> None:
        try:
            self._restart(nb)
        except NeuralisError:
            pass  # the kernel is marked dead with the reason; the page shows it
        except Exception:
            log.exception("restart of %s failed", nb.key)

    def _restart(self, nb: _Notebook) -> None:
        try:
            with self._lock:
                kernel = nb.kernel
                running = nb.running
            _interrupt_quietly(kernel if running else None)
            self._wait_idle(nb.key, 5.0)
            with self._lock:
                nb.become("starting")
                self._changed.notify_all()
            try:
                if kernel is None:
                    kernel = self._start(nb)
                else:
                    kernel.restart(self._start_timeout)
            except NeuralisError as exc:
                self._mark_dead(nb, str(exc))
                raise
            except Exception as exc:
                self._mark_dead(nb, f"Restart failed: {exc!r}")
                raise
            with self._lock:
                nb.kernel = kernel
                nb.become("idle")
                self._changed.notify_all()
        finally:
            with self._lock:
                nb.ready.set()
                self._changed.notify_all()

    def shutdown(self, notebook: str, *, wait: bool = False) -> None:
        """Stop the notebook's kernel and forget its queue (records stay)."""
        with self._lock:
            nb = self._notebooks.get(notebook)
            if nb is None:
                return
            self._drop_queue(nb, "The kernel was shut down before it ran.")
            _release_input(nb)
            kernel = nb.kernel if nb.running else None
        _interrupt_quietly(kernel)  # let the worker return before the kernel goes
        with self._lock:
            self._stop_kernel(nb, wait=wait)
        if wait:  # a kernel starting in the background is shut down by its thread
            nb.warmed.wait(self._start_timeout)

    def kernel(self, notebook: str) -> Kernel | None:
        """Return the notebook's running kernel, if one runs (to inspect, not to drive)."""
        with self._lock:
            nb = self._notebooks.get(notebook)
            return nb.kernel if nb and nb.status in ("idle", "busy") else None

    def shutdown_all(self, *, wait: bool = False) -> None:
        """Stop every kernel the broker owns."""
        for key in self.notebooks():
            self.shutdown(key, wait=wait)

    # --- internals ---------------------------------------------------------------------

    def _require(self, notebook: str) -> _Notebook:
        nb = self._notebooks.get(notebook)
        if nb is None:
            nb = self._notebooks[notebook] = _Notebook(notebook, "local", None)
        return nb

    def _drop_queue(self, nb: _Notebook, why: str) -> None:
        while nb.queue:
            cid = nb.queue.popleft()
            rec = nb.records.get(cid)
            if rec is not None and rec.status == "queued":
                nb.records[cid] = replace(
                    rec, status="interrupted", message=why, ended_at=time.time()
                )
        self._changed.notify_all()

    def _stop_kernel(self, nb: _Notebook, *, wait: bool = False) -> None:
        _release_input(nb)  # a cell waiting on input() lets go of the kernel being stopped
        kernel, nb.kernel = nb.kernel, None
        nb.become("none")
        self._changed.notify_all()
        if kernel is None:
            return
        if wait:
            _quiet_shutdown(kernel)
        else:  # not a daemon: the interpreter waits for it, so no kernel outlives the process
            threading.Thread(target=_quiet_shutdown, args=(kernel,), daemon=False).start()

    def _wait_idle(self, notebook: str, timeout: float) -> None:
        deadline = time.monotonic() + timeout
        with self._lock:
            nb = self._require(notebook)
            while nb.running and time.monotonic() < deadline:
                self._changed.wait(0.1)

    def _mark_dead(self, nb: _Notebook, why: str) -> None:
        with self._lock:
            nb.become("dead", Redactor(self._settings.kernel_env).text(why))
            self._changed.notify_all()

    def _ensure_worker(self, nb: _Notebook) -> None:
        if nb.worker is None or not nb.worker.is_alive():
            nb.worker = threading.Thread(
                target=self._work, args=(nb,), name=f"neuralis-run-{nb.key[-40:]}", daemon=True
            )
            nb.worker.start()

    def _unconfirmed(self, nb: _Notebook) -> str | None:
        kind, _, url = nb.spec.partition(":")
        if not self._confirm_gateways or kind != "gateway" or url in nb.confirmed:
            return None
        return None if is_configured_gateway(url, self._settings) else url

    def _start(self, nb: _Notebook) -> Kernel:
        with self._lock:
            url = self._unconfirmed(nb)
        if url is not None:
            raise GatewayNotConfirmed(
                f"This notebook names the gateway {url}, not the configured one: confirm it "
                "in the kernel bar (it gets your code, never the token) or pick another kernel."
            )
        kernel = self._connect(nb)
        kernel.start(self._start_timeout)
        return kernel

    def _next(self, nb: _Notebook) -> tuple[RunRecord, Kernel | None] | None:
        with self._lock:
            if not nb.queue:
                nb.worker = None
                return None
            cid = nb.queue.popleft()
            rec = replace(nb.records[cid], status="running", started_at=time.time())
            nb.records[cid] = rec
            nb.running = cid
            nb.cancel = False
            nb.answered.clear()
            if nb.kernel is not None and nb.status != "dead":
                nb.become("busy")
            self._changed.notify_all()
            return rec, nb.kernel if nb.status != "dead" else None

    def _work(self, nb: _Notebook) -> None:
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
                    nb.running = None
                    if nb.status == "busy":
                        nb.become("idle")
                    self._changed.notify_all()

    def _finished(self, nb: _Notebook, cell_id: str) -> None:
        """Tell the hook (while the notebook still counts as busy, so waiters see it done)."""
        hook = self.on_finished
        with self._lock:
            cells = [cell_id, *(c for c in nb.spread if c != cell_id)]
            changed = [nb.records[c] for c in cells if c in nb.records]
            nb.spread.clear()
        if hook is None or not changed:
            return
        try:
            hook(nb.key, changed)
        except Exception:  # the run is over whatever the hook does; say why it failed
            log.exception("storing the run of cell %s failed", cell_id)

    def _cancelled(self, nb: _Notebook, cell_id: str) -> bool:
        with self._lock:
            if not nb.cancel:
                return False
            rec = nb.records[cell_id]
            nb.records[cell_id] = replace(
                rec, status="interrupted", message="Interrupted while the kernel started.",
                ended_at=time.time(),
            )  # fmt: skip
            return True

    def _start_for_run(self, nb: _Notebook) -> Kernel:
        with self._lock:
            if nb.status == "dead":
                raise KernelDied(nb.error or "The kernel is dead. Restart it to continue.")
            nb.become("starting")
            self._changed.notify_all()
        try:
            kernel = self._start(nb)
        except NeuralisError as exc:
            self._mark_dead(nb, str(exc))
            raise
        with self._lock:
            nb.kernel = kernel
            nb.become("busy")
            self._changed.notify_all()
        return kernel

    def _execute(self, nb: _Notebook, rec: RunRecord, kernel: Kernel) -> None:
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
            current = nb.records[rec.cell_id]
            failed = reply.status != "ok"
            interrupted = failed and reply.content.get("ename") == "KeyboardInterrupt"
            status: RunStatus = "interrupted" if interrupted else "error" if failed else "done"
            outputs = current.outputs
            if reply.execution_count is not None:
                outputs = replace(outputs, execution_count=reply.execution_count)
            nb.records[rec.cell_id] = replace(
                current, status=status, outputs=outputs, ended_at=time.time(), input_prompt=None
            )
            # A cell cut short by a restart drops nothing: what is queued is for the new kernel.
            restarting = not nb.ready.is_set()
            if failed and nb.stop_on_error and not current.allow_error and not restarting:
                self._drop_queue(nb, "Not run: an earlier cell failed.")
            self._changed.notify_all()

    def _fold(self, nb: _Notebook, cell_id: str, msg: Msg) -> None:
        """Fold one message into the running cell: reduce off the lock, publish under it.

        Only this worker writes a running record's outputs, so what it read is still current
        when it publishes; other fields (status, input prompt) are taken fresh under the lock.
        """
        with self._lock:
            rec = nb.records.get(cell_id)
        if rec is None:
            return
        base = rec.outputs
        outputs = reduce(base, msg)
        if outputs is base:
            return  # status, comms...: nothing changed, no reader is woken
        update = outputs.update
        spread = self._spread(nb, cell_id, update) if update is not None else {}
        with self._lock:
            rec = nb.records.get(cell_id)
            if rec is None:
                return
            if rec.outputs is not base:  # never expected; correct rather than lose output
                outputs = reduce(rec.outputs, msg)
            nb.records[cell_id] = replace(rec, outputs=outputs)
            for cid, (old, new) in spread.items():
                other = nb.records.get(cid)
                if other is None:
                    continue  # cleared meanwhile
                if other.outputs is not old and update is not None:  # a new run meanwhile
                    new = apply_display_update(other.outputs, update)
                nb.records[cid] = replace(other, outputs=new)
                nb.spread.add(cid)  # stored again when this run finishes
            self._changed.notify_all()

    def _spread(
        self, nb: _Notebook, origin: str, update: DisplayUpdate
    ) -> dict[str, tuple[CellOutputs, CellOutputs]]:
        """Apply a display update to the other cells, off the lock: {cell: (old, new)}."""
        with self._lock:
            others = [(cid, r.outputs) for cid, r in nb.records.items() if cid != origin]
        changed = {}
        for cid, old in others:
            new = apply_display_update(old, update)
            if new is not old:
                changed[cid] = (old, new)
        return changed

    def _ask(self, nb: _Notebook, cell_id: str, prompt: str, password: bool) -> str:
        with self._lock:
            nb.records[cell_id] = replace(nb.records[cell_id], input_prompt=(prompt, password))
            self._changed.notify_all()
        nb.answered.wait()
        with self._lock:
            answer, nb.answer = nb.answer, None
            nb.answered.clear()
            nb.records[cell_id] = replace(nb.records[cell_id], input_prompt=None)
            if answer is not None:  # echoed as Jupyter does, the password hidden
                echo = _PASSWORD_ECHO if password else answer
                self._fold(nb, cell_id, _stdout(f"{prompt}{echo}\n"))
            self._changed.notify_all()
            return answer or ""

    def _fail(
        self, nb: _Notebook, cell_id: str, exc: NeuralisError, kernel: Kernel | None = None
    ) -> None:
        exc = _redacted(exc, self._settings.kernel_env)
        with self._lock:
            rec = nb.records[cell_id]
            nb.records[cell_id] = replace(
                rec,
                status="error",
                message=str(exc),
                failure=exc,
                ended_at=time.time(),
                input_prompt=None,
            )
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
            self._drop_queue(nb, "Not run: an earlier cell failed.")
            self._changed.notify_all()


_PASSWORD_ECHO = "········"
"""What Jupyter shows in place of an answered password."""


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


def _release_input(nb: _Notebook) -> None:
    """Unblock a cell waiting on ``input()`` with no answer (nothing is echoed)."""
    nb.answer = None
    nb.answered.set()


def _interrupt_quietly(kernel: Kernel | None) -> None:
    """Interrupt a running kernel; a dead one is noticed by its run, so errors are dropped."""
    if kernel is not None:
        with contextlib.suppress(NeuralisError):
            kernel.interrupt()


def _quiet_shutdown(kernel: Kernel) -> None:
    with contextlib.suppress(Exception):  # shutting down what is already gone: nothing to say
        kernel.shutdown()
