"""Setting up an RLPx connection on an open socket: the auth/ack handshake, then the Hello exchange and its checks.

Each step gets geth's 5 s (`handshakeTimeout`). A peer is refused, with a Disconnect telling why, when its Hello
names another key than the handshake authenticated (unexpected identity), an invalid one, our own (connected to
self), or no capability we share (useless peer).
"""
from __future__ import annotations

import asyncio
from dataclasses import dataclass, field

from node.network.rlpx.crypto import public_key
from node.network.rlpx.errors import ConnectionClosedError, HandshakeError, HandshakeTimeoutError, ProtocolError
from node.network.rlpx.frames import MAX_FRAME_SIZE, FrameCodec
from node.network.rlpx.handshake import Handshake
from node.network.rlpx.p2p import (
    BASE_PROTOCOL_MAX_MSG_SIZE,
    DISCONNECT,
    HELLO,
    Capability,
    DisconnectReason,
    Hello,
    SharedCapability,
    check_node_id,
    decode_disconnect,
    encode_disconnect,
    match_capabilities,
    reason_text,
)

CLIENT_ID = "smartchain/v0.1.0/python3.11"
READ_CHUNK = 64 * 1024


@dataclass
class ConnectionConfig:
    """What we offer and how patient we are; the defaults are geth's."""

    capabilities: list[Capability] = field(default_factory=list)
    client_id: str = CLIENT_ID
    listen_port: int = 0  # the Hello's legacy field; geth sends 0
    handshake_timeout: float = 5.0
    ping_interval: float = 15.0
    read_timeout: float = 30.0
    write_timeout: float = 20.0
    send_queue_size: int = 1024  # messages; a full queue refuses send_nowait and makes send wait
    recv_queue_size: int = 1024  # messages; a full inbox stops reading (TCP back-pressure)
    max_frame_size: int = MAX_FRAME_SIZE
    require_shared_capability: bool = True  # geth drops a peer it shares nothing with (useless peer)


@dataclass
class Established:
    """A socket past the handshake and the Hellos, ready for an RlpxConnection."""

    reader: asyncio.StreamReader
    writer: asyncio.StreamWriter
    codec: FrameCodec
    remote_pubkey: bytes
    hello: Hello
    shared: list[SharedCapability]
    initiator: bool


async def establish(reader: asyncio.StreamReader, writer: asyncio.StreamWriter, handshake: Handshake,
                    private_key: bytes, config: ConnectionConfig) -> Established:
    """Run the handshake and the Hello exchange; on any failure the socket is closed and the error raised."""
    try:
        try:
            await asyncio.wait_for(_handshake(reader, writer, handshake), config.handshake_timeout)
        except asyncio.TimeoutError:
            raise HandshakeTimeoutError("RLPx handshake", config.handshake_timeout) from None
        assert handshake.secrets is not None and handshake.remote_pubkey is not None
        codec = FrameCodec.from_secrets(handshake.secrets, max_frame_size=config.max_frame_size)
        own = public_key(private_key)
        ours = Hello(config.client_id, tuple((c.name, c.version) for c in config.capabilities), own,
                     config.listen_port)
        writer.write(codec.encode(HELLO, ours.encode()))
        try:
            hello = await asyncio.wait_for(_read_hello(reader, codec, handshake.rest), config.handshake_timeout)
        except asyncio.TimeoutError:
            raise HandshakeTimeoutError("Hello exchange", config.handshake_timeout) from None
        # EIP-706: from here on, both directions are compressed if the peer's Hello says version >= 5.
        codec.snappy = hello.version >= 5
        reason = hello_problem(hello, handshake.remote_pubkey, own)
        shared = match_capabilities(config.capabilities, hello.capabilities)
        if reason is None and not shared and config.require_shared_capability:
            reason = DisconnectReason.USELESS_PEER
        if reason is not None:
            writer.write(codec.encode(DISCONNECT, encode_disconnect(reason)))
            raise ConnectionClosedError(f"refused peer: {reason_text(reason)}", reason)
    except BaseException:
        await close_writer(writer)
        raise
    return Established(reader, writer, codec, handshake.remote_pubkey, hello, shared, handshake.is_initiator)


async def _handshake(reader: asyncio.StreamReader, writer: asyncio.StreamWriter, handshake: Handshake) -> None:
    writer.write(handshake.start())
    while not handshake.done:
        data = await reader.read(READ_CHUNK)
        if not data:
            raise HandshakeError("connection closed during the RLPx handshake")
        answer = handshake.feed(data)
        if answer:
            writer.write(answer)
    await writer.drain()


async def _read_hello(reader: asyncio.StreamReader, codec: FrameCodec, first: bytes) -> Hello:
    data = first  # frames that came with the ack
    while True:
        # One message at a time: what follows the Hello is compressed, and snappy is switched on after it.
        messages = codec.feed(data, max_messages=1)
        if messages:
            code, payload = messages[0]
            if code == DISCONNECT:
                reason = decode_disconnect(payload)
                raise ConnectionClosedError(
                    f"peer disconnected before Hello: {reason_text(reason)}", reason, remote=True)
            if code != HELLO:
                raise ProtocolError(f"expected Hello, got message code {code:#x}")
            if len(payload) > BASE_PROTOCOL_MAX_MSG_SIZE:
                raise ProtocolError(f"Hello too big: {len(payload)} bytes > {BASE_PROTOCOL_MAX_MSG_SIZE}")
            return Hello.decode(payload)
        data = await reader.read(READ_CHUNK)
        if not data:
            raise ConnectionClosedError("connection closed before Hello")


def hello_problem(hello: Hello, authenticated: bytes, own: bytes) -> DisconnectReason | None:
    """The reason to refuse a peer from its Hello, in geth's order of checks, or None."""
    try:
        check_node_id(hello.node_id)
    except ProtocolError:
        return DisconnectReason.INVALID_IDENTITY
    if hello.node_id != authenticated:
        return DisconnectReason.UNEXPECTED_IDENTITY
    if authenticated == own:
        return DisconnectReason.SELF
    return None


async def close_writer(writer: asyncio.StreamWriter) -> None:
    """Close a socket, waiting at most a second for it to flush."""
    try:
        writer.close()
        await asyncio.wait_for(writer.wait_closed(), 1.0)
    except (OSError, asyncio.TimeoutError, asyncio.CancelledError):
        pass
