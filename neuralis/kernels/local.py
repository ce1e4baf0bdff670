"""Local kernels through jupyter_client: spec ``local`` and ``local:NAME``."""

from __future__ import annotations

import contextlib
import os
import signal
import subprocess
import sys
import tempfile
import threading
from collections import deque
from collections.abc import Mapping
from dataclasses import dataclass
from pathlib import Path
from typing import IO, Any

import zmq
from jupyter_client.blocking.client import BlockingKernelClient
from jupyter_client.kernelspec import KernelSpec, KernelSpecManager
from jupyter_client.kernelspec import NoSuchKernel as _JcNoSuchKernel
from jupyter_client.manager import KernelManager

from neuralis.errors import KernelDied, KernelStartError, NoSuchKernel
from neuralis.kernels.base import (
    LIVENESS_INTERVAL,
    ExecuteReply,
    KernelInfo,
    OnMessage,
    OwnedKernel,
    StdinHandler,
    run_execute,
)
from neuralis.messages import Channel, Msg

KERNEL_STARTUP = Path(__file__).resolve().parent.parent / "kernel_startup.py"


class OwnPythonSpecs(KernelSpecManager):
    """Kernelspecs where ``python3`` is always this process's own interpreter."""

    def get_kernel_spec(self, kernel_name: str) -> KernelSpec:
        """Return the spec; ``python3`` runs ipykernel on ``sys.executable``."""
        if kernel_name == "python3":
            argv = [sys.executable, "-m", "ipykernel_launcher", "-f", "{connection_file}"]
            return KernelSpec(argv=argv, display_name="Python 3 (Neuralis)", language="python")
        return super().get_kernel_spec(kernel_name)


def kernelspec_names() -> list[str]:
    """List the installed kernelspecs (``python3`` always among them)."""
    return sorted(set(OwnPythonSpecs().find_kernel_specs()) | {"python3"})


@dataclass(frozen=True)
class LocalLimits:
    """Resource limits set in a local kernel's process before it runs (off when None)."""

    memory: int | None = None
    """Bytes of address space (``RLIMIT_AS``): past it, allocations raise MemoryError."""
    processes: int | None = None
    """Processes and threads of the user (``RLIMIT_NPROC``; root is exempt)."""

    def apply(self) -> None:
        """Set the limits on the calling process (the kernel's, between fork and exec)."""
        import resource

        if self.memory:
            resource.setrlimit(resource.RLIMIT_AS, (self.memory, self.memory))
        if self.processes:
            resource.setrlimit(resource.RLIMIT_NPROC, (self.processes, self.processes))


def kernel_environment(env: Mapping[str, str] | None = None) -> dict[str, str]:
    """Return the environment Jupyter would give a kernel: the app's, less Streamlit's own.

    Streamlit sets ``MPLBACKEND=Agg`` in its process on import: a kernel inheriting it draws
    nothing on ``plt.show()``. Without it, ipykernel picks the inline backend, as in JupyterLab.
    """
    env = os.environ if env is None else env
    drop_backend = "streamlit" in sys.modules  # then the value is Streamlit's, not the user's
    return {
        k: v
        for k, v in env.items()
        if not k.startswith("STREAMLIT_") and not (drop_backend and k == "MPLBACKEND")
    }


