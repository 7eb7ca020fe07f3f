"""Gossip fan-out as BSC does it, seen by scripted peers of one node: its own block whole to floor(sqrt(n)) of the n
peers lacking it and as a hash to the rest; a peer's block relayed whole to floor(sqrt(n)) peers once its header
checks pass, before its import (held open by a gate in these tests), and announced by hash to the rest after it,
never back to its sender or to peers known to have it, never fetched when it comes whole within the arrive timeout,
never relayed with a bad seal; a transaction whole to ceil(sqrt(n)) peers and announced to the rest, a large one
only announced."""
from __future__ import annotations

import threading
from contextlib import ExitStack

from chainkit import sign
from node.dev.accounts import dev_accounts
from node.network.eth import serve
from node.network.eth.messages import (GetBlockHeaders, NewBlock, NewBlockHashes, NewPooledTransactionHashes,
                                       Request, Transactions)
from test_network_kit import respond, scripted_peer, seal, start_node, start_service, wait_for, write_genesis

ALICE, BOB = dev_accounts()[1:3]


def watch(service, peers, serving=None):
    """What each scripted peer hears; with `serving` (a chain) they also answer requests from it, as honest peers."""
    heard: list[list] = [[] for _ in peers]
    for peer, log in zip(peers, heard):
        async def record(message, log=log, peer=peer):
            log.append(message)
            if serving is not None and isinstance(message, Request):
                await peer.send(serve.answer(message, serving, lambda h: None))
        respond(service, peer, record)
    return heard


def kinds(heard, wanted):
    return [[type(m).__name__ for m in log if isinstance(m, wanted)] for log in heard]


class GatedNode:
    """The node as its NetworkService sees it, with imports held until `gate` is set (what reaches peers while
    a block is still being imported shows)."""

    def __init__(self, node) -> None:
        self._node = node
        self.gate = threading.Event()
        self.imports = 0

    def __getattr__(self, name):
        return getattr(self._node, name)

    def import_block(self, block):
        assert self.gate.wait(20), "the test never opened the gate"
        self.imports += 1
        return self._node.import_block(block)


def relay_setup(stack, tmp_path, peers: int = 4, serving: bool = False, **options):
    """A node (imports gated) with `peers` scripted peers listening, and a second node of the same validator that
    seals the blocks the first hears of from its peers (with `serving`, the scripted peers answer requests from
    that node's chain)."""
    genesis, keys, clock = write_genesis(tmp_path, 1)
    node, other = start_node(stack, genesis, keys[0], clock), start_node(stack, genesis, keys[0], clock)
    gated = GatedNode(node)
    service = start_service(stack, gated, **options)
    stack.callback(gated.gate.set)   # runs before the service stops (LIFO): a held import is let go
    td = node.chain.chaindb.get_score(node.chain.head.hash)
    scripted = [scripted_peer(service, node.chain, td=td, name=f"p{i}") for i in range(peers)]
    return node, other, clock, gated, service, scripted, watch(service, scripted, other.chain if serving else None)


def _names(message, block_hash) -> bool:
    if isinstance(message, NewBlock):
        return message.block.hash == block_hash
    return isinstance(message, NewBlockHashes) and any(h == block_hash for h, _ in message.entries)


def about(heard, block_hash) -> list[list[str]]:
    """Per peer, the kinds of the messages it heard that carry or name `block_hash`."""
    return [[type(m).__name__ for m in log if _names(m, block_hash)] for log in heard]


def test_own_block_goes_whole_to_sqrt_n_and_as_a_hash_to_the_rest(tmp_path):
    with ExitStack() as stack:
        genesis, keys, clock = write_genesis(tmp_path, 1)
        node = start_node(stack, genesis, keys[0], clock)
        service = start_service(stack, node)
        td = node.chain.chaindb.get_score(node.chain.head.hash)
        peers = [scripted_peer(service, node.chain, td=td, name=f"p{i}") for i in range(4)]
        heard = watch(service, peers)

        [own] = seal(node, clock)
        wait_for(lambda: sum(map(len, about(heard, own.hash))) == 4, 5, "four messages")
        got = sorted(k for kinds_ in about(heard, own.hash) for k in kinds_)
        assert got == ["NewBlock", "NewBlock", "NewBlockHashes", "NewBlockHashes"]   # floor(sqrt(4)) = 2 whole
        assert all(len(k) == 1 for k in about(heard, own.hash))                        # each peer hears once
        assert (service.blocks.sent_whole, service.blocks.sent_hashes) == (2, 2)


