"""Polling filters, as geth's eth/filters/api.go answers them: eth_newFilter, eth_newBlockFilter,
eth_newPendingTransactionFilter, then eth_getFilterChanges, eth_getFilterLogs and eth_uninstallFilter.

Block and log filters keep a cursor, the last block number they reported, and read the blocks after it from the
chain when polled: a poll sees every block the chain has when the poll runs, however the block arrived, and nothing
is held between polls. Pending-transaction filters are fed by the node's pending-transaction events (on any thread) into
queues of at most PENDING_LIMIT transactions. A filter not polled with eth_getFilterChanges within `timeout` seconds
(geth: 5 minutes) is removed; then, as for an id never issued, the answer is -32000 `filter not found`.
Ids are geth's rpc.NewID: 16 random bytes written as a hex quantity (no leading zeros).
"""
from __future__ import annotations

import secrets
import threading
import time
from collections import deque
from dataclasses import dataclass, field, replace
from typing import Any, Callable, NewType

from eth.abc import SignedTransactionAPI

from rpc import encode
from rpc.errors import InvalidParams, ServerError
from rpc.logs import MAX_BLOCK_RANGE, get_logs
from rpc.params import BlockId, FilterCriteria, ParamError, _json_type

TIMEOUT = 5 * 60.0       # geth's filter deadline, seconds without a poll
PENDING_LIMIT = 4096     # transactions a pending filter holds between polls; the oldest are dropped

LOGS, BLOCKS, PENDING = "logs", "blocks", "pending"

Id = NewType("Id", str)   # a filter or subscription id (geth's rpc.ID: any JSON string)

# geth's rpc.BlockNumber values for the tags (rpc/types.go); numbers are themselves.
_TAG_NUMBERS = {"earliest": -5, "safe": -4, "finalized": -3, "latest": -2, "pending": -1}
_LATEST, _PENDING, _EARLIEST = -2, -1, -5


def new_id() -> str:
    """geth's rpc.NewID: 16 random bytes as hex without leading zeros (`0x0` for all zeros)."""
    return "0x" + (secrets.token_bytes(16).hex().lstrip("0") or "0")


def parse_id(value: Any) -> str:
    if not isinstance(value, str):
        raise ParamError(f"cannot unmarshal {_json_type(value)} into rpc.ID")
    return value


def pending_json(tx: SignedTransactionAPI, full: bool) -> Any:
    """A pending transaction as filters and subscriptions report it: its hash, or geth's RPCTransaction."""
    return encode.transaction(tx, tx.sender, None) if full else encode.data(tx.hash)


def live_range(crit: FilterCriteria) -> tuple[int, int | None]:
    """geth's SubscribeLogs: the numbers of the new blocks whose logs a filter or subscription wants, `(first, last)`
    with None for no end; fromBlock and toBlock default to latest, i.e. every new block."""
    first, last = (_geth_number(b) for b in (crit.from_block, crit.to_block))
    if _PENDING in (first, last):
        raise InvalidParams("pending logs are not supported")
    if first == _EARLIEST:
        first = 0
    if first == _LATEST and last == _LATEST:
        return 0, None
    if first >= 0 and last >= first:
        return first, last
    if first >= 0 and last == _LATEST:
        return first, None
    raise InvalidParams("invalid block range params")


def _geth_number(block: BlockId | None) -> int:
    if block is None:
        return _LATEST
    return block.number if block.number is not None else _TAG_NUMBERS[block.tag]


@dataclass
class _Filter:
    kind: str
    deadline: float
    cursor: int                                    # blocks and logs: the last block number reported
    crit: FilterCriteria | None = None             # logs
    bounds: tuple[int, int | None] = (0, None)     # logs: live_range(crit)
    full: bool = False                             # pending: whole transactions instead of hashes
    txs: deque = field(default_factory=lambda: deque(maxlen=PENDING_LIMIT))   # pending: not yet reported


