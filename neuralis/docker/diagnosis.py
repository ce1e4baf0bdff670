"""Why a kernel in a container was lost, and whether its notebook folder will be writable.

Plain phrases for error messages, read from the container's state and Docker's events; the
kernel side (:mod:`neuralis.kernels.docker_provider`) turns them into ``KernelDied``.
"""

from __future__ import annotations

import stat
import time
from pathlib import Path

from neuralis.docker import containers
from neuralis.docker.dockerfile import KERNEL_UID


def why_lost(name: str, since: float, notebook: str | None = None) -> str | None:
    """Say why kernel ``name``'s container (for ``notebook``) lost its kernel since ``since``
    (Unix time), if it can: the container stopped, or the kernel was killed for memory.
    ``None``: it cannot tell.
    """
    if _settles_stopped(name, notebook):
        return (
            f"The container of kernel {name!r} {containers.state(name, notebook)}: "
            "restart the kernel to continue (its state is lost)."
        )
    memory = containers.memory_kill(name, since, notebook)
    if memory:
        return (
            f"The kernel in container {name!r} was {memory}: restart the kernel "
            "to continue, and use less memory or raise NEURALIS_KERNEL_MEMORY."
        )
    return None


def _settles_stopped(name: str, notebook: str | None, wait: float = 1.5) -> bool:
    """Tell whether the container is (or within ``wait`` becomes) stopped.

    A killed container's socket closes a moment before Docker records the exit: without this
    wait the clear "container exited" message would lose the race.
    """
    deadline = time.monotonic() + wait
    while containers.is_running(name, notebook):
        if time.monotonic() >= deadline:
            return False
        time.sleep(0.1)
    return True


def folder_warning(folder: Path) -> str | None:
    """Say so when a Docker kernel (uid KERNEL_UID) could not write into the notebook's folder.

    The folder is bind-mounted into the container, so its owner and mode on this machine are
    what the kernel sees (engines that remap uids aside).
    """
    try:
        info = folder.stat()
    except OSError:
        return None
    if info.st_uid == KERNEL_UID:
        writable = info.st_mode & stat.S_IWUSR
    elif info.st_gid == KERNEL_UID:
        writable = info.st_mode & stat.S_IWGRP
    else:
        writable = info.st_mode & stat.S_IWOTH
    if writable:
        return None
    return (
        f"Docker kernels run as uid {KERNEL_UID}, and {folder} is read-only to that user: "
        f"files a cell writes there will fail. Give it the folder (sudo chown -R {KERNEL_UID} "
        f"{folder}) or open it up (chmod o+w {folder})."
    )
