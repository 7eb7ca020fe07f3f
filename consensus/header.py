"""Parlia header rules as pure functions: extraData layout, seal hash, signer, turn and difficulty, field checks.

Headers are py-evm header objects (or any rlp.Serializable with the same field names); the chain id, epoch length
and validator set come in as arguments. Exact rules: ../shared/reference/parlia.md sections 2 and 4, checked
against real BSC headers in tests/test_header_vectors.py.
"""
from __future__ import annotations

from dataclasses import dataclass
from typing import Sequence

import rlp
from eth.abc import BlockHeaderAPI
from eth.constants import EMPTY_UNCLE_HASH
from eth_keys import keys
from eth_keys.exceptions import BadSignature
from eth_utils import ValidationError, encode_hex, keccak
from rlp.sedes import Binary, List, big_endian_int

from consensus.errors import (
    CoinbaseMismatch,
    ExtraValidators,
    InvalidAttestation,
    InvalidDifficulty,
    InvalidEpochValidators,
    InvalidGasLimit,
    InvalidGasUsed,
    InvalidMixDigest,
    InvalidNonce,
    InvalidSignature,
    InvalidTurnLength,
    InvalidUncleHash,
    MissingSignature,
    MissingVanity,
    WrongDifficulty,
)

EXTRA_VANITY = 32
EXTRA_SEAL = 65
BLS_PUBKEY_LEN = 48
ADDRESS_LEN = 20
VALIDATOR_ENTRY_LEN = ADDRESS_LEN + BLS_PUBKEY_LEN  # Luban+: address then BLS vote key
DIFF_IN_TURN = 2
DIFF_NO_TURN = 1
MIN_GAS_LIMIT = 5000
MAX_GAS_LIMIT = 2**63 - 1
MAX_MILLISECONDS = 999  # Lorentz+: mixHash holds the millisecond part of the block time
MAX_ATTESTATION_EXTRA = 256
ZERO_NONCE = bytes(8)

# The geth header fields every era signs, in RLP order (py-evm attribute names).
_SEALED_FIELDS = (
    "parent_hash", "uncles_hash", "coinbase", "state_root", "transaction_root", "receipt_root", "bloom",
    "difficulty", "block_number", "gas_limit", "gas_used", "timestamp", "extra_data", "mix_hash", "nonce",
)
# Signed only from Bohr on (when parentBeaconRoot exists): BSC's EncodeSigHeader left London/Cancun fields out
# until then, so between London and Bohr the header carries them but the seal does not.
_BOHR_SEALED_FIELDS = (
    "base_fee_per_gas", "withdrawals_root", "blob_gas_used", "excess_blob_gas", "parent_beacon_block_root",
    "requests_hash",
)

_HASH = Binary.fixed_length(32)
# bsc core/types/vote.go: VoteAttestation{VoteAddressSet, AggSignature, Data{Source,Target}, Extra}
_ATTESTATION_SEDES = List([
    big_endian_int,
    Binary.fixed_length(96),
    List([big_endian_int, _HASH, big_endian_int, _HASH]),
    Binary(max_length=MAX_ATTESTATION_EXTRA),
])


@dataclass(frozen=True)
class ValidatorInfo:
    """One validator of an epoch block: its address and BLS vote key (zero before Luban)."""

    address: bytes
    vote_address: bytes = bytes(BLS_PUBKEY_LEN)

    def __post_init__(self) -> None:
        if len(self.address) != ADDRESS_LEN or len(self.vote_address) != BLS_PUBKEY_LEN:
            raise ValueError(
                f"want a {ADDRESS_LEN}-byte address and {BLS_PUBKEY_LEN}-byte BLS key, "
                f"have {len(self.address)} and {len(self.vote_address)} bytes"
            )


@dataclass(frozen=True)
class ParsedExtra:
    """extraData split into its parts; validators and turn_length only on epoch blocks."""

    vanity: bytes
    validators: tuple[ValidatorInfo, ...]
    turn_length: int | None
    attestation: bytes  # raw RLP of the vote attestation, b"" when absent
    seal: bytes

    @property
    def addresses(self) -> tuple[bytes, ...]:
        return tuple(v.address for v in self.validators)


@dataclass(frozen=True)
class VoteAttestation:
    """A fast-finality vote aggregate carried in extraData (Luban+); bit i of the set = i-th sorted validator."""

    vote_address_set: int
    agg_signature: bytes
    source_number: int
    source_hash: bytes
    target_number: int
    target_hash: bytes
    extra: bytes


# --- extraData ---