def test_a_peers_block_is_relayed_whole_before_import_and_announced_after(tmp_path):
    with ExitStack() as stack:
        node, other, clock, gated, service, peers, heard = relay_setup(stack, tmp_path)
        [block] = seal(other, clock)
        service.loop.run(peers[0].send(NewBlock(block, other.chain.chaindb.get_score(block.hash))))

        # the header passed its checks: floor(sqrt(3)) = 1 of the 3 peers lacking it gets it whole, while the
        # import is still held; nobody has been told its hash yet
        wait_for(lambda: sum(map(len, about(heard, block.hash))) == 1, 5, "the relay")
        relayed = about(heard, block.hash)
        assert relayed[0] == []                                   # never back to its sender
        assert sorted(relayed[1:]) == [[], [], ["NewBlock"]]
        assert gated.imports == 0 and node.chain.head.block_number == 0

        gated.gate.set()
        wait_for(lambda: node.chain.head.hash == block.hash, 5, "the import")
        wait_for(lambda: sum(map(len, about(heard, block.hash))) == 3, 5, "the announcements")
        after = about(heard, block.hash)
        assert after[0] == []
        # the peer that got it whole hears nothing more of it (no second whole send), the two others its hash
        assert sorted(after[1:]) == [["NewBlock"], ["NewBlockHashes"], ["NewBlockHashes"]]
        assert (service.blocks.sent_whole, service.blocks.sent_hashes) == (1, 2)
        # a relayer may not have imported what it relayed: its head is taken to be the parent, also after our import
        # (a sync must not ask it for the block)
        sender = service.peers.get("p0")
        assert sender.head == block.header.parent_hash
        assert sender.td == other.chain.chaindb.get_score(block.hash) - block.header.difficulty


def test_peers_known_to_have_a_block_get_nothing_of_it(tmp_path):
    with ExitStack() as stack:
        node, other, clock, gated, service, peers, heard = relay_setup(stack, tmp_path, peers=5)
        service.blocks.arrive_timeout = 30   # the announcement is not fetched: the block comes whole meanwhile
        [block] = seal(other, clock)
        service.loop.run(peers[1].send(NewBlockHashes(((block.hash, block.number),))))
        service.loop.run(peers[2].send(NewBlockHashes(((block.hash, block.number),))))
        service.loop.run(peers[0].send(NewBlock(block, other.chain.chaindb.get_score(block.hash))))
        gated.gate.set()
        wait_for(lambda: node.chain.head.hash == block.hash, 5, "the import")
        wait_for(lambda: sum(map(len, about(heard, block.hash))) == 2, 5, "relay and announcement")
        got = about(heard, block.hash)
        # p0 sent it, p1 and p2 announced it: only p3 and p4 lack it, floor(sqrt(2)) = 1 whole and 1 hash
        assert got[:3] == [[], [], []]
        assert sorted(got[3:]) == [["NewBlock"], ["NewBlockHashes"]]
        # and the announcers were never asked for it (it arrived whole within BSC's arriveTimeout)
        assert not any(isinstance(m, GetBlockHeaders) for log in heard for m in log)
        assert service.blocks.fetched == 0


def test_an_announced_block_that_never_comes_whole_is_fetched_then_announced(tmp_path):
    with ExitStack() as stack:
        node, other, clock, gated, service, peers, heard = relay_setup(stack, tmp_path, peers=3, serving=True)
        service.blocks.arrive_timeout = 0.05
        gated.gate.set()
        [block] = seal(other, clock)
        service.loop.run(peers[0].send(NewBlockHashes(((block.hash, block.number),))))
        wait_for(lambda: node.chain.head.hash == block.hash, 5, "the fetched block imported")
        wait_for(lambda: sum(map(len, about(heard[1:], block.hash))) == 2, 5, "relay and announcement")
        assert service.blocks.fetched == 1
        announcer = service.peers.get("p0")   # it served the block: it holds it, at our total difficulty there
        assert (announcer.head, announcer.td) == (block.hash, node.chain.chaindb.get_score(block.hash))
        # its announcer was asked for header and body, and told nothing of it
        assert [type(m).__name__ for m in heard[0]] == ["GetBlockHeaders", "GetBlockBodies"]
        assert sorted(about(heard[1:], block.hash)) == [["NewBlock"], ["NewBlockHashes"]]   # sqrt(2) = 1 whole


