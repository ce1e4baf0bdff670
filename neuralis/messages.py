"""Jupyter messages built in one place, so local and gateway kernels stay in step."""

from __future__ import annotations

import getpass
import uuid
from datetime import UTC, datetime
from typing import Any, Literal

Channel = Literal["shell", "iopub", "stdin", "control"]
RequestType = Literal[
    "execute_request", "kernel_info_request", "input_reply", "interrupt_request", "shutdown_request"
]
Msg = dict[str, Any]

PROTOCOL_VERSION = "5.3"


def new_id() -> str:
    """Return a fresh message or session id."""
    return uuid.uuid4().hex


def request(
    msg_type: RequestType,
    content: dict[str, Any],
    session: str,
    *,
    parent: Msg | None = None,
    channel: Channel = "shell",
) -> Msg:
    """Build a client-to-kernel message (the gateway's JSON form, usable locally too)."""
    return {
        "header": {
            "msg_id": new_id(),
            "msg_type": msg_type,
            "username": _username(),
            "session": session,
            "date": datetime.now(UTC).isoformat(),
            "version": PROTOCOL_VERSION,
        },
        "parent_header": dict(parent["header"]) if parent else {},
        "metadata": {},
        "content": content,
        "channel": channel,
        "buffers": [],
    }


def execute_request(
    code: str, session: str, *, allow_stdin: bool, stop_on_error: bool = True, silent: bool = False
) -> Msg:
    """Build an ``execute_request``; ``allow_stdin=False`` makes ``input()`` raise in the kernel."""
    content = {
        "code": code,
        "silent": silent,
        "store_history": not silent,
        "user_expressions": {},
        "allow_stdin": allow_stdin,
        "stop_on_error": stop_on_error,
    }
    return request("execute_request", content, session)


def input_reply(value: str, session: str, parent: Msg) -> Msg:
    """Build the answer to an ``input_request``."""
    return request("input_reply", {"value": value}, session, parent=parent, channel="stdin")


def msg_type(msg: Msg) -> str:
    """Return a message's type, wherever the transport put it."""
    return str(msg.get("msg_type") or msg.get("header", {}).get("msg_type", ""))


def parent_id(msg: Msg) -> str | None:
    """Return the msg_id of the request a message answers, if any."""
    parent = msg.get("parent_header") or {}
    value = parent.get("msg_id")
    return str(value) if value else None


def _username() -> str:
    try:
        return getpass.getuser()
    except Exception:  # no passwd entry (containers): any name will do
        return "neuralis"
