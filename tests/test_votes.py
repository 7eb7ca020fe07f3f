"""consensus/votes.py: VoteData/VoteEnvelope encodings, signing, BSC's voting rules, dev vote keys and proofs."""
import json

import pytest
from eth_utils import decode_hex, keccak
from py_ecc.bls import G2ProofOfPossession as reference

from conftest import shared_path
from consensus import bls, votes
from consensus.errors import DoubleVote, InvalidVote, SurroundVote, VoteRuleViolation
from consensus.votes import VoteData, VoteEnvelope

SK_A = votes.vote_key_for(b"\x11" * 32)
SK_B = votes.vote_key_for(b"\x22" * 32)


def h(n: int) -> bytes:
    """A distinct 32-byte hash for block n."""
    return keccak(n.to_bytes(8, "big"))


def vd(source: int, target: int) -> VoteData:
    return VoteData(source, h(source), target, h(target))


# --- encodings against real BSC data ---


def test_vote_data_rlp_and_hash_match_real_attestations():
    with open(shared_path("reference", "vectors", "bsc-attested-headers.json")) as f:
        vectors = json.load(f)["vectors"]
    checked = 0
    for vector in vectors:
        check = vector.get("attestationCheck")
        if check is None:
            continue
        a = vector["extraDecoded"]["attestation"]
        data = VoteData(a["sourceNumber"], decode_hex(a["sourceHash"]), a["targetNumber"], decode_hex(a["targetHash"]))
        assert data.encode() == decode_hex(check["voteDataRlp"])
        assert data.hash() == decode_hex(check["signedMessage"])
        assert VoteData.decode(data.encode()) == data
        checked += 1
    assert checked == 48


def test_envelope_round_trip_and_hash():
    envelope = votes.sign_vote(SK_A, vd(10, 11))
    raw = envelope.encode()
    assert VoteEnvelope.decode(raw) == envelope
    assert envelope.hash() == keccak(raw)
    assert envelope.vote_address == bls.public_key(SK_A)
    # [48 bytes, 96 bytes, [4 items]]: a 0xf8 list header, then the key's 0xb0 string header
    assert raw[0] == 0xF8 and raw[2] == 0xB0


@pytest.mark.parametrize("raw", [b"", b"\xc0", VoteData(1, h(1), 2, h(2)).encode(), b"\xf8\x01\x00"])
def test_envelope_garbage_is_invalid_vote(raw):
    with pytest.raises(InvalidVote):
        VoteEnvelope.decode(raw)


def test_vote_data_checks_fields():
    with pytest.raises(ValueError):
        VoteData(1, b"\x00" * 31, 2, h(2))
    with pytest.raises(ValueError):
        VoteData(2**64, h(1), 2, h(2))
    with pytest.raises(InvalidVote):
        VoteData.decode(b"\xc3\x01\x02\x03")


# --- signing and verifying ---


def test_sign_verify_round_trip():
    envelope = votes.sign_vote(SK_A, vd(5, 6))
    assert envelope.verify()
    envelope.check()
    assert reference.Verify(envelope.vote_address, vd(5, 6).hash(), envelope.signature)


def test_vote_by_another_key_is_refused():
    envelope = votes.sign_vote(SK_A, vd(5, 6))
    forged = VoteEnvelope(bls.public_key(SK_B), envelope.signature, envelope.data)
    assert not forged.verify()
    with pytest.raises(InvalidVote, match="does not verify"):
        forged.check()


def test_vote_for_other_data_is_refused():
    envelope = votes.sign_vote(SK_A, vd(5, 6))
    for data in (vd(5, 7), vd(4, 6), VoteData(5, h(5), 6, h(600))):
        moved = VoteEnvelope(envelope.vote_address, envelope.signature, data)
        assert not moved.verify()
        with pytest.raises(InvalidVote):
            moved.check()


def test_vote_for_the_head():
    assert votes.vote_for(11, h(11), 10, h(10)) == vd(10, 11)
    assert votes.vote_for(11, h(11), 0, h(0)) == VoteData(0, h(0), 11, h(11))  # genesis is justified at first
    assert votes.vote_for(10, h(10), 10, h(10)) is None
    assert votes.vote_for(11, h(11), 10, bytes(32)) is None


