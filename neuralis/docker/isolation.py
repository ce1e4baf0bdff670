"""How a kernel container is walled off: its network, its token file, its limits.

- **Network**: every kernel container joins ``neuralis-kernels``, a bridge with inter-container
  traffic off (``enable_icc=false``), so one kernel cannot reach another's gateway. The engine
  enforces that with iptables; an engine run with ``--iptables=false`` cannot, and the README
  says what the host's firewall must add then.
- **Token**: written into the container as a 0400 file before it starts (``put_archive``) and
  read back the same way, so it is in neither ``docker inspect`` nor the gateway's environment.
- **Limits**: memory (swap equal to it: no silent second helping), CPUs, pids and the mounted
  folder, recorded in a label so a container made with other settings is recreated.
"""

from __future__ import annotations

import hashlib
import hmac
import io
import json
import tarfile
import threading
import time
from dataclasses import asdict, dataclass
from pathlib import Path
from typing import TYPE_CHECKING, Any

from neuralis.config import Settings
from neuralis.docker.availability import client, translated
from neuralis.docker.dockerfile import KERNEL_ENV_FILE, KERNEL_UID, TOKEN_FILE
from neuralis.errors import DockerError

if TYPE_CHECKING:
    from docker.models.containers import Container

NETWORK = "neuralis-kernels"
BRIDGE = "neuralis0"
"""The network's bridge interface on the host, named so firewall rules can say it."""
ICC_OPTION = "com.docker.network.bridge.enable_icc"
LIMITS_LABEL = "neuralis.limits"
SECRETS_LABEL = "neuralis.secrets"
IMAGE_ENV_LABEL = "neuralis.kernel_env"
"""On images whose gateway reads the kernel secrets file."""
"""An HMAC of the kernel secrets keyed by the container's token: tells a change, hides values."""
LOG_CONFIG = {"type": "json-file", "config": {"max-size": "10m", "max-file": "3"}}
"""Rotated logs: a chatty kernel cannot fill the engine's disk (30 MB at most per container)."""

_network_lock = threading.Lock()
Secrets = tuple[tuple[str, str], ...]


@dataclass(frozen=True)
class Limits:
    """What a container was created with, beyond its image."""

    memory: str
    cpus: float
    pids: int
    folder: str
    """The host folder mounted at the working directory ('' for none)."""
    gpus: str = ""
    """``NEURALIS_KERNEL_GPUS`` ('' for none; older labels have no such field)."""

    def label(self) -> str:
        """Return the JSON kept in the container's ``neuralis.limits`` label."""
        return json.dumps(asdict(self), sort_keys=True)

    def changes_from(self, old: Limits | None) -> str:
        """Describe what differs from ``old`` ("memory 2g -> 1g, folder A -> B"); '' if nothing."""
        if old is None:
            return "made before Neuralis recorded its limits"
        parts = []
        for key, now in asdict(self).items():
            was = getattr(old, key)
            if was != now:
                parts.append(f"{key} {was or 'none'} -> {now or 'none'}")
        return ", ".join(parts)


def limits(settings: Settings, mount: Path | None) -> Limits:
    """Return the limits ``settings`` give a container mounting ``mount``."""
    return Limits(
        settings.kernel_memory,
        float(settings.kernel_cpus),
        int(settings.kernel_pids),
        str(mount) if mount else "",
        settings.kernel_gpus or "",
    )


def recorded_limits(container: Container) -> Limits | None:
    """Return the limits a container's label records, or None (older containers)."""
    raw = (container.labels or {}).get(LIMITS_LABEL)
    try:
        data = json.loads(raw) if raw else None
        return Limits(**data) if isinstance(data, dict) else None
    except (TypeError, ValueError):
        return None


def host_config(settings: Settings, mount: Path | None, workdir: str) -> dict[str, Any]:
    """Return the keyword arguments of ``containers.create`` that confine a kernel."""
    return {
        "mem_limit": settings.kernel_memory,
        "memswap_limit": settings.kernel_memory,
        "nano_cpus": int(settings.kernel_cpus * 1e9),
        "pids_limit": settings.kernel_pids,
        "init": True,
        "privileged": False,
        "cap_drop": ["ALL"],
        "security_opt": ["no-new-privileges"],
        "log_config": LOG_CONFIG,
        "network": network(),
        "volumes": {str(mount): {"bind": workdir, "mode": "rw"}} if mount else {},
        "device_requests": gpu_requests(settings.kernel_gpus),
    }


