"""Spec ``docker:NAME``: the gateway client, pointed at kernel NAME's container.

The container is the endpoint provider: started when needed and its endpoint re-read on every
start (the host port changes). Liveness looks at the container first, so one killed from
outside gives a clear KernelDied within a second or two instead of waiting out the
WebSocket's reconnect budget.
"""

from __future__ import annotations

from pathlib import Path

from neuralis.config import Settings
from neuralis.docker import containers, diagnosis
from neuralis.errors import GatewayError, KernelDied
from neuralis.kernels.endpoints import Endpoint
from neuralis.kernels.gateway import GatewayKernel

RECONNECT_BUDGET = 2.0
"""A container's gateway is on loopback: a socket cut this long means the container is gone."""


class ContainerEndpoint:
    """Kernel NAME's container, as the endpoint of its gateway kernel."""

    def __init__(self, name: str, settings: Settings) -> None:
        self.name = name
        self._settings = settings

    def endpoint(self, timeout: float) -> Endpoint:
        """Start the container if it is stopped; return its gateway's current URL and token."""
        ep = containers.ensure_running(self.name, self._settings, timeout)
        return Endpoint(ep.url, ep.token)

    def is_running(self) -> bool:
        """Inspect the container (local, a few ms)."""
        return containers.is_running(self.name)

    def explain(self, cause: Exception, since: float) -> KernelDied | None:
        """Say the container exited or the kernel ran out of memory, if so; a gateway error
        from a container that still runs means its kernel was replaced under us."""
        reason = diagnosis.why_lost(self.name, since)
        if reason:
            return KernelDied(reason)
        if isinstance(cause, GatewayError):
            return KernelDied(
                f"Lost the kernel in container {self.name!r} (was it restarted?): "
                "restart the kernel to continue."
            )
        return None


def docker_kernel(name: str, *, cwd: Path | None, settings: Settings) -> GatewayKernel:
    """Return a (not yet started) kernel for ``docker:NAME``."""
    return GatewayKernel(
        ContainerEndpoint(name, settings),
        path=_relative_path(cwd, settings.notebook_dir),
        spec=f"docker:{name}",
        reconnect_budget=RECONNECT_BUDGET,
    )


def _relative_path(cwd: Path | None, root: Path) -> str | None:
    """The notebook's folder inside the mount (``/home/neuralis/work``), if it is under it."""
    if cwd is None:
        return None
    try:
        rel = cwd.resolve().relative_to(root.resolve())
    except ValueError:
        return None
    return rel.as_posix() if rel.parts else None
