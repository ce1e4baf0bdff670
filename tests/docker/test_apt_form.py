"""The Kernels page's build form with system packages (one Debian name per line), as a user
fills it: a bad name is refused with the reason and no Build button, then python-magic with
``libmagic1`` builds and passes its smoke test, and the image records the system package."""

from __future__ import annotations

import json
import time
from collections.abc import Callable
from pathlib import Path

import pytest
from streamlit.testing.v1 import AppTest

from neuralis.docker import containers
from tests.docker.conftest import PREFIX
from tests.ui.conftest import app, no_app_error, notebook_dir

__all__ = ["app", "no_app_error", "notebook_dir"]

pytestmark = pytest.mark.docker


@pytest.mark.usefixtures("docker_engine")
def test_system_packages_in_the_form_make_python_magic_pass(
    app: Callable[..., AppTest], notebook_dir: Path
) -> None:
    from neuralis.ui.kernels_page import builds

    name = f"{PREFIX}-magic-ui"
    at = app(page="pages/kernels.py")
    at.text_input(key="build-name").input(name)
    at.text_area(key="build-packages").input("python-magic==0.4.27")
    at.text_area(key="build-apt").input("libmagic1\nlibmagic1; rm -rf /").run()
    assert any("not a Debian package name" in e.value for e in at.error)
    assert at.button(key="build-start").disabled
    at.text_area(key="build-apt").input("libmagic1\n\n").run()
    assert not at.error and not at.button(key="build-start").disabled
    try:
        at.button(key="build-start").click().run()
        deadline = time.monotonic() + 600
        while (state := builds().get(name)) is not None and state.status == "running":
            assert time.monotonic() < deadline, "the build did not end"
            time.sleep(1)
        assert state is not None and state.status == "done", state and state.log[-20:]
        at.run()
        verdict = f"Kernel {name!r} is built and passed its smoke test."
        assert any(s.value == verdict for s in at.success)
        assert not at.error
        image = containers.get_image(name)
        assert json.loads(image.labels["neuralis.apt"]) == ["libmagic1"]
        entry = next(e for e in containers.list_kernels() if e.name == name)
        assert entry.status != "failed" and "python-magic==0.4.27" in entry.packages
    finally:
        containers.remove(name)
