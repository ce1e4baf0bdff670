"""Settings read from environment variables (all optional)."""

from __future__ import annotations

import os
import re
import tomllib
from dataclasses import dataclass, field
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
    kernel_gpus: str | None = None
    """GPUs a Docker kernel asks for: ``all``, a count or device ids (``0,2``); none by default."""
    kernel_env: tuple[tuple[str, str], ...] = field(default=(), repr=False)
    """Secrets given to kernels as environment variables (and redacted from their outputs)."""

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
            kernel_gpus=_gpus(opt("NEURALIS_KERNEL_GPUS")),
            kernel_env=kernel_env(e),
        )


def _gpus(text: str | None) -> str | None:
    if text is None or text.lower() in ("0", "none"):
        return None
    if text.lower() == "all" or text.isdigit() or _DEVICE_IDS.match(text):
        return text.lower() if text.lower() == "all" else text
    raise InvalidInput(
        f"NEURALIS_KERNEL_GPUS={text!r}: give all, a number of GPUs, or device ids such as 0,2."
    )


_DEVICE_IDS = re.compile(r"^[\w.:-]+(,[\w.:-]+)*$")
_ENV_NAME = re.compile(r"^[A-Za-z_][A-Za-z0-9_]*$")
SECRETS_FILES = (Path("~/.streamlit/secrets.toml"), Path(".streamlit/secrets.toml"))
"""Where Streamlit looks for secrets (the project's file wins); ``[neuralis.kernel_env]``."""


def kernel_env(env: os._Environ[str] | dict[str, str]) -> tuple[tuple[str, str], ...]:
    """Return the kernel secrets: ``[neuralis.kernel_env]`` of secrets.toml, then the host
    variables ``NEURALIS_KERNEL_ENV`` names (comma-separated), sorted by name.

    Values never enter a message: only names do.
    """
    found: dict[str, str] = {}
    for path in SECRETS_FILES:
        found.update(_from_file(path.expanduser()))
    for name in filter(None, (n.strip() for n in env.get("NEURALIS_KERNEL_ENV", "").split(","))):
        if not _ENV_NAME.match(name):
            raise InvalidInput(f"NEURALIS_KERNEL_ENV names {name!r}: not a variable name.")
        if name not in env:
            raise InvalidInput(
                f"NEURALIS_KERNEL_ENV names {name}, which is not set here: set it or drop it."
            )
        found[name] = env[name]
    return tuple(sorted(found.items()))


def _from_file(path: Path) -> dict[str, str]:
    try:
        data = tomllib.loads(path.read_text(encoding="utf-8"))
    except FileNotFoundError:
        return {}
    except (OSError, UnicodeDecodeError, tomllib.TOMLDecodeError) as exc:
        raise InvalidInput(f"{path}: cannot read it as TOML ({exc}).") from None
    table = (data.get("neuralis") or {}).get("kernel_env") or {}
    if not isinstance(table, dict):
        raise InvalidInput(f'{path}: [neuralis.kernel_env] must be a table of NAME = "value".')
    for name, value in table.items():
        if not _ENV_NAME.match(name) or not isinstance(value, str):
            raise InvalidInput(
                f"{path}: [neuralis.kernel_env] {name}: give a variable name and a string value."
            )
    return dict(table)
