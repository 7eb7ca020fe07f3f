"""Serving eth requests from our own chain: headers by number and hash with skip and reverse (geth's rules), bodies
and receipts that rebuild each block's roots after crossing the wire, pooled transactions, and the size limits."""
import pytest
import rlp
from eth.db.trie import make_trie_root_and_nodes
from eth_utils import keccak

from chainkit import sign
from ethkit import EMPTY_BLOCKS, chain_node
from node.network.eth import codec, protocol
from node.network.eth.chaintypes import ChainTypes
from node.network.eth.handshake import local_status
from node.network.eth.messages import (BlockBodies, BlockHeaders, GetBlockBodies, GetBlockHeaders,
                                       GetPooledTransactions, GetReceipts, NewBlock, PooledTransactions, Receipts)
from node.network.eth.serve import answer, block_bodies, block_headers, block_receipts, pooled_transactions

HEAD = 3 + EMPTY_BLOCKS


@pytest.fixture(scope="module")
def node(tmp_path_factory):
    with chain_node(tmp_path_factory.mktemp("chain")) as n:
        yield n


def numbers(node, origin, amount, skip=0, reverse=False):
    if isinstance(origin, str):   # "#n": the hash of block n
        origin = node.chain.header_by_number(int(origin[1:])).hash
    headers = block_headers(node.chain, GetBlockHeaders(1, origin, amount, skip, reverse))
    for header in headers:   # the chain's own headers, not copies that merely share numbers
        assert header == node.chain.header_by_number(header.block_number)
    return [h.block_number for h in headers]


@pytest.mark.parametrize("origin, amount, skip, reverse, want", [
    (2, 3, 0, False, [2, 3, 4]),
    (1, 3, 2, False, [1, 4, 7]),
    (7, 10, 0, False, [7, 8]),                 # stops at the head
    (HEAD + 1, 5, 0, False, []),               # beyond the head
    (8, 5, 1, True, [8, 6, 4, 2, 0]),          # towards genesis
    (3, 10, 0, True, [3, 2, 1, 0]),
    (2, 5, 2, True, [2]),                      # the next one would be below genesis
    (0, 0, 0, False, []),                      # amount 0
    (1, 2, 2**64 - 1, False, [1]),             # skip overflows uint64: stop
    ("#2", 4, 1, False, [2, 4, 6, 8]),         # by hash, forwards
    ("#8", 10, 2, True, [8, 5, 2]),            # by hash, backwards
    ("#0", 3, 0, False, [0, 1, 2]),
])
def test_headers_by_number_and_hash(node, origin, amount, skip, reverse, want):
    assert numbers(node, origin, amount, skip, reverse) == want


def test_unknown_origin_hash_gives_no_headers(node):
    assert block_headers(node.chain, GetBlockHeaders(1, b"\x42" * 32, 5)) == []


def test_header_count_and_soft_size_limits(node, monkeypatch):
    monkeypatch.setattr(protocol, "MAX_HEADERS_SERVE", 3)
    assert numbers(node, 0, 100) == [0, 1, 2]
    monkeypatch.setattr(protocol, "SOFT_RESPONSE_LIMIT", 1)   # the first header already fills it
    assert numbers(node, 0, 100) == [0]
    assert len(block_bodies(node.chain, [node.chain.header_by_number(n).hash for n in (1, 2)])) == 1
    assert len(block_receipts(node.chain, [node.chain.header_by_number(n).hash for n in (1, 2)])) == 1


def test_headers_off_the_canonical_chain(tmp_path):
    with chain_node(tmp_path) as node:
        old = [node.chain.header_by_number(n) for n in (7, 8)]
        node.chain.rewind(node.chain.header_by_number(6))
        alice, bob = node.accounts[1:3]
        node.send_raw_transaction(sign(alice, 2, bob.address, 1))
        [new7] = node.mine()
        assert new7.hash != old[0].hash and not node.chain.is_canonical(old[0])
        # backwards from a side block: its parents, then the canonical chain below the fork point
        side = block_headers(node.chain, GetBlockHeaders(1, old[1].hash, 4, 0, True))
        assert [h.hash for h in side] == [old[1].hash, old[0].hash] + [
            node.chain.header_by_number(n).hash for n in (6, 5)]
        assert [h.block_number for h in block_headers(node.chain, GetBlockHeaders(1, old[1].hash, 3, 1, True))] \
            == [8, 6, 4]
        # forwards from a side block: only itself (geth: the next one must have it as its ancestor)
        assert block_headers(node.chain, GetBlockHeaders(1, old[0].hash, 3)) == [old[0]]


def roots_of(body) -> tuple:
    return (make_trie_root_and_nodes(body.transactions)[0], keccak(rlp.encode([])),
            make_trie_root_and_nodes(body.withdrawals)[0])


