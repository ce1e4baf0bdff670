"""``neuralis kernels prune``: remove what no kernel uses, and say how much space that freed.

Removed: stopped kernel containers, Neuralis images that are no kernel's (older builds a
container held on to, failed smoke-test markers' leftovers, builder stages) and dangling
images Neuralis labelled. Never touched: tagged kernel images, running containers, anything
without Neuralis labels (other work on a shared engine, including its build caches).
"""

from __future__ import annotations

import contextlib
from dataclasses import dataclass

from neuralis.docker.availability import client, translated
from neuralis.docker.containers import IMAGE_REPO, MANAGED


@dataclass(frozen=True)
class Pruned:
    """What a prune removed."""

    containers: int
    images: int
    space: int
    """Bytes of image layers freed (as ``docker system df`` counts them)."""

    def describe(self) -> str:
        """Say it in one line."""
        return (
            f"Removed {self.containers} stopped container(s) and {self.images} unused image(s), "
            f"freeing {self.space / 2**20:.0f} MB."
        )


def prune(prefix: str = "") -> Pruned:
    """Remove stopped kernel containers and Neuralis images no kernel uses (only those of
    kernels named ``prefix...`` when given: tests share the engine with other work)."""
    import docker

    def ours(labels: dict[str, str] | None) -> bool:
        return str((labels or {}).get("neuralis.name", "")).startswith(prefix)

    engine = client()
    with translated("prune kernel containers and images"):
        before = int(engine.df().get("LayersSize") or 0)
        stopped = engine.containers.list(
            all=True, filters={"label": f"{MANAGED}=1", "status": ["exited", "created", "dead"]}
        )
        stopped = [c for c in stopped if ours(c.labels)]
        for container in stopped:
            with contextlib.suppress(docker.errors.NotFound):
                container.remove(force=True)
        used = {c.image.id for c in engine.containers.list(all=True) if c.image is not None}
        removed = 0
        for image in engine.images.list(all=True, filters={"label": f"{MANAGED}=1"}):
            kernel = any(str(t).rpartition(":")[0] == IMAGE_REPO for t in image.tags)
            if kernel or image.id in used or not ours(image.labels):
                continue
            with contextlib.suppress(docker.errors.APIError):  # a parent went with its child
                engine.images.remove(str(image.id), force=False)
                removed += 1
        if not prefix:
            result = engine.images.prune(filters={"dangling": True, "label": f"{MANAGED}=1"})
            removed += len(result.get("ImagesDeleted") or [])
        after = int(engine.df().get("LayersSize") or 0)
    return Pruned(len(stopped), removed, max(before - after, 0))
