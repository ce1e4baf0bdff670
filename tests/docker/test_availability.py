"""The availability check tells apart: unreachable, permission denied, too old."""

from __future__ import annotations

import json
import re
import threading
from collections.abc import Iterator
from http.server import BaseHTTPRequestHandler, HTTPServer

import pytest

from neuralis.docker import availability
from neuralis.errors import DockerError, DockerUnavailable


@pytest.fixture(autouse=True)
def fresh_clients() -> Iterator[None]:
    availability.forget()
    yield
    availability.forget()


def test_unreachable_daemon_names_the_socket(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setenv("DOCKER_HOST", "unix:///nonexistent/docker.sock")
    with pytest.raises(
        DockerUnavailable, match=re.escape("not reachable at unix:///nonexistent/docker.sock")
    ):
        availability.check()
    with pytest.raises(DockerUnavailable, match="start Docker"):
        availability.client()


def test_permission_denied_is_told_apart() -> None:
    # Root ignores socket permissions, so the cause chain requests builds is reproduced here.
    inner = PermissionError(13, "Permission denied")
    outer = ConnectionError("Connection aborted.", inner)
    try:
        raise RuntimeError("Error while fetching server API version") from outer
    except RuntimeError as exc:
        err = availability.unavailable(exc, "unix:///var/run/docker.sock")
    assert "Permission denied on the Docker socket unix:///var/run/docker.sock" in str(err)
    assert "'docker' group" in str(err)


class _OldEngine(BaseHTTPRequestHandler):
    """Answers /version like Docker 17.06 (API 1.30)."""

    def do_GET(self) -> None:
        body = json.dumps({"Version": "17.06.0-ce", "ApiVersion": "1.30", "MinAPIVersion": "1.12"})
        self.send_response(200)
        self.send_header("Content-Type", "application/json")
        self.send_header("Content-Length", str(len(body)))
        self.end_headers()
        self.wfile.write(body.encode())

    def log_message(self, *args: object) -> None:
        pass


def test_too_old_engine_says_what_to_do(monkeypatch: pytest.MonkeyPatch) -> None:
    server = HTTPServer(("127.0.0.1", 0), _OldEngine)
    thread = threading.Thread(target=server.serve_forever, daemon=True)
    thread.start()
    try:
        monkeypatch.setenv("DOCKER_HOST", f"tcp://127.0.0.1:{server.server_port}")
        with pytest.raises(DockerUnavailable, match=r"too old \(version 17.06.0-ce, API 1.30\)"):
            availability.check()
    finally:
        server.shutdown()
        server.server_close()


def test_docker_errors_are_translated(monkeypatch: pytest.MonkeyPatch) -> None:
    import docker

    with (
        pytest.raises(DockerError, match="Docker could not do a thing: boom"),
        availability.translated("do a thing"),
    ):
        raise docker.errors.APIError("500 Server Error", explanation="boom")
    monkeypatch.setenv("DOCKER_HOST", "unix:///nonexistent/docker.sock")
    with (
        pytest.raises(DockerUnavailable, match="not reachable"),
        availability.translated("do a thing"),
    ):
        raise docker.errors.DockerException("Error while fetching server API version")


def test_ssh_host_without_paramiko_says_to_install_it(monkeypatch: pytest.MonkeyPatch) -> None:
    import docker.api.client

    monkeypatch.setenv("DOCKER_HOST", "ssh://nobody@127.0.0.1:1")
    # docker-py without its ssh extra has no SSHHTTPAdapter and says "Install paramiko".
    monkeypatch.delattr(docker.api.client, "SSHHTTPAdapter", raising=False)
    with pytest.raises(DockerUnavailable, match=re.escape("pip install 'docker[ssh]'")):
        availability.check()


def test_unreachable_ssh_host_says_what_to_check(monkeypatch: pytest.MonkeyPatch) -> None:
    pytest.importorskip("paramiko")
    monkeypatch.setenv("DOCKER_HOST", "ssh://nobody@127.0.0.1:1")
    with pytest.raises(DockerUnavailable) as err:
        availability.check()
    assert "not reachable over SSH at ssh://nobody@127.0.0.1:1" in str(err.value)
    assert "logs in without a prompt" in str(err.value)


@pytest.mark.parametrize(
    ("host", "here"),
    [
        ("unix:///var/run/docker.sock", True),
        ("ssh://root@127.0.0.1:2222", True),
        ("tcp://localhost:2375", True),
        ("ssh://deploy@192.0.2.7", False),  # TEST-NET-1: never this machine's
        ("tcp://192.0.2.8:2376", False),
    ],
)
def test_an_engine_here_is_told_from_one_on_another_machine(host: str, here: bool) -> None:
    assert availability.engine_is_here(host) is here


def test_a_kernel_on_an_engine_on_another_machine_says_why_at_once(
    monkeypatch: pytest.MonkeyPatch,
) -> None:
    # Its gateway would be on that machine's loopback and its folder on that machine's disk:
    # said before any connection, instead of a gateway that never answers.
    from neuralis.config import Settings
    from neuralis.docker import containers

    monkeypatch.setenv("DOCKER_HOST", "ssh://deploy@192.0.2.7")
    with pytest.raises(DockerError) as err:
        containers.ensure_running("k", Settings(), notebook="/n/a.ipynb")
    text = str(err.value)
    assert "ssh://deploy@192.0.2.7 is an engine on another machine" in text
    assert "127.0.0.1" in text and "local kernel" in text
