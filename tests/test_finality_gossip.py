"""Vote gossip over the `bsc` protocol as BSC runs it, against a node of a voting four-validator Devnet, through a peer
the test drives over the in-memory transport: BscCap then the pool's votes to a new peer; a peer's valid vote taken
into the pool; a vote that fails its checks dropped with the peer kept; a Votes message that does not decode ends
the peer; the receive limit of 68 votes/s over 30 s; the wire bytes of BscCap and Votes."""
import asyncio

import rlp

from consensus import bls
from consensus.votes import VoteData, sign_vote
from node.dev.devnet import Devnet, validator_key, validator_vote_key
from node.network.bsc import messages as bsc
from node.network.bsc.rate import VoteRate
from node.network.peer import MEMORY_SATELLITE_OFFSET, DisconnectReason

from test_network_kit import scripted_peer, wait_for


def _satellites(service, peer, count: int) -> list:
    async def read():
        return [await asyncio.wait_for(peer.receive_satellite(), 10) for _ in range(count)]
    return service.loop.run(read(), timeout=20)


def _send(service, peer, message) -> None:
    service.loop.run(peer.send_satellite(message))


def test_a_peer_gets_bsc_cap_and_the_pool_and_its_votes_are_checked():
    with Devnet(validators=4) as net:
        net.stop_validator(3)   # its vote on the head will come from the test's peer
        net.run(4)
        node = net.nodes[0]
        head = node.chain.head
        service = net.network.net.services[0]
        peer = scripted_peer(service, node.chain)
        pooled = node.votes.pool.current_votes()
        greeting = _satellites(service, peer, 1 + len(pooled))
        assert greeting[0] == bsc.BscCap()
        assert {m.votes[0] for m in greeting[1:]} == set(pooled)
        assert all(isinstance(m, bsc.Votes) and len(m.votes) == 1 for m in greeting[1:])

        secret = validator_vote_key(net.keys[3])
        data = node.chain.engine.vote_data(head)
        vote = sign_vote(secret, data)
        assert bls.public_key(secret) not in {v.vote_address for v in node.votes.votes_for(head.hash)}
        _send(service, peer, bsc.Votes((vote,)))
        wait_for(lambda: vote in node.votes.votes_for(head.hash), what="the peer's vote in the pool")

        # a signature over another message: refused, and the peer stays
        forged = sign_vote(secret, VoteData(data.source_number, data.source_hash, data.target_number, bytes(32)))
        bad = type(vote)(vote.vote_address, forged.signature, data)
        refused = node.votes.refused
        _send(service, peer, bsc.Votes((bad,)))
        wait_for(lambda: node.votes.refused == refused + 1, what="the bad vote refused")
        assert bad not in node.votes.votes_for(head.hash)
        assert not peer.closed and service.peer_count == 3   # nodes 1 and 2, and the test's peer

        # BSC's receiver takes the first vote of a message only (votes are handled in order: once a later
        # message's vote is seen, an earlier one taken in would have been seen too)
        def forged_vote(tag: bytes):
            other = sign_vote(secret, VoteData(data.source_number, data.source_hash, data.target_number, tag * 32))
            return type(vote)(vote.vote_address, other.signature, data)
        first, ignored, later = forged_vote(b"\x01"), forged_vote(b"\x02"), forged_vote(b"\x03")
        _send(service, peer, bsc.Votes((first, ignored)))
        _send(service, peer, bsc.Votes((later,)))
        wait_for(lambda: node.votes.seen(later.hash()), what="the later vote handled")
        assert node.votes.seen(first.hash()) and not node.votes.seen(ignored.hash())
        assert node.votes.refused == refused + 3

        # a Votes message that does not decode breaks the protocol: the peer is disconnected
        service.loop.run(peer._send_frame(MEMORY_SATELLITE_OFFSET + bsc.VOTES, b"\xc3\xc2\x01\x02"))
        wait_for(lambda: peer.closed, what="the peer disconnected")
        assert peer.disconnect_reason == DisconnectReason.SUBPROTOCOL_ERROR


def test_the_receive_limit_is_68_votes_a_second_over_30_seconds():
    rate = VoteRate()
    assert all(rate.allow(1000.0 + i * 0.001) for i in range(68 * 30))
    assert not rate.allow(1002.0)
    assert rate.allow(1030.5)   # the first ones left the window


def test_wire_bytes_of_bsc_cap_and_votes():
    assert bsc.encode(bsc.BscCap()) == (0x00, bytes.fromhex("c20100"))
    vote = sign_vote(validator_vote_key(validator_key(0)), VoteData(1, b"\x01" * 32, 2, b"\x02" * 32))
    code, payload = bsc.encode(bsc.Votes((vote,)))
    assert code == 0x01
    assert rlp.decode(payload) == [[[vote.vote_address, vote.signature,
                                     [b"\x01", b"\x01" * 32, b"\x02", b"\x02" * 32]]]]
    assert bsc.decode(code, payload) == bsc.Votes((vote,))
