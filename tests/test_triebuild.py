"""node/triebuild.py: the one-pass trie gives HexaryTrie's roots and nodes, and py-evm's VM uses it for a block's
transaction and receipt roots."""
import random
from types import SimpleNamespace

import pytest
import rlp
from eth.db.trie import make_trie_root_and_nodes as pyevm_roots
from eth_utils import keccak
from trie import HexaryTrie

from chainkit import sign
from node.chain.triebuild import BLANK_ROOT, build_trie, list_values, make_trie_root_and_nodes
from node.txpool.validation import decode


def _key_sets():
    rnd = random.Random(5)
    yield "empty", {}
    yield "one", {b"\x01\x02": b"v"}
    # transaction/receipt tries: keys rlp(index), short values get embedded in their parents
    yield "tx-index", {rlp.encode(i): bytes([i % 7 + 1]) * (i % 40 + 1) for i in range(300)}
    # account tries: hashed keys, values longer than 32 bytes
    yield "hashed", {keccak(i.to_bytes(4, "big")): rnd.randbytes(70) for i in range(500)}
    # keys that are prefixes of others and share long runs of nibbles
    yield "prefixes", {bytes(rnd.randrange(3) for _ in range(rnd.randrange(1, 5))): rnd.randbytes(rnd.choice([1, 5, 40]))
                       for _ in range(200)}


@pytest.mark.parametrize("name, items", list(_key_sets()), ids=[n for n, _ in _key_sets()])
def test_one_pass_trie_equals_hexary_trie(name, items):
    reference = HexaryTrie({})
    for key, value in items.items():
        reference[key] = value
    nodes: dict[bytes, bytes] = {}
    root = build_trie(items.items(), nodes.__setitem__)
    assert root == reference.root_hash
    rebuilt = HexaryTrie(nodes, root)  # every node the lookups need was handed to put()
    for key, value in items.items():
        assert rebuilt[key] == value
    if not items:
        assert root == BLANK_ROOT


def test_one_pass_trie_refuses_duplicate_keys():
    with pytest.raises(ValueError, match="duplicate"):
        build_trie([(b"\x01", b"a"), (b"\x01", b"b")], {}.__setitem__)


def _transactions(count: int) -> list:
    key = SimpleNamespace(private_key=b"\x05" * 32)
    return [decode(sign(key, i, b"\x11" * 20, i, data=bytes(i % 50), gas=100_000, dynamic=i % 3 == 0))
            for i in range(count)]


@pytest.mark.parametrize("count", [0, 1, 2, 16, 17, 128, 129, 300])
def test_list_roots_equal_py_evms(count):
    from eth.vm.forks.prague.blocks import PragueReceiptBuilder
    from eth.rlp.logs import Log
    from eth.rlp.receipts import Receipt

    txs = _transactions(count)
    receipts = [PragueReceiptBuilder.decode(Receipt(state_root=b"\x01", gas_used=21000 * (i + 1),
                                                    logs=[Log(b"\x22" * 20, [i], b"x" * i)] * (i % 3)).encode())
                for i in range(count)]
    for items in (txs, receipts):
        assert make_trie_root_and_nodes(items) == pyevm_roots(items)
    if not count:
        assert make_trie_root_and_nodes(txs)[0] == BLANK_ROOT


@pytest.mark.parametrize("count", [0, 1, 2, 16, 17, 128, 129, 300])
def test_list_values_reads_every_item_in_index_order(count):
    txs = _transactions(count)
    root, nodes = pyevm_roots(txs)   # py-evm's own trie: embedded short nodes and all
    assert list_values(nodes, root) == [tx.encode() for tx in txs]
    assert [list_values(nodes, root)[i] == HexaryTrie(nodes, root)[rlp.encode(i)] for i in range(count)] == \
        [True] * count


def test_the_vm_computes_roots_with_the_one_pass_builder():
    import eth.vm.base
    from node.chain import evmchain   # importing it installs the builder

    assert eth.vm.base.make_trie_root_and_nodes is evmchain.triebuild.make_trie_root_and_nodes
    assert evmchain.triebuild.make_trie_root_and_nodes is make_trie_root_and_nodes
