"""What a kernel image actually holds: ``pip freeze`` of its venv, and its id and labels.

The freeze is taken by running ``pip freeze`` in a throwaway container without network, right
after a build, and kept in a small JSON file keyed by image id. Why not a label: labels are
fixed before the install runs, and a second labelling build would change the id we record.
Why not a file baked into the image: images built before this feature, or by the standalone
script, would have none. An image id is a content hash, so a cached freeze never goes stale;
a lost cache only costs one more ``pip freeze`` container.
"""

from __future__ import annotations

import contextlib
import json
import os
import threading
from dataclasses import dataclass
from pathlib import Path

from neuralis.docker import containers
from neuralis.docker.availability import client, translated
from neuralis.docker.dockerfile import VENV
from neuralis.errors import DockerError

FREEZE_TIMEOUT = 120
_lock = threading.Lock()


@dataclass(frozen=True)
class ImageFacts:
    """A kernel image as built: its id, Python, requested packages and installed versions."""

    name: str
    image_id: str
    python: str
    packages: tuple[str, ...]
    frozen: tuple[str, ...]


def store_path() -> Path:
    """Return the JSON file holding freezes by image id (``NEURALIS_DATA_DIR`` or XDG)."""
    own = os.environ.get("NEURALIS_DATA_DIR")
    if own:
        return Path(own) / "frozen.json"
    xdg = os.environ.get("XDG_DATA_HOME") or str(Path.home() / ".local" / "share")
    return Path(xdg) / "neuralis" / "frozen.json"


def _load() -> dict[str, list[str]]:
    try:
        data = json.loads(store_path().read_text(encoding="utf-8"))
    except (OSError, ValueError):
        return {}
    return data if isinstance(data, dict) else {}


def _save(image_id: str, frozen: tuple[str, ...]) -> None:
    path = store_path()
    with _lock, contextlib.suppress(OSError):  # a cache that cannot be written is only slower
        data = _load()
        data[image_id] = list(frozen)
        path.parent.mkdir(parents=True, exist_ok=True)
        tmp = path.with_suffix(f".{os.getpid()}.tmp")
        tmp.write_text(json.dumps(data, indent=1, sort_keys=True), encoding="utf-8")
        tmp.replace(path)


def frozen(image_id: str, name: str) -> tuple[str, ...]:
    """Return ``pip freeze`` of the image's venv, from the store or a fresh container."""
    cached = _load().get(image_id)
    if isinstance(cached, list):
        return tuple(str(x) for x in cached)
    result = _run_freeze(image_id, name)
    _save(image_id, result)
    return result


def _run_freeze(image_id: str, name: str) -> tuple[str, ...]:
    labels = {containers.MANAGED: "1", "neuralis.name": name, "neuralis.role": "smoke"}
    with translated(f"read the installed packages of {name!r}"):
        container = client().containers.run(
            image_id,
            command=[f"{VENV}/bin/python", "-m", "pip", "freeze"],
            detach=True,
            network_mode="none",
            labels=labels,
        )
        try:
            status = container.wait(timeout=FREEZE_TIMEOUT)
            out: bytes = container.logs(stdout=True, stderr=False)
            err: bytes = container.logs(stdout=False, stderr=True)
        finally:
            with contextlib.suppress(Exception):
                container.remove(force=True)
    if status.get("StatusCode") != 0:
        detail = err.decode("utf-8", "replace").strip()[-300:]
        raise DockerError(f"pip freeze failed in kernel image {name!r}: {detail}")
    lines = out.decode("utf-8", "replace").splitlines()
    return tuple(sorted((x.strip() for x in lines if x.strip()), key=str.lower))


def installed_now(name: str, notebook: str | None = None) -> tuple[str, ...]:
    """Return ``pip freeze`` of kernel ``name``'s running container for ``notebook`` (None: the
    newest running one, shared or a notebook's), with what ``%pip install`` added since it
    started; empty when no container runs or pip fails there."""
    if notebook is not None:
        found = containers.find(name, notebook)
        running = [found] if found is not None and found.status == "running" else []
    else:
        running = [c for c in containers.containers_of(name) if c.status == "running"]
        running.sort(key=lambda c: str(c.attrs.get("State", {}).get("StartedAt", "")))
    if not running:
        return ()
    container = running[-1]
    with translated(f"read the packages installed in {name!r}'s container"):
        result = container.exec_run(
            [f"{VENV}/bin/python", "-m", "pip", "freeze"], stdout=True, stderr=False
        )
    if result.exit_code != 0:
        return ()
    lines = bytes(result.output or b"").decode("utf-8", "replace").splitlines()
    return tuple(x.strip() for x in lines if x.strip())


def facts(name: str) -> ImageFacts:
    """Return what kernel image ``name`` holds; raise ImageNotFound if there is none."""
    image = containers.get_image(name)
    labels = image.labels or {}
    return ImageFacts(
        name=name,
        image_id=str(image.id),
        python=str(labels.get("neuralis.python", "")),
        packages=tuple(json.loads(labels.get("neuralis.packages", "[]"))),
        frozen=frozen(str(image.id), name),
    )


def kernel_with_id(image_id: str) -> str | None:
    """Return the name of a usable kernel image with this id, if any."""
    import docker

    with translated("look up a kernel image by id"):
        try:
            image = client().images.get(image_id)
        except docker.errors.NotFound:
            return None
    if containers.failure(image):
        return None
    for tag in image.tags:
        repo, _, name = str(tag).rpartition(":")
        if repo == containers.IMAGE_REPO:
            return name
    return None
