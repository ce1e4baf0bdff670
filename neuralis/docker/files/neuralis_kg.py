"""Installed into kernel images (and used by test gateways): TCP_NODELAY on the kernel WebSocket.

Neither jupyter_server nor the Kernel Gateway calls tornado's ``set_nodelay(True)``, so each
small message waits for Nagle + delayed ACK (~40 ms). Selected with
``--KernelGatewayApp.kernel_websocket_connection_class=neuralis_kg.NoDelayConnection``.
"""

from jupyter_server.services.kernels.connection.channels import ZMQChannelsWebsocketConnection


class NoDelayConnection(ZMQChannelsWebsocketConnection):
    """The stock connection with Nagle's algorithm off on its socket."""

    async def connect(self):  # type: ignore[no-untyped-def]
        """Connect as usual, then disable Nagle on the WebSocket."""
        self.websocket_handler.set_nodelay(True)
        return await super().connect()
