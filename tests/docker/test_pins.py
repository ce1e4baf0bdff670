"""Each Python's gateway pins resolve on PyPI (3.7 and 3.8 have no base image here)."""

from __future__ import annotations

import os
import subprocess
import sys
from pathlib import Path

import pytest
import requests

from neuralis.config import Settings
from neuralis.docker.dockerfile import PINS, render
from neuralis.docker.spec import make_spec

INDEX = os.environ.get("NEURALIS_PIP_INDEX_URL") or "https://pypi.org/simple"


def _index_reachable() -> bool:
    try:
        return requests.get(f"{INDEX.rstrip('/')}/pip/", timeout=10).ok
    except requests.RequestException:
        return False


@pytest.fixture(scope="module")
def index() -> str:
    if not _index_reachable():
        if os.environ.get("CI") or os.environ.get("NEURALIS_REQUIRE_DOCKER") == "1":
            pytest.fail(f"package index {INDEX} unreachable", pytrace=False)
        pytest.skip(f"package index {INDEX} unreachable")
    return INDEX


@pytest.mark.parametrize("python", ["3.7", "3.8"])
def test_pins_resolve_for_python(python: str, index: str, tmp_path: Path) -> None:
    rendered = render(make_spec(python, [], name="pins"), Settings())
    pins = PINS[python].requirements()
    assert all(p in rendered.dockerfile for p in pins)
    cmd = [
        sys.executable, "-m", "pip", "--isolated", "install", "--dry-run", "--quiet",
        "--index-url", index, "--python-version", python, "--only-binary=:all:",
        "--ignore-installed", "--target", str(tmp_path / "target"), *pins,
    ]  # fmt: skip
    cert = os.environ.get("PIP_CERT") or os.environ.get("SSL_CERT_FILE")
    if cert:
        cmd[4:4] = ["--cert", cert]  # --isolated ignores PIP_CERT; the proxy's CA is needed
    done = subprocess.run(cmd, capture_output=True, text=True, timeout=300)
    assert done.returncode == 0, done.stderr[-2000:]
