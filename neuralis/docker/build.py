"""Build a kernel image from a spec: stream the log as events, smoke-test, then tag.

The image is built untagged and tagged ``neuralis-kernel:NAME`` only after its smoke test
passed, so a half-built or broken image is never offered as a kernel. An image that fails the
smoke test is tagged with ``neuralis.status=failed`` and the reason, for the list to show.
The smoke test itself is the caller's ``verify`` (:func:`neuralis.kernels.smoke.smoke_test`):
it speaks the kernel protocol, which this package never does.
"""

from __future__ import annotations

import contextlib
import io
import os
import re
from collections import deque
from collections.abc import Callable, Iterator, Mapping
from dataclasses import dataclass
from typing import Any, Literal
from urllib.parse import urlsplit

from neuralis.config import Settings
from neuralis.docker import containers, freeze
from neuralis.docker.availability import client, translated
from neuralis.docker.dockerfile import BUILDER_LABEL, INDEX_ARG, index_is_secret, render
from neuralis.docker.spec import ImageSpec
from neuralis.errors import BuildFailed, DockerError

EventKind = Literal["step", "log", "smoke", "done"]
Verify = Callable[[str, ImageSpec, Settings], None]
"""Checks a built image (by id) against its spec; raises to say why it is unusable."""
TAIL_LINES = 15
PROXY_ARGS = ("HTTP_PROXY", "HTTPS_PROXY", "NO_PROXY", "http_proxy", "https_proxy", "no_proxy")
"""Docker's predefined build arguments: passed to builds when set here."""
_STEP = re.compile(r"^Step (\d+)/(\d+) : (.*)$")
_LAYER = re.compile(r"^ ---> ([0-9a-f]{12,64})$")
_ANSI = re.compile(r"\x1b\[[0-9;?]*[A-Za-z]")
"""pip colours its errors: the page shows plain text, not `[91m...[0m`."""
_NO_INDEX = re.compile(
    r"Failed to establish a new connection|Temporary failure in name resolution|"
    r"Network is unreachable|Name or service not known|Connection timed out"
)
_NO_INDEX_HINT = (
    "pip could not reach the package index from the build. On an engine run with "
    "--iptables=false (its bridge network has no way out) set NEURALIS_BUILD_NETWORK=host; "
    "behind a private index, set NEURALIS_PIP_INDEX_URL."
)


@dataclass(frozen=True)
class BuildEvent:
    """One thing that happened during a build; ``done`` carries the image id in ``text``."""

    kind: EventKind
    text: str
    step: int = 0
    total: int = 0


def build(spec: ImageSpec, settings: Settings, *, verify: Verify | None) -> Iterator[BuildEvent]:
    """Build, ``verify`` (unless None) and tag the image for ``spec``, yielding events."""
    rendered = render(spec, settings)
    secret = index_is_secret(settings)
    progress = _Progress(_secrets(settings) if secret else ())
    try:
        with translated(f"build the kernel image {spec.name!r}"):
            stream = client().api.build(
                fileobj=io.BytesIO(rendered.context()),
                custom_context=True,
                rm=True,
                forcerm=True,
                decode=True,
                pull=False,
                network_mode=settings.build_network,
                buildargs=build_args(settings) or None,
            )
            for event in stream:
                yield from progress.feed(spec.name, event)
    except BuildFailed:
        _remove_layers(progress.layers)  # rm/forcerm cover containers, not the steps' images
        raise
    finally:
        if secret:
            _remove_builder_images()
    image_id = progress.image_id
    if not image_id:
        raise BuildFailed(f"Building {spec.name!r} produced no image.\n{progress.tail()}")
    if verify is not None and not _verified(spec.name, image_id):
        yield BuildEvent("smoke", "Smoke test: start a container, a kernel, import packages")
        try:
            verify(image_id, spec, settings)
        except DockerError:
            raise
        except Exception as exc:  # any failure of the smoke test marks the image failed
            _mark_failed(spec.name, image_id, str(exc))
            raise BuildFailed(f"Kernel image {spec.name!r} failed its smoke test: {exc}") from exc
    _tag(spec.name, image_id)
    yield BuildEvent("log", "Recording the installed versions (pip freeze)")
    with contextlib.suppress(DockerError):  # best effort: read again when a notebook records
        freeze.frozen(image_id, spec.name)
    yield BuildEvent("done", image_id, progress.total, progress.total)


def build_args(settings: Settings, env: Mapping[str, str] | None = None) -> dict[str, str]:
    """Return the build arguments: the proxy settings of this machine when set (Docker keeps
    these out of the image's history), and a credentialed index URL for the builder stage."""
    env = os.environ if env is None else env
    args = {k: env[k] for k in PROXY_ARGS if env.get(k)}
    if index_is_secret(settings):
        args[INDEX_ARG] = settings.pip_index_url or ""
    return args


def _secrets(settings: Settings) -> tuple[str, ...]:
    """The parts of the index URL no log line may show: user, password, query."""
    parts = urlsplit(settings.pip_index_url or "")
    user = parts.username or ""
    found = [parts.netloc.rpartition("@")[0], parts.password or "", parts.query]
    found += [f"{user}:", f"{user}@"] if user else []  # pip shows "user:****@host"
    return tuple(sorted({x for x in found if x}, key=len, reverse=True))


