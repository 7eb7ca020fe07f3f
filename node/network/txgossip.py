"""Transaction propagation as geth and BSC do it (eth/handler.go BroadcastTransactions, eth/fetcher/tx_fetcher.go).

Out: each transaction that becomes pending in our pool goes whole (Transactions) to ceil(sqrt(n)) of the peers not
known to have it and as an announcement (NewPooledTransactionHashes: type, size, hash) to the others; transactions
over 4096 bytes and blob transactions are only announced. A new peer is announced our pending transactions.

In: received transactions go to the pool through `Node.send_raw_transaction` (a refusal is not the peer's fault,
except an undecodable transaction); announced hashes we lack are fetched from the announcer with
GetPooledTransactions, 256 at a time, one request per peer at a time. Every queue is bounded: what does not fit is
dropped, as geth's fetcher drops announcements beyond its per-peer limit.
"""
from __future__ import annotations

import asyncio
import logging
import math
from collections import OrderedDict
from typing import Callable

from eth.abc import SignedTransactionAPI

from node.network.eth import protocol as p
from node.network.eth.messages import (GetPooledTransactions, NewPooledTransactionHashes, PooledTransactions,
                                       Transactions)
from node.network.importer import Importer
from node.network.nodeapi import DecodeError, Node, TxPoolError
from node.network.peer import PeerDisconnected, RequestTimeout
from node.network.peers import PeerSet, PeerState
from node.network.sync import Drop

log = logging.getLogger("smartchain.network.txs")

OUTGOING_QUEUE = 4096     # our new pending transactions waiting to be propagated
INCOMING_QUEUE = 4096     # peers' transactions waiting for the pool
MAX_WANTED = 4096         # announced hashes waiting to be fetched, per peer (geth's maxTxAnnounces)
BLOB_TX_TYPE = 3


class BadTransaction(Exception):
    """A peer sent a transaction that does not decode: the peer is dropped."""


def _type(tx: SignedTransactionAPI) -> int:
    return getattr(tx, "type_id", None) or 0


