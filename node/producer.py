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

from eth.abc import BlockAPI, BlockHeaderAPI, ReceiptAPI
from eth_keys.datatypes import PrivateKey

from node.chain.chain import Chain, ImportResult
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
        self.listeners: list[BlockListener] = []                       # each block that joins the canonical chain
        self.removed_listeners: list[Callable[[BlockAPI], None]] = []   # each block a reorg takes off it, oldest first
        self.mode_listeners: list[Callable[[], None]] = []   # the mining mode changed, or production stopped
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
        self._mode_changed()

    def _mode_changed(self) -> None:
        for listener in list(self.mode_listeners):
            self._call(listener)

    def notify_pending(self, *_: object) -> None:
        """Called when the pool has a new executable transaction (automine seals on it)."""
        if self.automine:
            self._wake.set()

    def set_mode(self, automine: bool, interval_ms: int | None) -> None:
        """Mining mode as anvil switches it: automine, a block every `interval_ms`, or neither (blocks on demand)."""
        self.automine = automine
        self.interval_ms = None if automine or not interval_ms else max(interval_ms, self.period_ms)
        self._wake.set()
        self._mode_changed()

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
                    head = self.chain.head
                    own_slot = self.chain.engine.next_block_ms(head, self.address)
                    if own_slot is None:   # not ours to seal (signed recently, or not a validator): next head
                        self._wake.wait()
                        self._wake.clear()
                        continue
                    target = max(own_slot, self._last_ms + self.interval_ms)
                    if self.clock.wait_until(target, self._wake):
                        self._wake.clear()
                        continue   # woken: mode, time or stop changed
                    self.produce_block(parent=head)
                else:
                    self._wake.wait()
                    self._wake.clear()
            except Exception:  # the node keeps running; the next slot tries again
                log.exception("block production failed")
                self._stop.wait(1.0)

    # -- one block -------------------------------------------------------------------------------------------------
    def produce_block(self, timestamp_ms: int | None = None, parent: BlockHeaderAPI | None = None) -> BlockAPI | None:
        """Build, seal and import one block on the current head now. `parent`: only on that head (the one whose slot
        was waited for); None, sealing nothing, if a peer's block has become the head meanwhile: that head's slot is
        later, and stamping its child now would make a future block."""
        with self.lock:
            started = time.perf_counter()
            head = self.chain.head
            if parent is not None and head.hash != parent.hash:
                return None
            if timestamp_ms is None:
                timestamp_ms, self.next_timestamp_ms = self.next_timestamp_ms, None
            now = self.clock.now_ms() if timestamp_ms is None else timestamp_ms
            # one LMDB write transaction for the whole block: a snapshot checkpoint prepare may store, the state,
            # transaction and receipt tries the build writes, then the header, body, indexes and head pointer (one
            # commit, one fsync, instead of one per py-evm batch); a failure leaves nothing of the block stored
            with self.chain.db.transaction():
                fields = self.chain.engine.prepare(head, self.address, now)
                built = self.chain.build_block(head, fields, self.pool.pending_for_block())
                # the built transaction objects, not deep copies: their senders were recovered in the pool
                block = built.block.copy(header=self.chain.engine.seal(built.block.header, self.key),
                                         transactions=built.block.transactions)
                self.chain.mark_executed(block, built.receipts)
                result = self.chain.import_block(block, check_future=False)
            self._last_ms = now
            self._update_pool(result)
            for tx, reason in built.rejected:
                # invalid on the state it was built on (as geth's miner, drop it rather than retry it forever)
                self.pool.remove(tx.hash)
                log.info("dropped tx 0x%s: %s", tx.hash.hex(), reason)
            log.info("sealed block #%d txs=%d gas=%d hash=0x%s (%.0f ms)", block.number, len(block.transactions),
                     block.header.gas_used, block.hash.hex(), (time.perf_counter() - started) * 1000)
        self._notify(result, {block.hash: built.receipts})
        return block

    # -- peers' blocks ---------------------------------------------------------------------------------------------
    def import_block(self, block: BlockAPI) -> ImportResult:
        """A block from elsewhere, through the chain's single import path; the pool and the listeners hear of the
        new head, and of a reorg: dropped blocks' transactions go back to the pool, their logs are removed."""
        with self.lock:
            result = self.chain.import_block(block)
            self._update_pool(result)
            if result.new_canonical:
                log.info("imported block #%d hash=0x%s%s", block.number, block.hash.hex(),
                         f" (reorg: {len(result.old_canonical)} blocks dropped)" if result.old_canonical else "")
        self._notify(result, {})
        self._wake.set()   # a new head: the next slot is counted from it
        return result

    def _update_pool(self, result: ImportResult) -> None:
        if not result.new_canonical and not result.old_canonical:
            return
        included = [tx for b in result.new_canonical for tx in b.transactions]
        kept = {tx.hash for tx in included}
        returned = [tx for b in result.old_canonical for tx in b.transactions if tx.hash not in kept]
        self.pool.on_new_head(included, returned)

    def _notify(self, result: ImportResult, receipts: dict[bytes, tuple[ReceiptAPI, ...]]) -> None:
        for old in result.old_canonical:
            for listener in list(self.removed_listeners):
                self._call(listener, old)
        for new in result.new_canonical:
            block_receipts = receipts[new.hash] if new.hash in receipts else self.chain.receipts(new.header)
            for listener in list(self.listeners):
                self._call(listener, new, block_receipts)

    @staticmethod
    def _call(listener: Callable, *args: object) -> None:
        try:
            listener(*args)
        except Exception:
            log.exception("block listener failed")
