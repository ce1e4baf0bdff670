"""Kernel containers: run, find, start, stop, restart, remove, logs, stats, list.

Each notebook on ``docker:NAME`` gets a container of its own from image NAME, named
``neuralis-kernel-NAME--STEM-HASH`` for the notebook (labels ``neuralis.name`` and
``neuralis.notebook``), so no notebook can read another's variables, connection file or
gateway token; ``neuralis kernels start NAME`` runs a shared one named
``neuralis-kernel-NAME``. The gateway token is a file inside the container (isolation.py), so
an app that restarts finds it again. The host port is random and changes on every start: it
is re-read each time, never stored.
"""

from __future__ import annotations

import contextlib
import hashlib
import hmac
import json
import logging
import re
import secrets
import time
from collections.abc import Callable, Iterator
from dataclasses import dataclass
from datetime import UTC, datetime
from pathlib import Path
from typing import TYPE_CHECKING, Any, Literal

import requests

from neuralis.config import Settings
from neuralis.docker import isolation
from neuralis.docker.availability import client, require_engine_here, translated
from neuralis.docker.dockerfile import PORT, WORKDIR
from neuralis.errors import DockerError, ImageNotFound, KernelStartError

if TYPE_CHECKING:
    from docker.models.containers import Container
    from docker.models.images import Image

IMAGE_REPO = "neuralis-kernel"
MANAGED = "neuralis.managed"
NOTEBOOK_LABEL = "neuralis.notebook"
Role = Literal["kernel", "smoke", "bench"]
log = logging.getLogger(__name__)
Notify = Callable[[str], None]


@dataclass(frozen=True)
class Endpoint:
    """Where a running container's gateway listens, and its token."""

    url: str
    token: str
    port: int
    container_id: str


@dataclass(frozen=True)
class KernelEntry:
    """One kernel image and the state of its container, as listed."""

    name: str
    image: str
    python: str
    packages: tuple[str, ...]
    status: str
    port: int | None
    uptime: float | None
    reason: str = ""
    notebooks: tuple[str, ...] = ()
    """Notebooks whose own container of this kernel is running."""


@dataclass(frozen=True)
class Stats:
    """A container's CPU and memory use (one sample over about a second)."""

    cpu_percent: float
    memory_used: int
    memory_limit: int


def image_tag(name: str) -> str:
    """Return the tag of the kernel image ``name``."""
    return f"{IMAGE_REPO}:{name}"


def container_name(name: str, notebook: str | None = None) -> str:
    """Return the name of kernel ``name``'s container for ``notebook`` (None: the shared one)."""
    if notebook is None:
        return f"neuralis-kernel-{name}"
    # What follows a '#' tells runs of one notebook apart: hashed, not shown.
    shown = Path(notebook.split("#")[0]).stem
    stem = re.sub(r"[^A-Za-z0-9_.-]+", "-", shown).strip("-.")[:40] or "notebook"
    digest = hashlib.sha256(notebook.encode()).hexdigest()[:8]
    return f"neuralis-kernel-{name}--{stem}-{digest}"


def get_image(name: str) -> Image:
    """Return the kernel image ``name``; raise ImageNotFound with what to do."""
    import docker

    with translated(f"look up the kernel image {name!r}"):
        try:
            return client().images.get(image_tag(name))
        except docker.errors.ImageNotFound:
            raise ImageNotFound(
                f"No kernel image named {name!r}: build it with "
                f"'neuralis kernels build --python 3.11 --name {name}'."
            ) from None


def failure(image: Image) -> str:
    """Return why an image failed its smoke test, or '' for a usable image."""
    labels = image.labels or {}
    if labels.get("neuralis.status") == "failed":
        return str(labels.get("neuralis.reason") or "it failed its smoke test")
    return ""


def find(name: str, notebook: str | None = None) -> Container | None:
    """Return kernel ``name``'s container for ``notebook`` (None: the shared one), or None."""
    import docker

    with translated(f"look up the container of {name!r}"):
        try:
            return client().containers.get(container_name(name, notebook))
        except docker.errors.NotFound:
            return None


def notebook_key(name: str, path: Path) -> str | None:
    """Return the notebook key of kernel ``name``'s container for the notebook at ``path``."""
    wanted = path.resolve()
    for container in containers_of(name):
        key = (container.labels or {}).get(NOTEBOOK_LABEL)
        if key and Path(key.split("#")[0]).resolve() == wanted:
            return str(key)
    return None


