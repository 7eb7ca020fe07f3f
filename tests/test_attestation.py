"""consensus/attestation.py on a synthetic validator set with deterministic keys: assembly, verification, forgeries,
the attestation in extraData, and the justified/finalized record."""
import pytest
import rlp
from eth_keys import keys
from eth_utils import keccak

from consensus import attestation, bls, votes
from consensus import header as rules
from consensus.attestation import Finality
from consensus.errors import (
    AttestationSourceMismatch,
    AttestationTargetMismatch,
    AttestationVoteMismatch,
    InvalidAggregateSignature,
    InvalidAttestation,
    InvalidAttestationRange,
    InvalidVoteAddress,
    NotEnoughVotes,
    TooManyVoteBits,
)
from consensus.header import ValidatorInfo, VoteAttestation
from consensus.votes import VoteData


def h(n: int) -> bytes:
    return keccak(b"block" + n.to_bytes(8, "big"))


class Validator:
    """A dev validator: secp256k1 key from its index, BLS vote key derived from that (votes.vote_key_for)."""

    def __init__(self, index: int):
        self.key = keys.PrivateKey(keccak(b"validator" + index.to_bytes(4, "big")))
        self.address = self.key.public_key.to_canonical_address()
        self.vote_secret = votes.vote_key_for(self.key.to_bytes())
        self.info = ValidatorInfo(self.address, bls.public_key(self.vote_secret))

    def vote(self, data: VoteData) -> votes.VoteEnvelope:
        return votes.sign_vote(self.vote_secret, data)


def make_set(n: int, first: int = 0) -> tuple[list[Validator], tuple[ValidatorInfo, ...]]:
    vals = sorted((Validator(i) for i in range(first, first + n)), key=lambda v: v.address)
    return vals, tuple(v.info for v in vals)


VALS, SET = make_set(4)
PARENT = (41, h(41))
JUSTIFIED = (40, h(40))
DATA = VoteData(JUSTIFIED[0], JUSTIFIED[1], PARENT[0], PARENT[1])


def verify(att: VoteAttestation, validators=SET, justified=JUSTIFIED, ancestors=(PARENT,)) -> None:
    attestation.verify(att, justified=justified, ancestors=list(ancestors), validators=validators)


@pytest.mark.parametrize("n, q", [(1, 1), (3, 2), (4, 3), (7, 5), (9, 6), (21, 14)])
def test_quorum(n, q):
    assert attestation.quorum(n) == q


@pytest.mark.parametrize("signers", [(0, 1, 2), (1, 2, 3), (0, 1, 2, 3)])
def test_quorum_of_votes_assembles_an_attestation_that_verifies(signers):
    att = attestation.assemble([VALS[i].vote(DATA) for i in signers], SET, DATA)
    assert att.vote_address_set == sum(1 << i for i in signers)
    assert attestation.vote_data(att) == DATA and att.extra == b""
    verify(att)
    assert attestation.selected_keys(att, SET) == [SET[i].vote_address for i in signers]


def test_21_validators():
    vals, vset = make_set(21)
    att = attestation.assemble([v.vote(DATA) for v in vals[:14]], vset, DATA)
    verify(att, validators=vset)
    with pytest.raises(NotEnoughVotes):
        attestation.assemble([v.vote(DATA) for v in vals[:13]], vset, DATA)


def test_attestation_travels_in_extra_data():
    att = attestation.assemble([v.vote(DATA) for v in VALS[:3]], SET, DATA)
    raw = rules.encode_attestation(att)
    assert rules.decode_attestation(raw) == att
    plain = rules.encode_extra(attestation=raw)
    assert attestation.from_extra(plain, epoch_block=False) == att
    epoch = rules.encode_extra(validators=SET, turn_length=1, attestation=raw)
    assert attestation.from_extra(epoch, epoch_block=True) == att
    assert rules.parse_extra(epoch, epoch_block=True).validators == SET
    assert attestation.from_extra(rules.encode_extra(), epoch_block=False) is None


def test_a_duplicate_vote_counts_once():
    with pytest.raises(NotEnoughVotes, match="have 2 votes, want 3"):
        attestation.assemble([VALS[0].vote(DATA), VALS[0].vote(DATA), VALS[1].vote(DATA)], SET, DATA)


