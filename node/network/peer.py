"""The `Peer` that sync and gossip talk to, whatever carries its bytes: typed eth messages out and in, requests
matched to responses by request id, and disconnects with devp2p's reasons.

A transport (RLPx connection, or node/network/memory.py in one process) subclasses Peer: it implements
`_send_frame(code, payload)` and `_close(reason)`, and hands every frame it reads to `_deliver(code, payload)`.
Messages always cross as RLP bytes, so both transports exercise the same codec. Responses go to the request tracker
(never to `receive()`); a response nobody asked for, a second one to the same request, or one of the wrong kind
breaks the protocol and ends the connection, as geth's tracker and dispatcher do.

Satellite protocols (BSC's `bsc`: votes) ride beside eth: `send_satellite(message)`, and in `handle_satellites(fn)`
(called on the loop for each message as it is read: votes are many and small, a reader task per peer would cost
more than handling them) or `receive_satellite()`, with a queue of their own until a handler is set, so that a BscCap
arriving during the eth handshake never stands where Status is expected. RLPx
carries them under their negotiated capability (node/network/bsc/rlpxpeer.py); in memory they take frame codes from
MEMORY_SATELLITE_OFFSET, the way RLPx offsets each capability's ids.
"""
from __future__ import annotations

import asyncio
import dataclasses
import logging
import secrets
from collections import OrderedDict
from typing import Callable

from node.network.bsc import messages as bsc
from node.network.eth import codec
from node.network.eth.chaintypes import ChainTypes
from node.network.eth.messages import Message, Request, Response
from node.network.eth.protocol import EthProtocolError
# devp2p's reasons, as the p2p capability defines them (re-exported: sync and gossip disconnect with them)
from node.network.rlpx.p2p import DisconnectReason, reason_text

log = logging.getLogger("smartchain.network.peer")

REQUEST_TIMEOUT = 5.0   # seconds: BSC's block fetcher fetchTimeout
INBOX_SIZE = 256        # messages read but not yet taken by receive(): the reader waits beyond that
RECENT_REQUESTS = 1024  # finished request ids remembered, to name a duplicate or late response as such
SATELLITE_INBOX = 256   # satellite messages (votes) read but not taken: more are dropped, as gossip may be
MEMORY_SATELLITE_OFFSET = 0x100   # in-memory frame code of `bsc` message 0 (eth's codes stay below 0x11)


class PeerDisconnected(Exception):
    """The peer is gone; `reason` says why, `by_us` whether we ended it."""

    def __init__(self, reason: DisconnectReason | int, by_us: bool) -> None:
        side = "disconnected" if by_us else "peer disconnected"
        super().__init__(f"{side}: {reason_text(reason)}")
        self.reason = reason
        self.by_us = by_us


class RequestTimeout(Exception):
    def __init__(self, request: Request, seconds: float) -> None:
        super().__init__(f"request timed out: {request.name} (id {request.request_id}) after {seconds:g} s")
        self.request = request


class UnsolicitedResponse(EthProtocolError):
    """A response whose request id we are not waiting for."""

    def __init__(self, response: Response, detail: str = "no such request pending") -> None:
        super().__init__(f"unsolicited response: {response.name} with request id {response.request_id}: {detail}")
        self.response = response


class DuplicateResponse(UnsolicitedResponse):
    def __init__(self, response: Response) -> None:
        super().__init__(response, "that request was already answered")


class LateResponse(UnsolicitedResponse):
    def __init__(self, response: Response) -> None:
        super().__init__(response, "that request already timed out")


class MismatchedResponse(UnsolicitedResponse):
    def __init__(self, response: Response, request: Request) -> None:
        super().__init__(response, f"the request was {request.name}")


