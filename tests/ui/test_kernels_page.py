"""The Kernels page under AppTest: without Docker, and on a real engine."""

from __future__ import annotations

import os
from collections.abc import Callable
from pathlib import Path

import pytest
from streamlit.testing.v1 import AppTest

from tests.docker.conftest import docker_engine
from tests.ui.conftest import make_notebook, wait_done

__all__ = ["docker_engine"]

PAGE = "pages/kernels.py"


def test_without_docker_the_page_says_so(
    app: Callable[..., AppTest], monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.setenv("DOCKER_HOST", "unix:///nonexistent/docker.sock")
    at = app(page=PAGE)
    assert not at.exception
    (warning,) = at.warning
    assert "local kernels" in warning.value
    assert not at.button  # no build form without an engine


@pytest.mark.docker
@pytest.mark.usefixtures("docker_engine")
def test_with_docker_the_form_checks_packages(app: Callable[..., AppTest]) -> None:
    at = app(page=PAGE)
    assert not at.exception
    assert "Docker" in at.success[0].value
    at.text_area(key="build-packages").input("pandas>=2\nrequests; rm -rf /").run()
    assert at.error and "requests; rm -rf /" in at.error[0].value
    assert at.button(key="build-start").disabled
    at.text_area(key="build-packages").input("pandas>=2").run()
    assert not at.error
    assert not at.button(key="build-start").disabled
    assert at.get("download_button")  # the build script of the spec in the form


@pytest.mark.docker
@pytest.mark.usefixtures("docker_engine")
def test_a_folder_docker_kernels_cannot_write_is_named_with_the_fix(
    app: Callable[..., AppTest], notebook_dir: Path
) -> None:
    if os.getuid() == 1000:
        pytest.skip("the kernel's uid owns the folder here")
    notebook_dir.mkdir(parents=True, exist_ok=True)
    notebook_dir.chmod(0o755)  # owned by us, read-only to uid 1000
    at = app(page=PAGE)
    assert any(f"chown -R 1000 {notebook_dir.resolve()}" in w.value for w in at.warning)
    notebook_dir.chmod(0o777)
    at = app(page=PAGE)
    assert not any("uid 1000" in w.value for w in at.warning)


def test_running_kernels_are_listed_and_several_stopped_at_once(
    app: Callable[..., AppTest], notebook_dir: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    from neuralis.ui import auth, state

    monkeypatch.setenv("DOCKER_HOST", "unix:///nonexistent/docker.sock")  # local kernels only
    names = ["a.ipynb", "b.ipynb", "c.ipynb"]
    for i, name in enumerate(names):
        (cid,) = make_notebook(notebook_dir, name, ["x = bytearray(50 * 2**20)\nprint('ok')"])
        monkeypatch.setattr(auth, "who", lambda i=i: ["ana@example.com", None, "ana"][i])
        at = app(file=name)
        at.button(key=f"run-{cid}").click().run()
        wait_done(at)
    broker = state.sessions().broker
    assert [broker.kernel_status(k) for k in sorted(broker.notebooks())] == ["idle"] * 3
    at = app(page=PAGE)
    table = at.dataframe[0].value
    assert sorted(Path(n).name for n in table["notebook"]) == names
    assert list(table["opened by"]) == ["ana@example.com", "", "ana"]
    assert set(table["status"]) == {"idle"} and all(table["idle"])
    assert all(int(m.split()[0]) >= 50 for m in table["memory"])  # the 50 MB each one holds
    keys = list(table["notebook"])
    at.multiselect(key="running-pick").set_value(keys[:2]).run()
    at.button(key="running-stop").click().run()
    assert not at.exception
    assert [broker.kernel_status(k) for k in keys] == ["none", "none", "idle"]
    left = at.dataframe[0].value
    assert list(left["notebook"]) == keys[2:]
