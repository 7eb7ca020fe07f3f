"""The RLPx auth/ack handshake as a sans-IO state machine (EIP-8, and the pre-EIP-8 format on read).

The initiator sends auth, the recipient answers ack; both then hold the same session `Secrets`. Bytes in, bytes
out: `Handshake.feed(data)` takes whatever arrived and returns what must be sent; a connection layer does the I/O.

EIP-8 packets are `size (2, big-endian) ‖ ECIES(rlp(body) ‖ padding, s2=size)`; pre-EIP-8 ones are a fixed-size
ECIES ciphertext without prefix (auth 307 bytes, ack 210). As EIP-8 says, a recipient first tries the old format
(a packet that starts with 0x04, the ECIES key prefix) and then the new one, and answers in the format it was
spoken to. geth refuses EIP-8 packets over 2048 bytes; so do we.
"""
from __future__ import annotations

import os
import random
from dataclasses import dataclass

import rlp

from node.network.rlpx.crypto import (
    ECIES_OVERHEAD,
    check_public_key,
    ecdh_x,
    ecies_decrypt,
    ecies_encrypt,
    keccak256,
    new_private_key,
    public_key,
    recover_public_key,
    sign_recoverable,
    xor,
)
from node.network.rlpx.errors import EciesError, HandshakeError
from node.network.rlpx.secrets import Secrets, derive_secrets

HANDSHAKE_VERSION = 4
MAX_PACKET_SIZE = 2048  # geth's limit for an EIP-8 auth or ack (size prefix value)
LEGACY_AUTH_SIZE = 194 + ECIES_OVERHEAD  # 307
LEGACY_ACK_SIZE = 97 + ECIES_OVERHEAD  # 210


@dataclass(frozen=True)
class AuthMessage:
    """A decoded auth: who is dialling, with which nonce, and the ephemeral key recovered from its signature."""

    signature: bytes
    initiator_pubkey: bytes
    nonce: bytes
    version: int
    ephemeral_pubkey: bytes
    eip8: bool


@dataclass(frozen=True)
class AckMessage:
    """A decoded ack: the recipient's ephemeral key and nonce."""

    ephemeral_pubkey: bytes
    nonce: bytes
    version: int
    eip8: bool


def _padding() -> bytes:
    # geth pads with 100..199 random bytes so that packets vary in size and differ from the old fixed sizes.
    return os.urandom(random.randint(100, 199))


def seal_eip8(remote_pubkey: bytes, body: list) -> bytes:
    """size ‖ ECIES(rlp(body) ‖ padding) with the size prefix as the MAC's shared data."""
    plain = rlp.encode(body) + _padding()
    prefix = (len(plain) + ECIES_OVERHEAD).to_bytes(2, "big")
    return prefix + ecies_encrypt(remote_pubkey, plain, prefix)


def _field(items: list, index: int, length: int, name: str) -> bytes:
    value = items[index] if index < len(items) else None
    if not isinstance(value, bytes) or len(value) != length:
        raise HandshakeError(f"invalid {name} in handshake: want {length} bytes")
    return value


def _version(items: list, index: int) -> int:
    value = items[index] if index < len(items) else b""
    if not isinstance(value, bytes) or len(value) > 8:
        raise HandshakeError("invalid handshake version")
    return int.from_bytes(value, "big")


def _decode_body(plain: bytes, what: str) -> list:
    try:
        # strict=False: the EIP-8 padding follows the list; extra list elements are ignored below.
        items = rlp.decode(plain, strict=False)
    except rlp.exceptions.DecodingError as exc:
        raise HandshakeError(f"invalid {what} body: {exc}") from None
    if not isinstance(items, list):
        raise HandshakeError(f"invalid {what} body: not a list")
    return items


def _static_shared_msg(private_key: bytes, remote_pubkey: bytes, nonce: bytes) -> bytes:
    return xor(ecdh_x(private_key, remote_pubkey), nonce)


