"""Apply a whole set of changes to a stored Merkle-Patricia trie in one pass: each touched node rebuilt and hashed once.

`HexaryTrie.set` walks from the root for every key and re-encodes and re-hashes the whole path each time, so a block
that changes 1,000 accounts hashes the root and the upper branches 1,000 times. Here the changed keys are sorted and
the trie is walked once: a node under which nothing changes keeps its reference unread; a node under which something
changes is read once, rebuilt once from its new children and hashed once. Deletions are done in the same pass,
including the collapses HexaryTrie makes (a branch left with one child becomes an extension or absorbs a leaf or an
extension below it; reading that child from the db, as HexaryTrie does). Subtrees made from scratch (under a blank
or a replaced leaf) come from the one-pass builder of `node/triebuild.py`.

The node format is py-evm's (py-trie's): a node whose RLP is under 32 bytes is embedded in its parent, the root is
always stored by hash, the blank trie is keccak(rlp(b"")) and is not stored. The new root and its hashed nodes are
exactly HexaryTrie's (tests/test_trieupdate.py compares them on random change sets); only the nodes of the new trie
are written (HexaryTrie with pruning writes the same set), old nodes are left in the db.
"""
from __future__ import annotations

from bisect import bisect_left
from collections.abc import Iterable, MutableMapping

import rlp
from trie.exceptions import MissingTrieNode

from node.chain.triebuild import BLANK_ROOT, Builder, child_ranges, hex_prefix, node_path, node_ref, store_root

Node = list | bytes   # a decoded node: a list (leaf/extension: 2 items, branch: 17) or b"" (blank)


class _Updater:
    def __init__(self, db: MutableMapping[bytes, bytes], root: bytes, keys: list[str], values: list[bytes],
                 raw_keys: list[bytes]):
        self.db, self.root, self.keys, self.values, self.raw_keys = db, root, keys, values, raw_keys

    def put(self, digest: bytes, encoded: bytes) -> None:
        self.db[digest] = encoded

    def ref(self, node: list) -> list | bytes:
        return node_ref(node, self.put)

    def load(self, ref: list | bytes, lo: int) -> Node:
        """The node a parent's `ref` points at (`lo`: the first change under it, for the missing-node error)."""
        if isinstance(ref, list) or ref == b"":
            return ref
        try:
            return rlp.decode(self.db[ref])
        except KeyError:
            raise MissingTrieNode(ref, self.root, self.raw_keys[lo]) from None

    def fresh(self, keys: list[str], values: list[bytes], depth: int) -> Node:
        """A subtree made from scratch of the items with a value (an empty value is a deletion: left out)."""
        kept = [i for i, value in enumerate(values) if value]
        if not kept:
            return b""
        if len(kept) < len(values):
            keys, values = [keys[i] for i in kept], [values[i] for i in kept]
        return Builder(keys, values, self.put).node(0, len(keys), depth)

    def update(self, node: Node, lo: int, hi: int, depth: int) -> Node:
        """`node` (at `depth` nibbles) with the changes keys[lo:hi] applied, all of which pass through it."""
        keys, values = self.keys, self.values
        if node == b"":
            return self.fresh(keys[lo:hi], values[lo:hi], depth)
        if len(node) == 17:
            return self.branch(node[:16], node[16], lo, hi, depth)
        path, leaf = node_path(node)
        if leaf:
            own = keys[lo][:depth] + path
            merged_keys, merged_values = keys[lo:hi], values[lo:hi]
            at = bisect_left(merged_keys, own)
            if at == len(merged_keys) or merged_keys[at] != own:   # the leaf's own item, unless a change replaces it
                merged_keys.insert(at, own)
                merged_values.insert(at, node[1])
            return self.fresh(merged_keys, merged_values, depth)
        end = depth + len(path)
        if keys[lo][depth:end] == path and keys[hi - 1][depth:end] == path:   # sorted: first and last bound the rest
            child = self.update(self.load(node[1], lo), lo, hi, end)
            return self.extend(path, child)
        # some change leaves the extension's path: it becomes a branch at its first nibble
        slots: list = [b""] * 16
        rest = path[1:]
        slots[int(path[0], 16)] = [hex_prefix(rest, False), node[1]] if rest else node[1]
        return self.branch(slots, b"", lo, hi, depth)

    def branch(self, slots: list, value: bytes, lo: int, hi: int, depth: int) -> Node:
        """A branch with child references `slots` and `value`, with keys[lo:hi] applied, collapsed as needed.

        A slot may hold a node list not yet referenced (an extension shortened by `update`); `ref` embeds or
        stores it like any new node."""
        keys, values = self.keys, self.values
        changed: dict[int, Node] = {}
        if len(keys[lo]) == depth:   # sorted: a key ending here comes first; it is the branch's own value
            value = values[lo]
            lo += 1
        for index, start, end in child_ranges(keys, lo, hi, depth):
            changed[index] = self.update(self.load(slots[index], start), start, end, depth + 1)
        for index, child in changed.items():
            slots[index] = child
        occupied = [index for index in range(16) if slots[index] != b""]
        if len(occupied) + (value != b"") > 1:
            return [self.ref(slots[i]) if i in changed or isinstance(slots[i], list) else slots[i]
                    for i in range(16)] + [value]
        if value:
            return [hex_prefix("", True), value]
        if not occupied:
            return b""
        # one child left: HexaryTrie reads it to merge it into an extension or leaf (as here, from the db)
        index = occupied[0]
        child = slots[index] if index in changed else self.load(slots[index], hi - 1)
        return self.extend("%x" % index, child, None if index in changed else slots[index])

    def extend(self, path: str, child: Node, child_ref: list | bytes | None = None) -> Node:
        """The node for `path` followed by `child`: a longer leaf or extension when the child is one, else an
        extension to the branch (by `child_ref` when the child is an unchanged stored one)."""
        if child == b"":
            return b""
        if len(child) == 17:
            return [hex_prefix(path, False), self.ref(child) if child_ref is None else child_ref]
        own, leaf = node_path(child)
        return [hex_prefix(path + own, leaf), child[1]]


def update_trie(db: MutableMapping[bytes, bytes], root: bytes,
                changes: Iterable[tuple[bytes, bytes | None]]) -> bytes:
    """The root of the trie at `root` in `db` after `changes` (key, value; b"" or None deletes the key), which
    writes the new trie's hashed nodes to `db`. Keys are used as given (hash them first for a secure trie);
    each key at most once. The result is HexaryTrie's root for the same sets and deletes, in any order."""
    items = sorted((key.hex(), key, value or b"") for key, value in changes)
    if not items:
        return root
    keys = [item[0] for item in items]
    if any(a == b for a, b in zip(keys, keys[1:])):
        raise ValueError("a key changes twice")
    updater = _Updater(db, root, keys, [item[2] for item in items], [item[1] for item in items])
    node = b"" if root == BLANK_ROOT else updater.load(root, 0)
    new = updater.update(node, 0, len(keys), 0)
    if new == b"":
        return BLANK_ROOT
    return store_root(new, db.__setitem__)
