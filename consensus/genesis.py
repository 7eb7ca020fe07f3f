"""Parlia genesis extraData: the genesis validators, as bare addresses (BSC's own genesis) or with BLS vote keys.

BSC reads the genesis validator part by the Luban fork at block 0 (bsc consensus/parlia/parlia.go parseValidators):
before Luban `vanity32 | N x address20 | seal65`; with Luban at genesis `vanity32 | N(1) | N x (address20 |
voteKey48) | [turnLength(1), from Bohr] | seal65`. A devnet needs the second so its validators can vote (and
blocks can finalize) from block 3 on, before any epoch block has announced vote keys.
The two layouts never have the same length (20k is even; 1 + 68N is odd; 20k = 2 + 68N has no solution), so the
length alone tells them apart: a reader needs no fork flag.
"""
from __future__ import annotations

from collections.abc import Sequence

from consensus.errors import InvalidEpochValidators
from consensus.header import (
    ADDRESS_LEN, EXTRA_SEAL, EXTRA_VANITY, VALIDATOR_ENTRY_LEN, ValidatorInfo, encode_extra, parse_extra,
)


def genesis_extra(validators: Sequence[ValidatorInfo | tuple[bytes, bytes] | bytes],
                  turn_length: int | None = None, vanity: bytes = bytes(EXTRA_VANITY)) -> bytes:
    """Genesis extraData in the Luban layout: (address, vote key) pairs sorted by address, a zero seal.

    Bare addresses get a zero vote key (such a validator counts in N but cannot vote); `turn_length` adds the Bohr
    byte (the engine takes the genesis turn length from its params either way).
    """
    infos = [v if isinstance(v, (ValidatorInfo, bytes)) else ValidatorInfo(*v) for v in validators]
    if not infos:
        raise ValueError("genesis: want at least one validator")
    return encode_extra(infos, turn_length, vanity)


def genesis_validators(extra: bytes) -> tuple[ValidatorInfo, ...]:
    """The genesis validators (in extraData order) from either layout; bare addresses get a zero vote key.

    Raises InvalidEpochValidators when the part between vanity and seal fits neither layout.
    """
    body = extra[EXTRA_VANITY:len(extra) - EXTRA_SEAL] if len(extra) >= EXTRA_VANITY + EXTRA_SEAL else b""
    if body and len(body) % ADDRESS_LEN == 0:
        return parse_extra(extra, epoch_block=True, luban=False).validators
    for turn_bytes in (0, 1):
        count, rest = divmod(len(body) - 1 - turn_bytes, VALIDATOR_ENTRY_LEN)
        if body and rest == 0 and count == body[0]:
            return parse_extra(extra, epoch_block=True, bohr=turn_bytes == 1).validators
    raise InvalidEpochValidators(
        f"genesis extraData: want N x {ADDRESS_LEN}-byte addresses or a count byte and N x {VALIDATOR_ENTRY_LEN}-byte "
        f"(address, vote key) entries between vanity and seal, have {len(body)} bytes")
