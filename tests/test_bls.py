"""consensus/bls.py: the BLS scheme BSC votes with, cross-checked with py_ecc (pure Python, Ethereum's reference)."""
import json

import pytest
from eth_utils import decode_hex
from py_ecc.bls import G2ProofOfPossession as reference

from conftest import shared_path
from consensus import bls

MESSAGE = bytes(range(32))
KEYS = [bls.secret_key_from_int(n) for n in (1, 7, 2**200 + 12345, bls.CURVE_ORDER - 1)]
FIELD_MODULUS = int(
    "1a0111ea397fe69a4b1ba7b6434bacd764774b84f38512bf6730d2a0f6b0f6241eabfffeb153ffffb9feffffffffaaab", 16)


def test_sign_verify_round_trip():
    for sk in KEYS:
        pk = bls.public_key(sk)
        signature = bls.sign(sk, MESSAGE)
        assert len(pk) == bls.PUBLIC_KEY_LEN and len(signature) == bls.SIGNATURE_LEN
        assert bls.verify(pk, MESSAGE, signature)
        assert not bls.verify(pk, MESSAGE[:-1] + b"\x00", signature)
        assert not bls.verify(bls.public_key(bls.secret_key_from_int(2)), MESSAGE, signature)


def test_matches_py_ecc_keys_and_signatures():
    # BLS signatures are deterministic: the same key and message give the same bytes in every implementation.
    for sk in KEYS[:2]:
        n = int.from_bytes(sk, "big")
        assert bls.public_key(sk) == reference.SkToPk(n)
        assert bls.sign(sk, MESSAGE) == reference.Sign(n, MESSAGE)


def test_py_ecc_accepts_our_aggregate_and_we_accept_its():
    pks = [bls.public_key(sk) for sk in KEYS[:3]]
    ours = bls.aggregate(bls.sign(sk, MESSAGE) for sk in KEYS[:3])
    theirs = reference.Aggregate([reference.Sign(int.from_bytes(sk, "big"), MESSAGE) for sk in KEYS[:3]])
    assert ours == theirs
    assert reference.FastAggregateVerify(pks, MESSAGE, ours)
    assert bls.fast_aggregate_verify(pks, MESSAGE, theirs)
    assert not bls.fast_aggregate_verify(pks[:2], MESSAGE, ours)


def test_real_bsc_attestation_with_both_implementations():
    with open(shared_path("reference", "vectors", "bsc-attested-headers.json")) as f:
        data = json.load(f)
    vector = next(v for v in data["vectors"] if v["name"] == "bsc-localnet9999-1001")
    check = vector["attestationCheck"]
    keyset = next(s for s in data["validatorSets"] if s["id"] == check["validatorSet"])
    keys = [decode_hex(keyset["validators"][i]["blsPublicKey"]) for i in check["signerIndices"]]
    message = decode_hex(check["signedMessage"])
    signature = decode_hex(vector["extraDecoded"]["attestation"]["aggSignature"])
    assert bls.fast_aggregate_verify(keys, message, signature)
    assert reference.FastAggregateVerify(keys, message, signature)
    assert not bls.fast_aggregate_verify(keys[1:], message, signature)


@pytest.mark.parametrize("public_key", [
    bytes(48),  # a validator without a key: BSC's epoch headers carry zeros
    b"\xc0" + bytes(47),  # the point at infinity (KeyValidate refuses it)
    b"\x80" + (FIELD_MODULUS + 1).to_bytes(48, "big")[1:],  # x >= p
    bytes(47),  # short
])
def test_malformed_public_key_is_false_not_an_exception(public_key):
    signature = bls.sign(KEYS[0], MESSAGE)
    assert not bls.key_decodes(public_key)
    assert not bls.verify(public_key, MESSAGE, signature)
    assert not bls.fast_aggregate_verify([bls.public_key(KEYS[0]), public_key], MESSAGE, signature)


