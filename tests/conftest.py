"""Shared fixtures: a real Kernel Gateway subprocess, and a check that no kernel is left."""

from __future__ import annotations

import os
import secrets
import socket
import subprocess
import sys
import time
from collections.abc import Iterator
from dataclasses import dataclass
from pathlib import Path

import pytest
import requests

ROOT = Path(__file__).resolve().parent.parent
FILES = Path(__file__).resolve().parent / "files"
KG_FILES = ROOT / "neuralis" / "docker" / "files"


def free_port() -> int:
    """Return a free loopback TCP port."""
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return int(s.getsockname()[1])


@dataclass(frozen=True)
class Gateway:
    """A Kernel Gateway running as a subprocess for the tests."""

    url: str
    token: str
    process: subprocess.Popen[bytes]


def start_gateway(tmp: Path, *, nodelay: bool = True) -> Gateway:
    """Start ``jupyter kernelgateway`` on a free loopback port with a random token."""
    port, token = free_port(), secrets.token_hex(16)
    env = dict(os.environ, KG_AUTH_TOKEN=token, KG_LIST_KERNELS="True")
    env["PYTHONPATH"] = os.pathsep.join(filter(None, [str(KG_FILES), env.get("PYTHONPATH")]))
    cmd = [
        sys.executable, "-m", "kernel_gateway",
        "--KernelGatewayApp.ip=127.0.0.1", f"--KernelGatewayApp.port={port}",
        "--KernelGatewayApp.port_retries=0",
        "--ZMQChannelsWebsocketConnection.iopub_data_rate_limit=1e10",
        "--ZMQChannelsWebsocketConnection.limit_rate=False",
    ]  # fmt: skip
    if nodelay:
        cmd.append(
            "--KernelGatewayApp.kernel_websocket_connection_class=neuralis_kg.NoDelayConnection"
        )
    log = open(tmp / f"kg-{port}.log", "wb")  # closed with the process
    proc = subprocess.Popen(cmd, env=env, cwd=tmp, stdout=log, stderr=subprocess.STDOUT)
    url = f"http://127.0.0.1:{port}"
    deadline = time.monotonic() + 30
    while time.monotonic() < deadline:
        if proc.poll() is not None:
            raise RuntimeError(f"gateway exited: {(tmp / f'kg-{port}.log').read_text()[-2000:]}")
        try:
            requests.get(f"{url}/api", timeout=1)  # any answer (401 without a token) will do
            return Gateway(url, token, proc)
        except requests.ConnectionError:
            time.sleep(0.1)
    proc.kill()
    raise RuntimeError("gateway did not start within 30 s")


def stop_gateway(gw: Gateway) -> None:
    """Stop the gateway; it shuts its kernels down with it."""
    gw.process.terminate()
    try:
        gw.process.wait(10)
    except subprocess.TimeoutExpired:
        gw.process.kill()
        gw.process.wait(5)


@pytest.fixture(scope="session")
def gateway(tmp_path_factory: pytest.TempPathFactory) -> Iterator[Gateway]:
    """A real Kernel Gateway for the whole session."""
    gw = start_gateway(tmp_path_factory.mktemp("gateway"))
    yield gw
    stop_gateway(gw)


def kernel_processes() -> set[int]:
    """Return the pids of ipykernel processes that are children of this test process."""
    me = os.getpid()
    found = set()
    for entry in Path("/proc").iterdir():
        if not entry.name.isdigit():
            continue
        try:
            cmd = (entry / "cmdline").read_bytes().split(b"\0")
            stat = (entry / "stat").read_text().rsplit(")", 1)[1].split()
        except OSError:
            continue
        if b"ipykernel_launcher" in b" ".join(cmd) and int(stat[1]) == me:
            found.add(int(entry.name))
    return found


@pytest.fixture(autouse=True)
def no_kernel_left() -> Iterator[None]:
    """Fail a test that leaves a local kernel process of its own behind."""
    before = kernel_processes()
    yield
    deadline = time.monotonic() + 10
    while (left := kernel_processes() - before) and time.monotonic() < deadline:
        time.sleep(0.1)
    assert not left, f"kernel processes left behind: {left}"
