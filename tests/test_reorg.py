"""Reorgs through Node.import_block: the heavier chain wins, indexes follow, dropped transactions go back to the pool,
listeners hear the removed blocks, and WebSocket log subscribers get `removed: true`."""
import asyncio
import json

import aiohttp
import pytest

from chainkit import TRANSFER_TOPIC, calldata, deploy_token_raw, sign
from node.clock import SimClock
from node.config import NodeConfig
from node.chain.genesis import load_genesis
from node.node import Node
from rpc.server import RpcServer


@pytest.fixture
def pair(tmp_path):
    """Two nodes of one chain (the same single validator key), blocks only on demand, in simulated time an hour
    past genesis (so that blocks sealed one period apart in a burst are not in the future)."""
    clock = SimClock(load_genesis(NodeConfig().genesis).timestamp * 1000 + 3_600_000)
    with Node(NodeConfig(datadir=tmp_path / "a", produce=False), clock=clock) as a, \
            Node(NodeConfig(datadir=tmp_path / "b", produce=False), clock=clock) as b:
        yield a, b, clock


def test_a_heavier_chain_from_a_peer_replaces_ours_and_returns_dropped_transactions(pair):
    a, b, clock = pair
    alice, bob, carol = a.accounts[1:4]
    mine_only = a.send_raw_transaction(sign(alice, 0, bob.address, 10**18))
    a_blocks = a.mine(2)
    removed = []
    a.subscribe(on_removed=removed.append)

    b.send_raw_transaction(sign(carol, 0, bob.address, 5))
    b_blocks = b.mine(3)
    clock.advance(10_000)   # the blocks were sealed one period apart: let their time come
    for block in b_blocks:
        a.import_block(block)

    assert a.chain.head.hash == b.chain.head.hash
    assert a.chain.head.state_root == b.chain.head.state_root
    assert [blk.hash for blk in removed] == [blk.hash for blk in a_blocks]   # oldest first, as geth sends them
    assert a.chain.store.tx_location(mine_only) is None
    assert mine_only in a.pool                          # back in the pool, executable on the new head
    assert a.chain.state_at().get_nonce(alice.address) == 0
    [next_block] = a.mine()
    assert next_block.transactions[0].hash == mine_only


def test_a_lighter_side_chain_is_stored_but_not_adopted(pair):
    a, b, clock = pair
    ours = a.mine(3)
    side = b.mine(2)
    clock.advance(10_000)
    for block in side:
        result = a.import_block(block)
        assert not result.new_canonical
    assert a.chain.head.hash == ours[-1].hash
    assert a.chain.header_by_hash(side[-1].hash) is not None


def test_log_subscribers_get_removed_logs_on_a_reorg(pair):
    a, b, clock = pair
    owner, alice = a.accounts[1], a.accounts[2]
    for node in (a, b):   # the same token at the same address on both chains
        node.send_raw_transaction(deploy_token_raw(owner, 0))
        node.mine()
    token = a.chain.store.block_metas(a.chain.head.hash)[0].contract_address
    assert b.chain.store.block_metas(b.chain.head.hash)[0].contract_address == token
    b_blocks = b.mine(3)

    async def run() -> list[dict]:
        with RpcServer(a, "127.0.0.1", 0) as server:
            async with aiohttp.ClientSession() as session, session.ws_connect(server.ws_url) as ws:
                await ws.send_json({"jsonrpc": "2.0", "id": 1, "method": "eth_subscribe",
                                    "params": ["logs", {"address": "0x" + token.hex()}]})
                assert "result" in json.loads((await ws.receive(timeout=10)).data)
                transfer = sign(owner, 1, token, data=calldata("transfer(address,uint256)", alice.address, 9),
                                gas=100_000)
                a.send_raw_transaction(transfer)
                await asyncio.to_thread(a.mine)
                clock.advance(10_000)
                for block in b_blocks:
                    await asyncio.to_thread(a.import_block, block)
                return [json.loads((await ws.receive(timeout=10)).data)["params"]["result"] for _ in range(2)]

    added, removed = asyncio.run(run())
    assert added["removed"] is False and added["topics"][0] == "0x" + TRANSFER_TOPIC.hex()
    assert removed == {**added, "removed": True}
    assert a.chain.head.hash == b_blocks[-1].hash
