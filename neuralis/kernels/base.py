"""The one connection interface every kernel implements, and the execute loop they share."""

from __future__ import annotations

import time
from collections.abc import Callable
from dataclasses import dataclass, field
from typing import Any, Literal, Protocol, Self

from neuralis import messages
from neuralis.errors import KernelDied, KernelTimeout
from neuralis.messages import Channel, Msg

OnMessage = Callable[[Msg], None]
"""Receives each iopub message whose parent is the running request."""

StdinHandler = Callable[[str, bool], str]
"""Answers an ``input()`` in the kernel: (prompt, password) -> text."""

ReplyStatus = Literal["ok", "error", "aborted"]

LIVENESS_INTERVAL = 1.0
"""Seconds of silence after which a run asks whether the kernel is still alive."""


@dataclass(frozen=True)
class KernelInfo:
    """What a kernel says about itself in ``kernel_info_reply``."""

    language: str
    language_version: str
    implementation: str
    protocol_version: str

    @classmethod
    def from_reply(cls, content: dict[str, Any]) -> KernelInfo:
        """Read the interesting fields of a ``kernel_info_reply``."""
        lang = content.get("language_info") or {}
        return cls(
            language=str(lang.get("name", "")),
            language_version=str(lang.get("version", "")),
            implementation=str(content.get("implementation", "")),
            protocol_version=str(content.get("protocol_version", "")),
        )


@dataclass(frozen=True)
class ExecuteReply:
    """The shell reply to one execute request."""

    status: ReplyStatus
    execution_count: int | None
    content: dict[str, Any] = field(default_factory=dict)


class Kernel(Protocol):
    """A running kernel: local (jupyter_client) or remote (a Kernel Gateway)."""

    spec: str

    def launch(self) -> None:
        """Begin starting the kernel without waiting, so the caller can overlap other work."""

    def start(self, timeout: float = 60.0) -> None:
        """Start or connect (unless launched), and wait until it answers ``kernel_info``."""

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
        """Run ``code``, streaming iopub messages to ``on_message``, until idle and replied.

        ``silent``: no execution count, no history, no execute_input or execute_result (a
        look at the kernel's state that the user's session does not see).
        """

    def interrupt(self) -> None:
        """Interrupt the running request; does not wait for it to stop."""

    def restart(self, timeout: float = 60.0) -> None:
        """Restart the kernel (all state lost) and wait until it answers again."""

    def shutdown(self) -> None:
        """Stop the kernel and release every resource; safe to call twice."""

    def is_alive(self) -> bool:
        """Tell whether the kernel process is still there."""

    def info(self) -> KernelInfo:
        """Return what the kernel reported when it became ready."""


class OwnedKernel:
    """What the implementations share: their ``kernel_info``, and closing with ``with``."""

    _info: KernelInfo | None = None

    def shutdown(self) -> None:
        """Stop the kernel; implementations release their own resources."""
        raise NotImplementedError

    def info(self) -> KernelInfo:
        """Return the ``kernel_info`` read when the kernel last became ready."""
        if self._info is None:
            raise KernelDied("The kernel has not been started.")
        return self._info

    def __enter__(self) -> Self:
        return self

    def __exit__(self, *exc: object) -> None:
        self.shutdown()


class Transport(Protocol):
    """How the shared execute loop reaches one kernel's channels."""

    session: str

    def send(self, channel: Channel, msg: Msg) -> None:
        """Send one message; do not wait for anything."""

    def recv(self, timeout: float) -> Msg | None:
        """Return the next message from any channel (with ``channel`` set), or None."""

    def alive(self) -> bool:
        """Tell whether the kernel is still alive (may cost a request)."""


def run_execute(
    transport: Transport,
    code: str,
    on_message: OnMessage,
    *,
    stdin: StdinHandler | None,
    timeout: float | None,
    stop_on_error: bool,
    silent: bool = False,
) -> ExecuteReply:
    """Send an execute request and pump messages until iopub idle *and* the shell reply."""
    request = messages.execute_request(
        code,
        transport.session,
        allow_stdin=stdin is not None,
        stop_on_error=stop_on_error,
        silent=silent,
    )
    msg_id = request["header"]["msg_id"]
    transport.send("shell", request)
    deadline = None if timeout is None else time.monotonic() + timeout
    reply: ExecuteReply | None = None
    idle = False
    last_check = time.monotonic()
    while reply is None or not idle:
        now = time.monotonic()
        if deadline is not None and now >= deadline:
            raise KernelTimeout(f"The cell ran longer than its timeout of {timeout:g} s.")
        wait = LIVENESS_INTERVAL if deadline is None else min(LIVENESS_INTERVAL, deadline - now)
        msg = transport.recv(max(wait, 0.0))
        if msg is None or now - last_check > LIVENESS_INTERVAL * 3:
            last_check = time.monotonic()
            if not transport.alive():
                raise KernelDied(_DIED)
        if msg is None:
            continue
        _raise_if_restarting(msg)
        if messages.parent_id(msg) != msg_id:
            continue
        channel, kind = msg.get("channel"), messages.msg_type(msg)
        if channel == "shell" and kind == "execute_reply":
            reply = _reply(msg["content"])
        elif channel == "stdin" and kind == "input_request":
            _answer_input(transport, msg, stdin)
        elif channel == "iopub":
            if kind == "status":
                idle = idle or msg["content"].get("execution_state") == "idle"
            else:
                on_message(msg)
    return reply


_DIED = "The kernel died while running this cell. Restart the kernel to continue."


def _raise_if_restarting(msg: Msg) -> None:
    """A gateway announces a kernel that died (and is being restarted) on iopub."""
    if (
        msg.get("channel") == "iopub"
        and messages.msg_type(msg) == "status"
        and msg["content"].get("execution_state") in ("restarting", "dead")
    ):
        raise KernelDied(_DIED)


def _reply(content: dict[str, Any]) -> ExecuteReply:
    status = content.get("status", "error")
    count = content.get("execution_count")
    return ExecuteReply(
        status=status if status in ("ok", "error", "aborted") else "error",
        execution_count=count if isinstance(count, int) else None,
        content=content,
    )


def _answer_input(transport: Transport, msg: Msg, stdin: StdinHandler | None) -> None:
    content = msg["content"]
    try:
        value = (
            stdin(str(content.get("prompt", "")), bool(content.get("password"))) if stdin else ""
        )
    except Exception:  # a failing answerer must not wedge the kernel waiting for input
        value = ""
    transport.send("stdin", messages.input_reply(value, transport.session, msg))