def containers_of(name: str) -> list[Container]:
    """Return every kernel container of image ``name`` (shared and per notebook)."""
    with translated(f"list the containers of {name!r}"):
        found = client().containers.list(
            all=True,
            filters={"label": [f"{MANAGED}=1", "neuralis.role=kernel", f"neuralis.name={name}"]},
        )
    return list(found)


def run(
    image: str,
    *,
    name: str,
    settings: Settings,
    role: Role = "kernel",
    container: str | None = None,
    mount: Path | None = None,
    command: list[str] | None = None,
    notebook: str | None = None,
) -> Container:
    """Create a container from ``image`` with limits and labels, hand it a fresh token, start it."""
    require_engine_here(f"start a container for {name!r}")
    labels = {
        MANAGED: "1",
        "neuralis.name": name,
        "neuralis.role": role,
        isolation.LIMITS_LABEL: isolation.limits(settings, mount).label(),
    }
    token = secrets.token_urlsafe(24)
    if settings.kernel_env:
        labels[isolation.SECRETS_LABEL] = isolation.secrets_fingerprint(token, settings.kernel_env)
    if notebook is not None:
        labels[NOTEBOOK_LABEL] = notebook
    confinement = isolation.host_config(settings, mount, WORKDIR)
    with translated(f"create a container for {name!r}"):
        created = client().containers.create(
            image,
            command=command,
            name=container,
            # Loopback only, random host port: the gateway runs code for whoever can reach it.
            ports={f"{PORT}/tcp": ("127.0.0.1", None)},
            labels=labels,
            **confinement,
        )
    try:
        isolation.deliver_token(created, token, settings.kernel_env)
        _tokens[str(created.id)] = token  # known: no need to read it back from the container
        _start(created, name, settings)
    except Exception:
        _remove(created)
        raise
    return created


def _start(container: Container, name: str, settings: Settings) -> None:
    """Start a container; GPUs asked of an engine without a GPU runtime are named as such."""
    try:
        with translated(f"start the container of {name!r}"):
            container.start()
    except DockerError as exc:
        if settings.kernel_gpus and "device driver" in str(exc):
            raise DockerError(
                f"NEURALIS_KERNEL_GPUS={settings.kernel_gpus}: this Docker engine has no GPU "
                "runtime (install the NVIDIA Container Toolkit and restart Docker), or unset "
                "NEURALIS_KERNEL_GPUS."
            ) from exc
        raise


def endpoint(container: Container) -> Endpoint:
    """Read the container's current host port and token (the port changes on each start)."""
    with translated("inspect a kernel container"):
        container.reload()
    bindings = (container.ports or {}).get(f"{PORT}/tcp") or []
    if not bindings:
        raise DockerError(f"Container {container.name} publishes no port: remove it and retry.")
    port = int(bindings[0]["HostPort"])
    return Endpoint(f"http://127.0.0.1:{port}", _token(container), port, str(container.id))


_tokens: dict[str, str] = {}


def _token(container: Container) -> str:
    """The container's token (read once per container: a token never changes in one)."""
    cid = str(container.id)
    if cid not in _tokens:
        token = isolation.read_token(container)
        if not token:
            raise DockerError(
                f"Container {container.name} holds no gateway token (made by an older "
                "Neuralis?): remove it and start the kernel again."
            )
        _tokens[cid] = token
    return _tokens[cid]


def wait_ready(container: Container, timeout: float = 60.0) -> Endpoint:
    """Poll the gateway's ``/api`` (the healthcheck's probe) until it answers; fail if it exits."""
    ep = endpoint(container)
    deadline = time.monotonic() + timeout
    headers = {"Authorization": f"token {ep.token}"}
    next_inspect = time.monotonic() + 0.5
    while time.monotonic() < deadline:
        with contextlib.suppress(requests.RequestException):
            if requests.get(f"{ep.url}/api", headers=headers, timeout=1).status_code == 200:
                return ep
        if time.monotonic() >= next_inspect:
            next_inspect = time.monotonic() + 0.5
            with translated("inspect a kernel container"):
                container.reload()
            if container.status != "running":
                raise KernelStartError(_exited(container))
        time.sleep(0.05)
    raise KernelStartError(
        f"The gateway in {container.name} did not answer within {timeout:g} s.\n"
        f"{tail_text(container)}"
    )


