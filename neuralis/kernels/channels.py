"""One WebSocket to a gateway kernel's channels, read by one thread.

The reader answers pings, decodes binary frames, sets ``TCP_QUICKACK`` before each receive and
reconnects with backoff and jitter under the same ``session_id``, so the gateway replays what
was sent while the link was down. :mod:`neuralis.kernels.gateway` does the REST side.
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

from neuralis import messages
from neuralis.errors import GatewayAuthError, GatewayError, KernelDied
from neuralis.messages import Channel, Msg

if TYPE_CHECKING:
    import websocket

TOKEN_HINT = (
    "set NEURALIS_GATEWAY_TOKEN to the gateway's KG_AUTH_TOKEN (it is sent only to the "
    "gateway NEURALIS_GATEWAY_URL names)."
)
"""What to do when a gateway refuses the token (REST or WebSocket)."""


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


class Channels:
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
                    f"The gateway refused the token on the kernel's WebSocket: {TOKEN_HINT}"
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
