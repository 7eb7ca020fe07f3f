"""Block production: wait for the slot, take the pool's best transactions, build, seal, import, announce.

Modes, as anvil names them: interval mining (a block every `block_time` seconds, empty blocks too, as BSC does),
automine (`block_time` 0: a block as soon as transactions are pending), and, set by dev methods, neither (blocks
only on demand).
"""
from __future__ import annotations

import logging
import threading
import time
from typing import Callable

from eth.abc import BlockAPI, ReceiptAPI
from eth_keys.datatypes import PrivateKey

from node.chain import Chain
from node.clock import Clock

log = logging.getLogger("smartchain.producer")

BlockListener = Callable[[BlockAPI, tuple[ReceiptAPI, ...]], None]


class Producer:
    def __init__(self, chain: Chain, pool, key: PrivateKey, clock: Clock, block_time: float | None = None):
        self.chain = chain
        self.pool = pool
        self.key = key
        self.address = key.public_key.to_canonical_address()
        self.clock = clock
        self.period_ms = chain.engine.params.period * 1000
        self.automine = block_time == 0
        self.interval_ms: int | None = None if self.automine else max(
            int((block_time or 0) * 1000), self.period_ms)
        self.next_timestamp_ms: int | None = None   # dev mode's evm_setNextBlockTimestamp, used once
        self.listeners: list[BlockListener] = []
        self.lock = threading.RLock()   # held while a block is made; dev mode holds it to rewind or edit safely
        self._wake = threading.Event()
        self._stop = threading.Event()
        self._thread: threading.Thread | None = None
        self._last_ms = 0

    # -- lifecycle ---------------------------------------------------------------------------------------------------
    def start(self) -> None:
        self._stop.clear()
        self._thread = threading.Thread(target=self._run, name="producer", daemon=True)
        self._thread.start()

    def stop(self) -> None:
        self._stop.set()
        self._wake.set()
        if self._thread is not None:
            self._thread.join(timeout=30)
            self._thread = None

    def notify_pending(self, *_: object) -> None:
        """Called when the pool has a new executable transaction (automine seals on it)."""
        if self.automine:
            self._wake.set()

    def set_mode(self, automine: bool, interval_ms: int | None) -> None:
        """Mining mode as anvil switches it: automine, a block every `interval_ms`, or neither (blocks on demand)."""
        self.automine = automine
        self.interval_ms = None if automine or not interval_ms else max(interval_ms, self.period_ms)
        self._wake.set()

    def wake(self) -> None:
        """Re-read the mode and the clock now (after the mode or the time was changed)."""
        self._wake.set()

    def _run(self) -> None:
        while not self._stop.is_set():
            try:
                if self.automine:
                    self._wake.wait(0.5)
                    self._wake.clear()
                    while self.automine and self.pool.status()[0] and not self._stop.is_set():
                        if not self.produce_block().transactions:
                            break  # nothing pending was executable: wait for the next transaction
                elif self.interval_ms:
                    target = max(self.chain.engine.next_block_ms(self.chain.head), self._last_ms + self.interval_ms)
                    if self.clock.wait_until(target, self._wake):
                        self._wake.clear()
                        continue   # woken: mode, time or stop changed
                    self.produce_block()
                else:
                    self._wake.wait()
                    self._wake.clear()
            except Exception:  # the node keeps running; the next slot tries again
                log.exception("block production failed")
                self._stop.wait(1.0)

    # -- one block -------------------------------------------------------------------------------------------------
    def produce_block(self, timestamp_ms: int | None = None) -> BlockAPI:
        """Build, seal and import one block on the current head now."""
        with self.lock:
            started = time.perf_counter()
            head = self.chain.head
            if timestamp_ms is None:
                timestamp_ms, self.next_timestamp_ms = self.next_timestamp_ms, None
            now = self.clock.now_ms() if timestamp_ms is None else timestamp_ms
            fields = self.chain.engine.prepare(head, self.address, now)
            built = self.chain.build_block(head, fields, self.pool.pending_for_block())
            block = built.block.copy(header=self.chain.engine.seal(built.block.header, self.key))
            self.chain.mark_executed(block, built.receipts)
            self.chain.import_block(block, check_future=False)
            self._last_ms = now
            self.pool.on_new_head(block.transactions)
            for tx, reason in built.rejected:
                # invalid on the state it was built on (as geth's miner, drop it rather than retry it forever)
                self.pool.remove(tx.hash)
                log.info("dropped tx 0x%s: %s", tx.hash.hex(), reason)
            log.info("sealed block #%d txs=%d gas=%d hash=0x%s (%.0f ms)", block.number, len(block.transactions),
                     block.header.gas_used, block.hash.hex(), (time.perf_counter() - started) * 1000)
        for listener in list(self.listeners):
            try:
                listener(block, built.receipts)
            except Exception:
                log.exception("block listener failed")
        return block