def _exited(container: Container) -> str:
    code = container.attrs.get("State", {}).get("ExitCode")
    return f"Container {container.name} exited (code {code}) before its gateway answered.\n" + (
        tail_text(container)
    )


def tail_text(container: Container, lines: int = 8) -> str:
    """Return the last lines of a container's log, for error messages."""
    with contextlib.suppress(Exception):
        raw: bytes = container.logs(tail=lines)
        return "Last log lines:\n" + raw.decode("utf-8", "replace").rstrip()
    return ""


def ensure_running(
    name: str,
    settings: Settings,
    timeout: float = 60.0,
    *,
    notebook: str | None = None,
    mount: Path | None = None,
    notify: Notify | None = None,
) -> Endpoint:
    """Start kernel ``name``'s container for ``notebook`` if needed and wait for its gateway.

    ``mount`` is the host folder seen at the working directory (default: the notebook folder
    of ``settings``). A container made from an older image or with other limits or another
    folder is recreated, and ``notify`` (default: the log) gets a line saying why.
    """
    require_engine_here(f"start kernel {name!r}")
    image = usable_image(name)
    if mount is None:
        default = settings.notebook_dir.resolve()
        mount = default if default.is_dir() else None
    wanted = isolation.limits(settings, mount)
    if settings.kernel_env and (image.labels or {}).get(isolation.IMAGE_ENV_LABEL) != "file":
        raise ImageNotFound(
            f"Kernel image {name!r} was built by an older Neuralis that cannot give kernels "
            f"their secrets: rebuild it (neuralis kernels build ... --name {name})."
        )
    container = find(name, notebook)
    if container is not None:
        why = _stale(container, image, wanted) or _secrets_changed(container, settings)
        if why:
            (notify or log.warning)(f"Recreating container {container.name}: {why}.")
            _remove(container)
            container = None
        elif container.status != "running":
            _start(container, name, settings)
    if container is None:
        container = run(
            image_tag(name),
            name=name,
            settings=settings,
            container=container_name(name, notebook),
            mount=mount,
            notebook=notebook,
        )
    return wait_ready(container, timeout)


def usable_image(name: str) -> Image:
    """Return kernel image ``name`` if it can run a kernel; say what to do otherwise."""
    image = get_image(name)
    reason = failure(image)
    if reason:
        raise ImageNotFound(f"Kernel image {name!r} failed its smoke test: {reason}")
    labels = image.labels or {}
    if labels.get("neuralis.token") != "file":
        python = labels.get("neuralis.python", "3.11")
        raise ImageNotFound(
            f"Kernel image {name!r} was built by an older Neuralis that hands the gateway its "
            f"token in the environment, where kernels can read it: rebuild it "
            f"(neuralis kernels build --python {python} --name {name} ...)."
        )
    return image


def _stale(container: Container, image: Image, wanted: isolation.Limits) -> str:
    """Say why a container cannot be reused: an older image, other limits, another folder."""
    if container.image is None or container.image.id != image.id:
        return "its image was rebuilt"
    return wanted.changes_from(isolation.recorded_limits(container))


def _secrets_changed(container: Container, settings: Settings) -> str:
    """Say so when the container holds other kernel secrets than the settings give."""
    recorded = (container.labels or {}).get(isolation.SECRETS_LABEL, "")
    if not recorded and not settings.kernel_env:
        return ""
    now = isolation.secrets_fingerprint(_token(container), settings.kernel_env)
    return "" if hmac.compare_digest(now, recorded) else "its kernel secrets changed"


def discard(name: str, notebook: str | None) -> None:
    """Remove kernel ``name``'s container for ``notebook``, if there is one (its kernel ends)."""
    container = find(name, notebook)
    if container is not None:
        _tokens.pop(str(container.id), None)
        _remove(container)


def is_running(name: str, notebook: str | None = None) -> bool:
    """Tell whether kernel ``name``'s container (for ``notebook``) runs (one inspect, a few ms)."""
    container = find(name, notebook)
    return container is not None and container.status == "running"


