"""Remote kernels through a Jupyter Kernel Gateway / Enterprise Gateway: spec ``gateway:URL``.

REST (requests) for the kernel's lifecycle; one WebSocket (websocket-client) per kernel for
its channels, read by one thread that answers pings, decodes binary frames and reconnects
with the same ``session_id`` so the gateway replays what was sent while it was away.

Which server to talk to comes from an endpoint provider (:mod:`neuralis.kernels.endpoints`):
a fixed URL for ``gateway:URL``, a container that is started on demand for ``docker:NAME``.
"""

from __future__ import annotations

import contextlib
import json
import queue
import random
import socket
import struct
import threading
import time
from typing import TYPE_CHECKING, Any
from urllib.parse import urlsplit, urlunsplit

import requests

from neuralis import messages
from neuralis.errors import (
    GatewayAuthError,
    GatewayError,
    KernelDied,
    KernelStartError,
)
from neuralis.kernels.base import (
    ExecuteReply,
    KernelInfo,
    OnMessage,
    OwnedKernel,
    StdinHandler,
    run_execute,
)
from neuralis.kernels.endpoints import EndpointProvider, FixedEndpoint
from neuralis.messages import Channel, Msg

if TYPE_CHECKING:
    import websocket

_TOKEN_HINT = (
    "set NEURALIS_GATEWAY_TOKEN to the gateway's KG_AUTH_TOKEN (it is sent only to the "
    "gateway NEURALIS_GATEWAY_URL names)."
)

RECONNECT_BUDGET = 30.0
"""Seconds the reader keeps trying to reconnect a cut WebSocket before giving up."""


def _quickack(sock: socket.socket | None) -> None:
    """Ask Linux to ACK at once: stops Nagle + delayed ACK costing ~40 ms a message."""
    option = getattr(socket, "TCP_QUICKACK", None)
    if sock is not None and option is not None:
        with contextlib.suppress(OSError):
            sock.setsockopt(socket.IPPROTO_TCP, option, 1)


def decode_frame(data: bytes | str, binary: bool) -> Msg:
    """Decode one server frame: JSON text, or the legacy binary layout with buffers."""
    if not binary:
        msg: Msg = json.loads(data)
        return msg
    if isinstance(data, str):
        data = data.encode("utf-8")
    (count,) = struct.unpack_from("!I", data, 0)
    offsets = [*list(struct.unpack_from(f"!{count}I", data, 4)), len(data)]
    parts = [data[offsets[i] : offsets[i + 1]] for i in range(count)]
    msg = json.loads(parts[0].decode("utf-8"))
    msg["buffers"] = [memoryview(b) for b in parts[1:]]
    return msg


