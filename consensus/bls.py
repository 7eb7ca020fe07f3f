"""BLS12-381 signatures for fast-finality votes: a thin wrapper over milagro-bls-binding.

The scheme is the one BSC takes from prysm (../shared/reference/finality.md section 3): Ethereum's consensus-layer
ciphersuite BLS_SIG_BLS12381G2_XMD:SHA-256_SSWU_RO_POP_, public keys in G1 (48 bytes compressed), signatures in G2
(96 bytes), the message signed as given (no domain, fork or chain id mixed in). milagro-bls-binding implements
exactly that (its Sign/Verify/FastAggregateVerify use the POP DST) and answers False, never an exception, on a
malformed key or signature, an infinity point or an empty key list; section 17 explains the choice over blspy
(faster, but raises on bad points) and py_ecc (about 100 times slower; the tests use it as a cross-check).

Verification results are cached per process by their exact bytes: a one-process Devnet checks the same vote on
every node, and a vote pool re-checks votes it already holds.
"""
from __future__ import annotations

from collections.abc import Iterable, Sequence
from functools import lru_cache

import milagro_bls_binding as milagro
from eth_utils import keccak

PUBLIC_KEY_LEN = 48
SIGNATURE_LEN = 96
SECRET_KEY_LEN = 32
# r, the order of G1 and G2: secret keys are integers in [1, r)
CURVE_ORDER = 0x73EDA753299D7D483339D80809A1D80553BDA402FFFE5BFEFFFFFFFF00000001
# p, the base field of BLS12-381: a compressed G1 point carries x < p
FIELD_MODULUS = int(
    "1a0111ea397fe69a4b1ba7b6434bacd764774b84f38512bf6730d2a0f6b0f6241eabfffeb153ffffb9feffffffffaaab", 16)
_COMPRESSED, _INFINITY, _SIGN = 0x80, 0x40, 0x20  # flag bits of the first byte (ZCash serialization)
_CACHE_SIZE = 8192


class BlsError(ValueError):
    """A secret key out of range, or signatures that cannot be aggregated."""


def secret_key_from_int(value: int) -> bytes:
    """The 32-byte big-endian secret key for an integer in [1, r)."""
    if not 0 < value < CURVE_ORDER:
        raise BlsError(f"want a BLS secret key in [1, r), have {value}")
    return value.to_bytes(SECRET_KEY_LEN, "big")


def derive_secret_key(seed: bytes, domain: bytes = b"smartchain/bls-vote-key/v1") -> bytes:
    """A deterministic secret key from `seed`: keccak256(domain || counter || seed) mod r, the first non-zero one.

    For dev and Devnet validators only (consensus.votes.vote_key_for derives from the validator's secp256k1 key):
    anyone who knows the seed knows the key. Real validators generate their key as BSC's `geth bls account new`.
    """
    for counter in range(256):
        value = int.from_bytes(keccak(domain + bytes([counter]) + seed), "big") % CURVE_ORDER
        if value:
            return secret_key_from_int(value)
    raise BlsError("no non-zero key in 256 tries")  # probability about 2**-65000: unreachable in practice


def public_key(secret_key: bytes) -> bytes:
    """The 48-byte compressed G1 public key of `secret_key`."""
    _check_secret(secret_key)
    return bytes(milagro.SkToPk(bytes(secret_key)))


def sign(secret_key: bytes, message: bytes) -> bytes:
    """The 96-byte signature of `message` (prysm's SecretKey.Sign; BSC signs VoteData.Hash())."""
    _check_secret(secret_key)
    return bytes(milagro.Sign(bytes(secret_key), bytes(message)))


def _check_secret(secret_key: bytes) -> None:
    if len(secret_key) != SECRET_KEY_LEN or not 0 < int.from_bytes(secret_key, "big") < CURVE_ORDER:
        raise BlsError(f"want a {SECRET_KEY_LEN}-byte BLS secret key in [1, r), have {len(secret_key)} bytes")


def verify(public_key_bytes: bytes, message: bytes, signature: bytes) -> bool:
    """One key's signature over `message`; False on any malformed input (prysm's Signature.Verify)."""
    return _verify(bytes(public_key_bytes), bytes(message), bytes(signature))


@lru_cache(maxsize=_CACHE_SIZE)
def _verify(public_key_bytes: bytes, message: bytes, signature: bytes) -> bool:
    if len(public_key_bytes) != PUBLIC_KEY_LEN or len(signature) != SIGNATURE_LEN:
        return False
    return bool(milagro.Verify(public_key_bytes, message, signature))


def fast_aggregate_verify(public_keys: Sequence[bytes], message: bytes, signature: bytes) -> bool:
    """An aggregate signature of every key over one message; False for no keys or any malformed input."""
    return _fast_aggregate_verify(tuple(bytes(k) for k in public_keys), bytes(message), bytes(signature))


@lru_cache(maxsize=_CACHE_SIZE)
def _fast_aggregate_verify(public_keys: tuple[bytes, ...], message: bytes, signature: bytes) -> bool:
    if not public_keys or len(signature) != SIGNATURE_LEN or any(len(k) != PUBLIC_KEY_LEN for k in public_keys):
        return False
    return bool(milagro.FastAggregateVerify(list(public_keys), message, signature))


def aggregate(signatures: Iterable[bytes]) -> bytes:
    """The sum in G2 of the signatures (prysm's AggregateSignatures); raises BlsError on none or a malformed one."""
    sigs = [bytes(s) for s in signatures]
    if not sigs:
        raise BlsError("want at least one signature to aggregate, have none")
    for s in sigs:
        if len(s) != SIGNATURE_LEN:
            raise BlsError(f"want {SIGNATURE_LEN}-byte signatures to aggregate, have {len(s)} bytes")
    try:
        return bytes(milagro.Aggregate(sigs))
    except ValueError as exc:  # milagro names the failure (e.g. InvalidG2Size)
        raise BlsError(f"cannot aggregate BLS signatures: {exc}") from exc


def key_decodes(public_key_bytes: bytes) -> bool:
    """Whether the bytes are a compressed G1 point on the curve other than infinity.

    A pre-check that names the failure BSC reports as "BLS public key converts failed" (the all-zero key of a
    validator that never registered one fails here). Subgroup membership is left to the verification itself,
    which refuses such a key (milagro checks it in Verify/FastAggregateVerify), so safety never rests on this.
    """
    if len(public_key_bytes) != PUBLIC_KEY_LEN:
        return False
    flags = public_key_bytes[0]
    if not flags & _COMPRESSED or flags & _INFINITY:
        return False
    x = int.from_bytes(bytes([flags & ~(_COMPRESSED | _INFINITY | _SIGN)]) + public_key_bytes[1:], "big")
    if x >= FIELD_MODULUS:
        return False
    rhs = (pow(x, 3, FIELD_MODULUS) + 4) % FIELD_MODULUS  # G1: y^2 = x^3 + 4
    return rhs == 0 or pow(rhs, (FIELD_MODULUS - 1) // 2, FIELD_MODULUS) == 1  # Euler: a square mod p
