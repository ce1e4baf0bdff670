"""The optional parts of an installation: Docker kernels live in ``neuralis/docker/``.

A checkout may leave that package out; the CLI, both pages and ``local``/``gateway`` kernels
work without it. Callers ask here instead of catching ``ImportError``, which would also hide a
real import error inside the package.
"""

from __future__ import annotations

import importlib.util


def docker_support() -> bool:
    """Tell whether Docker kernel support (the ``neuralis.docker`` package) is installed."""
    try:
        return importlib.util.find_spec("neuralis.docker") is not None
    except ModuleNotFoundError:  # an import hook that refuses the package
        return False
