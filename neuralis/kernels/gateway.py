"""Remote kernels through a Jupyter Kernel Gateway / Enterprise Gateway: spec ``gateway:URL``.

REST (requests) for the kernel's lifecycle, here; its channels go over one WebSocket
(:mod:`neuralis.kernels.channels`).

Which server to talk to comes from an endpoint provider (:mod:`neuralis.kernels.endpoints`):
a fixed URL for ``gateway:URL``, a container that is started on demand for ``docker:NAME``.
"""

from __future__ import annotations

import contextlib
import time
from typing import Any
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
from neuralis.kernels.channels import TOKEN_HINT, Channels
from neuralis.kernels.endpoints import EndpointProvider, FixedEndpoint

NUDGE_INTERVAL = 0.5
"""Seconds between ``kernel_info`` requests while a new WebSocket's iopub is not yet heard."""

RECONNECT_BUDGET = 30.0
"""Seconds the reader keeps trying to reconnect a cut WebSocket before giving up."""


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
        self._socket: Channels | None = None
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
                f"{TOKEN_HINT}"
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
        """Ask ``kernel_info`` until the reply *and* an iopub message for it have come back.

        A fresh WebSocket's iopub subscription can lag its shell channel (ZeroMQ's slow
        joiner); the gateway nudges it only when it thinks the kernel idle, which a kernel just
        restarted out of a busy cell is not. Without an iopub message, a run's output and its
        final "idle" would be lost and the cell would show "running" forever, so ask again.
        """
        chan = self._channels()
        deadline = time.monotonic() + timeout
        info: KernelInfo | None = None
        asked: set[str] = set()
        iopub_seen = False
        next_ask = 0.0
        while time.monotonic() < deadline:
            now = time.monotonic()
            if now >= next_ask:
                req = messages.request("kernel_info_request", {}, chan.session)
                asked.add(req["header"]["msg_id"])
                chan.send("shell", req)
                next_ask = now + NUDGE_INTERVAL
            msg = chan.recv(0.1)
            if msg is None or messages.parent_id(msg) not in asked:
                continue
            if msg.get("channel") == "iopub":
                if info is not None:
                    return info
                iopub_seen = True
                next_ask = deadline  # iopub is up: only the reply is missing now
            elif messages.msg_type(msg) == "kernel_info_reply":
                info = KernelInfo.from_reply(msg["content"])
                if iopub_seen:
                    return info
        if info is not None:
            raise KernelStartError(
                f"The kernel on {self.url} answered, but its output channel did not connect "
                f"within {timeout:g} s. Restart the kernel."
            )
        raise KernelStartError(f"The kernel on {self.url} did not answer within {timeout:g} s.")

    def execute(
        self,
        code: str,
        on_message: OnMessage,
        *,
        stdin: StdinHandler | None = None,
        timeout: float | None = None,
        stop_on_error: bool = True,
        silent: bool = False,
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
                silent=silent,
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
        self._socket = Channels(self._ws_url(), self._token, self._budget)
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

    def _channels(self) -> Channels:
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
