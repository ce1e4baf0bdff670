"""The one availability check, and the boundary where docker-py errors become Neuralis errors.

Every Docker call in this package goes through :func:`client` (which runs the check once per
process and engine) and :func:`translated` (which turns any ``docker.errors.DockerException``
into a :class:`~neuralis.errors.DockerError`), so neither the app nor the CLI ever shows a raw
docker exception.
"""

from __future__ import annotations

import contextlib
import errno
import os
import socket
import threading
from collections.abc import Iterator
from dataclasses import dataclass
from typing import TYPE_CHECKING
from urllib.parse import urlsplit

from neuralis.errors import DockerError, DockerUnavailable

if TYPE_CHECKING:
    import docker

MIN_API_VERSION = (1, 41)
"""Docker 20.10: the oldest engine measured here (research §1.6); needs init, health, labels."""

DEFAULT_HOST = "unix:///var/run/docker.sock"

_lock = threading.Lock()
_clients: dict[str, docker.DockerClient] = {}
_here: dict[str, bool] = {}


@dataclass(frozen=True)
class EngineInfo:
    """What a reachable engine says about itself."""

    host: str
    version: str
    api_version: str


def docker_host() -> str:
    """Return the address docker-py will try: ``DOCKER_HOST`` or the default socket."""
    return os.environ.get("DOCKER_HOST", "").strip() or DEFAULT_HOST


def client() -> docker.DockerClient:
    """Return a checked client for the current engine, raising DockerUnavailable if none."""
    host = docker_host()
    with _lock:
        cached = _clients.get(host)
    if cached is not None:
        return cached
    fresh, _ = _connect(host)
    with _lock:
        return _clients.setdefault(host, fresh)


def engine_is_here(host: str | None = None) -> bool:
    """Tell whether the engine at ``host`` (default ``DOCKER_HOST``) runs on this machine.

    Kernel containers publish their gateway on the engine host's 127.0.0.1 and mount notebook
    folders from its disk, so only such an engine can run kernels for this app. A socket is
    here; an ``ssh://`` or ``tcp://`` host is when each of its addresses is this machine's
    (one a socket can bind to). A name that does not resolve is left to the connection to
    report.
    """
    host = host or docker_host()
    if not host.startswith(("ssh://", "tcp://", "http://", "https://")):
        return True
    name = urlsplit(host).hostname or ""
    with _lock:
        known = _here.get(name)
    if known is not None:
        return known
    try:
        addresses = {str(info[4][0]) for info in socket.getaddrinfo(name, None)}
    except (OSError, UnicodeError):
        return True
    here = all(_bindable(address) for address in addresses)
    with _lock:
        _here[name] = here
    return here


def _bindable(address: str) -> bool:
    family = socket.AF_INET6 if ":" in address else socket.AF_INET
    try:
        with socket.socket(family, socket.SOCK_STREAM) as probe:
            probe.bind((address, 0))
    except OSError:
        return False
    return True


def require_engine_here(action: str) -> None:
    """Raise DockerError saying why ``action`` cannot work on an engine on another machine."""
    if engine_is_here():
        return
    raise DockerError(
        f"Cannot {action}: DOCKER_HOST={docker_host()} is an engine on another machine, and a "
        "kernel container publishes its gateway on that machine's 127.0.0.1 and mounts the "
        "notebook folder from its disk. Run Neuralis on that machine, point DOCKER_HOST at an "
        "engine on this one, or use a local kernel."
    )


def check() -> EngineInfo:
    """Run the availability check afresh and describe the engine; raise DockerUnavailable."""
    host = docker_host()
    fresh, info = _connect(host)
    with _lock:
        _clients[host] = fresh
    return info


def forget() -> None:
    """Drop cached clients (after the engine restarted, or in tests)."""
    with _lock:
        _clients.clear()


def _connect(host: str) -> tuple[docker.DockerClient, EngineInfo]:
    try:
        import docker
    except ImportError as exc:
        raise DockerUnavailable(
            "The Python package 'docker' is not installed: pip install 'docker>=7.1', "
            "or use a local kernel."
        ) from exc
    try:
        fresh = docker.from_env(timeout=60)
        version = fresh.version()
    except docker.errors.DockerException as exc:
        raise unavailable(exc, host) from exc
    except Exception as exc:  # paramiko's own errors (no route, refused key) are no DockerException
        if not host.startswith("ssh://"):
            raise
        raise unavailable(exc, host) from exc
    info = EngineInfo(
        host=host,
        version=str(version.get("Version", "?")),
        api_version=str(version.get("ApiVersion", "0")),
    )
    if _parse_api(info.api_version) < MIN_API_VERSION:
        fresh.close()
        wanted = ".".join(map(str, MIN_API_VERSION))
        raise DockerUnavailable(
            f"The Docker engine at {host} is too old (version {info.version}, API "
            f"{info.api_version}); Neuralis needs API {wanted} (Docker 20.10) or newer: "
            "upgrade Docker, or use a local kernel."
        )
    return fresh, info


def _parse_api(text: str) -> tuple[int, int]:
    major, _, minor = text.partition(".")
    try:
        return int(major), int(minor or 0)
    except ValueError:
        return (0, 0)


def unavailable(exc: BaseException, host: str | None = None) -> DockerUnavailable:
    """Explain why the engine at ``host`` could not be reached, with what to do."""
    host = host or docker_host()
    text = str(exc)
    if host.startswith("ssh://"):
        return _ssh_unavailable(exc, host, text)
    if _is_permission(exc) or "Permission denied" in text:
        return DockerUnavailable(
            f"Permission denied on the Docker socket {host}: add your user to the 'docker' "
            "group (then log in again), or run Neuralis as a user allowed to use Docker."
        )
    return DockerUnavailable(
        f"Docker daemon not reachable at {host}: start Docker (or set DOCKER_HOST to a "
        "running engine), or use a local kernel."
    )


def _ssh_unavailable(exc: BaseException, host: str, text: str) -> DockerUnavailable:
    if "paramiko" in text:  # docker-py without its ssh extra
        return DockerUnavailable(
            f"DOCKER_HOST={host} needs SSH support in docker-py: pip install 'docker[ssh]' "
            "(it brings paramiko), or use a local kernel."
        )
    return DockerUnavailable(
        f"Docker engine not reachable over SSH at {host} ({type(exc).__name__}: {text}): check "
        "that ssh to that host logs in without a prompt (key in ~/.ssh or the agent, host in "
        "known_hosts) and that its user may run docker, or use a local kernel."
    )


def _is_permission(exc: BaseException | None) -> bool:
    """Look through the chain of causes (requests wraps the socket's OSError deeply)."""
    seen = 0
    while exc is not None and seen < 10:
        if isinstance(exc, PermissionError) or getattr(exc, "errno", None) == errno.EACCES:
            return True
        if any(isinstance(arg, BaseException) and _is_permission(arg) for arg in exc.args):
            return True
        exc = exc.__cause__ or exc.__context__
        seen += 1
    return False


@contextlib.contextmanager
def translated(action: str) -> Iterator[None]:
    """Turn docker-py errors raised inside the block into DockerError saying what failed."""
    import docker
    import requests

    try:
        yield
    except docker.errors.APIError as exc:
        raise DockerError(f"Docker could not {action}: {exc.explanation or exc}") from exc
    except (docker.errors.DockerException, requests.ConnectionError) as exc:
        forget()
        raise unavailable(exc) from exc
