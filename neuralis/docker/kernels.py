"""Spec ``docker:NAME``: the gateway client, pointed at kernel NAME's container.

The container is started when needed and its endpoint re-read on every start (the host port
changes). Liveness looks at the container first, so one killed from outside gives a clear
KernelDied within a second or two instead of waiting out the WebSocket's reconnect budget.
"""

from __future__ import annotations

import stat
import time
from pathlib import Path

from neuralis.config import Settings
from neuralis.docker import containers
from neuralis.docker.dockerfile import KERNEL_UID
from neuralis.errors import GatewayError, KernelDied
from neuralis.kernels.base import ExecuteReply, Kernel, OnMessage, StdinHandler
from neuralis.kernels.gateway import GatewayKernel

RECONNECT_BUDGET = 2.0
"""A container's gateway is on loopback: a socket cut this long means the container is gone."""


class DockerKernel(GatewayKernel):
    """A kernel on the gateway inside kernel NAME's container."""

    def __init__(self, name: str, *, cwd: Path | None, settings: Settings) -> None:
        super().__init__(
            "http://127.0.0.1:0",  # replaced by the container's endpoint at start
            None,
            path=_relative_path(cwd, settings.notebook_dir),
            spec=f"docker:{name}",
            reconnect_budget=RECONNECT_BUDGET,
        )
        self.name = name
        self._settings = settings

    def _target(self, timeout: float) -> None:
        """Start the container if needed and point the client at its current endpoint."""
        ep = containers.ensure_running(self.name, self._settings, timeout)
        self.url = ep.url
        self._token = ep.token
        self._http.headers["Authorization"] = f"token {ep.token}"

    def launch(self, timeout: float = 60.0) -> None:
        """Start the container if it is stopped, then ask its gateway for a kernel."""
        if not self.kernel_id:
            self._target(timeout)
        super().launch(timeout)

    def start(self, timeout: float = 60.0) -> None:
        """Launch (unless launched) and wait until the kernel answers ``kernel_info``."""
        super().start(timeout)  # calls launch() above, which finds the container's endpoint

    def restart(self, timeout: float = 60.0) -> None:
        """Restart the kernel; a stopped or killed container is started again first."""
        if self.kernel_id and not containers.is_running(self.name):
            self._died = True  # the kernel went with its container: start a fresh one
        self._target(timeout)
        super().restart(timeout)

    def execute(
        self,
        code: str,
        on_message: OnMessage,
        *,
        stdin: StdinHandler | None = None,
        timeout: float | None = None,
        stop_on_error: bool = True,
    ) -> ExecuteReply:
        """Run ``code``; if the container went away or ran out of memory, say so plainly."""
        started = time.time()
        try:
            return super().execute(
                code, on_message, stdin=stdin, timeout=timeout, stop_on_error=stop_on_error
            )
        except (KernelDied, GatewayError) as exc:
            self._died = True
            if _settles_stopped(self.name):
                raise KernelDied(
                    f"The container of kernel {self.name!r} {containers.state(self.name)}: "
                    "restart the kernel to continue (its state is lost)."
                ) from exc
            memory = containers.memory_kill(self.name, started)
            if memory:
                raise KernelDied(
                    f"The kernel in container {self.name!r} was {memory}: restart the kernel "
                    "to continue, and use less memory or raise NEURALIS_KERNEL_MEMORY."
                ) from exc
            if isinstance(exc, GatewayError):
                raise KernelDied(
                    f"Lost the kernel in container {self.name!r} (was it restarted?): "
                    "restart the kernel to continue."
                ) from exc
            raise

    def is_alive(self) -> bool:
        """Check the container (cheap, local), then ask the gateway."""
        return containers.is_running(self.name) and super().is_alive()


def _settles_stopped(name: str, wait: float = 1.5) -> bool:
    """Tell whether the container is (or within ``wait`` becomes) stopped.

    A killed container's socket closes a moment before Docker records the exit: without this
    wait the clear "container exited" message would lose the race.
    """
    deadline = time.monotonic() + wait
    while containers.is_running(name):
        if time.monotonic() >= deadline:
            return False
        time.sleep(0.1)
    return True


def _relative_path(cwd: Path | None, root: Path) -> str | None:
    """The notebook's folder inside the mount (``/home/neuralis/work``), if it is under it."""
    if cwd is None:
        return None
    try:
        rel = cwd.resolve().relative_to(root.resolve())
    except ValueError:
        return None
    return rel.as_posix() if rel.parts else None


def folder_warning(folder: Path) -> str | None:
    """Say so when a Docker kernel (uid KERNEL_UID) could not write into the notebook's folder.

    The folder is bind-mounted into the container, so its owner and mode on this machine are
    what the kernel sees (engines that remap uids aside).
    """
    try:
        info = folder.stat()
    except OSError:
        return None
    if info.st_uid == KERNEL_UID:
        writable = info.st_mode & stat.S_IWUSR
    elif info.st_gid == KERNEL_UID:
        writable = info.st_mode & stat.S_IWGRP
    else:
        writable = info.st_mode & stat.S_IWOTH
    if writable:
        return None
    return (
        f"Docker kernels run as uid {KERNEL_UID}, and {folder} is read-only to that user: "
        f"files a cell writes there will fail. Give it the folder (sudo chown -R {KERNEL_UID} "
        f"{folder}) or open it up (chmod o+w {folder})."
    )


def docker_kernel(name: str, *, cwd: Path | None, settings: Settings) -> Kernel:
    """Return a (not yet started) kernel for ``docker:NAME``."""
    return DockerKernel(name, cwd=cwd, settings=settings)
