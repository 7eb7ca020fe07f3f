"""consensus/header.py against 33 real signed BSC headers (../shared/reference/vectors/bsc-headers.json)."""
import json
from functools import cache

import pytest
import rlp
from eth.rlp.headers import BlockHeader
from eth.rlp.sedes import address, hash32, trie_root, uint256
from eth.vm.forks.cancun.blocks import CancunBlockHeader
from eth.vm.forks.london.blocks import LondonBlockHeader
from eth.vm.forks.prague.blocks import PragueBlockHeader
from eth_utils import decode_hex, keccak, to_canonical_address
from rlp.sedes import Binary, big_endian_int, binary

from conftest import shared_path
from consensus.header import (
    check_signer,
    check_standalone,
    decode_attestation,
    expected_difficulty,
    parse_extra,
    recover_signer,
    seal_hash,
)


class CancunBeforeBohrHeader(rlp.Serializable):
    """BSC between Cancun and Bohr: blob fields but no parentBeaconRoot (py-evm has no such class)."""

    fields = [
        ("parent_hash", hash32), ("uncles_hash", hash32), ("coinbase", address), ("state_root", trie_root),
        ("transaction_root", trie_root), ("receipt_root", trie_root), ("bloom", uint256),
        ("difficulty", big_endian_int), ("block_number", big_endian_int), ("gas_limit", big_endian_int),
        ("gas_used", big_endian_int), ("timestamp", big_endian_int), ("extra_data", binary),
        ("mix_hash", binary), ("nonce", Binary(8, allow_empty=True)), ("base_fee_per_gas", big_endian_int),
        ("withdrawals_root", trie_root), ("blob_gas_used", big_endian_int), ("excess_blob_gas", big_endian_int),
    ]


# JSON-RPC name -> py-evm attribute, in header RLP order.
FIELDS = {
    "parentHash": "parent_hash", "sha3Uncles": "uncles_hash", "miner": "coinbase", "stateRoot": "state_root",
    "transactionsRoot": "transaction_root", "receiptsRoot": "receipt_root", "logsBloom": "bloom",
    "difficulty": "difficulty", "number": "block_number", "gasLimit": "gas_limit", "gasUsed": "gas_used",
    "timestamp": "timestamp", "extraData": "extra_data", "mixHash": "mix_hash", "nonce": "nonce",
    "baseFeePerGas": "base_fee_per_gas", "withdrawalsRoot": "withdrawals_root", "blobGasUsed": "blob_gas_used",
    "excessBlobGas": "excess_blob_gas", "parentBeaconBlockRoot": "parent_beacon_block_root",
    "requestsHash": "requests_hash",
}
INT_FIELDS = {"bloom", "difficulty", "block_number", "gas_limit", "gas_used", "timestamp", "base_fee_per_gas",
              "blob_gas_used", "excess_blob_gas"}
# Header class by the number of fields the era carries.
CLASS_BY_FIELD_COUNT = {15: BlockHeader, 16: LondonBlockHeader, 19: CancunBeforeBohrHeader,
                        20: CancunBlockHeader, 21: PragueBlockHeader}
EPOCH_LENGTH_BY_ERA = {"pre-Luban (classic)": 200, "Bohr": 200, "Lorentz": 500, "Maxwell": 1000, "Fermi": 1000}
# Testnet epochs whose validator set did not change, so the epoch block's list is also the set in force for it
# and the blocks after it: a real check of the in-turn formula with turnLength.
SET_IN_FORCE = {
    **{f"bsc-testnet-{n}": "bsc-testnet-55475000" for n in (55475000, 55475001, 55475002)},
    **{f"bsc-testnet-{n}": "bsc-testnet-85576000" for n in (85576000, 85576001, 85576002, 85576003)},
    **{f"bsc-testnet-{n}": "bsc-testnet-86242000" for n in (86242000, 86242001, 86242002)},
    **{f"bsc-testnet-{n}": "bsc-testnet-86269000" for n in (86269000, 86269001)},
}


@cache
def load_vectors() -> dict:
    with open(shared_path("reference", "vectors", "bsc-headers.json")) as f:
        return {vector["name"]: vector for vector in json.load(f)["vectors"]}


def vector_names() -> list[str]:
    # Collection must not fail when ../shared is absent: one case then reports it through shared_path.
    try:
        return list(load_vectors())
    except pytest.fail.Exception:
        return ["shared-data-missing"]


def build_header(fields: dict):
    kwargs = {}
    for json_name, value in fields.items():
        name = FIELDS[json_name]
        kwargs[name] = int(value, 16) if name in INT_FIELDS else decode_hex(value)
    return CLASS_BY_FIELD_COUNT[len(kwargs)](**kwargs)


def era_flags(era: str) -> dict:
    # The vectors have no Luban-only era: a header is either classic or Bohr and later.
    classic = era == "pre-Luban (classic)"
    return {"luban": not classic, "bohr": not classic}