def test_a_block_with_a_bad_seal_is_not_relayed_and_its_sender_is_dropped(tmp_path):
    """The header check only gates the relay: the import path still judges the block (and refuses it)."""
    with ExitStack() as stack:
        node, other, clock, gated, service, peers, heard = relay_setup(stack, tmp_path)
        gated.gate.set()
        [block] = seal(other, clock)
        extra = block.header.extra_data
        forged = block.copy(header=block.header.copy(extra_data=bytes([extra[0] ^ 1]) + extra[1:]))
        service.loop.run(peers[0].send(NewBlock(forged, other.chain.chaindb.get_score(block.hash))))
        wait_for(lambda: peers[0].closed, 5, "the sender dropped")
        assert service.peers.is_banned("p0")
        assert "invalid block 1" in service.dropped[-1][1]
        assert gated.imports == 1 and node.chain.head.block_number == 0
        assert about(heard[1:], forged.hash) == [[], [], []] and service.blocks.sent_whole == 0


def test_transaction_fan_out_and_large_ones_announced_only(tmp_path):
    with ExitStack() as stack:
        genesis, keys, clock = write_genesis(tmp_path, 1)
        node = start_node(stack, genesis, keys[0], clock)
        service = start_service(stack, node)
        td = node.chain.chaindb.get_score(node.chain.head.hash)
        peers = [scripted_peer(service, node.chain, td=td, name=f"p{i}") for i in range(4)]
        heard = watch(service, peers)

        small = node.send_raw_transaction(sign(ALICE, 0, to=BOB.address, value=1))
        wait_for(lambda: sum(map(len, kinds(heard, (Transactions, NewPooledTransactionHashes)))) == 4, 5, "4 sends")
        got = sorted(k[0] for k in kinds(heard, (Transactions, NewPooledTransactionHashes)))
        assert got == ["NewPooledTransactionHashes", "NewPooledTransactionHashes", "Transactions", "Transactions"]
        assert all(small in _tx_hashes(m) for log in heard for m in log)

        large = node.send_raw_transaction(sign(ALICE, 1, to=BOB.address, data=b"\x01" * 5000, gas=300_000))
        wait_for(lambda: sum(map(len, kinds(heard, (Transactions, NewPooledTransactionHashes)))) == 8, 5, "4 more")
        about = [m for log in heard for m in log if large in _tx_hashes(m)]
        assert len(about) == 4 and all(isinstance(m, NewPooledTransactionHashes) for m in about)
        sizes = {m.sizes[m.hashes.index(large)] for m in about}
        assert sizes == {len(node.pool.get(large).encode())}


def _tx_hashes(message) -> tuple:
    if isinstance(message, Transactions):
        return tuple(tx.hash for tx in message.transactions)
    if isinstance(message, NewPooledTransactionHashes):
        return message.hashes
    return ()


def test_direct_broadcast_sends_every_peer_the_whole_block(tmp_path):
    with ExitStack() as stack:
        genesis, keys, clock = write_genesis(tmp_path, 1)
        node = start_node(stack, genesis, keys[0], clock)
        service = start_service(stack, node, direct_broadcast=True)
        peers = [scripted_peer(service, node.chain, td=0, name=f"p{i}") for i in range(4)]
        heard = watch(service, peers)
        seal(node, clock)
        wait_for(lambda: sum(map(len, kinds(heard, (NewBlock, NewBlockHashes)))) == 4, 5, "four messages")
        assert kinds(heard, (NewBlock, NewBlockHashes)) == [["NewBlock"]] * 4
