"""Docker fixtures shared with tests/docker (same PREFIX, skip-or-fail, cleanup)."""

from __future__ import annotations

from tests.docker.conftest import PREFIX, docker_engine, settings

__all__ = ["PREFIX", "docker_engine", "settings"]
