"""The node's side of a JSON-RPC front process (rpc/front.py): the node's usual app, served over the link instead of
a TCP port.

`Backend(node, sock, ...)` is an RpcServer whose app (the same methods, filters, subscription hub and worker
threads) answers frames from the front (rpc/link.py): a forwarded HTTP body goes through `handle_payload` as if it
had come over HTTP; a WebSocket the front relays gets a `Connection` here, so subscriptions are the node's own; a
transaction whose sender the front already recovered goes straight to the pool, on the event loop (admission takes
tens of microseconds, less than the hop to a worker thread).
"""
from __future__ import annotations

import asyncio
import logging
import socket
import threading
from typing import Any, Callable, Sequence

from aiohttp import web

from rpc import encode as rpc_encode, filters, link
from rpc.errors import to_rpc_error
from rpc.server import HUB, NODE, RpcServer, handle_payload, ws_reply
from rpc.subscriptions import Connection

log = logging.getLogger("smartchain.rpc")


class Backend(RpcServer):
    """The node's app on one end of a socketpair; `on_lost` is called (from the server's thread) if the front goes
    away while the backend runs."""

    def __init__(self, node, sock: socket.socket, cors_origins: Sequence[str] | None = None,
                 filter_timeout: float = filters.TIMEOUT, on_lost: Callable[[], None] | None = None):
        super().__init__(node, "", 0, cors_origins, filter_timeout)
        self.sock = sock
        self.on_lost = on_lost
        self.ready = threading.Event()   # the front says it is serving
        self._task: asyncio.Task | None = None
        self._session: _Session | None = None
        self.stopping = False   # set when the front is being stopped: its going away is expected

    async def _open(self, runner: web.AppRunner) -> None:
        reader, writer = await link.open_link(self.sock)
        self._session = _Session(runner.app, writer, self.ready)
        self._task = asyncio.get_running_loop().create_task(self._serve(reader))

    def _started(self) -> None:
        log.debug("JSON-RPC backend serving its front process")

    async def _serve(self, reader: asyncio.StreamReader) -> None:
        try:
            async for frame in link.frames(reader):
                self._session.receive(frame)
        finally:
            self._session.close()
            if not self.stopping and self.on_lost is not None:
                self.on_lost()

    def hand_over(self, go: dict[str, Any]) -> None:
        """Tell the front what it needs to start serving (thread-safe)."""
        self._loop.call_soon_threadsafe(self._session.send, {"go": go})

    def stop(self) -> None:
        self.stopping = True
        super().stop()

    async def _close(self) -> None:
        if self._task is not None:
            self._task.cancel()
        if self._session is not None:
            self._session.writer.close()


class _Session:
    """One front's frames: the calls in flight, the relayed WebSockets and their tasks."""

    def __init__(self, app: web.Application, writer: asyncio.StreamWriter, ready: threading.Event):
        self.app = app
        self.writer = writer
        self.ready = ready
        self.tasks: set[asyncio.Task] = set()
        self.sockets: dict[int, tuple[Connection, set[asyncio.Task]]] = {}

    def send(self, frame: dict) -> None:
        if not self.writer.is_closing():
            self.writer.write(link.encode(frame))

    def receive(self, frame: dict[str, Any]) -> None:
        if "h" in frame:
            self._spawn(self._http(frame["i"], frame["h"]), self.tasks)
        elif "a" in frame:
            self._admit(frame["i"], frame["a"], frame["f"])
        elif "m" in frame:
            self._spawn(self._mined(frame["i"], frame["m"]), self.tasks)
        elif "w" in frame:
            entry = self.sockets.get(frame["w"])
            if entry is not None:
                self._spawn(ws_reply(self.app, entry[0], frame["t"]), entry[1])
        elif "o" in frame:
            self._open_socket(frame["o"])
        elif "x" in frame:
            self._close_socket(frame["x"])
        elif frame.get("ready"):
            self.ready.set()

    def _spawn(self, coroutine, tasks: set[asyncio.Task]) -> None:
        task = asyncio.get_running_loop().create_task(coroutine)
        tasks.add(task)
        task.add_done_callback(tasks.discard)

    async def _http(self, i: int, text: str) -> None:
        self.send({"i": i, "t": await handle_payload(self.app, text)})

    def _admit(self, i: int, raw: str, sender: str) -> None:
        try:
            tx_hash = self.app[NODE].send_raw_transaction(bytes.fromhex(raw), bytes.fromhex(sender))
        except Exception as exc:   # the pool's refusals, with geth's codes and messages
            self.send({"i": i, "e": to_rpc_error(exc).to_json()})
        else:
            self.send({"i": i, "r": rpc_encode.data(tx_hash)})

    async def _mined(self, i: int, tx_hash: str) -> None:
        mined = self.app[NODE].mined
        if mined is not None and mined.automining():
            await mined.wait_async(bytes.fromhex(tx_hash))
        self.send({"i": i, "r": None})

    def _open_socket(self, c: int) -> None:
        async def send(text: str) -> None:
            self.send({"w": c, "t": text})
            await self.writer.drain()

        async def disconnect() -> None:
            self.send({"k": c})

        self.sockets[c] = (Connection(self.app[HUB], send, disconnect), set())

    def _close_socket(self, c: int) -> None:
        entry = self.sockets.pop(c, None)
        if entry is not None:
            entry[0].close()
            for task in entry[1]:
                task.cancel()

    def close(self) -> None:
        for c in list(self.sockets):
            self._close_socket(c)
        for task in self.tasks:
            task.cancel()