def decode_auth_plain(private_key: bytes, plain: bytes, eip8: bool) -> AuthMessage:
    """An auth from its decrypted body; recovers the initiator's ephemeral key from the signature."""
    if eip8:
        items = _decode_body(plain, "auth")
        signature = _field(items, 0, 65, "signature")
        initiator = _field(items, 1, 64, "initiator public key")
        nonce = _field(items, 2, 32, "nonce")
        version = _version(items, 3)
    else:
        if len(plain) != 194:
            raise HandshakeError(f"invalid pre-EIP-8 auth: {len(plain)} bytes, want 194")
        # sig ‖ keccak(ephemeral pubkey) ‖ pubkey ‖ nonce ‖ token flag; the hash is redundant (EIP-8 dropped it).
        signature, initiator, nonce, version = plain[:65], plain[97:161], plain[161:193], HANDSHAKE_VERSION
    try:
        check_public_key(initiator)
    except ValueError:
        raise HandshakeError("invalid initiator public key in auth") from None
    try:
        ephemeral = recover_public_key(signature, _static_shared_msg(private_key, initiator, nonce))
    except ValueError as exc:
        raise HandshakeError(f"invalid auth signature: {exc}") from None
    return AuthMessage(signature, initiator, nonce, version, ephemeral, eip8)


def decode_ack_plain(plain: bytes, eip8: bool) -> AckMessage:
    """An ack from its decrypted body."""
    if eip8:
        items = _decode_body(plain, "ack")
        ephemeral = _field(items, 0, 64, "ephemeral public key")
        nonce = _field(items, 1, 32, "nonce")
        version = _version(items, 2)
    else:
        if len(plain) != 97:
            raise HandshakeError(f"invalid pre-EIP-8 ack: {len(plain)} bytes, want 97")
        ephemeral, nonce, version = plain[:64], plain[64:96], HANDSHAKE_VERSION
    try:
        check_public_key(ephemeral)
    except ValueError:
        raise HandshakeError("invalid ephemeral public key in ack") from None
    return AckMessage(ephemeral, nonce, version, eip8)


def split_packet(private_key: bytes, buffer: bytes, legacy_size: int) -> tuple[bytes, bytes, bool] | None:
    """(packet, plaintext, eip8) for the first whole handshake packet of `buffer`, or None if more bytes are needed.

    Raises HandshakeError (or EciesError) if the bytes cannot be a packet for `private_key`.
    """
    if not buffer:
        return None
    if buffer[0] == 0x04:
        # An old-format packet starts with R's 0x04; an EIP-8 one starting with 0x04 is >= 1026 bytes long, so
        # waiting for the old format's size never blocks on a short EIP-8 packet.
        if len(buffer) < legacy_size:
            return None
        try:
            plain = ecies_decrypt(private_key, buffer[:legacy_size])
            return buffer[:legacy_size], plain, False
        except EciesError:
            pass
    if len(buffer) < 2:
        return None
    size = int.from_bytes(buffer[:2], "big")
    if size > MAX_PACKET_SIZE:
        raise HandshakeError(f"handshake packet too big: {size} bytes > {MAX_PACKET_SIZE}")
    if size < ECIES_OVERHEAD:
        raise HandshakeError(f"handshake packet too small: {size} bytes")
    if len(buffer) < 2 + size:
        return None
    packet = buffer[:2 + size]
    return packet, ecies_decrypt(private_key, packet[2:], packet[:2]), True


def decode_auth(private_key: bytes, packet: bytes) -> AuthMessage:
    """Decode one whole auth packet (either format) sent to `private_key`'s owner."""
    found = split_packet(private_key, packet, LEGACY_AUTH_SIZE)
    if found is None or len(found[0]) != len(packet):
        raise HandshakeError("incomplete or overlong auth packet")
    return decode_auth_plain(private_key, found[1], found[2])


def decode_ack(private_key: bytes, packet: bytes) -> AckMessage:
    """Decode one whole ack packet (either format) sent to `private_key`'s owner."""
    found = split_packet(private_key, packet, LEGACY_ACK_SIZE)
    if found is None or len(found[0]) != len(packet):
        raise HandshakeError("incomplete or overlong ack packet")
    return decode_ack_plain(found[1], found[2])


