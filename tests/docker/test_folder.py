"""The notebook folder Docker kernels write into: read-only to their uid is said, not hit."""

from __future__ import annotations

import os
from pathlib import Path

import pytest

from neuralis.docker.diagnosis import folder_warning
from neuralis.docker.dockerfile import KERNEL_UID

root_only = pytest.mark.skipif(os.geteuid() != 0, reason="needs root to chown")


@root_only
@pytest.mark.parametrize(
    ("owner", "mode", "writable"),
    [
        (0, 0o755, False),  # root's folder: the usual case when the app runs as root
        (0, 0o757, True),
        (KERNEL_UID, 0o755, True),
        (KERNEL_UID, 0o555, False),
        (12345, 0o775, False),  # another user's group, not the kernel's
    ],
)
def test_folder_warning(tmp_path: Path, owner: int, mode: int, writable: bool) -> None:
    folder = tmp_path / "nb"
    folder.mkdir()
    os.chown(folder, owner, owner)
    folder.chmod(mode)
    warning = folder_warning(folder)
    assert (warning is None) is writable
    if warning:
        assert f"uid {KERNEL_UID}" in warning and str(folder) in warning and "chown" in warning


@root_only
def test_group_of_the_kernel_counts(tmp_path: Path) -> None:
    folder = tmp_path / "shared"
    folder.mkdir()
    os.chown(folder, 0, KERNEL_UID)
    folder.chmod(0o775)
    assert folder_warning(folder) is None
    assert folder_warning(tmp_path / "missing") is None  # nothing to say about no folder
