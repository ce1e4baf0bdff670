"""The open side of the app: one shared document per notebook file, and the browser sessions.

``document`` holds the open notebooks (one :class:`Document` per file, shared by every tab;
the broker's finished-run hook writes runs into them); ``browsers`` the browser sessions
attached to the broker and the culling of kernels nobody looks at.
"""

from __future__ import annotations

from neuralis.session.browsers import ClientHandle, Sessions
from neuralis.session.document import Document, Documents

__all__ = ["ClientHandle", "Document", "Documents", "Sessions"]
