"""Each Python's gateway pins resolve on the package index (3.7 and 3.8 have no base image here)."""

from __future__ import annotations

import os
import subprocess
import sys
from pathlib import Path

import pytest

from neuralis.config import Settings
from neuralis.docker.dockerfile import PINS, render
from neuralis.docker.spec import make_spec


def _configured_index() -> str | None:
    """Return the index to resolve on: kernel images' (``NEURALIS_PIP_INDEX_URL``), else the one
    pip is configured with here (``PIP_INDEX_URL``, pip.conf); None leaves pip's own default."""
    index = os.environ.get("NEURALIS_PIP_INDEX_URL") or os.environ.get("PIP_INDEX_URL")
    if index:
        return index
    got = subprocess.run(
        [sys.executable, "-m", "pip", "config", "get", "global.index-url"],
        capture_output=True, text=True, timeout=60,
    )  # fmt: skip
    return (got.stdout.strip() or None) if got.returncode == 0 else None


def _pip(*args: str, target: Path) -> subprocess.CompletedProcess[str]:
    """Ask pip to resolve ``args`` as a kernel image's pip would: on the configured index only.

    ``--isolated`` leaves out this machine's local wheel folders and extra file indexes, which
    an image never sees (and whose wheels carry no Requires-Python for ``--python-version``).
    """
    cmd = [
        sys.executable, "-m", "pip", "--isolated", "install", "--dry-run", "--quiet",
        "--ignore-installed", "--target", str(target), *args,
    ]  # fmt: skip
    index = _configured_index()
    if index:
        cmd += ["--index-url", index]
    cert = os.environ.get("PIP_CERT") or os.environ.get("SSL_CERT_FILE")
    if cert:
        cmd[4:4] = ["--cert", cert]  # --isolated ignores PIP_CERT; the proxy's CA is needed
    return subprocess.run(cmd, capture_output=True, text=True, timeout=300)


@pytest.fixture(scope="module")
def index(tmp_path_factory: pytest.TempPathFactory) -> None:
    """Skip (or fail, in CI) when pip cannot reach its package index at all."""
    probe = _pip("--no-deps", "pip", target=tmp_path_factory.mktemp("probe"))
    if probe.returncode != 0:
        why = f"pip cannot reach its package index: {probe.stderr.strip()[-300:]}"
        if os.environ.get("CI") or os.environ.get("NEURALIS_REQUIRE_DOCKER") == "1":
            pytest.fail(why, pytrace=False)
        pytest.skip(why)


@pytest.mark.parametrize("python", ["3.7", "3.8"])
@pytest.mark.usefixtures("index")
def test_pins_resolve_for_python(python: str, tmp_path: Path) -> None:
    rendered = render(make_spec(python, [], name="pins"), Settings())
    pins = PINS[python].requirements()
    assert all(p in rendered.dockerfile for p in pins)
    done = _pip(
        "--python-version", python, "--only-binary=:all:", *pins, target=tmp_path / "target"
    )
    assert done.returncode == 0, done.stderr[-2000:]
