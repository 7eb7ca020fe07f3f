"""RLPx frame codec: geth's golden frame, round trips over a real handshake, MAC tampering, size limits, snappy."""
from __future__ import annotations

import pytest
import rlp

from node.network.rlpx import snappy
from node.network.rlpx.crypto import keccak256, new_private_key, public_key
from node.network.rlpx.errors import BadMacError, FrameError, FrameTooLargeError, MessageTooLargeError, SnappyError
from node.network.rlpx.frames import FrameCodec, decode_code, encode_code
from node.network.rlpx.handshake import Handshake


class FakeHash:
    """geth's TestFrameReadWrite hash: updates are ignored and every digest is 32 bytes of 0x01."""

    def update(self, data: bytes) -> None:
        pass

    def digest(self) -> bytes:
        return b"\x01" * 32


GOLDEN = bytes.fromhex(
    "00828ddae471818bb0bfa6b551d1cb42" "01010101010101010101010101010101"
    "ba628a4ba590cb43f7848f41c4382885" "01010101010101010101010101010101")


def test_golden_frame() -> None:
    key = keccak256(b"")
    writer = FrameCodec(key, key, FakeHash(), FakeHash())
    assert writer.encode(8, rlp.encode([1, 2, 3, 4])) == GOLDEN
    reader = FrameCodec(key, key, FakeHash(), FakeHash())
    assert reader.feed(GOLDEN) == [(8, rlp.encode([1, 2, 3, 4]))]


def _pair(**limits: int) -> tuple[FrameCodec, FrameCodec]:
    a, b = new_private_key(), new_private_key()
    dialer, listener = Handshake.initiator(a, public_key(b)), Handshake.recipient(b)
    listener.start()
    dialer.feed(listener.feed(dialer.start()))
    return FrameCodec.from_secrets(dialer.secrets, **limits), FrameCodec.from_secrets(listener.secrets, **limits)


def test_round_trip_both_ways_in_pieces() -> None:
    a, b = _pair()
    messages = [(0, b"\xc0"), (0x10, rlp.encode([b"x" * 1000])), (0x7f, b""), (0x80, b"\x01"), (300, b"\xc1\x80")]
    stream = b"".join(a.encode(code, payload) for code, payload in messages)
    got = []
    for i in range(0, len(stream), 7):  # frames split across arbitrary read boundaries
        got += b.feed(stream[i:i + 7])
    assert got == messages
    assert a.feed(b.encode(2, b"\xc0") + b.encode(3, b"\xc0")) == [(2, b"\xc0"), (3, b"\xc0")]


def test_snappy_round_trip_and_wire_form() -> None:
    a, b = _pair()
    a.snappy = b.snappy = True
    big = rlp.encode([b"\x00" * 100_000])
    frame = a.encode(0x10, big)
    assert len(frame) < 10_000  # compressed on the wire
    assert b.feed(frame) == [(0x10, big)]
    assert snappy.compress(b"\xc0") == b"\x01\x00\xc0"  # a Ping as geth sends it after the Hellos


@pytest.mark.parametrize("offset, which", [(3, "header"), (20, "header"), (40, "frame"), (-3, "frame")])
def test_tampered_mac_is_refused(offset: int, which: str) -> None:
    a, b = _pair()
    frame = bytearray(a.encode(0x10, rlp.encode([b"payload"])))
    frame[offset] ^= 0x01
    with pytest.raises(BadMacError, match=f"bad {which} MAC"):
        b.feed(bytes(frame))
    with pytest.raises(BadMacError):  # the codec stays failed
        b.feed(b"")


def test_oversized_frame_refused_on_its_header() -> None:
    a, b = _pair(max_frame_size=1024)
    frame = a.encode(0x10, b"\x00" * 2000)
    with pytest.raises(FrameTooLargeError, match="frame too large: 2001 bytes > 1024"):
        b.feed(frame[:32])  # the body need not arrive: the header alone is refused


def test_snappy_cap_checked_before_decompressing() -> None:
    # A 20-byte block declaring 2^24 bytes: refused from its varint, nothing is decompressed.
    bomb = bytes([0x80, 0x80, 0x80, 0x08]) + b"\x00" * 16
    assert snappy.declared_length(bomb) == 1 << 24
    with pytest.raises(MessageTooLargeError, match="message length >= 16MB"):
        snappy.decompress(bomb)
    a, b = _pair()
    a.snappy = False  # send the bomb raw, as a hostile peer would
    b.snappy = True
    with pytest.raises(MessageTooLargeError):
        b.feed(a.encode(0x10, bomb))


def test_corrupt_snappy_refused() -> None:
    with pytest.raises(SnappyError):
        snappy.decompress(b"\x0a\xff\xff")
    with pytest.raises(SnappyError, match="bad length varint"):
        snappy.declared_length(b"\xff\xff\xff\xff\xff\xff")


def test_message_code_encoding() -> None:
    for code in (0, 1, 0x7f, 0x80, 0x1234):
        assert decode_code(encode_code(code) + b"rest") == (code, len(encode_code(code)))
    assert encode_code(0) == b"\x80"
    with pytest.raises(FrameError, match="non-canonical"):
        decode_code(b"\x81\x05")
    with pytest.raises(FrameError, match="no message code"):
        decode_code(b"")


def test_uncompressed_disconnect_after_hellos_is_read() -> None:
    """@ethereumjs/devp2p sends Disconnect as a bare uncompressed RLP integer even with snappy on."""
    a, b = _pair()
    b.snappy = True
    assert b.feed(a.encode(0x01, b"\x04")) == [(0x01, b"\x04")]
    with pytest.raises(SnappyError):  # any other message must be valid snappy
        b.feed(a.encode(0x10, b"\x04"))
