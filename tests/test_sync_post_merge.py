"""Sync from a peer past the merge: proof-of-stake blocks add no difficulty and geth's eth/68 Status sends a total
difficulty of 0, so the peer's head height decides (found by interop with geth v1.17.0, tests/test_geth_interop.py).

The source chain is the execution-apis chain's first 40 blocks (the merge at #36, Shanghai at #39), imported into a
real Chain; the syncing side is a real Node with its NetworkService, the peer a scripted in-memory one serving that
chain honestly.
"""
from __future__ import annotations

from contextlib import ExitStack
from pathlib import Path

import pytest

import ethchain
from node.chain.blockfile import decode_blocks
from node.chain.chain import Chain
from node.chain.db import LmdbDB
from node.chain.genesis import load_genesis
from node.config import NodeConfig
from node.node import Node
from test_network_kit import scripted_peer, serve_from, start_service, wait_for, write_genesis

SOURCE_BLOCKS = 40


@pytest.fixture(scope="module")
def source(tmp_path_factory) -> Chain:
    """A post-merge chain of SOURCE_BLOCKS blocks, imported through the chain's import path."""
    db = LmdbDB(tmp_path_factory.mktemp("source") / "chaindata")
    chain = Chain(db, load_genesis(ethchain.genesis_file()))
    for block in decode_blocks(chain, ethchain.chain_file().read_bytes())[:SOURCE_BLOCKS]:
        chain.import_block(block)
    assert chain.head.block_number == SOURCE_BLOCKS and chain.head.difficulty == 0
    yield chain
    db.close()


def follower(stack: ExitStack) -> Node:
    config = NodeConfig(genesis=ethchain.genesis_file(), dev=False, produce=False, validator_key=b"\x11" * 32)
    node = Node(config).start()
    stack.callback(node.stop)
    return node


def test_peer_past_the_merge_with_zero_td_is_synced_by_height(source: Chain) -> None:
    with ExitStack() as stack:
        node = follower(stack)
        service = start_service(stack, node)
        assert service.syncer.our_td() > 0   # the genesis' difficulty: a TD-only rule would never pick this peer
        peer = scripted_peer(service, source, td=0)   # geth v1.17's eth/68 Status: TD nil, encoded as 0
        serve_from(service, peer, source)
        service.syncer.trigger()
        wait_for(lambda: node.chain.head.hash == source.head.hash, 60, "the follower to reach the peer's head")
        assert node.chain.head.state_root == source.head.state_root
        # the head is visible while the sync still finishes its bookkeeping: wait for it, then count
        wait_for(lambda: service.syncer.completed >= 1, 10, "the sync to be counted complete")
        assert service.syncer.completed == 1 and not service.dropped


def test_peer_past_the_merge_that_does_not_serve_its_head_is_dropped(source: Chain) -> None:
    import dataclasses

    from node.network.eth.handshake import handshake, local_fork_filter, local_status, local_upgrade_status
    from node.network.memory import memory_pair
    with ExitStack() as stack:
        node = follower(stack)
        service = start_service(stack, node)
        claimed = b"\x42" * 32

        async def connect():
            ours, theirs = memory_pair(service.types, service.types, ids=("liar", service.id))
            service.accept(theirs)
            status = dataclasses.replace(local_status(source), total_difficulty=0, head=claimed)
            await handshake(ours, status, local_fork_filter(source), local_upgrade_status(source))
            return ours
        peer = service.loop.run(connect())
        serve_from(service, peer, source)   # honest about everything else: header 0x4242.. is simply not there
        service.syncer.trigger()
        wait_for(lambda: service.dropped, 30, "the peer to be dropped")
        assert "does not serve its head 0x" + claimed.hex() in service.dropped[0][1]
        assert node.chain.head.block_number == 0 and service.syncer.completed == 0


def test_parlia_chain_never_compares_by_height(tmp_path: Path) -> None:
    genesis, keys, clock = write_genesis(tmp_path, 1)
    with ExitStack() as stack:
        node = Node(NodeConfig(genesis=genesis, dev=True, validator_key=keys[0], produce=False), clock=clock).start()
        stack.callback(node.stop)
        service = start_service(stack, node)
        assert not service.syncer.past_merge(0) and not service.syncer.past_merge(10**30)