def test_bodies_and_receipts_rebuild_every_blocks_roots_after_the_wire(node):
    chain = node.chain
    types = ChainTypes.for_chain(chain)
    headers = [chain.header_by_number(n) for n in range(1, HEAD + 1)]
    hashes = tuple(h.hash for h in headers)
    unknown = b"\x13" * 32
    asked = hashes[:2] + (unknown,) + hashes[2:]   # an unknown hash is skipped
    bodies = codec.decode(*codec.encode(BlockBodies(1, tuple(block_bodies(chain, asked)))), types).bodies
    receipts = codec.decode(*codec.encode(Receipts(2, tuple(block_receipts(chain, asked)))), types).receipts
    assert len(bodies) == len(receipts) == HEAD
    assert sum(len(b.transactions) for b in bodies) == 5 and receipts[2][0].logs   # the kit's blocks
    for header, body, block_receipts_ in zip(headers, bodies, receipts):
        assert roots_of(body) == (header.transaction_root, header.uncles_hash, header.withdrawals_root)
        assert make_trie_root_and_nodes(block_receipts_)[0] == header.receipt_root
        # header + body is the block itself
        block = types.block_class(header)(header, body.transactions, body.uncles, body.withdrawals)
        assert rlp.encode(block) == rlp.encode(chain.block_by_hash(header.hash))


def test_pooled_transactions_in_the_asked_order(node):
    alice, bob = node.accounts[1:3]
    first = node.send_raw_transaction(sign(alice, 2, bob.address, 1))
    second = node.send_raw_transaction(sign(alice, 3, bob.address, 1))
    try:
        found = pooled_transactions(node.pool.get, [second, b"\x14" * 32, first])
        assert [tx.hash for tx in found] == [second, first]
        reply = answer(GetPooledTransactions(77, (first,)), node.chain, node.pool.get)
        assert isinstance(reply, PooledTransactions) and reply.request_id == 77
        assert [tx.hash for tx in reply.transactions] == [first]
    finally:
        node.pool.remove(second)
        node.pool.remove(first)


def test_answer_echoes_the_request_id(node):
    head = node.chain.head
    cases = [(GetBlockHeaders(2**64 - 1, 0, 2), BlockHeaders), (GetBlockBodies(5, (head.hash,)), BlockBodies),
             (GetReceipts(6, (head.hash,)), Receipts)]
    for request, response_class in cases:
        reply = answer(request, node.chain)
        assert type(reply) is response_class and reply.request_id == request.request_id
    assert answer(GetPooledTransactions(9, (b"\x01" * 32,)), node.chain) == PooledTransactions(9, ())


@pytest.fixture(scope="module")
def eth_chain(tmp_path_factory):
    """The execution-apis chain (forks by block, the merge, forks by time), imported through our import path."""
    from ethchain import import_into
    from node.chain.chain import Chain
    from node.chain.db import LmdbDB
    from node.chain.genesis import load_genesis
    datadir = import_into(tmp_path_factory.mktemp("ethchain"))
    db = LmdbDB(datadir / "chaindata")
    try:
        yield Chain(db, load_genesis(datadir / "genesis.json"))
    finally:
        db.close()


def test_a_time_forked_ethereum_chain_crosses_the_wire_fork_by_fork(eth_chain):
    """Headers are read back with their own fork's class (Frontier's 15 fields ... Prague's 21), bodies rebuild
    every root including withdrawals, and each whole block keeps its hash."""
    types = ChainTypes.for_chain(eth_chain)
    head = eth_chain.head.block_number
    served = block_headers(eth_chain, GetBlockHeaders(1, 0, head + 1))
    assert len(served) == head + 1
    headers = codec.decode(*codec.encode(BlockHeaders(1, tuple(served))), types).headers
    assert [h.hash for h in headers] == [h.hash for h in served]
    # each in its own fork's header class (as node/blockfile.py reads blocks; the chain db reads them back with
    # py-evm's field-count guess, which says London for Arrow Glacier's identical fields)
    assert all(type(h) is types.block_class(h)._meta.sedes[0] for h in headers)
    assert len({type(h).__name__ for h in headers}) == 8   # Frontier-era, London ... Paris, Shanghai ... Prague
    bodies = codec.decode(*codec.encode(BlockBodies(2, tuple(block_bodies(eth_chain, [h.hash for h in served])))),
                          types).bodies
    for header, body in zip(headers, bodies):
        assert make_trie_root_and_nodes(body.transactions)[0] == header.transaction_root
        if hasattr(header, "withdrawals_root"):
            assert make_trie_root_and_nodes(body.withdrawals)[0] == header.withdrawals_root
        else:
            assert body.withdrawals is None   # before Shanghai a body has two fields
        block = eth_chain.block_by_hash(header.hash)
        again = codec.decode(*codec.encode(NewBlock(block, eth_chain.chaindb.get_score(block.hash))), types).block
        assert type(again) is type(block) and again.hash == block.hash


def test_our_status_on_that_chain_carries_geths_fork_id(eth_chain):
    import json
    from conftest import shared_path
    recorded = next(json.loads(line[3:]) for line in shared_path(
        "conformance", "execution-apis", "tests", "eth_config", "get-config.io").read_text().splitlines()
        if line.startswith("<<"))["result"]["current"]
    status = local_status(eth_chain)
    assert eth_chain.head.timestamp >= recorded["activationTime"]
    assert "0x" + status.fork_id.hash.hex() == recorded["forkId"] and status.fork_id.next == 0
    assert (status.network_id, status.genesis) == (eth_chain.config.chain_id, eth_chain.genesis_hash)
