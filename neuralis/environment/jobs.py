"""Kernel image builds in background threads, so a page rerun never interrupts one.

The Kernels page starts a build here and polls its :class:`BuildState`; the thread owns the
docker build stream until it ends (it is a daemon: a build cut by the server's exit leaves no
tagged image, since images are tagged only after their smoke test).
"""

from __future__ import annotations

import threading
import time
from dataclasses import dataclass, field, replace
from typing import TYPE_CHECKING

from neuralis.config import Settings
from neuralis.errors import NeuralisError

if TYPE_CHECKING:
    from neuralis.docker.spec import ImageSpec

MAX_LOG_LINES = 2000


@dataclass(frozen=True)
class BuildState:
    """How far a build has got."""

    name: str
    status: str = "running"  # running, done, failed
    step: int = 0
    total: int = 0
    stage: str = "Starting the build"
    log: tuple[str, ...] = ()
    verdict: str = ""
    started_at: float = field(default_factory=time.time)

    @property
    def progress(self) -> float:
        """Return the share of build steps done (0-1)."""
        return min(1.0, self.step / self.total) if self.total else 0.0


class Builds:
    """Process-wide registry of builds, newest per kernel name."""

    def __init__(self) -> None:
        self._lock = threading.Lock()
        self._states: dict[str, BuildState] = {}

    def start(self, spec: ImageSpec, settings: Settings) -> BuildState:
        """Start building ``spec`` unless a build of that name is already running."""
        with self._lock:
            current = self._states.get(spec.name)
            if current is not None and current.status == "running":
                return current
            state = self._states[spec.name] = BuildState(spec.name)
        thread = threading.Thread(
            target=self._run, args=(spec, settings), name=f"neuralis-build-{spec.name}", daemon=True
        )
        thread.start()
        return state

    def get(self, name: str) -> BuildState | None:
        """Return the latest build of a kernel name."""
        with self._lock:
            return self._states.get(name)

    def all(self) -> list[BuildState]:
        """Return every build, newest first."""
        with self._lock:
            return sorted(self._states.values(), key=lambda s: -s.started_at)

    def _update(self, name: str, **changes: object) -> None:
        with self._lock:
            self._states[name] = replace(self._states[name], **changes)  # type: ignore[arg-type]

    def _append(self, name: str, line: str) -> None:
        with self._lock:
            state = self._states[name]
            log = (*state.log, line)[-MAX_LOG_LINES:]
            self._states[name] = replace(state, log=log)

    def _run(self, spec: ImageSpec, settings: Settings) -> None:
        from neuralis.docker.build import build
        from neuralis.kernels.smoke import smoke_test

        try:
            for event in build(spec, settings, verify=smoke_test):
                if event.kind == "step":
                    self._update(spec.name, step=event.step, total=event.total, stage=event.text)
                    self._append(spec.name, f"Step {event.step}/{event.total}: {event.text}")
                elif event.kind == "log":
                    self._append(spec.name, event.text)
                elif event.kind == "smoke":
                    self._update(spec.name, stage=event.text)
                    self._append(spec.name, event.text)
            verdict = f"Kernel {spec.name!r} is built and passed its smoke test."
            self._update(spec.name, status="done", verdict=verdict, step=1, total=1)
        except NeuralisError as exc:
            self._update(spec.name, status="failed", verdict=str(exc))
        except Exception as exc:  # a thread must report, never die silently
            self._update(spec.name, status="failed", verdict=f"{type(exc).__name__}: {exc}")
