"""Run a measurement in a fresh interpreter, so no cache of an earlier one helps it.

py-evm memoises transaction and receipt roots (`eth.db.trie._make_trie_root_and_nodes` is an lru_cache keyed by
the encoded items) and the trie library memoises node encodings. The ceiling, the in-process producer and the
follower execute the very same transactions, so in one process each later one would find the earlier one's
roots cached, and a repeat would find its own. Each measurement therefore runs in its own spawned process.
"""
from __future__ import annotations

import multiprocessing
from collections.abc import Callable
from concurrent.futures import ProcessPoolExecutor
from typing import Any, TypeVar

T = TypeVar("T")


def fresh(fn: Callable[..., T], *args: Any, **kwargs: Any) -> T:
    """`fn(*args, **kwargs)` in a newly spawned process (fn must be importable, args picklable)."""
    with ProcessPoolExecutor(max_workers=1, mp_context=multiprocessing.get_context("spawn")) as pool:
        return pool.submit(fn, *args, **kwargs).result()