def gpu_requests(gpus: str | None) -> list[Any]:
    """Return docker-py device requests for ``all``, a count or device ids ('0,2'); [] for none."""
    if not gpus:
        return []
    from docker.types import DeviceRequest

    if gpus == "all":
        return [DeviceRequest(count=-1, capabilities=[["gpu"]])]
    if gpus.isdigit():
        return [DeviceRequest(count=int(gpus), capabilities=[["gpu"]])]
    return [DeviceRequest(device_ids=gpus.split(","), capabilities=[["gpu"]])]


def network() -> str:
    """Return the kernels' network, creating it (inter-container traffic off) if missing."""
    import docker

    with _network_lock, translated(f"set up the network {NETWORK}"):
        try:
            net = client().networks.get(NETWORK)
        except docker.errors.NotFound:
            net = _create_network()
        options = (net.attrs or {}).get("Options") or {}
        if options.get(ICC_OPTION) != "false":
            raise DockerError(
                f"The Docker network {NETWORK} lets containers talk to each other: remove it "
                f"(docker network rm {NETWORK}) and Neuralis recreates it with that turned off."
            )
    return NETWORK


def _create_network() -> Any:
    import docker

    try:
        return client().networks.create(
            NETWORK,
            driver="bridge",
            options={ICC_OPTION: "false", "com.docker.network.bridge.name": BRIDGE},
            labels={"neuralis.managed": "1"},
        )
    except docker.errors.APIError as exc:
        time.sleep(0.2)  # another process may have created it a moment ago
        try:
            return client().networks.get(NETWORK)
        except docker.errors.NotFound:
            raise DockerError(
                f"Docker could not create the bridge network {NETWORK} for kernels: "
                f"{exc.explanation or exc}. This engine seems to run without bridge networking "
                "(dockerd --bridge=none, or a driver missing): enable the bridge driver, or use "
                "a local kernel."
            ) from exc


def _token_tar(token: str, env: Secrets = ()) -> bytes:
    """A tar of ``.neuralis/gateway-token`` (and ``kernel-env``, both 0400) in a 0700 folder,
    owned by the kernel user."""
    folder, name = TOKEN_FILE.rsplit("/", 2)[1:]
    entries = [(folder, tarfile.DIRTYPE, 0o700, b""), (f"{folder}/{name}", tarfile.REGTYPE,
               0o400, token.encode())]  # fmt: skip
    if env:
        env_name = KERNEL_ENV_FILE.rsplit("/", 1)[1]
        entries.append((f"{folder}/{env_name}", tarfile.REGTYPE, 0o400, _env_json(env)))
    buf = io.BytesIO()
    with tarfile.open(fileobj=buf, mode="w") as tar:
        for path, kind, mode, data in entries:
            info = tarfile.TarInfo(path)
            info.type, info.mode, info.size = kind, mode, len(data)
            info.uid = info.gid = KERNEL_UID
            info.mtime = int(time.time())
            tar.addfile(info, io.BytesIO(data) if data else None)
    return buf.getvalue()


def _env_json(env: Secrets) -> bytes:
    return json.dumps(dict(env), sort_keys=True).encode()


def secrets_fingerprint(token: str, env: Secrets) -> str:
    """Return what the secrets label holds: '' without secrets, else an HMAC under ``token``."""
    if not env:
        return ""
    return hmac.new(token.encode(), _env_json(env), hashlib.sha256).hexdigest()[:32]


def deliver_token(container: Container, token: str, env: Secrets = ()) -> None:
    """Copy the token file (and the kernel secrets) into a created, not yet started container.

    Files, not the container's environment: ``docker inspect`` shows neither.
    """
    home = TOKEN_FILE.rsplit("/", 2)[0]
    with translated(f"hand the gateway token to {container.name}"):
        if not container.put_archive(home, _token_tar(token, env)):
            raise DockerError(f"Could not copy the gateway token into {container.name}.")


def read_token(container: Container) -> str:
    """Read the token file back from the container (running or not); '' if it has none."""
    import docker

    with translated(f"read the gateway token of {container.name}"):
        try:
            chunks, _ = container.get_archive(TOKEN_FILE)
        except docker.errors.NotFound:
            return ""
        data = b"".join(chunks)
    with tarfile.open(fileobj=io.BytesIO(data)) as tar:
        member = tar.next()
        handle = tar.extractfile(member) if member else None
        return handle.read().decode().strip() if handle else ""
