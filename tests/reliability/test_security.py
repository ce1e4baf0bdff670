"""Security: kernel containers locked down, the app on loopback or behind a gate, no token
in the page or the logs, and HTML outputs that cannot run script in the app's page."""

from __future__ import annotations

import json
import secrets
import subprocess
import sys
import time
from collections.abc import Callable, Iterator
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import pytest
import requests
from streamlit.testing.v1 import AppTest

from neuralis.config import Settings
from neuralis.docker import containers
from tests.browser.conftest import (
    ROOT,
    Server,
    free_port,
    require_browser,
    start_server,
    stop_server,
)
from tests.docker.conftest import Built
from tests.reliability.conftest import record
from tests.ui.conftest import make_notebook

PASSWORD = "correct horse battery staple"
GATEWAY_TOKEN = "gw-token-never-shown-4f1d2c"
OIDC_AUTH = {
    "redirect_uri": "http://localhost:8501/oauth2callback",
    "cookie_secret": "s" * 32,
    "client_id": "neuralis",
    "client_secret": "secret",
    "server_metadata_url": "https://idp.example/.well-known/openid-configuration",
}


# --- kernel containers ----------------------------------------------------------------------


@pytest.fixture
def container(built_kernel: Callable[..., Built], settings: Settings) -> Iterator[str]:
    name = built_kernel("3.11").name
    containers.remove(name, image=False)
    containers.ensure_running(name, settings)
    yield name
    containers.remove(name, image=False)


@pytest.mark.docker
def test_kernel_container_is_locked_down(container: str, settings: Settings) -> None:
    c = containers.find(container)
    assert c is not None
    host, config = c.attrs["HostConfig"], c.attrs["Config"]
    assert config["User"] not in ("", "0", "root")
    assert all(p["USER"] != "root" for p in _processes(c))  # the gateway and the kernel
    assert host["Privileged"] is False
    assert host["CapDrop"] == ["ALL"] and "no-new-privileges" in host["SecurityOpt"]
    mounts = [m["Source"] for m in c.attrs["Mounts"]]
    assert mounts == [str(settings.notebook_dir.resolve())]
    assert not any("docker.sock" in m for m in mounts + (host.get("Binds") or []))
    bindings = [b for ports in (c.attrs["NetworkSettings"]["Ports"] or {}).values()
                for b in ports or []]  # fmt: skip
    assert bindings and {b["HostIp"] for b in bindings} == {"127.0.0.1"}
    assert host["Memory"] == 2 * 2**30 and host["NanoCpus"] == int(settings.kernel_cpus * 1e9)
    assert host["PidsLimit"] == settings.kernel_pids and host["Init"] is True
    record("security", "container HostConfig", "non-root, unprivileged, caps dropped, no socket, "
           "127.0.0.1 only, memory/CPU/pids limits")  # fmt: skip


def _processes(c: Any) -> list[dict[str, str]]:
    top = c.top(ps_args="-o pid,user,args")
    return [dict(zip(top["Titles"], row, strict=True)) for row in top["Processes"]]


@pytest.mark.docker
def test_gateway_refuses_requests_without_the_container_token(
    container: str, settings: Settings
) -> None:
    ep = containers.ensure_running(container, settings)
    assert len(ep.token) >= 24
    url = f"{ep.url}/api/kernels"
    assert requests.get(url, timeout=5).status_code in (401, 403)
    wrong = {"Authorization": "token " + "x" * len(ep.token)}
    assert requests.get(url, headers=wrong, timeout=5).status_code in (401, 403)
    assert requests.post(url, json={"name": "python3"}, timeout=5).status_code in (401, 403)
    ok = {"Authorization": f"token {ep.token}"}
    assert requests.get(url, headers=ok, timeout=5).status_code == 200
    assert not any(ep.token in line for line in containers.logs(container, tail=500))
    containers.remove(container, image=False)  # a new container draws a new token
    again = containers.ensure_running(container, settings)
    assert again.token != ep.token
    record("security", "gateway token per container", "no/wrong token refused (401/403); "
           "new container, new token; token not in its log")  # fmt: skip


# --- the app: gate, loopback -----------------------------------------------------------------


def test_shared_password_gate(app: Callable[..., AppTest], notebook_dir: Path) -> None:
    at = AppTest.from_file(str(ROOT / "app.py"), default_timeout=30)
    at.secrets["neuralis"] = {"password": PASSWORD}
    at.query_params["file"] = "welcome.ipynb"
    at.run()  # a script run without the guard's cookie (AppTest sends no request)
    assert not at.exception
    assert not [b for b in at.button if b.key == "run-all"] and not at.expander
    assert [b.label for b in at.get("link_button")] == ["Enter the team password"]
    assert not notebook_dir.exists()  # nothing ran behind the gate, not even the first start
    assert PASSWORD not in _everything(at)
    record("security", "shared-password gate, script side (AppTest)", "no cookie, no app")