class LocalKernel(OwnedKernel):
    """A kernel process on this machine, owned by this object.

    Only one thread at a time uses the client's sockets (``_io``): a run holds it throughout,
    and restart or shutdown first make the run let go (its next read raises KernelDied), so
    two threads never read one socket (that gave "Invalid Signature" and dead sockets).
    """

    def __init__(
        self,
        name: str = "python3",
        *,
        cwd: Path | None = None,
        spec: str = "",
        history: bool = True,
        limits: LocalLimits | None = None,
        secrets: tuple[tuple[str, str], ...] = (),
    ) -> None:
        self.spec = spec or ("local" if name == "python3" else f"local:{name}")
        self._name = name
        self._cwd = cwd
        self._km = KernelManager(kernel_name=name, kernel_spec_manager=OwnPythonSpecs())
        self._kc: BlockingKernelClient | None = None
        self._transport: _ZmqTransport | None = None
        self._info: KernelInfo | None = None
        self._log: IO[bytes] | None = None
        self._limits = limits or LocalLimits()
        self._secrets = dict(secrets)
        self._io = threading.RLock()
        # Headless runs keep IPython's history in memory, as nbclient does: no sqlite write
        # per cell, and batch runs stay out of the user's history.
        self._extra = [] if history else ["--HistoryManager.hist_file=:memory:"]
        if name == "python3":  # our own ipykernel: DataFrames also as table schema (st.dataframe)
            self._extra.append(f"--IPKernelApp.exec_files={KERNEL_STARTUP}")

    def launch(self) -> None:
        """Start the kernel process without waiting for it (``start`` then waits)."""
        if self._km.has_kernel:
            return
        if self._log is None:
            self._log = tempfile.TemporaryFile(prefix="neuralis-kernel-")
        limited = self._limits.memory or self._limits.processes
        try:
            self._km.start_kernel(
                cwd=str(self._cwd) if self._cwd else None,
                stdout=subprocess.DEVNULL,
                stderr=self._log,
                extra_arguments=self._extra,
                env={**kernel_environment(), **self._secrets},
                **({"preexec_fn": self._limits.apply} if limited else {}),
            )
        except _JcNoSuchKernel as exc:
            raise NoSuchKernel(
                f"No kernelspec named {self._name!r} is installed; "
                f"installed: {', '.join(kernelspec_names())}."
            ) from exc
        except (OSError, RuntimeError) as exc:
            raise KernelStartError(f"Could not start kernel {self._name!r}: {exc}") from exc

    @property
    def pid(self) -> int | None:
        """Return the kernel process's id while it runs."""
        pid = getattr(self._km.provisioner, "pid", None)
        return pid if isinstance(pid, int) and self._km.has_kernel else None

    def start(self, timeout: float = 60.0) -> None:
        """Launch the process (unless launched) and wait until it answers ``kernel_info``."""
        with self._io:
            self.launch()
            self._connect()
            self._wait_ready(timeout)

    def _connect(self) -> None:
        """Open a fresh client: sockets a cut-short run used are never read again."""
        if self._kc is not None:
            self._kc.stop_channels()
        kc = self._km.client()
        kc.start_channels()
        self._kc = kc
        self._transport = _ZmqTransport(kc, self._km)

    def _wait_ready(self, timeout: float) -> None:
        kc = self._client()
        try:
            kc.wait_for_ready(timeout=timeout)
            reply = kc.kernel_info(reply=True, timeout=timeout)
        except (RuntimeError, TimeoutError) as exc:
            log = self.log_tail()
            died = not self.is_alive()
            self.shutdown()
            what = "exited while starting" if died else f"did not become ready within {timeout:g} s"
            raise KernelStartError(
                f"Kernel {self._name!r} {what}: {exc}" + (f"\nIts last words: {log}" if log else "")
            ) from exc
        self._info = KernelInfo.from_reply(reply["content"])

    def execute(
        self,
        code: str,
        on_message: OnMessage,
        *,
        stdin: StdinHandler | None = None,
        timeout: float | None = None,
        stop_on_error: bool = True,
        silent: bool = False,
    ) -> ExecuteReply:
        """Run ``code``; see :class:`neuralis.kernels.base.Kernel`."""
        with self._io:
            if self._transport is None:
                raise KernelDied("The kernel is not running. Start or restart it first.")
            return run_execute(
                self._transport,
                code,
                on_message,
                stdin=stdin,
                timeout=timeout,
                stop_on_error=stop_on_error,
                silent=silent,
            )

    def interrupt(self) -> None:
        """Send SIGINT (or an interrupt request); does not wait."""
        if self._km.has_kernel:
            self._km.interrupt_kernel()

    def restart(self, timeout: float = 60.0) -> None:
        """Stop the whole process tree and start afresh on the same ports; wait until ready.

        A kernel still running a cell (one that ignored the interrupt) is killed, not asked.
        """
        if not self._km.has_kernel or self._kc is None:
            self.start(timeout)
            return
        busy, held = self._take_sockets("The kernel was restarted while this cell ran.")
        try:
            self._stop_process(now=busy, restart=True)
            self.launch()
            self._connect()
            self._wait_ready(timeout)
        except KernelStartError:
            raise
        except (OSError, RuntimeError, zmq.ZMQError) as exc:
            self.shutdown()
            raise KernelStartError(f"Could not restart the kernel: {exc}") from exc
        finally:
            if held:
                self._io.release()

    def _take_sockets(self, why: str) -> tuple[bool, bool]:
        """Make a run in progress give up the sockets, then hold them.

        Return whether a run was in progress, and whether the sockets are now held (a run
        stuck outside the sockets, e.g. on an unanswered ``input()``, never touches them
        again: its next read or send raises).
        """
        if self._io.acquire(blocking=False):
            return False, True
        if self._transport is not None:
            self._transport.cancel(why)  # its next read (within a second) raises KernelDied
        if self._io.acquire(timeout=LIVENESS_INTERVAL * 10):
            return True, True
        self._stop_process(now=True, restart=True)  # a run that does not read: end the kernel
        return True, self._io.acquire(timeout=LIVENESS_INTERVAL * 5)

    def _stop_process(self, *, now: bool, restart: bool = False) -> None:
        """End the kernel and everything it started (its process group and descendants)."""
        if not self._km.has_kernel:
            return
        tree = _ProcessTree.of(getattr(self._km.provisioner, "pid", None))
        try:
            self._km.shutdown_kernel(now=now or not self._km.is_alive(), restart=restart)
        except Exception:  # already gone: make sure nothing is left
            self._km.cleanup_resources(restart=restart)
        tree.kill()

    def shutdown(self) -> None:
        """Stop channels and the whole process tree; safe to call twice."""
        _, held = self._take_sockets("The kernel was shut down.")
        try:
            if self._kc is not None:
                self._kc.stop_channels()
                self._kc = None
            self._transport = None
            self._stop_process(now=False)
            if self._log is not None:
                self._log.close()
                self._log = None
        finally:
            if held:
                self._io.release()

    def log_tail(self, limit: int = 2000) -> str:
        """Return the end of what the kernel process wrote to stderr."""
        if self._log is None:
            return ""
        self._log.seek(0, 2)
        size = self._log.tell()
        self._log.seek(max(0, size - limit))
        return self._log.read().decode("utf-8", "replace").strip()

    def is_alive(self) -> bool:
        """Poll the process."""
        return bool(self._km.has_kernel and self._km.is_alive())

    def _client(self) -> BlockingKernelClient:
        if self._kc is None:
            raise KernelDied("The kernel is not running.")
        return self._kc


