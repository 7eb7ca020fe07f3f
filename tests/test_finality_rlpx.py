"""Votes over RLPx: two validator nodes with vote keys, joined by real RLPx connections on 127.0.0.1, negotiate bsc/1
beside eth/68, each gets the other's vote on a block through it (BscRlpxPeer), and the third block's attestation of
both votes justifies the second."""
import json
from contextlib import ExitStack

from consensus import bls
from node.clock import SimClock
from node.config import NodeConfig
from node.dev.devnet import devnet_genesis, validator_key, validator_vote_key
from node.finality.keys import write_vote_key
from node.node import Node

from test_network_kit import seal, start_service, wait_for

LOCAL = ("127.0.0.1", 0)


def test_two_validators_exchange_votes_over_rlpx(tmp_path):
    keys = [validator_key(i) for i in range(2)]
    genesis = devnet_genesis([(k.public_key.to_canonical_address(), bls.public_key(validator_vote_key(k)))
                              for k in keys], period=1, epoch=200, staking=False)
    path = tmp_path / "genesis.json"
    path.write_text(json.dumps(genesis))
    clock = SimClock(int(genesis["timestamp"], 16) * 1000)
    with ExitStack() as stack:
        nodes = []
        for i, key in enumerate(keys):
            datadir = tmp_path / f"node{i}"
            datadir.mkdir()
            write_vote_key(datadir, validator_vote_key(key))
            node = Node(NodeConfig(genesis=path, datadir=datadir, dev=True, validator_key=key.to_bytes(),
                                   produce=False), clock=clock).start()
            stack.callback(node.stop)
            nodes.append(node)
        a, b = nodes
        net_a = start_service(stack, a, listen=LOCAL)
        net_b = start_service(stack, b, listen=LOCAL, static_peers=[net_a.enode])
        wait_for(lambda: net_a.peer_count == net_b.peer_count == 1, 15, "the two connected")
        assert net_a.peers_info()[0]["caps"] == ["bsc/1", "eth/68"]
        # admin_peers as BSC shows it: every protocol running with the peer, bsc beside eth
        assert net_a.peers_info()[0]["protocols"] == {"eth": {"version": 68}, "bsc": {"version": 1}}
        assert net_b.peers_info()[0]["protocols"] == {"eth": {"version": 68}, "bsc": {"version": 1}}
        assert [p.peer.satellites for p in net_a.peers] == [{"bsc": 1}]
        for node in (a, b, a):
            [block] = seal(node, clock)
            wait_for(lambda: all(n.chain.head.hash == block.hash for n in nodes), 15, f"block {block.number}")
            # each node's own vote, and the other's over RLPx
            wait_for(lambda: all(len(n.votes.votes_for(block.hash)) == 2 for n in nodes), 15,
                     f"both votes for block {block.number} on both nodes")
        assert {v.vote_address for v in b.votes.votes_for(block.hash)} == {
            bls.public_key(validator_vote_key(k)) for k in keys}
        # block 3 attests block 2 with both votes (quorum 2 of 2): the votes that crossed RLPx justified it
        assert block.number == 3 and b.chain.engine.justified(b.chain.head)[0] == 2
