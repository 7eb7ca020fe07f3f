"""The eth Peer over a real RLPx connection on loopback: typed messages, a tracked request, disconnect reasons."""
from __future__ import annotations

import asyncio

import pytest

from node.chain.forks import ForkSchedule
from node.network.eth.chaintypes import ChainTypes
from node.network.eth.messages import BlockHeaders, GetBlockHeaders, NewBlockHashes
from node.network.peer import DisconnectReason, PeerDisconnected
from node.network.rlpx.connection import ConnectionConfig, RlpxConnection
from node.network.rlpx.crypto import keccak256, new_private_key, public_key
from node.network.rlpx.p2p import Capability
from node.network.rlpx.rlpxpeer import RlpxPeer
from node.network.rlpx.server import RlpxServer

CONFIG = ConnectionConfig([Capability("eth", 68, 17)])


def test_eth_peer_over_rlpx() -> None:
    types = ChainTypes(ForkSchedule.parlia())

    async def main() -> None:
        key_a, key_b = new_private_key(), new_private_key()
        accepted: asyncio.Queue[RlpxConnection] = asyncio.Queue()
        server = RlpxServer(key_b, CONFIG, accepted.put_nowait)
        await server.start()
        try:
            a = RlpxPeer(await RlpxConnection.dial(key_a, public_key(key_b), "127.0.0.1", server.port, CONFIG), types)
            b = RlpxPeer(await asyncio.wait_for(accepted.get(), 5), types)
            a.start()
            b.start()
            assert a.id == keccak256(public_key(key_b)).hex() and b.id == keccak256(public_key(key_a)).hex()
            announcement = NewBlockHashes(((b"\x11" * 32, 5),))
            await a.send(announcement)
            assert await b.receive() == announcement

            async def serve_one() -> None:
                request = await b.receive()
                assert isinstance(request, GetBlockHeaders) and request.origin == 7 and request.amount == 3
                await b.send(BlockHeaders(request.request_id, ()))
            server_task = asyncio.create_task(serve_one())
            response = await a.request(GetBlockHeaders(0, 7, 3))
            assert isinstance(response, BlockHeaders) and response.headers == ()
            await server_task

            await b.disconnect(DisconnectReason.USELESS_PEER)
            with pytest.raises(PeerDisconnected, match="peer disconnected: useless peer"):
                await asyncio.wait_for(a.receive(), 5)
            assert a.disconnect_reason == DisconnectReason.USELESS_PEER and not a.disconnected_by_us
            assert b.disconnected_by_us and b.connection.closed
        finally:
            await server.close()
    asyncio.run(asyncio.wait_for(main(), 30))
