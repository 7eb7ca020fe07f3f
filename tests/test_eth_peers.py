"""Peers in memory: every eth message type crosses both ways as RLP bytes, requests are answered from a real chain
through the request tracker, and unsolicited, duplicate, mismatched or late responses, bad frames and disconnects
end the connection with devp2p's reasons."""
import asyncio
import dataclasses

import pytest

from ethkit import chain_node, every_message
from node.network.eth.chaintypes import ChainTypes
from node.network.eth.messages import (BlockBodies, BlockHeaders, GetBlockBodies, GetBlockHeaders, Request,
                                       Response)
from node.network.eth.protocol import InvalidMessage, InvalidMessageCode
from node.network.eth.serve import answer
from node.network.memory import memory_pair
from node.network.peer import (DisconnectReason, DuplicateResponse, LateResponse, MismatchedResponse,
                               PeerDisconnected, RequestTimeout, RequestTracker, UnsolicitedResponse)

SUBPROTOCOL_ERROR = DisconnectReason.SUBPROTOCOL_ERROR


@pytest.fixture(scope="module")
def node(tmp_path_factory):
    with chain_node(tmp_path_factory.mktemp("chain")) as n:
        yield n


async def serve_requests(peer, chain, pool_lookup, seen: list) -> None:
    """Answer every request from `chain`; keep every other message in `seen`."""
    while True:
        message = await peer.receive()
        if isinstance(message, Request):
            await peer.send(answer(message, chain, pool_lookup))
        else:
            seen.append(message)


def test_memory_peers_exchange_every_message_type_both_ways(node):
    chain = node.chain
    messages = every_message(chain)
    pool = {tx.hash: tx for block in (chain.block_by_number(n) for n in (1, 2, 3)) for tx in block.transactions}

    async def main():
        a, b = memory_pair(ChainTypes.for_chain(chain))
        seen = {"a": [], "b": []}
        servers = [asyncio.create_task(serve_requests(b, chain, pool.get, seen["a"])),
                   asyncio.create_task(serve_requests(a, chain, pool.get, seen["b"]))]
        exchanged = set()
        for sender, side in ((a, "a"), (b, "b")):
            announcements = [m for m in messages if not isinstance(m, (Request, Response))]
            for message in announcements:
                await sender.send(message)
            for message in messages:
                if isinstance(message, Request):
                    response = await sender.request(message)
                    expected = answer(message, chain, pool.get)
                    assert type(response) is type(expected) and response.request_id != message.request_id
                    assert _same_but_id(response, expected)
                    exchanged |= {type(message), type(response)}
            while len(seen[side]) < len(announcements):
                await asyncio.sleep(0)
            assert seen[side] == announcements
            exchanged |= {type(m) for m in announcements}
        for task in servers:
            task.cancel()
        assert not a.closed and not b.closed and a.sent_frames and b.sent_frames
        return exchanged
    exchanged = asyncio.run(main())
    assert exchanged == {type(m) for m in messages}   # every eth/68 message and UpgradeStatus


def _same_but_id(response: Response, expected: Response) -> bool:
    return dataclasses.replace(response, request_id=expected.request_id) == expected


def test_headers_requested_over_the_wire_are_our_chains(node):
    chain = node.chain

    async def main():
        a, b = memory_pair(ChainTypes.for_chain(chain))
        server = asyncio.create_task(serve_requests(b, chain, lambda h: None, []))
        by_hash = await a.request(GetBlockHeaders(0, chain.head.hash, 3, 1, True))
        by_number = await a.request(GetBlockHeaders(0, 1, 2))
        bodies = await a.request(GetBlockBodies(0, tuple(h.hash for h in by_number.headers)))
        server.cancel()
        return by_hash, by_number, bodies
    by_hash, by_number, bodies = asyncio.run(main())
    head = chain.head.block_number
    assert by_hash.headers == tuple(chain.header_by_number(n) for n in (head, head - 2, head - 4))
    assert by_number.headers == (chain.header_by_number(1), chain.header_by_number(2))
    assert [len(body.transactions) for body in bodies.bodies] == [3, 1]


def run_pair(node, script):
    """Run `script(a, b)` on a fresh memory pair; returns its result and the two peers."""
    async def main():
        a, b = memory_pair(ChainTypes.for_chain(node.chain))
        result = await script(a, b)
        for _ in range(3):
            await asyncio.sleep(0)   # let each reader take what is in flight
        return result, a, b
    return asyncio.run(main())


