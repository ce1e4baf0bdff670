"""Builds get this machine's proxy settings: a real build's pip goes through the proxy named by
``HTTPS_PROXY``, and the image's history does not carry it.

The proxy is a small CONNECT relay on 127.0.0.1 (the test builds use the host network).
"""

from __future__ import annotations

import contextlib
import socket
import subprocess
import threading
from collections.abc import Callable, Iterator

import pytest

from neuralis.config import Settings
from neuralis.docker import containers
from neuralis.docker.build import build
from neuralis.docker.spec import make_spec
from tests.docker.conftest import PREFIX, Built

pytestmark = pytest.mark.docker


class ConnectProxy:
    """An HTTP CONNECT relay that records the hosts it was asked for."""

    def __init__(self) -> None:
        self.server = socket.create_server(("127.0.0.1", 0))
        self.port = int(self.server.getsockname()[1])
        self.asked: list[str] = []
        threading.Thread(target=self._accept, daemon=True).start()

    def _accept(self) -> None:
        while True:
            try:
                client, _ = self.server.accept()
            except OSError:
                return
            threading.Thread(target=self._serve, args=(client,), daemon=True).start()

    def _serve(self, client: socket.socket) -> None:
        with client:
            head = b""
            while b"\r\n\r\n" not in head:
                chunk = client.recv(4096)
                if not chunk:
                    return
                head += chunk
            method, target = head.split(b" ", 2)[:2]
            if method != b"CONNECT":
                client.sendall(b"HTTP/1.1 405 Method Not Allowed\r\n\r\n")
                return
            host, _, port = target.decode().rpartition(":")
            self.asked.append(host)
            try:
                upstream = socket.create_connection((host, int(port)), timeout=30)
            except OSError:
                client.sendall(b"HTTP/1.1 502 Bad Gateway\r\n\r\n")
                return
            with upstream:
                client.sendall(b"HTTP/1.1 200 Connection established\r\n\r\n")
                relay = threading.Thread(target=_pipe, args=(upstream, client), daemon=True)
                relay.start()
                _pipe(client, upstream)
                relay.join(30)

    def close(self) -> None:
        self.server.close()


def _pipe(src: socket.socket, dst: socket.socket) -> None:
    with contextlib.suppress(OSError):
        while data := src.recv(65536):
            dst.sendall(data)
    with contextlib.suppress(OSError):
        dst.shutdown(socket.SHUT_WR)


@pytest.fixture
def proxy() -> Iterator[ConnectProxy]:
    relay = ConnectProxy()
    yield relay
    relay.close()


def test_a_build_uses_the_proxy_and_keeps_it_out_of_the_history(
    built_kernel: Callable[..., Built],
    proxy: ConnectProxy,
    monkeypatch: pytest.MonkeyPatch,
) -> None:
    built_kernel("3.11")  # the venv layers from the cache: only the package step is new
    url = f"http://127.0.0.1:{proxy.port}"
    monkeypatch.setenv("HTTPS_PROXY", url)
    monkeypatch.setenv("NO_PROXY", "localhost")
    name = f"{PREFIX}-proxy"
    # A version no other test installs, so pip must fetch it (through the proxy).
    spec = make_spec("3.11", ["six==1.15.0"], name=name)
    try:
        events = list(build(spec, Settings.from_env(), verify=None))
        assert events[-1].kind == "done"
        assert proxy.asked, "pip did not go through HTTPS_PROXY"
        history = subprocess.run(
            ["docker", "history", "--no-trunc", containers.image_tag(name)],
            capture_output=True, text=True, check=True,
        ).stdout  # fmt: skip
        inspect = subprocess.run(
            ["docker", "image", "inspect", containers.image_tag(name)],
            capture_output=True, text=True, check=True,
        ).stdout  # fmt: skip
        assert url not in history and url not in inspect
    finally:
        containers.remove(name)
