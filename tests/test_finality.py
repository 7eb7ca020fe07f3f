"""Fast finality through the engine: validators with vote keys voting on each head through a real VotePool, sealers
attesting a quorum in their headers, an independent engine verifying every header and following justified and
finalized in its snapshots; forged attestations refused by verify_header; the genesis layout with vote keys."""
import pytest
from eth.vm.forks.prague.blocks import PragueBlockHeader
from eth_keys import keys
from eth_utils import keccak

from consensus import attestation, bls, votes
from consensus import header as rules
from consensus.engine import ParliaParams, PosaEngine, header_ms
from consensus.errors import (
    AttestationSourceMismatch,
    AttestationTargetMismatch,
    AttestationUnverifiable,
    InvalidAggregateSignature,
    InvalidVoteAddress,
    NotEnoughVotes,
    TooManyVoteBits,
    UnknownVoteTarget,
    VoterNotValidator,
    VoteSourceMismatch,
)
from consensus.genesis import genesis_extra, genesis_validators
from consensus.header import ValidatorInfo, VoteAttestation, encode_extra, sign_header
from consensus.snapshot import Snapshot
from consensus.votepool import VotePool
from consensus.votes import VoteData, VoteJournal

CHAIN_ID = 714
GENESIS_TIME = 1_700_000_000
EPOCH = 8


class Validator:
    """A validator's two keys: secp256k1 to seal, BLS (derived as dev validators' are) to vote."""

    def __init__(self, index: int, with_vote_key: bool = True):
        self.key = keys.PrivateKey(keccak(b"finality validator" + index.to_bytes(4, "big")))
        self.address = self.key.public_key.to_canonical_address()
        self.vote_secret = votes.vote_key_for(self.key.to_bytes())
        self.vote_address = bls.public_key(self.vote_secret) if with_vote_key else bytes(48)
        self.journal = VoteJournal()

    def vote(self, data: VoteData) -> votes.VoteEnvelope:
        self.journal.record(data)  # BSC's rules 1 and 2 before every signature
        return votes.sign_vote(self.vote_secret, data)


class FinalityNet:
    """Validators on one chain: a producing engine fed by a vote pool, and an independent verifying engine."""

    def __init__(self, n: int = 4, without_keys: int = 0, epoch: int = EPOCH):
        self.validators = sorted((Validator(i, i >= without_keys) for i in range(n)), key=lambda v: v.address)
        self.by_address = {v.address: v for v in self.validators}
        extra = genesis_extra([(v.address, v.vote_address) for v in self.validators])
        self.genesis = PragueBlockHeader(difficulty=1, block_number=0, gas_limit=40_000_000, timestamp=GENESIS_TIME,
                                         extra_data=extra, mix_hash=bytes(32), nonce=bytes(8))
        self.headers = {self.genesis.hash: self.genesis}
        self.head = self.genesis
        params = ParliaParams(CHAIN_ID, 1, epoch, [v.address for v in self.validators])
        self.pool = VotePool(lambda h: h in self.headers, lambda vote: self.producer.admit_vote(vote))
        self.producer = PosaEngine(params, self.headers.get, {}, votes_for=self.pool.fetch)
        self.verifier = PosaEngine(params, self.headers.get, {})

    def seal_next(self, voters=None) -> PragueBlockHeader:
        """The earliest allowed sealer makes the next block; the verifier checks it; `voters` then vote on it."""
        parent = self.head
        times = {v.address: self.producer.next_block_ms(parent, v.address) for v in self.validators}
        winner = min((a for a in times if times[a] is not None), key=times.get)
        fields = self.producer.prepare(parent, winner, times[winner])
        header = self.make(parent, fields.coinbase, fields.difficulty, fields.timestamp, fields.mix_hash,
                           fields.extra_data)
        self.verifier.verify_header(header, parent, now_ms=header_ms(header))
        self.headers[header.hash] = header
        self.head = header
        self.pool.on_new_head(header.block_number)
        for v in self.validators if voters is None else voters:
            data = self.verifier.vote_data(header)
            keyed = v.vote_address != bytes(48)
            if data is not None and keyed and v.vote_address in {x.vote_address for x in self.verifier.voters(header)}:
                self.pool.put(v.vote(data), header.block_number)
        return header

    def make(self, parent, coinbase, difficulty, timestamp, mix_hash, extra) -> PragueBlockHeader:
        header = PragueBlockHeader(parent_hash=parent.hash, block_number=parent.block_number + 1, coinbase=coinbase,
                                   difficulty=difficulty, timestamp=timestamp, mix_hash=mix_hash, extra_data=extra,
                                   gas_limit=parent.gas_limit, gas_used=0, nonce=bytes(8))
        return sign_header(header, self.by_address[coinbase].key, CHAIN_ID)

    def run(self, count: int, voters=None) -> list[PragueBlockHeader]:
        return [self.seal_next(voters) for _ in range(count)]

    def at(self, number: int) -> PragueBlockHeader:
        cursor = self.head
        while cursor.block_number > number:
            cursor = self.headers[cursor.parent_hash]
        return cursor

    def block(self, number: int) -> tuple[int, bytes]:
        return number, self.at(number).hash


