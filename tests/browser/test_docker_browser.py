"""Build a Docker kernel on the Kernels page and run a notebook cell on it, in Chromium."""

from __future__ import annotations

from collections.abc import Iterator
from typing import Any

import pytest

from tests.browser.conftest import Server, require_browser, start_server, stop_server
from tests.browser.test_notebook_browser import open_notebook
from tests.docker.conftest import PREFIX, docker_engine
from tests.ui.conftest import make_notebook, read

__all__ = ["docker_engine"]

pytestmark = [pytest.mark.browser, pytest.mark.docker]
KERNEL = f"{PREFIX}-ui"


@pytest.fixture(scope="module")
def docker_server(
    docker_engine: None, tmp_path_factory: pytest.TempPathFactory
) -> Iterator[Server]:
    """Run the app with the test Docker settings (local base images, host network builds)."""
    require_browser()
    srv = start_server(tmp_path_factory.mktemp("docker-browser") / "notebooks")
    yield srv
    stop_server(srv)


def test_build_a_kernel_and_run_a_cell_on_it(page: Any, docker_server: Server) -> None:
    page.set_default_timeout(60_000)
    page.goto(f"{docker_server.url}/kernels")
    page.get_by_text("Build a kernel").wait_for()
    page.get_by_label("Name").fill(KERNEL)
    page.get_by_label("Packages, one per line").fill("six")
    page.get_by_label("Packages, one per line").blur()
    page.get_by_role("button", name="Build", exact=True).click()
    page.get_by_text("passed its smoke test").wait_for(timeout=420_000)

    make_notebook(docker_server.notebook_dir, "in_docker.ipynb", [
        "import os, sys, six\nprint('py', sys.version_info[:2], os.getcwd())",
    ])  # fmt: skip
    open_notebook(page, docker_server, "in_docker.ipynb")
    page.get_by_test_id("stSelectbox").filter(has_text="Kernel").first.click()
    page.get_by_role("option", name=f"docker:{KERNEL}").click()
    page.get_by_text(f"docker:{KERNEL}").first.wait_for()
    page.get_by_role("button", name="Run all", exact=True).click()
    page.get_by_text("/home/neuralis/work").first.wait_for(timeout=180_000)
    saved = read(docker_server.notebook_dir, "in_docker.ipynb")
    assert saved.metadata["neuralis"]["kernel"] == f"docker:{KERNEL}"
