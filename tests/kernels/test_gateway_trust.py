"""The gateway token goes only to the gateway it was configured for (issue 10, item 4).

A plain listener on a free loopback port stands in for a gateway a notebook names; every test
reads what reached it.
"""

from __future__ import annotations

import os
import subprocess
import sys
import time
from collections.abc import Iterator
from pathlib import Path

import pytest

from neuralis.config import Settings
from neuralis.errors import GatewayError
from neuralis.execution import Broker
from neuralis.kernels import connect, is_configured_gateway
from neuralis.notebook import cells as ops
from neuralis.notebook import new_notebook, write_notebook
from tests.conftest import ROOT, Gateway
from tests.proxy import RecordingListener

TOKEN = "tok-7f3a9c-never-elsewhere"


@pytest.fixture
def listener() -> Iterator[RecordingListener]:
    lst = RecordingListener()
    yield lst
    lst.close()


def settings_for(url: str, token: str = TOKEN) -> Settings:
    return Settings(gateway_url=url, gateway_token=token)


def test_configured_gateway_is_matched_by_scheme_host_and_port() -> None:
    s = settings_for("http://Gw.example:8888/base/")
    assert is_configured_gateway("http://gw.example:8888", s)
    assert is_configured_gateway("HTTP://GW.EXAMPLE:8888/other", s)
    assert not is_configured_gateway("http://gw.example:8889", s)
    assert not is_configured_gateway("https://gw.example:8888", s)
    assert not is_configured_gateway("http://gw.example.evil:8888", s)
    assert not is_configured_gateway("http://evil@gw.example:8888@evil:1", s)
    assert is_configured_gateway("http://h", settings_for("http://h:80"))
    assert is_configured_gateway("https://h:443", settings_for("https://h"))
    assert not is_configured_gateway("http://h", Settings(gateway_token=TOKEN))  # none set


def test_kernel_for_another_gateway_gets_no_token(listener: RecordingListener) -> None:
    kernel = connect(f"gateway:{listener.url}", settings=settings_for("http://127.0.0.1:9"))
    with pytest.raises(GatewayError):
        kernel.start(10)
    kernel.shutdown()
    assert b"POST /api/kernels" in listener.received  # it was reached...
    assert TOKEN.encode() not in listener.received  # ...without the token
    assert b"authorization" not in listener.received.lower()


@pytest.mark.gateway
def test_configured_gateway_still_gets_its_token(gateway: Gateway) -> None:
    kernel = connect(f"gateway:{gateway.url}/", settings=settings_for(gateway.url, gateway.token))
    with kernel:
        kernel.start(60)
        seen: list[object] = []
        assert kernel.execute("1 + 1", seen.append).status == "ok"


def test_broker_asks_before_connecting_to_another_gateway(
    listener: RecordingListener, tmp_path: Path
) -> None:
    broker = Broker(settings_for("http://127.0.0.1:9"), start_timeout=10)
    try:
        broker.attach("nb", f"gateway:{listener.url}", tmp_path)
        assert broker.unconfirmed_gateway("nb") == listener.url
        rec = broker.wait("nb", broker.run("nb", "c", "print(1)").cell_id, 30)
        assert rec.status == "error" and "confirm" in (rec.message or "")
        time.sleep(0.3)
        assert listener.received == b""  # not even connected to
        broker.confirm_gateway("nb", listener.url)
        assert broker.unconfirmed_gateway("nb") is None
        assert broker.kernel_status("nb") == "none"  # no longer dead for want of a yes
        rec = broker.wait("nb", broker.run("nb", "c", "print(1)").cell_id, 30)
        assert rec.status == "error" and "confirm" not in (rec.message or "")
        assert b"POST /api/kernels" in listener.received
        assert TOKEN.encode() not in listener.received
    finally:
        broker.shutdown_all(wait=True)


def test_cli_connects_without_the_token_and_says_so(
    listener: RecordingListener, tmp_path: Path
) -> None:
    nb = new_notebook()
    nb.cells = [ops.new_cell("code", "print(1)")]
    nb.metadata["neuralis"] = {"kernel": f"gateway:{listener.url}"}
    write_notebook(nb, tmp_path / "n.ipynb")
    env = dict(os.environ, NEURALIS_GATEWAY_URL="http://127.0.0.1:9", NEURALIS_GATEWAY_TOKEN=TOKEN)
    res = subprocess.run(
        [sys.executable, "-m", "neuralis", "run", str(tmp_path / "n.ipynb")],
        cwd=ROOT, env=env, capture_output=True, text=True, timeout=120,
    )  # fmt: skip
    assert res.returncode == 3, res.stderr
    assert "without the token" in res.stderr and TOKEN not in res.stderr
    assert b"POST /api/kernels" in listener.received
    assert TOKEN.encode() not in listener.received