@pytest.mark.parametrize("now_ms, head_ms, interval_ms, depth, late", [
    (1000, 1000, 3000, 1, False),
    (3949, 1000, 3000, 1, False),
    (3951, 1000, 3000, 1, True),
    (3951, 1000, 3000, 3, False),  # Fermi: three intervals
    (10000, 1000, 3000, 3, True),
])
def test_vote_too_late(now_ms, head_ms, interval_ms, depth, late):
    assert votes.vote_too_late(now_ms, head_ms, interval_ms, depth) is late


# --- BSC's rules 1 and 2 against a key's own journal ---

JOURNAL = {100: vd(99, 100), 101: vd(100, 101), 105: vd(101, 105)}


@pytest.mark.parametrize("vote, error", [
    (vd(101, 106), None),  # the next vote on the same chain
    (vd(105, 106), None),
    (vd(106, 107), None),
    (vd(100, 104), None),  # overlaps 101->105 without lying inside it (same-or-lower source)
    (vd(99, 100), DoubleVote),  # a target already voted for, even with the same data
    (vd(98, 101), DoubleVote),
    (vd(100, 105), DoubleVote),
    (vd(50, 200), SurroundVote),  # surrounds 99->100 (an earlier target with a larger source)
    (vd(98, 102), SurroundVote),  # surrounds 99->100
    (vd(102, 103), SurroundVote),  # lies inside 101->105 (a later target with a smaller source)
    (vd(102, 104), SurroundVote),  # lies inside 101->105
])
def test_rules_table(vote, error):
    if error is None:
        votes.check_vote_rules(JOURNAL, vote)
    else:
        with pytest.raises(error):
            votes.check_vote_rules(JOURNAL, vote)


def test_rule_windows_are_bsc_s():
    # Rule 2 looks back over at most 256 targets and forward over at most 11.
    far_back = {1000: vd(999, 1000)}
    votes.check_vote_rules(far_back, vd(10, 1000 + 257))  # 1000 < target - 256: out of the window
    with pytest.raises(SurroundVote):
        votes.check_vote_rules(far_back, vd(10, 1000 + 256))
    ahead = {120: vd(100, 120)}
    votes.check_vote_rules(ahead, vd(105, 108))  # 120 > 108 + 11: out of the window
    with pytest.raises(SurroundVote):
        votes.check_vote_rules(ahead, vd(105, 109))  # 120 <= 109 + 11
    assert issubclass(DoubleVote, VoteRuleViolation) and issubclass(SurroundVote, VoteRuleViolation)


def test_rules_refuse_a_backwards_vote():
    with pytest.raises(ValueError):
        votes.check_vote_rules({}, VoteData(5, h(5), 5, h(5)))


@pytest.mark.parametrize("a, b, why", [
    (vd(10, 12), VoteData(10, h(10), 12, h(1200)), "double vote"),
    (vd(10, 12), VoteData(11, h(11), 12, h(12)), "double vote"),  # same target hash, other source
    (vd(10, 20), vd(12, 15), "surround vote"),
    (vd(12, 15), vd(10, 20), "surround vote"),
    (vd(10, 12), vd(10, 12), None),  # identical
    (vd(10, 12), vd(12, 14), None),  # consecutive
    (vd(10, 15), vd(10, 14), None),  # same source: not strictly inside
    (vd(100, 200), vd(150, 250), None),  # overlapping spans are not a violation
    (VoteData(12, h(12), 10, h(10)), VoteData(13, h(13), 10, h(10)), None),  # srcNum bigger than tarNum
])
def test_evidence_table(a, b, why):
    assert votes.violation(a, b) == why


def test_double_and_surround_predicates():
    assert votes.is_double_vote(vd(1, 5), vd(2, 5)) and not votes.is_double_vote(vd(1, 5), vd(1, 5))
    assert votes.is_surround_vote(vd(1, 9), vd(2, 8)) and not votes.is_surround_vote(vd(1, 9), vd(1, 8))


