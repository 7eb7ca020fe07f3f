"""The handshake's cryptography: secp256k1 ECDH, recoverable signatures, Keccak and ECIES with geth's parameters.

ECIES is geth's `ECIES_AES128_SHA256`: z = x-coordinate of the shared point; NIST SP 800-56 concatenation KDF with
SHA-256 (empty s1); AES-128-CTR with a random IV; HMAC-SHA256 tag over iv ‖ ciphertext ‖ s2 with key SHA256(kM).
Wire form: R (65, uncompressed) ‖ iv (16) ‖ ciphertext ‖ tag (32).
"""
from __future__ import annotations

import hashlib
import hmac
import os

import coincurve
from Crypto.Cipher import AES
from Crypto.Hash import keccak

from node.network.rlpx.errors import EciesError

PUBKEY_LEN = 64  # public keys on the wire are X ‖ Y, without the 0x04 prefix
ECIES_OVERHEAD = 65 + 16 + 32


def keccak256(data: bytes) -> bytes:
    """Keccak-256 (Ethereum's, not NIST SHA3-256)."""
    return keccak.new(digest_bits=256, data=data).digest()


def keccak_state(seed: bytes = b"") -> "keccak.Keccak_Hash":
    """A running Keccak-256 whose digest() does not finalise it, as the RLPx MACs need."""
    state = keccak.new(digest_bits=256, update_after_digest=True)
    state.update(seed)
    return state


def new_private_key() -> bytes:
    """A fresh random secp256k1 private key (32 bytes)."""
    return coincurve.PrivateKey().secret


def public_key(private_key: bytes) -> bytes:
    """The 64-byte wire form X ‖ Y of a private key's public key."""
    return coincurve.PrivateKey(private_key).public_key.format(compressed=False)[1:]


def check_public_key(pub64: bytes) -> coincurve.PublicKey:
    """A coincurve key for a 64-byte X ‖ Y; ValueError if it is not a point of the curve."""
    if len(pub64) != PUBKEY_LEN:
        raise ValueError(f"public key must be {PUBKEY_LEN} bytes, got {len(pub64)}")
    return coincurve.PublicKey(b"\x04" + pub64)


def ecdh_x(private_key: bytes, pub64: bytes) -> bytes:
    """The raw x-coordinate of private_key · pub64 (coincurve's own ecdh() hashes the point: not what RLPx uses)."""
    shared = check_public_key(pub64).multiply(private_key)
    return shared.format(compressed=False)[1:33]


def sign_recoverable(private_key: bytes, msg32: bytes) -> bytes:
    """A 65-byte r ‖ s ‖ v signature of a 32-byte message, v in {0, 1}."""
    return coincurve.PrivateKey(private_key).sign_recoverable(msg32, hasher=None)


def recover_public_key(signature: bytes, msg32: bytes) -> bytes:
    """The 64-byte public key that made `signature` over `msg32`; ValueError if none."""
    if len(signature) != 65 or signature[64] > 1:
        raise ValueError("invalid signature: want 65 bytes with v in {0, 1}")
    pub = coincurve.PublicKey.from_signature_and_message(signature, msg32, hasher=None)
    return pub.format(compressed=False)[1:]


def concat_kdf(z: bytes, length: int, s1: bytes = b"") -> bytes:
    """NIST SP 800-56 concatenation KDF with SHA-256: SHA256(be32(counter) ‖ z ‖ s1), counter from 1."""
    out = b""
    counter = 1
    while len(out) < length:
        out += hashlib.sha256(counter.to_bytes(4, "big") + z + s1).digest()
        counter += 1
    return out[:length]


def _keys(z: bytes) -> tuple[bytes, bytes]:
    k = concat_kdf(z, 32)
    return k[:16], hashlib.sha256(k[16:32]).digest()


def _aes128_ctr(key: bytes, iv: bytes, data: bytes) -> bytes:
    return AES.new(key, AES.MODE_CTR, nonce=b"", initial_value=iv).encrypt(data)


def ecies_encrypt(pub64: bytes, plaintext: bytes, shared_mac_data: bytes = b"",
                  ephemeral_key: bytes | None = None, iv: bytes | None = None) -> bytes:
    """Encrypt to `pub64`; `shared_mac_data` (s2) is authenticated but not sent (EIP-8: the size prefix)."""
    r = ephemeral_key or new_private_key()
    iv = iv or os.urandom(16)
    k_enc, k_mac = _keys(ecdh_x(r, pub64))
    ciphertext = _aes128_ctr(k_enc, iv, plaintext)
    tag = hmac.new(k_mac, iv + ciphertext + shared_mac_data, hashlib.sha256).digest()
    return b"\x04" + public_key(r) + iv + ciphertext + tag


def ecies_decrypt(private_key: bytes, packet: bytes, shared_mac_data: bytes = b"") -> bytes:
    """Decrypt a packet made by ecies_encrypt; EciesError if it is malformed or its tag does not match."""
    if len(packet) < ECIES_OVERHEAD or packet[0] != 0x04:
        raise EciesError("invalid message")
    try:
        z = ecdh_x(private_key, packet[1:65])
    except ValueError:
        raise EciesError("invalid public key") from None
    k_enc, k_mac = _keys(z)
    iv, ciphertext, tag = packet[65:81], packet[81:-32], packet[-32:]
    expected = hmac.new(k_mac, iv + ciphertext + shared_mac_data, hashlib.sha256).digest()
    if not hmac.compare_digest(expected, tag):
        raise EciesError("invalid message")
    return _aes128_ctr(k_enc, iv, ciphertext)


def xor(a: bytes, b: bytes) -> bytes:
    """Byte-wise XOR of two equal-length strings."""
    return bytes(x ^ y for x, y in zip(a, b, strict=True))
