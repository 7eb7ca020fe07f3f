"""Dev mode's controls over the chain, as anvil and Hardhat offer them: mining on demand and its mode, time travel,
snapshots and reverts, direct state edits, and impersonated senders.

Every control takes the producer's lock, so it never interleaves with a block being made. State edits follow anvil:
no block is made, the head's state as every read sees it changes, and the next block written carries the edit.
"""
from __future__ import annotations

import logging
from dataclasses import dataclass
from typing import Callable

from eth.abc import BlockAPI, BlockHeaderAPI, SignedTransactionAPI, StateAPI
from eth_hash.auto import keccak
from eth_keys import keys

from consensus.engine import header_ms

log = logging.getLogger("smartchain.dev")

MS_PER_S = 1000
MAX_MINE = 10_000   # blocks one request may ask for; each is built and sealed for real
MAX_TIMESTAMP = 2**62   # s; far below the header's uint64, so later blocks can still follow
MAX_NONCE = 2**64 - 1   # EIP-2681


class DevError(Exception):
    """A dev request the node refuses; the message says why."""


@dataclass(frozen=True)
class Snapshot:
    head: BlockHeaderAPI
    head_edits: tuple
    offset_ms: int
    next_timestamp_ms: int | None


class DevTools:
    def __init__(self, node) -> None:
        self.node = node
        self.snapshots: dict[int, Snapshot] = {}
        self._next_snapshot = 0
        self.impersonated: set[bytes] = set()
        self.auto_impersonate = False

    @property
    def _lock(self):
        return self.node.producer.lock

    # -- mining ------------------------------------------------------------------------------------------------------
    def mine(self, blocks: int = 1, timestamp: int | None = None, interval: int | None = None) -> list[BlockAPI]:
        """Seal `blocks` blocks now; the first at `timestamp` (s) if given, the others `interval` s apart."""
        if blocks > MAX_MINE:
            raise DevError(f"cannot mine more than {MAX_MINE} blocks in one request (asked for {blocks})")
        if interval is not None and interval * blocks >= MAX_TIMESTAMP:
            raise DevError(f"interval {interval} s is too large")
        made = []
        with self._lock:
            if timestamp is not None:
                self.set_next_block_timestamp(timestamp)
            for i in range(blocks):
                at = None
                if i and interval is not None:
                    at = header_ms(made[-1].header) + max(interval * MS_PER_S, self._period_ms)
                    self._move_clock_to(at)
                made.append(self.node.producer.produce_block(at))
        return made

    def set_automine(self, enabled: bool) -> None:
        producer = self.node.producer
        producer.set_mode(enabled, None if enabled else producer.interval_ms)
        log.info("automine %s", "on" if enabled else "off")

    def set_interval_mining(self, seconds: int) -> None:
        """A block every `seconds` (at least the chain's period); 0 turns interval mining off."""
        self.node.producer.set_mode(False, seconds * MS_PER_S)
        log.info("interval mining %s", f"every {seconds} s" if seconds else "off")

    # -- time --------------------------------------------------------------------------------------------------------
    def increase_time(self, seconds: int) -> int:
        """Move the node's clock forward; returns the total offset in seconds (anvil's answer)."""
        with self._lock:
            if self.node.clock.now_ms() // MS_PER_S + seconds >= MAX_TIMESTAMP:
                raise DevError(f"cannot increase time by {seconds} s: timestamps would pass {MAX_TIMESTAMP}")
            self.node.clock.offset_ms += seconds * MS_PER_S
        self.node.producer.wake()
        return self.node.clock.offset_ms // MS_PER_S

    def set_next_block_timestamp(self, timestamp: int) -> None:
        """The next block carries `timestamp` (s); time goes on from there, as in anvil."""
        if timestamp >= MAX_TIMESTAMP:
            raise DevError(f"Timestamp error: {timestamp} is too large (at most {MAX_TIMESTAMP - 1})")
        with self._lock:
            earliest = self.node.chain.engine.next_block_ms(self.node.chain.head)
            if timestamp * MS_PER_S < earliest:
                head = self.node.chain.head
                raise DevError(
                    f"Timestamp error: {timestamp} is lower than the earliest next block time {-(-earliest // 1000)}"
                    f" (block {head.block_number} at {head.timestamp} + the {self._period_ms // 1000} s period)")
            self._move_clock_to(timestamp * MS_PER_S)
            self.node.producer.next_timestamp_ms = timestamp * MS_PER_S
        self.node.producer.wake()

    def _move_clock_to(self, ms: int) -> None:
        clock = self.node.clock
        clock.offset_ms += ms - clock.now_ms()

    @property
    def _period_ms(self) -> int:
        return self.node.producer.period_ms

    # -- snapshots ---------------------------------------------------------------------------------------------------
    def snapshot(self) -> int:
        with self._lock:
            snap_id = self._next_snapshot
            self._next_snapshot += 1
            self.snapshots[snap_id] = Snapshot(self.node.chain.head, self.node.chain.head_edits,
                                               self.node.clock.offset_ms, self.node.producer.next_timestamp_ms)
        return snap_id

    def revert(self, snap_id: int) -> bool:
        """Back to snapshot `snap_id`: its head, state edits and clock; it and later snapshots are used up.
        False for an unknown id (anvil's answer)."""
        with self._lock:
            snap = self.snapshots.get(snap_id)
            if snap is None:
                return False
            chain = self.node.chain
            removed = chain.rewind(snap.head)
            chain.head_edits = snap.head_edits
            self.node.clock.offset_ms = snap.offset_ms
            self.node.producer.next_timestamp_ms = snap.next_timestamp_ms
            self.snapshots = {k: v for k, v in self.snapshots.items() if k < snap_id}
            self.node.pool.on_new_head(())   # senders' nonces went back: re-sort the pool against the old state
        log.info("reverted to snapshot %d: block #%d, %d blocks dropped", snap_id, snap.head.block_number,
                 len(removed))
        self.node.producer.wake()
        return True

    # -- state edits -------------------------------------------------------------------------------------------------
    def set_balance(self, address: bytes, balance: int) -> None:
        self._edit(lambda state: state.set_balance(address, balance))

    def set_nonce(self, address: bytes, nonce: int) -> None:
        if nonce > MAX_NONCE:
            raise DevError(f"nonce {nonce} is too large (EIP-2681: at most 2^64-1)")
        self._edit(lambda state: state.set_nonce(address, nonce))

    def set_code(self, address: bytes, code: bytes) -> None:
        self._edit(lambda state: state.set_code(address, code))

    def set_storage(self, address: bytes, slot: int, value: int) -> None:
        self._edit(lambda state: state.set_storage(address, slot, value))

    def _edit(self, edit: Callable[[StateAPI], None]) -> None:
        with self._lock:
            self.node.chain.edit_head_state(edit)
            self.node.pool.on_new_head(())   # balances or nonces may have changed what is executable
        self.node.producer.notify_pending()

    # -- impersonation -----------------------------------------------------------------------------------------------
    def impersonate(self, address: bytes) -> None:
        self.impersonated.add(address)

    def stop_impersonating(self, address: bytes) -> None:
        self.impersonated.discard(address)

    def is_impersonated(self, address: bytes) -> bool:
        return self.auto_impersonate or address in self.impersonated


def impersonation_key(address: bytes) -> keys.PrivateKey:
    """A key nobody holds, one per impersonated address: it signs the transaction's bytes (so each impersonated
    transaction has a valid encoding and its own hash) while the sender is set to the impersonated address."""
    return keys.PrivateKey(keccak(b"smartchain impersonation" + address))


def as_impersonated(tx: SignedTransactionAPI, sender: bytes) -> SignedTransactionAPI:
    """`tx` with its sender taken to be `sender`: py-evm caches `sender` per transaction object, and the pool, the
    block builder and the indexes all use this object, so the signature is never recovered for it."""
    tx.__dict__["sender"] = sender
    return tx
