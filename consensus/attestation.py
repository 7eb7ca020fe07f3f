"""Vote attestations: assembling one from a quorum of votes, verifying one against a validator set, and what it does
to the justified and finalized blocks.

Exact rules: ../shared/reference/finality.md sections 4, 5, 6 and 9 (bsc consensus/parlia/parlia.go
verifyVoteAttestation and assembleVoteAttestation, snapshot.go updateAttestation). Bit i of voteAddressSet stands
for the i-th validator, in address order, of the snapshot at target - 1; N counts validators without a BLS key too.
Everything here is pure: the caller gives the validator set, the justified block at the parent and the allowed
targets, as the engine's snapshots know them. Decoding is strict (header.decode_attestation): where BSC's
rlp.Decode ignores bytes after the attestation's RLP, we refuse the header; only crafted headers differ.
"""
from __future__ import annotations

from collections.abc import Callable, Iterable, Sequence
from dataclasses import dataclass
from functools import lru_cache

from eth_utils import encode_hex

from consensus import bls
from consensus import header as rules
from consensus.errors import (
    AttestationSourceMismatch,
    AttestationTargetMismatch,
    AttestationVoteMismatch,
    InvalidAggregateSignature,
    InvalidAttestationRange,
    InvalidVoteAddress,
    NotEnoughVotes,
    TooManyVoteBits,
)
from consensus.header import ValidatorInfo, VoteAttestation
from consensus.votes import VoteData, VoteEnvelope

MAX_VALIDATORS = 64  # voteAddressSet is a uint64
ANCESTOR_DEPTH_BEFORE_FERMI = 1  # target = the parent
ANCESTOR_DEPTH_FERMI = 3  # BEP-590: the parent, grandparent or great-grandparent

Block = tuple[int, bytes]  # (number, hash)
ValidatorsFor = Callable[[int, bytes], Sequence[ValidatorInfo]]