# --- dev vote keys and StakeHub's registration proof ---

OPERATOR = bytes.fromhex("f39fd6e51aad88f6f4ce6ab8827279cfffb92266")


def test_vote_key_is_deterministic_per_validator_key():
    assert votes.vote_key_for(b"\x11" * 32) == SK_A != SK_B
    assert bls.key_decodes(bls.public_key(SK_A))
    with pytest.raises(ValueError):
        votes.vote_key_for(b"\x11" * 31)


def test_registration_message_layout():
    key = bls.public_key(SK_A)
    want = keccak(OPERATOR + key + (714).to_bytes(32, "big"))  # abi.encodePacked(address, bytes, uint256)
    assert votes.registration_message(OPERATOR, key, 714) == want


def test_registration_proof_verifies():
    key = bls.public_key(SK_A)
    proof = votes.registration_proof(SK_A, OPERATOR, 714)
    assert len(proof) == 96
    assert votes.verify_registration_proof(OPERATOR, key, proof, 714)
    # what the 0x66 precompile checks, done independently
    assert reference.Verify(key, votes.registration_message(OPERATOR, key, 714), proof)


@pytest.mark.parametrize("change", ["chain id", "operator", "key", "proof", "pop scheme"])
def test_registration_proof_refused(change):
    key, proof, operator, chain_id = bls.public_key(SK_A), votes.registration_proof(SK_A, OPERATOR, 714), OPERATOR, 714
    if change == "chain id":
        chain_id = 56
    elif change == "operator":
        operator = b"\x01" * 20
    elif change == "key":
        key = bls.public_key(SK_B)
    elif change == "proof":
        proof = votes.registration_proof(SK_B, OPERATOR, 714)
    else:  # the IETF proof of possession (signature over the key) is not what StakeHub checks
        proof = reference.PopProve(int.from_bytes(SK_A, "big"))
    assert not votes.verify_registration_proof(operator, key, proof, chain_id)


def test_devnet_and_dev_validators_get_distinct_vote_keys_with_proofs():
    from node.dev.accounts import dev_accounts
    from node.dev.devnet import validator_key

    validator_keys = [validator_key(i) for i in range(4)] + [keys_of(dev_accounts(count=1)[0].private_key)]
    vote_addresses = set()
    for key in validator_keys:
        secret = votes.vote_key_for(key.to_bytes())
        address = bls.public_key(secret)
        operator = key.public_key.to_canonical_address()
        proof = votes.registration_proof(secret, operator, 714)
        assert votes.verify_registration_proof(operator, address, proof, 714)
        assert votes.vote_key_for(key.to_bytes()) == secret  # the same after a restart
        vote_addresses.add(address)
    assert len(vote_addresses) == 5


def keys_of(private_key: bytes):
    from eth_keys import keys
    return keys.PrivateKey(private_key)


def test_journal_refuses_after_a_restart():
    journal = votes.VoteJournal()
    for target in range(10, 20):
        journal.record(vd(target - 1, target))
    assert len(journal) == 10 and journal.latest() == vd(18, 19)
    restored = votes.VoteJournal.decode(journal.encode())
    assert restored.latest() == vd(18, 19) and len(restored) == 10
    with pytest.raises(DoubleVote):
        restored.record(VoteData(18, h(18), 19, h(1900)))  # another block at height 19
    with pytest.raises(SurroundVote):
        restored.record(vd(5, 25))  # surrounds 18->19
    restored.record(vd(19, 20))
    assert restored.latest() == vd(19, 20)


def test_journal_keeps_its_capacity():
    journal = votes.VoteJournal(capacity=3)
    for target in range(1, 6):
        journal.record(vd(target - 1, target))
    assert len(journal) == 3
    journal.record(vd(0, 2))  # target 2 was forgotten: BSC's journal has the same horizon
    assert len(journal) == 3 and journal.latest() == vd(4, 5)
    with pytest.raises(DoubleVote):
        journal.record(vd(1, 2))  # the newest entry is kept, the oldest (target 3) went
    with pytest.raises(InvalidVote):
        votes.VoteJournal.decode(b"\x01\x02")
