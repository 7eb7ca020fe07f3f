"""The transaction pool: signed transactions waiting for a block, per sender by nonce.

For each sender the run of consecutive nonces starting at the state nonce is *pending* (executable); anything after
a gap is *queued* until the gap closes. Admission applies geth's checks (node.txvalidation, then nonce and balance
against the head state, then the pool's own replacement and capacity rules) and raises the node.txerrors class with
geth's message. Blocks take `pending_for_block()`: per sender by nonce, across senders highest effective price
first, ties by arrival, as geth's price-and-nonce ordering. One lock guards everything; listeners in `on_pending`
are told of each transaction that becomes pending, after the lock is released.

The pool keeps the py-evm transaction object it was given: its sender was recovered once on admission and is cached
on the object, so block building reuses it.
"""
from __future__ import annotations

import heapq
import itertools
import logging
import threading
from dataclasses import dataclass
from typing import Callable, Protocol, Sequence

from eth.abc import SignedTransactionAPI

from node.txpool.errors import (
    AccountLimitExceeded,
    AlreadyKnown,
    FutureReplacePending,
    InsufficientFunds,
    NonceTooLow,
    OversizedData,
    ReplacementUnderpriced,
    TxPoolError,
    TxPoolOverflow,
)
from node.txpool.validation import (decode, effective_price, encoded_size, fee_cap, max_cost, recovered_elsewhere, tip_cap,
                               validate_static)

log = logging.getLogger(__name__)


class AccountReader(Protocol):
    """What the pool reads from the head state (a py-evm StateAPI fits)."""

    def get_nonce(self, address: bytes) -> int: ...

    def get_balance(self, address: bytes) -> int: ...


@dataclass(frozen=True)
class PoolConfig:
    """Limits and prices, with geth's defaults (except the 1 gwei minimum price, as BSC)."""

    min_gas_price: int = 10**9     # effective price floor; 0 allowed (dev)
    price_bump: int = 10           # percent a replacement must add to both fee caps
    account_slots: int = 16        # geth: executable slots guaranteed per sender, not a cap (kept for parity)
    global_slots: int = 5120       # with global_queue: how many transactions the pool holds in all
    account_queue: int = 64        # queued (gapped) transactions one sender may have
    global_queue: int = 1024       # queued transactions for all senders
    max_tx_size: int = 128 * 1024  # bytes of encoded transaction


@dataclass(frozen=True, eq=False)
class PooledTx:
    """A transaction with what the pool sorts and checks it by, computed once."""

    tx: SignedTransactionAPI
    hash: bytes
    sender: bytes
    nonce: int
    fee_cap: int
    tip_cap: int
    price: int   # effective gas price with a zero base fee
    cost: int    # gas * fee cap + value
    seq: int     # arrival order


class _Account:
    """One sender's transactions by nonce; `base` is the state nonce, [base, pending_end) the pending run."""

    def __init__(self, sender: bytes, base: int) -> None:
        self.sender = sender
        self.base = base
        self.pending_end = base
        self.txs: dict[int, PooledTx] = {}

    def relink(self) -> None:
        """Recompute the end of the pending run after nonces came or went."""
        end = self.base
        while end in self.txs:
            end += 1
        self.pending_end = end

    def is_pending(self, entry: PooledTx) -> bool:
        return entry.nonce < self.pending_end

    def pending(self) -> list[PooledTx]:
        return [self.txs[n] for n in range(self.base, self.pending_end)]

    def queued(self) -> list[PooledTx]:
        return [self.txs[n] for n in sorted(self.txs) if n > self.pending_end]

    def queued_count(self) -> int:
        return len(self.txs) - (self.pending_end - self.base)

    def tail(self) -> PooledTx:
        return self.txs[max(self.txs)]


