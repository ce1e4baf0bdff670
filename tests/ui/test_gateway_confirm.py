"""A notebook naming a gateway other than the configured one asks first, and gets no token."""

from __future__ import annotations

import time
from collections.abc import Callable
from pathlib import Path

import pytest
from streamlit.testing.v1 import AppTest

from neuralis.notebook import read_notebook, write_notebook
from neuralis.notebook.workspace import set_kernel
from tests.proxy import RecordingListener
from tests.ui.conftest import make_notebook, wait_done

TOKEN = "tok-app-5d1e-never-elsewhere"


def test_another_gateway_asks_first_and_gets_no_token(
    app: Callable[..., AppTest], notebook_dir: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    from neuralis.ui import state

    listener = RecordingListener()
    monkeypatch.setenv("NEURALIS_GATEWAY_URL", "http://127.0.0.1:9")
    monkeypatch.setenv("NEURALIS_GATEWAY_TOKEN", TOKEN)
    state.sessions.clear()  # the broker reads the settings once, when it is made
    try:
        (cid,) = make_notebook(notebook_dir, "g.ipynb", ["print('to the gateway')"])
        nb = read_notebook(notebook_dir / "g.ipynb")
        set_kernel(nb, f"gateway:{listener.url}")
        write_notebook(nb, notebook_dir / "g.ipynb")

        at = app(file="g.ipynb")
        assert not at.exception
        assert any("not the configured one" in w.value for w in at.warning)
        assert listener.url in [c.value for c in at.code]
        at.button(key=f"run-{cid}").click().run()  # Run before answering: nothing is sent
        wait_done(at)
        assert not at.exception
        time.sleep(0.3)
        assert listener.received == b""
        assert not any("The kernel died" in e.value for e in at.error)

        at.button(key="gateway-yes-g.ipynb").click().run()
        assert not any("not the configured one" in w.value for w in at.warning)
        at.button(key=f"run-{cid}").click().run()
        wait_done(at)
        assert not at.exception
        assert b"POST /api/kernels" in listener.received  # connected, as the user agreed...
        assert TOKEN.encode() not in listener.received  # ...without the token
        assert b"authorization" not in listener.received.lower()
    finally:
        state.sessions().broker.shutdown_all()
        monkeypatch.delenv("NEURALIS_GATEWAY_URL")
        monkeypatch.delenv("NEURALIS_GATEWAY_TOKEN")
        state.sessions.clear()
        listener.close()