# --- four validators voting on every block ---


@pytest.fixture(scope="module")
def voting():
    net = FinalityNet()
    net.run(20)  # across two epoch blocks (8 and 16) and their set switches
    return net


def test_four_voting_validators_justify_the_parent_and_finalize_the_grandparent_of_every_head(voting):
    net = voting
    head = net.head.block_number
    assert net.verifier.justified(net.head) == net.block(head - 1)
    assert net.verifier.finalized(net.head) == net.block(head - 2)
    # and at every block since the first attestation (block 3 attests block 2, from (0, genesis))
    for number in range(4, head + 1):
        header = net.at(number)
        assert net.verifier.justified(header) == net.block(number - 1), number
        assert net.verifier.finalized(header) == net.block(number - 2), number
    snap = net.verifier.snapshot(net.head)
    assert snap.finality == attestation.Finality(net.block(head - 1), net.block(head - 2))


def test_blocks_before_the_third_carry_no_attestation_and_finality_starts_at_genesis(voting):
    net = voting
    for number in (1, 2):
        header = net.at(number)
        assert net.verifier.finality.attestation_of(header) is None
        assert net.verifier.justified(header) == (0, net.genesis.hash) == net.verifier.finalized(header)
    third = net.verifier.finality.attestation_of(net.at(3))
    assert (third.source_number, third.source_hash) == (0, net.genesis.hash)
    assert (third.target_number, third.target_hash) == net.block(2)
    assert net.verifier.justified(net.at(3)) == net.block(2)
    assert net.verifier.finalized(net.at(3)) == (0, net.genesis.hash)


def test_every_attestation_names_the_parent_signed_by_at_least_a_quorum(voting):
    net = voting
    for number in range(3, net.head.block_number + 1):
        header = net.at(number)
        found = net.verifier.finality.attestation_of(header)
        assert (found.target_number, found.target_hash) == net.block(number - 1)
        assert found.vote_address_set.bit_count() >= attestation.quorum(4)


def test_epoch_blocks_carry_the_vote_keys_and_an_attestation(voting):
    net = voting
    for number in (8, 16):
        parsed = rules.parse_extra(net.at(number).extra_data, epoch_block=True)
        assert parsed.validators == tuple(ValidatorInfo(v.address, v.vote_address) for v in net.validators)
        assert parsed.attestation


def test_finality_survives_a_snapshot_checkpoint(voting):
    snap = voting.verifier.snapshot(voting.head)
    assert Snapshot.decode(snap.encode()) == snap and snap.finality is not None


def test_a_fresh_engine_rebuilds_justified_and_finalized_from_the_headers(voting):
    net = voting
    fresh = PosaEngine(ParliaParams(CHAIN_ID, 1, EPOCH, [v.address for v in net.validators]), net.headers.get, {})
    assert fresh.justified(net.head) == net.block(net.head.block_number - 1)
    assert fresh.finalized(net.head) == net.block(net.head.block_number - 2)


# --- without a quorum ---


def test_two_voters_of_four_are_no_quorum_blocks_go_on_unattested_and_finality_stays():
    net = FinalityNet()
    net.run(6)
    justified, finalized = net.verifier.justified(net.head), net.verifier.finalized(net.head)
    assert justified == net.block(5) and finalized == net.block(4)
    blocks = net.run(5, voters=net.validators[:2])
    assert all(net.verifier.finality.attestation_of(h) is None for h in blocks[1:])
    assert net.verifier.justified(net.head) == net.block(6)  # block 7 still attested 5->6 (votes cast before)
    net.run(3)  # all four vote again: the next blocks attest, justified and finalized move on
    head = net.head.block_number
    assert net.verifier.justified(net.head) == net.block(head - 1)
    assert net.verifier.finalized(net.head) == net.block(head - 2)


def test_validators_without_vote_keys_count_in_n_three_keyed_of_four_still_reach_quorum():
    net = FinalityNet(4, without_keys=1)
    assert sum(v.vote_address == bytes(48) for v in net.validators) == 1
    net.run(6)
    assert net.verifier.finalized(net.head) == net.block(4)


def test_two_keyed_validators_of_four_never_attest():
    net = FinalityNet(4, without_keys=2)
    net.run(6)
    assert net.verifier.justified(net.head) == (0, net.genesis.hash)


def test_no_vote_source_means_no_attestation():
    net = FinalityNet()
    net.producer.votes_for = None
    net.run(5)
    assert net.verifier.justified(net.head) == (0, net.genesis.hash)


