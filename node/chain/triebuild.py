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
from collections.abc import Callable, Iterable, Iterator, Sequence

import rlp
from eth_utils import keccak
from rlp.codec import encode_raw

BLANK_ROOT = keccak(rlp.encode(b""))
_NEXT_NIBBLE = {c: n for c, n in zip("0123456789abcde", "123456789abcdef")}
_LEAF_FLAGS = frozenset("23")
_ODD_FLAGS = frozenset("13")

Put = Callable[[bytes, bytes], None]


def hex_prefix(nibbles: str, leaf: bool) -> bytes:
    """A leaf's or extension's path (hex digits) in the trie's compact encoding."""
    flag = 2 if leaf else 0
    if len(nibbles) % 2:
        return bytes.fromhex(f"{flag + 1:x}{nibbles}")
    return bytes.fromhex(f"{flag:x}0{nibbles}")


def node_path(node: list) -> tuple[str, bool]:
    """A decoded leaf's or extension's path (hex digits) and whether it is a leaf."""
    encoded = node[0].hex()
    flag = encoded[0]
    return (encoded[1:] if flag in _ODD_FLAGS else encoded[2:]), flag in _LEAF_FLAGS


def node_ref(node: list, put: Put) -> list | bytes:
    """How a parent points at `node`: embedded when its RLP is under 32 bytes, else by its hash, stored with `put`.
    (Nodes are lists of bytes: rlp's encode_raw needs none of rlp.encode's sedes inference.)"""
    encoded = encode_raw(node)
    if len(encoded) < 32:
        return node
    digest = keccak(encoded)
    put(digest, encoded)
    return digest


def store_root(node: list, put: Put) -> bytes:
    """The root's hash; the root is stored by hash even when it is short."""
    encoded = encode_raw(node)
    root = keccak(encoded)
    put(root, encoded)
    return root


def child_ranges(keys: list[str], lo: int, hi: int, depth: int) -> Iterator[tuple[int, int, int]]:
    """(nibble, start, end) for each run of the sorted keys[lo:hi] that share their nibble at `depth`."""
    while lo < hi:
        nibble = keys[lo][depth]
        nxt = _NEXT_NIBBLE.get(nibble)
        end = hi if nxt is None else bisect_left(keys, keys[lo][:depth] + nxt, lo, hi)
        yield int(nibble, 16), lo, end
        lo = end


class Builder:
    """The nodes of a trie made from scratch of sorted, distinct `keys` (hex digits) and their `values`."""

    def __init__(self, keys: list[str], values: list[bytes], put: Put):
        self.keys, self.values, self.put = keys, values, put

    def ref(self, node: list) -> list | bytes:
        return node_ref(node, self.put)

    def node(self, lo: int, hi: int, depth: int) -> list:
        """The node for keys[lo:hi], which share their first `depth` nibbles."""
        keys = self.keys
        first = keys[lo]
        if hi - lo == 1:
            return [hex_prefix(first[depth:], True), self.values[lo]]
        shared = len(os.path.commonprefix([first, keys[hi - 1]]))  # sorted: first and last bound the range
        if shared > depth:
            return [hex_prefix(first[depth:shared], False), self.ref(self.node(lo, hi, shared))]
        branch: list = [b""] * 17
        if len(first) == depth:  # a key ending here keeps its value in the branch
            branch[16] = self.values[lo]
            lo += 1
        for nibble, start, end in child_ranges(keys, lo, hi, depth):
            branch[nibble] = self.ref(self.node(start, end, depth + 1))
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
    return store_root(Builder(keys, [v for _, v in pairs], put).node(0, len(keys), 0), put)


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
        nibbles, leaf = node_path(node)
        if leaf:
            found.append((path + nibbles, node[1]))
        else:
            visit(node[1], path + nibbles)

    if root != BLANK_ROOT:
        visit(root, "")
    by_index = {rlp.decode(bytes.fromhex(path), sedes=rlp.sedes.big_endian_int): value for path, value in found}
    return [by_index[i] for i in range(len(by_index))]