# --- assembly refusals ---


def test_too_few_signers_refused():
    with pytest.raises(NotEnoughVotes, match="want 3 of 4"):
        attestation.assemble([v.vote(DATA) for v in VALS[:2]], SET, DATA)


def test_vote_for_other_data_refused():
    other = VoteData(DATA.source_number, DATA.source_hash, DATA.target_number, h(999))
    with pytest.raises(AttestationVoteMismatch):
        attestation.assemble([VALS[0].vote(DATA), VALS[1].vote(DATA), VALS[2].vote(other)], SET, DATA)


def test_vote_by_a_non_validator_refused():
    outsider = Validator(99)
    with pytest.raises(AttestationVoteMismatch, match="not the vote key"):
        attestation.assemble([VALS[0].vote(DATA), VALS[1].vote(DATA), outsider.vote(DATA)], SET, DATA)


# --- verification refusals (forged attestations, as another node would see them) ---


def forge(bits: int, signature: bytes, data: VoteData = DATA) -> VoteAttestation:
    return VoteAttestation(bits, signature, data.source_number, data.source_hash, data.target_number,
                           data.target_hash, b"")


def good() -> VoteAttestation:
    return attestation.assemble([v.vote(DATA) for v in VALS[:3]], SET, DATA)


def test_too_few_signers_in_a_header_refused():
    two = bls.aggregate(VALS[i].vote(DATA).signature for i in (0, 1))
    with pytest.raises(NotEnoughVotes, match="not enough validators voted"):
        verify(forge(0b0011, two))


def test_wrong_source_refused():
    # a quorum really signed it, but its source is not the justified block at the parent
    stale = VoteData(39, h(39), PARENT[0], PARENT[1])
    att = attestation.assemble([v.vote(stale) for v in VALS[:3]], SET, stale)
    with pytest.raises(AttestationSourceMismatch, match="source mismatch"):
        verify(att)


def test_wrong_target_refused():
    other = VoteData(JUSTIFIED[0], JUSTIFIED[1], PARENT[0], h(4141))
    att = attestation.assemble([v.vote(other) for v in VALS[:3]], SET, other)
    with pytest.raises(AttestationTargetMismatch, match="target mismatch"):
        verify(att)


def test_grandparent_target_only_from_fermi():
    grandparent = (40, h(40))
    data = VoteData(39, h(39), 40, h(40))
    att = attestation.assemble([v.vote(data) for v in VALS[:3]], SET, data)
    with pytest.raises(AttestationTargetMismatch):
        verify(att, justified=(39, h(39)))  # before Fermi: the parent only
    verify(att, justified=(39, h(39)), ancestors=(PARENT, grandparent, (39, h(39))))


def test_source_not_below_target_refused():
    data = VoteData(41, h(41), 41, h(41))
    att = forge(0b0111, bls.aggregate(VALS[i].vote(DATA).signature for i in range(3)), data)
    with pytest.raises(InvalidAttestationRange):
        verify(att, justified=(41, h(41)))


def test_bad_aggregated_signature_refused():
    att = good()
    corrupted = att.agg_signature[:-1] + bytes([att.agg_signature[-1] ^ 1])
    with pytest.raises(InvalidAggregateSignature, match="signature verify failed"):
        verify(forge(att.vote_address_set, corrupted))
    # one signer signed other data: the aggregate is a valid point, but not over this VoteData
    other = VoteData(DATA.source_number, DATA.source_hash, DATA.target_number, h(7))
    mixed = bls.aggregate([VALS[0].vote(DATA).signature, VALS[1].vote(DATA).signature, VALS[2].vote(other).signature])
    with pytest.raises(InvalidAggregateSignature):
        verify(forge(0b0111, mixed))
    # the right signatures under the wrong bits (signer 2 claimed as signer 3)
    with pytest.raises(InvalidAggregateSignature):
        verify(forge(0b1011, att.agg_signature))


def test_bits_beyond_the_set_refused_when_they_outnumber_it():
    att = attestation.assemble([v.vote(DATA) for v in VALS], SET, DATA)
    with pytest.raises(TooManyVoteBits, match="larger than validators number"):
        verify(forge(att.vote_address_set | 1 << 4, att.agg_signature))


