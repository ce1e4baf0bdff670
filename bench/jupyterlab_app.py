"""JupyterLab for the benchmark: a server in a temporary folder, and a driver for its page.

The server runs `jupyter lab` with a token on a free loopback port, every Jupyter directory
(config, data, runtime, settings, workspaces) inside the folder, and no news, update check or
extension manager reaching out. It is stopped with /api/shutdown (which shuts its kernels
down), then its process group; a kernel still alive after that (kernels run in sessions of
their own) is found by its connection file, inside the folder, and killed.
"""

from __future__ import annotations

import contextlib
import json
import os
import secrets
import signal
import subprocess
import time
from collections.abc import Iterator
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import requests

from bench.page_timer import arm, density, first_drawn, shown, steps
from tests.browser.conftest import free_port

CELL = ".jp-Notebook .jp-Cell"


@dataclass(frozen=True)
class Lab:
    """A running JupyterLab server."""

    url: str
    token: str


def _settings(folder: Path) -> None:
    """Answer the news question in advance (its toast would cover the cells)."""
    path = folder / "settings" / "@jupyterlab" / "apputils-extension"
    path.mkdir(parents=True)
    notice = {"fetchNews": "false", "checkForUpdates": False}
    (path / "notification.jupyterlab-settings").write_text(json.dumps(notice))


@contextlib.contextmanager
def jupyterlab(folder: Path) -> Iterator[Lab]:
    """Run JupyterLab on ``folder / "root"`` until the block ends, whatever happens in it."""
    _settings(folder)
    port, token = free_port(), secrets.token_hex(16)
    dirs = {"JUPYTER_CONFIG_DIR": "config", "JUPYTER_DATA_DIR": "data",
            "JUPYTER_RUNTIME_DIR": "runtime", "JUPYTERLAB_SETTINGS_DIR": "settings",
            "JUPYTERLAB_WORKSPACES_DIR": "workspaces", "IPYTHONDIR": "ipython"}  # fmt: skip
    env = dict(os.environ, **{k: str(folder / v) for k, v in dirs.items()})
    cmd = [
        "jupyter", "lab", "--no-browser", "--allow-root", "--ip=127.0.0.1", f"--port={port}",
        f"--IdentityProvider.token={token}", f"--ServerApp.root_dir={folder / 'root'}",
        "--ServerApp.terminals_enabled=False", "--LabApp.extension_manager=readonly",
        "--LabApp.check_for_updates_class=jupyterlab.NeverCheckForUpdate",
    ]  # fmt: skip
    with open(folder / "jupyterlab.log", "wb") as log:
        process = subprocess.Popen(
            cmd, env=env, stdout=log, stderr=subprocess.STDOUT, start_new_session=True
        )
    lab = Lab(f"http://127.0.0.1:{port}", token)
    try:
        _wait_up(lab, process, folder / "jupyterlab.log")
        yield lab
    finally:
        _stop(lab, process, folder / "runtime")


def _wait_up(lab: Lab, process: subprocess.Popen[bytes], log: Path) -> None:
    deadline = time.monotonic() + 60
    while time.monotonic() < deadline:
        if process.poll() is not None:
            raise RuntimeError(f"jupyter lab exited:\n{log.read_text()[-2000:]}")
        with contextlib.suppress(requests.RequestException):
            if requests.get(f"{lab.url}/api/status", headers=_auth(lab), timeout=1).ok:
                return
        time.sleep(0.3)
    raise RuntimeError("jupyter lab did not answer within 60 s")


def _auth(lab: Lab) -> dict[str, str]:
    return {"Authorization": f"token {lab.token}"}


def _stop(lab: Lab, process: subprocess.Popen[bytes], runtime: Path) -> None:
    """Shut the server and its kernels down; kill what is left."""
    with contextlib.suppress(requests.RequestException):
        requests.post(f"{lab.url}/api/shutdown", headers=_auth(lab), timeout=10)
    with contextlib.suppress(subprocess.TimeoutExpired):
        process.wait(timeout=20)
    with contextlib.suppress(ProcessLookupError):
        os.killpg(process.pid, signal.SIGKILL)
    process.wait(timeout=10)
    for pid in _pids_using(str(runtime)):
        with contextlib.suppress(ProcessLookupError):
            os.kill(pid, signal.SIGKILL)


def _pids_using(marker: str) -> list[int]:
    """Return the processes whose command line names ``marker`` (a kernel's connection file)."""
    found = []
    for entry in Path("/proc").iterdir():
        if entry.name.isdigit():
            with contextlib.suppress(OSError):
                if marker.encode() in (entry / "cmdline").read_bytes():
                    found.append(int(entry.name))
    return found


# The first cell's editor (CodeMirror) shows its text.
_FIRST = f"""() => {{
  const c = document.querySelector("{CELL} .cm-content");
  return c && c.textContent.includes("globals") ? c : null;
}}"""
_ACTIVE = (
    f"[...document.querySelectorAll('{CELL}')]"
    ".findIndex(c => c.classList.contains('jp-mod-active'))"
)


class JupyterLab:
    """Drive JupyterLab's notebook page as a person does."""

    name = "JupyterLab"

    def __init__(self, lab: Lab, notebook: str) -> None:
        self.lab, self.notebook = lab, notebook

    def open(self, page: Any) -> float:
        return first_drawn(
            page, f"{self.lab.url}/lab/tree/{self.notebook}?token={self.lab.token}", _FIRST
        )

    def ready(self, page: Any) -> None:
        page.locator('.jp-Notebook-ExecutionIndicator[data-status="idle"]').first.wait_for()
        page.wait_for_function(f"document.querySelectorAll('{CELL}').length >= 50")

    def density(self, page: Any) -> float:
        return density(page, CELL)

    def _select(self, page: Any, index: int) -> None:
        """Select a cell in command mode (a click on its prompt, as a person does)."""
        page.locator(CELL).nth(index).locator(".jp-InputPrompt").click()
        page.wait_for_function(f"{_ACTIVE} === {index}")

    def click_run(self, page: Any) -> float:
        self._select(page, 0)
        arm(page, r"run-(\d+)-done")
        page.locator('[data-command="notebook:run-cell-and-select-next"]').first.click()
        return shown(page)

    def ctrl_enter(self, page: Any) -> float:
        page.locator(CELL).nth(0).locator(".cm-content").click()
        arm(page, r"run-(\d+)-done")
        page.keyboard.press("Control+Enter")
        return shown(page)

    def shift_enter(self, page: Any, count: int) -> float:
        page.locator(CELL).nth(1).locator(".cm-content").click()
        return steps(page, count, "Shift+Enter", 120_000)

    def run_all(self, page: Any) -> float:
        page.locator(CELL).last.scroll_into_view_if_needed()
        page.locator(".lm-MenuBar-item", has_text="Run").first.click()
        item = page.locator(".lm-Menu").get_by_text("Run All Cells", exact=True)
        item.wait_for()
        arm(page, r"last-(\d+)-done")
        item.click()
        return shown(page)