class RequestTracker:
    """Request id -> the future its response completes; ids are random 64-bit numbers, as geth's are."""

    def __init__(self) -> None:
        self._pending: dict[int, tuple[Request, asyncio.Future]] = {}
        self._finished: OrderedDict[int, str] = OrderedDict()   # id -> "answered" | "timed out"

    def __len__(self) -> int:
        return len(self._pending)

    def new_id(self) -> int:
        while True:
            request_id = secrets.randbits(64)
            if request_id not in self._pending and request_id not in self._finished:
                return request_id

    def track(self, request: Request) -> asyncio.Future:
        """A future for `request`'s response; `request.request_id` must be new."""
        if request.request_id in self._pending:
            raise ValueError(f"request id {request.request_id} is already pending")
        future = asyncio.get_running_loop().create_future()
        self._pending[request.request_id] = (request, future)
        return future

    def fulfil(self, response: Response) -> None:
        """Complete the request `response` answers; raises UnsolicitedResponse (or a subclass) if there is none."""
        entry = self._pending.get(response.request_id)
        if entry is None:
            finished = self._finished.get(response.request_id)
            if finished == "answered":
                raise DuplicateResponse(response)
            if finished == "timed out":
                raise LateResponse(response)
            raise UnsolicitedResponse(response)
        request, future = entry
        if not isinstance(request, response.answers):
            raise MismatchedResponse(response, request)
        del self._pending[response.request_id]
        self._finish(response.request_id, "answered")
        if not future.done():
            future.set_result(response)

    def expire(self, request_id: int) -> None:
        """Forget a request that timed out (a response after this is a LateResponse)."""
        entry = self._pending.pop(request_id, None)
        if entry is not None:
            self._finish(request_id, "timed out")
            if not entry[1].done():
                entry[1].cancel()

    def fail_all(self, exc: BaseException) -> None:
        """The connection ended: every waiting request raises `exc`."""
        for _, future in self._pending.values():
            if not future.done():
                future.set_exception(exc)
        self._pending.clear()

    def _finish(self, request_id: int, how: str) -> None:
        self._finished[request_id] = how
        while len(self._finished) > RECENT_REQUESTS:
            self._finished.popitem(last=False)