def encode_extra(
    validators: Sequence[ValidatorInfo | bytes] = (),
    turn_length: int | None = None,
    vanity: bytes = bytes(EXTRA_VANITY),
    attestation: bytes = b"",
    seal: bytes = bytes(EXTRA_SEAL),
    *,
    luban: bool = True,
) -> bytes:
    """extraData: vanity | epoch validator part (sorted by address) | attestation | seal.

    Validators given as bare addresses get a zero BLS key. With no validators (a non-epoch block) there is no
    validator part; turn_length None leaves out the Bohr turnLength byte; luban=False writes bare addresses.
    """
    if len(vanity) != EXTRA_VANITY or len(seal) != EXTRA_SEAL:
        raise ValueError(f"want {EXTRA_VANITY}-byte vanity and {EXTRA_SEAL}-byte seal, have {len(vanity)}, {len(seal)}")
    infos = sorted((v if isinstance(v, ValidatorInfo) else ValidatorInfo(v) for v in validators),
                   key=lambda v: v.address)
    return vanity + _encode_validators(infos, turn_length, luban) + attestation + seal


def _encode_validators(infos: list[ValidatorInfo], turn_length: int | None, luban: bool) -> bytes:
    if not infos:
        if turn_length is not None:
            raise ValueError("turn_length belongs to an epoch block: give the validators too")
        return b""
    if not luban:
        if turn_length is not None:
            raise ValueError("turn_length arrived with Bohr: a pre-Luban epoch block has none")
        return b"".join(v.address for v in infos)
    if len(infos) > 255:
        raise ValueError(f"want at most 255 validators (one count byte), have {len(infos)}")
    body = bytes([len(infos)]) + b"".join(v.address + v.vote_address for v in infos)
    return body if turn_length is None else body + bytes([turn_length])


def parse_extra(extra: bytes, *, epoch_block: bool, luban: bool = True, bohr: bool = True) -> ParsedExtra:
    """Split extraData by the era's layout; raise the rule's error when it does not fit."""
    _check_extra_length(extra)
    vanity, body, seal = extra[:EXTRA_VANITY], extra[EXTRA_VANITY:-EXTRA_SEAL], extra[-EXTRA_SEAL:]
    if not luban:
        return ParsedExtra(vanity, _parse_classic_validators(body, epoch_block), None, b"", seal)
    validators: tuple[ValidatorInfo, ...] = ()
    turn_length = None
    if epoch_block:
        validators, turn_length, body = _split_validators(body, bohr)
    if body:
        _check_attestation_framing(body, epoch_block)
        decode_attestation(body)
    return ParsedExtra(vanity, validators, turn_length, body, seal)


def _check_extra_length(extra: bytes) -> None:
    if len(extra) < EXTRA_VANITY:
        raise MissingVanity(f"want a {EXTRA_VANITY}-byte vanity at the start of extraData, have {len(extra)} bytes")
    if len(extra) < EXTRA_VANITY + EXTRA_SEAL:
        raise MissingSignature(
            f"want {EXTRA_VANITY}-byte vanity + {EXTRA_SEAL}-byte seal in extraData, have {len(extra)} bytes"
        )


def _parse_classic_validators(body: bytes, epoch_block: bool) -> tuple[ValidatorInfo, ...]:
    # Before Luban the epoch block lists bare addresses and nothing else sits between vanity and seal.
    if not epoch_block:
        if body:
            raise ExtraValidators(f"want no bytes between vanity and seal off an epoch block, have {len(body)}")
        return ()
    if not body or len(body) % ADDRESS_LEN:
        raise InvalidEpochValidators(
            f"want a non-empty multiple of {ADDRESS_LEN} validator bytes, have {len(body)}"
        )
    return tuple(ValidatorInfo(body[i:i + ADDRESS_LEN]) for i in range(0, len(body), ADDRESS_LEN))


def _split_validators(body: bytes, bohr: bool) -> tuple[tuple[ValidatorInfo, ...], int | None, bytes]:
    """Luban+ epoch validator part: count, count x (address, BLS key), Bohr turnLength; returns the rest too."""
    count = body[0] if body else 0
    if count == 0:
        raise InvalidEpochValidators("want at least one validator on an epoch block, have a count of 0")
    end = 1 + count * VALIDATOR_ENTRY_LEN
    needed = end + (1 if bohr else 0)
    if len(body) < needed:
        raise InvalidEpochValidators(
            f"want {needed} bytes after the vanity for {count} validators, have {len(body)}"
        )
    validators = tuple(
        ValidatorInfo(body[i:i + ADDRESS_LEN], body[i + ADDRESS_LEN:i + VALIDATOR_ENTRY_LEN])
        for i in range(1, end, VALIDATOR_ENTRY_LEN)
    )
    turn_length = body[end] if bohr else None
    if turn_length == 0:
        raise InvalidTurnLength("want a turnLength of at least 1, have 0")
    return validators, turn_length, body[needed:]


