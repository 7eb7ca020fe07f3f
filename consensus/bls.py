"""BLS12-381 signatures for fast-finality votes, over py-arkworks-bls12381 (arkworks' curve, pairing, hash to curve).

The scheme is the one BSC takes from prysm (../shared/reference/finality.md section 3): Ethereum's consensus-layer
ciphersuite BLS_SIG_BLS12381G2_XMD:SHA-256_SSWU_RO_POP_, public keys in G1 (48 bytes compressed), signatures in G2
(96 bytes), the message signed as given (no domain, fork or chain id mixed in):
  sign(sk, m) = sk * H(m);  verify(pk, m, sig) <=> e(pk, H(m)) == e(g1, sig);
  fast_aggregate_verify(pks, m, sig) = verify(sum of pks, m, sig);  aggregate(sigs) = sum in G2.
Points are decoded with arkworks' checked decoder (on the curve, in the subgroup); a public key must also not be the
point at infinity (KeyValidate). Every check answers False, never an exception, on bad input, as prysm does.

Why this binding (finality.md section 17 measured five): milagro-bls-binding has the ready Eth2 API but is marked
Inactive and warns at import that it is deprecated; blspy is superseded by Chia's chia_rs; py_ecc is ~100 times
slower (the tests use it as the cross-check). py-arkworks-bls12381 is maintained, is the fast backend of
Ethereum's consensus-specs, and its checked decoders tell an undecodable key from a failed check (which BSC's
0x66 precompile needs: revert vs empty output). Measured here: sign ~1 ms, a 9-key aggregate check ~5 ms.

Verification results are cached per process by their exact bytes: a one-process Devnet checks the same vote on
every node, and a vote pool re-checks votes it already holds.

Many single signatures at once (`verify_many`: the votes a node receives for a block) are checked together by the
randomized batch check of Ethereum's consensus clients (blst's verify_multiple_aggregate_signatures, prysm's and
lighthouse's attestation batches): with a fresh random 64-bit r_i per signature,
  prod over messages m of e(sum of r_i pk_i signing m, H(m)) == e(g1, sum of r_i sig_i),
one pairing per distinct message plus one, instead of two per signature. A forged signature passes only if it
cancels against the others under scalars it cannot know (probability 2**-64). When the batch fails, each signature
is checked on its own, so the bad ones are found and the good ones still count.
"""
from __future__ import annotations

import secrets
import threading
from collections import OrderedDict
from collections.abc import Iterable, Sequence
from functools import lru_cache

from eth_utils import keccak
from py_arkworks_bls12381 import GT, G1Point, G2Point, Scalar

PUBLIC_KEY_LEN = 48
SIGNATURE_LEN = 96
SECRET_KEY_LEN = 32
# r, the order of G1 and G2: secret keys are integers in [1, r)
CURVE_ORDER = 0x73EDA753299D7D483339D80809A1D80553BDA402FFFE5BFEFFFFFFFF00000001
DST = b"BLS_SIG_BLS12381G2_XMD:SHA-256_SSWU_RO_POP_"  # prysm's signing DST (proof-of-possession scheme)
_G1 = G1Point()  # the generator
_NEG_G1 = -_G1
_IDENTITY_G1 = G1Point.identity()
_CACHE_SIZE = 8192
_KEY_CACHE_SIZE = 1024
_MESSAGE_CACHE_SIZE = 256
_SIGNATURE_CACHE_SIZE = 1024
BATCH_SCALAR_BITS = 64  # the randomness per signature of a batch check (blst and prysm use 64 bits)


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
    raise BlsError("no non-zero key in 256 tries")  # each try fails with probability 2**-255


def _scalar(secret_key: bytes) -> Scalar:
    if len(secret_key) != SECRET_KEY_LEN or not 0 < int.from_bytes(secret_key, "big") < CURVE_ORDER:
        raise BlsError(f"want a {SECRET_KEY_LEN}-byte BLS secret key in [1, r), have {len(secret_key)} bytes")
    return Scalar.from_be_bytes(bytes(secret_key))


