"""The client side: JSON-RPC over HTTP with aiohttp, a fixed number of requests in flight."""
from __future__ import annotations

import asyncio
import itertools
import time
from collections.abc import Sequence
from dataclasses import dataclass
from typing import Any

import aiohttp

# seconds between polls while waiting for transactions to be mined, web3.py's wait_for_transaction_receipt default
# (polling much faster only steals the GIL from the node's block production: 32 workers at 20 ms halved its rate)
POLL = 0.1
DROP_CHECK_EVERY = 10     # polling rounds between asking whether the node still holds a stalled transaction
MINED_TIMEOUT = 600.0     # seconds to wait for everything to be mined at most


class RpcError(RuntimeError):
    pass


class Undelivered(RuntimeError):
    """A transaction the node accepted will never get a receipt (it left the pool unmined), or took too long."""


class Client:
    """One keep-alive connection per worker, as a load generator or a busy dapp backend holds them."""

    def __init__(self, url: str, concurrency: int):
        self.url = url
        self.concurrency = concurrency
        self._ids = itertools.count(1)
        self._session: aiohttp.ClientSession | None = None

    async def __aenter__(self) -> Client:
        connector = aiohttp.TCPConnector(limit=self.concurrency, force_close=False)
        self._session = aiohttp.ClientSession(connector=connector, timeout=aiohttp.ClientTimeout(total=120))
        return self

    async def __aexit__(self, *exc: object) -> None:
        await self._session.close()

    async def call(self, method: str, params: Sequence[Any] = ()) -> Any:
        body = {"jsonrpc": "2.0", "id": next(self._ids), "method": method, "params": list(params)}
        async with self._session.post(self.url, json=body) as response:
            answer = await response.json(content_type=None)
        if "error" in answer:
            raise RpcError(f"{method}: {answer['error']}")
        return answer["result"]

    async def _run_workers(self, worker) -> None:
        await asyncio.gather(*(worker() for _ in range(self.concurrency)))

    async def send_all(self, raws: Sequence[bytes]) -> list[str]:
        """eth_sendRawTransaction for each of `raws`, dispatched in order; returns the hashes."""
        return await self._each(raws, lambda raw: self.call("eth_sendRawTransaction", ["0x" + raw.hex()]))

    async def _each(self, items: Sequence[Any], call) -> list[Any]:
        """`call(item)` for every item, `concurrency` at a time; results in order."""
        results: list[Any] = [None] * len(items)
        todo = iter(range(len(items)))

        async def worker() -> None:
            for i in todo:
                results[i] = await call(items[i])

        await self._run_workers(worker)
        return results

    async def wait_mined(self, final_nonces: dict[bytes, int], hash_of: dict[tuple[bytes, int], str],
                         timeout: float = MINED_TIMEOUT) -> None:
        """Poll each sender's mined nonce (eth_getTransactionCount 'latest') until it reaches `final_nonces`.

        Raises Undelivered when the node no longer knows the next transaction of a stalled sender (it left the
        pool without being mined), or after `timeout`.
        """
        waiting = dict(final_nonces)
        deadline = time.perf_counter() + timeout
        for round_ in itertools.count(1):
            senders = list(waiting)
            counts = await self._each(
                senders, lambda a: self.call("eth_getTransactionCount", ["0x" + a.hex(), "latest"]))
            for sender, count in zip(senders, counts):
                if int(count, 16) >= waiting[sender]:
                    del waiting[sender]
            if not waiting:
                return
            if round_ % DROP_CHECK_EVERY == 0:
                stalled = {s: int(c, 16) for s, c in zip(senders, counts) if s in waiting}
                for sender, next_nonce in stalled.items():
                    tx_hash = hash_of.get((sender, next_nonce))
                    if tx_hash is not None and await self._dropped(tx_hash):
                        raise Undelivered(f"the node dropped transaction {tx_hash} (nonce {next_nonce} of "
                                          f"0x{sender.hex()}) without mining it")
            if time.perf_counter() > deadline:
                raise Undelivered(f"{len(waiting)} senders still have unmined transactions after {timeout:g} s")
            await asyncio.sleep(POLL)

    async def receipts(self, hashes: Sequence[str]) -> list[dict]:
        """eth_getTransactionReceipt for each hash (all mined already)."""
        found = await self._each(hashes, lambda h: self.call("eth_getTransactionReceipt", [h]))
        missing = [h for h, r in zip(hashes, found) if r is None]
        if missing:
            raise Undelivered(f"{len(missing)} mined transactions have no receipt, e.g. {missing[0]}")
        return found

    async def _dropped(self, tx_hash: str) -> bool:
        if await self.call("eth_getTransactionByHash", [tx_hash]) is not None:
            return False
        # it may have been mined between the two calls
        return await self.call("eth_getTransactionReceipt", [tx_hash]) is None

    async def rate(self, method: str, params: Sequence[Any], seconds: float) -> float:
        """Answered requests per second over about `seconds`."""
        count = 0
        deadline = time.perf_counter() + seconds

        async def worker() -> None:
            nonlocal count
            while time.perf_counter() < deadline:
                await self.call(method, params)
                count += 1

        started = time.perf_counter()
        await self._run_workers(worker)
        return count / (time.perf_counter() - started)


@dataclass
class Delivery:
    """N transactions sent, mined, and all their receipts read."""
    seconds: float           # first send to last receipt
    send_seconds: float      # sending, 32 in flight
    mined_seconds: float     # sent to mined (every sender's nonce reached)
    receipt_seconds: float   # reading every receipt, 32 in flight
    succeeded: int
    blocks: int

    def tps(self, n: int) -> float:
        return n / self.seconds


async def deliver(url: str, raws: Sequence[bytes], concurrency: int,
                  origin: dict[bytes, tuple[bytes, int]]) -> Delivery:
    """Submit `raws` (`origin`: raw -> (sender, nonce)) with `concurrency` requests in flight, wait until the
    node has mined them all, then read every receipt."""
    final: dict[bytes, int] = {}
    for raw in raws:
        sender, nonce = origin[raw]
        final[sender] = max(final.get(sender, 0), nonce + 1)
    async with Client(url, concurrency) as client:
        started = time.perf_counter()
        hashes = await client.send_all(raws)
        sent = time.perf_counter()
        await client.wait_mined(final, {origin[raw]: h for raw, h in zip(raws, hashes)})
        mined = time.perf_counter()
        receipts = await client.receipts(hashes)
        done = time.perf_counter()
    return Delivery(done - started, sent - started, mined - sent, done - mined,
                    sum(1 for r in receipts if r["status"] == "0x1"), len({r["blockNumber"] for r in receipts}))


async def request_rate(url: str, method: str, params: Sequence[Any], concurrency: int, seconds: float) -> float:
    async with Client(url, concurrency) as client:
        await client.call(method, params)  # connect before the clock starts
        return await client.rate(method, params, seconds)
