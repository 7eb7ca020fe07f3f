"""The client side: JSON-RPC over HTTP with aiohttp, a fixed number of requests in flight."""
from __future__ import annotations

import asyncio
import itertools
import time
from dataclasses import dataclass
from typing import Any, Sequence

import aiohttp

RECEIPT_POLL = 0.02   # seconds a worker waits before asking again for a receipt that is not there yet


class RpcError(RuntimeError):
    pass


class Client:
    """One keep-alive connection per worker, as a load generator or a busy dapp backend holds them."""

    def __init__(self, url: str, concurrency: int):
        self.url = url
        self.concurrency = concurrency
        self._ids = itertools.count(1)
        self._session: aiohttp.ClientSession | None = None

    async def __aenter__(self) -> "Client":
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
        """eth_sendRawTransaction for each of `raws` in order of dispatch; returns the hashes."""
        hashes: list[str | None] = [None] * len(raws)
        todo = iter(range(len(raws)))

        async def worker() -> None:
            for i in todo:
                hashes[i] = await self.call("eth_sendRawTransaction", ["0x" + raws[i].hex()])

        await self._run_workers(worker)
        return hashes

    async def receipts(self, hashes: Sequence[str]) -> list[dict]:
        """eth_getTransactionReceipt for each hash until it is found (a pending one is asked again)."""
        found: list[dict | None] = [None] * len(hashes)
        todo = iter(range(len(hashes)))

        async def worker() -> None:
            for i in todo:
                while (receipt := await self.call("eth_getTransactionReceipt", [hashes[i]])) is None:
                    await asyncio.sleep(RECEIPT_POLL)
                found[i] = receipt

        await self._run_workers(worker)
        return found

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
    """N transactions sent and all their receipts found."""
    seconds: float
    send_seconds: float
    succeeded: int
    blocks: int

    def tps(self, n: int) -> float:
        return n / self.seconds


async def deliver(url: str, raws: Sequence[bytes], concurrency: int) -> Delivery:
    """Submit `raws` with `concurrency` requests in flight, then wait until every receipt is found."""
    async with Client(url, concurrency) as client:
        started = time.perf_counter()
        hashes = await client.send_all(raws)
        sent = time.perf_counter()
        receipts = await client.receipts(hashes)
        done = time.perf_counter()
    return Delivery(done - started, sent - started, sum(1 for r in receipts if r["status"] == "0x1"),
                    len({r["blockNumber"] for r in receipts}))


async def request_rate(url: str, method: str, params: Sequence[Any], concurrency: int, seconds: float) -> float:
    async with Client(url, concurrency) as client:
        await client.call(method, params)  # connect before the clock starts
        return await client.rate(method, params, seconds)
