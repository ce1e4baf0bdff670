"""The team's view of the running kernels: notebook, who opened it, status, idle time, memory.

Local kernels report their process's resident memory (``/proc/PID/status``, Linux); Docker
kernels their container's (one sample of the engine's stats, page cache left out).
"""

from __future__ import annotations

import time
from dataclasses import dataclass

from neuralis.errors import NeuralisError
from neuralis.optional import docker_support
from neuralis.session import Sessions


@dataclass(frozen=True)
class RunningKernel:
    """One notebook's running kernel, as the Kernels page lists it."""

    notebook: str
    spec: str
    opened_by: str | None
    status: str
    idle: float | None
    """Seconds since its last run ended (None: busy, or nothing ran yet)."""
    memory: int | None
    """Bytes resident (None: unknown)."""
    tabs: int


def running_kernels(sessions: Sessions, now: float | None = None) -> list[RunningKernel]:
    """List every notebook whose kernel is starting, idle or busy."""
    broker = sessions.broker
    now = time.time() if now is None else now
    found = []
    for key in sorted(broker.notebooks()):
        status = broker.kernel_status(key)
        if status not in ("starting", "idle", "busy"):
            continue
        spec = broker.spec(key) or "local"
        ended = [r.ended_at for r in broker.records(key).values() if r.ended_at is not None]
        idle = now - max(ended) if ended and status == "idle" else None
        kernel = broker.kernel(key)
        pid = getattr(kernel, "pid", None)
        memory = _container_memory(spec, key) if spec.startswith("docker:") else process_rss(pid)
        opened = sessions.opened_by(key)
        found.append(RunningKernel(key, spec, opened, status, idle, memory, sessions.attached(key)))
    return found


def process_rss(pid: int | None) -> int | None:
    """Return a process's resident memory in bytes, from ``/proc`` (None elsewhere)."""
    if not isinstance(pid, int):
        return None
    try:
        with open(f"/proc/{pid}/status", encoding="ascii", errors="replace") as f:
            for line in f:
                if line.startswith("VmRSS:"):
                    return int(line.split()[1]) * 1024
    except (OSError, ValueError, IndexError):
        return None
    return None


def _container_memory(spec: str, notebook: str) -> int | None:
    if not docker_support():
        return None
    from neuralis.docker import containers

    try:
        return containers.memory_used(spec.partition(":")[2], notebook)
    except NeuralisError:
        return None


def stop(sessions: Sessions, notebooks: list[str]) -> list[str]:
    """Shut down the kernels of ``notebooks`` (their runs end, their records stay)."""
    for key in notebooks:
        sessions.broker.shutdown(key)
    return notebooks


def unattended(kernels: list[RunningKernel]) -> list[str]:
    """Return the idle kernels no tab shows: what a cull would stop now."""
    return [k.notebook for k in kernels if k.tabs == 0 and k.status == "idle"]
