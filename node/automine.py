"""Answers that wait for the automined block holding a transaction: a send through an in-process provider (as
eth-tester and Hardhat answer: the test reads the new state right after `transact()`), and a receipt asked for a
transaction being mined (its first request finds it, instead of the client sleeping a polling interval); see
rpc/registry.py's SENDS.

One waits until the transaction has left the pool (mined, or dropped as invalid), or nothing executable is pending
(it waits on a nonce gap), or a block came out empty (what is pending cannot be included), or automine is off, or
MINED_TIMEOUT has passed. Waiting is by callback, so an event loop can wait without holding a thread.
"""
from __future__ import annotations

import asyncio
import threading
from typing import Any, Callable

MINED_TIMEOUT = 30.0   # s an answer waits for its automined block at most (then it answers anyway)


class MinedWait:
    """Who waits for which pending transaction; released from the producer's block events."""

    def __init__(self, producer: Any, pool: Any) -> None:
        self.producer = producer
        self.pool = pool
        self._lock = threading.Lock()
        self._waiting: dict[bytes, list[Callable[[], None]]] = {}
        producer.listeners.append(self._on_block)
        producer.mode_listeners.append(self._release_settled)

    def automining(self) -> bool:
        producer = self.producer
        return producer.automine and producer._thread is not None

    def settled(self, tx_hash: bytes) -> bool:
        """Whether an answer about `tx_hash` has nothing (more) to wait for."""
        return not (self.automining() and tx_hash in self.pool and self.pool.status()[0])

    def on_settled(self, tx_hash: bytes, callback: Callable[[], None]) -> bool:
        """Call `callback` once `tx_hash` settles (on the producer's thread); False, calling nothing, if it already
        has."""
        with self._lock:
            if self.settled(tx_hash):
                return False
            self._waiting.setdefault(tx_hash, []).append(callback)
            return True

    def forget(self, tx_hash: bytes, callback: Callable[[], None]) -> None:
        """Stop waiting with `callback` (its wait timed out)."""
        with self._lock:
            callbacks = self._waiting.get(tx_hash)
            if callbacks is not None and callback in callbacks:
                callbacks.remove(callback)
                if not callbacks:
                    del self._waiting[tx_hash]

    def wait(self, tx_hash: bytes, timeout: float = MINED_TIMEOUT) -> None:
        """Block the calling thread until `tx_hash` settles, at most `timeout` seconds."""
        done = threading.Event()
        if self.on_settled(tx_hash, done.set) and not done.wait(timeout):
            self.forget(tx_hash, done.set)

    def _on_block(self, block: Any, *_: Any) -> None:
        # an empty block: nothing pending could go in, and no later block will take it either
        self._release_settled(everyone=not block.transactions)

    def _release_settled(self, everyone: bool = False) -> None:
        with self._lock:
            if not self._waiting:
                return
            ready = [h for h in self._waiting if everyone or self.settled(h)]
            callbacks = [callback for h in ready for callback in self._waiting.pop(h)]
        for callback in callbacks:
            callback()

    async def wait_async(self, tx_hash: bytes, timeout: float = MINED_TIMEOUT) -> None:
        """As `wait`, on an event loop, holding no thread."""
        loop = asyncio.get_running_loop()
        settled = loop.create_future()

        def done() -> None:   # on the producer's thread
            try:
                loop.call_soon_threadsafe(_resolve, settled)
            except RuntimeError:   # the loop has closed: nobody waits any more
                pass
        if not self.on_settled(tx_hash, done):
            return
        try:
            await asyncio.wait_for(settled, timeout)
        except asyncio.TimeoutError:
            self.forget(tx_hash, done)


def _resolve(future: asyncio.Future) -> None:
    if not future.done():
        future.set_result(None)
