"""The guard in front of every address the server answers: host names, origins, the gate.

``app.py`` wraps Streamlit in ``st.App(..., middleware=[Middleware(Guard)])``, which
``streamlit run app.py`` serves; the guard itself answers the login page. For every HTTP
request and WebSocket handshake:

- the ``Host`` must be a name the app is served under (loopback names, the host of the OIDC
  ``redirect_uri``, ``NEURALIS_PUBLIC_HOSTS`` / ``[neuralis] public_hosts``): a page on another
  domain that resolves to 127.0.0.1 (DNS rebinding) is refused;
- an ``Origin``, when sent, must be this same origin or a public host: no other site, and no
  other local port, can open the app's WebSocket or post to it;
- with ``[neuralis] password`` every address but the login page and the health check asks
  for a signed, HttpOnly cookie that only the login page hands out (guesses are slowed);
- with ``[auth]`` (OIDC) the app's own screen asks to log in; uploads, ``/media/`` and
  ``/_stcore/metrics`` answer only a browser whose login cookie a script run accepted.
"""

from __future__ import annotations

import hashlib
import hmac
import html
import logging
import os
import secrets
import threading
import time
from collections.abc import Awaitable, Callable, MutableMapping
from typing import Any
from urllib.parse import parse_qs, quote, urlsplit

import streamlit as st
from starlette.websockets import WebSocketDisconnected

log = logging.getLogger(__name__)

Scope = MutableMapping[str, Any]
Message = MutableMapping[str, Any]
Receive = Callable[[], Awaitable[Message]]
Send = Callable[[Message], Awaitable[None]]
ASGIApp = Callable[[Scope, Receive, Send], Awaitable[None]]

LOGIN = "/_neuralis/login"
COOKIE = "neuralis_gate"
COOKIE_AGE = 12 * 3600
LOOPBACK = frozenset({"localhost", "127.0.0.1", "::1"})
OPEN = ("/_stcore/health", "/_stcore/script-health-check", "/favicon.png")
MEMBERS_ONLY = ("/_stcore/upload_file", "/media/", "/_stcore/metrics")
OIDC_COOKIE = "_streamlit_user"
CACHED = 1.0  # seconds the guard keeps what it read of secrets.toml


_read: dict[str, tuple[float, Any]] = {}  # section -> (when read, value)


def _secret(section: str, max_age: float = 0.0) -> Any:
    # The guard keeps what it read for a second (max_age): without a secrets.toml Streamlit
    # looks for one on every access, and the guard asks on every request. Script runs read
    # afresh (AppTest sets secrets per test).
    when, value = _read.get(section, (-1.0, None))
    if time.monotonic() - when < max_age:
        return value
    try:
        value = st.secrets.get(section)
    except Exception:  # no secrets.toml, or one that does not parse: nothing from it
        value = None
    _read[section] = (time.monotonic(), value)
    return value


def password(max_age: float = 0.0) -> str | None:
    """Return the shared password of ``[neuralis]``, if one is set."""
    section = _secret("neuralis", max_age)
    value = section.get("password") if hasattr(section, "get") else None
    return str(value) if value else None


def oidc(max_age: float = 0.0) -> bool:
    """Return whether ``[auth]`` turns the OIDC gate on."""
    return bool(_secret("auth", max_age))


def public_hosts(max_age: float = 0.0) -> set[str]:
    """Return the host names the app is served under besides loopback."""
    names = set(filter(None, os.environ.get("NEURALIS_PUBLIC_HOSTS", "").split(",")))
    section = _secret("neuralis", max_age)
    listed = section.get("public_hosts") if hasattr(section, "get") else None
    names.update([listed] if isinstance(listed, str) else list(listed or []))
    auth = _secret("auth", max_age)
    redirect = auth.get("redirect_uri") if hasattr(auth, "get") else None
    if redirect:
        names.add(urlsplit(str(redirect)).hostname or "")
    return {n.strip().lower().rstrip(".") for n in names if n.strip()}


def _hostname(host: str) -> str | None:
    try:
        parts = urlsplit(f"//{host}")
        _ = parts.port  # a bad port is a bad host
    except ValueError:
        return None
    if parts.username is not None or parts.path or not parts.hostname:
        return None
    return parts.hostname.lower().rstrip(".")


# --- the password cookie ------------------------------------------------------------------


def _key(secret: str) -> bytes:
    # Derived from the password: cookies survive a restart, and a new password ends them.
    return hashlib.sha256(b"neuralis gate\0" + secret.encode("utf-8")).digest()


def make_cookie(secret: str, now: float | None = None) -> str:
    """Return a signed cookie value that admits its holder for COOKIE_AGE seconds."""
    body = f"{int((time.time() if now is None else now) + COOKIE_AGE)}.{secrets.token_hex(8)}"
    mac = hmac.new(_key(secret), body.encode(), hashlib.sha256).hexdigest()
    return f"{body}.{mac}"


