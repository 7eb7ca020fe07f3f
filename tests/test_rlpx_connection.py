"""RLPx connections over real loopback TCP sockets: both peers dial, Hello, offsets, ping/pong, disconnect reasons,
and hostile peers (garbage auth, bad MAC, oversized frames, wrong identity, silence) that end only their connection."""
from __future__ import annotations

import asyncio

import pytest
import rlp

from node.network.rlpx.connection import ConnectionConfig, Message, RlpxConnection
from node.network.rlpx.crypto import new_private_key, public_key
from node.network.rlpx.errors import (
    BadMacError,
    ConnectionClosedError,
    EciesError,
    FrameTooLargeError,
    HandshakeError,
    HandshakeTimeoutError,
    MessageTooLargeError,
    ProtocolError,
    SendQueueFullError,
)
from node.network.rlpx.frames import FrameCodec
from node.network.rlpx.handshake import Handshake
from node.network.rlpx.p2p import DISCONNECT, HELLO, PING, PONG, Capability, DisconnectReason, Hello, decode_disconnect
from node.network.rlpx.server import RlpxServer

ETH68 = Capability("eth", 68, 17)
BSC3 = Capability("bsc", 3, 4)


def run(coro, timeout: float = 20.0):
    """Run a test coroutine with an overall bound, so a hang fails instead of blocking the suite."""
    return asyncio.run(asyncio.wait_for(coro, timeout))


async def eventually(check, what: str, timeout: float = 5.0) -> None:
    """Wait until check() is true; fail naming `what` if it never is."""
    loop = asyncio.get_running_loop()
    end = loop.time() + timeout
    while not check():
        if loop.time() > end:
            raise AssertionError(f"never happened: {what}")
        await asyncio.sleep(0.01)


class Node:
    """A key, a server on a free loopback port, and the connections it accepted."""

    def __init__(self, config: ConnectionConfig) -> None:
        self.key = new_private_key()
        self.pubkey = public_key(self.key)
        self.config = config
        self.accepted: asyncio.Queue[RlpxConnection] = asyncio.Queue()
        self.server = RlpxServer(self.key, config, self.accepted.put_nowait)

    async def __aenter__(self) -> "Node":
        await self.server.start()
        return self

    async def __aexit__(self, *exc) -> None:
        await self.server.close()

    async def dial(self, other: "Node") -> RlpxConnection:
        return await RlpxConnection.dial(self.key, other.pubkey, "127.0.0.1", other.server.port, self.config)


async def connect(dialer: Node, listener: Node) -> tuple[RlpxConnection, RlpxConnection]:
    out = await dialer.dial(listener)
    inbound = await asyncio.wait_for(listener.accepted.get(), 5)
    return out, inbound


def test_two_peers_each_as_initiator_exchange_messages() -> None:
    async def main() -> None:
        config = ConnectionConfig([ETH68])
        async with Node(config) as a, Node(config) as b:
            for dialer, listener in ((a, b), (b, a)):
                out, inbound = await connect(dialer, listener)
                assert out.initiator and not inbound.initiator
                assert out.remote_pubkey == listener.pubkey and inbound.remote_pubkey == dialer.pubkey
                assert inbound.remote_hello.capabilities == (("eth", 68),) and inbound.caps == ["eth/68"]
                assert out.network_info() == {"localAddress": "127.0.0.1:%d" % out.local_address[1],
                                              "remoteAddress": f"127.0.0.1:{listener.server.port}",
                                              "inbound": False}
                assert inbound.network_info()["inbound"] is True
                assert inbound.network_info()["remoteAddress"] == out.network_info()["localAddress"]
                assert [(c.name, c.version, c.offset) for c in out.shared_capabilities] == [("eth", 68, 0x10)]
                status = rlp.encode([68, 714, b"\x01" * 32])
                await out.send("eth", 0x00, status)
                await inbound.send("eth", 0x03, rlp.encode([7, [1, 0, 0, 0]]))
                assert await inbound.recv() == Message("eth", 68, 0x00, status)
                assert await out.recv() == Message("eth", 68, 0x03, rlp.encode([7, [1, 0, 0, 0]]))
                # Snappy is on both ways after the Hellos (both sent version 5); a big message still round-trips.
                big = rlp.encode([b"\x07" * 3_000_000])
                await out.send("eth", 0x07, big)
                assert (await inbound.recv()).payload == big
                await out.disconnect()
                await inbound.wait_closed()
    run(main())