def state(name: str, notebook: str | None = None) -> str:
    """Describe the container's state in a phrase (for error messages)."""
    container = find(name, notebook)
    if container is None:
        return "was removed"
    st = container.attrs.get("State", {})
    if container.status == "exited":
        if st.get("OOMKilled"):
            return f"exited with code {st.get('ExitCode')}, {_memory_phrase(container)}"
        killed = " (killed)" if st.get("ExitCode") == 137 else ""
        return f"exited with code {st.get('ExitCode')}{killed}"
    return str(container.status)


def memory_kill(name: str, since: float, notebook: str | None = None) -> str:
    """Return "killed for memory: used X of limit Y" if the container hit its limit since
    ``since`` (a Unix time), else ''.

    The kernel is a child of the container's gateway, so the OOM killer usually takes it
    alone: the container runs on and ``State.OOMKilled`` stays false; Docker's ``oom`` event
    is what records it.
    """
    container = find(name, notebook)
    if container is None:
        return ""
    hit = bool(container.attrs.get("State", {}).get("OOMKilled"))
    if not hit:
        with translated(f"read the events of {name!r}"):
            events = client().events(
                since=int(since) - 1,
                until=f"{time.time():.3f}",  # now: the kill came before we noticed it
                filters={"container": str(container.id), "event": "oom"},
                decode=True,
            )
            hit = any(True for _ in events)
    return _memory_phrase(container) if hit else ""


def _memory_phrase(container: Container) -> str:
    limit = int(container.attrs.get("HostConfig", {}).get("Memory") or 0)
    used = limit  # the cgroup hit its limit; cgroup v1 also reports the peak itself
    if container.status == "running":
        with contextlib.suppress(Exception):
            used = int(container.stats(stream=False)["memory_stats"].get("max_usage") or limit)
    return f"killed for memory: used {_size(used)} of limit {_size(limit)}"


def _size(n: int) -> str:
    return f"{n / 2**30:.1f} GB" if n >= 2**30 else f"{n / 2**20:.0f} MB"


def stop(name: str, timeout: int = 10) -> bool:
    """Stop every container of kernel ``name`` (shared and per notebook); False if none runs."""
    running = [c for c in containers_of(name) if c.status == "running"]
    for container in running:
        with translated(f"stop container {container.name}"):
            container.stop(timeout=timeout)
    return bool(running)


def restart(name: str, settings: Settings, timeout: float = 60.0) -> Endpoint | None:
    """Restart kernel ``name``'s running containers (every kernel in them is lost); start the
    shared one when none runs. Return the shared container's endpoint, or None when only
    notebooks' containers ran."""
    notebooks = [
        c
        for c in containers_of(name)
        if c.status == "running" and (c.labels or {}).get(NOTEBOOK_LABEL)
    ]
    for container in notebooks:
        with translated(f"restart container {container.name}"):
            container.restart(timeout=10)
    container = find(name)
    if notebooks and (container is None or container.status != "running"):
        return None
    if container is not None and container.status == "running":
        with translated(f"restart the container of {name!r}"):
            container.restart(timeout=10)
        return wait_ready(container, timeout)
    return ensure_running(name, settings, timeout)


def remove(name: str, *, image: bool = True) -> bool:
    """Remove every container of kernel ``name`` and (by default) its image; False if nothing
    existed."""
    import docker

    found = containers_of(name)
    for container in found:
        _remove(container)
    if not image:
        return bool(found)
    with translated(f"remove the kernel image {name!r}"):
        try:
            client().images.remove(image_tag(name))
        except docker.errors.ImageNotFound:
            return bool(found)
    return True


def _remove(container: Container) -> None:
    import docker

    with (
        translated(f"remove container {container.name}"),
        contextlib.suppress(docker.errors.NotFound),
    ):
        container.remove(force=True)


def logs(
    name: str, tail: int = 100, follow: bool = False, notebook: str | None = None
) -> Iterator[str]:
    """Yield the container's log lines (the last ``tail``), following if asked."""
    container = find(name, notebook)
    if container is None:
        raise DockerError(
            f"Kernel {name!r} has no container: start it with 'neuralis kernels start {name}'."
        )
    with translated(f"read the logs of {name!r}"):
        if not follow:
            raw: bytes = container.logs(tail=tail)
            yield from raw.decode("utf-8", "replace").splitlines()
            return
        pending = ""
        for chunk in container.logs(tail=tail, stream=True, follow=True):
            pending += chunk.decode("utf-8", "replace")
            *done, pending = pending.split("\n")
            yield from done
        if pending:
            yield pending


