"""Docker test fixtures: the engine check (skip, or fail under NEURALIS_REQUIRE_DOCKER=1),
test settings on the local base images, and cleanup of everything the tests created."""

from __future__ import annotations

import os
import secrets
import time
from collections.abc import Callable, Iterator
from dataclasses import dataclass
from pathlib import Path
from typing import TYPE_CHECKING

import pytest

from neuralis.config import Settings
from neuralis.docker.dockerfile import render
from neuralis.docker.spec import ImageSpec
from neuralis.errors import DockerUnavailable

if TYPE_CHECKING:
    from neuralis.docker.build import BuildEvent

PREFIX = f"nt{secrets.token_hex(3)}"
"""Every kernel a test run creates is named PREFIX-...: cleanup removes exactly those."""

TEST_ENV = {
    "NEURALIS_BASE_IMAGE": "local/debian-python:{python}",
    "NEURALIS_BUILD_NETWORK": "host",  # with --iptables=false the bridge has no way out
}


def require_docker() -> bool:
    """Tell whether a missing engine must fail the run instead of skipping."""
    return os.environ.get("NEURALIS_REQUIRE_DOCKER", "") == "1"


def skip_or_fail(reason: str) -> None:
    """Skip with ``reason``, or fail when Docker is required."""
    if require_docker():
        pytest.fail(f"NEURALIS_REQUIRE_DOCKER=1 but {reason}", pytrace=False)
    pytest.skip(reason)


@pytest.fixture(scope="session")
def docker_engine() -> Iterator[None]:
    """A reachable engine, the test settings in the environment, and cleanup at the end."""
    from neuralis.docker import availability

    try:
        availability.check()
    except DockerUnavailable as exc:
        skip_or_fail(f"no Docker engine: {exc} (run scripts/ci/setup_docker.sh as root)")
    saved = {k: os.environ.get(k) for k in TEST_ENV}
    for key, value in TEST_ENV.items():
        os.environ.setdefault(key, value)
    try:
        yield
    finally:
        cleanup(PREFIX)
        for key, old in saved.items():
            if old is None:
                os.environ.pop(key, None)
            else:
                os.environ[key] = old


def cleanup(prefix: str) -> None:
    """Remove every container and image whose kernel name starts with ``prefix``."""
    from neuralis.docker.availability import client

    docker = client()
    for c in docker.containers.list(all=True, filters={"label": "neuralis.managed=1"}):
        if c.labels.get("neuralis.name", "").startswith(prefix):
            c.remove(force=True)
    for image in docker.images.list(filters={"label": "neuralis.managed=1"}):
        if (image.labels or {}).get("neuralis.name", "").startswith(prefix):
            try:
                docker.images.remove(image.id, force=True)
            except Exception:  # a child removed first already took it
                continue


@pytest.fixture()
def settings(docker_engine: None, tmp_path: Path) -> Settings:
    """Settings from the environment with a notebook folder the container user can write."""
    notebooks = tmp_path / "notebooks"
    notebooks.mkdir()
    notebooks.chmod(0o777)  # the kernel runs as uid 1000 on a root-owned tmp dir
    env = dict(os.environ, NEURALIS_NOTEBOOK_DIR=str(notebooks))
    return Settings.from_env(env)


def build_steps(spec: ImageSpec) -> tuple[int, int]:
    """Return (the step that installs the user's packages, the number of steps) of a build."""
    text = render(spec, Settings.from_env()).dockerfile
    lines = [x for x in text.splitlines() if x.strip() and not x.startswith("#")]
    pip = next((i for i, x in enumerate(lines, 1) if '"pip", "install", "-c"' in x), 0)
    return pip, len(lines)


def base_image_for(python: str) -> str:
    """Return the base image the tests use for ``python``, skipping (or failing) if absent."""
    from neuralis.docker.availability import client

    name = os.environ.get("NEURALIS_BASE_IMAGE", TEST_ENV["NEURALIS_BASE_IMAGE"])
    image = name.replace("{python}", python)
    try:
        client().images.get(image)
    except Exception:
        skip_or_fail(f"base image {image} is missing (run scripts/ci/setup_docker.sh as root)")
    return image


@dataclass(frozen=True)
class Built:
    """A kernel image the session built, with the events and time its first build took."""

    name: str
    python: str
    packages: tuple[str, ...]
    events: list[BuildEvent]
    seconds: float


@pytest.fixture(scope="session")
def built_kernel(docker_engine: None) -> Callable[..., Built]:
    """Build (once per session) the kernel for a Python and packages."""
    from neuralis.docker.build import build
    from neuralis.docker.spec import make_spec
    from neuralis.kernels.smoke import smoke_test

    done: dict[tuple[str, tuple[str, ...]], Built] = {}

    def get(python: str, packages: tuple[str, ...] = ()) -> Built:
        key = (python, packages)
        if key not in done:
            base_image_for(python)
            suffix = "-pk" if packages else ""
            name = f"{PREFIX}-py{python.replace('.', '')}{suffix}"
            spec = make_spec(python, list(packages), name=name)
            start = time.monotonic()
            events = list(build(spec, Settings.from_env(), verify=smoke_test))
            done[key] = Built(name, python, packages, events, time.monotonic() - start)
        return done[key]

    return get
