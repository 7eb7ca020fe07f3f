"""Peers that misbehave are disconnected (and a liar banned for a while), and the node goes on syncing, importing
and serving: an invalid block, a body that does not match its header, an unsolicited response, an announcement
flood."""
from __future__ import annotations

from contextlib import ExitStack

import pytest

from node.network.eth import serve
from node.network.eth.messages import (BlockBodies, BlockBody, BlockHeaders, GetBlockBodies, GetBlockHeaders,
                                       NewBlock, NewBlockHashes, Request)
from node.network.memorylink import link
from node.network.peer import DisconnectReason
from node.network.peers import MAX_ANNOUNCEMENTS
from test_network_kit import (refused_peer, respond, scripted_peer, seal, serve_from, shared_loop, start_node,
                              start_service, wait_for, write_genesis)


@pytest.fixture
def net(tmp_path):
    """(source node, b, b's service, clock, loop): `source` has 3 blocks b lacks; b's service runs, unconnected."""
    with ExitStack() as stack:
        genesis, keys, clock = write_genesis(tmp_path, 1)
        source, b = start_node(stack, genesis, keys[0], clock), start_node(stack, genesis, keys[0], clock)
        seal(source, clock, 3)
        loop = shared_loop(stack)
        yield source, b, start_service(stack, b, loop), clock, loop, stack


def keeps_working(source, b, net_b, loop, stack) -> None:
    """b still syncs from an honest peer afterwards."""
    net_source = start_service(stack, source, loop)
    link(net_b, net_source)
    wait_for(lambda: b.chain.head.hash == source.chain.head.hash, 15, "b to sync from the honest peer")


def test_invalid_block_drops_and_bans_its_sender(net):
    source, b, net_b, clock, loop, stack = net
    peer = scripted_peer(net_b, b.chain, td=0)
    good = source.chain.block_by_number(1)
    forged = good.copy(header=good.header.copy(gas_used=good.header.gas_used + 1))   # the seal no longer matches
    loop.run(peer.send(NewBlock(forged, 10**6)))
    wait_for(lambda: peer.closed, 10, "the sender to be disconnected")
    assert peer.disconnect_reason == DisconnectReason.USELESS_PEER
    assert "invalid block 1" in net_b.dropped[0][1] and b.chain.head.block_number == 0
    assert net_b.peers.is_banned("tester")
    again = refused_peer(net_b, "tester")   # back within the ban
    assert again.disconnect_reason == DisconnectReason.USELESS_PEER
    keeps_working(source, b, net_b, loop, stack)


def test_sync_peer_with_mismatching_bodies_is_dropped(net):
    source, b, net_b, clock, loop, stack = net
    td = source.chain.chaindb.get_score(source.chain.head.hash)
    peer = scripted_peer(net_b, source.chain, td=td)
    chain = source.chain

    async def lie(message):
        if isinstance(message, GetBlockBodies):   # every body claims one uncle: the uncle hash cannot match
            bodies = tuple(BlockBody(tuple(chain.block_by_hash(h).transactions), (chain.head,), ())
                           for h in message.hashes)
            await peer.send(BlockBodies(message.request_id, bodies))
        elif isinstance(message, Request):
            await peer.send(serve.answer(message, chain))
    respond(net_b, peer, lie)
    wait_for(lambda: peer.closed, 10, "the lying peer to be dropped")
    assert "does not match header #1" in net_b.dropped[0][1] and "uncle hash" in net_b.dropped[0][1]
    assert b.chain.head.block_number == 0
    keeps_working(source, b, net_b, loop, stack)


def test_unsolicited_response_disconnects(net):
    source, b, net_b, clock, loop, stack = net
    peer = scripted_peer(net_b, b.chain, td=0)
    loop.run(peer.send(BlockHeaders(12345, ())))
    wait_for(lambda: peer.closed, 10, "the peer to be disconnected")
    assert peer.disconnect_reason == DisconnectReason.SUBPROTOCOL_ERROR
    wait_for(lambda: net_b.peer_count == 0, 5, "the peer to leave the set")
    keeps_working(source, b, net_b, loop, stack)


def test_announcement_flood_disconnects(net):
    source, b, net_b, clock, loop, stack = net
    peer = scripted_peer(net_b, b.chain, td=0)

    async def flood():
        for i in range(MAX_ANNOUNCEMENTS + 50):
            if peer.closed:
                return i
            await peer.send(NewBlockHashes(((i.to_bytes(32, "big"), 1000 + i),)))
        return MAX_ANNOUNCEMENTS + 50
    sent = loop.run(flood())
    wait_for(lambda: peer.closed, 10, "the flooding peer to be disconnected")
    assert sent > MAX_ANNOUNCEMENTS and "announcement flood" in net_b.dropped[0][1]
    assert not net_b.peers.is_banned("tester")   # a flood is not a lie: it may come back
    keeps_working(source, b, net_b, loop, stack)


def test_peer_that_does_not_serve_its_claimed_head_is_dropped_not_banned(net):
    source, b, net_b, clock, loop, stack = net
    # the peer's Status names source's head and a higher TD, but it answers from b's own (shorter) chain
    td = source.chain.chaindb.get_score(source.chain.head.hash)
    peer = scripted_peer(net_b, source.chain, td=td)
    serve_from(net_b, peer, b.chain)
    wait_for(lambda: peer.closed, 10, "the peer to be dropped")
    assert "does not serve its head" in net_b.dropped[0][1] and not net_b.peers.is_banned("tester")
    keeps_working(source, b, net_b, loop, stack)


def test_sync_peer_with_a_forged_header_is_dropped_before_any_body_is_asked(net):
    source, b, net_b, clock, loop, stack = net
    chain = source.chain
    peer = scripted_peer(net_b, chain, td=chain.chaindb.get_score(chain.head.hash))
    asked: list[str] = []

    async def forge(message):
        asked.append(message.name)
        if not isinstance(message, Request):
            return
        answer = serve.answer(message, chain)
        if isinstance(message, GetBlockHeaders) and len(answer.headers) > 1:
            last = answer.headers[-1]   # the last header of the batch, changed after it was sealed
            answer = BlockHeaders(answer.request_id, answer.headers[:-1] + (last.copy(gas_used=last.gas_used + 1),))
        await peer.send(answer)
    respond(net_b, peer, forge)
    wait_for(lambda: peer.closed, 10, "the forging peer to be dropped")
    assert "invalid header #3" in net_b.dropped[0][1] and "is not the coinbase" in net_b.dropped[0][1]
    assert "GetBlockBodies" not in asked and net_b.peers.is_banned("tester")
    keeps_working(source, b, net_b, loop, stack)


def test_announcements_never_delivered_hold_up_no_other_peer(net):
    source, b, net_b, clock, loop, stack = net
    silent = scripted_peer(net_b, b.chain, td=0, name="silent")   # announces, never answers
    fakes = tuple((bytes([i]) * 32, 1) for i in range(1, 13))
    loop.run(silent.send(NewBlockHashes(fakes)))
    wait_for(lambda: len(net_b.blocks._fetching) == 8, 5, "the silent peer's fetches (8 at most) to start")
    honest = scripted_peer(net_b, b.chain, td=0, name="honest")
    block = source.chain.block_by_number(1)
    loop.run(honest.send(NewBlock(block, source.chain.chaindb.get_score(block.hash))))
    wait_for(lambda: b.chain.head.hash == block.hash, 5, "the honest peer's block")
    assert len(net_b.blocks._fetching) == 8   # still waiting on the silent peer: it held up nothing
