"""One RLPx connection over asyncio streams: handshake, Hello exchange, then a reader, a writer and a pinger task.

The caller sees sub-protocol messages only, as `Message(protocol, version, code, payload)` with `code` relative to
the capability; `p2p` traffic (Ping/Pong, Disconnect) is handled here. Timeouts follow geth: 5 s for the auth/ack
exchange and again for the Hellos, a Ping every 15 s, a frame read deadline of 30 s and a write deadline of 20 s.
Any failure ends this connection only, with `error` and `disconnect_reason` telling why.
"""
from __future__ import annotations

import asyncio
import logging
from dataclasses import dataclass

from node.network.rlpx.crypto import keccak256, public_key
from node.network.rlpx.errors import (
    ConnectionClosedError,
    HandshakeTimeoutError,
    MessageTooLargeError,
    ProtocolError,
    RlpxError,
    SendQueueFullError,
)
from node.network.rlpx.establish import READ_CHUNK, ConnectionConfig, Established, close_writer, establish
from node.network.rlpx.frames import FrameCodec
from node.network.rlpx.handshake import Handshake
from node.network.rlpx.p2p import (
    BASE_PROTOCOL_LENGTH,
    DISCONNECT,
    HELLO,
    PING,
    PING_PAYLOAD,
    PONG,
    DisconnectReason,
    Hello,
    SharedCapability,
    decode_disconnect,
    encode_disconnect,
    reason_text,
)
from node.network.rlpx.snappy import MAX_UINT24

__all__ = ["ConnectionConfig", "Message", "RlpxConnection"]

log = logging.getLogger(__name__)

_DISCONNECT_MARK = -1  # queue item that makes the writer send Disconnect and stop


@dataclass(frozen=True)
class Message:
    """A sub-protocol message: `code` is relative to its capability; `payload` is the RLP bytes, decompressed."""

    protocol: str
    version: int
    code: int
    payload: bytes


