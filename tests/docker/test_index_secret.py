"""A credentialed pip index is used by the build and lands nowhere: not in a layer, the image's
history, any image left on the engine, the build log or the generated script.

The index is a real one on loopback that refuses requests without the password; it serves
wheels pip downloaded on this machine (from the sources pip is configured with here).
"""

from __future__ import annotations

import base64
import dataclasses
import hashlib
import http.server
import re
import secrets
import subprocess
import sys
import threading
from collections.abc import Iterator
from pathlib import Path

import pytest

from neuralis.config import Settings
from neuralis.docker import containers
from neuralis.docker.build import build
from neuralis.docker.dockerfile import PINS
from neuralis.docker.script import render_script
from neuralis.docker.spec import make_spec
from neuralis.kernels.smoke import smoke_test
from tests.docker.conftest import PREFIX, base_image_for

pytestmark = pytest.mark.docker

USER = "neuralis-ci"
PASSWORD = f"pw-{secrets.token_hex(8)}"
PACKAGE = "six==1.16.0"


def _normal(name: str) -> str:
    return re.sub(r"[-_.]+", "-", name).lower()


class _Index(http.server.BaseHTTPRequestHandler):
    """PEP 503 simple index over a folder of wheels, behind HTTP basic auth."""

    folder: Path
    seen: list[str]

    def do_GET(self) -> None:
        wanted = "Basic " + base64.b64encode(f"{USER}:{PASSWORD}".encode()).decode()
        if self.headers.get("Authorization") != wanted:
            self.send_response(401)
            self.send_header("WWW-Authenticate", 'Basic realm="neuralis"')
            self.end_headers()
            return
        self.seen.append(self.path)
        parts = [p for p in self.path.split("?")[0].split("/") if p]
        if len(parts) == 2 and parts[0] == "simple":
            self._listing(_normal(parts[1]))
        elif len(parts) == 2 and parts[0] == "files" and (self.folder / parts[1]).is_file():
            self._send((self.folder / parts[1]).read_bytes(), "application/octet-stream")
        else:
            self.send_error(404)

    def _listing(self, project: str) -> None:
        links = []
        for wheel in sorted(self.folder.glob("*.whl")):
            if _normal(wheel.name.split("-")[0]) == project:
                digest = hashlib.sha256(wheel.read_bytes()).hexdigest()
                links.append(f'<a href="/files/{wheel.name}#sha256={digest}">{wheel.name}</a>')
        if not links:
            self.send_error(404)
            return
        self._send(("<html><body>" + "\n".join(links) + "</body></html>").encode(), "text/html")

    def _send(self, body: bytes, kind: str) -> None:
        self.send_response(200)
        self.send_header("Content-Type", kind)
        self.send_header("Content-Length", str(len(body)))
        self.end_headers()
        self.wfile.write(body)

    def log_message(self, *args: object) -> None:
        return


@pytest.fixture(scope="module")
def index(
    docker_engine: None, tmp_path_factory: pytest.TempPathFactory
) -> Iterator[tuple[str, list[str]]]:
    folder = tmp_path_factory.mktemp("wheels")
    pins = [*PINS["3.11"].requirements(), PACKAGE]
    base = base_image_for("3.11")
    version = subprocess.run(
        ["docker", "run", "--rm", "--network", "none", base, "python3", "-c",
         "import platform; print(platform.python_version())"],
        capture_output=True, text=True, timeout=120,
    ).stdout.strip()  # fmt: skip
    got = subprocess.run(
        [sys.executable, "-m", "pip", "download", "-q", "--only-binary=:all:", "-d", str(folder),
         "--python-version", version, *pins],
        capture_output=True, text=True, timeout=600,
    )  # fmt: skip
    if got.returncode != 0:
        pytest.skip(f"could not download the kernel's wheels here: {got.stderr[-300:]}")
    seen: list[str] = []
    handler = type("Index", (_Index,), {"folder": folder, "seen": seen})
    server = http.server.ThreadingHTTPServer(("127.0.0.1", 0), handler)
    thread = threading.Thread(target=server.serve_forever, daemon=True)
    thread.start()
    try:
        yield f"http://{USER}:{PASSWORD}@127.0.0.1:{server.server_port}/simple/", seen
    finally:
        server.shutdown()


def _image_text(tag: str) -> str:
    """Every byte of the image as `docker save` writes it: layers, config, history."""
    saved = subprocess.run(["docker", "save", tag], capture_output=True, timeout=300)
    assert saved.returncode == 0, saved.stderr[-300:]
    return saved.stdout.decode("latin-1")


def test_credentialed_index_is_used_and_never_kept(
    docker_engine: None, index: tuple[str, list[str]]
) -> None:
    url, seen = index
    base_image_for("3.11")
    settings = dataclasses.replace(Settings.from_env(), pip_index_url=url)
    spec = make_spec("3.11", [PACKAGE], name=f"{PREFIX}-index")
    events = list(build(spec, settings, verify=smoke_test))
    assert events[-1].kind == "done"
    assert any(p.startswith("/simple/six") for p in seen)  # the build went through the index
    assert any(p.startswith("/files/jupyter_kernel_gateway") for p in seen)
    tag = containers.image_tag(spec.name)
    history = subprocess.run(
        ["docker", "history", "--no-trunc", tag], capture_output=True, text=True
    ).stdout
    assert "pip install" not in history  # the install ran in the builder stage
    for secret in (PASSWORD, f"{USER}:"):
        assert secret not in history
        assert secret not in _image_text(tag)
        assert not any(secret in e.text for e in events)
        assert secret not in render_script(spec, settings)
    leftovers = subprocess.run(
        ["docker", "images", "-aq", "--filter", "label=neuralis.stage=builder"],
        capture_output=True, text=True,
    ).stdout  # fmt: skip
    assert leftovers.strip() == ""  # no image of the builder stage (its history has the URL)
    assert containers.get_image(spec.name).labels["neuralis.token"] == "file"
    assert containers.remove(spec.name)
