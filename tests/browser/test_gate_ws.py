"""A raw WebSocket client against the app: foreign hosts and origins, and clear_cache.

DNS rebinding: a page on another domain that resolves to 127.0.0.1 sends that domain as
``Host``; a page of another site (or another local port) sends its own ``Origin``.
"""

from __future__ import annotations

from collections.abc import Iterator
from pathlib import Path
from typing import Any

import pytest
import requests
import websocket
from streamlit.proto.BackMsg_pb2 import BackMsg
from streamlit.proto.ForwardMsg_pb2 import ForwardMsg

from tests.browser.conftest import Server, free_port, require_browser, start_server, stop_server
from tests.browser.test_notebook_browser import open_notebook
from tests.ui.conftest import make_notebook

pytestmark = pytest.mark.browser


def connect(
    url: str, *, host: str | None = None, origin: str | None = None, cookie: str | None = None
) -> websocket.WebSocket:
    """Open Streamlit's WebSocket as a browser would (or with the headers given)."""
    ws_url = url.replace("http://", "ws://") + "/_stcore/stream"
    options: dict[str, Any] = {"subprotocols": ["streamlit"], "timeout": 10,
                               "origin": origin or url}  # fmt: skip
    if host is not None:
        options["host"] = host
    if cookie is not None:
        options["cookie"] = cookie
    return websocket.create_connection(ws_url, **options)


def refused(url: str, **headers: str) -> bool:
    """Return whether the server refuses the WebSocket handshake."""
    try:
        connect(url, **headers).close()
    except websocket.WebSocketBadStatusException as exc:
        return exc.status_code == 403
    return False


def send(ws: websocket.WebSocket, msg: BackMsg) -> None:
    """Send one client message."""
    ws.send_binary(msg.SerializeToString())


def new_session(ws: websocket.WebSocket, query: str = "") -> str:
    """Start a script run; return the session id the server announces."""
    msg = BackMsg()
    msg.rerun_script.query_string = query
    send(ws, msg)
    for _ in range(200):
        fwd = ForwardMsg()
        fwd.ParseFromString(ws.recv())
        if fwd.WhichOneof("type") == "new_session":
            return str(fwd.new_session.initialize.session_id)
    raise AssertionError("no new_session message")


def test_foreign_host_and_origin_are_refused(server: Server) -> None:
    port = server.url.rsplit(":", 1)[1]
    assert requests.get(server.url, headers={"Host": f"evil.example:{port}"}, timeout=10
                        ).status_code == 403  # fmt: skip
    for name in (f"127.0.0.1:{port}", f"localhost:{port}"):
        assert requests.get(server.url, headers={"Host": name}, timeout=10).ok
    assert refused(server.url, host=f"evil.example:{port}")
    assert refused(server.url, origin=f"http://evil.example:{port}")
    assert refused(server.url, origin=f"http://127.0.0.1:{free_port()}")  # another local app
    assert refused(server.url, origin=f"http://localhost:{port}")  # a different origin too
    put = requests.put(f"{server.url}/_stcore/upload_file/x/y", timeout=10, data=b"x",
                       headers={"Origin": "http://evil.example"})  # fmt: skip
    assert put.status_code == 403
    ws = connect(server.url)  # same origin: a session starts
    assert new_session(ws)
    ws.close()


@pytest.fixture
def behind_proxy(tmp_path: Path) -> Iterator[Server]:
    """The app told its public name, as behind a reverse proxy."""
    require_browser()
    srv = start_server(tmp_path / "nb", {"NEURALIS_PUBLIC_HOSTS": "notebooks.example"})
    yield srv
    stop_server(srv)


def test_public_host_setting_admits_that_name_only(behind_proxy: Server) -> None:
    url = behind_proxy.url
    assert requests.get(url, headers={"Host": "notebooks.example"}, timeout=10).ok
    assert requests.get(url, headers={"Host": "other.example"}, timeout=10).status_code == 403
    ws = connect(url, host="notebooks.example", origin="https://notebooks.example")
    assert new_session(ws)
    ws.close()
    assert refused(url, host="notebooks.example", origin="https://other.example")
    assert refused(url, host="other.example", origin="https://other.example")


SLOW = "import time\nfor i in range(8):\n    print('tick', i, flush=True)\n    time.sleep(0.5)\n" \
       "survivor = 41\nprint('finished')"  # fmt: skip


def test_clear_cache_from_another_client_is_harmless(page: Any, server: Server) -> None:
    make_notebook(server.notebook_dir, "slow.ipynb", [SLOW, "print(survivor + 1)"])
    open_notebook(page, server, "slow.ipynb")
    page.get_by_role("button", name="Run all", exact=True).click()
    page.get_by_text("tick 1").first.wait_for()
    ws = connect(server.url)
    new_session(ws)
    wipe = BackMsg()
    wipe.clear_cache = True
    send(ws, wipe)
    ws.close()
    page.get_by_text("finished").first.wait_for()  # the running cell went on
    page.get_by_text("42", exact=True).first.wait_for()  # the next one ran on the same kernel