class Peer:
    """One connected peer speaking eth/68. Subclasses provide the transport (see the module docstring)."""

    def __init__(self, peer_id: str, types: ChainTypes, *, request_timeout: float = REQUEST_TIMEOUT,
                 inbox_size: int = INBOX_SIZE) -> None:
        self.id = peer_id
        self.types = types
        self.request_timeout = request_timeout
        self.tracker = RequestTracker()
        self.error: Exception | None = None   # the protocol error that made us disconnect, if any
        self.disconnect_reason: DisconnectReason | None = None
        self.disconnected_by_us = False
        self._inbox: asyncio.Queue[Message] = asyncio.Queue(inbox_size)
        self._satellite_inbox: asyncio.Queue[bsc.BscMessage] = asyncio.Queue(SATELLITE_INBOX)
        self.dropped_satellite = 0   # satellite messages dropped because nobody took them fast enough
        self._satellite_handler: Callable[[bsc.BscMessage], None] | None = None
        self._closed = asyncio.Event()

    def __repr__(self) -> str:
        return f"<{type(self).__name__} {self.id}>"

    @property
    def closed(self) -> bool:
        return self._closed.is_set()

    # -- the interface sync and gossip use --------------------------------------------------------------------------
    async def send(self, message: Message) -> None:
        """Send one message (announcement, request or response) as is."""
        self._check_open()
        code, payload = codec.encode(message)
        await self._send_frame(code, payload)

    async def request(self, request: Request, timeout: float | None = None) -> Response:
        """Send `request` under a fresh request id and wait for its response (RequestTimeout, PeerDisconnected)."""
        self._check_open()
        request = dataclasses.replace(request, request_id=self.tracker.new_id())
        future = self.tracker.track(request)
        seconds = self.request_timeout if timeout is None else timeout
        try:
            await self.send(request)
            return await asyncio.wait_for(future, seconds)
        except asyncio.TimeoutError:
            raise RequestTimeout(request, seconds) from None
        finally:
            self.tracker.expire(request.request_id)   # a no-op once answered

    async def receive(self) -> Message:
        """The next message that is not a response (announcements, requests, Status); PeerDisconnected when gone."""
        return await self._next(self._inbox)

    async def _next(self, inbox: asyncio.Queue) -> object:
        if inbox.empty():
            self._check_open()
            getter = asyncio.ensure_future(inbox.get())
            closer = asyncio.ensure_future(self._closed.wait())
            try:
                await asyncio.wait((getter, closer), return_when=asyncio.FIRST_COMPLETED)
            finally:
                closer.cancel()
                if not getter.done():
                    getter.cancel()
            if getter.done() and not getter.cancelled():
                return getter.result()
            self._check_open()
        return inbox.get_nowait()

    # -- satellite protocols (bsc) ----------------------------------------------------------------------------------
    @property
    def satellites(self) -> dict[str, int]:
        """Satellite protocol -> version both sides speak. In memory both ends are this code, which speaks bsc/1;
        an RLPx peer answers what the Hellos negotiated."""
        return {bsc.PROTOCOL_NAME: bsc.BSC1}

    async def send_satellite(self, message: bsc.BscMessage) -> None:
        """Send one satellite message (PeerDisconnected when gone)."""
        self._check_open()
        await self._send_satellite(message.protocol, message.code, message.encode())

    async def receive_satellite(self) -> bsc.BscMessage:
        """The next satellite message; PeerDisconnected when gone."""
        return await self._next(self._satellite_inbox)

    def handle_satellites(self, handler: Callable[[bsc.BscMessage], None] | None) -> None:
        """Hand every satellite message to `handler` from now on (those queued first); None: queue them again."""
        self._satellite_handler = handler
        while handler is not None and not self._satellite_inbox.empty():
            self._handle_satellite(self._satellite_inbox.get_nowait())

    def _handle_satellite(self, message: bsc.BscMessage) -> None:
        try:
            self._satellite_handler(message)
        except Exception:   # a bug handling one vote must not end the reader of the whole connection
            log.exception("peer %s: handling %s failed", self.id, message.name)

    async def _send_satellite(self, protocol: str, code: int, payload: bytes) -> None:
        await self._send_frame(MEMORY_SATELLITE_OFFSET + code, payload)

    async def _deliver_satellite(self, protocol: str, code: int, payload: bytes) -> None:
        """A satellite frame read from the peer: decoded and queued (dropped when the queue is full); one that does
        not decode disconnects the peer (subprotocol error), as BSC's handler ends a peer on a decode error."""
        if self.closed:
            return
        try:
            if protocol != bsc.PROTOCOL_NAME:
                raise EthProtocolError(f"unknown satellite protocol {protocol!r}")
            message = bsc.decode(code, payload)
        except EthProtocolError as exc:
            log.debug("peer %s: %s", self.id, exc)
            self.error = exc
            await self.disconnect(DisconnectReason.SUBPROTOCOL_ERROR)
            return
        if self._satellite_handler is not None:
            self._handle_satellite(message)
            return
        try:
            self._satellite_inbox.put_nowait(message)
        except asyncio.QueueFull:
            self.dropped_satellite += 1

    async def disconnect(self, reason: DisconnectReason = DisconnectReason.REQUESTED) -> None:
        """End the connection, telling the peer why; waiting requests and receive() raise PeerDisconnected."""
        if self.closed:
            return
        self._mark_closed(reason, by_us=True)
        await self._close(reason)

    # -- for transports ------------------------------------------------------------------------------------------------
    async def _deliver(self, code: int, payload: bytes) -> None:
        """A frame read from the peer: decoded, responses to the tracker, the rest to the inbox. A protocol error
        disconnects the peer (subprotocol error) and is kept in `error`."""
        if self.closed:
            return
        if code >= MEMORY_SATELLITE_OFFSET:
            await self._deliver_satellite(bsc.PROTOCOL_NAME, code - MEMORY_SATELLITE_OFFSET, payload)
            return
        try:
            message = codec.decode(code, payload, self.types)
            if isinstance(message, Response):
                self.tracker.fulfil(message)
                return
        except EthProtocolError as exc:
            log.debug("peer %s: %s", self.id, exc)
            self.error = exc
            await self.disconnect(DisconnectReason.SUBPROTOCOL_ERROR)
            return
        await self._inbox.put(message)

    def _remote_closed(self, reason: DisconnectReason) -> None:
        """The peer sent Disconnect or the transport broke."""
        if not self.closed:
            self._mark_closed(reason, by_us=False)

    def _mark_closed(self, reason: DisconnectReason, by_us: bool) -> None:
        self.disconnect_reason, self.disconnected_by_us = reason, by_us
        self._closed.set()
        self.tracker.fail_all(PeerDisconnected(reason, by_us))

    def _check_open(self) -> None:
        if self.closed:
            raise PeerDisconnected(self.disconnect_reason, self.disconnected_by_us)

    async def _send_frame(self, code: int, payload: bytes) -> None:
        raise NotImplementedError

    async def _close(self, reason: DisconnectReason) -> None:
        raise NotImplementedError
