"""Which handshake a Parlia node runs with an RLPx peer, decided by the peer's Hello: BSC's (Status, then
UpgradeStatus) with a peer offering `bsc`, plain eth/68 with a vanilla one (geth, @ethereumjs/devp2p offer no `bsc`
and never answer UpgradeStatus; found by tests/test_rlpx_interop.py). Real RLPx connections over 127.0.0.1."""
from __future__ import annotations

import asyncio

from node.config import NodeConfig
from node.network.eth.chaintypes import ChainTypes
from node.network.eth.handshake import handshake, local_fork_filter, local_status, local_upgrade_status, speaks_bsc
from node.network.eth.messages import UpgradeStatus
from node.network.memory import memory_pair
from node.network.rlpx.connection import ConnectionConfig, RlpxConnection
from node.network.rlpx.crypto import new_private_key, public_key
from node.network.rlpx.p2p import Capability
from node.network.rlpx.rlpxpeer import RlpxPeer
from node.network.rlpx.server import RlpxServer
from node.node import Node

ETH = Capability("eth", 68, 17)
BSC = Capability("bsc", 1, 2)


def handshake_over_rlpx(chain, ours: list[Capability], theirs: list[Capability]):
    """Both sides' handshake results (dialler first) between RLPx peers offering `ours` and `theirs`."""
    types = ChainTypes.for_chain(chain)
    status, upgrade = local_status(chain), local_upgrade_status(chain)

    async def main():
        accepted: asyncio.Queue = asyncio.Queue()
        server_key = new_private_key()
        server = RlpxServer(server_key, ConnectionConfig(theirs), accepted.put_nowait)
        await server.start()
        try:
            dialled = await RlpxConnection.dial(new_private_key(), public_key(server_key), "127.0.0.1", server.port,
                                                ConnectionConfig(ours))
            a, b = RlpxPeer(dialled, types), RlpxPeer(await asyncio.wait_for(accepted.get(), 5), types)
            a.start()
            b.start()
            results = await asyncio.gather(handshake(a, status, local_fork_filter(chain), upgrade, 2.0),
                                           handshake(b, status, local_fork_filter(chain), upgrade, 2.0))
            flags = (speaks_bsc(a), speaks_bsc(b))
            await a.disconnect()
            return results, flags
        finally:
            await server.close()
    return asyncio.run(asyncio.wait_for(main(), 20))


def test_parlia_peers_offering_bsc_exchange_upgrade_status() -> None:
    with Node(NodeConfig(produce=False)) as node:
        assert local_upgrade_status(node.chain) is not None   # a Parlia chain
        (mine, theirs), flags = handshake_over_rlpx(node.chain, [ETH, BSC], [ETH, BSC])
        assert flags == (True, True)
        assert isinstance(mine[1], UpgradeStatus) and isinstance(theirs[1], UpgradeStatus)


def test_vanilla_eth68_peer_gets_the_plain_handshake_on_a_parlia_chain() -> None:
    with Node(NodeConfig(produce=False)) as node:
        (mine, theirs), flags = handshake_over_rlpx(node.chain, [ETH], [ETH])
        assert flags == (False, False)
        assert mine[1] is None and theirs[1] is None
        assert mine[0].genesis == theirs[0].genesis == node.chain.genesis_hash


def test_in_process_peers_always_take_the_bsc_handshake() -> None:
    with Node(NodeConfig(produce=False)) as node:
        types = ChainTypes.for_chain(node.chain)

        async def main():
            a, b = memory_pair(types, types)
            return (speaks_bsc(a), speaks_bsc(b))
        assert asyncio.run(main()) == (True, True)
