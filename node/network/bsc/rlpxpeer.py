"""BscRlpxPeer: node/network/rlpx's eth RlpxPeer that also carries the `bsc` capability when the Hellos negotiated
it. The connection is read through a tap that hands `bsc` messages to the Peer's satellite queue and everything
else on to RlpxPeer's own reader; `bsc` messages go out under the capability's offset."""
from __future__ import annotations

from typing import Any

from node.network.bsc.messages import PROTOCOL_NAME
from node.network.eth.chaintypes import ChainTypes
from node.network.peer import PeerDisconnected
from node.network.rlpx.connection import Message, RlpxConnection
from node.network.rlpx.errors import ConnectionClosedError
from node.network.rlpx.rlpxpeer import RlpxPeer, _reason


class _SatelliteTap:
    """The connection as RlpxPeer reads it: satellite messages are taken out on the way to the peer's Peer."""

    def __init__(self, connection: RlpxConnection, peer: "BscRlpxPeer") -> None:
        self._connection = connection
        self._peer = peer

    def __getattr__(self, name: str) -> Any:
        return getattr(self._connection, name)

    async def recv(self) -> Message:
        while True:
            message = await self._connection.recv()
            if message.protocol != PROTOCOL_NAME:
                return message
            await self._peer._deliver_satellite(message.protocol, message.code, message.payload)


class BscRlpxPeer(RlpxPeer):
    """An RlpxPeer that speaks bsc/N beside eth when the remote offered it."""

    def __init__(self, connection: RlpxConnection, types: ChainTypes, **options: Any) -> None:
        super().__init__(connection, types, **options)
        self.raw_connection = connection
        self.connection = _SatelliteTap(connection, self)

    @property
    def satellites(self) -> dict[str, int]:
        cap = self.raw_connection.capability(PROTOCOL_NAME)
        return {} if cap is None else {cap.name: cap.version}

    async def _send_satellite(self, protocol: str, code: int, payload: bytes) -> None:
        try:
            await self.raw_connection.send(protocol, code, payload)
        except ConnectionClosedError:
            raise PeerDisconnected(_reason(self.raw_connection.disconnect_reason),
                                   not self.raw_connection.remote_disconnected) from None