def valid_cookie(value: str | None, secret: str) -> bool:
    """Return whether a cookie value was signed for this password and has not expired."""
    if not value or value.count(".") != 2:
        return False
    body, _, mac = value.rpartition(".")
    good = hmac.new(_key(secret), body.encode(), hashlib.sha256).hexdigest()
    expires = body.partition(".")[0]
    return hmac.compare_digest(mac, good) and expires.isdigit() and int(expires) > time.time()


# --- browsers the OIDC gate let in -----------------------------------------------------------

_members_lock = threading.Lock()
_members: dict[str, float] = {}  # digest of the login cookies -> when last seen


def _fingerprint(cookies: dict[str, str]) -> str | None:
    values = [f"{k}={v}" for k, v in sorted(cookies.items()) if k.startswith(OIDC_COOKIE)]
    return hashlib.sha256("\n".join(values).encode()).hexdigest() if values else None


def admit(cookies: dict[str, str]) -> None:
    """Remember the login cookies of a browser a script run found logged in."""
    if (digest := _fingerprint(cookies)) is not None:
        with _members_lock:
            _members[digest] = time.monotonic()


def _member(cookies: dict[str, str]) -> bool:
    digest = _fingerprint(cookies)
    with _members_lock:
        seen = _members.get(digest or "")
    return seen is not None and time.monotonic() - seen < COOKIE_AGE


# --- slowing guesses -------------------------------------------------------------------------


class Throttle:
    """Refuse password attempts for a while after repeated failures, per key."""

    def __init__(self, free: int = 3, cap: float = 300.0) -> None:
        self.free, self.cap = free, cap
        self._lock = threading.Lock()
        self._failures: dict[str, tuple[int, float]] = {}  # key -> (count, last failure)

    def wait(self, key: str) -> float:
        """Return how many seconds ``key`` must wait before its next attempt."""
        with self._lock:
            count, last = self._failures.get(key, (0, 0.0))
        if count < self.free:
            return 0.0
        return max(0.0, last + min(self.cap, 2.0 ** (count - self.free)) - time.monotonic())

    def failed(self, key: str) -> int:
        """Count a failure; return the count."""
        with self._lock:
            count = self._failures.get(key, (0, 0.0))[0] + 1
            self._failures[key] = (count, time.monotonic())
            return count

    def passed(self, key: str) -> None:
        """Forget the failures of ``key``."""
        with self._lock:
            self._failures.pop(key, None)


BY_ADDRESS = Throttle()
EVERYONE = Throttle(free=20, cap=30.0)  # many addresses guessing together


# --- the middleware ------------------------------------------------------------------------


def _headers(scope: Scope) -> dict[str, str]:
    return {k.decode("latin-1").lower(): v.decode("latin-1") for k, v in scope["headers"]}


def _cookies(headers: dict[str, str]) -> dict[str, str]:
    found = {}
    for part in headers.get("cookie", "").split(";"):
        name, sep, value = part.strip().partition("=")
        if sep:
            found[name] = value
    return found


class Guard:
    """ASGI middleware: refuse foreign hosts and origins, and visitors the gate did not admit."""

    def __init__(self, app: ASGIApp) -> None:
        self.app = app

    async def __call__(self, scope: Scope, receive: Receive, send: Send) -> None:
        if scope["type"] not in ("http", "websocket"):
            await self.app(scope, receive, send)
            return
        headers, path = _headers(scope), scope.get("path", "")
        refusal = self._refusal(scope, headers, path)
        if refusal is None and path == LOGIN and scope["type"] == "http":
            await login(scope, receive, send)
        elif refusal is None and scope["type"] == "websocket":
            try:
                await self.app(scope, receive, send)
            except WebSocketDisconnected:  # the browser left while Streamlit still sent to it
                log.debug("a client closed its WebSocket while the app was sending to it")
        elif refusal is None:
            await self.app(scope, receive, send)
        elif scope["type"] == "websocket":
            await send({"type": "websocket.close", "code": 1008})  # the handshake gets 403
        else:
            await _respond(send, *refusal)

    def _refusal(
        self, scope: Scope, headers: dict[str, str], path: str
    ) -> tuple[int, str, list[tuple[str, str]]] | None:
        host = headers.get("host", "")
        name = _hostname(host)
        public = public_hosts(CACHED)
        if name is None or (name not in LOOPBACK and name not in public):
            log.warning("refused a request for host %r: not a name the app is served under "
                        "(NEURALIS_PUBLIC_HOSTS adds one)", host[:100])  # fmt: skip
            return 403, "Unknown host name. Set NEURALIS_PUBLIC_HOSTS to serve under it.", []
        if not _same_origin(headers.get("origin"), host, public):
            log.warning("refused a request from origin %r", headers.get("origin", "")[:100])
            return 403, "Cross-origin requests are refused.", []
        if path.startswith(OPEN) or path == LOGIN:
            return None
        cookies = _cookies(headers)
        secret = password(CACHED)
        if secret is not None:
            if valid_cookie(cookies.get(COOKIE), secret):
                return None
            if scope["type"] == "http" and scope.get("method") == "GET" and not _asset(path):
                target = path + (
                    f"?{scope['query_string'].decode()}" if scope["query_string"] else ""
                )
                return 303, "", [("location", f"{LOGIN}?next={quote(target, safe='')}")]
            return 403, "Enter the team password first.", []
        if oidc(CACHED) and path.startswith(MEMBERS_ONLY) and not _member(cookies):
            return 403, "Log in first.", []
        return None