class TxGossip:
    def __init__(self, node: Node, peers: PeerSet, drop: Drop, accepting: Callable[[], bool] = lambda: True) -> None:
        self.node, self.peers = node, peers
        self._drop = drop
        self._accepting = accepting   # BSC takes no peer transactions while it syncs (its AcceptTxs flag)
        self._pool_thread = Importer(self._add, name="txpool")   # one worker thread for the pool
        self.outgoing: asyncio.Queue[SignedTransactionAPI] = asyncio.Queue(OUTGOING_QUEUE)
        self.incoming: asyncio.Queue[tuple[PeerState, SignedTransactionAPI]] = asyncio.Queue(INCOMING_QUEUE)
        self._wanted: dict[PeerState, OrderedDict[bytes, None]] = {}
        self._wake: dict[PeerState, asyncio.Event] = {}
        self.accepted = 0   # peers' transactions the pool took

    def close(self) -> None:
        self._pool_thread.close()

    # -- out ---------------------------------------------------------------------------------------------------------
    def queue_pending(self, tx: SignedTransactionAPI) -> None:
        """A transaction became pending here (call on the loop)."""
        try:
            self.outgoing.put_nowait(tx)
        except asyncio.QueueFull:
            log.debug("tx broadcast queue full: 0x%s not propagated", tx.hash.hex())

    async def run_broadcast(self) -> None:
        while True:
            batch = [await self.outgoing.get()]
            while not self.outgoing.empty() and len(batch) < p.MAX_POOLED_TRANSACTIONS_REQUEST:
                batch.append(self.outgoing.get_nowait())
            self.broadcast(batch)

    def broadcast(self, txs: list[SignedTransactionAPI]) -> None:
        whole: dict[PeerState, list] = {}
        announce: dict[PeerState, list] = {}
        for tx in txs:
            # py-evm re-hashes (RLP + keccak) on every .hash: once per transaction here, not once per peer
            tx_hash, size = tx.hash, len(tx.encode())
            direct = (lambda n: 0) if size > p.MAX_TX_BROADCAST_SIZE or _type(tx) == BLOB_TX_TYPE \
                else (lambda n: math.ceil(math.sqrt(n)))
            full, rest = self.peers.split_lacking(lambda s: not s.tx_broadcast or tx_hash in s.known_txs,
                                                  direct=direct)
            for state in full:
                whole.setdefault(state, []).append((tx, tx_hash, size))
            for state in rest:
                announce.setdefault(state, []).append((tx, tx_hash, size))
        for state, chosen in whole.items():
            state.known_txs.update(tx_hash for _, tx_hash, _ in chosen)
            state.send_soon(Transactions(tuple(tx for tx, _, _ in chosen)))
        for state, chosen in announce.items():
            self._announce(state, chosen)

    def announce(self, state: PeerState, txs: list[SignedTransactionAPI]) -> None:
        """NewPooledTransactionHashes for `txs` to one peer, in messages of at most MAX_ANNOUNCED_HASHES."""
        self._announce(state, [(tx, tx.hash, len(tx.encode())) for tx in txs])

    @staticmethod
    def _announce(state: PeerState, txs: list[tuple[SignedTransactionAPI, bytes, int]]) -> None:
        for start in range(0, len(txs), p.MAX_ANNOUNCED_HASHES):
            chunk = txs[start:start + p.MAX_ANNOUNCED_HASHES]
            hashes = tuple(tx_hash for _, tx_hash, _ in chunk)
            state.known_txs.update(hashes)
            state.send_soon(NewPooledTransactionHashes(bytes(_type(tx) for tx, _, _ in chunk),
                                                       tuple(size for _, _, size in chunk), hashes))

    def greet(self, state: PeerState) -> None:
        """A new peer hears of our pending transactions (geth's syncTransactions on connect)."""
        if not state.tx_broadcast:
            return
        pending = self.node.pool.pending_for_block()[:MAX_WANTED]
        if pending:
            self.announce(state, pending)

    # -- in ----------------------------------------------------------------------------------------------------------
    def on_transactions(self, state: PeerState, txs: tuple[SignedTransactionAPI, ...]) -> None:
        if not self._accepting():
            state.known_txs.update(tx.hash for tx in txs)
            return
        for tx in txs:
            state.known_txs.add(tx.hash)
            wanted = self._wanted.get(state)
            if wanted is not None:
                wanted.pop(tx.hash, None)
            try:
                self.incoming.put_nowait((state, tx))
            except asyncio.QueueFull:
                log.debug("tx queue full: dropped 0x%s from %s", tx.hash.hex(), state.id[:16])

    def on_hashes(self, state: PeerState, message: NewPooledTransactionHashes) -> None:
        wanted = self._wanted.get(state)
        if wanted is None or not self._accepting():
            state.known_txs.update(message.hashes)
            return
        pool = self.node.pool
        for tx_hash in message.hashes:
            state.known_txs.add(tx_hash)
            if tx_hash in wanted or tx_hash in pool or len(wanted) >= MAX_WANTED:
                continue
            wanted[tx_hash] = None
        if wanted:
            self._wake[state].set()

    async def run_incoming(self) -> None:
        while True:
            state, tx = await self.incoming.get()
            try:
                await self._pool_thread.run(self._add, tx)
                self.accepted += 1
            except BadTransaction as exc:
                await self._drop(state, exc)
            except Exception:
                log.exception("peer transaction 0x%s failed", tx.hash.hex())

    def _add(self, tx: SignedTransactionAPI) -> bool:
        """In the pool thread: True if the pool took it; its refusals are the sender's business, not the peer's."""
        try:
            self.node.send_raw_transaction(tx.encode())
            return True
        except DecodeError as exc:
            raise BadTransaction(f"invalid transaction 0x{tx.hash.hex()}: {exc}") from exc
        except TxPoolError as exc:
            log.debug("peer tx 0x%s refused: %s", tx.hash.hex(), exc)
            return False

    # -- fetching what peers announce ----------------------------------------------------------------------------------
    async def fetch_from(self, state: PeerState) -> None:
        """For the peer's lifetime: request what it announced and we still lack (run as one task per peer)."""
        wanted = self._wanted[state] = OrderedDict()
        wake = self._wake[state] = asyncio.Event()
        try:
            while not state.peer.closed:
                await wake.wait()
                wake.clear()
                while wanted:
                    hashes = []
                    while wanted and len(hashes) < p.MAX_POOLED_TRANSACTIONS_REQUEST:
                        tx_hash, _ = wanted.popitem(last=False)
                        if tx_hash not in self.node.pool:
                            hashes.append(tx_hash)
                    if not hashes:
                        continue
                    answer: PooledTransactions = await state.peer.request(GetPooledTransactions(0, tuple(hashes)))
                    asked = set(hashes)
                    # a transaction we did not ask for is ignored (geth's fetcher does the same)
                    self.on_transactions(state, tuple(tx for tx in answer.transactions if tx.hash in asked))
        except (PeerDisconnected, RequestTimeout) as exc:
            log.debug("tx fetch from %s ended: %s", state.id[:16], exc)
        finally:
            self._wanted.pop(state, None)
            self._wake.pop(state, None)
