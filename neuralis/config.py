"""Settings read from environment variables (all optional)."""

from __future__ import annotations

import os
import re
from dataclasses import dataclass
from pathlib import Path

from neuralis.errors import InvalidInput

_SIZE = re.compile(r"^(\d+(?:\.\d+)?)\s*([kmgt]?)i?b?$", re.IGNORECASE)


def parse_size(name: str, text: str) -> int:
    """Read a size such as ``2g``, ``512m`` or ``1073741824`` (bytes) into bytes."""
    match = _SIZE.match(text.strip())
    if match is None or float(match[1]) <= 0:
        raise InvalidInput(f"{name}={text!r}: give a size such as 2g, 512m or a number of bytes.")
    power = "kmgt".find(match[2].lower()) + 1 if match[2] else 0
    return int(float(match[1]) * 1024**power)


def _positive(name: str, text: str | None) -> int | None:
    if text is None:
        return None
    if not text.isdigit() or int(text) <= 0:
        raise InvalidInput(f"{name}={text!r}: give a whole number above 0.")
    return int(text)


@dataclass(frozen=True)
class Settings:
    """What the environment configures; see DESIGN.md "Settings"."""

    notebook_dir: Path = Path("notebooks")
    base_image: str = "python:{python}-slim"
    build_network: str | None = None
    extra_ca_certs: Path | None = None
    pip_index_url: str | None = None
    gateway_url: str | None = None
    gateway_token: str | None = None
    kernel_memory: str = "2g"
    kernel_cpus: float = 1.0
    kernel_pids: int = 512
    kernel_idle_timeout: float = 3600.0
    """Seconds a kernel no browser session shows may idle before it is shut down."""
    env_prefix: str = "env"
    cell_window: int = 15
    """Cells the Notebook page draws at a time (0: all); larger notebooks are paged."""
    local_kernel_memory: int | None = None
    """Bytes of address space a local kernel may use (off by default)."""
    local_kernel_pids: int | None = None
    """Processes and threads a local kernel's user may have (RLIMIT_NPROC; off by default)."""

    @classmethod
    def from_env(cls, env: dict[str, str] | None = None) -> Settings:
        """Read the settings from ``env`` (default: ``os.environ``)."""
        e = os.environ if env is None else env

        def opt(name: str) -> str | None:
            value = e.get(name, "").strip()
            return value or None

        ca = opt("NEURALIS_EXTRA_CA_CERTS")
        memory = opt("NEURALIS_LOCAL_KERNEL_MEMORY")
        return cls(
            notebook_dir=Path(opt("NEURALIS_NOTEBOOK_DIR") or "notebooks"),
            base_image=opt("NEURALIS_BASE_IMAGE") or cls.base_image,
            build_network=opt("NEURALIS_BUILD_NETWORK"),
            extra_ca_certs=Path(ca) if ca else None,
            pip_index_url=opt("NEURALIS_PIP_INDEX_URL"),
            gateway_url=opt("NEURALIS_GATEWAY_URL"),
            gateway_token=opt("NEURALIS_GATEWAY_TOKEN"),
            kernel_memory=opt("NEURALIS_KERNEL_MEMORY") or cls.kernel_memory,
            kernel_cpus=float(opt("NEURALIS_KERNEL_CPUS") or cls.kernel_cpus),
            kernel_pids=int(opt("NEURALIS_KERNEL_PIDS") or cls.kernel_pids),
            kernel_idle_timeout=float(
                opt("NEURALIS_KERNEL_IDLE_TIMEOUT") or cls.kernel_idle_timeout
            ),
            env_prefix=opt("NEURALIS_ENV_PREFIX") or cls.env_prefix,
            cell_window=max(0, int(opt("NEURALIS_CELL_WINDOW") or cls.cell_window)),
            local_kernel_memory=parse_size("NEURALIS_LOCAL_KERNEL_MEMORY", memory)
            if memory
            else None,
            local_kernel_pids=_positive(
                "NEURALIS_LOCAL_KERNEL_PIDS", opt("NEURALIS_LOCAL_KERNEL_PIDS")
            ),
        )
