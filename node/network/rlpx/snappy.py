"""Snappy's raw block format for RLPx messages (EIP-706), with the size cap checked before decompressing.

RLPx uses the block format (Go's snappy.Encode), not the framing format that `cramjam.snappy.compress` writes.
"""
from __future__ import annotations

import cramjam

from node.network.rlpx.errors import MessageTooLargeError, SnappyError

MAX_UINT24 = (1 << 24) - 1  # geth: a decompressed message must stay under 16 MiB


def declared_length(block: bytes) -> int:
    """The uncompressed length a snappy block declares in its leading varint (at most 32 bits)."""
    value = shift = 0
    for i, byte in enumerate(block[:5]):
        value |= (byte & 0x7F) << shift
        if byte < 0x80:
            if i == 4 and byte > 0x0F:
                break
            return value
        shift += 7
    raise SnappyError("corrupt input: bad length varint")


def compress(data: bytes) -> bytes:
    """Raw snappy block of `data`."""
    return bytes(cramjam.snappy.compress_raw(data))


def decompress(block: bytes, limit: int = MAX_UINT24) -> bytes:
    """Decompress a raw snappy block; MessageTooLargeError (before any work) if it declares more than `limit`."""
    size = declared_length(block)
    if size > limit:
        raise MessageTooLargeError(size, limit)
    try:
        out = bytes(cramjam.snappy.decompress_raw(block))
    except Exception as exc:  # cramjam raises its own DecompressionError or ValueError
        raise SnappyError(f"corrupt input: {exc}") from None
    if len(out) != size:
        raise SnappyError(f"corrupt input: {len(out)} bytes, header says {size}")
    return out