def epoch_length(vector: dict) -> int:
    return EPOCH_LENGTH_BY_ERA[vector["era"]]


@pytest.fixture(params=vector_names())
def vector(request) -> dict:
    return load_vectors()[request.param]


def test_vector_set_is_complete():
    assert len(load_vectors()) == 33


def test_block_hash(vector):
    header = build_header(vector["header"])
    assert keccak(rlp.encode(header)) == decode_hex(vector["hash"])
    assert header.hash == decode_hex(vector["hash"])


def test_seal_hash(vector):
    header = build_header(vector["header"])
    assert seal_hash(header, vector["chainId"]) == decode_hex(vector["sealHash"])


def test_signer_is_miner(vector):
    header = build_header(vector["header"])
    signer = to_canonical_address(vector["signer"])
    assert recover_signer(header, vector["chainId"]) == signer
    assert check_signer(header, vector["chainId"]) == signer == header.coinbase


def test_wrong_chain_id_recovers_someone_else(vector):
    header = build_header(vector["header"])
    assert recover_signer(header, vector["chainId"] + 1) != header.coinbase


def test_parse_extra(vector):
    header = build_header(vector["header"])
    decoded = vector["extraDecoded"]
    parsed = parse_extra(
        header.extra_data, epoch_block=header.block_number % epoch_length(vector) == 0, **era_flags(vector["era"])
    )
    assert parsed.vanity[-4:] == decode_hex(decoded["nextForkHash"])
    assert parsed.seal == header.extra_data[-65:]
    want_validators = [
        (decode_hex(v["address"]), decode_hex(v["blsPublicKey"])) for v in decoded.get("validators", [])
    ]
    assert [(v.address, v.vote_address) for v in parsed.validators] == want_validators
    assert parsed.turn_length == decoded.get("turnLength")
    assert bool(parsed.attestation) == ("attestation" in decoded)


def attested_vector_names() -> list[str]:
    try:
        return [name for name, v in load_vectors().items() if "attestation" in v["extraDecoded"]]
    except pytest.fail.Exception:
        return ["shared-data-missing"]


@pytest.mark.parametrize("name", attested_vector_names())
def test_attestation(name):
    vector = load_vectors()[name]
    want = vector["extraDecoded"]["attestation"]
    header = build_header(vector["header"])
    parsed = parse_extra(
        header.extra_data, epoch_block=header.block_number % epoch_length(vector) == 0, **era_flags(vector["era"])
    )
    attestation = decode_attestation(parsed.attestation)
    assert attestation.vote_address_set == want["voteAddressSet"]
    assert (attestation.source_number, attestation.source_hash) == (
        want["sourceNumber"], decode_hex(want["sourceHash"]))
    assert (attestation.target_number, attestation.target_hash) == (
        want["targetNumber"], decode_hex(want["targetHash"]))
    assert attestation.extra == decode_hex(want["extra"])
    assert len(attestation.agg_signature) == 96


def test_standalone_rules_accept_real_headers(vector):
    header = build_header(vector["header"])
    check_standalone(header, epoch_length=epoch_length(vector), **era_flags(vector["era"]))


@pytest.mark.parametrize("name", sorted(SET_IN_FORCE))
def test_in_turn_rule_matches_real_difficulty(name):
    vector, epoch = load_vectors()[name], load_vectors()[SET_IN_FORCE[name]]
    validators = [decode_hex(v["address"]) for v in epoch["extraDecoded"]["validators"]]
    turn_length = epoch["extraDecoded"]["turnLength"]
    header = build_header(vector["header"])
    assert expected_difficulty(validators, header.block_number, header.coinbase, turn_length) == header.difficulty


# --- seal list length by era: the London..Cancun fields join only with parentBeaconRoot ---


def as_class(header, header_class, **extra_fields):
    """The same header in another era's class: the first 15 fields plus the given optional ones."""
    base = {name: getattr(header, name) for name in list(FIELDS.values())[:15]}
    return header_class(**base, **extra_fields)


def test_fields_before_bohr_stay_out_of_the_seal():
    vector = load_vectors()["bsc-testnet-45944645"]  # Bohr: a 20-field Cancun header, 21-item seal
    bohr = build_header(vector["header"])
    classic = as_class(bohr, BlockHeader)
    london = as_class(bohr, LondonBlockHeader, base_fee_per_gas=7)
    cancun = as_class(bohr, CancunBeforeBohrHeader, base_fee_per_gas=7, withdrawals_root=bohr.withdrawals_root,
                      blob_gas_used=131072, excess_blob_gas=5)
    want = seal_hash(classic, 97)
    assert seal_hash(london, 97) == want
    assert seal_hash(cancun, 97) == want
    assert seal_hash(bohr, 97) != want
    assert seal_hash(bohr, 97) == decode_hex(vector["sealHash"])