class GatewayKernel(OwnedKernel):
    """A kernel started on a gateway and owned by this object.

    ``server`` is the gateway's URL (with ``token``), or a provider that starts the server and
    says where it listens; the provider is asked again before every launch and restart, since a
    restarted container answers on another port.
    """

    def __init__(
        self,
        server: str | EndpointProvider,
        token: str | None = None,
        *,
        kernel_name: str = "python3",
        path: str | None = None,
        spec: str = "",
        reconnect_budget: float = RECONNECT_BUDGET,
    ) -> None:
        fixed = isinstance(server, str)
        self._provider = FixedEndpoint(server, token) if isinstance(server, str) else server
        self.spec = spec or f"gateway:{server}"
        self.url = server.rstrip("/") if isinstance(server, str) else ""
        self.kernel_id: str | None = None
        self._kernel_name = kernel_name
        self._path = path
        self._http = requests.Session()
        self._token: str | None = None
        if fixed:
            self._use_token(token)
        self._socket: _Channels | None = None
        self._info: KernelInfo | None = None
        self._budget = reconnect_budget
        self._died = False

    def _use_token(self, token: str | None) -> None:
        self._token = token
        if token:
            self._http.headers["Authorization"] = f"token {token}"
        else:
            self._http.headers.pop("Authorization", None)

    def _locate(self, timeout: float) -> None:
        """Ask the provider where the server answers now (starting it if needed)."""
        ep = self._provider.endpoint(timeout)
        self.url = ep.url.rstrip("/")
        self._use_token(ep.token)

    # REST ---------------------------------------------------------------------------------

    def _request(self, method: str, path: str, timeout: float = 30.0, **kw: Any) -> Any:
        url = f"{self.url}{path}"
        try:
            resp = self._http.request(method, url, timeout=timeout, **kw)
        except requests.RequestException as exc:
            raise GatewayError(
                f"Kernel Gateway not reachable at {self.url}: {exc.__class__.__name__}. "
                "Check the URL and that the gateway is running."
            ) from exc
        if resp.status_code in (401, 403) and "Resource Limit" not in resp.text:
            raise GatewayAuthError(
                f"The gateway at {self.url} refused the token (HTTP {resp.status_code}): "
                f"{_TOKEN_HINT}"
            )
        if resp.status_code >= 400:
            raise GatewayError(
                f"The gateway at {self.url} answered {method} {path} with HTTP "
                f"{resp.status_code}: {_reason(resp)}"
            )
        return resp.json() if resp.content else None

    def launch(self, timeout: float = 60.0) -> None:
        """Ask the gateway for a kernel without waiting for it to be ready."""
        if self.kernel_id:
            return
        self._locate(timeout)
        body: dict[str, Any] = {"name": self._kernel_name}
        if self._path:
            body["path"] = self._path
        model = self._request("POST", "/api/kernels", timeout=timeout, json=body)
        self.kernel_id = str(model["id"])

    def start(self, timeout: float = 60.0) -> None:
        """Create a kernel (unless launched), open its channels and wait for ``kernel_info``."""
        self.launch(timeout)
        try:
            self._reopen(timeout)
        except Exception:
            self.shutdown()
            raise

    def _ws_url(self) -> str:
        parts = urlsplit(self.url)
        scheme = "wss" if parts.scheme == "https" else "ws"
        path = f"{parts.path}/api/kernels/{self.kernel_id}/channels"
        return urlunsplit((scheme, parts.netloc, path, "", ""))

    def _kernel_info(self, timeout: float) -> KernelInfo:
        chan = self._channels()
        req = messages.request("kernel_info_request", {}, chan.session)
        deadline = time.monotonic() + timeout
        chan.send("shell", req)
        while time.monotonic() < deadline:
            msg = chan.recv(0.5)
            if msg is None:
                continue
            if (
                messages.msg_type(msg) == "kernel_info_reply"
                and messages.parent_id(msg) == req["header"]["msg_id"]
            ):
                return KernelInfo.from_reply(msg["content"])
        raise KernelStartError(f"The kernel on {self.url} did not answer within {timeout:g} s.")

    def execute(
        self,
        code: str,
        on_message: OnMessage,
        *,
        stdin: StdinHandler | None = None,
        timeout: float | None = None,
        stop_on_error: bool = True,
    ) -> ExecuteReply:
        """Run ``code``; see :class:`neuralis.kernels.base.Kernel`.

        A lost kernel is explained by the provider when it can (a container that exited or ran
        out of memory) instead of the gateway's bare "connection lost".
        """
        started = time.time()
        channels = self._channels()
        try:
            return run_execute(
                channels,
                code,
                on_message,
                stdin=stdin,
                timeout=timeout,
                stop_on_error=stop_on_error,
            )
        except KernelDied as exc:
            if channels.closed:  # restarted or shut down under the run: nothing died
                raise
            self._died = True
            explained = self._provider.explain(exc, started)
            if explained is None:
                raise
            raise explained from exc
        except GatewayError as exc:
            explained = self._provider.explain(exc, started)
            if explained is None:
                raise
            self._died = True
            raise explained from exc

    def interrupt(self) -> None:
        """POST the interrupt; does not wait for the cell to stop."""
        if self.kernel_id:
            self._request("POST", f"/api/kernels/{self.kernel_id}/interrupt", json={})

    def restart(self, timeout: float = 60.0) -> None:
        """POST the restart, then wait until the kernel answers again.

        A server that went away (a stopped container) is started again first, and the kernel
        that went with it replaced by a fresh one.
        """
        if not self.kernel_id:
            self.start(timeout)
            return
        if not self._provider.is_running():
            self._died = True
        self._locate(timeout)
        if self._died:
            self._replace(timeout)
            return
        try:
            self._request(
                "POST", f"/api/kernels/{self.kernel_id}/restart", timeout=timeout, json={}
            )
        except GatewayAuthError:
            raise
        except GatewayError:
            self._replace(timeout)
            return
        self._reopen(timeout)

    def _reopen(self, timeout: float) -> None:
        """Open fresh channels: after a restart the old socket may never hear the new process."""
        if self._socket is not None:
            self._socket.close()
        self._socket = _Channels(self._ws_url(), self._token, self._budget)
        self._socket.connect(timeout)
        self._info = self._kernel_info(timeout)

    def _replace(self, timeout: float) -> None:
        """Start a fresh kernel in place of a dead one (racing the gateway's restarter fails)."""
        self.shutdown(keep_session=True)
        self._died = False
        self.start(timeout)

    def shutdown(self, keep_session: bool = False) -> None:
        """Close the channels and delete the kernel; safe to call twice.

        Unless ``keep_session`` (a dead kernel being replaced), the provider then releases
        what it started for this kernel: a notebook's container goes with its kernel.
        """
        if self._socket is not None:
            self._socket.close()
            self._socket = None
        if self.kernel_id:
            kernel_id, self.kernel_id = self.kernel_id, None
            with contextlib.suppress(GatewayError):  # gone already: nothing left to release
                self._request("DELETE", f"/api/kernels/{kernel_id}", timeout=10)
        if not keep_session:
            self._http.close()
            self._provider.release()

    def is_alive(self) -> bool:
        """Ask the provider whether the server is there (cheap), then the gateway for the model."""
        if not self.kernel_id or not self._provider.is_running():
            return False
        try:
            model = self._request("GET", f"/api/kernels/{self.kernel_id}", timeout=5)
        except GatewayError:
            return False
        return bool(model) and model.get("execution_state") != "dead"

    def _channels(self) -> _Channels:
        if self._socket is None:
            raise KernelDied("The kernel is not running. Start or restart it first.")
        self._socket.alive_check = self.is_alive
        return self._socket


