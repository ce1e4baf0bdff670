"""The MIME types Neuralis shows, richest first: one ``Literal`` is both the type and the order.

A bundle is drawn as its first type in this order that the app can show (nbclient's
``display_data_priority``; marimo's ``KnownMimeType``). Adding a type is adding it here, where
its rank is, and one renderer in ``neuralis.ui.outputs``; a test checks that every type has
exactly one.
"""

from __future__ import annotations

from collections.abc import Collection, Mapping
from typing import Any, Literal, get_args

KnownMime = Literal[
    "application/vnd.plotly.v1+json",
    "application/vnd.vegalite.v5+json",
    "application/vnd.vegalite.v4+json",
    "application/vnd.vegalite.v3+json",
    "image/png",
    "image/jpeg",
    "image/svg+xml",
    "application/vnd.dataresource+json",
    "text/html",
    "text/markdown",
    "text/latex",
    "application/json",
    "text/plain",
]

PRIORITY: tuple[KnownMime, ...] = get_args(KnownMime)
"""Every known type, richest first."""


def pick(data: Mapping[str, Any], available: Collection[str] | None = None) -> KnownMime | None:
    """Return the richest type of a bundle that can be shown (``available`` filters)."""
    for mime in PRIORITY:
        if mime in data and (available is None or mime in available):
            return mime
    return None