def _check_attestation_framing(raw: bytes, epoch_block: bool) -> None:
    # What is left between the validator part and the seal may only be one RLP list (the attestation).
    # Anything else means validator bytes where they do not belong, or a count that does not match the list.
    try:
        is_list = isinstance(rlp.decode(raw), list)
    except rlp.DecodingError:
        is_list = False
    if is_list:
        return
    if epoch_block:
        raise InvalidEpochValidators(
            f"want the validator list to end where an RLP attestation or the seal starts, "
            f"have {len(raw)} trailing bytes"
        )
    raise ExtraValidators(
        f"want only an RLP vote attestation between vanity and seal off an epoch block, have {len(raw)} other bytes"
    )


def decode_attestation(raw: bytes) -> VoteAttestation:
    """Decode the RLP vote attestation of extraData (ParsedExtra.attestation); raise InvalidAttestation."""
    try:
        vote_set, signature, (source_number, source_hash, target_number, target_hash), extra = rlp.decode(
            raw, sedes=_ATTESTATION_SEDES
        )
    except rlp.RLPException as exc:
        raise InvalidAttestation(
            f"want RLP [voteAddressSet, 96-byte aggSignature, [source, hash, target, hash], "
            f"extra <= {MAX_ATTESTATION_EXTRA} bytes], have {encode_hex(raw[:16])}...: {exc}"
        ) from exc
    if vote_set >= 2**64:  # BSC's ValidatorsBitSet is a uint64: a longer integer does not decode there
        raise InvalidAttestation(f"want a uint64 voteAddressSet, have {vote_set:#x}")
    return VoteAttestation(vote_set, signature, source_number, source_hash, target_number, target_hash, extra)


def encode_attestation(attestation: VoteAttestation) -> bytes:
    """The RLP of a vote attestation, as it sits in extraData before the seal (decode_attestation's inverse)."""
    a = attestation
    return rlp.encode(
        [a.vote_address_set, a.agg_signature, [a.source_number, a.source_hash, a.target_number, a.target_hash],
         a.extra],
        sedes=_ATTESTATION_SEDES,
    )


# --- seal ---


def seal_hash(header: BlockHeaderAPI, chain_id: int) -> bytes:
    """keccak256 of the RLP seal list: chain id, the header without the 65-byte seal (16, 21 or 22 items)."""
    if len(header.extra_data) < EXTRA_SEAL:
        raise MissingSignature(f"want at least {EXTRA_SEAL} bytes of extraData, have {len(header.extra_data)}")
    # Serialize through the header's own sedes so the seal signs exactly the bytes the block hash covers.
    serialized = dict(zip(header.as_dict(), type(header).serialize(header)))
    serialized["extra_data"] = header.extra_data[:-EXTRA_SEAL]
    names = _SEALED_FIELDS
    if "parent_beacon_block_root" in serialized:
        names += tuple(name for name in _BOHR_SEALED_FIELDS if name in serialized)
    return keccak(rlp.encode([big_endian_int.serialize(chain_id)] + [serialized[name] for name in names]))


def sign_header(header: BlockHeaderAPI, private_key: keys.PrivateKey, chain_id: int) -> BlockHeaderAPI:
    """A copy of the header whose last 65 extraData bytes are the seal r||s||v (v in {0, 1})."""
    signature = private_key.sign_msg_hash(seal_hash(header, chain_id))
    return header.copy(extra_data=header.extra_data[:-EXTRA_SEAL] + signature.to_bytes())


def recover_signer(header: BlockHeaderAPI, chain_id: int) -> bytes:
    """The 20-byte address whose key made the seal."""
    message = seal_hash(header, chain_id)  # raises MissingSignature when there is no room for a seal
    seal = header.extra_data[-EXTRA_SEAL:]
    try:
        public_key = keys.Signature(signature_bytes=seal).recover_public_key_from_msg_hash(message)
    except (BadSignature, ValidationError) as exc:
        raise InvalidSignature(
            f"want a recoverable r||s||v seal (v in {{0, 1}}), have {encode_hex(seal)}: {exc}"
        ) from exc
    return public_key.to_canonical_address()


def check_signer(header: BlockHeaderAPI, chain_id: int) -> bytes:
    """Recover the signer and require it to be the coinbase; returns the signer."""
    signer = recover_signer(header, chain_id)
    if signer != header.coinbase:
        raise CoinbaseMismatch(f"want coinbase = signer {encode_hex(signer)}, have {encode_hex(header.coinbase)}")
    return signer


