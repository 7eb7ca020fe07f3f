"""JSON-RPC answered in-process: the server's own method table, filters and error mapping, with no socket and no JSON.

`InProcessRpc(node)` holds an app made by `rpc.server.create_app` (its method registry and polling filters) and
answers already-parsed requests and batches as the HTTP server answers their bodies. `answer` runs the handler in
the calling thread (what makes the sync provider fast: no event loop, no thread hop); `answer_async` awaits the
server's own `answer_call`, whose handlers run on the app's worker lanes. The envelope rules (`invalid request`,
notifications, empty and oversized batches) are the server's: tests/test_testing_provider.py replays a corpus of
requests through both and through HTTP and compares every answer.
"""
from __future__ import annotations

import time
from concurrent.futures import ThreadPoolExecutor
from typing import Any, Awaitable, Callable

from node.execution.deadline import request_clock
from rpc.registry import RECEIPT, Context, lookup, mined_wait
from rpc.server import (EXEC_LANE, EXEC_WORKERS, EXECUTOR, FILTERS, METHODS, WORKERS, answer_call, batch_refusal,
                        create_app, malformed_call, reply)


class InProcessRpc:
    """The node's JSON-RPC app without a transport: parsed requests in, the answers the server would send out."""

    def __init__(self, node) -> None:
        self.node = node
        self.app = create_app(node)
        # the app's worker lanes, as its startup makes them (used by answer_async only; threads start on first use)
        self.app[EXECUTOR] = ThreadPoolExecutor(max_workers=WORKERS, thread_name_prefix="rpc")
        self.app[EXEC_LANE] = ThreadPoolExecutor(max_workers=EXEC_WORKERS, thread_name_prefix="rpc-exec")
        self.methods = self.app[METHODS]
        self.filters = self.app[FILTERS]
        self.filters.start()   # filters hear new blocks and pending transactions, as while the app runs
        self.context = Context(node, self.filters, sends_wait=True)
        self.closed = False

    def close(self) -> None:
        if self.closed:
            return
        self.closed = True
        self.filters.stop()
        self.app[EXEC_LANE].shutdown(wait=False, cancel_futures=True)
        self.app[EXECUTOR].shutdown(wait=False, cancel_futures=True)

    # -- synchronous: the handler runs in the calling thread --

    def answer(self, message: Any) -> dict | list | None:
        """A parsed request or batch -> its answer (None when only notifications were sent)."""
        return _batch(message, self.answer_call)

    def answer_call(self, message: Any) -> dict | None:
        """One call, as rpc.server.answer_call answers it, with the handler run here rather than on a worker."""
        refusal = malformed_call(message)
        if refusal is not None:
            return refusal
        try:
            method = lookup(self.methods, message["method"])
            with request_clock(time.monotonic()):
                result = method(self.context, message.get("params"))
        except Exception as exc:  # as the server: every failure is an error answer
            return reply(message, failure=exc)
        mined, tx_hash = mined_wait(self.context, message["method"], message.get("params"), result)
        if mined is not None:
            mined.wait(tx_hash)
            if message["method"] == RECEIPT:   # now in a block (or not coming): ask again
                try:
                    with request_clock(time.monotonic()):
                        result = method(self.context, message.get("params"))
                except Exception as exc:
                    return reply(message, failure=exc)
        return reply(message, result)

    # -- asynchronous: the server's own answer_call, on the caller's event loop --

    async def answer_async(self, message: Any) -> dict | list | None:
        if not isinstance(message, list):
            return await answer_call(self.app, self.context, message)
        return await _abatch(message, lambda m: answer_call(self.app, self.context, m))


def _batch(message: Any, one: Callable[[Any], dict | None]) -> dict | list | None:
    if not isinstance(message, list):
        return one(message)
    refusal = batch_refusal(message)
    if refusal is not None:
        return refusal
    answers = [answer for answer in map(one, message) if answer is not None]
    return answers or None


async def _abatch(message: list, one: Callable[[Any], Awaitable[dict | None]]) -> dict | list | None:
    refusal = batch_refusal(message)
    if refusal is not None:
        return refusal
    answers = [answer for answer in [await one(m) for m in message] if answer is not None]
    return answers or None
