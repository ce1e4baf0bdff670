"""Where a gateway kernel's server listens: the endpoint providers the gateway client asks.

As jupyter_client's provisioners own a kernel's process while the client only talks to it, a
provider owns the server a :class:`~neuralis.kernels.gateway.GatewayKernel` talks to: it starts
it when asked, says where it answers now, whether it is still there, and why a kernel on it was
lost. The gateway client never manages processes; providers never speak the kernel protocol.
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import Protocol

from neuralis.errors import KernelDied


@dataclass(frozen=True)
class Endpoint:
    """A gateway's base URL and the token it wants (``None``: it wants none)."""

    url: str
    token: str | None


class EndpointProvider(Protocol):
    """The server behind a gateway kernel, as the kernel needs to know it."""

    def endpoint(self, timeout: float) -> Endpoint:
        """Start the server if it is not running, and return where it answers now."""

    def is_running(self) -> bool:
        """Tell cheaply whether the server is still there (no call to the gateway)."""

    def explain(self, cause: Exception, since: float) -> KernelDied | None:
        """Say why a kernel was lost while a request begun at ``since`` (Unix time) ran.

        ``None`` lets ``cause`` stand: the provider knows nothing the gateway did not say, and
        the kernel is left as the gateway left it.
        """

    def release(self) -> None:
        """The kernel is shut down for good: free what was started for it (its container)."""


class FixedEndpoint:
    """A gateway someone else runs (``gateway:URL``): always there, never explained."""

    def __init__(self, url: str, token: str | None) -> None:
        self._endpoint = Endpoint(url.rstrip("/"), token)

    def endpoint(self, timeout: float) -> Endpoint:
        """Return the one URL and token it was given."""
        return self._endpoint

    def is_running(self) -> bool:
        """Assume it runs: the gateway itself is asked next."""
        return True

    def explain(self, cause: Exception, since: float) -> KernelDied | None:
        """Know nothing beyond what the gateway said."""
        return None

    def release(self) -> None:
        """Leave the gateway running: it is someone else's."""