def test_a_bit_beyond_the_set_is_otherwise_ignored_as_bsc_does():
    # BSC never reads bits >= N; they only count toward popcount <= N (finality.md section 5). Copied, so that we
    # accept every header BSC accepts: the signature still has to verify over the keys the bits < N select.
    att = good()
    verify(forge(att.vote_address_set | 1 << 10, att.agg_signature))


def test_bit_on_a_validator_without_a_key_refused():
    keyless = tuple(ValidatorInfo(v.address) if i == 3 else v for i, v in enumerate(SET))
    att = good()
    verify(att, validators=keyless)  # bits 0-2: the keyless validator did not vote
    all_four = attestation.assemble([v.vote(DATA) for v in VALS], SET, DATA)
    with pytest.raises(InvalidVoteAddress, match="converts failed"):
        verify(all_four, validators=keyless)


def test_keyless_validators_count_in_n():
    # 4 validators, one without a key: the quorum is still 3 of 4
    keyless = tuple(ValidatorInfo(v.address) if i == 3 else v for i, v in enumerate(SET))
    with pytest.raises(AttestationVoteMismatch):
        attestation.assemble([VALS[3].vote(DATA), VALS[0].vote(DATA), VALS[1].vote(DATA)], keyless, DATA)
    two = bls.aggregate(VALS[i].vote(DATA).signature for i in (0, 1))
    with pytest.raises(NotEnoughVotes):
        verify(forge(0b0011, two), validators=keyless)


def test_attestation_against_another_set_refused():
    _, other_set = make_set(4, first=10)  # other keys, other addresses
    with pytest.raises(InvalidAggregateSignature):
        verify(good(), validators=other_set)


def test_all_errors_are_invalid_attestation():
    for error in (InvalidAttestationRange, AttestationTargetMismatch, AttestationSourceMismatch, TooManyVoteBits,
                  InvalidVoteAddress, NotEnoughVotes, InvalidAggregateSignature, AttestationVoteMismatch):
        assert issubclass(error, InvalidAttestation)


def test_oversized_fields_do_not_decode():
    items = rlp.decode(rules.encode_attestation(good()))
    items[3] = b"\x00" * 257
    with pytest.raises(InvalidAttestation, match="extra <= 256"):
        rules.decode_attestation(rlp.encode(items))
    items[3], items[0] = b"", (1 << 64).to_bytes(9, "big")
    with pytest.raises(InvalidAttestation, match="uint64"):
        rules.decode_attestation(rlp.encode(items))


# --- justified and finalized ---


def att_for(source: int, target: int) -> VoteAttestation:
    return forge(0b111, b"\x00" * 96, VoteData(source, h(source), target, h(target)))


def test_update_record():
    genesis = h(0)
    assert attestation.justified_at(None, genesis) == (0, genesis)
    assert attestation.finalized_at(None, genesis) == (0, genesis)
    first = attestation.update(None, att_for(0, 5), 6, h(5))  # the first attestation is taken whole
    assert first == Finality((5, h(5)), (0, h(0)))
    assert attestation.update(first, None, 7, h(6)) == first  # no attestation: nothing moves
    nxt = attestation.update(first, att_for(5, 6), 7, h(6))  # source + 1 == target: finalizes the source
    assert nxt == Finality((6, h(6)), (5, h(5)))
    gap = attestation.update(nxt, att_for(6, 8), 9, h(8))  # a gap: only justified moves
    assert gap == Finality((8, h(8)), (5, h(5)))
    assert attestation.justified_at(gap, genesis) == (8, h(8))
    assert attestation.finalized_at(gap, genesis) == (5, h(5))


def test_update_before_fermi_needs_the_parent_as_target():
    record = Finality((5, h(5)), (4, h(4)))
    grandparent = att_for(5, 6)  # header 8 attests 6, its grandparent
    assert attestation.update(record, grandparent, 8, h(7)) == record
    assert attestation.update(record, grandparent, 8, h(7), fermi=True) == Finality((6, h(6)), (5, h(5)))
