"""BSC's precompile 0x66 `blsSignatureVerify` (bsc core/vm/contracts.go; finality.md section 11).

Input `msg(32) | signature(96) | pubkey(48) x n`. A length of at most 128 bytes, or a key part that is not a
multiple of 48, reverts; so does a signature or key that does not decode (not on the curve, not in the subgroup, a
key at infinity). One key: Verify; several: FastAggregateVerify over the one message. Output 0x01 when the check
passes, empty when it fails. Gas 1000 + 3500 per key (1000 for a malformed length), charged before the check.
StakeHub calls the same check for a vote address's registration proof, and SlashIndicator for evidence votes.
"""
from __future__ import annotations

from eth.abc import ComputationAPI
from eth.exceptions import Revert

from consensus import bls

BLS_SIGNATURE_VERIFY = (0x66).to_bytes(20, "big")
BASE_GAS = 1_000  # BSC's BlsSignatureVerifyBaseGas
PER_KEY_GAS = 3_500  # BSC's BlsSignatureVerifyPerKeyGas
MESSAGE_LEN = 32
_HEAD = MESSAGE_LEN + bls.SIGNATURE_LEN


class BlsInputError(ValueError):
    """Input 0x66 reverts on: a bad length, or a signature or key that does not decode."""


def required_gas(data: bytes) -> int:
    """1000 + 3500 per public key; 1000 when the length is malformed."""
    if len(data) <= _HEAD or (len(data) - _HEAD) % bls.PUBLIC_KEY_LEN:
        return BASE_GAS
    return BASE_GAS + PER_KEY_GAS * ((len(data) - _HEAD) // bls.PUBLIC_KEY_LEN)


def check(data: bytes) -> bool:
    """Whether the signature verifies over the message with the keys; BlsInputError where BSC reverts."""
    if len(data) <= _HEAD or (len(data) - _HEAD) % bls.PUBLIC_KEY_LEN:
        raise BlsInputError(f"invalid input length {len(data)}: want 128 bytes of message and signature, then "
                            f"n x {bls.PUBLIC_KEY_LEN}-byte public keys")
    message, signature = data[:MESSAGE_LEN], data[MESSAGE_LEN:_HEAD]
    keys = [data[i:i + bls.PUBLIC_KEY_LEN] for i in range(_HEAD, len(data), bls.PUBLIC_KEY_LEN)]
    if not bls.signature_decodes(signature):
        raise BlsInputError("signature does not decode to a point in G2")
    for i, key in enumerate(keys):
        if not bls.key_decodes(key):
            raise BlsInputError(f"public key {i} does not decode to a valid G1 point")
    if len(keys) == 1:
        return bls.verify(keys[0], message, signature)
    return bls.fast_aggregate_verify(keys, message, signature)


def precompile(computation: ComputationAPI) -> ComputationAPI:
    """The 0x66 handler for py-evm's precompile table."""
    data = computation.msg.data_as_bytes
    computation.consume_gas(required_gas(data), reason="blsSignatureVerify precompile")
    try:
        valid = check(data)
    except BlsInputError as exc:
        raise Revert(str(exc)) from None  # BSC: ErrExecutionReverted, the remaining gas goes back
    computation.output = b"\x01" if valid else b""
    return computation
