"""Docker fixtures shared with tests/docker (same PREFIX, skip-or-fail, cleanup)."""

from __future__ import annotations

from tests.docker.conftest import PREFIX, docker_engine, settings
from tests.ui.conftest import no_app_error  # autouse: an app exception fails the test

__all__ = ["PREFIX", "docker_engine", "no_app_error", "settings"]
