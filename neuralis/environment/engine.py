"""Recorded environments on the engine: record a kernel, find or build a record's kernel.

Kernels built from a record are named ``PREFIX-pyXY-HASH`` (``NEURALIS_ENV_PREFIX``, default
``env``), so the same record always maps to the same kernel and a second run finds it built.
"""

from __future__ import annotations

import contextlib
from collections.abc import Callable, Iterator
from typing import TYPE_CHECKING

from neuralis.config import Settings
from neuralis.docker import containers, freeze
from neuralis.docker.spec import ImageSpec, parse_package
from neuralis.environment import record
from neuralis.environment.record import Environment
from neuralis.errors import ImageNotFound, InvalidInput

if TYPE_CHECKING:
    from nbformat import NotebookNode

    from neuralis.docker.build import BuildEvent

OnEvent = Callable[["BuildEvent"], None]


def of_kernel(name: str) -> Environment:
    """Return the environment kernel image ``name`` holds (frozen set captured if needed)."""
    got = freeze.facts(name)
    return Environment(got.python, got.packages, got.frozen, got.image_id)


def record_kernel(nb: NotebookNode, name: str) -> tuple[record.Drift, ...]:
    """Record kernel ``name``'s environment in ``nb``; return how it differs from the old one."""
    before = _recorded(nb)
    now = of_kernel(name)
    record.write(nb, now)
    return record.drift(before.frozen, now.frozen) if before else ()


def _recorded(nb: NotebookNode) -> Environment | None:
    with contextlib.suppress(InvalidInput):  # a malformed record is simply replaced
        return record.read(nb)
    return None


def kernel_drift(env: Environment, name: str) -> tuple[record.Drift, ...]:
    """Return how kernel ``name``'s installed versions differ from the record."""
    return record.drift(env.frozen, of_kernel(name).frozen)


def locate(env: Environment, settings: Settings) -> str | None:
    """Return a kernel holding ``env``: the recorded image itself, or its rebuilt kernel."""
    if env.image:
        name = freeze.kernel_with_id(env.image)
        if name is not None:
            return name
    spec = record.spec_for(env, settings.env_prefix)
    return spec.name if _usable(spec.name) else None


def _usable(name: str) -> bool:
    try:
        return not containers.failure(containers.get_image(name))
    except ImageNotFound:
        return False


def ensure(env: Environment, settings: Settings, on_event: OnEvent | None = None) -> str:
    """Return the name of a kernel holding ``env``, building it first if there is none."""
    found = locate(env, settings)
    if found is not None:
        return found
    spec = record.spec_for(env, settings.env_prefix)
    for event in _build(spec, settings):
        if on_event is not None:
            on_event(event)
    return spec.name


def _build(spec: ImageSpec, settings: Settings) -> Iterator[BuildEvent]:
    from neuralis.docker.build import build
    from neuralis.kernels.smoke import smoke_test

    return build(spec, settings, verify=smoke_test)


def spec_with(name: str, requirement: str) -> ImageSpec:
    """Return the spec that rebuilds kernel ``name`` with ``requirement`` added.

    Every version now installed stays pinned, so adding one package changes nothing else
    (pip may still move a dependency the new package needs). A bare name is pinned to the
    version the kernel's running container has (what ``%pip install`` put there), so the
    rebuilt kernel holds what the notebook ran with.
    """
    requirement = pinned_to_running(name, requirement)
    env = record.with_package(of_kernel(name), requirement)
    frozen, _ = record.reproducible(env.frozen, env.python)
    added = record.canonical(_name_of(requirement))
    frozen = tuple(p for p in frozen if record.canonical(_name_of(p)) != added)
    return ImageSpec(name, env.python, env.packages, frozen)


def pinned_to_running(name: str, requirement: str) -> str:
    """Return ``requirement`` as ``NAME==VERSION`` when it names no version and kernel
    ``name``'s running container has the package; otherwise unchanged."""
    from packaging.requirements import Requirement

    req = Requirement(parse_package(requirement))
    if req.specifier or req.url:
        return requirement
    pin = record.pins(freeze.installed_now(name)).get(record.canonical(req.name))
    if pin is None or pin.line != f"{pin.name}=={pin.version}":  # `x @ URL`, `-e`: no version
        return requirement
    extras = f"[{','.join(sorted(req.extras))}]" if req.extras else ""
    marker = f"; {req.marker}" if req.marker else ""
    return f"{req.name}{extras}=={pin.version}{marker}"


def _name_of(requirement: str) -> str:
    from packaging.requirements import Requirement

    return Requirement(requirement).name