# --- forged attestations (verify_header before execution) ---


@pytest.fixture(scope="module")
def base():
    net = FinalityNet()
    net.run(6)
    return net


def forged_child(net, make_attestation) -> PragueBlockHeader:
    """A child of the head sealed in time by the right validator, carrying the attestation `make_attestation`
    builds from (justified source, parent target) VoteData."""
    parent = net.head
    winner = min(net.validators, key=lambda v: net.producer.next_block_ms(parent, v.address) or 10**18)
    fields = net.verifier.prepare(parent, winner.address, net.verifier.next_block_ms(parent, winner.address))
    justified = net.verifier.justified(parent)
    data = VoteData(justified[0], justified[1], parent.block_number, parent.hash)
    raw = rules.encode_attestation(make_attestation(net, data))
    return net.make(parent, fields.coinbase, fields.difficulty, fields.timestamp, fields.mix_hash,
                    encode_extra(attestation=raw))


def signed(net, data, signers) -> VoteAttestation:
    bits = sum(1 << i for i in signers)
    signature = bls.aggregate(votes.sign_vote(net.validators[i].vote_secret, data).signature for i in signers)
    return VoteAttestation(bits, signature, data.source_number, data.source_hash, data.target_number,
                           data.target_hash, b"")


def _other(data):
    return VoteData(data.source_number, data.source_hash, data.target_number, keccak(b"another block"))


def _with_signature(att: VoteAttestation, other: VoteAttestation) -> VoteAttestation:
    return VoteAttestation(att.vote_address_set, other.agg_signature, att.source_number, att.source_hash,
                           att.target_number, att.target_hash, att.extra)


def _wrong_source(net, data):
    older = net.at(data.source_number - 1)
    return signed(net, VoteData(older.block_number, older.hash, data.target_number, data.target_hash), (0, 1, 2, 3))


def _wrong_target(net, data):
    return signed(net, _other(data), (0, 1, 2, 3))


def _bits_swapped(net, data):
    att = signed(net, data, (0, 1, 2))
    return VoteAttestation(0b1011, att.agg_signature, *vars(attestation.vote_data(att)).values(), b"")


@pytest.mark.parametrize("make, error", [
    (lambda net, d: _with_signature(signed(net, d, (0, 1, 2)), signed(net, _other(d), (0, 1, 2))),
     InvalidAggregateSignature),
    (_bits_swapped, InvalidAggregateSignature),  # signed by 0,1,2 but claims 0,1,3
    (lambda net, d: signed(net, d, (0, 1)), NotEnoughVotes),
    (lambda net, d: signed(net, d, (3,)), NotEnoughVotes),
    (_wrong_source, AttestationSourceMismatch),
    (_wrong_target, AttestationTargetMismatch),
    (lambda net, d: VoteAttestation(0b11111, signed(net, d, (0, 1, 2, 3)).agg_signature,
                                    *vars(d).values(), b""), TooManyVoteBits),
], ids=["bad signature", "wrong signer bits", "two of four", "one of four", "wrong source", "wrong target",
        "five bits for four"])
def test_forged_attestation_makes_verify_header_refuse_the_block(base, make, error):
    header = forged_child(base, make)
    with pytest.raises(error):
        base.verifier.verify_header(header, base.head, now_ms=header_ms(header))


def test_the_same_child_with_an_honest_attestation_verifies(base):
    header = forged_child(base, lambda net, d: signed(net, d, (0, 1, 2)))
    base.verifier.verify_header(header, base.head, now_ms=header_ms(header))


def test_a_set_bit_on_a_validator_without_vote_key_is_refused():
    net = FinalityNet(4, without_keys=1)
    net.run(4, voters=[])
    keyless = next(i for i, v in enumerate(net.validators) if v.vote_address == bytes(48))
    others = [i for i in range(4) if i != keyless]
    header = forged_child(net, lambda n, d: VoteAttestation(
        signed(n, d, others[:2]).vote_address_set | 1 << keyless, signed(n, d, others[:2]).agg_signature,
        *vars(d).values(), b""))
    with pytest.raises(InvalidVoteAddress):
        net.verifier.verify_header(header, net.head, now_ms=header_ms(header))


def test_an_engine_without_headers_refuses_any_attested_header(base):
    header = forged_child(base, lambda net, d: signed(net, d, (0, 1, 2)))
    static = PosaEngine(ParliaParams(CHAIN_ID, 1, EPOCH, [v.address for v in base.validators]))
    with pytest.raises(AttestationUnverifiable):
        static.verify_header(header, base.head, now_ms=header_ms(header))


# --- the pool's admission rule (VerifyVote) ---


