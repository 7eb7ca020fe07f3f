"""The RLPx frame codec, sans-IO: `encode(code, payload) -> bytes` and `feed(bytes) -> [(code, payload)]`.

Frame = enc(header) ‖ header-mac ‖ enc(rlp(code) ‖ payload ‖ zero padding to 16) ‖ frame-mac, with one AES-256-CTR
keystream per direction (zero IV) and the running keccak MACs of devp2p rlpx.md "Framing" and "MAC". Both MACs are
checked before anything is decrypted. After the Hellos, `snappy` switches payload compression on (EIP-706).
"""
from __future__ import annotations

import hmac
from typing import Any

from Crypto.Cipher import AES

from node.network.rlpx import snappy
from node.network.rlpx.errors import BadMacError, FrameError, FrameTooLargeError, MessageTooLargeError
from node.network.rlpx.secrets import Secrets

MAX_FRAME_SIZE = snappy.MAX_UINT24  # frame-size is a 24-bit field
_DISCONNECT = 0x01  # the p2p Disconnect's id (see _next)
_HEADER_DATA = b"\xc2\x80\x80"  # rlp([0, 0]): capability-id and context-id, unused and ignored on read


def encode_code(code: int) -> bytes:
    """A message id as an RLP integer (0 is 0x80)."""
    if code < 0:
        raise FrameError(f"negative message code {code}")
    if code == 0:
        return b"\x80"
    if code < 0x80:
        return bytes([code])
    raw = code.to_bytes((code.bit_length() + 7) // 8, "big")
    return bytes([0x80 + len(raw)]) + raw


def decode_code(data: bytes) -> tuple[int, int]:
    """(message id, bytes used) from the start of frame data; FrameError if it is not a canonical RLP integer."""
    if not data:
        raise FrameError("empty frame: no message code")
    first = data[0]
    if first < 0x80:
        return first, 1
    if first == 0x80:
        return 0, 1
    n = first - 0x80
    if n > 8 or len(data) < 1 + n:
        raise FrameError("invalid message code: not an RLP integer")
    raw = data[1:1 + n]
    if raw[0] == 0 or (n == 1 and raw[0] < 0x80):
        raise FrameError("invalid message code: non-canonical RLP integer")
    return int.from_bytes(raw, "big"), 1 + n


class FrameCodec:
    """One connection's framing, both directions. Not thread-safe: one writer and one reader per connection."""

    def __init__(self, aes_secret: bytes, mac_secret: bytes, egress_mac: Any, ingress_mac: Any, *,
                 max_frame_size: int = MAX_FRAME_SIZE, max_message_size: int = snappy.MAX_UINT24) -> None:
        self._enc = AES.new(aes_secret, AES.MODE_CTR, nonce=b"", initial_value=bytes(16))
        self._dec = AES.new(aes_secret, AES.MODE_CTR, nonce=b"", initial_value=bytes(16))
        self._mac_cipher = AES.new(mac_secret, AES.MODE_ECB)
        self._egress, self._ingress = egress_mac, ingress_mac
        self.max_frame_size = min(max_frame_size, MAX_FRAME_SIZE)
        self.max_message_size = max_message_size
        self.snappy = False
        self._buffer = bytearray()
        self._frame_size: int | None = None  # set once the current frame's header is verified and decrypted
        self._failed: Exception | None = None

    @classmethod
    def from_secrets(cls, secrets: Secrets, **limits: int) -> "FrameCodec":
        """The codec for a finished handshake."""
        return cls(secrets.aes_secret, secrets.mac_secret, secrets.egress_mac, secrets.ingress_mac, **limits)

    def _seal(self, mac: Any, seed: bytes) -> bytes:
        # mac.update(AES_ECB(mac-secret, mac.digest()[:16]) XOR seed); return mac.digest()[:16]
        block = self._mac_cipher.encrypt(mac.digest()[:16])
        mac.update((int.from_bytes(block, "big") ^ int.from_bytes(seed, "big")).to_bytes(16, "big"))
        return mac.digest()[:16]

    def encode(self, code: int, payload: bytes) -> bytes:
        """One frame carrying message `code` with RLP `payload` (compressed here when snappy is on)."""
        if self.snappy:
            if len(payload) > snappy.MAX_UINT24:
                raise MessageTooLargeError(len(payload), snappy.MAX_UINT24)
            payload = snappy.compress(payload)
        data = encode_code(code) + payload
        if len(data) > MAX_FRAME_SIZE:
            raise FrameTooLargeError(len(data), MAX_FRAME_SIZE)
        header = len(data).to_bytes(3, "big") + _HEADER_DATA + bytes(10)
        header_ct = self._enc.encrypt(header)
        header_mac = self._seal(self._egress, header_ct)
        frame_ct = self._enc.encrypt(data + bytes(-len(data) % 16))
        self._egress.update(frame_ct)
        frame_mac = self._seal(self._egress, self._egress.digest()[:16])
        return header_ct + header_mac + frame_ct + frame_mac

    def feed(self, data: bytes, max_messages: int | None = None) -> list[tuple[int, bytes]]:
        """The whole messages completed by `data`, in order. With `max_messages`, later frames stay buffered for the
        next call (so a caller can switch snappy on right after the Hello). Any error leaves the codec failed."""
        if self._failed is not None:
            raise self._failed
        self._buffer += data
        out: list[tuple[int, bytes]] = []
        try:
            while max_messages is None or len(out) < max_messages:
                message = self._next()
                if message is None:
                    return out
                out.append(message)
            return out
        except Exception as exc:
            self._failed = exc
            raise

    def _next(self) -> tuple[int, bytes] | None:
        buf = self._buffer
        if self._frame_size is None:
            if len(buf) < 32:
                return None
            header_ct, header_mac = bytes(buf[:16]), bytes(buf[16:32])
            if not hmac.compare_digest(self._seal(self._ingress, header_ct), header_mac):
                raise BadMacError("header")
            header = self._dec.decrypt(header_ct)
            size = int.from_bytes(header[:3], "big")
            if size > self.max_frame_size:
                raise FrameTooLargeError(size, self.max_frame_size)
            del buf[:32]
            self._frame_size = size
        size = self._frame_size
        padded = size + (-size % 16)
        if len(buf) < padded + 16:
            return None
        frame_ct, frame_mac = bytes(buf[:padded]), bytes(buf[padded:padded + 16])
        self._ingress.update(frame_ct)
        if not hmac.compare_digest(self._seal(self._ingress, self._ingress.digest()[:16]), frame_mac):
            raise BadMacError("frame")
        del buf[:padded + 16]
        self._frame_size = None
        plain = self._dec.decrypt(frame_ct)[:size]
        code, used = decode_code(plain)
        payload = plain[used:]
        if self.snappy:
            try:
                payload = snappy.decompress(payload, self.max_message_size)
            except FrameError:
                # @ethereumjs/devp2p sends Disconnect (p2p id 1) uncompressed even after the Hellos; geth would
                # fail on it, but it closes the connection either way. Read a short one as it came.
                if code != _DISCONNECT or len(payload) > 16:
                    raise
        elif len(payload) > self.max_message_size:
            raise MessageTooLargeError(len(payload), self.max_message_size)
        return code, payload