def test_ping_pong_and_disconnect_reason_read_by_peer() -> None:
    async def main() -> None:
        async with Node(ConnectionConfig([ETH68], ping_interval=0.05)) as a, Node(ConnectionConfig([ETH68])) as b:
            out, inbound = await connect(a, b)
            await eventually(lambda: out.pongs >= 2, "a's periodic Pings answered by b")
            await inbound.ping()
            await eventually(lambda: inbound.pongs >= 1, "b's Ping answered by a")
            # What was queued before the Disconnect arrives before it.
            await out.send("eth", 0x02, b"\xc0")
            await out.disconnect(DisconnectReason.TOO_MANY_PEERS)
            assert await inbound.recv() == Message("eth", 68, 0x02, b"\xc0")
            await inbound.wait_closed()
            assert inbound.remote_disconnected and inbound.disconnect_reason == DisconnectReason.TOO_MANY_PEERS
            assert not out.remote_disconnected and out.disconnect_reason == DisconnectReason.TOO_MANY_PEERS
            with pytest.raises(ConnectionClosedError, match="peer disconnected: too many peers") as info:
                await inbound.recv()
            assert info.value.reason == DisconnectReason.TOO_MANY_PEERS and info.value.remote
            with pytest.raises(ConnectionClosedError):
                await out.send("eth", 0x02, b"\xc0")
    run(main())


def test_offsets_with_two_capabilities_on_the_wire() -> None:
    """bsc/3 takes 0x10-0x13 and eth/68 0x14-0x24: a hand-made peer sees those ids in the frames."""
    async def main() -> None:
        async with Node(ConnectionConfig([ETH68, BSC3])) as server:
            peer = await RawPeer.connect(server, caps=(("bsc", 3), ("eth", 68)))
            conn = await asyncio.wait_for(server.accepted.get(), 5)
            assert conn.capability("eth").offset == 0x14 and conn.capability("bsc").offset == 0x10
            await conn.send("eth", 0x05, b"\xc1\x05")
            await conn.send("bsc", 0x01, b"\xc1\x01")
            assert await peer.read() == (0x19, b"\xc1\x05")
            assert await peer.read() == (0x11, b"\xc1\x01")
            peer.write(0x14 + 0x08, b"\xc1\x08")
            peer.write(0x10 + 0x00, b"\xc1\x00")
            assert await conn.recv() == Message("eth", 68, 0x08, b"\xc1\x08")
            assert await conn.recv() == Message("bsc", 3, 0x00, b"\xc1\x00")
            with pytest.raises(ProtocolError, match="not shared"):
                await conn.send("snap", 0, b"\xc0")
            with pytest.raises(ProtocolError, match="out of range"):
                await conn.send("bsc", 4, b"\xc0")
            # An id past every shared capability is a protocol breach.
            peer.write(0x25, b"\xc0")
            await conn.wait_closed()
            assert isinstance(conn.error, ProtocolError) and "msg code out of range: 37" in str(conn.error)
            assert await peer.read_disconnect() == DisconnectReason.PROTOCOL_ERROR
    run(main())