def test_oidc_gate_asks_to_log_in(app: Callable[..., AppTest], notebook_dir: Path) -> None:
    at = AppTest.from_file(str(ROOT / "app.py"), default_timeout=30)
    at.secrets["auth"] = dict(OIDC_AUTH)
    at.run()
    assert not at.exception
    assert [b.label for b in at.button] == ["Log in"] and not at.expander
    assert not notebook_dir.exists()
    record("security", "OIDC gate (st.login, [auth] in secrets.toml)", "nothing shown before login")


def test_oidc_user_logs_out_from_the_sidebar(
    app: Callable[..., AppTest], notebook_dir: Path
) -> None:
    at = AppTest.from_file(str(ROOT / "app.py"), default_timeout=30)
    at.secrets["auth"] = dict(OIDC_AUTH)
    at.user = {"is_logged_in": True, "email": "ada@example.com", "sub": "ada"}
    at.run()
    assert not at.exception and at.expander  # let in: the notebook browser
    logout = [b for b in at.sidebar.button if b.key == "logout"]
    assert [b.label for b in logout] == ["Log out"]
    assert any("ada@example.com" in c.value for c in at.sidebar.caption)
    logout[0].click().run()
    assert not at.exception and at.user == {"is_logged_in": False}  # st.logout cleared it
    # AppTest reruns only the page after the first run, not app.py: start again, as the
    # browser does after the logout redirect (test_oidc_login_and_logout_in_the_browser).
    again = AppTest.from_file(str(ROOT / "app.py"), default_timeout=30)
    again.secrets["auth"] = dict(OIDC_AUTH)
    again.user = at.user
    again.run()
    assert [b.label for b in again.button] == ["Log in"] and not again.expander
    record("security", "Log out (sidebar, OIDC, AppTest)", "user cleared, back to Log in")


def test_no_log_out_without_the_oidc_gate(app: Callable[..., AppTest]) -> None:
    at = app()  # loopback, no gate: nobody to log out
    assert not at.exception and at.expander
    assert not [b for b in at.button if b.key == "logout"]


def _everything(at: AppTest) -> str:
    kinds = ("markdown", "caption", "code", "error", "warning", "info", "text_input", "html")
    return "\n".join(str(getattr(e, "value", "")) for k in kinds for e in at.get(k))


def listening(port: int) -> set[str]:
    """Return the local addresses listening on ``port`` (IPv4 and IPv6, from /proc)."""
    found = set()
    for table in ("/proc/net/tcp", "/proc/net/tcp6"):
        for line in Path(table).read_text().splitlines()[1:]:
            local, state = line.split()[1], line.split()[3]
            addr, _, hexport = local.partition(":")
            if state == "0A" and int(hexport, 16) == port:
                found.add(addr)
    return found


@pytest.fixture(scope="module")
def gated_server(tmp_path_factory: pytest.TempPathFactory) -> Iterator[Server]:
    """The app as `streamlit run app.py` starts it (no address given), with a password."""
    require_browser()
    base = tmp_path_factory.mktemp("gated")
    (base / "secrets.toml").write_text(f'[neuralis]\npassword = "{PASSWORD}"\n')
    env = {"NEURALIS_GATEWAY_TOKEN": GATEWAY_TOKEN, "NEURALIS_GATEWAY_URL": "http://127.0.0.1:9"}
    server = start_server(base / "notebooks", env, address=None,
                          args=["--secrets.files", str(base / "secrets.toml")])  # fmt: skip
    yield server
    stop_server(server)


@pytest.mark.browser
def test_app_listens_on_loopback_by_default(gated_server: Server) -> None:
    port = int(gated_server.url.rsplit(":", 1)[1])
    addresses = listening(port)
    assert addresses == {"0100007F"}, addresses  # 127.0.0.1, nothing on 0.0.0.0 or ::
    record("security", "app address by default", "127.0.0.1 only (.streamlit/config.toml)")


XSS = [
    "from IPython.display import HTML, display\n"
    "display(HTML('<b>bold survives</b>'))\n"
    'display(HTML("<img src=x onerror=\\"window.top.__pwned=\'img\'\\">"))\n'
    "display(HTML(\"<script>window.top.__pwned='script';"
    "try { window.parent.document.title='pwned' } catch (e) {}</script><i>scripted</i>\"))",
    "print('done')",
]


