"""Local kernels through jupyter_client: spec ``local`` and ``local:NAME``."""

from __future__ import annotations

import subprocess
import sys
import tempfile
from collections import deque
from pathlib import Path
from typing import IO, Any

import zmq
from jupyter_client.blocking.client import BlockingKernelClient
from jupyter_client.kernelspec import KernelSpec, KernelSpecManager
from jupyter_client.kernelspec import NoSuchKernel as _JcNoSuchKernel
from jupyter_client.manager import KernelManager

from neuralis.errors import KernelDied, KernelStartError, NoSuchKernel
from neuralis.kernels.base import (
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


class LocalKernel(OwnedKernel):
    """A kernel process on this machine, owned by this object."""

    def __init__(
        self,
        name: str = "python3",
        *,
        cwd: Path | None = None,
        spec: str = "",
        history: bool = True,
    ) -> None:
        self.spec = spec or ("local" if name == "python3" else f"local:{name}")
        self._name = name
        self._cwd = cwd
        self._km = KernelManager(kernel_name=name, kernel_spec_manager=OwnPythonSpecs())
        self._kc: BlockingKernelClient | None = None
        self._transport: _ZmqTransport | None = None
        self._info: KernelInfo | None = None
        self._log: IO[bytes] | None = None
        # Headless runs keep IPython's history in memory, as nbclient does: no sqlite write
        # per cell, and batch runs stay out of the user's history.
        self._extra = [] if history else ["--HistoryManager.hist_file=:memory:"]
        if name == "python3":  # our own ipykernel: DataFrames also as table schema (st.dataframe)
            self._extra.append(f"--IPKernelApp.exec_files={KERNEL_STARTUP}")

    def launch(self) -> None:
        """Start the kernel process without waiting for it (``start`` then waits)."""
        if self._km.has_kernel:
            return
        self._log = tempfile.TemporaryFile(prefix="neuralis-kernel-")
        try:
            self._km.start_kernel(
                cwd=str(self._cwd) if self._cwd else None,
                stdout=subprocess.DEVNULL,
                stderr=self._log,
                extra_arguments=self._extra,
            )
        except _JcNoSuchKernel as exc:
            raise NoSuchKernel(
                f"No kernelspec named {self._name!r} is installed; "
                f"installed: {', '.join(kernelspec_names())}."
            ) from exc
        except (OSError, RuntimeError) as exc:
            raise KernelStartError(f"Could not start kernel {self._name!r}: {exc}") from exc

    def start(self, timeout: float = 60.0) -> None:
        """Launch the process (unless launched) and wait until it answers ``kernel_info``."""
        self.launch()
        kc = self._km.client()
        kc.start_channels()
        self._kc = kc
        self._transport = _ZmqTransport(kc, self._km)
        self._wait_ready(timeout)

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
    ) -> ExecuteReply:
        """Run ``code``; see :class:`neuralis.kernels.base.Kernel`."""
        if self._transport is None:
            raise KernelDied("The kernel is not running. Start or restart it first.")
        return run_execute(
            self._transport,
            code,
            on_message,
            stdin=stdin,
            timeout=timeout,
            stop_on_error=stop_on_error,
        )

    def interrupt(self) -> None:
        """Send SIGINT (or an interrupt request); does not wait."""
        if self._km.has_kernel:
            self._km.interrupt_kernel()

    def restart(self, timeout: float = 60.0) -> None:
        """Restart on the same ports, so the client keeps working, and wait until ready."""
        if not self._km.has_kernel or self._kc is None:
            self.start(timeout)
            return
        try:
            self._km.restart_kernel(now=not self._km.is_alive())
        except RuntimeError as exc:
            raise KernelStartError(f"Could not restart the kernel: {exc}") from exc
        if self._transport is not None:
            self._transport.flush()
        self._wait_ready(timeout)

    def shutdown(self) -> None:
        """Stop channels and the process; safe to call twice."""
        if self._kc is not None:
            self._kc.stop_channels()
            self._kc = None
        self._transport = None
        if self._km.has_kernel:
            try:
                self._km.shutdown_kernel(now=not self._km.is_alive())
            except Exception:  # already gone: make sure nothing is left
                self._km.cleanup_resources()
        if self._log is not None:
            self._log.close()
            self._log = None

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

    def send(self, channel: Channel, msg: Msg) -> None:
        """Sign and send ``msg`` (the gateway JSON form) on ``channel``."""
        sock = self._sockets[channel]
        wire = {k: msg[k] for k in ("header", "parent_header", "metadata", "content")}
        try:
            self._kc.session.send(sock, wire)
        except zmq.ZMQError as exc:
            raise KernelDied("The kernel was shut down.") from exc

    def recv(self, timeout: float) -> Msg | None:
        """Return the next message from any channel, iopub first."""
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

    def flush(self) -> None:
        """Drop every message already received or waiting."""
        self._pending.clear()
        for channel, sock in self._sockets.items():
            self._drain(channel, sock)
        self._pending.clear()

    def alive(self) -> bool:
        """Poll the kernel process."""
        return bool(self._km.is_alive())