class RawPeer:
    """A hand-made peer from the sans-IO pieces, free to misbehave on the wire."""

    def __init__(self, reader, writer, codec: FrameCodec, key: bytes) -> None:
        self.reader, self.writer, self.codec, self.key = reader, writer, codec, key
        self.pending: list[tuple[int, bytes]] = []

    @classmethod
    async def connect(cls, server: Node, caps=(("eth", 68),), hello_id: bytes | None = None,
                      hello_padding: int = 0) -> "RawPeer":
        key = new_private_key()
        reader, writer = await asyncio.open_connection("127.0.0.1", server.server.port)
        hs = Handshake.initiator(key, server.pubkey)
        writer.write(hs.start())
        while not hs.done:
            hs.feed(await reader.read(4096))
        codec = FrameCodec.from_secrets(hs.secrets)
        codec.feed(hs.rest)
        node_id = hello_id if hello_id is not None else public_key(key)
        hello = Hello("rawpeer", caps, node_id).encode()
        if hello_padding:  # extra elements make the Hello as big as wanted
            hello = rlp.encode(rlp.decode(hello) + [b"\x00" * hello_padding])
        writer.write(codec.encode(HELLO, hello))
        peer = cls(reader, writer, codec, key)
        code, payload = await peer.read()
        if code == HELLO:
            codec.snappy = Hello.decode(payload).version >= 5
        else:
            peer.pending = [(code, payload)]
        return peer

    async def read(self) -> tuple[int, bytes]:
        """The next message other than Ping/Pong (one at a time, so snappy can be switched on after the Hello)."""
        if self.pending:
            return self.pending.pop(0)
        data = b""
        while True:
            for code, payload in self.codec.feed(data, max_messages=1):
                if code not in (PING, PONG):
                    return code, payload
                data = b""
                break
            else:
                data = await asyncio.wait_for(self.reader.read(65536), 5)
                if not data:
                    raise ConnectionClosedError("raw peer: EOF")

    async def read_disconnect(self) -> int:
        code, payload = await self.read()
        assert code == DISCONNECT, f"expected Disconnect, got {code:#x}"
        return decode_disconnect(payload)

    def write(self, code: int, payload: bytes) -> None:
        self.writer.write(self.codec.encode(code, payload))


def test_bad_mac_ends_only_that_connection() -> None:
    async def main() -> None:
        async with Node(ConnectionConfig([ETH68])) as server, Node(ConnectionConfig([ETH68])) as good:
            peer = await RawPeer.connect(server)
            conn = await asyncio.wait_for(server.accepted.get(), 5)
            frame = bytearray(peer.codec.encode(0x10, b"\xc0"))
            frame[-1] ^= 0xFF
            peer.writer.write(bytes(frame))
            await conn.wait_closed()
            assert isinstance(conn.error, BadMacError) and str(conn.error) == "bad frame MAC"
            assert conn.disconnect_reason == DisconnectReason.PROTOCOL_ERROR
            assert await peer.read_disconnect() == DisconnectReason.PROTOCOL_ERROR
            out, inbound = await connect(good, server)  # the server still serves
            await out.send("eth", 1, b"\xc0")
            assert (await inbound.recv()).code == 1
            await out.disconnect()
    run(main())


def test_oversized_frame_and_oversized_hello() -> None:
    async def main() -> None:
        async with Node(ConnectionConfig([ETH68], max_frame_size=4096)) as server:
            peer = await RawPeer.connect(server)
            conn = await asyncio.wait_for(server.accepted.get(), 5)
            peer.write(0x10, rlp.encode([b"\x00" * 10_000]))  # compressed on the wire: well under the limit
            assert len((await conn.recv()).payload) == 10_006
            peer.codec.snappy = False  # a peer that does not compress: 10 KiB frame, over 4096
            peer.write(0x10, rlp.encode([bytes(range(256)) * 40]))
            await conn.wait_closed()
            assert isinstance(conn.error, FrameTooLargeError), conn.error
            # A Hello over geth's 2 KiB limit is refused before any connection is handed out.
            await RawPeer.connect(server, hello_padding=3000)
            await eventually(lambda: any("Hello too big" in str(f) for f in server.server.failures),
                             "the oversized Hello refused")
            assert server.accepted.empty()
    run(main())


def test_garbage_auth_and_silence_never_stop_the_server() -> None:
    async def main() -> None:
        config = ConnectionConfig([ETH68], handshake_timeout=0.3)
        async with Node(config) as server, Node(ConnectionConfig([ETH68])) as good:
            failures = server.server.failures
            for garbage in (b"\x01\x30" + b"\x55" * 0x130, b"\x04" + b"\x00" * 400, b"\xff\xff"):
                reader, writer = await asyncio.open_connection("127.0.0.1", server.server.port)
                writer.write(garbage)
                assert await asyncio.wait_for(reader.read(), 5) == b""  # the server closed that socket
                writer.close()
            await eventually(lambda: len(failures) >= 3, "three refused handshakes")
            assert any(isinstance(f, EciesError) for f in failures)
            assert any(isinstance(f, HandshakeError) and "too big" in str(f) for f in failures)
            _, silent = await asyncio.open_connection("127.0.0.1", server.server.port)
            await eventually(lambda: any(isinstance(f, HandshakeTimeoutError) for f in failures),
                             "a silent peer timed out")
            silent.close()
            out, inbound = await connect(good, server)
            await out.send("eth", 0, b"\xc0")
            assert (await inbound.recv()).code == 0
            await out.disconnect()
    run(main())


