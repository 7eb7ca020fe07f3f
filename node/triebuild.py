"""A Merkle-Patricia trie built in one pass from sorted keys, instead of one insertion at a time.

HexaryTrie re-reads and rewrites the path of every key it inserts, which makes a million-account state take
minutes. When all keys are known up front, each node can be written exactly once: sort the keys, then split
ranges on their first differing nibble (a branch), their shared nibbles (an extension), or a single key (a leaf).
The result is byte-identical to HexaryTrie's (tests/test_triebuild.py checks it), nodes shorter than 32 bytes
are embedded in their parent as the Yellow Paper says, and only hashed nodes are handed to `put`.

Used for a block's transaction and receipt roots (`make_trie_root_and_nodes`, in place of py-evm's, which inserts
500 items one by one: ~69 ms against ~8 ms here) and by the benchmarks to write a million-account genesis state.
"""
from __future__ import annotations

import functools
import itertools
import os
from bisect import bisect_left
from collections.abc import Callable, Iterable, Sequence

import rlp
from eth_utils import keccak

BLANK_ROOT = keccak(rlp.encode(b""))
_NEXT_NIBBLE = {c: n for c, n in zip("0123456789abcde", "123456789abcdef")}

Put = Callable[[bytes, bytes], None]


def _hex_prefix(nibbles: str, leaf: bool) -> bytes:
    flag = 2 if leaf else 0
    if len(nibbles) % 2:
        return bytes.fromhex(f"{flag + 1:x}{nibbles}")
    return bytes.fromhex(f"{flag:x}0{nibbles}")


class _Builder:
    def __init__(self, keys: list[str], values: list[bytes], put: Put):
        self.keys, self.values, self.put = keys, values, put

    def ref(self, node: list) -> list | bytes:
        """How a parent points at `node`: embedded when its RLP is under 32 bytes, else by hash."""
        encoded = rlp.encode(node)
        if len(encoded) < 32:
            return node
        digest = keccak(encoded)
        self.put(digest, encoded)
        return digest

    def node(self, lo: int, hi: int, depth: int) -> list:
        """The node for keys[lo:hi], which share their first `depth` nibbles."""
        keys = self.keys
        first = keys[lo]
        if hi - lo == 1:
            return [_hex_prefix(first[depth:], True), self.values[lo]]
        shared = len(os.path.commonprefix([first, keys[hi - 1]]))  # sorted: first and last bound the range
        if shared > depth:
            return [_hex_prefix(first[depth:shared], False), self.ref(self.node(lo, hi, shared))]
        branch: list = [b""] * 17
        if len(first) == depth:  # a key ending here keeps its value in the branch
            branch[16] = self.values[lo]
            lo += 1
        while lo < hi:
            nibble = keys[lo][depth]
            nxt = _NEXT_NIBBLE.get(nibble)
            end = hi if nxt is None else bisect_left(keys, keys[lo][:depth] + nxt, lo, hi)
            branch[int(nibble, 16)] = self.ref(self.node(lo, end, depth + 1))
            lo = end
        return branch


def build_trie(items: Iterable[tuple[bytes, bytes]], put: Put) -> bytes:
    """The root hash of the trie holding `items` (key, value); every hashed node goes to `put(hash, rlp)`.

    Keys must be distinct; values must be non-empty (an empty value means "absent" in a trie).
    """
    pairs = sorted((key.hex(), value) for key, value in items)
    if not pairs:
        return BLANK_ROOT
    keys = [k for k, _ in pairs]
    if any(a == b for a, b in itertools.pairwise(keys)):
        raise ValueError("duplicate trie key")
    builder = _Builder(keys, [v for _, v in pairs], put)
    encoded = rlp.encode(builder.node(0, len(keys), 0))
    root = keccak(encoded)
    put(root, encoded)  # the root is stored by hash even when it is short
    return root


def make_trie_root_and_nodes(items: Sequence) -> tuple[bytes, dict[bytes, bytes]]:
    """py-evm's `eth.db.trie.make_trie_root_and_nodes`, built in one pass: the root of the trie of `items` (each
    `.encode()`d) keyed by rlp(index), and its hashed nodes."""
    return _list_root(tuple(item.encode() for item in items))


@functools.lru_cache(128)   # as py-evm's: a block's roots are asked for again when it is validated
def _list_root(encoded: tuple[bytes, ...]) -> tuple[bytes, dict[bytes, bytes]]:
    nodes: dict[bytes, bytes] = {}
    root = build_trie(((rlp.encode(i), value) for i, value in enumerate(encoded)), nodes.__setitem__)
    return root, nodes


def list_values(db, root: bytes) -> list[bytes]:
    """Every item of a list trie (a block's transactions or receipts: keys rlp(0), rlp(1) ...) in index order, with
    each node read and decoded once; looking the items up one index at a time re-reads the upper nodes for each
    (500 items: ~45 ms that way, ~8 ms here)."""
    found: list[tuple[str, bytes]] = []

    def visit(ref: bytes | list, path: str) -> None:
        node = ref if isinstance(ref, list) else rlp.decode(db[ref])
        if len(node) == 17:
            for nibble, child in enumerate(node[:16]):
                if child != b"":
                    visit(child, path + "0123456789abcdef"[nibble])
            if node[16]:
                found.append((path, node[16]))
            return
        prefix = node[0].hex()
        flag = int(prefix[0], 16)
        nibbles = prefix[1 if flag & 1 else 2:]
        if flag & 2:
            found.append((path + nibbles, node[1]))
        else:
            visit(node[1], path + nibbles)

    if root != BLANK_ROOT:
        visit(root, "")
    by_index = {rlp.decode(bytes.fromhex(path), sedes=rlp.sedes.big_endian_int): value for path, value in found}
    return [by_index[i] for i in range(len(by_index))]
