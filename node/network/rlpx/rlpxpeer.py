"""RlpxPeer: the eth `Peer` of node/network/peer.py carried by an RlpxConnection.

The connection already speaks `p2p` (Ping/Pong, Disconnect) and maps capability offsets; this adapter forwards the
`eth` capability's frames (relative codes, RLP payloads) both ways and turns the connection's end into the Peer's.
"""
from __future__ import annotations

import asyncio

from node.network.eth.chaintypes import ChainTypes
from node.network.peer import DisconnectReason, Peer, PeerDisconnected
from node.network.rlpx.connection import RlpxConnection
from node.network.rlpx.errors import ConnectionClosedError

PROTOCOL = "eth"


def _reason(code: int | None) -> DisconnectReason | int:
    if code is None:
        return DisconnectReason.NETWORK_ERROR
    try:
        return DisconnectReason(code)
    except ValueError:
        return code  # an unknown code stays a number (geth prints "unknown disconnect reason N")


class RlpxPeer(Peer):
    """One eth peer over RLPx; its id is the remote node id in hex, as geth names peers."""

    def __init__(self, connection: RlpxConnection, types: ChainTypes, **options) -> None:
        if connection.capability(PROTOCOL) is None:
            raise ValueError(f"connection does not share the {PROTOCOL} capability")
        super().__init__(connection.remote_id.hex(), types, **options)
        self.connection = connection
        self._reader: asyncio.Task | None = None

    @property
    def remote_capabilities(self) -> frozenset[str]:
        """The capability names the remote's Hello offered (shared or not): tells a BSC node from a vanilla one."""
        return frozenset(name for name, _version in self.connection.remote_hello.capabilities)

    def start(self) -> None:
        """Start forwarding the connection's eth messages to the Peer (call from the event loop)."""
        self._reader = asyncio.get_running_loop().create_task(self._read(), name=f"rlpx peer {self.id[:16]}")

    async def _read(self) -> None:
        try:
            while not self.closed:
                message = await self.connection.recv()
                if message.protocol == PROTOCOL:
                    await self._deliver(message.code, message.payload)
                # other capabilities (bsc, snap) have their own readers once they exist
        except ConnectionClosedError:
            if not self.closed:
                conn = self.connection
                self._mark_closed(_reason(conn.disconnect_reason), by_us=not conn.remote_disconnected)
                self.error = self.error or conn.error

    async def _send_frame(self, code: int, payload: bytes) -> None:
        try:
            await self.connection.send(PROTOCOL, code, payload)
        except ConnectionClosedError:
            raise PeerDisconnected(_reason(self.connection.disconnect_reason),
                                   not self.connection.remote_disconnected) from None

    async def _close(self, reason: DisconnectReason) -> None:
        await self.connection.disconnect(reason)
        if self._reader is not None and self._reader is not asyncio.current_task():
            self._reader.cancel()
