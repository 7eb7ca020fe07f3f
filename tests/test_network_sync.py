"""Sync pipelines fetch and import (node/network/sync.py): blocks go into the chain while later bodies are still being
fetched, and the fetch runs at most AHEAD_BATCHES body batches ahead of the import."""
from __future__ import annotations

import asyncio
from contextlib import ExitStack

import pytest

from node.network.eth import serve
from node.network.eth.messages import GetBlockBodies, Request
from node.network.sync import AHEAD_BATCHES, BODY_BATCH, FIRST_BODY_BATCH
from test_network_kit import respond, scripted_peer, seal, shared_loop, start_node, start_service, wait_for, \
    write_genesis

HOLD_LIMIT = 20.0   # s the scripted peer holds an answer at most (the test fails if it had to wait that long)


@pytest.fixture
def net(tmp_path):
    """(source, b, b's service): `source` has AHEAD_BATCHES + 2 body batches of blocks that b lacks."""
    with ExitStack() as stack:
        genesis, keys, clock = write_genesis(tmp_path, 1)
        source, b = start_node(stack, genesis, keys[0], clock), start_node(stack, genesis, keys[0], clock)
        seal(source, clock, (AHEAD_BATCHES + 2) * BODY_BATCH)
        yield source, b, start_service(stack, b, shared_loop(stack))


def test_import_starts_before_the_last_bodies_arrive(net):
    source, b, net_b = net
    chain = source.chain
    peer = scripted_peer(net_b, chain, td=chain.chaindb.get_score(chain.head.hash))
    head_when_released: list[int] = []

    async def hold_last(message):
        if not isinstance(message, Request):
            return
        if isinstance(message, GetBlockBodies) and chain.head.hash in message.hashes:
            # the last bodies: answered only once b has imported blocks (a sync that fetches every body before
            # importing any would wait here until HOLD_LIMIT)
            deadline = asyncio.get_running_loop().time() + HOLD_LIMIT
            while b.chain.head.block_number == 0 and asyncio.get_running_loop().time() < deadline:
                await asyncio.sleep(0.01)
            head_when_released.append(b.chain.head.block_number)
        await peer.send(serve.answer(message, chain))
    respond(net_b, peer, hold_last)
    wait_for(lambda: b.chain.head.hash == chain.head.hash, 60, "b to sync the whole chain")
    wait_for(lambda: net_b.syncer.completed == 1, 10, "the sync to end as completed")
    assert len(head_when_released) == 1 and head_when_released[0] >= 1 and not peer.closed


def test_the_fetch_runs_a_bounded_number_of_batches_ahead_of_the_import(net):
    source, b, net_b = net
    chain = source.chain
    peer = scripted_peer(net_b, chain, td=chain.chaindb.get_score(chain.head.hash))
    heads_at_request: list[tuple[int, int]] = []   # (first block asked for, b's head when asked)

    async def record(message):
        if not isinstance(message, Request):
            return
        if isinstance(message, GetBlockBodies):
            first = chain.header_by_hash(message.hashes[0]).block_number
            heads_at_request.append((first, b.chain.head.block_number))
        await peer.send(serve.answer(message, chain))
    respond(net_b, peer, record)
    wait_for(lambda: b.chain.head.hash == chain.head.hash, 60, "b to sync the whole chain")
    firsts = [first for first, _ in heads_at_request]
    sizes = [after - first for first, after in zip(firsts, firsts[1:] + [chain.head.block_number + 1])]
    assert firsts[0] == 1 and sizes[0] == FIRST_BODY_BATCH and max(sizes) == BODY_BATCH and min(sizes) > 0
    for k, (_, head) in enumerate(heads_at_request):
        # request k (from 0) needs a free place among AHEAD_BATCHES: batch k - AHEAD_BATCHES fully imported
        if k >= AHEAD_BATCHES:
            assert head >= firsts[k - AHEAD_BATCHES + 1] - 1, heads_at_request
