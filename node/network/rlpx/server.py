"""RlpxServer: accepts RLPx connections on a TCP port and hands each established one to a callback.

A peer that fails its handshake or Hello (garbage, wrong key, timeout) only loses its own socket: the failure is
logged and kept in `failures` (the last few), and the accept loop goes on.
"""
from __future__ import annotations

import asyncio
import collections
import inspect
import logging
from typing import Awaitable, Callable

from node.network.rlpx.connection import ConnectionConfig, RlpxConnection

log = logging.getLogger(__name__)

OnConnection = Callable[[RlpxConnection], Awaitable[None] | None]


class RlpxServer:
    """Listen on host:port (port 0 picks a free one); `on_connection(conn)` gets every established connection."""

    def __init__(self, private_key: bytes, config: ConnectionConfig, on_connection: OnConnection,
                 host: str = "127.0.0.1", port: int = 0) -> None:
        self.private_key, self.config, self.on_connection = private_key, config, on_connection
        self.host, self.port = host, port
        self.failures: collections.deque[Exception] = collections.deque(maxlen=64)
        self._server: asyncio.Server | None = None
        self._tasks: set[asyncio.Task] = set()

    async def start(self) -> None:
        """Bind and start accepting; `port` is the bound port afterwards."""
        self._server = await asyncio.start_server(self._accept, self.host, self.port)
        self.port = self._server.sockets[0].getsockname()[1]

    async def close(self) -> None:
        """Stop accepting and cancel connections still in their handshake (established ones belong to callers)."""
        if self._server is not None:
            self._server.close()
            await self._server.wait_closed()
        for task in list(self._tasks):
            task.cancel()
        if self._tasks:
            await asyncio.gather(*self._tasks, return_exceptions=True)

    async def _accept(self, reader: asyncio.StreamReader, writer: asyncio.StreamWriter) -> None:
        task = asyncio.current_task()
        assert task is not None
        self._tasks.add(task)
        try:
            conn = await RlpxConnection.accept(self.private_key, reader, writer, self.config)
        except asyncio.CancelledError:
            raise
        except Exception as exc:  # any peer's failure ends its socket only, never the server
            self.failures.append(exc)
            log.debug("rlpx: refused inbound %s: %s", writer.get_extra_info("peername"), exc)
            return
        finally:
            self._tasks.discard(task)
        try:
            result = self.on_connection(conn)
            if inspect.isawaitable(result):
                await result
        except Exception as exc:
            self.failures.append(exc)
            log.warning("rlpx: connection handler failed: %s", exc)
            await conn.disconnect()