def test_admit_vote_checks_target_source_and_voter(base):
    net = base
    data = net.verifier.vote_data(net.head)
    outsider = Validator(99)
    net.verifier.admit_vote(votes.sign_vote(net.validators[0].vote_secret, data))
    with pytest.raises(VoterNotValidator):
        net.verifier.admit_vote(votes.sign_vote(outsider.vote_secret, data))
    with pytest.raises(VoteSourceMismatch):
        net.verifier.admit_vote(votes.sign_vote(net.validators[0].vote_secret,
                                                VoteData(0, net.genesis.hash, data.target_number, data.target_hash)))
    with pytest.raises(UnknownVoteTarget):
        net.verifier.admit_vote(votes.sign_vote(net.validators[0].vote_secret, _other(data)))


# --- genesis extraData with vote keys ---


def test_genesis_extra_round_trips_in_both_layouts():
    vals = [Validator(i) for i in range(3)]
    pairs = [(v.address, v.vote_address) for v in vals]
    luban = genesis_extra(pairs)
    assert len(luban) == 32 + 1 + 3 * 68 + 65
    assert genesis_validators(luban) == tuple(sorted((ValidatorInfo(*p) for p in pairs), key=lambda v: v.address))
    assert genesis_validators(genesis_extra(pairs, turn_length=4)) == genesis_validators(luban)
    classic = bytes(32) + b"".join(v.address for v in vals) + bytes(65)
    assert genesis_validators(classic) == tuple(ValidatorInfo(v.address) for v in vals)


# --- finality reward weights (every 200th block) ---


def test_reward_weights_count_each_voter_once_per_attestation_and_the_sealer_for_votes_above_quorum():
    net = FinalityNet(epoch=50)
    net.run(200)
    weights = dict(net.verifier.finality.reward_weights(net.head))
    attested = range(3, 200)  # blocks 199 down to 1 are looked at; attestations start at block 3
    expected = {v.address: len(attested) for v in net.validators}  # all four voted every time
    for number in attested:
        expected[net.at(number).coinbase] += 4 - attestation.quorum(4)
    assert weights == expected
    assert [a for a, _ in net.verifier.finality.reward_weights(net.head)] == sorted(expected)
    assert net.verifier.finality.reward_weights(net.at(199)) == []


# --- fork choice by justified number ---


def test_a_shorter_branch_with_a_higher_justified_block_is_preferred():
    net = FinalityNet()
    net.run(5)
    fork_point = net.head
    net.run(6, voters=[])  # long branch: no votes, justified stays at block 4
    long_head = net.head
    net.head = fork_point
    net.pool = VotePool(lambda h: h in net.headers, lambda vote: net.producer.admit_vote(vote))
    net.producer.votes_for = net.pool.fetch
    for v in net.validators:  # the journals forget the long branch: these validators never saw it
        v.journal = VoteJournal()
    net.run(3)  # short branch: votes, justified moves past the fork point
    short_head = net.head
    assert short_head.block_number < long_head.block_number
    assert net.verifier.justified(short_head)[0] > net.verifier.justified(long_head)[0]
    assert net.verifier.prefer_by_justified(long_head, short_head) is True
    assert net.verifier.prefer_by_justified(short_head, long_head) is False
    assert net.verifier.prefer_by_justified(short_head, short_head) is None


# --- Maxwell: recents at or below the finalized block are forgotten ---


def test_recents_keep_only_blocks_above_the_finalized_one():
    net = FinalityNet(7)  # recents window (7/2+1)*1-1 = 3 blocks, finality two blocks behind the head
    net.run(10)
    snap = net.verifier.snapshot(net.head)
    assert snap.recents_window == 3 and snap.finality.finalized[0] == 8
    assert [b for b, _ in snap.recents] == [9, 10]  # block 8 is finalized: its sealer may seal block 11
    assert not snap.signed_recently(net.at(8).coinbase)
    silent = FinalityNet(7)
    silent.run(10, voters=[])
    assert [b for b, _ in silent.verifier.snapshot(silent.head).recents][-3:] == [8, 9, 10]
    assert silent.verifier.snapshot(silent.head).signed_recently(silent.at(8).coinbase)


# --- BEP-648: a quorum of votes for the head finalizes its justified parent at once ---


def test_a_quorum_of_votes_for_the_head_finalizes_the_justified_parent_early(voting):
    net = voting
    head = net.head.block_number
    assert net.verifier.finalized(net.head) == net.block(head - 2)
    assert net.verifier.finalized(net.head, net.pool.fetch) == net.block(head - 1)  # all four voted on the head
    two = lambda target_hash, source: net.pool.fetch(target_hash, source)[:2]  # below quorum 3
    assert net.verifier.finalized(net.head, two) == net.block(head - 2)
    none = lambda target_hash, source: []
    assert net.verifier.finalized(net.head, none) == net.block(head - 2)