def public_key(secret_key: bytes) -> bytes:
    """The 48-byte compressed G1 public key of `secret_key`."""
    return bytes((_G1 * _scalar(secret_key)).to_compressed_bytes())


def sign(secret_key: bytes, message: bytes) -> bytes:
    """The 96-byte signature of `message` (prysm's SecretKey.Sign; BSC signs VoteData.Hash())."""
    return bytes((_message_point(bytes(message)) * _scalar(secret_key)).to_compressed_bytes())


@lru_cache(maxsize=_MESSAGE_CACHE_SIZE)
def _message_point(message: bytes) -> G2Point:
    """H(m) in G2. Cached: every validator signs the same VoteData hash for a block, and a node checks each of their
    votes and the attestation over that one message (hashing to the curve is ~1 ms a time)."""
    return G2Point.hash_to_curve(message, DST)


@lru_cache(maxsize=_KEY_CACHE_SIZE)  # validators' keys recur every block; decoding (subgroup check) is the cost
def _public_point(public_key_bytes: bytes) -> G1Point | None:
    """The key as a G1 point, or None unless it decodes, lies in the subgroup and is not infinity (KeyValidate)."""
    if len(public_key_bytes) != PUBLIC_KEY_LEN:
        return None
    try:
        point = G1Point.from_compressed_bytes(bytes(public_key_bytes))
    except ValueError:
        return None
    return None if point == _IDENTITY_G1 else point


@lru_cache(maxsize=_SIGNATURE_CACHE_SIZE)  # a vote's signature is decoded to check it, again to aggregate it
def _signature_point(signature: bytes) -> G2Point | None:
    """The signature as a G2 point, or None unless it decodes and lies in the subgroup."""
    if len(signature) != SIGNATURE_LEN:
        return None
    try:
        return G2Point.from_compressed_bytes(bytes(signature))
    except ValueError:
        return None


def key_decodes(public_key_bytes: bytes) -> bool:
    """Whether the bytes are a usable public key: BSC's bls.PublicKeyFromBytes succeeds (the all-zero key of a
    validator that never registered one does not)."""
    return _public_point(bytes(public_key_bytes)) is not None


def signature_decodes(signature: bytes) -> bool:
    """Whether the bytes are a compressed G2 point in the subgroup (BSC's bls.SignatureFromBytes)."""
    return _signature_point(bytes(signature)) is not None


class _Results:
    """Verification results by (keys, message, signature), least recently used dropped; safe across threads."""

    def __init__(self, size: int) -> None:
        self._size = size
        self._items: OrderedDict[tuple[tuple[bytes, ...], bytes, bytes], bool] = OrderedDict()
        self._lock = threading.Lock()

    def get(self, key: tuple[tuple[bytes, ...], bytes, bytes]) -> bool | None:
        with self._lock:
            found = self._items.get(key)
            if found is not None:
                self._items.move_to_end(key)
            return found

    def put(self, key: tuple[tuple[bytes, ...], bytes, bytes], result: bool) -> None:
        with self._lock:
            self._items[key] = result
            self._items.move_to_end(key)
            while len(self._items) > self._size:
                self._items.popitem(last=False)

    def clear(self) -> None:
        with self._lock:
            self._items.clear()


_results = _Results(_CACHE_SIZE)


def clear_caches() -> None:
    """Forget every cached verification result and decoded signature (a benchmark timing a node that has checked
    nothing yet)."""
    _results.clear()
    _signature_point.cache_clear()


def known_verdict(public_key_bytes: bytes, message: bytes, signature: bytes) -> bool | None:
    """What `verify` answered for these bytes before, if this process still remembers it (None: never asked)."""
    return _results.get(((bytes(public_key_bytes),), bytes(message), bytes(signature)))


def verify(public_key_bytes: bytes, message: bytes, signature: bytes) -> bool:
    """One key's signature over `message`; False on any malformed input (prysm's Signature.Verify)."""
    return fast_aggregate_verify((public_key_bytes,), message, signature)


