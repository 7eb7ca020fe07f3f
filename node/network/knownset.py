"""A bounded set of recently seen hashes: what a peer is known to have (blocks, transactions), oldest forgotten
first, as geth's per-peer `knownCache`."""
from __future__ import annotations

from collections import OrderedDict
from typing import Iterable

MAX_KNOWN_BLOCKS = 1024        # geth's maxKnownBlocks
MAX_KNOWN_TXS = 32768          # geth's maxKnownTxs


class KnownSet:
    """Insertion-ordered set that keeps at most `limit` items."""

    def __init__(self, limit: int) -> None:
        self.limit = limit
        self._items: OrderedDict[bytes, None] = OrderedDict()

    def add(self, item: bytes) -> None:
        self._items[item] = None
        self._items.move_to_end(item)
        while len(self._items) > self.limit:
            self._items.popitem(last=False)

    def update(self, items: Iterable[bytes]) -> None:
        for item in items:
            self.add(item)

    def discard(self, item: bytes) -> None:
        self._items.pop(item, None)

    def __contains__(self, item: object) -> bool:
        return item in self._items

    def __len__(self) -> int:
        return len(self._items)
