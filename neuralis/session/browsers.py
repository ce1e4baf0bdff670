"""Browser sessions attached to the broker, and culling of kernels nobody looks at.

Each session holds one :class:`ClientHandle`. Releasing it (the tab closed) detaches the
session; a notebook with no session attached, idle for ``idle_timeout`` seconds, has its
kernel shut down. Attached notebooks are never culled: someone may come back to them.
The open documents (one per notebook file, shared by the sessions) live here too.
"""

from __future__ import annotations

import threading
import time
import uuid

from neuralis.execution import Broker
from neuralis.session.document import Documents

IDLE_TIMEOUT = 3600.0
EXIT_GRACE = 3.0
"""Seconds the app waits at exit for interrupted runs to end before storing what they printed."""


class Sessions:
    """Process-wide registry of session handles over one broker."""

    def __init__(self, broker: Broker, idle_timeout: float = IDLE_TIMEOUT) -> None:
        self.broker = broker
        self.documents = Documents(broker)
        self.idle_timeout = idle_timeout
        self._lock = threading.Lock()
        self._attached: dict[str, set[str]] = {}  # notebook -> session ids
        self._detached_at: dict[str, float] = {}
        self._opened_by: dict[str, str] = {}

    def handle(self) -> ClientHandle:
        """Return a new handle for a browser session."""
        return ClientHandle(self, uuid.uuid4().hex)

    def attach(self, session: str, notebook: str, who: str | None = None) -> None:
        """Record that a session shows a notebook (and no other); ``who`` is its user."""
        with self._lock:
            if who and not self._attached.get(notebook):
                self._opened_by[notebook] = who  # the first to show it since nobody did
            for key in [k for k, ids in self._attached.items() if session in ids]:
                if key != notebook:
                    self._drop(session, key)
            self._attached.setdefault(notebook, set()).add(session)
            self._detached_at.pop(notebook, None)

    def release(self, session: str) -> None:
        """Detach a session from everything it showed."""
        with self._lock:
            keys = [k for k, ids in self._attached.items() if session in ids]
            for key in keys:
                self._drop(session, key)
            unseen = [k for k in keys if k not in self._attached]
        for key in unseen:
            self.documents.drop_idle(key)

    def close(self, grace: float = EXIT_GRACE) -> None:
        """At exit: stop the kernels and write every run into its file, finished or not.

        A run cut short by the shutdown keeps what it printed so far, as a kernel that dies
        would; nothing a tab showed is lost with the app.
        """
        self.broker.shutdown_all()
        deadline = time.monotonic() + grace
        while any(map(self.broker.busy, self.broker.notebooks())):
            if time.monotonic() > deadline:
                break
            time.sleep(0.05)
        self.documents.store_partial()
        self.documents.flush_all()

    def opened_by(self, notebook: str) -> str | None:
        """Return who opened a notebook (when a gate names its users)."""
        with self._lock:
            return self._opened_by.get(notebook)

    def attached(self, notebook: str) -> int:
        """Return how many sessions show a notebook."""
        with self._lock:
            return len(self._attached.get(notebook, ()))

    def cull(self, now: float | None = None) -> list[str]:
        """Shut down kernels of notebooks detached and idle too long; return them."""
        now = time.monotonic() if now is None else now
        with self._lock:
            stale = [k for k, t in self._detached_at.items() if now - t > self.idle_timeout]
        culled = []
        for key in stale:
            if self.broker.busy(key):
                continue  # a run someone started keeps going; it is culled once idle
            self.broker.shutdown(key)
            with self._lock:
                self._detached_at.pop(key, None)
            culled.append(key)
        return culled

    def _drop(self, session: str, notebook: str) -> None:
        ids = self._attached.get(notebook, set())
        ids.discard(session)
        if not ids:
            self._attached.pop(notebook, None)
            self._detached_at[notebook] = time.monotonic()


class ClientHandle:
    """One browser session's pointer to the broker."""

    def __init__(self, sessions: Sessions, session_id: str) -> None:
        self.sessions = sessions
        self.session_id = session_id

    @property
    def broker(self) -> Broker:
        """Return the shared broker."""
        return self.sessions.broker

    def attach(self, notebook: str, who: str | None = None) -> None:
        """Show a notebook in this session (``who``: the gate's name for its user)."""
        self.sessions.attach(self.session_id, notebook, who)

    def release(self) -> None:
        """Detach this session, cull what nobody uses any more, and again once it expires."""
        self.sessions.release(self.session_id)
        self.sessions.cull()
        # Nothing else calls cull() when the last tab closes: without this timer the kernels
        # it left would idle until the next release, however late that comes.
        timer = threading.Timer(self.sessions.idle_timeout + 0.5, self.sessions.cull)
        timer.daemon = True
        timer.start()
