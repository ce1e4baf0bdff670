"""``neuralis kernels prune`` and the Kernels page's button on a real engine: an older build a
stopped container held on to goes with that container, the kernel's current image stays, and
the line says what went and how much space that freed.

Only this run's kernels (PREFIX) are pruned: the engine is shared with other work.
"""

from __future__ import annotations

import functools
from collections.abc import Callable
from pathlib import Path

import pytest
from streamlit.testing.v1 import AppTest

from neuralis.config import Settings
from neuralis.docker import containers
from neuralis.docker.build import build
from neuralis.docker.prune import prune
from neuralis.docker.spec import make_spec
from neuralis.errors import ImageNotFound
from tests.docker.conftest import PREFIX, Built
from tests.ui.conftest import app, no_app_error, notebook_dir

__all__ = ["app", "no_app_error", "notebook_dir"]

pytestmark = pytest.mark.docker


def _old_build_held_by_a_stopped_container(
    built_kernel: Callable[..., Built], settings: Settings, name: str
) -> str:
    """Build ``name`` on 3.11, run and stop a notebook's container of it, rebuild it on 3.13:
    return the id of the first build (no longer tagged, kept for that container)."""
    built_kernel("3.11"), built_kernel("3.13")  # every layer below comes from the cache
    list(build(make_spec("3.11", [], name=name), settings, verify=None))
    old = str(containers.get_image(name).id)
    containers.ensure_running(name, settings, notebook=f"{PREFIX}/prune.ipynb")
    containers.stop(name)
    list(build(make_spec("3.13", [], name=name), settings, verify=None))
    assert str(containers.get_image(name).id) != old
    assert _exists(old)  # the stopped container still holds it
    return old


def _exists(image_id: str) -> bool:
    from neuralis.docker.availability import client

    try:
        client().images.get(image_id)
    except Exception:
        return False
    return True


def test_prune_removes_an_old_build_with_its_stopped_container(
    built_kernel: Callable[..., Built], settings: Settings
) -> None:
    name = f"{PREFIX}-prune"
    old = _old_build_held_by_a_stopped_container(built_kernel, settings, name)
    try:
        done = prune(PREFIX)
        assert done.containers == 1 and done.images >= 1
        assert not _exists(old)
        assert containers.get_image(name).labels["neuralis.python"] == "3.13"  # kept
        assert containers.containers_of(name) == []
        assert done.describe().startswith("Removed 1 stopped container(s) and ")
        assert "freeing " in done.describe() and done.describe().endswith(" MB.")
        again = prune(PREFIX)
        assert (again.containers, again.images) == (0, 0)  # nothing left to remove
    finally:
        containers.remove(name)
    with pytest.raises(ImageNotFound):
        containers.get_image(name)


def test_the_kernels_page_button_prunes_and_says_what_it_freed(
    built_kernel: Callable[..., Built],
    settings: Settings,
    app: Callable[..., AppTest],
    monkeypatch: pytest.MonkeyPatch,
    notebook_dir: Path,
) -> None:
    name = f"{PREFIX}-prune-ui"
    old = _old_build_held_by_a_stopped_container(built_kernel, settings, name)
    # The button prunes the whole engine; here, only this run's kernels.
    monkeypatch.setattr("neuralis.docker.prune.prune", functools.partial(prune, PREFIX))
    try:
        at = app(page="pages/kernels.py")
        at.button(key="k-prune").click().run()
        (line,) = [s.value for s in at.success if s.value.startswith("Removed ")]
        assert line.startswith("Removed 1 stopped container(s) and ") and line.endswith(" MB.")
        assert not _exists(old)
        assert containers.get_image(name).labels["neuralis.python"] == "3.13"
    finally:
        containers.remove(name)
