"""Sync and gossip between real in-process Nodes joined by NetworkServices over in-memory peers."""
from __future__ import annotations

from contextlib import ExitStack

from chainkit import sign
from node.clock import SimClock
from node.dev.accounts import dev_accounts
from node.network.eth.messages import NewBlock, NewBlockHashes, NewPooledTransactionHashes
from node.network.memorylink import link
from test_network_kit import (scripted_peer, seal, serve_from, shared_loop, start_node, start_service, wait_for,
                              write_genesis)

ALICE, BOB = dev_accounts()[1:3]


def test_fresh_node_syncs_a_300_block_chain(tmp_path):
    with ExitStack() as stack:
        genesis, keys, clock = write_genesis(tmp_path, 1, staking=True)   # BSC's contracts elect epoch 200's set
        a, b = (start_node(stack, genesis, keys[0], clock) for _ in range(2))
        seal(a, clock, 300)
        loop = shared_loop(stack)
        net_a, net_b = start_service(stack, a, loop), start_service(stack, b, loop)
        link(net_b, net_a)
        wait_for(lambda: net_b.syncer.completed == 1, 20, "b's sync to finish")
        assert b.chain.head.hash == a.chain.head.hash and b.chain.head.block_number == 300
        assert net_a.peer_count == net_b.peer_count == 1 and net_b.syncing() is None
        assert b.chain.header_by_number(150).hash == a.chain.header_by_number(150).hash


def test_blocks_and_transactions_gossip_across_three_nodes(tmp_path):
    with ExitStack() as stack:
        genesis, keys, clock = write_genesis(tmp_path, 3)
        a, b, c = (start_node(stack, genesis, keys[i], clock) for i in range(3))
        loop = shared_loop(stack)
        net_a, net_b, net_c = (start_service(stack, n, loop) for n in (a, b, c))
        link(net_b, net_a)
        link(net_c, net_a)
        link(net_c, net_b)
        wait_for(lambda: net_a.peer_count == net_b.peer_count == net_c.peer_count == 2, 10, "a full mesh")
        nodes = (a, b, c)
        for sealer in (a, b, c, a):
            [block] = seal(sealer, clock)
            wait_for(lambda: all(n.chain.head.hash == block.hash for n in nodes), 10, f"block {block.number}")
        sent = net_a.blocks.sent_whole + net_a.blocks.sent_hashes
        assert sent > 0 and net_a.blocks.sent_whole >= 1   # floor(sqrt(2)) = 1 peer got NewBlock, the other the hash

        raw = sign(ALICE, 0, to=BOB.address, value=12345)
        tx_hash = c.send_raw_transaction(raw)
        wait_for(lambda: tx_hash in a.pool and tx_hash in b.pool, 10, "the transaction in every pool")
        [block] = seal(b, clock)
        assert [tx.hash for tx in block.transactions] == [tx_hash]
        wait_for(lambda: all(n.chain.head.hash == block.hash for n in nodes), 10, "the block with the tx everywhere")
        assert c.chain.state_at().get_balance(BOB.address) == a.chain.state_at().get_balance(BOB.address)
        assert tx_hash not in c.pool


def test_new_block_whose_parent_is_missing_is_fetched_first(tmp_path):
    with ExitStack() as stack:
        genesis, keys, clock = write_genesis(tmp_path, 1)
        source, b = start_node(stack, genesis, keys[0], clock), start_node(stack, genesis, keys[0], clock)
        blocks = seal(source, clock, 3)
        net_b = start_service(stack, b)
        # the peer claims our own total difficulty: nothing to sync until it announces a block
        peer = scripted_peer(net_b, b.chain, td=b.chain.chaindb.get_score(b.chain.head.hash))
        serve_from(net_b, peer, source.chain)
        td = source.chain.chaindb.get_score(blocks[-1].hash)
        net_b.loop.run(peer.send(NewBlock(blocks[-1], td)))
        wait_for(lambda: b.chain.head.hash == blocks[-1].hash, 10, "the announced block and its parents")
        assert [b.chain.header_by_number(n).hash for n in (1, 2, 3)] == [blk.hash for blk in blocks]
        assert net_b.peer_count == 1 and not net_b.dropped


def test_announced_block_and_transaction_hashes_are_fetched(tmp_path):
    with ExitStack() as stack:
        genesis, keys, clock = write_genesis(tmp_path, 1)
        source, b = start_node(stack, genesis, keys[0], clock), start_node(stack, genesis, keys[0], clock)
        [block] = seal(source, clock)
        raw = sign(ALICE, 0, to=BOB.address, value=5, dynamic=True)
        tx_hash = source.send_raw_transaction(raw)
        tx = source.pool.get(tx_hash)
        net_b = start_service(stack, b)
        peer = scripted_peer(net_b, b.chain, td=b.chain.chaindb.get_score(b.chain.head.hash))
        serve_from(net_b, peer, source.chain, source.pool)
        net_b.loop.run(peer.send(NewBlockHashes(((block.hash, block.number),))))
        wait_for(lambda: b.chain.head.hash == block.hash, 10, "the announced block")
        net_b.loop.run(peer.send(NewPooledTransactionHashes(b"\x02", (len(tx.encode()),), (tx_hash,))))
        # the pool has it a moment before the gossip's count of accepted transactions does: wait for both
        wait_for(lambda: tx_hash in b.pool and net_b.txs.accepted >= 1, 10, "the announced transaction")
        assert net_b.txs.accepted == 1 and not net_b.dropped


def test_node_on_a_lighter_fork_syncs_to_the_heavier_chain(tmp_path):
    with ExitStack() as stack:
        genesis, keys, clock = write_genesis(tmp_path, 3)
        a, b, c = (start_node(stack, genesis, keys[i], clock) for i in range(3))
        [lone] = seal(c, clock)   # c, cut off, seals one block of its own
        for sealer, other in ((a, b), (b, a), (a, b), (b, a)):   # a and b build four blocks together
            [block] = seal(sealer, clock)
            other.import_block(block)
        assert c.chain.head.hash == lone.hash and a.chain.head.block_number == 4
        loop = shared_loop(stack)
        net_a, net_b, net_c = (start_service(stack, n, loop) for n in (a, b, c))
        link(net_c, net_a)
        link(net_b, net_a)
        wait_for(lambda: c.chain.head.hash == a.chain.head.hash, 15, "c to reorganise onto a's chain")
        assert not c.chain.is_canonical(lone.header) and not net_c.dropped
        assert c.chain.header_by_number(1).hash == a.chain.header_by_number(1).hash


def test_block_ahead_of_our_clock_is_retried_not_punished(tmp_path):
    with ExitStack() as stack:
        genesis, keys, clock = write_genesis(tmp_path, 1)
        behind = SimClock(clock.now_ms())   # b's clock stays at genesis time while the sealer's moves on
        source = start_node(stack, genesis, keys[0], clock)
        b = start_node(stack, genesis, keys[0], behind)
        [block] = seal(source, clock)
        assert block.header.timestamp * 1000 > behind.now_ms()
        net_b = start_service(stack, b)
        peer = scripted_peer(net_b, b.chain, td=0)
        net_b.loop.run(peer.send(NewBlock(block, source.chain.chaindb.get_score(block.hash))))
        wait_for(lambda: net_b.blocks._future.get(block.hash) == 1, 5, "the refusal for being early")
        assert b.chain.head.block_number == 0 and not net_b.dropped and not peer.closed
        behind.set(clock.now_ms())
        wait_for(lambda: b.chain.head.hash == block.hash, 5, "the retry")
        assert not net_b.dropped and not peer.closed