class RlpxConnection:
    """An established connection. Make one with `dial()` or `accept()`; then `recv()`, `send()`, `disconnect()`."""

    def __init__(self, reader: asyncio.StreamReader, writer: asyncio.StreamWriter, codec: FrameCodec, *,
                 private_key: bytes, remote_pubkey: bytes, hello: Hello, shared: list[SharedCapability],
                 config: ConnectionConfig, initiator: bool) -> None:
        self._reader, self._writer, self._codec = reader, writer, codec
        self.local_pubkey = public_key(private_key)
        self.remote_pubkey = remote_pubkey
        self.remote_hello = hello
        self.shared_capabilities = shared
        self.config = config
        self.initiator = initiator
        peer, own = writer.get_extra_info("peername"), writer.get_extra_info("sockname")
        self.remote_address: tuple[str, int] | None = (peer[0], peer[1]) if peer else None
        self.local_address: tuple[str, int] | None = (own[0], own[1]) if own else None
        self.error: Exception | None = None
        self.disconnect_reason: int | None = None
        self.remote_disconnected = False  # True when the peer sent the Disconnect
        self.pongs = 0
        self._by_name = {cap.name: cap for cap in shared}
        self._outbox: asyncio.Queue = asyncio.Queue(config.send_queue_size)
        self._inbox: asyncio.Queue = asyncio.Queue(config.recv_queue_size)
        self._closing = False
        self._closed = asyncio.Event()
        self._tasks: list[asyncio.Task] = []

    # -- set-up --

    @classmethod
    async def dial(cls, private_key: bytes, remote_pubkey: bytes, host: str, port: int,
                   config: ConnectionConfig | None = None) -> "RlpxConnection":
        """Connect to host:port and complete the handshake and Hellos as initiator."""
        config = config or ConnectionConfig()
        handshake = Handshake.initiator(private_key, remote_pubkey)
        try:
            reader, writer = await asyncio.wait_for(
                asyncio.open_connection(host, port), config.handshake_timeout)
        except asyncio.TimeoutError:
            raise HandshakeTimeoutError(f"dial {host}:{port}", config.handshake_timeout) from None
        return cls._from(await establish(reader, writer, handshake, private_key, config), private_key, config)

    @classmethod
    async def accept(cls, private_key: bytes, reader: asyncio.StreamReader, writer: asyncio.StreamWriter,
                     config: ConnectionConfig | None = None) -> "RlpxConnection":
        """Complete the handshake and Hellos as recipient on an accepted socket."""
        config = config or ConnectionConfig()
        established = await establish(reader, writer, Handshake.recipient(private_key), private_key, config)
        return cls._from(established, private_key, config)

    @classmethod
    def _from(cls, est: Established, private_key: bytes, config: ConnectionConfig) -> "RlpxConnection":
        conn = cls(est.reader, est.writer, est.codec, private_key=private_key, remote_pubkey=est.remote_pubkey,
                   hello=est.hello, shared=est.shared, config=config, initiator=est.initiator)
        conn._start()
        return conn

    def _start(self) -> None:
        self._tasks = [asyncio.create_task(self._read_loop(), name="rlpx-reader"),
                       asyncio.create_task(self._write_loop(), name="rlpx-writer"),
                       asyncio.create_task(self._ping_loop(), name="rlpx-pinger")]

    # -- the public API --

    @property
    def remote_id(self) -> bytes:
        """The peer's node id: keccak256 of its public key."""
        return keccak256(self.remote_pubkey)

    @property
    def closed(self) -> bool:
        return self._closing

    @property
    def caps(self) -> list[str]:
        """The peer's capabilities as geth's admin_peers lists them ("eth/68"), all of them, sorted."""
        return [f"{name}/{version}" for name, version in sorted(self.remote_hello.capabilities)]

    def network_info(self) -> dict[str, object]:
        """The transport half of admin_peers' "network" object (trusted/static belong to the peer manager)."""
        def text(address: tuple[str, int] | None) -> str:
            return "" if address is None else f"{address[0]}:{address[1]}"
        return {"localAddress": text(self.local_address), "remoteAddress": text(self.remote_address),
                "inbound": not self.initiator}

    def capability(self, name: str) -> SharedCapability | None:
        """The negotiated capability of that name, if both sides speak it."""
        return self._by_name.get(name)

    def _absolute(self, protocol: str, code: int) -> int:
        cap = self._by_name.get(protocol)
        if cap is None:
            raise ProtocolError(f"capability {protocol!r} not shared with this peer")
        if not 0 <= code < cap.length:
            raise ProtocolError(f"message code {code:#x} out of range for {cap.name}/{cap.version}")
        return cap.offset + code

    def _item(self, protocol: str, code: int, payload: bytes) -> tuple[int, bytes]:
        if len(payload) > MAX_UINT24:  # refused here, not in the writer, where it would end the connection
            raise MessageTooLargeError(len(payload), MAX_UINT24)
        return self._absolute(protocol, code), payload

    async def send(self, protocol: str, code: int, payload: bytes) -> None:
        """Queue a message, waiting while the send queue is full; ConnectionClosedError once closed."""
        item = self._item(protocol, code, payload)
        self._check_open()
        if not self._outbox.full():
            self._outbox.put_nowait(item)
            return
        await self._until_closed(self._outbox.put(item))

    def send_nowait(self, protocol: str, code: int, payload: bytes) -> None:
        """Queue a message now or raise SendQueueFullError (for gossip that may be dropped)."""
        item = self._item(protocol, code, payload)
        self._check_open()
        try:
            self._outbox.put_nowait(item)
        except asyncio.QueueFull:
            raise SendQueueFullError(f"send queue full ({self._outbox.maxsize} messages)") from None

    async def recv(self) -> Message:
        """The next sub-protocol message; ConnectionClosedError once the connection is closed and drained."""
        if not self._inbox.empty():
            return self._inbox.get_nowait()
        self._check_open()
        return await self._until_closed(self._inbox.get())

    def __aiter__(self) -> "RlpxConnection":
        return self

    async def __anext__(self) -> Message:
        try:
            return await self.recv()
        except ConnectionClosedError:
            raise StopAsyncIteration from None

    async def ping(self) -> None:
        """Send a Ping now (the pinger sends one every `ping_interval` anyway)."""
        self._check_open()
        await self._until_closed(self._outbox.put((PING, PING_PAYLOAD)))

    async def disconnect(self, reason: int = DisconnectReason.REQUESTED) -> None:
        """Send Disconnect(reason) after what is already queued, then close."""
        await self._shutdown(reason, send=True)

    async def wait_closed(self) -> None:
        """Return once the connection is closed."""
        await self._closed.wait()

    def _check_open(self) -> None:
        if self._closing:
            raise ConnectionClosedError(self._closed_message(), self.disconnect_reason, self.remote_disconnected)

    def _closed_message(self) -> str:
        who = "peer" if self.remote_disconnected else "we"
        if self.error is not None:
            return f"connection closed: {self.error}"
        return f"connection closed ({who} disconnected: {reason_text(self.disconnect_reason)})"

    async def _until_closed(self, aw):
        """Await `aw`, or raise ConnectionClosedError if the connection closes first."""
        task = asyncio.ensure_future(aw)
        closed = asyncio.ensure_future(self._closed.wait())
        try:
            await asyncio.wait({task, closed}, return_when=asyncio.FIRST_COMPLETED)
        finally:
            closed.cancel()
            if not task.done():
                task.cancel()
        if task.done() and not task.cancelled():
            return task.result()
        raise ConnectionClosedError(self._closed_message(), self.disconnect_reason, self.remote_disconnected)

    # -- the three tasks --

    async def _read_loop(self) -> None:
        data = b""  # frames that arrived with the Hello are already in the codec's buffer
        try:
            while True:
                for code, payload in self._codec.feed(data):
                    await self._dispatch(code, payload)
                    if self._closing:
                        return
                try:
                    data = await asyncio.wait_for(self._reader.read(READ_CHUNK), self.config.read_timeout)
                except asyncio.TimeoutError:
                    self.error = ProtocolError(f"read timeout: no frame in {self.config.read_timeout:g}s")
                    await self._shutdown(DisconnectReason.READ_TIMEOUT, send=True)
                    return
                if not data:
                    self.error = ConnectionClosedError("connection closed by peer (EOF)")
                    await self._shutdown(DisconnectReason.NETWORK_ERROR, send=False)
                    return
        except RlpxError as exc:
            self.error = exc
            log.debug("rlpx: %s: %s", self.remote_address, exc)
            await self._shutdown(DisconnectReason.PROTOCOL_ERROR, send=True)
        except OSError as exc:
            self.error = exc
            await self._shutdown(DisconnectReason.NETWORK_ERROR, send=False)
        except Exception as exc:  # a bug must end this connection, not leave it half-open
            log.exception("rlpx: reader of %s failed", self.remote_address)
            self.error = exc
            await self._shutdown(DisconnectReason.PROTOCOL_ERROR, send=True)

    async def _dispatch(self, code: int, payload: bytes) -> None:
        if code == PING:
            if not self._outbox.full():  # a peer that floods Pings while not reading gets no more Pongs
                self._outbox.put_nowait((PONG, PING_PAYLOAD))
        elif code == PONG:
            self.pongs += 1
        elif code == DISCONNECT:
            reason = decode_disconnect(payload)
            self.remote_disconnected = True
            await self._shutdown(reason, send=False)
        elif code == HELLO:
            raise ProtocolError("second Hello")
        elif code < BASE_PROTOCOL_LENGTH:
            pass  # reserved p2p ids: geth discards them
        else:
            for cap in self.shared_capabilities:
                if cap.offset <= code < cap.offset + cap.length:
                    await self._inbox.put(Message(cap.name, cap.version, code - cap.offset, payload))
                    return
            raise ProtocolError(f"msg code out of range: {code}")

    async def _write_loop(self) -> None:
        try:
            while True:
                code, payload = await self._outbox.get()
                if code == _DISCONNECT_MARK:
                    code = DISCONNECT
                self._writer.write(self._codec.encode(code, payload))
                await asyncio.wait_for(self._writer.drain(), self.config.write_timeout)
                if code == DISCONNECT:
                    return
        except asyncio.TimeoutError:
            self.error = self.error or ProtocolError(f"write timeout after {self.config.write_timeout:g}s")
            await self._shutdown(DisconnectReason.NETWORK_ERROR, send=False)
        except Exception as exc:  # OSError, a codec error, or a bug: this connection ends, nothing else
            if not isinstance(exc, (OSError, RlpxError)):
                log.exception("rlpx: writer of %s failed", self.remote_address)
            self.error = self.error or exc
            await self._shutdown(DisconnectReason.NETWORK_ERROR, send=False)

    async def _ping_loop(self) -> None:
        while True:
            await asyncio.sleep(self.config.ping_interval)
            if not self._outbox.full():
                self._outbox.put_nowait((PING, PING_PAYLOAD))

    # -- closing --

    async def _shutdown(self, reason: int | None, *, send: bool) -> None:
        if self._closing:
            await self._closed.wait()
            return
        self._closing = True
        self.disconnect_reason = reason
        current = asyncio.current_task()
        reader, writer, pinger = self._tasks
        for task in (reader, pinger):
            if task is not current:
                task.cancel()
        cancelled = False
        if send and reason is not None and writer is not current and not writer.done():
            # Let the writer flush what is queued, then the Disconnect; give up after a few seconds.
            try:
                await asyncio.wait_for(self._outbox.put((_DISCONNECT_MARK, encode_disconnect(reason))), 1.0)
                await asyncio.wait_for(asyncio.shield(writer), 2.0)
            except asyncio.TimeoutError:
                pass
            except asyncio.CancelledError:
                cancelled = True  # finish closing first, so that waiters are not left hanging
        if writer is not current:
            writer.cancel()
        await close_writer(self._writer)
        if self.error is not None:
            log.debug("rlpx: closed %s: %s", self.remote_address, self.error)
        self._closed.set()
        if cancelled:
            raise asyncio.CancelledError