class TxPool:
    """Pending and queued transactions, validated as geth validates them."""

    def __init__(
        self,
        chain_id: int,
        head_state: Callable[[], AccountReader],
        block_gas_limit: Callable[[], int],
        config: PoolConfig = PoolConfig(),
    ) -> None:
        self.chain_id = chain_id
        self.config = config
        self.on_pending: list[Callable[[SignedTransactionAPI], None]] = []
        self._head_state = head_state
        self._block_gas_limit = block_gas_limit
        self._lock = threading.Lock()
        self._all: dict[bytes, PooledTx] = {}
        self._accounts: dict[bytes, _Account] = {}
        self._arrivals = itertools.count()

    # -- admission --

    def add_raw(self, raw: bytes, sender: bytes | None = None) -> bytes:
        """Decode raw bytes (eth_sendRawTransaction) and add; returns the transaction hash. `sender`: already
        recovered from this very signature by the node's own JSON-RPC front process (rpc/front.py), not recovered
        again; the signature's other checks still run."""
        if len(raw) > self.config.max_tx_size:
            raise OversizedData(f"transaction size {len(raw)}, limit {self.config.max_tx_size}")
        tx = decode(raw)
        if sender is not None:
            recovered_elsewhere(tx, sender)
        return self._add(tx, len(raw))

    def add(self, tx: SignedTransactionAPI) -> bytes:
        """Validate and insert; raises a TxPoolError subclass with geth's message."""
        return self._add(tx, encoded_size(tx))

    def _add(self, tx: SignedTransactionAPI, size: int) -> bytes:
        entry = self._prepare(tx, size)   # signature recovery outside the lock
        with self._lock:
            fresh = self._insert(entry)
        self._announce(fresh)
        return entry.hash

    def _prepare(self, tx: SignedTransactionAPI, size: int) -> PooledTx:
        tx_hash = bytes(tx.hash)
        if tx_hash in self._all:
            raise AlreadyKnown()
        sender = validate_static(
            tx,
            chain_id=self.chain_id,
            size=size,
            max_size=self.config.max_tx_size,
            block_gas_limit=self._block_gas_limit(),
            min_gas_price=self.config.min_gas_price,
        )
        return PooledTx(
            tx=tx, hash=tx_hash, sender=sender, nonce=tx.nonce, fee_cap=fee_cap(tx), tip_cap=tip_cap(tx),
            price=effective_price(tx), cost=max_cost(tx), seq=next(self._arrivals),
        )

    def _insert(self, entry: PooledTx) -> list[PooledTx]:
        """Stateful checks and the pool's rules, lock held; returns the entries that became pending."""
        if entry.hash in self._all:
            raise AlreadyKnown()
        state = self._head_state()
        next_nonce, balance = state.get_nonce(entry.sender), state.get_balance(entry.sender)
        if entry.nonce < next_nonce:
            raise NonceTooLow(f"next nonce {next_nonce}, tx nonce {entry.nonce}")
        if balance < entry.cost:
            raise InsufficientFunds(f"balance {balance}, tx cost {entry.cost}, overshot {entry.cost - balance}")
        account = self._accounts.get(entry.sender) or _Account(entry.sender, next_nonce)
        was_pending = {e.hash for e in account.pending()}
        if account.base != next_nonce:
            self._rebase(account, next_nonce)
        self._check_overdraft(account, entry, balance)
        old = account.txs.get(entry.nonce)
        if old is not None:
            if not self._outbids(entry, old):
                raise ReplacementUnderpriced()
            self._all.pop(old.hash)
        else:
            gapped = entry.nonce > account.pending_end
            if gapped and account.queued_count() >= self.config.account_queue:
                raise AccountLimitExceeded(f"pooled {account.queued_count()} txs")
            self._make_room(entry, gapped)
        self._accounts[entry.sender] = account
        self._all[entry.hash] = entry
        account.txs[entry.nonce] = entry
        account.relink()
        return [e for e in account.pending() if e.hash not in was_pending]

    def _check_overdraft(self, account: _Account, entry: PooledTx, balance: int) -> None:
        """The sender's pending transactions plus this one must stay within the balance (geth's rule)."""
        spent = sum(e.cost for e in account.pending())
        prev = account.txs.get(entry.nonce) if entry.nonce < account.pending_end else None
        if prev is not None:
            bump = entry.cost - prev.cost
            if balance < spent + bump:
                raise InsufficientFunds(
                    f"balance {balance}, queued cost {spent}, tx bumped {bump}, overshot {spent + bump - balance}"
                )
        elif balance < spent + entry.cost:
            raise InsufficientFunds(
                f"balance {balance}, queued cost {spent}, tx cost {entry.cost}, overshot {spent + entry.cost - balance}"
            )

    def _outbids(self, new: PooledTx, old: PooledTx) -> bool:
        """A replacement must raise both fee caps, each by at least price_bump percent."""
        factor = 100 + self.config.price_bump
        return (
            new.fee_cap > old.fee_cap
            and new.tip_cap > old.tip_cap
            and new.fee_cap >= old.fee_cap * factor // 100
            and new.tip_cap >= old.tip_cap * factor // 100
        )

    def _make_room(self, entry: PooledTx, gapped: bool) -> None:
        """Evict the cheapest sender's last transaction if the pool is full and the newcomer pays more."""
        if gapped and self._queued_total() >= self.config.global_queue:
            victim = self._cheapest_tail(entry.sender, queued_only=True)
        elif len(self._all) >= self.config.global_slots + self.config.global_queue:
            victim = self._cheapest_tail(entry.sender, queued_only=False)
        else:
            return
        if victim is None or victim.price >= entry.price:
            raise TxPoolOverflow()
        if gapped and self._accounts[victim.sender].is_pending(victim):
            raise FutureReplacePending()
        log.debug("txpool full: evicting %s for %s", victim.hash.hex(), entry.hash.hex())
        self._remove_entry(victim)

    def _cheapest_tail(self, newcomer: bytes, queued_only: bool) -> PooledTx | None:
        """Each other sender's highest-nonce transaction is a candidate (no gap is left); cheapest, newest first."""
        tails = (
            account.tail()
            for sender, account in self._accounts.items()
            if sender != newcomer and (not queued_only or account.queued_count())
        )
        return min(tails, key=lambda e: (e.price, -e.seq), default=None)

    # -- removal and new heads --

    def remove(self, tx_hash: bytes) -> bool:
        """Drop one transaction (later nonces of its sender become queued); False if it was not pooled."""
        with self._lock:
            entry = self._all.get(bytes(tx_hash))
            if entry is not None:
                self._remove_entry(entry)
            return entry is not None

    def on_new_head(
        self, included: Sequence[SignedTransactionAPI] = (), returned: Sequence[SignedTransactionAPI] = ()
    ) -> None:
        """After a block: drop what it included, stale nonces and what senders can no longer pay for, promote
        what the new nonces make executable; then re-add `returned` (transactions of blocks a reorg undid)."""
        with self._lock:
            was_pending = {e.hash for account in self._accounts.values() for e in account.pending()}
            for tx in included:
                entry = self._all.get(bytes(tx.hash))
                if entry is not None:
                    self._remove_entry(entry)
            # (nothing left pooled, as after each automined block: no head state to open)
            state, gas_limit = (self._head_state(), self._block_gas_limit()) if self._accounts else (None, 0)
            for sender, account in list(self._accounts.items()):
                self._rebase(account, state.get_nonce(sender))
                balance = state.get_balance(sender)
                for entry in [e for e in account.txs.values() if e.cost > balance or e.tx.gas > gas_limit]:
                    self._remove_entry(entry)
                for entry in account.queued()[self.config.account_queue:]:
                    self._remove_entry(entry)
            fresh = [e for account in self._accounts.values() for e in account.pending() if e.hash not in was_pending]
        self._announce(fresh)
        for tx in returned:
            try:
                self.add(tx)
            except TxPoolError as exc:
                log.debug("reorged transaction not re-added: %s", exc.message)

    def _rebase(self, account: _Account, state_nonce: int) -> None:
        """Move the account to a new state nonce, dropping what is below it."""
        for nonce in [n for n in account.txs if n < state_nonce]:
            self._all.pop(account.txs.pop(nonce).hash)
        account.base = state_nonce
        account.relink()
        if not account.txs:
            self._accounts.pop(account.sender, None)

    def _remove_entry(self, entry: PooledTx) -> None:
        self._all.pop(entry.hash)
        account = self._accounts[entry.sender]
        del account.txs[entry.nonce]
        account.relink()
        if not account.txs:
            del self._accounts[entry.sender]

    def _announce(self, entries: Sequence[PooledTx]) -> None:
        for entry in entries:
            for listener in list(self.on_pending):
                try:
                    listener(entry.tx)
                except Exception:  # a listener must not break admission
                    log.exception("pending-transaction listener failed")

    # -- reading --

    def get(self, tx_hash: bytes) -> SignedTransactionAPI | None:
        entry = self._all.get(bytes(tx_hash))
        return None if entry is None else entry.tx

    def __len__(self) -> int:
        return len(self._all)

    def __contains__(self, tx_hash: bytes) -> bool:
        return bytes(tx_hash) in self._all

    def pending_nonce(self, sender: bytes) -> int:
        """Next nonce counting pending transactions (eth_getTransactionCount "pending")."""
        sender = bytes(sender)
        with self._lock:
            state_nonce = self._head_state().get_nonce(sender)
            account = self._accounts.get(sender)
            return state_nonce if account is None else max(state_nonce, account.pending_end)

    def pending_for_block(self) -> list[SignedTransactionAPI]:
        """Executable transactions in block order: each sender's by nonce, senders merged by price, then arrival."""
        with self._lock:
            runs = [account.pending() for account in self._accounts.values()]
        heads = [(-run[0].price, run[0].seq, i, 0) for i, run in enumerate(runs) if run]
        heapq.heapify(heads)
        ordered = []
        while heads:
            _, _, i, pos = heapq.heappop(heads)
            ordered.append(runs[i][pos].tx)
            if pos + 1 < len(runs[i]):
                follower = runs[i][pos + 1]
                heapq.heappush(heads, (-follower.price, follower.seq, i, pos + 1))
        return ordered

    def content(self) -> tuple[dict, dict]:
        """(pending, queued), each {sender: {nonce: tx}} (txpool_content)."""
        with self._lock:
            pending = {s: {e.nonce: e.tx for e in a.pending()} for s, a in self._accounts.items() if a.pending()}
            queued = {s: {e.nonce: e.tx for e in a.queued()} for s, a in self._accounts.items() if a.queued()}
        return pending, queued

    def status(self) -> tuple[int, int]:
        """(pending count, queued count) (txpool_status)."""
        with self._lock:
            queued = self._queued_total()
            return len(self._all) - queued, queued

    def _queued_total(self) -> int:
        return sum(account.queued_count() for account in self._accounts.values())
