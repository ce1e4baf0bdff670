"""The fault and bad-input table: shared fixtures, and the figures printed after the run.

Docker and browser fixtures are the ones of tests/docker and tests/browser (same PREFIX
naming and cleanup; skip with the reason, or fail under NEURALIS_REQUIRE_DOCKER=1 /
NEURALIS_REQUIRE_BROWSER=1). Every test adds its row to FIGURES with :func:`record`;
``pytest_terminal_summary`` prints the table the README's reliability section quotes.
"""

from __future__ import annotations

from pathlib import Path

import pytest

from neuralis.config import Settings
from tests.browser.conftest import app_log_clean, browser, page, require_browser  # noqa: F401
from tests.docker.conftest import built_kernel, docker_engine, settings  # noqa: F401
from tests.ui.conftest import app, no_app_error, notebook_dir  # noqa: F401

FIGURES: list[tuple[str, str, str]] = []
"""(kind, what was tried, what happened) for every row of the table that held."""


def record(kind: str, what: str, outcome: str) -> None:
    """Add one row to the figures (call it after the test's assertions held)."""
    FIGURES.append((kind, what, outcome))


def pytest_terminal_summary(terminalreporter: pytest.TerminalReporter) -> None:
    """Print the figures of the rows that held in this run."""
    if not FIGURES:
        return
    tr = terminalreporter
    tr.section("reliability figures")
    for kind in ("fault", "input", "security", "load"):
        rows = [r for r in FIGURES if r[0] == kind]
        tr.write_line(f"{kind}: {len(rows)} held")
        for _, what, outcome in rows:
            tr.write_line(f"  - {what}: {outcome}")


@pytest.fixture
def folder(settings: Settings) -> Path:  # noqa: F811
    """The settings' notebook folder (a container's uid 1000 can write it)."""
    return settings.notebook_dir
