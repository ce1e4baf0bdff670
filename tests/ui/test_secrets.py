"""AppTest: a cell prints a kernel secret; the page and the saved file show ``[secret NAME]``."""

from __future__ import annotations

from collections.abc import Callable, Iterator
from pathlib import Path

import pytest
from streamlit.testing.v1 import AppTest

from tests.ui.conftest import make_notebook, texts, wait_done

VALUE = "s3cr3t-value-9d1e"


@pytest.fixture
def secret_env(monkeypatch: pytest.MonkeyPatch) -> Iterator[None]:
    """Name a host variable as a kernel secret; the app's broker reads the settings afresh."""
    from neuralis.ui import state

    monkeypatch.setenv("SERVICE_KEY", VALUE)
    monkeypatch.setenv("NEURALIS_KERNEL_ENV", "SERVICE_KEY")
    state.sessions().broker.shutdown_all(wait=True)
    state.sessions.clear()
    yield
    state.sessions().broker.shutdown_all(wait=True)
    state.sessions.clear()


def test_the_page_and_the_file_show_the_secret_redacted(
    secret_env: None, app: Callable[..., AppTest], notebook_dir: Path
) -> None:
    code = "import os\nprint('key:', os.environ['SERVICE_KEY'])\nos.environ['SERVICE_KEY']"
    (cid,) = make_notebook(notebook_dir, "secret.ipynb", [code])
    at = app(file="secret.ipynb")
    at.button(key=f"run-{cid}").click().run()
    wait_done(at)
    shown = "\n".join([*texts(at), *(m.value for m in at.markdown), *(c.value for c in at.caption)])
    assert "key: [secret SERVICE_KEY]" in shown
    assert VALUE not in shown
    saved = (notebook_dir / "secret.ipynb").read_text()
    assert "[secret SERVICE_KEY]" in saved and VALUE not in saved
