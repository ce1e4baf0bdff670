"""Browser fixtures: `streamlit run app.py` on a free loopback port, driven by Chromium.

Tests here skip when /usr/bin/chromium is missing, and fail instead when
NEURALIS_REQUIRE_BROWSER=1 (DESIGN.md: a check that can silently skip is not a check).
"""

from __future__ import annotations

import contextlib
import os
import signal
import subprocess
import sys
import time
from collections.abc import Iterator, Sequence
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import pytest
import requests

ROOT = Path(__file__).resolve().parents[2]
CHROMIUM = Path("/usr/bin/chromium")
CHROMIUM_ARGS = [
    "--no-sandbox",
    "--disable-background-networking",
    "--disable-component-update",
    "--disable-sync",
    "--no-first-run",
    "--disable-gpu",
]


def require_browser() -> None:
    """Skip without Chromium or Playwright, or fail when the browser is required."""
    missing = None
    if not CHROMIUM.exists():
        missing = f"{CHROMIUM} is missing (scripts/ci/setup_browser.sh installs it)"
    else:
        try:
            import playwright.sync_api  # noqa: F401
        except ImportError:
            missing = "the playwright package is not installed (requirements-test.txt)"
    if missing is None:
        return
    if os.environ.get("NEURALIS_REQUIRE_BROWSER") == "1":
        pytest.fail(f"NEURALIS_REQUIRE_BROWSER=1 but {missing}")
    pytest.skip(missing)


def free_port() -> int:
    """Return a free loopback TCP port."""
    import socket

    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return int(s.getsockname()[1])


@dataclass
class Server:
    """A running Neuralis app."""

    url: str
    notebook_dir: Path
    process: subprocess.Popen[bytes]
    log: Path | None = None
    """The app's stdout and stderr (start_server's servers)."""
    checked: int = 0
    """How much of the log :func:`check_log` has read."""


RUNNING: list[Server] = []
"""Servers start_server started and stop_server has not stopped: their logs are checked."""
ERRORS = ("Uncaught app execution", "Traceback (most recent call last)", "Exception in thread")


def check_log(server: Server) -> None:
    """Fail when the app logged an uncaught exception since the last check."""
    if server.log is None or not server.log.exists():
        return
    with open(server.log, "rb") as f:
        f.seek(server.checked)
        data = f.read()
    server.checked += len(data)
    text = data.decode("utf-8", "replace")
    if any(marker in text for marker in ERRORS):
        pytest.fail(f"the app logged an uncaught exception ({server.log}):\n{text[-4000:]}")


@pytest.fixture(autouse=True)
def app_log_clean() -> Iterator[None]:
    """Fail a test during which a running app logged an uncaught exception."""
    yield
    for server in list(RUNNING):
        check_log(server)


def start_server(
    notebook_dir: Path,
    env: dict[str, str] | None = None,
    *,
    port: int | None = None,
    args: Sequence[str] = (),
    address: str | None = "127.0.0.1",
) -> Server:
    """Start the app in its own process group and wait until it answers.

    ``port`` (a free one by default) lets a caller write it into a setting first, such as
    the ``redirect_uri`` of ``[auth]``; ``args`` go to ``streamlit run`` (``--secrets.files``);
    ``address=None`` keeps the one of .streamlit/config.toml.
    """
    port = port or free_port()
    cmd = [
        sys.executable, "-m", "streamlit", "run", "app.py",
        "--server.headless", "true", "--server.port", str(port),
        "--browser.gatherUsageStats", "false", *args,
    ]  # fmt: skip
    if address is not None:
        cmd += ["--server.address", address]
    full_env = dict(os.environ, NEURALIS_NOTEBOOK_DIR=str(notebook_dir), **(env or {}))
    log_path = notebook_dir.parent / f"streamlit-{port}.log"
    log = open(log_path, "wb")
    process = subprocess.Popen(
        cmd, cwd=ROOT, env=full_env, stdout=log, stderr=subprocess.STDOUT, start_new_session=True
    )
    url = f"http://127.0.0.1:{port}"
    deadline = time.monotonic() + 60
    while time.monotonic() < deadline:
        if process.poll() is not None:
            raise RuntimeError(f"streamlit exited: {log.name}")
        try:
            if requests.get(f"{url}/_stcore/health", timeout=1).ok:
                RUNNING.append(server := Server(url, notebook_dir, process, log_path))
                return server
        except requests.RequestException:
            pass
        time.sleep(0.2)
    stop_server(Server(url, notebook_dir, process, log_path))
    raise RuntimeError("streamlit did not start within 60 s")


def stop_server(server: Server) -> None:
    """Stop the app and every process it started (kernels are in its process group).

    Fails when the app logged an uncaught exception since the last check, shutdown included.
    """
    pgid = os.getpgid(server.process.pid)
    os.killpg(pgid, signal.SIGTERM)  # streamlit exits cleanly; atexit stops the kernels
    try:
        server.process.wait(timeout=15)
    except subprocess.TimeoutExpired:
        os.killpg(pgid, signal.SIGKILL)
        server.process.wait(timeout=5)
    time.sleep(0.5)
    with contextlib.suppress(ProcessLookupError):  # anything left in the group
        os.killpg(pgid, signal.SIGKILL)
    if server in RUNNING:
        RUNNING.remove(server)
        check_log(server)


@pytest.fixture(scope="module")
def server(tmp_path_factory: pytest.TempPathFactory) -> Iterator[Server]:
    """Run the app on a fresh notebook folder for the module's tests."""
    require_browser()
    folder = tmp_path_factory.mktemp("browser") / "notebooks"
    srv = start_server(folder)
    yield srv
    stop_server(srv)


@pytest.fixture(scope="module")
def browser() -> Iterator[Any]:
    """Launch Debian's Chromium, headless (never Playwright's own download)."""
    require_browser()
    from playwright.sync_api import sync_playwright

    with sync_playwright() as pw:
        chromium = pw.chromium.launch(
            executable_path=str(CHROMIUM), headless=True, args=CHROMIUM_ARGS
        )
        yield chromium
        chromium.close()


@pytest.fixture
def page(browser: Any) -> Iterator[Any]:
    """Return a fresh page with a large viewport."""
    context = browser.new_context(viewport={"width": 1400, "height": 1000})
    pg = context.new_page()
    pg.set_default_timeout(30_000)
    yield pg
    context.close()
