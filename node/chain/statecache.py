"""What state tries hold, remembered by trie root across blocks and states: accounts by address under a state root,
storage slots under a storage root.

Every block opens fresh py-evm states, whose own caches start empty, so each block used to read every account,
slot and system contract it touched back through the trie (a few LMDB reads and RLP decodes per key: about a fifth of
sealing a one-transaction block). A trie's root fixes its whole contents, so a value read under a root is that root's
value for good, whichever state or thread read it, and nothing here is ever invalidated. When a block's changes turn
root R into R', what is known under R carries over to R' with the changes applied (`advance`), so the next block
finds its accounts warm; an older root that a dev-mode revert returns to keeps its own entries.

Bounded: the most recently used roots only, each with a bounded number of keys.
"""
from __future__ import annotations

import threading
from collections import OrderedDict
from typing import Iterable

MISSING = object()   # not known under that root (a key absent from the trie is known, as b"")
MAX_ROOTS = 32
MAX_KEYS = 4096


class StateCache:
    """key -> value under each trie root, for the most recently used roots. Thread-safe (the producer writes while
    RPC threads read)."""

    def __init__(self, max_roots: int = MAX_ROOTS, max_keys: int = MAX_KEYS) -> None:
        self.max_roots = max_roots
        self.max_keys = max_keys
        self._roots: OrderedDict[bytes, dict[bytes, bytes]] = OrderedDict()
        self._lock = threading.Lock()

    def get(self, root: bytes, key: bytes) -> bytes | object:
        """The value of `key` in the trie at `root`, or MISSING when not known here."""
        layer = self._roots.get(root)
        if layer is None:
            return MISSING
        return layer.get(key, MISSING)

    def put(self, root: bytes, key: bytes, value: bytes) -> None:
        """Remember `key`'s value read from the trie at `root`."""
        layer = self._roots.get(root)
        if layer is None:
            layer = self._layer(root, {})
        if len(layer) < self.max_keys:
            layer[key] = value

    def advance(self, old_root: bytes, new_root: bytes, changes: Iterable[tuple[bytes, bytes]]) -> None:
        """The trie at `new_root` is the trie at `old_root` with `changes` (key, value; b"" deletes) applied."""
        if old_root == new_root:
            return
        changes = list(changes)
        base = self._roots.get(old_root)
        layer = dict(base) if base else {}   # one C-level copy: atomic under the GIL while readers add keys
        layer.update(changes)
        if len(layer) > self.max_keys:   # too much to carry: the changes only
            layer = dict(changes[:self.max_keys])
        self._layer(new_root, layer)

    def _layer(self, root: bytes, layer: dict[bytes, bytes]) -> dict[bytes, bytes]:
        with self._lock:
            kept = self._roots.setdefault(root, layer)
            if kept is not layer:   # another thread made it first: one layer per root
                kept.update(layer)
            self._roots.move_to_end(root)
            while len(self._roots) > self.max_roots:
                self._roots.popitem(last=False)
            return kept

    def touch(self, root: bytes) -> None:
        """Mark `root` as recently used (a state opened on it), so its entries outlive newer, unused roots."""
        if root in self._roots:
            with self._lock:
                if root in self._roots:
                    self._roots.move_to_end(root)

    def __len__(self) -> int:
        return len(self._roots)


class StateCaches:
    """The two caches one store shares among all states opened on it."""

    def __init__(self) -> None:
        self.accounts = StateCache()   # state root -> address -> account RLP
        self.storage = StateCache()    # storage root -> keccak(slot) -> value RLP
