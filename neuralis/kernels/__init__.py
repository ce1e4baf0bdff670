"""Kernels behind one interface; ``connect`` turns a kernel spec string into one.

Spec strings (DESIGN.md): ``local``, ``local:NAME``, ``gateway:URL``, ``docker:NAME``.
"""

from __future__ import annotations

import re
from dataclasses import dataclass
from pathlib import Path
from typing import Literal
from urllib.parse import urlsplit

from neuralis.config import Settings
from neuralis.errors import InvalidKernelSpec, NoSuchKernel
from neuralis.kernels.base import ExecuteReply, Kernel, KernelInfo, OnMessage, StdinHandler
from neuralis.optional import docker_support

__all__ = [
    "ExecuteReply",
    "Kernel",
    "KernelInfo",
    "KernelSpec",
    "OnMessage",
    "StdinHandler",
    "connect",
    "is_configured_gateway",
    "parse_spec",
]

Kind = Literal["local", "gateway", "docker"]
_KERNELSPEC_NAME = re.compile(r"^[A-Za-z0-9][A-Za-z0-9._-]{0,99}$")
_DOCKER_NAME = re.compile(r"^[a-z0-9][a-z0-9_.-]{0,62}$")


@dataclass(frozen=True)
class KernelSpec:
    """A parsed kernel spec string."""

    kind: Kind
    target: str

    def __str__(self) -> str:
        if self.kind == "local":
            return "local" if self.target == "python3" else f"local:{self.target}"
        return f"{self.kind}:{self.target}"


def parse_spec(text: str) -> KernelSpec:
    """Parse a spec string, refusing anything outside the contract with a clear message."""
    text = text.strip()
    kind, _, target = text.partition(":")
    if kind == "local":
        name = target or "python3"
        if not _KERNELSPEC_NAME.match(name):
            raise InvalidKernelSpec(f"{text!r}: 'local:NAME' needs a kernelspec name.")
        return KernelSpec("local", name)
    if kind == "gateway":
        parts = urlsplit(target)
        if parts.scheme not in ("http", "https") or not parts.netloc:
            raise InvalidKernelSpec(
                f"{text!r}: 'gateway:URL' needs an http(s) URL, e.g. gateway:http://host:8888."
            )
        return KernelSpec("gateway", target.rstrip("/"))
    if kind == "docker":
        if not _DOCKER_NAME.match(target):
            raise InvalidKernelSpec(
                f"{text!r}: 'docker:NAME' needs a kernel name matching [a-z0-9][a-z0-9_.-]{{0,62}}."
            )
        return KernelSpec("docker", target)
    raise InvalidKernelSpec(
        f"Unknown kernel spec {text!r}: use local, local:NAME, gateway:URL or docker:NAME."
    )


def _origin(url: str) -> tuple[str, str, int | None]:
    parts = urlsplit(url.strip())
    scheme = parts.scheme.lower()
    try:
        port = parts.port or {"http": 80, "https": 443}.get(scheme)
    except ValueError:  # a port outside 0-65535 is nobody's gateway
        return (scheme, "", -1)
    return (scheme, (parts.hostname or "").lower(), port)


def is_configured_gateway(url: str, settings: Settings) -> bool:
    """Tell whether ``url`` is the gateway ``NEURALIS_GATEWAY_URL`` names (scheme, host, port).

    Only that gateway is sent ``NEURALIS_GATEWAY_TOKEN``: a notebook can name any URL.
    """
    return bool(settings.gateway_url) and _origin(url) == _origin(settings.gateway_url or "")


def connect(
    spec: str | KernelSpec,
    *,
    cwd: Path | None = None,
    settings: Settings | None = None,
    headless: bool = False,
    notebook: str | None = None,
) -> Kernel:
    """Build (without starting) the kernel a spec names; ``cwd`` is the notebook's folder.

    ``headless`` kernels (``neuralis run``) keep IPython's history in memory. ``notebook``
    names the container of a ``docker:NAME`` kernel (each notebook gets its own).
    """
    parsed = spec if isinstance(spec, KernelSpec) else parse_spec(spec)
    settings = settings or Settings.from_env()
    if parsed.kind == "local":
        from neuralis.kernels.local import LocalKernel, LocalLimits

        limits = LocalLimits(settings.local_kernel_memory, settings.local_kernel_pids)
        return LocalKernel(
            parsed.target,
            cwd=cwd,
            spec=str(parsed),
            history=not headless,
            limits=limits,
            secrets=settings.kernel_env,
        )
    if parsed.kind == "gateway":
        from neuralis.kernels.gateway import GatewayKernel

        token = settings.gateway_token if is_configured_gateway(parsed.target, settings) else None
        return GatewayKernel(parsed.target, token, spec=str(parsed))
    if not docker_support():
        raise NoSuchKernel(
            f"{parsed}: this installation has no Docker support (neuralis/docker/): "
            "use a local or gateway kernel."
        )
    # Imported here, not above: neuralis.docker is optional, and kernels must not need it.
    from neuralis.kernels.docker_provider import docker_kernel

    return docker_kernel(parsed.target, cwd=cwd, settings=settings, notebook=notebook)
