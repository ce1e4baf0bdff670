"""Chromium, behind the password gate: a cell runs, the Kernels page lists its kernel as
opened with the team password, and Stop selected stops it."""

from __future__ import annotations

from collections.abc import Iterator
from pathlib import Path
from typing import Any

import pytest

from tests.browser.conftest import Server, require_browser, start_server, stop_server
from tests.browser.test_gate import PASSWORD
from tests.browser.test_notebook_browser import wait_loaded
from tests.ui.conftest import make_notebook

pytestmark = pytest.mark.browser


@pytest.fixture
def gated(tmp_path: Path) -> Iterator[Server]:
    require_browser()
    secrets = tmp_path / "secrets.toml"
    secrets.write_text(f'[neuralis]\npassword = "{PASSWORD}"\n')
    server = start_server(tmp_path / "nb", args=["--secrets.files", str(secrets)])
    yield server
    stop_server(server)


def test_the_team_sees_the_kernel_and_stops_it(page: Any, gated: Server) -> None:
    page.set_default_timeout(120_000)
    (cid,) = make_notebook(gated.notebook_dir, "team.ipynb", ["print('team ' + 'ready')"])
    page.goto(f"{gated.url}/?file=team.ipynb")
    page.get_by_label("Team password").fill(PASSWORD)
    page.get_by_role("button", name="Enter").click()
    wait_loaded(page)
    page.locator(f".st-key-run-{cid} button").first.click()
    page.get_by_text("team ready").wait_for()
    page.goto(f"{gated.url}/kernels")
    page.get_by_text("Running kernels").wait_for()
    page.locator("[data-testid='stDataFrame']").first.wait_for()  # a canvas: AppTest reads it
    page.locator(".st-key-running-pick").click()
    option = page.get_by_role("option", name="team.ipynb")
    assert "(team password)" in option.inner_text()  # who opened it, as the gate knows them
    option.click()
    page.keyboard.press("Escape")
    page.get_by_role("button", name="Stop selected").click()
    page.get_by_text("No kernel is running.").wait_for()
