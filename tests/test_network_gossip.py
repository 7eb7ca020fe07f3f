"""Gossip fan-out as BSC does it, seen by four scripted peers of one node: a block whole to floor(sqrt(n)) peers and
as a hash to the rest, never back to the peer it came from; a transaction whole to ceil(sqrt(n)) peers and announced
to the rest, a large one only announced."""
from __future__ import annotations

from contextlib import ExitStack

from chainkit import sign
from node.dev.accounts import dev_accounts
from node.network.eth.messages import NewBlock, NewBlockHashes, NewPooledTransactionHashes, Transactions
from test_network_kit import respond, scripted_peer, seal, start_node, start_service, wait_for, write_genesis

ALICE, BOB = dev_accounts()[1:3]


def watch(service, peers):
    """What each scripted peer hears (announcements only: none of them asks for anything)."""
    heard: list[list] = [[] for _ in peers]
    for peer, log in zip(peers, heard):
        async def record(message, log=log):
            log.append(message)
        respond(service, peer, record)
    return heard


def kinds(heard, wanted):
    return [[type(m).__name__ for m in log if isinstance(m, wanted)] for log in heard]


def test_block_fan_out_and_no_echo(tmp_path):
    with ExitStack() as stack:
        genesis, keys, clock = write_genesis(tmp_path, 1)
        node, other = start_node(stack, genesis, keys[0], clock), start_node(stack, genesis, keys[0], clock)
        service = start_service(stack, node)
        td = node.chain.chaindb.get_score(node.chain.head.hash)
        peers = [scripted_peer(service, node.chain, td=td, name=f"p{i}") for i in range(4)]
        heard = watch(service, peers)

        [own] = seal(node, clock)
        wait_for(lambda: sum(map(len, kinds(heard, (NewBlock, NewBlockHashes)))) == 4, 5, "four messages")
        got = sorted(k[0] for k in kinds(heard, (NewBlock, NewBlockHashes)))
        assert got == ["NewBlock", "NewBlock", "NewBlockHashes", "NewBlockHashes"]   # floor(sqrt(4)) = 2 whole

        other.import_block(own)
        [relayed] = seal(other, clock)
        service.loop.run(peers[0].send(NewBlock(relayed, other.chain.chaindb.get_score(relayed.hash))))
        wait_for(lambda: node.chain.head.hash == relayed.hash, 5, "the relayed block imported")
        wait_for(lambda: sum(map(len, kinds(heard, (NewBlock, NewBlockHashes)))) == 7, 5, "three more messages")
        about = [[m for m in log if _names(m, relayed.hash)] for log in heard]
        assert about[0] == [] and all(len(a) == 1 for a in about[1:])   # not back to its sender
        assert sorted(type(a[0]).__name__ for a in about[1:]) == ["NewBlock", "NewBlock", "NewBlockHashes"]


def _names(message, block_hash) -> bool:
    if isinstance(message, NewBlock):
        return message.block.hash == block_hash
    return isinstance(message, NewBlockHashes) and any(h == block_hash for h, _ in message.entries)


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