class FilterManager:
    """The installed filters of one RPC app; safe to use from any thread."""

    def __init__(self, node, timeout: float = TIMEOUT, clock: Callable[[], float] = time.monotonic):
        self.node = node
        self.timeout = timeout
        self.clock = clock
        self._filters: dict[str, _Filter] = {}
        self._lock = threading.Lock()
        self._unsubscribe: Callable[[], None] = lambda: None

    def start(self) -> None:
        self._unsubscribe = self.node.subscribe(on_pending=self._on_pending)

    def stop(self) -> None:
        self._unsubscribe()
        with self._lock:
            self._filters.clear()

    # -- installing --

    def new_logs(self, crit: FilterCriteria) -> str:
        return self._install(LOGS, crit=crit, bounds=live_range(crit))

    def new_blocks(self) -> str:
        return self._install(BLOCKS)

    def new_pending(self, full: bool) -> str:
        return self._install(PENDING, full=full)

    def _install(self, kind: str, **fields: Any) -> str:
        filter_id = new_id()
        with self._lock:
            self._expire()
            self._filters[filter_id] = _Filter(kind, self.clock() + self.timeout, self.node.chain.head.block_number,
                                               **fields)
        return filter_id

    def uninstall(self, filter_id: str) -> bool:
        with self._lock:
            self._expire()
            return self._filters.pop(filter_id, None) is not None

    # -- reading --

    def changes(self, filter_id: str) -> list:
        """What happened since the last poll; the poll keeps the filter alive for another `timeout`."""
        with self._lock:
            f = self._get(filter_id)
            f.deadline = self.clock() + self.timeout
            txs = list(f.txs)
            f.txs.clear()
            head = self.node.chain.head.block_number
            first, f.cursor = max(f.cursor + 1, head - MAX_BLOCK_RANGE), head
        # encoding and reading the chain happen outside the lock: the pool's listeners wait on it
        if f.kind == PENDING:
            return [pending_json(tx, f.full) for tx in txs]
        if f.kind == BLOCKS:
            headers = (self.node.chain.header_by_number(n) for n in range(first, head + 1))
            return [encode.data(h.hash) for h in headers if h is not None]
        low, high = f.bounds
        first, last = max(first, low), head if high is None else min(head, high)
        if first > last:
            return []
        # geth matches new logs on address and topics only: a blockHash in the criteria does not narrow them
        window = replace(f.crit, block_hash=None, from_block=BlockId(number=first), to_block=BlockId(number=last))
        return get_logs(self.node, window)

    def logs(self, filter_id: str) -> list[dict]:
        """Every log the criteria of a log filter match now (eth_getLogs with them); not a poll."""
        with self._lock:
            f = self._get(filter_id)
        if f.kind != LOGS:
            raise ServerError("filter not found")
        return get_logs(self.node, f.crit)

    def _get(self, filter_id: str) -> _Filter:
        self._expire()
        f = self._filters.get(filter_id)
        if f is None:
            raise ServerError("filter not found")
        return f

    def _expire(self) -> None:
        now = self.clock()
        for filter_id in [i for i, f in self._filters.items() if f.deadline < now]:
            del self._filters[filter_id]

    def _on_pending(self, tx: SignedTransactionAPI) -> None:
        with self._lock:
            for f in self._filters.values():
                if f.kind == PENDING:
                    f.txs.append(tx)


# -- the wire methods --

def new_filter(filters: FilterManager, crit: FilterCriteria) -> str:
    return filters.new_logs(crit)


def new_block_filter(filters: FilterManager) -> str:
    return filters.new_blocks()


def new_pending_transaction_filter(filters: FilterManager, full: bool = False) -> str:
    return filters.new_pending(full)


def get_filter_changes(filters: FilterManager, filter_id: Id) -> list:
    return filters.changes(filter_id)


def get_filter_logs(filters: FilterManager, filter_id: Id) -> list[dict]:
    return filters.logs(filter_id)


def uninstall_filter(filters: FilterManager, filter_id: Id) -> bool:
    return filters.uninstall(filter_id)
