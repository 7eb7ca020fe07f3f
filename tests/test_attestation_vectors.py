"""consensus/attestation.py against real BSC attestations (../shared/reference/vectors/bsc-attested-headers.json).

Every attested header's attestation is read from its own extraData and verified: the target must be the header's
parent (number - 1, parentHash), the source the justified block that `attestation.update` derived from the
previous headers of the same consecutive run (the first header of a run is seeded with its own source), the keys
those of the validator set the file names (checked against the epoch headers the file has). The justified and
finalized numbers after each header must match the file's. The 14 negatives must fail at their named step.
"""
import json
from functools import cache

import pytest
from eth_utils import decode_hex

from conftest import shared_path
from consensus import attestation
from consensus import header as rules
from consensus.errors import (
    AttestationSourceMismatch,
    AttestationTargetMismatch,
    InvalidAggregateSignature,
    InvalidVoteAddress,
    NotEnoughVotes,
    TooManyVoteBits,
)
from consensus.header import ValidatorInfo, VoteAttestation

# era -> (luban, bohr) layout flags and epoch length, from the file's rules.extraData
ERA = {
    "Plato (after Luban/Plato, before Hertz/London)": (True, False, 200),
    "Maxwell": (True, True, 1000),
    "Fermi": (True, True, 1000),
    "Lorentz-era rules (epoch 500, ms in mixHash, 21-field header)": (True, True, 500),
}
FAILS_AT = {  # the negative's named step -> the error our verification raises there
    "FastAggregateVerify returns false": InvalidAggregateSignature,
    "a set bit selects a validator whose BLS key is all zero": InvalidVoteAddress,
    "fewer than ceil(2N/3) bits set": NotEnoughVotes,
    "more bits set than validators": TooManyVoteBits,
}


@cache
def data() -> dict:
    with open(shared_path("reference", "vectors", "bsc-attested-headers.json")) as f:
        return json.load(f)


@cache
def validator_sets() -> dict[str, tuple[ValidatorInfo, ...]]:
    return {s["id"]: tuple(ValidatorInfo(decode_hex(v["address"]), decode_hex(v["blsPublicKey"]))
                           for v in s["validators"]) for s in data()["validatorSets"]}


def names(key: str) -> list[str]:
    # Collection must not fail when ../shared is absent: one case then reports it through shared_path.
    try:
        return [v["name"] for v in data()[key]]
    except pytest.fail.Exception:
        return ["shared-data-missing"]


def by_name(key: str, name: str) -> dict:
    return next(v for v in data()[key] if v["name"] == name)


def read_attestation(vector: dict) -> VoteAttestation | None:
    luban, bohr, epoch = ERA[vector["era"]]
    header = vector["header"]
    return attestation.from_extra(decode_hex(header["extraData"]), epoch_block=vector["number"] % epoch == 0,
                                  luban=luban, bohr=bohr)


@cache
def replay() -> dict[str, tuple[tuple[int, bytes], attestation.Finality | None, bool]]:
    """name -> (justified block at the parent, finality after the header, seeded), following each consecutive
    run; seeded marks a run's first header, whose justified block is its own source."""
    out = {}
    previous, finality = None, None
    for vector in data()["vectors"]:
        header = vector["header"]
        att = read_attestation(vector)
        follows = previous is not None and vector["number"] == previous["number"] + 1 and \
            decode_hex(header["parentHash"]) == decode_hex(previous["hash"])
        if not follows:
            # a new run: nothing known before its first header, so its first attestation seeds the record
            finality = None if att is None else attestation.Finality(
                (att.source_number, att.source_hash), (att.source_number, att.source_hash))
        justified = attestation.justified_at(finality, bytes(32))
        finality = attestation.update(finality, att, vector["number"], decode_hex(header["parentHash"]),
                                      fermi=vector["era"] == "Fermi")
        out[vector["name"]] = (justified, finality, not follows)
        previous = vector
    return out


def test_file_counts():
    attested = [v for v in data()["vectors"] if "attestationCheck" in v and "attestation" in v["extraDecoded"]]
    assert (len(data()["vectors"]), len(attested), len(data()["negatives"])) == (49, 48, 14)


def test_validator_sets_match_their_epoch_headers():
    checked = 0
    for s in data()["validatorSets"]:
        epoch = next((v for v in data()["vectors"] if v["number"] == s["epochBlock"]
                      and v["chainId"] == s["chainId"]), None)
        if epoch is None:
            continue  # bsc-mainnet-31297000: a list from light-client test data, the header is not public
        luban, bohr, _ = ERA[epoch["era"]]
        parsed = rules.parse_extra(decode_hex(epoch["header"]["extraData"]), epoch_block=True, luban=luban, bohr=bohr)
        assert parsed.validators == validator_sets()[s["id"]]
        checked += 1
    assert checked == 7