def _same_origin(origin: str | None, host: str, public: set[str]) -> bool:
    if origin is None:  # not a browser, or a same-origin GET
        return True
    netloc = urlsplit(origin).netloc.lower()
    return netloc == host.lower() or (_hostname(netloc) or "") in public


def _asset(path: str) -> bool:
    return path.startswith(("/_stcore/", "/static/", "/media/", "/component/"))


async def _respond(
    send: Send, status: int, text: str, headers: list[tuple[str, str]], kind: str = "text/plain"
) -> None:
    body = text.encode("utf-8")
    raw = [(b"content-type", f"{kind}; charset=utf-8".encode()),
           (b"content-length", str(len(body)).encode()),
           (b"cache-control", b"no-store")]  # fmt: skip
    raw += [(k.encode("latin-1"), v.encode("latin-1")) for k, v in headers]
    await send({"type": "http.response.start", "status": status, "headers": raw})
    await send({"type": "http.response.body", "body": body})


# --- the login page ------------------------------------------------------------------------

PAGE = """<!doctype html><html lang="en"><head><meta charset="utf-8">
<meta name="viewport" content="width=device-width, initial-scale=1"><title>Neuralis</title>
<style>body{{font-family:sans-serif;max-width:24rem;margin:4rem auto;padding:0 1rem}}
input,button{{font-size:1rem;padding:.4rem;margin:.3rem 0}}.error{{color:#b00020}}</style>
</head><body><h1>Neuralis</h1>{message}
<form method="post" action="{action}"><label for="password">Team password</label><br>
<input id="password" name="password" type="password" autocomplete="current-password"
autofocus required><br><button type="submit">Enter</button></form></body></html>"""


def _safe_next(value: str) -> str:
    # Only a path of this app: never "//host" or "/\\host", which browsers read as a host.
    if value.startswith("/") and not value.startswith(("//", "/\\")) and "\n" not in value:
        return value
    return "/"


def _page(action: str, message: str = "") -> str:
    shown = f'<p class="error" role="alert">{html.escape(message)}</p>' if message else ""
    return PAGE.format(message=shown, action=html.escape(action, quote=True))


async def _body(receive: Receive, limit: int = 8192) -> bytes | None:
    data = b""
    while True:
        message = await receive()
        data += bytes(message.get("body", b""))
        if len(data) > limit:
            return None
        if not message.get("more_body"):
            return data


async def login(scope: Scope, receive: Receive, send: Send) -> None:
    """Serve the password form (GET) and check a typed password (POST)."""
    query = parse_qs(scope.get("query_string", b"").decode("latin-1"))
    target = _safe_next(query.get("next", ["/"])[0])
    action = f"{LOGIN}?next={quote(target, safe='')}"
    secret = password()
    if secret is None:
        await _respond(send, 303, "", [("location", target)])
        return
    if scope.get("method") != "POST":
        await _respond(send, 200, _page(action), [], "text/html")
        return
    address = (scope.get("client") or ("unknown", 0))[0]
    wait = max(BY_ADDRESS.wait(address), EVERYONE.wait("*"))
    if wait > 0:
        log.warning("password gate: attempt from %s refused, %.0f s left after repeated wrong "
                    "passwords", address, wait)  # fmt: skip
        text = f"Too many wrong passwords. Try again in {int(wait) + 1} s."
        await _respond(send, 429, _page(action, text), [("retry-after", str(int(wait) + 1))],
                       "text/html")  # fmt: skip
        return
    body = await _body(receive)
    typed = parse_qs((body or b"").decode("utf-8", "replace")).get("password", [""])[0]
    if hmac.compare_digest(typed.encode("utf-8"), secret.encode("utf-8")):
        BY_ADDRESS.passed(address)
        cookie = (f"{COOKIE}={make_cookie(secret)}; Path=/; HttpOnly; SameSite=Strict; "
                  f"Max-Age={COOKIE_AGE}")  # fmt: skip
        await _respond(send, 303, "", [("location", target), ("set-cookie", cookie)])
        return
    count = BY_ADDRESS.failed(address)
    EVERYONE.failed("*")
    if count >= BY_ADDRESS.free:
        log.warning("password gate: %d wrong passwords from %s; the next attempt waits %.0f s",
                    count, address, BY_ADDRESS.wait(address))  # fmt: skip
    await _respond(send, 401, _page(action, "Wrong password."), [], "text/html")