# --- turn and difficulty ---


def in_turn_validator(validators: Sequence[bytes], number: int, turn_length: int = 1) -> bytes:
    """The validator whose turn block `number` is: each gets turn_length blocks in a row, in address order."""
    if not validators or turn_length < 1:
        raise ValueError(f"want validators and turn_length >= 1, have {len(validators)} and {turn_length}")
    ordered = sorted(validators)
    return ordered[(number // turn_length) % len(ordered)]


def expected_difficulty(validators: Sequence[bytes], number: int, signer: bytes, turn_length: int = 1) -> int:
    """2 when signer is in turn for block `number`, else 1."""
    in_turn = in_turn_validator(validators, number, turn_length) == signer
    return DIFF_IN_TURN if in_turn else DIFF_NO_TURN


def check_difficulty(
    header: BlockHeaderAPI, validators: Sequence[bytes], signer: bytes, turn_length: int = 1
) -> None:
    want = expected_difficulty(validators, header.block_number, signer, turn_length)
    if header.difficulty != want:
        turn = "in turn" if want == DIFF_IN_TURN else "out of turn"
        raise WrongDifficulty(
            f"block {header.block_number}: signer {encode_hex(signer)} is {turn}, want difficulty {want}, "
            f"have {header.difficulty}"
        )


# --- field checks ---


def check_standalone(header: BlockHeaderAPI, *, epoch_length: int, luban: bool = True, bohr: bool = True) -> None:
    """The checks that need no parent and no validator set, in BSC's verifyHeader order.

    Not meant for genesis: BSC genesis extraData lists bare addresses whatever the forks (read it with
    parse_extra(..., luban=False)), and its difficulty is free.
    """
    number = header.block_number
    parsed = parse_extra(header.extra_data, epoch_block=number % epoch_length == 0, luban=luban, bohr=bohr)
    _check_sorted(parsed.addresses)
    mix = header.mix_hash
    if len(mix) != 32 or int.from_bytes(mix, "big") > MAX_MILLISECONDS:
        raise InvalidMixDigest(f"want a 32-byte mixHash of 0..{MAX_MILLISECONDS} (ms), have {encode_hex(mix)}")
    if header.uncles_hash != EMPTY_UNCLE_HASH:
        raise InvalidUncleHash(
            f"want the empty-list hash {encode_hex(EMPTY_UNCLE_HASH)}, have {encode_hex(header.uncles_hash)}"
        )
    if number > 0 and header.difficulty not in (DIFF_NO_TURN, DIFF_IN_TURN):
        raise InvalidDifficulty(
            f"want difficulty {DIFF_NO_TURN} or {DIFF_IN_TURN}, have {header.difficulty}"
        )
    # BSC only zeroes the nonce in Prepare; requiring it costs nothing (every real BSC header has 0) and leaves
    # no free bytes in the header.
    if number > 0 and header.nonce != ZERO_NONCE:
        raise InvalidNonce(f"want a zero nonce {encode_hex(ZERO_NONCE)}, have {encode_hex(header.nonce)}")
    if not MIN_GAS_LIMIT <= header.gas_limit <= MAX_GAS_LIMIT:
        raise InvalidGasLimit(f"want gas limit in [{MIN_GAS_LIMIT}, {MAX_GAS_LIMIT}], have {header.gas_limit}")
    if header.gas_used > header.gas_limit:
        raise InvalidGasUsed(f"want gas used <= gas limit {header.gas_limit}, have {header.gas_used}")


def _check_sorted(addresses: Sequence[bytes]) -> None:
    # Every node derives turns from the list in address order, so the epoch block must already be in that order.
    for previous, current in zip(addresses, addresses[1:]):
        if previous >= current:
            raise InvalidEpochValidators(
                f"want validators strictly ascending by address, have {encode_hex(previous)} "
                f"before {encode_hex(current)}"
            )


def check_gas_limit(header: BlockHeaderAPI, parent: BlockHeaderAPI, divisor: int = 1024) -> None:
    """|gasLimit - parent.gasLimit| < parent.gasLimit / divisor (1024 from Lorentz, 256 before)."""
    bound = parent.gas_limit // divisor
    change = abs(header.gas_limit - parent.gas_limit)
    if change >= bound:
        raise InvalidGasLimit(
            f"want gas limit within {bound - 1} of parent's {parent.gas_limit} (1/{divisor}), "
            f"have {header.gas_limit} (change {change})"
        )
