"""eth_subscribe over WebSocket: newHeads, logs and newPendingTransactions, as geth's eth/filters and rpc packages
serve them, and eth_unsubscribe.

A `Hub` (one per app) hears the node's events (`Node.subscribe`): each new block, each block a reorg drops, each
newly pending transaction. The listeners only queue the event, so the producer never waits on a client; the hub's own
thread works out what each subscription reports (geth's header JSON, each matching log via rpc.logs, a hash or a
whole transaction) and hands it to the subscription's `Connection` with `loop.call_soon_threadsafe`.
A Connection is one WebSocket: its subscriptions and one outbox, written in order by one task. As geth's notifier,
a new subscription holds its notifications until the eth_subscribe answer has been queued, so the id always reaches
the client first. Subscriptions end with eth_unsubscribe or with their socket; a client that lets OUTBOX_LIMIT
messages pile up is disconnected, as geth drops a connection whose writes time out.
"""
from __future__ import annotations

import asyncio
import json
import logging
import queue
import threading
from collections import deque
from dataclasses import dataclass, field, replace
from typing import Any, Awaitable, Callable

from eth.abc import BlockAPI, SignedTransactionAPI

from rpc import encode
from rpc.errors import InvalidParams, RpcError, ServerError
from rpc.filters import Id, live_range, new_id, pending_json
from rpc.logs import get_logs
from rpc.params import FilterCriteria

log = logging.getLogger("smartchain.rpc")

EVENT_LIMIT = 4096       # blocks and transactions waiting for the hub's thread; past it events are dropped
OUTBOX_LIMIT = 10_000    # messages waiting for one slow client; past it the client is disconnected

# geth's types.Header JSON (newHeads): the fields of eth_getBlockByNumber's header, in the struct's order.
HEAD_FIELDS = ("parentHash", "sha3Uncles", "miner", "stateRoot", "transactionsRoot", "receiptsRoot", "logsBloom",
               "difficulty", "number", "gasLimit", "gasUsed", "timestamp", "extraData", "mixHash", "nonce",
               "baseFeePerGas", "withdrawalsRoot", "blobGasUsed", "excessBlobGas", "parentBeaconBlockRoot",
               "requestsHash", "hash")


class NotificationsUnsupported(RpcError):
    """eth_subscribe over HTTP (geth's rpc.ErrNotificationsUnsupported)."""

    code = -32601

    def __init__(self):
        super().__init__("notifications not supported")


class SubscriptionNotFound(RpcError):
    """eth_subscribe with a name that is not a kind of subscription."""

    code = -32601

    def __init__(self, name: str):
        super().__init__(f'no "{name}" subscription in eth namespace')


def subscription_name(raw: Any) -> str:
    """geth's parseSubscriptionName: the first parameter of eth_subscribe."""
    if not isinstance(raw, list):
        raise InvalidParams("non-array args")
    if not raw or not isinstance(raw[0], str):
        raise InvalidParams("expected subscription name as first argument")
    return raw[0]


def head(b: BlockAPI) -> dict:
    fields = encode.header(b.header)
    return {name: fields[name] for name in HEAD_FIELDS if name in fields}


# -- kinds: what one subscription reports for a new block or a new pending transaction --

class Feed:
    def on_block(self, node, b: BlockAPI) -> list:
        return []

    def on_removed(self, node, b: BlockAPI) -> list:
        """A block a reorg took off the canonical chain (geth re-sends its logs with `removed: true`)."""
        return []

    def on_pending(self, tx: SignedTransactionAPI) -> list:
        return []


class NewHeads(Feed):
    def on_block(self, node, b: BlockAPI) -> list:
        return [head(b)]


@dataclass(frozen=True)
class Logs(Feed):
    crit: FilterCriteria
    bounds: tuple[int, int | None]

    def on_block(self, node, b: BlockAPI) -> list:
        first, last = self.bounds
        if b.number < first or (last is not None and b.number > last):
            return []
        return get_logs(node, replace(self.crit, block_hash=b.hash, from_block=None, to_block=None))

    def on_removed(self, node, b: BlockAPI) -> list:
        return [{**log, "removed": True} for log in self.on_block(node, b)]


@dataclass(frozen=True)
class PendingTransactions(Feed):
    full: bool

    def on_pending(self, tx: SignedTransactionAPI) -> list:
        return [pending_json(tx, self.full)]


def new_heads() -> Feed:
    return NewHeads()


def logs(crit: FilterCriteria) -> Feed:
    return Logs(crit, live_range(crit))


def new_pending_transactions(full: bool = False) -> Feed:
    return PendingTransactions(full)


def unsubscribe(connection: Connection | None, sub_id: Id) -> bool:
    """eth_unsubscribe: only the connection that made a subscription can end it (over HTTP there are none)."""
    if connection is None or not connection.unsubscribe(sub_id):
        raise ServerError("subscription not found")
    return True


# -- delivery --

@dataclass(eq=False)
class Subscription:
    id: str
    feed: Feed
    connection: Connection
    active: bool = False                       # loop thread: set once the eth_subscribe answer is queued
    early: list = field(default_factory=list)  # loop thread: notifications held until then