def test_an_unsolicited_response_ends_the_connection(node):
    async def script(a, b):
        await a.send(BlockHeaders(123, ()))
        with pytest.raises(PeerDisconnected) as gone:
            await a.receive()
        return gone.value
    gone, a, b = run_pair(node, script)
    assert isinstance(b.error, UnsolicitedResponse) and not isinstance(b.error, DuplicateResponse)
    assert str(b.error) == "unsolicited response: BlockHeaders with request id 123: no such request pending"
    assert b.disconnect_reason is SUBPROTOCOL_ERROR and b.disconnected_by_us
    assert gone.reason is SUBPROTOCOL_ERROR and not gone.by_us and a.disconnect_reason is SUBPROTOCOL_ERROR


def test_a_duplicate_response_ends_the_connection(node):
    async def script(a, b):
        asked = asyncio.create_task(a.request(GetBlockHeaders(0, 0, 1)))
        request = await b.receive()
        reply = answer(request, node.chain)
        await b.send(reply)
        response = await asked
        await b.send(reply)   # the same answer again
        return response
    response, a, b = run_pair(node, script)
    assert response.headers == (node.chain.header_by_number(0),)
    assert isinstance(a.error, DuplicateResponse) and a.disconnect_reason is SUBPROTOCOL_ERROR
    assert b.closed and not b.disconnected_by_us


def test_a_response_of_the_wrong_kind_ends_the_connection(node):
    async def script(a, b):
        asked = asyncio.create_task(a.request(GetBlockHeaders(0, 0, 1)))
        request = await b.receive()
        await b.send(BlockBodies(request.request_id, ()))
        with pytest.raises(PeerDisconnected):
            await asked
    _, a, b = run_pair(node, script)
    assert isinstance(a.error, MismatchedResponse) and "the request was GetBlockHeaders" in str(a.error)


def test_a_request_times_out_and_a_late_answer_is_refused(node):
    async def script(a, b):
        with pytest.raises(RequestTimeout, match="GetBlockHeaders"):
            await a.request(GetBlockHeaders(0, 0, 1), timeout=0.01)
        request = await b.receive()
        await b.send(answer(request, node.chain))
    _, a, b = run_pair(node, script)
    assert isinstance(a.error, LateResponse) and a.disconnect_reason is SUBPROTOCOL_ERROR
    assert len(a.tracker) == 0


def test_disconnect_fails_waiting_requests_and_later_sends(node):
    async def script(a, b):
        asked = asyncio.create_task(a.request(GetBlockHeaders(0, 0, 1)))
        await b.receive()
        await b.disconnect(DisconnectReason.TOO_MANY_PEERS)
        with pytest.raises(PeerDisconnected) as waiting:
            await asked
        with pytest.raises(PeerDisconnected) as sending:
            await b.send(GetBlockHeaders(1, 0, 1))
        return waiting.value, sending.value
    (waiting, sending), a, b = run_pair(node, script)
    assert waiting.reason is DisconnectReason.TOO_MANY_PEERS and not waiting.by_us
    assert str(waiting) == "peer disconnected: too many peers"
    assert sending.by_us and str(sending) == "disconnected: too many peers"


@pytest.mark.parametrize("code, payload, error", [
    (0x0c, b"\xc0", InvalidMessageCode),           # a code eth/68 does not have
    (0x03, b"\xc3\x01\x02\x03", InvalidMessage),   # GetBlockHeaders that is not one
])
def test_a_bad_frame_ends_the_connection(node, code, payload, error):
    async def script(a, b):
        await b._send_frame(code, payload)
    _, a, b = run_pair(node, script)
    assert isinstance(a.error, error) and a.disconnect_reason is SUBPROTOCOL_ERROR and b.closed


def test_request_tracker():
    async def main():
        tracker = RequestTracker()
        ids = {tracker.new_id() for _ in range(100)}
        assert len(ids) == 100 and all(0 <= i < 2**64 for i in ids)
        request = GetBlockHeaders(tracker.new_id(), 0, 1)
        future = tracker.track(request)
        with pytest.raises(ValueError, match="already pending"):
            tracker.track(request)
        with pytest.raises(UnsolicitedResponse):
            tracker.fulfil(BlockHeaders(request.request_id + 1, ()))
        assert len(tracker) == 1 and not future.done()
        tracker.fulfil(BlockHeaders(request.request_id, ()))
        assert future.result() == BlockHeaders(request.request_id, ()) and len(tracker) == 0
        with pytest.raises(DuplicateResponse):
            tracker.fulfil(BlockHeaders(request.request_id, ()))
        other = tracker.track(GetBlockBodies(7, ()))
        tracker.fail_all(PeerDisconnected(DisconnectReason.QUITTING, True))
        with pytest.raises(PeerDisconnected, match="client quitting"):
            await other
    asyncio.run(main())
