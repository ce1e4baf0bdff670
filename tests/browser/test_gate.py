"""Every way in goes through the gate: page addresses, uploads, media, metrics, WebSocket.

Each gate runs on a fresh server, so the first visit is to a page address (before any run
has called st.navigation, Streamlit would start pages/*.py without app.py).
"""

from __future__ import annotations

from collections.abc import Callable, Iterator
from pathlib import Path
from typing import Any

import pytest
import requests

from tests.browser.conftest import Server, require_browser, start_server, stop_server
from tests.browser.test_gate_ws import connect, new_session, refused

PASSWORD = "tr0ub4dor-and-3"
OIDC = """[auth]
redirect_uri = "http://localhost:{port}/oauth2callback"
cookie_secret = "{secret}"
client_id = "neuralis"
client_secret = "secret"
server_metadata_url = "http://127.0.0.1:9/.well-known/openid-configuration"
"""
PATHS = ["/notebook?file=welcome.ipynb", "/notebook/?file=welcome.ipynb", "/notebook",
         "/notebook/", "/kernels", "/kernels/", "/Notebook", "/KERNELS/", "/?file=welcome.ipynb",
         "/kernels?file=welcome.ipynb", "/app", "/"]  # fmt: skip
LINKS = "[data-testid='stSidebarNav'] a, [data-testid='stSidebar'], a[href*='kernels']"


@pytest.fixture
def gated(tmp_path: Path) -> Iterator[Callable[[str], Server]]:
    """Return a factory of fresh servers behind a gate ("password" or "oidc")."""
    require_browser()
    made: list[Server] = []

    def make(kind: str) -> Server:
        from tests.browser.conftest import free_port

        port = free_port()
        secrets = tmp_path / f"secrets-{port}.toml"
        if kind == "password":
            secrets.write_text(f'[neuralis]\npassword = "{PASSWORD}"\n')
        else:
            secrets.write_text(OIDC.format(port=port, secret="c" * 32))
        made.append(start_server(tmp_path / f"nb-{port}", port=port,
                                 args=["--secrets.files", str(secrets)]))  # fmt: skip
        return made[-1]

    yield make
    for server in made:
        stop_server(server)


def _only_the_gate(page: Any, kind: str) -> None:
    page.set_default_timeout(90_000)  # a fresh server's first run imports a lot, on a busy host
    if kind == "password":
        page.get_by_label("Team password").wait_for()
        assert "/_neuralis/login" in page.url
    else:
        page.get_by_role("button", name="Log in").wait_for()
        page.wait_for_timeout(300)  # anything else the run would draw
    assert page.get_by_role("button", name="Run all", exact=True).count() == 0
    assert page.get_by_text("welcome.ipynb").count() == 0
    assert page.get_by_text("Build a kernel").count() == 0
    assert page.locator(LINKS).count() == 0, page.content()[:2000]


@pytest.mark.browser
@pytest.mark.parametrize("kind", ["password", "oidc"])
def test_every_page_address_shows_only_the_gate(
    kind: str, gated: Callable[[str], Server], page: Any
) -> None:
    first = gated(kind)  # a fresh server per first address
    page.goto(first.url + PATHS[0])
    _only_the_gate(page, kind)
    second = gated(kind)
    page.goto(second.url + "/kernels/")
    _only_the_gate(page, kind)
    for path in PATHS:
        page.goto(first.url + path)
        _only_the_gate(page, kind)
    for server in (first, second):
        assert not server.notebook_dir.exists()  # nothing ran behind the gate


@pytest.mark.browser
def test_password_page_lets_in_and_goes_where_asked(
    gated: Callable[[str], Server], page: Any
) -> None:
    server = gated("password")
    page.goto(server.url + "/notebook/?file=welcome.ipynb")
    page.get_by_label("Team password").fill("wrong")
    page.get_by_role("button", name="Enter").click()
    page.get_by_text("Wrong password.").wait_for()
    page.get_by_label("Team password").fill(PASSWORD)
    page.get_by_role("button", name="Enter").click()
    page.get_by_role("button", name="Run all", exact=True).wait_for()  # the notebook it named
    assert "file=welcome.ipynb" in page.url
    page.goto(server.url + "/kernels")
    page.get_by_text("Build a kernel").first.wait_for()
    [cookie] = [c for c in page.context.cookies(server.url) if c["name"] == "neuralis_gate"]
    assert cookie["httpOnly"] and cookie["sameSite"] == "Strict"
    assert PASSWORD not in page.content()


@pytest.mark.browser
def test_password_guesses_are_slowed_and_logged(gated: Callable[[str], Server]) -> None:
    server = gated("password")
    login = f"{server.url}/_neuralis/login"
    codes = [requests.post(login, data={"password": f"guess{n}"}, timeout=10,
                           allow_redirects=False).status_code for n in range(6)]  # fmt: skip
    assert codes[:3] == [401, 401, 401] and 429 in codes[3:]
    late = requests.post(login, data={"password": PASSWORD}, timeout=10, allow_redirects=False)
    assert late.status_code == 429 and "Try again in" in late.text  # even the right one waits
    assert int(late.headers["retry-after"]) >= 1
    assert server.log is not None
    log = server.log.read_text()
    assert "wrong passwords from 127.0.0.1" in log and PASSWORD not in log


@pytest.mark.browser
@pytest.mark.parametrize("kind", ["password", "oidc"])
def test_nothing_is_accepted_before_the_gate(kind: str, gated: Callable[[str], Server]) -> None:
    server = gated(kind)
    if kind == "password":
        assert refused(server.url)  # no WebSocket, hence no session, without the password
        session = "0" * 32
    else:
        ws = connect(server.url)  # the gate's screen needs one
        session = new_session(ws)
        ws.close()
    blob = b"x" * (5 * 2**20)
    upload = requests.put(f"{server.url}/_stcore/upload_file/{session}/f1", timeout=30,
                          files={"file": ("a.ipynb", blob)})  # fmt: skip
    assert upload.status_code == 403
    for path in ("/_stcore/metrics", "/media/0123456789abcdef.png"):
        assert requests.get(server.url + path, timeout=10).status_code == 403, path


@pytest.mark.browser
@pytest.mark.parametrize("first", ["/notebook/?file=welcome.ipynb", "/kernels"])
def test_a_first_visit_to_a_page_address_gets_the_whole_frame(
    first: str, tmp_path: Path, page: Any
) -> None:
    require_browser()
    server = start_server(tmp_path / "nb")  # loopback, no gate: a fresh process
    try:
        page.set_default_timeout(90_000)
        page.goto(server.url + first)
        nav = page.locator("[data-testid='stSidebarNav']")
        nav.get_by_text("Notebook", exact=True).wait_for()  # the app's navigation...
        assert nav.get_by_text("app", exact=True).count() == 0  # ...not pages/ on its own
        page.locator("[data-testid='stSidebar']").get_by_text("Kernel", exact=True).wait_for()
        assert page.title() == "Neuralis" or "Neuralis" in page.title()  # set_page_config ran
        assert page.get_by_text("Page not found").count() == 0
        page.goto(server.url + "/notebook?file=welcome.ipynb")
        page.get_by_role("button", name="Run all", exact=True).wait_for()
        page.wait_for_timeout(2000)  # the live poller ticks (its errors would be in the log)
    finally:
        stop_server(server)