class Hub:
    """The subscriptions of one app, fed from the node's listeners on a thread of their own."""

    def __init__(self, node):
        self.node = node
        self._subs: set[Subscription] = set()
        self._lock = threading.Lock()
        self._events: queue.Queue = queue.Queue(EVENT_LIMIT)
        self._thread: threading.Thread | None = None
        self._unsubscribe: Callable[[], None] = lambda: None

    def start(self) -> None:
        self._thread = threading.Thread(target=self._run, name="rpc-subscriptions", daemon=True)
        self._thread.start()
        self._unsubscribe = self.node.subscribe(self._on_block, self._on_removed, self._on_pending)

    def stop(self) -> None:
        self._unsubscribe()
        if self._thread is not None:
            self._events.put(None)
            self._thread.join(timeout=10)
            self._thread = None

    def __len__(self) -> int:
        return len(self._subs)

    def add(self, sub: Subscription) -> None:
        with self._lock:
            self._subs.add(sub)

    def remove(self, sub: Subscription) -> None:
        with self._lock:
            self._subs.discard(sub)

    def _on_block(self, b: BlockAPI, receipts: tuple) -> None:
        self._queue(b, None)

    def _on_removed(self, b: BlockAPI) -> None:
        self._queue(b, None, removed=True)

    def _on_pending(self, tx: SignedTransactionAPI) -> None:
        self._queue(None, tx)

    def _queue(self, b: BlockAPI | None, tx: SignedTransactionAPI | None, removed: bool = False) -> None:
        if not self._subs:
            return
        try:
            self._events.put_nowait((b, tx, removed))
        except queue.Full:
            log.warning("subscription events dropped: %d are waiting", EVENT_LIMIT)

    def _event_results(self, feed: Feed, b: BlockAPI | None, tx: SignedTransactionAPI | None, removed: bool) -> list:
        if b is None:
            return feed.on_pending(tx)
        return feed.on_removed(self.node, b) if removed else feed.on_block(self.node, b)

    def _run(self) -> None:
        while (event := self._events.get()) is not None:
            with self._lock:
                subs = list(self._subs)
            for sub in subs:
                try:
                    results = self._event_results(sub.feed, *event)
                except Exception:  # one subscription's failure must not stop the others
                    log.exception("subscription %s failed", sub.id)
                    continue
                if results:
                    sub.connection.deliver(sub, results)


class Connection:
    """One WebSocket's subscriptions and outgoing messages. Make it on the socket's event loop; `subscribe`,
    `unsubscribe` and `deliver` may be called from any thread, the rest only from that loop."""

    def __init__(self, hub: Hub, send: Callable[[str], Awaitable[None]], disconnect: Callable[[], Awaitable[Any]]):
        self.hub = hub
        self.loop = asyncio.get_running_loop()
        self._send = send
        self._disconnect = disconnect
        self._lock = threading.Lock()
        self._subs: dict[str, Subscription] = {}
        self._closed = False
        self._outbox: deque[str] = deque()
        self._ready = asyncio.Event()
        self._writer = self.loop.create_task(self._write())

    def subscribe(self, feed: Feed) -> str:
        sub = Subscription(new_id(), feed, self)
        with self._lock:
            if self._closed:
                raise ServerError("connection closed")
            self._subs[sub.id] = sub
        self.hub.add(sub)
        return sub.id

    def unsubscribe(self, sub_id: str) -> bool:
        with self._lock:
            sub = self._subs.pop(sub_id, None)
        if sub is not None:
            self.hub.remove(sub)
        return sub is not None

    def deliver(self, sub: Subscription, results: list) -> None:
        try:
            self.loop.call_soon_threadsafe(self._notify, sub, results)
        except RuntimeError:   # the loop has closed: the socket is gone
            pass

    def send(self, text: str) -> None:
        if self._closed:
            return
        self._outbox.append(text)
        self._ready.set()
        if len(self._outbox) > OUTBOX_LIMIT:
            self._overflow()

    def activate(self, sub_ids: list[str]) -> None:
        """The eth_subscribe answers naming `sub_ids` are queued: release what their subscriptions hold."""
        for sub_id in sub_ids:
            sub = self._subs.get(sub_id)
            if sub is not None and not sub.active:
                sub.active = True
                held, sub.early = sub.early, []
                self._notify(sub, held)

    def close(self) -> None:
        """The socket has closed: end its subscriptions and stop writing."""
        with self._lock:
            self._closed = True
            subs, self._subs = list(self._subs.values()), {}
        for sub in subs:
            self.hub.remove(sub)
        self._writer.cancel()

    def _notify(self, sub: Subscription, results: list) -> None:
        if self._subs.get(sub.id) is not sub:
            return   # unsubscribed since
        if not sub.active:
            sub.early.extend(results)
            if len(sub.early) > OUTBOX_LIMIT:
                self._overflow()
            return
        for result in results:
            self.send(json.dumps({"jsonrpc": "2.0", "method": "eth_subscription",
                                  "params": {"subscription": sub.id, "result": result}}, separators=(",", ":")))

    def _overflow(self) -> None:
        log.warning("disconnecting a WebSocket client that is %d messages behind", OUTBOX_LIMIT)
        self._outbox.clear()
        self.close()
        self.loop.create_task(self._disconnect())

    async def _write(self) -> None:
        try:
            while True:
                await self._ready.wait()
                while self._outbox:
                    await self._send(self._outbox.popleft())
                self._ready.clear()
        except asyncio.CancelledError:
            raise
        except Exception as exc:   # the socket broke while writing; its reader will see the close
            log.debug("WebSocket write failed: %s", exc)