@dataclass(frozen=True)
class _ProcessTree:
    """A kernel's process group and its descendants, noted before the kernel is stopped.

    Forked children outlive a kernel that exits cleanly; noting them first (and their start
    times, so a reused pid is left alone) lets the stop end them too.
    """

    pgid: int | None
    members: tuple[tuple[int, str], ...]

    @classmethod
    def of(cls, pid: int | None) -> _ProcessTree:
        """Note the tree under ``pid`` (Linux ``/proc``; elsewhere only its group)."""
        if pid is None:
            return cls(None, ())
        try:
            pgid: int | None = os.getpgid(pid)
        except OSError:
            pgid = None
        children: dict[int, list[int]] = {}
        started: dict[int, str] = {}
        for entry in Path("/proc").glob("[0-9]*"):
            if (stat := _stat(int(entry.name))) is not None:
                children.setdefault(stat[0], []).append(int(entry.name))
                started[int(entry.name)] = stat[1]
        found, todo = [], list(children.get(pid, []))
        while todo:
            child = todo.pop()
            found.append((child, started[child]))
            todo += children.get(child, [])
        return cls(pgid if pgid == pid else None, tuple(found))

    def kill(self) -> None:
        """SIGKILL the group and every noted descendant still the same process."""
        if self.pgid is not None:
            with contextlib.suppress(OSError):
                os.killpg(self.pgid, signal.SIGKILL)
        for pid, start in self.members:
            if (stat := _stat(pid)) is not None and stat[1] == start:
                with contextlib.suppress(OSError):
                    os.kill(pid, signal.SIGKILL)


def _stat(pid: int) -> tuple[int, str] | None:
    """Return (parent pid, start time) of a process from ``/proc``, or None."""
    try:
        fields = Path(f"/proc/{pid}/stat").read_text().rsplit(")", 1)[1].split()
    except (OSError, IndexError):
        return None
    return int(fields[1]), fields[19]


class _ZmqTransport:
    """The shell, iopub and stdin sockets of one client, read through one poller."""

    def __init__(self, kc: BlockingKernelClient, km: KernelManager) -> None:
        self.session = kc.session.session
        self._kc = kc
        self._km = km
        self._sockets: dict[Channel, Any] = {
            "iopub": kc.iopub_channel.socket,
            "stdin": kc.stdin_channel.socket,
            "shell": kc.shell_channel.socket,
        }
        self._poller = zmq.Poller()
        for sock in self._sockets.values():
            self._poller.register(sock, zmq.POLLIN)
        self._pending: deque[Msg] = deque()
        self._cancelled: str | None = None

    def cancel(self, why: str) -> None:
        """Make the next read or send raise KernelDied(why); safe from any thread."""
        self._cancelled = why

    def _check(self) -> None:
        if self._cancelled is not None:
            raise KernelDied(self._cancelled)

    def send(self, channel: Channel, msg: Msg) -> None:
        """Sign and send ``msg`` (the gateway JSON form) on ``channel``."""
        self._check()
        sock = self._sockets[channel]
        wire = {k: msg[k] for k in ("header", "parent_header", "metadata", "content")}
        try:
            self._kc.session.send(sock, wire)
        except zmq.ZMQError as exc:
            raise KernelDied("The kernel was shut down.") from exc

    def recv(self, timeout: float) -> Msg | None:
        """Return the next message from any channel, iopub first."""
        self._check()
        if not self._pending:
            try:
                ready = dict(self._poller.poll(int(timeout * 1000)))
            except zmq.ZMQError as exc:  # sockets closed under us: the kernel was shut down
                raise KernelDied("The kernel was shut down.") from exc
            for channel, sock in self._sockets.items():
                if sock in ready:
                    self._drain(channel, sock)
        return self._pending.popleft() if self._pending else None

    def _drain(self, channel: Channel, sock: Any) -> None:
        while True:
            try:
                _, msg = self._kc.session.recv(sock, mode=zmq.NOBLOCK)
            except zmq.ZMQError:
                return
            if msg is None:
                return
            msg["channel"] = channel
            self._pending.append(msg)

    def alive(self) -> bool:
        """Poll the kernel process."""
        return bool(self._km.is_alive())