def stats(name: str, notebook: str | None = None) -> Stats:
    """Sample CPU % and memory; blocks about a second, so keep it off a page's critical path."""
    container = find(name, notebook)
    if container is None or container.status != "running":
        raise DockerError(f"Kernel {name!r} is not running.")
    with translated(f"read the stats of {name!r}"):
        raw: dict[str, Any] = container.stats(stream=False)
    return _stats(raw)


def memory_used(name: str, notebook: str | None = None) -> int | None:
    """Return the memory a running container uses (one quick sample), or None if not running."""
    container = find(name, notebook)
    if container is None or container.status != "running":
        return None
    with translated(f"read the stats of {name!r}"):
        raw: dict[str, Any] = container.stats(stream=False, one_shot=True)
    return _stats(raw).memory_used


def _stats(raw: dict[str, Any]) -> Stats:
    cpu, pre = raw.get("cpu_stats") or {}, raw.get("precpu_stats") or {}
    delta = cpu.get("cpu_usage", {}).get("total_usage", 0) - pre.get("cpu_usage", {}).get(
        "total_usage", 0
    )
    system = cpu.get("system_cpu_usage", 0) - pre.get("system_cpu_usage", 0)
    cpus = cpu.get("online_cpus") or len(cpu.get("cpu_usage", {}).get("percpu_usage") or [1])
    percent = delta / system * cpus * 100.0 if system > 0 and delta > 0 else 0.0
    mem = raw.get("memory_stats") or {}
    # cgroup v2 reports page cache as inactive_file; Docker's CLI subtracts it too.
    cache = (mem.get("stats") or {}).get("inactive_file", 0)
    return Stats(
        round(percent, 1), max(int(mem.get("usage", 0)) - int(cache), 0), int(mem.get("limit", 0))
    )


def list_kernels() -> list[KernelEntry]:
    """List every kernel image with its container's state."""
    with translated("list kernel images"):
        images = client().images.list(filters={"label": f"{MANAGED}=1"})
        containers = client().containers.list(
            all=True, filters={"label": [f"{MANAGED}=1", "neuralis.role=kernel"]}
        )
    by_name = {c.name: c for c in containers}
    running: dict[str, list[str]] = {}
    for c in containers:
        labels = c.labels or {}
        if c.status == "running" and labels.get(NOTEBOOK_LABEL):
            running.setdefault(labels.get("neuralis.name", ""), []).append(labels[NOTEBOOK_LABEL])
    entries = []
    for image in images:
        for tag in image.tags:
            repo, _, name = tag.rpartition(":")
            if repo == IMAGE_REPO:
                shared = by_name.get(container_name(name))
                notebooks = tuple(sorted(running.get(name, [])))
                entries.append(_entry(name, image, shared, notebooks))
    return sorted(entries, key=lambda e: e.name)


def _entry(
    name: str, image: Image, container: Container | None, notebooks: tuple[str, ...]
) -> KernelEntry:
    labels = image.labels or {}
    reason = failure(image)
    status, port, uptime = ("failed" if reason else "stopped"), None, None
    if container is not None and not reason:
        status = container.status
        if status == "running":
            bindings = (container.ports or {}).get(f"{PORT}/tcp") or []
            port = int(bindings[0]["HostPort"]) if bindings else None
            uptime = _uptime(container.attrs.get("State", {}).get("StartedAt", ""))
    if notebooks and not reason and status != "running":
        status = "running"  # in the notebooks' own containers
    return KernelEntry(
        name=name,
        image=image_tag(name),
        python=labels.get("neuralis.python", "?"),
        packages=tuple(json.loads(labels.get("neuralis.packages", "[]"))),
        status=status,
        port=port,
        uptime=uptime,
        reason=reason,
        notebooks=notebooks,
    )


def _uptime(started: str) -> float | None:
    """Seconds since Docker's ``StartedAt`` (RFC 3339 with nanoseconds)."""
    if not started:
        return None
    head, _, frac = started.rstrip("Z").partition(".")
    try:
        when = datetime.fromisoformat(head).replace(tzinfo=UTC)
    except ValueError:
        return None
    seconds = (datetime.now(UTC) - when).total_seconds() - float(f"0.{frac or 0}"[:8])
    return max(seconds, 0.0)
