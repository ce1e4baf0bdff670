"""Process-wide and per-session objects, and the notebook the session has open.

The open document itself is process-wide (one per file, shared by every tab, held beside
the broker in :class:`~neuralis.session.Sessions`); a session keeps only a reference to
the one it shows, and its own view of it (editors, selection).
"""

from __future__ import annotations

import atexit
import threading
import uuid

import streamlit as st

from neuralis.config import Settings
from neuralis.errors import NeuralisError, NotebookTooLarge
from neuralis.execution import Broker
from neuralis.notebook.workspace import Workspace
from neuralis.session import ClientHandle, Document, Documents, Sessions
from neuralis.ui import auth
from neuralis.ui.session_keys import DOC, EDITORS, NOTICE, SESSION_ID, SHOWN, TOO_LARGE

_VIEW_KEYS = (EDITORS, SHOWN)


class _ProcessSessions:
    """The process-wide broker, wrapped in the session registry, made on first use.

    A module global, not ``st.cache_resource``: any client may send Streamlit's
    ``clear_cache``, which empties ``st.cache_resource``; no client message may drop the
    broker (running cells, their kernels, unsaved outputs).
    """

    def __init__(self) -> None:
        self._lock = threading.Lock()
        self._made: Sessions | None = None

    def __call__(self) -> Sessions:
        with self._lock:
            if self._made is None:
                settings = Settings.from_env()
                made = Sessions(Broker(settings), settings.kernel_idle_timeout)
                # No kernel outlives the server; runs cut short by the exit are written to
                # their files.
                atexit.register(made.close)
                self._made = made
            return self._made

    def close(self) -> None:
        """At the server's shutdown: stop the kernels, write every run into its file."""
        with self._lock:
            made = self._made
        if made is not None:
            made.close()

    def clear(self) -> None:
        """Forget the registry (tests: the next call reads the settings again)."""
        with self._lock:
            self._made = None


sessions = _ProcessSessions()


def _release(handle: ClientHandle) -> None:
    handle.release()


@st.cache_resource(scope="session", on_release=_release, show_spinner=False)
def _handle(registry: int) -> ClientHandle:
    return sessions().handle()


def handle() -> ClientHandle:
    """Return this browser session's handle on the broker."""
    # Keyed by the registry, so a registry made anew (tests clear it) gets handles of its own.
    return _handle(id(sessions()))


def broker() -> Broker:
    """Return the process-wide broker."""
    return sessions().broker


def documents() -> Documents:
    """Return the process-wide open documents."""
    return sessions().documents


def session_id() -> str:
    """Return this browser session's id (who made an edit, whose text was replaced)."""
    found = st.session_state.get(SESSION_ID)
    if not isinstance(found, str):
        found = st.session_state[SESSION_ID] = uuid.uuid4().hex
    return found


def workspace() -> Workspace:
    """Return the notebook folder, created with a welcome notebook on first start."""
    ws = Workspace(Settings.from_env().notebook_dir)
    ws.ensure()
    return ws


def notice(kind: str, text: str) -> None:
    """Keep a message to show at the top of the next run (after a rerun)."""
    st.session_state[NOTICE] = (kind, text)


def pop_notice() -> tuple[str, str] | None:
    """Return and forget the pending message."""
    value: tuple[str, str] | None = st.session_state.pop(NOTICE, None)
    return value


def current() -> Document | None:
    """Return the open document without touching the URL (for fragments)."""
    doc: Document | None = st.session_state.get(DOC)
    return doc


def document() -> Document | None:
    """Return the notebook named by ``?file=``, opening it when it changed."""
    name = st.query_params.get("file")
    doc = current()
    if name and (doc is None or doc.name != name):
        doc = open_document(name)
    elif doc is not None and not name:
        st.query_params["file"] = doc.name
    if doc is not None:
        handle().attach(doc.key, auth.who())
        if broker().spec(doc.key) is None:
            broker().attach(doc.key, doc.kernel, doc.path.parent)
    return doc


def open_document(name: str) -> Document | None:
    """Open a notebook of the workspace in this session; report why when it cannot."""
    try:
        doc = documents().open(workspace(), name)
    except NeuralisError as exc:
        st.session_state.pop(DOC, None)
        st.query_params.pop("file", None)
        too_large = isinstance(exc, NotebookTooLarge)
        notice("too-large" if too_large else "error", str(exc))
        st.session_state[TOO_LARGE] = name if too_large else None
        return None
    if current() is not doc:  # this session's view of the previous notebook goes with it
        for key in _VIEW_KEYS:
            st.session_state.pop(key, None)
    st.session_state[DOC] = doc
    st.query_params["file"] = doc.name
    broker().attach(doc.key, doc.kernel, doc.path.parent)
    broker().warm(doc.key)  # the kernel starts while the user reads: the first Run is quick
    return doc


def clear_outputs_and_open(name: str) -> None:
    """Clear the outputs of a notebook too large to open, in its file, then open it."""
    try:
        workspace().clear_outputs(name)
    except NeuralisError as exc:
        notice("error", str(exc))
        return
    open_document(name)


def close_document() -> None:
    """Forget the open notebook."""
    st.session_state.pop(DOC, None)
    st.query_params.pop("file", None)
