"""The channel between the node and its JSON-RPC front process (rpc/front.py, rpc/backend.py): JSON frames, one per
line, over a socketpair the node made (no path on disk: only the front holds the other end, so no other local
process can hand the node a transaction with a sender it claims).

front -> node
  {"i": n, "h": text}               a request or batch as it came over HTTP -> {"i": n, "t": answer or null}
  {"i": n, "a": raw, "f": sender}   eth_sendRawTransaction, sender recovered by the front (hex) ->
                                    {"i": n, "r": hash} or {"i": n, "e": error object}
  {"i": n, "m": hash}               answer once the automined block of transaction `hash` (hex) is in, or at once
                                    when none is coming (node/automine.py) -> {"i": n, "r": null}
  {"o": c} / {"w": c, "t": text} / {"x": c}   WebSocket c opened / a message on it / closed
  {"ready": true}                   the front is serving
node -> front
  {"go": {...}}                     what the front needs once the node has started (data dir, genesis, CORS)
  {"w": c, "t": text}               a message for WebSocket c: answers and notifications, in order
  {"k": c}                          close WebSocket c, its client does not keep up
"""
from __future__ import annotations

import asyncio
import json
import socket
from typing import Any, AsyncIterator

# one frame holds a whole request or answer: geth's 32 MB WebSocket message, escaped, with room to spare
FRAME_LIMIT = 128 * 1024 * 1024


def encode(frame: dict) -> bytes:
    return json.dumps(frame, separators=(",", ":")).encode() + b"\n"


async def open_link(sock: socket.socket) -> tuple[asyncio.StreamReader, asyncio.StreamWriter]:
    return await asyncio.open_unix_connection(sock=sock, limit=FRAME_LIMIT)


async def frames(reader: asyncio.StreamReader) -> AsyncIterator[dict[str, Any]]:
    """Each frame until the other end closes (or breaks) the channel."""
    while True:
        try:
            line = await reader.readline()
        except (ConnectionError, ValueError):   # ValueError: a line over FRAME_LIMIT, which neither end writes
            return
        if not line:
            return
        yield json.loads(line)
