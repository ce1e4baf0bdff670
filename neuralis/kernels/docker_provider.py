"""Spec ``docker:NAME``: the gateway client, pointed at the notebook's own container of NAME.

Each notebook gets a container of its own from image NAME (named for the kernel and the
notebook), so no notebook can read another's variables, connection file or gateway token. The
container is the endpoint provider: started on the kernel's first start, its endpoint re-read
on every start (the host port changes), and removed when the kernel is shut down or culled.
Liveness looks at the container first, so one killed from outside gives a clear KernelDied
within a second or two instead of waiting out the WebSocket's reconnect budget.
"""

from __future__ import annotations

import logging
import secrets
from pathlib import Path

from neuralis.config import Settings
from neuralis.docker import containers, diagnosis
from neuralis.errors import GatewayError, KernelDied
from neuralis.kernels.endpoints import Endpoint
from neuralis.kernels.gateway import GatewayKernel

RECONNECT_BUDGET = 2.0
"""A container's gateway is on loopback: a socket cut this long means the container is gone."""

log = logging.getLogger(__name__)


class ContainerEndpoint:
    """A notebook's container of kernel NAME, as the endpoint of its gateway kernel."""

    def __init__(self, name: str, settings: Settings, notebook: str, mount: Path | None) -> None:
        self.name = name
        self.notebook = notebook
        self._mount = mount
        self._settings = settings

    def endpoint(self, timeout: float) -> Endpoint:
        """Start the container if needed; return its gateway's current URL and token."""
        ep = containers.ensure_running(
            self.name, self._settings, timeout, notebook=self.notebook, mount=self._mount
        )
        return Endpoint(ep.url, ep.token)

    def is_running(self) -> bool:
        """Inspect the container (local, a few ms)."""
        return containers.is_running(self.name, self.notebook)

    def explain(self, cause: Exception, since: float) -> KernelDied | None:
        """Say the container exited or the kernel ran out of memory, if so; a gateway error
        from a container that still runs means its kernel was replaced under us."""
        reason = diagnosis.why_lost(self.name, since, self.notebook)
        if reason:
            return KernelDied(reason)
        if isinstance(cause, GatewayError):
            return KernelDied(
                f"Lost the kernel in container {self.name!r} (was it restarted?): "
                "restart the kernel to continue."
            )
        return None

    def release(self) -> None:
        """Remove the notebook's container: its kernel is gone, and so is the container."""
        containers.discard(self.name, self.notebook)


def docker_kernel(
    name: str, *, cwd: Path | None, settings: Settings, notebook: str | None = None
) -> GatewayKernel:
    """Return a (not yet started) kernel for ``docker:NAME`` in ``notebook``'s own container.

    Without a notebook the kernel still gets a container of its own, under a random name.
    """
    mount, path = mount_for(cwd, settings)
    return GatewayKernel(
        ContainerEndpoint(name, settings, notebook or f"kernel-{secrets.token_hex(4)}", mount),
        path=path,
        spec=f"docker:{name}",
        reconnect_budget=RECONNECT_BUDGET,
    )


def mount_for(cwd: Path | None, settings: Settings) -> tuple[Path | None, str | None]:
    """Return the host folder to mount at ``/home/neuralis/work`` and the notebook's folder in it.

    A notebook under ``NEURALIS_NOTEBOOK_DIR`` sees that whole folder (relative paths to its
    neighbours work) and starts in its own subfolder; a notebook anywhere else gets its own
    folder mounted, never a kernel writing into the container's filesystem.
    """
    root = settings.notebook_dir.resolve()
    if cwd is None:
        return (root if root.is_dir() else None), None
    folder = cwd.resolve()
    try:
        rel = folder.relative_to(root)
    except ValueError:
        log.info("%s is outside NEURALIS_NOTEBOOK_DIR: its Docker kernel mounts it alone", folder)
        return folder, None
    return root, (rel.as_posix() if rel.parts else None)