def _on_curve_outside_subgroup() -> bytes:
    # a compressed x whose y exists (x^3 + 4 a square mod p); such points are almost never in the r-subgroup
    for x in range(1, 1000):
        rhs = (x ** 3 + 4) % FIELD_MODULUS
        if pow(rhs, (FIELD_MODULUS - 1) // 2, FIELD_MODULUS) == 1:
            return bytes([0x80]) + x.to_bytes(48, "big")[1:]
    raise AssertionError("no x found")


def test_key_outside_the_subgroup_does_not_decode():
    key = _on_curve_outside_subgroup()
    assert not reference.KeyValidate(key)
    assert not bls.key_decodes(key)


@pytest.mark.parametrize("mutate", [
    lambda s: s[:-1] + bytes([s[-1] ^ 1]),
    lambda s: b"\xc0" + bytes(95),  # infinity
    lambda s: bytes(96),
    lambda s: s[:95],
])
def test_malformed_or_changed_signature_is_false(mutate):
    pk, signature = bls.public_key(KEYS[1]), bls.sign(KEYS[1], MESSAGE)
    assert not bls.verify(pk, MESSAGE, mutate(signature))
    assert not bls.fast_aggregate_verify([pk], MESSAGE, mutate(signature))


def test_signature_decodes():
    assert bls.signature_decodes(bls.sign(KEYS[0], MESSAGE))
    assert not bls.signature_decodes(bytes(96))
    assert not bls.signature_decodes(bls.sign(KEYS[0], MESSAGE)[:95])


def test_no_keys_never_verify():
    assert not bls.fast_aggregate_verify([], MESSAGE, bls.sign(KEYS[0], MESSAGE))
    assert not bls.fast_aggregate_verify([], MESSAGE, b"\xc0" + bytes(95))


def test_aggregate_refuses_nothing_and_garbage():
    with pytest.raises(bls.BlsError, match="at least one"):
        bls.aggregate([])
    with pytest.raises(bls.BlsError, match="signature 1"):
        bls.aggregate([bls.sign(KEYS[0], MESSAGE), bytes(96)])


@pytest.mark.parametrize("value", [0, bls.CURVE_ORDER, -1])
def test_secret_key_range(value):
    with pytest.raises(bls.BlsError):
        bls.secret_key_from_int(value)


def test_secret_key_bytes_checked():
    with pytest.raises(bls.BlsError):
        bls.sign(bls.CURVE_ORDER.to_bytes(32, "big"), MESSAGE)
    with pytest.raises(bls.BlsError):
        bls.public_key(b"\x01" * 31)


def test_derived_keys_are_deterministic_and_distinct():
    a, b = bls.derive_secret_key(b"seed-a"), bls.derive_secret_key(b"seed-b")
    assert a == bls.derive_secret_key(b"seed-a") and a != b
    assert bls.derive_secret_key(b"seed-a", b"other domain") != a
    assert 0 < int.from_bytes(a, "big") < bls.CURVE_ORDER
    assert bls.verify(bls.public_key(a), MESSAGE, bls.sign(a, MESSAGE))


# BSC's 0x66 precompile vectors (bnb-chain/bsc core/vm/testdata/precompiles/{,fail-}blsSignatureVerify.json):
# input = message(32) || signature(96) || public key(48). "vector 0" verifies; the same input with its last key
# byte changed reverts there, because the key no longer decodes.
PRECOMPILE_VECTOR_0 = bytes.fromhex(
    "f2d8e8e5bf354429e3ce8b97c4e88f7a0bf7bc917e856de762ed6d70dd8ec2d289a04d63285e4b45309e7c180ea82565e375dd62"
    "c7b80d957aea4c9b7e16bdb28a0f910036bd3220fe3d7614fb137a8f0a68b3c564ddd214b5041d8f7a124e6e7285ac42635e75ee"
    "b9051a052fb500b1c2bc23bd4290db59fc02be11f2b80896b6e22d5b8dd31ba2e49b13cd6be19fcd01c1e23af3e5165d88d8b9de"
    "af38baa77770fa6a358e2eebdffd1bd8a1eb7386")


def test_bsc_precompile_vectors():
    message, signature, key = PRECOMPILE_VECTOR_0[:32], PRECOMPILE_VECTOR_0[32:128], PRECOMPILE_VECTOR_0[128:]
    assert bls.key_decodes(key) and bls.signature_decodes(signature)
    assert bls.verify(key, message, signature)
    assert reference.Verify(key, message, signature)
    changed = key[:-1] + b"\x87"  # the fail vector: the key no longer decodes (0x66 reverts)
    assert not bls.key_decodes(changed)
    assert not bls.verify(changed, message, signature)
    # a valid key with the wrong signature is a failed check, not a decode failure (0x66 answers empty)
    other = bls.public_key(KEYS[0])
    assert bls.key_decodes(other) and not bls.verify(other, message, signature)


# --- verify_many: the randomized batch check of many single signatures ---

def _signed(keys, messages):
    return [(bls.public_key(sk), m, bls.sign(sk, m)) for sk, m in zip(keys, messages)]


def test_verify_many_accepts_good_votes_over_one_and_several_messages():
    bls.clear_caches()
    other = bytes(range(1, 33))
    items = _signed(KEYS, [MESSAGE, MESSAGE, other, MESSAGE])
    assert bls.verify_many(items) == [True] * 4
    assert all(bls.verify(*item) for item in items)   # the batch's answers are the single checks' answers
    assert bls.verify_many([]) == []


def test_verify_many_finds_the_bad_ones_and_keeps_the_good():
    bls.clear_caches()
    good = _signed(KEYS, [MESSAGE] * 4)
    wrong_key = (bls.public_key(bls.secret_key_from_int(2)), MESSAGE, good[1][2])   # someone else's signature
    wrong_message = (good[2][0], MESSAGE[:-1] + b"\x01", good[2][2])
    items = [good[0], wrong_key, wrong_message, good[3]]
    assert bls.verify_many(items) == [True, False, False, True]
    assert [bls.verify(*item) for item in items] == [True, False, False, True]


def test_verify_many_is_not_fooled_by_signatures_that_cancel():
    # sig_a + X and sig_b - X: each is forged, their plain sum is the true aggregate (a non-random batch would pass)
    bls.clear_caches()
    (pk_a, _, sig_a), (pk_b, _, sig_b) = _signed(KEYS[:2], [MESSAGE, MESSAGE])
    shift = bls.sign(bls.secret_key_from_int(99), MESSAGE)
    forged_a = bls.aggregate([sig_a, shift])
    forged_b = bytes((bls._signature_point(sig_b) + -bls._signature_point(shift)).to_compressed_bytes())
    assert bls.fast_aggregate_verify([pk_a, pk_b], MESSAGE, bls.aggregate([forged_a, forged_b]))   # the trap
    assert bls.verify_many([(pk_a, MESSAGE, forged_a), (pk_b, MESSAGE, forged_b)]) == [False, False]
    assert not bls.verify(pk_a, MESSAGE, forged_a) and not bls.verify(pk_b, MESSAGE, forged_b)


def test_verify_many_malformed_items_are_false():
    bls.clear_caches()
    good = _signed(KEYS[:2], [MESSAGE, MESSAGE])
    items = [good[0], (bytes(48), MESSAGE, good[1][2]), (good[1][0], MESSAGE, b"\x01" * 96), good[1]]
    assert bls.verify_many(items) == [True, False, False, True]