@pytest.mark.browser
def test_gate_tokens_and_script_in_outputs(gated_server: Server, browser: Any) -> None:
    make_notebook(gated_server.notebook_dir, "xss.ipynb", XSS)
    context = browser.new_context(viewport={"width": 1400, "height": 1000})
    page = context.new_page()
    page.set_default_timeout(30_000)
    try:
        page.goto(f"{gated_server.url}/?file=xss.ipynb")
        box = page.get_by_label("Team password")
        box.wait_for()
        assert page.get_by_role("button", name="Run all", exact=True).count() == 0
        box.fill(PASSWORD)
        page.get_by_role("button", name="Enter").click()
        page.get_by_role("button", name="Run all", exact=True).click()
        page.get_by_text("done", exact=True).first.wait_for()
        page.get_by_text("bold survives").first.wait_for()
        page.wait_for_timeout(1500)  # time for any script to have run
        assert page.evaluate("() => window.__pwned") is None
        assert page.title() != "pwned"
        frames = page.locator("iframe[src^='data:text/html']")
        assert frames.count() == 2  # scripted HTML runs only in opaque-origin frames
        page.frame_locator("iframe[src^='data:text/html']").nth(1).get_by_text(
            "scripted"
        ).wait_for()
        html = page.content()
        assert PASSWORD not in html and GATEWAY_TOKEN not in html
    finally:
        context.close()
    assert gated_server.log is not None
    log = gated_server.log.read_text()
    assert PASSWORD not in log and GATEWAY_TOKEN not in log
    record("security", "<script> and onerror in an output (Chromium)", "did not run in the page")
    record("security", "password and gateway token", "absent from the page and the app's log")


# --- the OIDC gate end to end: Chromium, the app, and a real OIDC provider ----------------


@dataclass
class Oidc:
    """The app behind the OIDC gate, and what its [auth] section holds."""

    app_url: str  # on the host of redirect_uri, where Streamlit sets its cookies
    provider_url: str
    server: Server
    client_id: str
    client_secret: str
    cookie_secret: str


@pytest.fixture(scope="module")
def oidc_provider(tmp_path_factory: pytest.TempPathFactory) -> Iterator[str]:
    """Run oidc-provider-mock (discovery, authorize, token, JWKS, end_session) on a free port.

    It requires client registration, so the client secret the app sends is really checked.
    """
    require_browser()
    base = tmp_path_factory.mktemp("oidc-provider")
    port = free_port()
    cmd = [sys.executable, "-m", "oidc_provider_mock", "--host", "127.0.0.1",
           "--port", str(port), "--require-registration"]  # fmt: skip
    with open(base / "provider.log", "wb") as log:
        proc = subprocess.Popen(cmd, stdout=log, stderr=subprocess.STDOUT, start_new_session=True)
    url = f"http://127.0.0.1:{port}"
    try:
        deadline = time.monotonic() + 60
        while True:
            assert proc.poll() is None, (base / "provider.log").read_text()
            try:
                if requests.get(f"{url}/.well-known/openid-configuration", timeout=1).ok:
                    break
            except requests.RequestException:
                pass
            assert time.monotonic() < deadline, "the OIDC provider did not start within 60 s"
            time.sleep(0.2)
        yield url
    finally:
        proc.terminate()
        try:
            proc.wait(timeout=10)
        except subprocess.TimeoutExpired:
            proc.kill()
            proc.wait(timeout=5)


@pytest.fixture(scope="module")
def oidc_app(oidc_provider: str, tmp_path_factory: pytest.TempPathFactory) -> Iterator[Oidc]:
    """The app with an [auth] section for a client registered with the provider."""
    base = tmp_path_factory.mktemp("oidc-app")
    port = free_port()
    redirect_uri = f"http://localhost:{port}/oauth2callback"
    client = requests.post(f"{oidc_provider}/oauth2/clients", timeout=10,
                           json={"redirect_uris": [redirect_uri]})  # fmt: skip
    assert client.status_code == 201, client.text
    client_id, client_secret = client.json()["client_id"], client.json()["client_secret"]
    cookie_secret = secrets.token_urlsafe(32)
    (base / "secrets.toml").write_text(
        "[auth]\n"
        f'redirect_uri = "{redirect_uri}"\n'
        f'cookie_secret = "{cookie_secret}"\n'
        f'client_id = "{client_id}"\n'
        f'client_secret = "{client_secret}"\n'
        f'server_metadata_url = "{oidc_provider}/.well-known/openid-configuration"\n'
    )
    server = start_server(base / "notebooks", port=port,
                          args=["--secrets.files", str(base / "secrets.toml")])  # fmt: skip
    try:
        yield Oidc(f"http://localhost:{port}", oidc_provider, server, client_id, client_secret,
                   cookie_secret)  # fmt: skip
    finally:
        stop_server(server)


def _tokens(cookies: list[dict[str, Any]], cookie_secret: str) -> dict[str, str]:
    """Return the provider's tokens from Streamlit's signed (not encrypted) tokens cookie."""
    from itsdangerous import URLSafeTimedSerializer

    [value] = [c["value"] for c in cookies if c["name"] == "_streamlit_user_tokens"]
    tokens = json.loads(
        URLSafeTimedSerializer(cookie_secret, salt="_streamlit_user_tokens").loads(value)
    )
    assert isinstance(tokens, dict)
    return tokens


