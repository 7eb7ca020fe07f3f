"""Test isolation on one dev node: nested snapshots by pytest scope, and Hardhat's loadFixture.

`Isolation` keeps a stack of frames, one per open pytest scope (session, package, module, class, test). A frame
takes an `evm_snapshot` when it opens and reverts to it when it closes, so what a module-scoped fixture made stays
for that module's tests and what a test changed is gone for the next. What evm_revert leaves alone is put back too
(`DevState`): the mining mode, impersonations, and transactions still in the pool that the scope sent. Frames opened
before the chain exists take their snapshots when it starts (the chain they would have seen is the fresh one):
opening a frame never starts a chain. Snapshot ids nest as DevTools hands them out: reverting to a frame's id also
drops every inner one.

`FixtureCache.load(fn)` runs `fn` once, then on later calls from the same starting state brings back the blocks it
made (kept in the db after a revert) instead of running it again: each block is persisted anew with its receipts,
as the producer persists a block it sealed, so nothing is executed twice and dev edits inside `fn` survive.
"""
from __future__ import annotations

import logging
from dataclasses import dataclass, field
from typing import TYPE_CHECKING, Any, Callable

if TYPE_CHECKING:   # imported lazily: the pytest plugin loads this module in every test run
    from eth.abc import BlockAPI, ReceiptAPI

    from node.node import Node

log = logging.getLogger("smartchain.testing")


@dataclass(frozen=True)
class DevState:
    """What a frame restores besides the snapshot: the mining mode, impersonations, the pool's transactions."""

    automine: bool
    interval_ms: int | None
    impersonated: frozenset[bytes]
    auto_impersonate: bool
    pooled: frozenset[bytes]

    @classmethod
    def of(cls, node: Node) -> "DevState":
        producer = node.producer
        return cls(producer.automine, producer.interval_ms, frozenset(node.dev.impersonated),
                   node.dev.auto_impersonate, frozenset(_pooled(node)))

    def restore(self, node: Node) -> None:
        for tx_hash in _pooled(node) - self.pooled:
            node.pool.remove(tx_hash)
        node.dev.impersonated = set(self.impersonated)
        node.dev.auto_impersonate = self.auto_impersonate
        producer = node.producer
        if (producer.automine, producer.interval_ms) != (self.automine, self.interval_ms):
            producer.set_mode(self.automine, self.interval_ms)


def _pooled(node: Node) -> set[bytes]:
    pending, queued = node.pool.content()
    return {tx.hash for by_nonce in (*pending.values(), *queued.values()) for tx in by_nonce.values()}


@dataclass
class Frame:
    scope: str
    snapshot: int | None = None
    dev: DevState | None = None


class Isolation:
    """The open frames of one test session, over the node once it is attached."""

    def __init__(self) -> None:
        self.node: Node | None = None
        self.frames: list[Frame] = []

    def attach(self, node: Node) -> None:
        """The chain has started: every open frame snapshots it now."""
        self.node = node
        for frame in self.frames:
            frame.snapshot, frame.dev = node.dev.snapshot(), DevState.of(node)

    def detach(self) -> None:
        self.node = None
        for frame in self.frames:
            frame.snapshot, frame.dev = None, None

    def push(self, scope: str) -> Frame:
        frame = Frame(scope)
        if self.node is not None:
            frame.snapshot, frame.dev = self.node.dev.snapshot(), DevState.of(self.node)
        self.frames.append(frame)
        return frame

    def pop(self, frame: Frame) -> None:
        """Close `frame` (and any frame opened inside it and left open): the chain goes back to its snapshot."""
        if frame not in self.frames:
            return
        del self.frames[self.frames.index(frame):]
        node = self.node
        if node is None or frame.snapshot is None:
            return
        with node.producer.lock:   # nothing is sealed between the revert and the pool's clean-up
            reverted = node.dev.revert(frame.snapshot)
            frame.dev.restore(node)
        if not reverted:
            raise IsolationError(f"snapshot {frame.snapshot} of the {frame.scope} scope is gone: something "
                                 "reverted past it (evm_revert to an older id inside a test?)")


class IsolationError(Exception):
    """The chain cannot be put back as the scope found it."""


@dataclass(frozen=True)
class ChainMark:
    """What a revert restores: the head, its pending dev edits, the dev clock."""

    head_hash: bytes
    head_number: int
    head_edits: tuple
    offset_ms: int
    next_timestamp_ms: int | None

    @classmethod
    def of(cls, node: Node) -> "ChainMark":
        head = node.chain.head
        return cls(head.hash, head.block_number, node.chain.head_edits, node.clock.offset_ms,
                   node.producer.next_timestamp_ms)


@dataclass
class _Loaded:
    before: ChainMark
    after: ChainMark
    blocks: list[tuple[BlockAPI, tuple[ReceiptAPI, ...]]]
    result: Any


@dataclass
class FixtureCache:
    """Hardhat's loadFixture over one node: `load(fn)` runs `fn` the first time, then restores its outcome."""

    node: Node
    loaded: dict[Callable[[], Any], _Loaded] = field(default_factory=dict)

    def load(self, fn: Callable[[], Any]) -> Any:
        now = ChainMark.of(self.node)
        entry = self.loaded.get(fn)
        if entry is not None and entry.before == now and self._restore(entry):
            return entry.result
        made: dict[bytes, tuple[BlockAPI, tuple[ReceiptAPI, ...]]] = {}
        unsubscribe = self.node.subscribe(on_block=lambda block, receipts: made.__setitem__(block.hash,
                                                                                            (block, receipts)))
        try:
            result = fn()
        finally:
            unsubscribe()
        after = ChainMark.of(self.node)
        blocks = self._blocks_since(now, made)
        if blocks is not None:
            self.loaded[fn] = _Loaded(now, after, blocks, result)
        return result

    def _blocks_since(self, before: ChainMark, made: dict) -> list | None:
        """The blocks from `before`'s head to the head now, oldest first (None when `before`'s head left the
        chain: the fixture reverted past its start, and cannot be replayed)."""
        chain = self.node.chain
        base = chain.header_by_number(before.head_number)
        if base is None or base.hash != before.head_hash:
            return None
        blocks = []
        for number in range(before.head_number + 1, chain.head.block_number + 1):
            header = chain.header_by_number(number)
            blocks.append(made.get(header.hash) or (chain.block_by_header(header), chain.receipts(header)))
        return blocks

    def _restore(self, entry: _Loaded) -> bool:
        node = self.node
        chain = node.chain
        try:
            with node.producer.lock:
                for block, receipts in entry.blocks:
                    chain.mark_executed(block, receipts)
                    chain.import_block(block, check_future=False)
                if chain.head.hash != entry.after.head_hash:
                    raise IsolationError("the restored blocks did not become the head")
                chain.head_edits = entry.after.head_edits
                node.clock.offset_ms = entry.after.offset_ms
                node.producer.next_timestamp_ms = entry.after.next_timestamp_ms
                node.pool.on_new_head([tx for block, _ in entry.blocks for tx in block.transactions])
        except Exception:   # cannot bring the blocks back: the caller runs the fixture again from where it started
            log.warning("load_fixture: could not restore %d blocks; running the fixture again", len(entry.blocks),
                        exc_info=True)
            head = chain.header_by_number(entry.before.head_number)
            with node.producer.lock:
                if chain.head.hash != entry.before.head_hash and head is not None:
                    chain.rewind(head)
                chain.head_edits = entry.before.head_edits
            return False
        node.producer.wake()
        return True
