"""Two Peers joined in memory, for single-process tests and the in-process Devnet.

Each side's messages are RLP-encoded, queued as (code, payload) frames and decoded by the other side, exactly as
an RLPx connection would carry them (without the encryption and framing). Queues are bounded: a sender waits while
the receiver's reader is `FRAME_QUEUE` frames behind, as a TCP sender would.
"""
from __future__ import annotations

import asyncio

from node.network.eth.chaintypes import ChainTypes
from node.network.peer import DisconnectReason, Peer

FRAME_QUEUE = 64


class MemoryPeer(Peer):
    """Our end of an in-memory connection; `remote` is the other end."""

    def __init__(self, peer_id: str, types: ChainTypes, **options) -> None:
        super().__init__(peer_id, types, **options)
        self.remote: MemoryPeer | None = None
        self._frames: asyncio.Queue[tuple[int, bytes] | DisconnectReason] = asyncio.Queue(FRAME_QUEUE)
        self._reader: asyncio.Task | None = None
        self.sent_frames = 0   # frames this end has put on the wire (tests count traffic with it)

    def start(self) -> None:
        self._reader = asyncio.get_running_loop().create_task(self._read(), name=f"memory peer {self.id}")

    async def _read(self) -> None:
        while True:
            frame = await self._frames.get()
            if isinstance(frame, DisconnectReason):
                self._remote_closed(frame)
                return
            await self._deliver(*frame)
            if self.closed:
                return

    async def _send_frame(self, code: int, payload: bytes) -> None:
        if self.remote.closed:
            return   # the other end is gone; its Disconnect is on its way to our reader (TCP would fail the write)
        self.sent_frames += 1
        await self.remote._frames.put((code, payload))

    async def _close(self, reason: DisconnectReason) -> None:
        # the Disconnect goes out even if the other side's queue is full (a transport writes it ahead of data)
        remote_frames = self.remote._frames
        while remote_frames.full():
            remote_frames.get_nowait()
        remote_frames.put_nowait(reason)
        if self._reader is not None and self._reader is not asyncio.current_task():
            self._reader.cancel()


def memory_pair(types_a: ChainTypes, types_b: ChainTypes | None = None, *, ids: tuple[str, str] = ("a", "b"),
                **options) -> tuple[MemoryPeer, MemoryPeer]:
    """Two connected peers (a's view of b, b's view of a), reading already; call from a running event loop.

    `a.id` is "b" and `b.id` is "a": each Peer is named after the node at its other end."""
    a, b = MemoryPeer(ids[1], types_a, **options), MemoryPeer(ids[0], types_b or types_a, **options)
    a.remote, b.remote = b, a
    a.start()
    b.start()
    return a, b