@pytest.mark.browser
def test_oidc_login_and_logout_in_the_browser(oidc_app: Oidc, page: Any) -> None:
    run_all = page.get_by_role("button", name="Run all", exact=True)
    page.goto(oidc_app.app_url)
    page.get_by_role("button", name="Log in").wait_for()
    assert run_all.count() == 0 and page.get_by_text("welcome.ipynb").count() == 0
    assert not oidc_app.server.notebook_dir.exists()  # nothing ran behind the gate

    page.get_by_role("button", name="Log in").click()  # to the provider's authorize page
    page.wait_for_url(f"{oidc_app.provider_url}/oauth2/authorize?**")
    page.locator("input[name=sub]").fill("ada@example.com")
    page.get_by_role("button", name="Authorize").click()  # code, back to /oauth2callback

    page.wait_for_url(f"{oidc_app.app_url}/**")
    page.get_by_role("button", name="Log out").wait_for()
    page.get_by_text("Logged in as ada@example.com").wait_for()
    page.get_by_text("welcome.ipynb").first.wait_for()  # the Notebooks panel
    cookies = page.context.cookies(oidc_app.app_url)
    assert {
        c["name"]: c["httpOnly"] for c in cookies if c["name"].startswith("_streamlit_user")
    } == {"_streamlit_user": True, "_streamlit_user_tokens": True}
    tokens = _tokens(cookies, oidc_app.cookie_secret)
    assert set(tokens) == {"id_token", "access_token"}
    secret_values = [*tokens.values(), oidc_app.client_secret, oidc_app.cookie_secret]
    html = page.content()
    assert not [s for s in secret_values if s in html]

    page.get_by_role("button", name="Log out").click()  # the provider's end_session, then back
    page.wait_for_url(f"{oidc_app.provider_url}/oauth2/end_session?**")
    page.get_by_role("button", name="End session").click()
    page.wait_for_url(f"{oidc_app.app_url}/**")
    page.get_by_role("button", name="Log in").wait_for()
    assert run_all.count() == 0 and page.get_by_role("button", name="Log out").count() == 0
    assert not [c for c in page.context.cookies(oidc_app.app_url)
                if c["name"].startswith("_streamlit_user")]  # fmt: skip
    page.goto(oidc_app.app_url)  # a new session: still at the gate
    page.get_by_role("button", name="Log in").wait_for()
    assert page.get_by_text("welcome.ipynb").count() == 0

    assert oidc_app.server.log is not None
    log = oidc_app.server.log.read_text()
    assert not [s for s in secret_values if s in log]
    record("security", "OIDC login in Chromium (oidc-provider-mock)", "only Log in before; "
           "authorized, the notebooks; Log out ends the session, the gate is back")  # fmt: skip
    record("security", "OIDC tokens, client secret, cookie secret", "absent from the page and "
           "the app's log; the auth cookies are HttpOnly")  # fmt: skip


# --- the guard's pieces (neuralis/ui/guard.py), without a server ----------------------------


def test_gate_cookie_is_signed_for_its_password_and_expires() -> None:
    from neuralis.ui import guard

    cookie = guard.make_cookie(PASSWORD)
    assert guard.valid_cookie(cookie, PASSWORD)
    assert not guard.valid_cookie(cookie, PASSWORD + "!")  # a new password ends every cookie
    expires, nonce, mac = cookie.split(".")
    assert not guard.valid_cookie(f"{int(expires) + 10**6}.{nonce}.{mac}", PASSWORD)  # tampered
    assert not guard.valid_cookie(guard.make_cookie(PASSWORD, now=0), PASSWORD)  # expired
    assert not any(guard.valid_cookie(v, PASSWORD) for v in ("", "x", "1.2", "a.b.c.d", None))
    assert PASSWORD not in cookie


def test_login_goes_back_only_to_an_address_of_the_app() -> None:
    from neuralis.ui.guard import _safe_next

    assert _safe_next("/notebook?file=a.ipynb") == "/notebook?file=a.ipynb"
    for bad in ("//evil.example/", "/\\evil.example", "https://evil.example", "notebook", ""):
        assert _safe_next(bad) == "/"


def test_throttle_waits_longer_after_each_failure_and_forgets_on_success() -> None:
    from neuralis.ui.guard import Throttle

    throttle = Throttle(free=2)
    assert throttle.wait("a") == 0
    throttle.failed("a")
    throttle.failed("a")
    first = throttle.wait("a")
    throttle.failed("a")
    assert 0 < first < throttle.wait("a") and throttle.wait("b") == 0
    throttle.passed("a")
    assert throttle.wait("a") == 0