def fast_aggregate_verify(public_keys: Sequence[bytes], message: bytes, signature: bytes) -> bool:
    """An aggregate signature of every key over one message; False for no keys or any malformed input."""
    key = (tuple(bytes(k) for k in public_keys), bytes(message), bytes(signature))
    found = _results.get(key)
    if found is None:
        found = _fast_aggregate_verify(*key)
        _results.put(key, found)
    return found


def _fast_aggregate_verify(public_keys: tuple[bytes, ...], message: bytes, signature: bytes) -> bool:
    if not public_keys:
        return False
    total = _key_sum(public_keys)
    sig = _signature_point(signature)
    if total is None or sig is None:
        return False
    # e(sum pk, H(m)) == e(g1, sig)  <=>  e(sum pk, H(m)) * e(-g1, sig) == 1, one final exponentiation
    return GT.pairing_check([total, _NEG_G1], [_message_point(message), sig])


def _key_sum(public_keys: Iterable[bytes]) -> G1Point | None:
    total = None
    for key in public_keys:
        point = _public_point(key)
        if point is None:
            return None
        total = point if total is None else total + point
    return total


def verify_many(items: Sequence[tuple[bytes, bytes, bytes]]) -> list[bool]:
    """Whether each (public key, message, signature) verifies, as `verify` would answer it one at a time.

    Items not already cached are checked together by one randomized batch check (see the module docstring); if
    that fails, one at a time. Malformed keys or signatures are False without joining the batch."""
    answers: list[bool | None] = []
    batch: list[tuple[int, tuple[tuple[bytes, ...], bytes, bytes], G1Point, G2Point]] = []
    for i, (public_key_bytes, message, signature) in enumerate(items):
        key = ((bytes(public_key_bytes),), bytes(message), bytes(signature))
        found = _results.get(key)
        if found is None:
            point, sig = _public_point(key[0][0]), _signature_point(key[2])
            if point is None or sig is None:
                found = False
                _results.put(key, False)
            else:
                batch.append((i, key, point, sig))
        answers.append(found)
    if len(batch) == 1:
        _, key, _, _ = batch[0]
        answers[batch[0][0]] = fast_aggregate_verify(*key)
    elif batch:
        if _batch_holds([(key[1], point, sig) for _, key, point, sig in batch]):
            for i, key, _, _ in batch:
                _results.put(key, True)
                answers[i] = True
        else:   # at least one is bad: find it (them) one by one
            for i, key, _, _ in batch:
                answers[i] = fast_aggregate_verify(*key)
    return [bool(a) for a in answers]


def _batch_holds(items: Sequence[tuple[bytes, G1Point, G2Point]]) -> bool:
    """prod_m e(sum r_i pk_i, H(m)) * e(-g1, sum r_i sig_i) == 1 for fresh random non-zero 64-bit r_i."""
    keys_by_message: dict[bytes, G1Point] = {}
    sig_total = None
    for message, point, sig in items:
        r = Scalar(secrets.randbits(BATCH_SCALAR_BITS) | 1)
        weighted_key, weighted_sig = point * r, sig * r
        held = keys_by_message.get(message)
        keys_by_message[message] = weighted_key if held is None else held + weighted_key
        sig_total = weighted_sig if sig_total is None else sig_total + weighted_sig
    g1s = [*keys_by_message.values(), _NEG_G1]
    g2s = [*(_message_point(m) for m in keys_by_message), sig_total]
    return GT.pairing_check(g1s, g2s)


def aggregate(signatures: Iterable[bytes]) -> bytes:
    """The sum in G2 of the signatures (prysm's AggregateSignatures); raises BlsError on none or a malformed one."""
    total = None
    for i, signature in enumerate(signatures):
        point = _signature_point(bytes(signature))
        if point is None:
            raise BlsError(f"signature {i} is not a compressed G2 point in the subgroup ({len(signature)} bytes)")
        total = point if total is None else total + point
    if total is None:
        raise BlsError("want at least one signature to aggregate, have none")
    return bytes(total.to_compressed_bytes())