def quorum(validator_count: int) -> int:
    """ceil(2N/3): the votes an attestation needs (N=4 -> 3, 7 -> 5, 9 -> 6, 21 -> 14)."""
    return -(-2 * validator_count // 3)


def vote_data(attestation: VoteAttestation) -> VoteData:
    """The attestation's source and target as the VoteData its signers signed."""
    a = attestation
    return VoteData(a.source_number, a.source_hash, a.target_number, a.target_hash)


@lru_cache(maxsize=256)  # a header's attestation is read by verify_header, snapshots and rewards, on every node
def from_extra(extra_data: bytes, *, epoch_block: bool, luban: bool = True, bohr: bool = True) -> VoteAttestation | None:
    """The attestation a header's extraData carries, or None (before Luban, or none between validators and seal)."""
    parsed = rules.parse_extra(extra_data, epoch_block=epoch_block, luban=luban, bohr=bohr)
    return rules.decode_attestation(parsed.attestation) if parsed.attestation else None


# --- assembly (the sealer) ---


def assemble(votes: Iterable[VoteEnvelope], validators: Sequence[ValidatorInfo], data: VoteData) -> VoteAttestation:
    """An attestation of `data` from the votes at hand, against the set of snapshot(target - 1).

    Every vote must be for exactly `data` and by a validator's vote key (AttestationVoteMismatch); a key that voted
    twice counts once. Raises NotEnoughVotes below quorum. Signatures are taken as verified (the vote pool checked
    each one); a bad one makes the result fail `verify`, as it would fail on every other node.
    """
    index = _key_index(validators)
    chosen: dict[int, bytes] = {}
    for vote in votes:
        if vote.data != data:
            raise AttestationVoteMismatch(f"vote for {vote.data} ({encode_hex(vote.data.target_hash)}) in an "
                                          f"attestation of {data} ({encode_hex(data.target_hash)})")
        position = index.get(vote.vote_address)
        if position is None:
            raise AttestationVoteMismatch(f"vote address {encode_hex(vote.vote_address)} is not the vote key of "
                                          f"any of the {len(validators)} validators")
        chosen.setdefault(position, vote.signature)
    need = quorum(len(validators))
    if len(chosen) < need:
        raise NotEnoughVotes(f"attestation of {data}: have {len(chosen)} votes, want {need} of {len(validators)}")
    bits = 0
    for position in chosen:
        bits |= 1 << position
    signature = bls.aggregate(chosen[p] for p in sorted(chosen))
    return VoteAttestation(bits, signature, data.source_number, data.source_hash, data.target_number,
                           data.target_hash, b"")


def _key_index(validators: Sequence[ValidatorInfo]) -> dict[bytes, int]:
    _check_set(validators)
    zero = bytes(rules.BLS_PUBKEY_LEN)
    return {v.vote_address: i for i, v in enumerate(validators) if v.vote_address != zero}


def _check_set(validators: Sequence[ValidatorInfo]) -> None:
    addresses = [v.address for v in validators]
    if addresses != sorted(set(addresses)) or not 0 < len(addresses) <= MAX_VALIDATORS:
        raise ValueError(f"want 1..{MAX_VALIDATORS} distinct validators in address order, have {len(addresses)}")


# --- verification (every node, before execution) ---


def check_target(attestation: VoteAttestation, ancestors: Sequence[Block]) -> Block:
    """The ancestor the attestation targets; `ancestors` are the allowed targets, nearest first (the parent;
    from Fermi also the grandparent and great-grandparent). Raises AttestationTargetMismatch."""
    target = (attestation.target_number, attestation.target_hash)
    if target not in ancestors:
        want = "; ".join(f"block {n}, hash {encode_hex(h)}" for n, h in ancestors)
        raise AttestationTargetMismatch(
            f"invalid attestation, target mismatch, expected {want}; real block: {target[0]}, "
            f"hash: {encode_hex(target[1])}")
    return target


def verify(attestation: VoteAttestation, *, justified: Block, ancestors: Sequence[Block],
           validators: Sequence[ValidatorInfo] | ValidatorsFor) -> None:
    """Every rule BSC's verifyVoteAttestation checks, in its order; raises the broken rule's InvalidAttestation.

    `justified` is the highest justified block at the parent ((0, genesis hash) before any attestation);
    `validators` is the set of snapshot(target - 1) in address order, or a function (number, hash) -> that set
    for the target the attestation names.
    """
    a = attestation
    if a.source_number >= a.target_number:
        raise InvalidAttestationRange(
            f"invalid attestation, source {a.source_number} is not below target {a.target_number}")
    target = check_target(a, ancestors)
    if (a.source_number, a.source_hash) != justified:
        raise AttestationSourceMismatch(
            f"invalid attestation, source mismatch, expected block: {justified[0]}, hash: "
            f"{encode_hex(justified[1])}; real block: {a.source_number}, hash: {encode_hex(a.source_hash)}")
    voters = validators(*target) if callable(validators) else validators
    verify_votes(a, voters)


def verify_votes(attestation: VoteAttestation, validators: Sequence[ValidatorInfo]) -> None:
    """The bitset, quorum and aggregated signature against the set of snapshot(target - 1), in address order."""
    keys = selected_keys(attestation, validators)
    need = quorum(len(validators))
    if len(keys) < need:
        raise NotEnoughVotes(
            f"invalid attestation, not enough validators voted: {len(keys)} of {len(validators)}, want {need}")
    if not bls.fast_aggregate_verify(keys, vote_data(attestation).hash(), attestation.agg_signature):
        raise InvalidAggregateSignature(
            f"invalid attestation, signature verify failed for {len(keys)} keys over vote "
            f"{attestation.source_number}->{attestation.target_number} ({encode_hex(attestation.target_hash)})")


def selected_keys(attestation: VoteAttestation, validators: Sequence[ValidatorInfo]) -> list[bytes]:
    """The vote keys of the set bits, in address order. Bits >= N select nobody but count toward the
    popcount limit (BSC); a set bit on a key that does not decode is refused."""
    _check_set(validators)
    bits = attestation.vote_address_set
    if bits.bit_count() > len(validators):
        raise TooManyVoteBits(
            f"invalid attestation, vote number larger than validators number: {bits.bit_count()} bits set, "
            f"{len(validators)} validators")
    keys = []
    for i, v in enumerate(validators):
        if bits >> i & 1:
            if not bls.key_decodes(v.vote_address):
                raise InvalidVoteAddress(
                    f"BLS public key converts failed: bit {i} selects validator {encode_hex(v.address)} whose "
                    f"vote address {encode_hex(v.vote_address)} is not a BLS key")
            keys.append(v.vote_address)
    return keys


# --- justified and finalized (the snapshot's Attestation field) ---


@dataclass(frozen=True)
class Finality:
    """The snapshot's record: justified = the highest attested target, finalized = the source of the last
    attestation whose target was its source's child."""

    justified: Block
    finalized: Block


def justified_at(finality: Finality | None, genesis_hash: bytes) -> Block:
    """The source every vote and attestation on top of this snapshot must carry ((0, genesis) before any)."""
    return (0, genesis_hash) if finality is None else finality.justified


def finalized_at(finality: Finality | None, genesis_hash: bytes) -> Block:
    """The finalized block (genesis before any attestation; the BEP-648 early step is the vote pool's)."""
    return (0, genesis_hash) if finality is None else finality.finalized


def update(finality: Finality | None, attestation: VoteAttestation | None, header_number: int, parent_hash: bytes,
           *, fermi: bool = False) -> Finality | None:
    """The record after a header carrying `attestation` (BSC's updateAttestation, run in Snapshot.apply).

    Before Fermi only an attestation of the parent moves anything. source + 1 == target (or the first attestation)
    justifies the target and finalizes the source; otherwise only the justified block moves.
    """
    if attestation is None:
        return finality
    a = attestation
    if not fermi and (a.target_hash != parent_hash or a.target_number + 1 != header_number):
        return finality
    target = (a.target_number, a.target_hash)
    if finality is not None and a.source_number + 1 != a.target_number:
        return Finality(target, finality.finalized)
    return Finality(target, (a.source_number, a.source_hash))