def test_hello_identity_and_capability_checks() -> None:
    async def main() -> None:
        async with Node(ConnectionConfig([ETH68])) as server:
            # A Hello naming another key than the one the handshake authenticated.
            peer = await RawPeer.connect(server, hello_id=public_key(new_private_key()))
            assert await peer.read_disconnect() == DisconnectReason.UNEXPECTED_IDENTITY
            peer = await RawPeer.connect(server, hello_id=bytes(64))
            assert await peer.read_disconnect() == DisconnectReason.INVALID_IDENTITY
            # Nothing in common: useless peer, on both sides.
            peer = await RawPeer.connect(server, caps=(("eth", 69),))
            assert await peer.read_disconnect() == DisconnectReason.USELESS_PEER
            async with Node(ConnectionConfig([Capability("les", 4, 23)])) as other:
                with pytest.raises(ConnectionClosedError, match="useless peer") as info:
                    await other.dial(server)
                assert info.value.reason == DisconnectReason.USELESS_PEER
            assert server.accepted.empty()
            # Dialling ourselves.
            with pytest.raises(ConnectionClosedError, match="connected to self"):
                await RlpxConnection.dial(server.key, server.pubkey, "127.0.0.1", server.server.port,
                                          server.config)
    run(main())


def test_read_timeout_disconnects_with_its_reason() -> None:
    async def main() -> None:
        quiet = ConnectionConfig([ETH68], ping_interval=3600)
        async with Node(ConnectionConfig([ETH68], read_timeout=0.3)) as impatient, Node(quiet) as b:
            out, inbound = await connect(b, impatient)
            await inbound.wait_closed()
            assert inbound.disconnect_reason == DisconnectReason.READ_TIMEOUT
            assert "read timeout" in str(inbound.error)
            await out.wait_closed()
            assert out.remote_disconnected and out.disconnect_reason == DisconnectReason.READ_TIMEOUT
    run(main())


def test_bounded_send_queue() -> None:
    async def main() -> None:
        async with Node(ConnectionConfig([ETH68], send_queue_size=2)) as a, Node(ConnectionConfig([ETH68])) as b:
            out, inbound = await connect(a, b)
            out.send_nowait("eth", 1, b"\xc1\x01")
            out.send_nowait("eth", 1, b"\xc1\x02")
            with pytest.raises(SendQueueFullError, match="send queue full"):
                out.send_nowait("eth", 1, b"\xc1\x03")  # the writer has not run yet: nothing awaited
            assert [(await inbound.recv()).payload for _ in range(2)] == [b"\xc1\x01", b"\xc1\x02"]
            await out.disconnect()
    run(main())


def test_oversized_send_refused_without_ending_the_connection() -> None:
    async def main() -> None:
        async with Node(ConnectionConfig([ETH68])) as a, Node(ConnectionConfig([ETH68])) as b:
            out, inbound = await connect(a, b)
            with pytest.raises(MessageTooLargeError):
                await out.send("eth", 1, b"\x00" * (1 << 24))
            await out.send("eth", 1, b"\xc0")
            assert (await inbound.recv()).payload == b"\xc0"
            await out.disconnect()
    run(main())


def test_peer_vanishing_without_disconnect() -> None:
    async def main() -> None:
        async with Node(ConnectionConfig([ETH68])) as server:
            peer = await RawPeer.connect(server)
            conn = await asyncio.wait_for(server.accepted.get(), 5)
            peer.writer.close()
            await asyncio.wait_for(conn.wait_closed(), 5)
            assert conn.disconnect_reason == DisconnectReason.NETWORK_ERROR and not conn.remote_disconnected
            assert "EOF" in str(conn.error)
            with pytest.raises(ConnectionClosedError, match="EOF"):
                await conn.recv()
    run(main())
