"""The Kernels page under AppTest: without Docker, and on a real engine."""

from __future__ import annotations

from collections.abc import Callable

import pytest
from streamlit.testing.v1 import AppTest

from tests.docker.conftest import docker_engine

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