def _reason(resp: requests.Response) -> str:
    try:
        body = resp.json()
    except ValueError:
        return resp.text[:200] or resp.reason
    return str(body.get("message") or body.get("reason") or resp.reason)


class _Channels:
    """One WebSocket to ``/api/kernels/{id}/channels``, its reader thread and inbox."""

    def __init__(self, url: str, token: str | None, budget: float) -> None:
        self.session = messages.new_id()
        self.alive_check: Any = lambda: True
        self._url = f"{url}?session_id={self.session}"
        self._header = [f"Authorization: token {token}"] if token else []
        self._budget = budget
        self._inbox: queue.Queue[Msg | BaseException] = queue.Queue()
        self._ws: websocket.WebSocket | None = None
        self._connected = threading.Condition()
        self._closing = False
        self._reader: threading.Thread | None = None
        self.reconnects = 0

    def connect(self, timeout: float) -> None:
        """Open the socket (retrying while the kernel starts) and start the reader."""
        self._ws = self._open(timeout)
        self._reader = threading.Thread(target=self._read_loop, name="neuralis-ws", daemon=True)
        self._reader.start()

    def _open(self, timeout: float) -> websocket.WebSocket:
        import websocket

        try:
            ws = websocket.create_connection(
                self._url,
                header=self._header,
                timeout=timeout,
                enable_multithread=True,
                # Its pure-Python UTF-8 check walks every byte of every text frame; the JSON
                # decoder rejects invalid UTF-8 anyway.
                skip_utf8_validation=True,
            )
        except websocket.WebSocketBadStatusException as exc:
            if exc.status_code in (401, 403):
                raise GatewayAuthError(
                    f"The gateway refused the token on the kernel's WebSocket: {_TOKEN_HINT}"
                ) from exc
            raise GatewayError(f"The gateway refused the kernel's WebSocket: {exc}") from exc
        except (OSError, websocket.WebSocketException) as exc:
            raise GatewayError(f"Could not open the kernel's WebSocket: {exc}") from exc
        ws.settimeout(None)
        return ws

    def _read_loop(self) -> None:
        import websocket

        while not self._closing:
            ws = self._ws
            try:
                assert ws is not None
                _quickack(ws.sock)
                opcode, data = ws.recv_data()
            except (OSError, websocket.WebSocketException, AssertionError) as exc:
                if self._closing or not self._reconnect(exc):
                    return
                continue
            if opcode == websocket.ABNF.OPCODE_CLOSE:
                if self._closing or not self._reconnect(GatewayError("closed by the gateway")):
                    return
                continue
            if opcode in (websocket.ABNF.OPCODE_TEXT, websocket.ABNF.OPCODE_BINARY):
                try:
                    self._inbox.put(decode_frame(data, opcode == websocket.ABNF.OPCODE_BINARY))
                except (ValueError, struct.error):
                    continue  # a frame we cannot read carries nothing we could use

    def _reconnect(self, cause: BaseException) -> bool:
        """Reopen with the same session_id, backing off with jitter; False when given up."""
        deadline = time.monotonic() + self._budget
        attempt = 0
        with self._connected:
            self._ws = None
        while not self._closing and time.monotonic() < deadline:
            delay = min(0.05 * 2**attempt, 2.0) + random.uniform(0, 0.1)
            time.sleep(delay)
            attempt += 1
            try:
                ws = self._open(10.0)
            except GatewayAuthError as exc:
                cause = exc
                break
            except GatewayError as exc:
                cause = exc
                continue
            with self._connected:
                self._ws = ws
                self.reconnects += 1
                self._connected.notify_all()
            return True
        err = GatewayError(
            f"Lost the connection to the kernel's gateway and could not reconnect: {cause}"
        )
        self._inbox.put(err)
        with self._connected:
            self._connected.notify_all()
        return False

    def send(self, channel: Channel, msg: Msg) -> None:
        """Send one message as a text frame, waiting out a reconnection in progress."""
        import websocket

        payload = dict(msg, channel=channel)
        text = json.dumps(payload, default=str)
        deadline = time.monotonic() + self._budget
        while True:
            with self._connected:
                while self._ws is None and not self._closing and time.monotonic() < deadline:
                    self._connected.wait(0.5)
                ws = self._ws
            if ws is None:
                raise GatewayError("Not connected to the kernel's gateway.")
            try:
                ws.send(text)
                return
            except (OSError, websocket.WebSocketException):
                if time.monotonic() >= deadline:
                    raise GatewayError("Could not send to the kernel's gateway.") from None
                time.sleep(0.1)  # the reader notices the cut and reconnects

    def recv(self, timeout: float) -> Msg | None:
        """Return the next message, or None after ``timeout``; raise if the link is lost."""
        try:
            item = self._inbox.get(timeout=timeout) if timeout > 0 else self._inbox.get_nowait()
        except queue.Empty:
            return None
        if isinstance(item, BaseException):
            self._inbox.put(item)
            raise item
        return item

    def flush(self) -> None:
        """Drop every message received so far."""
        while True:
            try:
                self._inbox.get_nowait()
            except queue.Empty:
                return

    def alive(self) -> bool:
        """Ask the gateway (through REST) whether the kernel is alive."""
        return bool(self.alive_check())

    @property
    def closed(self) -> bool:
        """Tell whether :meth:`close` was called."""
        return self._closing

    def close(self) -> None:
        """Stop the reader and close the socket; a run still reading gets KernelDied."""
        self._closing = True
        self._inbox.put(KernelDied("The kernel was restarted or shut down while this cell ran."))
        with self._connected:
            ws = self._ws
            self._connected.notify_all()
        if ws is not None:
            with contextlib.suppress(Exception):
                ws.close(timeout=1)
        if self._reader is not None and self._reader is not threading.current_thread():
            self._reader.join(timeout=2)
