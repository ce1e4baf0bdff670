"""The broker: the thread-safe face of kernels, run queues and run records, one per process.

A run never executes in its caller's thread: it is queued in the notebook's run book
(records.py), and the notebook's worker thread (worker.py) executes it on the kernel its
slot holds (slot.py), folding each iopub message into the cell's record. Records are keyed by
(notebook, cell id) and kept here, so any number of readers (a page rerun, a second tab, the
CLI) see the same progress. Every public method is thread-safe: one lock guards every slot,
and no kernel is called while it is held.
"""

from __future__ import annotations

import logging
import threading
import time
from collections.abc import Callable, Iterable
from pathlib import Path

from neuralis.config import Settings
from neuralis.errors import GatewayNotConfirmed, NeuralisError
from neuralis.execution.records import RunRecord
from neuralis.execution.slot import (
    KernelSlot,
    KernelStatus,
    interrupt_quietly,
    shutdown_quietly,
)
from neuralis.execution.worker import FinishedHook, Worker
from neuralis.kernels import Kernel, connect, is_configured_gateway
from neuralis.messages import Msg, msg_type

log = logging.getLogger(__name__)

KernelFactory = Callable[[str, Path | None], Kernel]


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
        browser tab shows it (neuralis/session/document.py).
        """
        self._factory = kernel_factory
        self._start_timeout = start_timeout
        self._lock = threading.RLock()
        self._changed = threading.Condition(self._lock)
        self._notebooks: dict[str, KernelSlot] = {}
        self._worker = Worker(
            self._lock, self._changed, self._settings, self._start, lambda: self.on_finished
        )

    def _connect(self, nb: KernelSlot) -> Kernel:
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
                nb = self._notebooks[notebook] = KernelSlot(notebook, spec, cwd)
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
                target=self._worker.warm,
                args=(nb,),
                name=f"neuralis-warm-{nb.key[-40:]}",
                daemon=True,
            )
            nb.worker.start()
            self._changed.notify_all()

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
            nb.book.rename(new)
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
            queued = nb.book.enqueue(notebook, cells, allowed)
            self._ensure_worker(nb)
            self._changed.notify_all()
            return queued

    def record(self, notebook: str, cell_id: str) -> RunRecord | None:
        """Return the latest run record of a cell."""
        with self._lock:
            nb = self._notebooks.get(notebook)
            return nb.book.records.get(cell_id) if nb else None

    def records(self, notebook: str) -> dict[str, RunRecord]:
        """Return the latest run record of every cell that ran."""
        with self._lock:
            nb = self._notebooks.get(notebook)
            return dict(nb.book.records) if nb else {}

    def busy(self, notebook: str) -> bool:
        """Tell whether a cell is running or queued, or the kernel starts or restarts."""
        with self._lock:
            nb = self._notebooks.get(notebook)
            return bool(
                nb
                and (
                    nb.book.running
                    or nb.book.queue
                    or not nb.ready.is_set()
                    or nb.status == "starting"
                )
            )

    def wait(self, notebook: str, cell_id: str, timeout: float | None = None) -> RunRecord:
        """Block until the cell's current run has finished; return its record."""
        deadline = None if timeout is None else time.monotonic() + timeout
        with self._lock:
            while True:
                rec = self._require(notebook).book.records.get(cell_id)
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
            if (
                nb is None
                or nb.kernel is None
                or nb.status != "idle"
                or nb.book.running
                or nb.book.queue
            ):
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
            nb.book.clear(cell_ids)
            self._changed.notify_all()

    # --- control -----------------------------------------------------------------------

    def interrupt(self, notebook: str) -> None:
        """Drop what is queued and interrupt what runs; does not wait for it to stop."""
        with self._lock:
            nb = self._notebooks.get(notebook)
            if nb is None:
                return
            self._drop_queue(nb, "Interrupted before it ran.")
            kernel = nb.kernel if nb.book.running else None
            nb.cancel = nb.book.running is not None and nb.status == "starting"
            nb.release_input()
        interrupt_quietly(kernel)

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
            nb.release_input()  # a cell waiting on input() must let go of the kernel
            nb.become("starting")  # what the page shows from now on
            self._changed.notify_all()
        if wait:
            self._restart(nb)
            return
        threading.Thread(
            target=self._restart_quietly, args=(nb,), name=f"neuralis-restart-{notebook[-40:]}",
            daemon=True,
        ).start()  # fmt: skip

    def _restart_quietly(self, nb: KernelSlot) -> None:
        try:
            self._restart(nb)
        except NeuralisError:
            pass  # the kernel is marked dead with the reason; the page shows it
        except Exception:
            log.exception("restart of %s failed", nb.key)

    def _restart(self, nb: KernelSlot) -> None:
        try:
            with self._lock:
                kernel = nb.kernel
                running = nb.book.running
            interrupt_quietly(kernel if running else None)
            self._wait_idle(nb.key, 5.0)
            with self._lock:
                if nb.status == "none":  # shut down meanwhile: nothing to restart
                    return
                nb.become("starting")
                self._changed.notify_all()
            before = kernel
            try:
                if kernel is None:
                    kernel = self._start(nb)
                else:
                    kernel.restart(self._start_timeout)
            except NeuralisError as exc:
                self._worker.mark_dead(nb, str(exc))
                raise
            except Exception as exc:
                self._worker.mark_dead(nb, f"Restart failed: {exc!r}")
                raise
            with self._lock:
                # A shutdown while the kernel started took the slot's kernel away and said
                # "none": the new kernel is nobody's, so it goes (else it would outlive the app).
                wanted = nb.status == "starting" and nb.kernel is before
                if wanted:
                    nb.kernel = kernel
                    nb.become("idle")
                self._changed.notify_all()
            if not wanted:
                shutdown_quietly(kernel)
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
            nb.release_input()
            kernel = nb.kernel if nb.book.running else None
        interrupt_quietly(kernel)  # let the worker return before the kernel goes
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

    def _require(self, notebook: str) -> KernelSlot:
        nb = self._notebooks.get(notebook)
        if nb is None:
            nb = self._notebooks[notebook] = KernelSlot(notebook, "local", None)
        return nb

    def _drop_queue(self, nb: KernelSlot, why: str) -> None:
        nb.book.drop_queue(why)
        self._changed.notify_all()

    def _stop_kernel(self, nb: KernelSlot, *, wait: bool = False) -> None:
        nb.release_input()  # a cell waiting on input() lets go of the kernel being stopped
        kernel, nb.kernel = nb.kernel, None
        nb.become("none")
        self._changed.notify_all()
        if kernel is None:
            return
        if wait:
            shutdown_quietly(kernel)
        else:  # not a daemon: the interpreter waits for it, so no kernel outlives the process
            threading.Thread(target=shutdown_quietly, args=(kernel,), daemon=False).start()

    def _wait_idle(self, notebook: str, timeout: float) -> None:
        deadline = time.monotonic() + timeout
        with self._lock:
            nb = self._require(notebook)
            while nb.book.running and time.monotonic() < deadline:
                self._changed.wait(0.1)

    def _ensure_worker(self, nb: KernelSlot) -> None:
        if nb.worker is None or not nb.worker.is_alive():
            nb.worker = threading.Thread(
                target=self._worker.work,
                args=(nb,),
                name=f"neuralis-run-{nb.key[-40:]}",
                daemon=True,
            )
            nb.worker.start()

    def _unconfirmed(self, nb: KernelSlot) -> str | None:
        kind, _, url = nb.spec.partition(":")
        if not self._confirm_gateways or kind != "gateway" or url in nb.confirmed:
            return None
        return None if is_configured_gateway(url, self._settings) else url

    def _start(self, nb: KernelSlot) -> Kernel:
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