def _remove_builder_images() -> None:
    """Remove every image of a builder stage: their history holds the index URL."""
    import docker

    with translated("remove the builder stage's images"):
        found = client().images.list(all=True, filters={"label": f"{BUILDER_LABEL}=builder"})
    for image in sorted(found, key=lambda i: str(i.attrs.get("Created", "")), reverse=True):
        with contextlib.suppress(docker.errors.APIError):  # a parent goes with its child
            client().images.remove(str(image.id), force=True)


def _remove_layers(layers: list[str]) -> None:
    """Remove the untagged images of a failed build's steps, newest first, that no image
    (a child: another build's cache) and no container uses; tagged ones (the base) stay."""
    import docker

    for layer in reversed(layers):
        with (
            contextlib.suppress(docker.errors.APIError, DockerError),
            translated("remove a failed build's images"),
        ):
            if client().images.get(layer).tags:
                continue
            client().images.remove(layer)  # no force: refused while something uses it


class _Progress:
    """Reads docker's build events: steps, log lines, the image id, errors."""

    def __init__(self, secrets: tuple[str, ...] = ()) -> None:
        self._secrets = secrets
        self.step = 0
        self.total = 0
        self.instruction = ""
        self.image_id = ""
        self._tail: deque[str] = deque(maxlen=TAIL_LINES)
        self.no_index = False
        self.layers: list[str] = []
        """The image ids the build's steps gave (" ---> ID"), base first."""
        """A log line said pip could not reach its index."""

    def feed(self, name: str, event: dict[str, Any]) -> Iterator[BuildEvent]:
        if "error" in event or "errorDetail" in event:
            # docker-py's low-level build does not raise: errors are events (research §5).
            detail = event.get("error") or (event.get("errorDetail") or {}).get("message", "")
            detail = _ANSI.sub("", str(detail))
            for secret in self._secrets:
                detail = str(detail).replace(secret, "***")
            where = f"step {self.step}/{self.total} ({self.instruction})" if self.step else "start"
            if self.instruction.startswith("FROM ") and self.step == 1:
                raise BuildFailed(_missing_base(name, self.instruction.split()[1], str(detail)))
            hint = f"{_NO_INDEX_HINT}\n" if self.no_index else ""
            raise BuildFailed(
                f"Building {name!r} failed at {where}: {str(detail).strip()}\n{hint}{self.tail()}"
            )
        aux = event.get("aux")
        if isinstance(aux, dict) and aux.get("ID"):
            self.image_id = str(aux["ID"])
        for line in str(event.get("stream", "")).splitlines():
            yield from self._line(line)

    def _line(self, line: str) -> Iterator[BuildEvent]:
        line = _ANSI.sub("", line)
        if not line.strip():
            return
        for secret in self._secrets:  # pip masks a password, but not the user or a query
            line = line.replace(secret, "***")
        self._tail.append(line)
        self.no_index = self.no_index or bool(_NO_INDEX.search(line))
        layer = _LAYER.match(line)
        if layer:
            self.layers.append(layer[1])
        match = _STEP.match(line)
        if match:
            self.step, self.total = int(match[1]), int(match[2])
            self.instruction = match[3][:120]
            yield BuildEvent("step", self.instruction, self.step, self.total)
        else:
            yield BuildEvent("log", line, self.step, self.total)

    def tail(self) -> str:
        return "Last build log lines:\n" + "\n".join(self._tail)


def _missing_base(name: str, image: str, detail: str) -> str:
    """Name the base image the engine has not got, and the ways to give it one."""
    return (
        f"Building {name!r} needs the base image {image}, which this engine does not have and "
        f"could not pull ({detail.strip()[:160]}).\n"
        "Set NEURALIS_BASE_IMAGE to an image with that Python that is here (docker images), "
        "or make one: build a root filesystem with python3 and python3-venv and load it with "
        f"'docker import ROOTFS.tar {image}' (see scripts/ci/setup_docker.sh)."
    )


def _verified(name: str, image_id: str) -> bool:
    """An unchanged spec gives the same image id: its earlier smoke test still holds."""
    try:
        current = containers.get_image(name)
    except DockerError:
        return False
    return current.id == image_id and not containers.failure(current)


def _tag(name: str, image_id: str) -> None:
    import docker

    old = None
    with contextlib.suppress(DockerError):
        old = containers.get_image(name)
    with translated(f"tag the kernel image {name!r}"):
        client().images.get(image_id).tag(containers.IMAGE_REPO, name)
        if old is not None and old.id != image_id:
            # The previous build is now untagged; drop it unless a container still uses it.
            with contextlib.suppress(docker.errors.APIError):
                client().images.remove(old.id)


def _mark_failed(name: str, image_id: str, reason: str) -> None:
    """Tag a one-layer child of the image carrying the failure (labels cannot be edited)."""
    labels = {"neuralis.status": "failed", "neuralis.reason": reason[:500]}
    dockerfile = f"FROM {image_id}\n".encode()
    with translated(f"mark the kernel image {name!r} failed"):
        for event in client().api.build(
            fileobj=io.BytesIO(dockerfile), labels=labels, rm=True, decode=True, pull=False
        ):
            if "error" in event:
                raise DockerError(f"Could not mark {name!r} failed: {event['error']}")
            aux = event.get("aux")
            if isinstance(aux, dict) and aux.get("ID"):
                _tag(name, str(aux["ID"]))
