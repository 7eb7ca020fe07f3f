"""Hostile bytes at every decoder of the transport raise only RlpxError subclasses (never IndexError, ValueError...),
so that a connection can always end with a named error. Seeded, so a failure reproduces."""
from __future__ import annotations

import random

import pytest
import rlp

from node.network.rlpx.crypto import ecies_encrypt, new_private_key, public_key
from node.network.rlpx.errors import RlpxError
from node.network.rlpx.frames import FrameCodec, decode_code
from node.network.rlpx.handshake import Handshake, decode_ack_plain, decode_auth_plain
from node.network.rlpx.p2p import Hello, decode_disconnect
from node.network.rlpx import snappy

RNG = random.Random(20261203)
KEY = new_private_key()


def _blobs(n: int = 300) -> list[bytes]:
    """Random strings, random RLP structures, and mutations of well-formed messages."""
    good = [
        Hello("x", (("eth", 68),), public_key(KEY)).encode(),
        rlp.encode([b"\x01" * 65, b"\x02" * 64, b"\x03" * 32, 4]),
        rlp.encode([b"\x02" * 64, b"\x03" * 32, 4]),
        b"\xc1\x04",
    ]
    out = []
    for i in range(n):
        kind = i % 3
        if kind == 0:
            out.append(bytes(RNG.getrandbits(8) for _ in range(RNG.randint(0, 300))))
        elif kind == 1:
            out.append(rlp.encode(_random_item(3)))
        else:
            blob = bytearray(RNG.choice(good))
            for _ in range(RNG.randint(1, 4)):
                if blob:
                    blob[RNG.randrange(len(blob))] = RNG.getrandbits(8)
            out.append(bytes(blob[:RNG.randint(0, len(blob))]) if RNG.random() < 0.3 else bytes(blob))
    return out


def _random_item(depth: int):
    if depth == 0 or RNG.random() < 0.4:
        return bytes(RNG.getrandbits(8) for _ in range(RNG.choice((0, 1, 2, 8, 32, 64, 65, 70))))
    return [_random_item(depth - 1) for _ in range(RNG.randint(0, 6))]


BLOBS = _blobs()


@pytest.mark.parametrize("decode", [
    Hello.decode,
    decode_disconnect,
    lambda b: decode_auth_plain(KEY, b, eip8=True),
    lambda b: decode_auth_plain(KEY, b, eip8=False),
    lambda b: decode_ack_plain(b, eip8=True),
    lambda b: decode_ack_plain(b, eip8=False),
    decode_code,
    snappy.decompress,
], ids=["hello", "disconnect", "auth", "auth-legacy", "ack", "ack-legacy", "msg-code", "snappy"])
def test_decoders_raise_only_rlpx_errors(decode) -> None:
    for blob in BLOBS:
        try:
            decode(blob)
        except RlpxError:
            pass


def test_handshake_feed_raises_only_rlpx_errors() -> None:
    for blob in BLOBS[:60]:
        for eip8 in (True, False):
            hs = Handshake.recipient(KEY)
            hs.start()
            # Well-encrypted garbage bodies get past ECIES and reach the body decoder.
            if eip8:
                prefix = (len(blob) + 113).to_bytes(2, "big")
                packet = prefix + ecies_encrypt(public_key(KEY), blob, prefix)
            else:
                packet = ecies_encrypt(public_key(KEY), blob.ljust(194, b"\x00")[:194])
            try:
                hs.feed(packet)
            except RlpxError:
                pass


def test_frame_feed_raises_only_rlpx_errors() -> None:
    a, b = new_private_key(), new_private_key()
    for blob in BLOBS[:60]:
        dialer, listener = Handshake.initiator(a, public_key(b)), Handshake.recipient(b)
        listener.start()
        dialer.feed(listener.feed(dialer.start()))
        writer, reader = FrameCodec.from_secrets(dialer.secrets), FrameCodec.from_secrets(listener.secrets)
        reader.snappy = RNG.random() < 0.5  # the writer sends raw: garbage where snappy blocks are expected too
        # Valid frames whose content is garbage (after the MACs), then raw garbage on the stream.
        try:
            reader.feed(writer.encode(RNG.randrange(0, 40), blob) + blob)
        except RlpxError:
            pass