class Handshake:
    """One side of the auth/ack exchange. Make it with `initiator()` or `recipient()`, then `start()` and `feed()`.

    When `done`, `secrets` holds the session secrets, `remote_pubkey` the authenticated peer, and `rest` any bytes
    that arrived after the handshake packet (the peer's first frames), to hand to the frame codec.
    """

    def __init__(self, private_key: bytes, remote_pubkey: bytes | None, *, ephemeral_key: bytes | None = None,
                 nonce: bytes | None = None, eip8: bool = True) -> None:
        self.private_key = private_key
        self.remote_pubkey = remote_pubkey
        self.is_initiator = remote_pubkey is not None
        self.ephemeral_key = ephemeral_key or new_private_key()
        self.nonce = nonce or os.urandom(32)
        self.eip8 = eip8  # the initiator's choice of format; a recipient answers in the auth's format
        self.secrets: Secrets | None = None
        self.rest = b""
        self._buffer = b""
        self._auth_packet = b""
        self._started = False

    @classmethod
    def initiator(cls, private_key: bytes, remote_pubkey: bytes, **kwargs) -> "Handshake":
        """The dialling side: it knows whom it dials."""
        try:
            check_public_key(remote_pubkey)
        except ValueError as exc:
            raise HandshakeError(f"invalid remote public key: {exc}") from None
        return cls(private_key, remote_pubkey, **kwargs)

    @classmethod
    def recipient(cls, private_key: bytes, **kwargs) -> "Handshake":
        """The listening side: it learns the peer's key from the auth."""
        return cls(private_key, None, **kwargs)

    @property
    def done(self) -> bool:
        return self.secrets is not None

    def start(self) -> bytes:
        """The bytes to send first: the auth packet for an initiator, nothing for a recipient."""
        if self._started:
            raise HandshakeError("handshake already started")
        self._started = True
        if not self.is_initiator:
            return b""
        assert self.remote_pubkey is not None
        signature = sign_recoverable(
            self.ephemeral_key, _static_shared_msg(self.private_key, self.remote_pubkey, self.nonce))
        own = public_key(self.private_key)
        if self.eip8:
            packet = seal_eip8(self.remote_pubkey, [signature, own, self.nonce, HANDSHAKE_VERSION])
        else:
            plain = signature + keccak256(public_key(self.ephemeral_key)) + own + self.nonce + b"\x00"
            packet = ecies_encrypt(self.remote_pubkey, plain)
        self._auth_packet = packet
        return packet

    def feed(self, data: bytes) -> bytes:
        """Take received bytes; return the bytes to send now (the ack, for a recipient). Raises HandshakeError."""
        if not self._started:
            raise HandshakeError("feed before start")
        if self.done:
            self.rest += data
            return b""
        self._buffer += data
        legacy_size = LEGACY_ACK_SIZE if self.is_initiator else LEGACY_AUTH_SIZE
        found = split_packet(self.private_key, self._buffer, legacy_size)
        if found is None:
            return b""
        packet, plain, eip8 = found
        self.rest, self._buffer = self._buffer[len(packet):], b""
        if self.is_initiator:
            self._on_ack(packet, plain, eip8)
            return b""
        return self._on_auth(packet, plain, eip8)

    def _on_ack(self, packet: bytes, plain: bytes, eip8: bool) -> None:
        ack = decode_ack_plain(plain, eip8)
        assert self.remote_pubkey is not None
        self.secrets = derive_secrets(
            initiator=True, ephemeral_key=self.ephemeral_key, remote_ephemeral_pubkey=ack.ephemeral_pubkey,
            initiator_nonce=self.nonce, recipient_nonce=ack.nonce, auth_packet=self._auth_packet,
            ack_packet=packet, remote_pubkey=self.remote_pubkey)

    def _on_auth(self, packet: bytes, plain: bytes, eip8: bool) -> bytes:
        auth = decode_auth_plain(self.private_key, plain, eip8)
        self.remote_pubkey = auth.initiator_pubkey
        own_ephemeral = public_key(self.ephemeral_key)
        if eip8:
            ack = seal_eip8(auth.initiator_pubkey, [own_ephemeral, self.nonce, HANDSHAKE_VERSION])
        else:
            ack = ecies_encrypt(auth.initiator_pubkey, own_ephemeral + self.nonce + b"\x00")
        self.secrets = derive_secrets(
            initiator=False, ephemeral_key=self.ephemeral_key, remote_ephemeral_pubkey=auth.ephemeral_pubkey,
            initiator_nonce=auth.nonce, recipient_nonce=self.nonce, auth_packet=packet, ack_packet=ack,
            remote_pubkey=auth.initiator_pubkey)
        return ack