@pytest.mark.parametrize("name", names("vectors"))
def test_real_attestation_verifies(name):
    vector = by_name("vectors", name)
    att = read_attestation(vector)
    if att is None:
        assert "attestationCheck" not in vector  # 85576002 carries none
        return
    check = vector["attestationCheck"]
    assert check["expected"] is True
    parent = (vector["number"] - 1, decode_hex(vector["header"]["parentHash"]))
    justified, _, _ = replay()[name]
    validators = validator_sets()[check["validatorSet"]]
    attestation.verify(att, justified=justified, ancestors=[parent], validators=validators)
    keys = attestation.selected_keys(att, validators)
    assert keys == [validators[i].vote_address for i in check["signerIndices"]]
    assert attestation.vote_data(att).encode() == decode_hex(check["voteDataRlp"])
    assert attestation.vote_data(att).hash() == decode_hex(check["signedMessage"])
    assert attestation.quorum(len(validators)) == check["quorum"]


@pytest.mark.parametrize("name", names("vectors"))
def test_justified_and_finalized_after_each_header(name):
    vector = by_name("vectors", name)
    if "attestationCheck" not in vector:
        return
    _, finality, _ = replay()[name]
    want = vector["attestationCheck"]["snapshotAfter"]
    assert (finality.justified[0], finality.finalized[0]) == (want["justifiedNumber"], want["finalizedNumber"])


def test_a_run_checks_sources_for_real():
    # Sources are checked against the replayed record, not the header's own claim, past each run's first header.
    attested = [v["name"] for v in data()["vectors"] if "attestationCheck" in v]
    seeded = [n for n in attested if replay()[n][2]]
    assert len(attested) - len(seeded) == 39, seeded
    vector = by_name("vectors", "bsc-mainnet-31297213")
    att = read_attestation(vector)
    justified, _, _ = replay()["bsc-mainnet-31297213"]
    parent = (vector["number"] - 1, decode_hex(vector["header"]["parentHash"]))
    with pytest.raises(AttestationSourceMismatch, match="source mismatch"):
        attestation.verify(att, justified=(justified[0] - 1, justified[1]), ancestors=[parent],
                           validators=validator_sets()["bsc-mainnet-31297200"])
    with pytest.raises(AttestationTargetMismatch, match="target mismatch"):
        attestation.verify(att, justified=justified, ancestors=[(parent[0], bytes(32))],
                           validators=validator_sets()["bsc-mainnet-31297200"])


def test_set_switch_at_the_epoch():
    # Epoch 31297200 (N=21, T=1) takes over after block 31297210: target 31297210 is signed by the old set,
    # target 31297211 by the new one; `validators` as a function of the target picks between them.
    def set_for(number: int, _hash: bytes):
        switch = 31297200 + (21 // 2 + 1) * 1 - 1
        return validator_sets()["bsc-mainnet-31297200" if number - 1 >= switch else "bsc-mainnet-31297000"]

    for name in ("bsc-mainnet-31297211", "bsc-mainnet-31297212"):
        vector = by_name("vectors", name)
        parent = (vector["number"] - 1, decode_hex(vector["header"]["parentHash"]))
        attestation.verify(read_attestation(vector), justified=replay()[name][0], ancestors=[parent],
                           validators=set_for)


@pytest.mark.parametrize("name", names("negatives"))
def test_negative_is_refused_at_its_step(name):
    negative = by_name("negatives", name)
    assert negative["expected"] is False
    att = VoteAttestation(negative["voteAddressSet"], decode_hex(negative["aggSignature"]), negative["sourceNumber"],
                          decode_hex(negative["sourceHash"]), negative["targetNumber"],
                          decode_hex(negative["targetHash"]), b"")
    step = next(error for prefix, error in FAILS_AT.items() if negative["failsAt"].startswith(prefix))
    with pytest.raises(step):
        attestation.verify_votes(att, validator_sets()[negative["validatorSet"]])


def test_localnet_run_through_the_snapshots():
    # The wiring the engine will do: each attestation checked against the set of the snapshot at target - 1, with
    # the snapshots built by consensus/snapshot.py from the real headers (seals recovered, the set announced by
    # epoch block 1000 taking over after block 1002 with its turn length 6). Seeded after block 999 with the set
    # of epoch 500, which is the same set with turn length 1.
    from test_header_vectors import build_header

    from consensus.snapshot import Snapshot

    run = [v for v in data()["vectors"] if v["name"].startswith("bsc-localnet9999-") and v["number"] >= 1000]
    first = run[0]
    snap = Snapshot(chain_id=9999, epoch_length=500, number=999, hash=decode_hex(first["header"]["parentHash"]),
                    validators=validator_sets()["bsc-localnet-500"], turn_length=1)
    sets = {998: snap.validators, 999: snap.validators}  # block 1000 attests 999: the set at 998, the same one
    turns = {}
    finality = None
    for vector in run:
        header = build_header(vector["header"])
        assert header.hash == decode_hex(vector["hash"])
        att = read_attestation(vector)
        justified = attestation.justified_at(finality, bytes(32)) if finality else (att.source_number, att.source_hash)
        attestation.verify(att, justified=justified, ancestors=[(snap.number, snap.hash)],
                           validators=lambda number, _hash: sets[number - 1])
        finality = attestation.update(finality, att, header.block_number, header.parent_hash)
        snap = snap.apply([header])
        sets[snap.number], turns[snap.number] = snap.validators, snap.turn_length
    assert (turns[1001], turns[1002]) == (1, 6)
    want = run[-1]["attestationCheck"]["snapshotAfter"]
    assert (finality.justified[0], finality.finalized[0]) == (want["justifiedNumber"], want["finalizedNumber"])
