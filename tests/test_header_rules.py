"""Parlia header rules (consensus/header.py) as tables over Prague devnet headers, chain id 714."""
import pytest
import rlp
from eth.vm.forks.prague.blocks import PragueBlockHeader
from eth_keys import keys
from eth_keys.constants import SECPK1_N
from eth_utils import decode_hex, keccak

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
from consensus.header import (
    EXTRA_SEAL,
    ValidatorInfo,
    check_difficulty,
    check_gas_limit,
    check_signer,
    check_standalone,
    decode_attestation,
    encode_extra,
    expected_difficulty,
    in_turn_validator,
    parse_extra,
    recover_signer,
    seal_hash,
    sign_header,
)

CHAIN_ID = 714
EPOCH = 200

# Fixed keys 1..4, named in address order so that tables can say who is in turn: A < B < C < D.
_SORTED_KEYS = sorted((keys.PrivateKey(i.to_bytes(32, "big")) for i in range(1, 5)),
                      key=lambda k: k.public_key.to_canonical_address())
KEYS = dict(zip("ABCD", _SORTED_KEYS))


def addr(name: str) -> bytes:
    return KEYS[name].public_key.to_canonical_address()


def addrs(names: str) -> list[bytes]:
    return [addr(name) for name in names]


def bls(name: str) -> bytes:
    return keccak(name.encode()) + bytes(16)  # any 48 bytes: header rules never check BLS keys


def infos(names: str) -> list[ValidatorInfo]:
    return [ValidatorInfo(addr(name), bls(name)) for name in names]


def attestation(target: int = 99, extra: bytes = b"") -> bytes:
    vote_data = [target - 1, keccak(b"source"), target, keccak(b"target")]
    return rlp.encode([0b111, bytes(96), vote_data, extra])


def make_header(number: int = 1, coinbase: str = "A", **fields) -> PragueBlockHeader:
    """An unsealed Prague devnet header: in-turn difficulty, empty seal, ms part 500."""
    defaults = dict(
        difficulty=2, block_number=number, gas_limit=40_000_000, gas_used=21_000, timestamp=1_700_000_000 + number,
        coinbase=addr(coinbase), parent_hash=keccak(number.to_bytes(8, "big")), extra_data=encode_extra(),
        mix_hash=(500).to_bytes(32, "big"), nonce=bytes(8),
    )
    return PragueBlockHeader(**{**defaults, **fields})


def sealed(signer: str = "A", coinbase: str | None = None, **fields) -> PragueBlockHeader:
    return sign_header(make_header(coinbase=coinbase or signer, **fields), KEYS[signer], CHAIN_ID)


def with_seal(header: PragueBlockHeader, seal: bytes) -> PragueBlockHeader:
    return header.copy(extra_data=header.extra_data[:-EXTRA_SEAL] + seal)


# --- seal and signer ---


def test_names_follow_address_order():
    assert addr("A") < addr("B") < addr("C") < addr("D")


@pytest.mark.parametrize("signer", ["A", "B", "C"])
@pytest.mark.parametrize("extra", [
    encode_extra(),
    encode_extra(vanity=b"smartchain".ljust(32, b"\0"), attestation=attestation()),
    encode_extra(infos("ABC"), turn_length=4),
], ids=["plain", "attestation", "epoch"])
def test_seal_round_trip(signer, extra):
    unsigned = make_header(coinbase=signer, extra_data=extra)
    header = sign_header(unsigned, KEYS[signer], CHAIN_ID)
    assert header.extra_data[:-EXTRA_SEAL] == extra[:-EXTRA_SEAL]
    assert header.extra_data[-1] in (0, 1)
    assert seal_hash(header, CHAIN_ID) == seal_hash(unsigned, CHAIN_ID)  # the seal does not sign itself
    assert recover_signer(header, CHAIN_ID) == addr(signer)
    assert check_signer(header, CHAIN_ID) == addr(signer)


def test_signer_other_than_coinbase():
    header = sealed(signer="B", coinbase="A")
    assert recover_signer(header, CHAIN_ID) == addr("B")
    with pytest.raises(CoinbaseMismatch, match="want coinbase = signer"):
        check_signer(header, CHAIN_ID)


@pytest.mark.parametrize("change", [
    dict(extra_data=b"X" + encode_extra()[1:]),
    dict(extra_data=encode_extra(attestation=attestation())),
    dict(state_root=keccak(b"other state")),
    dict(timestamp=1_700_000_002),
    dict(gas_used=21_001),
    dict(difficulty=1),
    dict(mix_hash=(501).to_bytes(32, "big")),
    dict(nonce=b"\0" * 7 + b"\1"),
    dict(base_fee_per_gas=1),
    dict(parent_beacon_block_root=keccak(b"beacon")),
    dict(requests_hash=keccak(b"requests")),
], ids=lambda change: next(iter(change)))
def test_tampering_after_sealing_changes_the_signer(change):
    header = sealed("A")
    if "extra_data" in change:  # keep the seal, change what it signed
        change = dict(extra_data=change["extra_data"][:-EXTRA_SEAL] + header.extra_data[-EXTRA_SEAL:])
    tampered = header.copy(**change)
    assert recover_signer(tampered, CHAIN_ID) != addr("A")
    with pytest.raises(CoinbaseMismatch):
        check_signer(tampered, CHAIN_ID)


def test_other_chain_id_changes_the_signer():
    assert recover_signer(sealed("A"), CHAIN_ID + 1) != addr("A")


@pytest.mark.parametrize("seal", [
    bytes(64) + b"\0",                                                   # r = s = 0
    SECPK1_N.to_bytes(32, "big") + (1).to_bytes(32, "big") + b"\0",   # r out of range
    b"\x11" * 64 + b"\x02",                                              # v not in {0, 1}
    b"\x11" * 64 + b"\x1b",                                              # v = 27, Ethereum-style
], ids=["zero", "r-out-of-range", "v=2", "v=27"])
def test_garbage_seal(seal):
    with pytest.raises(InvalidSignature, match="want a recoverable"):
        recover_signer(with_seal(sealed("A"), seal), CHAIN_ID)


@pytest.mark.parametrize("extra, error", [
    (b"", MissingVanity),
    (bytes(31), MissingVanity),
    (bytes(32), MissingSignature),
    (bytes(96), MissingSignature),
])
def test_truncated_extra(extra, error):
    with pytest.raises(error, match="have"):
        check_standalone(make_header(extra_data=extra), epoch_length=EPOCH)


@pytest.mark.parametrize("length", [0, 64])
def test_no_room_for_a_seal(length):
    with pytest.raises(MissingSignature):
        recover_signer(make_header(extra_data=bytes(length)), CHAIN_ID)
    with pytest.raises(MissingSignature):
        sign_header(make_header(extra_data=bytes(length)), KEYS["A"], CHAIN_ID)


def test_seal_hash_known_answer():
    # Every field spelled out so the answer never moves with make_header. The hash was printed by this code after
    # test_header_vectors.py confirmed seal_hash on 33 real BSC headers, and matched a hand-built 22-item list.
    header = PragueBlockHeader(
        parent_hash=keccak(b"smartchain genesis"),
        uncles_hash=decode_hex("0x1dcc4de8dec75d7aab85b567b6ccd41ad312451b948a7413f0a142fd40d49347"),
        coinbase=decode_hex("0x1eff47bc3a10a45d4b230b5d10e37751fe6aa718"),  # key 1 = validator A
        state_root=keccak(b"state"),
        transaction_root=decode_hex("0x56e81f171bcc55a6ff8345e692c0f86e5b48e01b996cadc001622fb5e363b421"),
        receipt_root=decode_hex("0x56e81f171bcc55a6ff8345e692c0f86e5b48e01b996cadc001622fb5e363b421"),
        bloom=0,
        difficulty=2,
        block_number=1,
        gas_limit=40_000_000,
        gas_used=0,
        timestamp=1_700_000_001,
        extra_data=b"smartchain".ljust(32, b"\0") + bytes(65),
        mix_hash=(500).to_bytes(32, "big"),
        nonce=bytes(8),
        base_fee_per_gas=0,
        withdrawals_root=decode_hex("0x56e81f171bcc55a6ff8345e692c0f86e5b48e01b996cadc001622fb5e363b421"),
        blob_gas_used=0,
        excess_blob_gas=0,
        parent_beacon_block_root=bytes(32),
        requests_hash=decode_hex("0xe3b0c44298fc1c149afbf4c8996fb92427ae41e4649b934ca495991b7852b855"),
    )
    assert header.coinbase == addr("A")
    assert seal_hash(header, CHAIN_ID) == decode_hex(
        "0x5170e4a3fa0b58c330b12ac9456cd4be71e1660683a05ccca7b6e8f88e20b270"
    )
    assert recover_signer(sign_header(header, KEYS["A"], CHAIN_ID), CHAIN_ID) == addr("A")


# --- turn and difficulty ---


@pytest.mark.parametrize("validators, number, turn_length, signer, difficulty", [
    ("ABC", 0, 1, "A", 2),
    ("ABC", 1, 1, "B", 2),
    ("ABC", 2, 1, "C", 2),
    ("ABC", 3, 1, "A", 2),
    ("ABC", 1, 1, "A", 1),
    ("ABC", 2, 1, "B", 1),
    ("CAB", 4, 1, "B", 2),       # the set is used in address order, whatever order it is given in
    ("ABC", 3, 4, "A", 2),       # turn_length 4: A owns blocks 0..3
    ("ABC", 4, 4, "B", 2),       #                B owns 4..7
    ("ABC", 4, 4, "A", 1),
    ("ABC", 11, 4, "C", 2),
    ("ABC", 12, 4, "A", 2),      # and round again
    ("ABC", 12, 4, "C", 1),
    ("ABCD", 1001, 16, "C", 2),  # (1001 // 16) % 4 = 62 % 4 = 2
    ("ABC", 1, 1, "D", 1),       # not a validator: never in turn (authorisation is the engine's rule)
])
def test_difficulty(validators, number, turn_length, signer, difficulty):
    assert expected_difficulty(addrs(validators), number, addr(signer), turn_length) == difficulty
    header = make_header(number=number, difficulty=difficulty)
    check_difficulty(header, addrs(validators), addr(signer), turn_length)
    wrong = header.copy(difficulty=3 - difficulty)
    with pytest.raises(WrongDifficulty, match=f"want difficulty {difficulty}, have {3 - difficulty}"):
        check_difficulty(wrong, addrs(validators), addr(signer), turn_length)


@pytest.mark.parametrize("validators, turn_length", [("", 1), ("ABC", 0)])
def test_in_turn_needs_a_set_and_a_turn(validators, turn_length):
    with pytest.raises(ValueError):
        in_turn_validator(addrs(validators), 1, turn_length)


# --- standalone checks ---

EPOCH_EXTRA = encode_extra(infos("ABC"), turn_length=4)
VALIDATOR_PART = EPOCH_EXTRA[32:-EXTRA_SEAL]


def raw_extra(middle: bytes) -> bytes:
    return bytes(32) + middle + bytes(EXTRA_SEAL)


@pytest.mark.parametrize("number, fields, error", [
    # valid headers
    (1, {}, None),
    (7, dict(extra_data=encode_extra(attestation=attestation())), None),
    (EPOCH, dict(extra_data=EPOCH_EXTRA), None),
    (EPOCH, dict(extra_data=encode_extra(infos("ABC"), 4, attestation=attestation())), None),
    (3 * EPOCH, dict(extra_data=encode_extra(infos("A"), turn_length=1)), None),
    (1, dict(mix_hash=(999).to_bytes(32, "big"), difficulty=1), None),
    (1, dict(gas_limit=5000, gas_used=5000), None),
    (0, dict(difficulty=0, extra_data=encode_extra(infos("AB"), 1)), None),  # genesis difficulty is free
    (0, dict(difficulty=0, extra_data=encode_extra(infos("AB"), 1), nonce=b"\0" * 7 + b"\x42"), None),  # and nonce
    # validator bytes where they do not belong
    (EPOCH + 1, dict(extra_data=EPOCH_EXTRA), ExtraValidators),
    (1, dict(extra_data=raw_extra(addr("A"))), ExtraValidators),
    (1, dict(extra_data=raw_extra(attestation() + b"\0")), ExtraValidators),
    # malformed epoch lists
    (EPOCH, {}, InvalidEpochValidators),                                            # none at all
    (EPOCH, dict(extra_data=raw_extra(b"\0\1")), InvalidEpochValidators),            # count 0
    (EPOCH, dict(extra_data=raw_extra(VALIDATOR_PART[:-2])), InvalidEpochValidators),  # truncated
    (EPOCH, dict(extra_data=raw_extra(b"\2" + VALIDATOR_PART[1:])), InvalidEpochValidators),  # count < list
    (EPOCH, dict(extra_data=raw_extra(VALIDATOR_PART + b"\1\2\3")), InvalidEpochValidators),  # trailing bytes
    (EPOCH, dict(extra_data=raw_extra(
        b"\2" + addr("B") + bls("B") + addr("A") + bls("A") + b"\4")), InvalidEpochValidators),  # unsorted
    (EPOCH, dict(extra_data=raw_extra(
        b"\2" + (addr("A") + bls("A")) * 2 + b"\4")), InvalidEpochValidators),  # duplicate
    (EPOCH, dict(extra_data=raw_extra(VALIDATOR_PART[:-1] + b"\0")), InvalidTurnLength),
    (1, dict(extra_data=encode_extra(attestation=rlp.encode([1, 2, 3]))), InvalidAttestation),
    (1, dict(extra_data=encode_extra(attestation=attestation(extra=bytes(257)))), InvalidAttestation),
    # header fields
    (1, dict(mix_hash=(1000).to_bytes(32, "big")), InvalidMixDigest),
    (1, dict(mix_hash=b"\1"), InvalidMixDigest),
    (1, dict(uncles_hash=keccak(b"uncle")), InvalidUncleHash),
    (1, dict(nonce=b"\0" * 7 + b"\1"), InvalidNonce),
    (1, dict(nonce=b"\xff" * 8), InvalidNonce),
    (1, dict(difficulty=0), InvalidDifficulty),
    (1, dict(difficulty=3), InvalidDifficulty),
    (1, dict(gas_limit=4999, gas_used=0), InvalidGasLimit),
    (1, dict(gas_limit=2**63, gas_used=0), InvalidGasLimit),
    (1, dict(gas_limit=30_000_000, gas_used=30_000_001), InvalidGasUsed),
])
def test_check_standalone(number, fields, error):
    header = make_header(number=number, **fields)
    if error is None:
        check_standalone(header, epoch_length=EPOCH)
    else:
        with pytest.raises(error, match="want"):
            check_standalone(header, epoch_length=EPOCH)


@pytest.mark.parametrize("parent_gas, gas, divisor, ok", [
    (40_000_000, 40_000_000, 1024, True),
    (40_000_000, 40_039_061, 1024, True),    # bound 40_000_000 // 1024 = 39_062; the change must stay below it
    (40_000_000, 40_039_062, 1024, False),
    (40_000_000, 39_960_939, 1024, True),
    (40_000_000, 39_960_938, 1024, False),
    (40_000_000, 40_156_249, 256, True),     # before Lorentz: 40_000_000 // 256 = 156_250
    (40_000_000, 40_156_250, 256, False),
])
def test_check_gas_limit(parent_gas, gas, divisor, ok):
    parent, header = make_header(gas_limit=parent_gas, gas_used=0), make_header(gas_limit=gas, gas_used=0)
    if ok:
        check_gas_limit(header, parent, divisor)
    else:
        with pytest.raises(InvalidGasLimit, match=f"parent's {parent_gas}"):
            check_gas_limit(header, parent, divisor)


# --- extraData encode / parse ---


@pytest.mark.parametrize("validators, turn_length, att, epoch_block, luban, bohr", [
    ("", None, b"", False, True, True),
    ("", None, attestation(), False, True, True),
    ("BCA", 4, b"", True, True, True),
    ("CBDA", 16, attestation(), True, True, True),
    ("BA", None, attestation(), True, True, False),   # Luban before Bohr: no turnLength byte
    ("CAB", None, b"", True, False, False),           # classic: bare addresses
])
def test_encode_parse_round_trip(validators, turn_length, att, epoch_block, luban, bohr):
    given = infos(validators) if luban else addrs(validators)
    vanity, seal = b"v" * 32, b"s" * EXTRA_SEAL
    extra = encode_extra(given, turn_length, vanity=vanity, attestation=att, seal=seal, luban=luban)
    parsed = parse_extra(extra, epoch_block=epoch_block, luban=luban, bohr=bohr)
    ordered = sorted(validators, key=addr)
    assert parsed.addresses == tuple(addrs(ordered))
    if luban:
        assert [v.vote_address for v in parsed.validators] == [bls(name) for name in ordered]
    assert (parsed.vanity, parsed.turn_length, parsed.attestation, parsed.seal) == (vanity, turn_length, att, seal)
    if att:
        assert decode_attestation(parsed.attestation).target_number == 99


def test_encode_layout_bohr_epoch():
    extra = encode_extra(infos("BA"), turn_length=4)
    assert len(extra) == 32 + 1 + 2 * (20 + 48) + 1 + 65
    assert extra[32] == 2 and extra[33:53] == addr("A") and extra[53:101] == bls("A") and extra[169] == 4


@pytest.mark.parametrize("kwargs", [
    dict(vanity=bytes(31)),
    dict(seal=bytes(64)),
    dict(turn_length=4),                       # turnLength without validators
    dict(validators=[bytes(20)] * 256),        # one count byte
    dict(validators=[bytes(19)]),
    dict(validators=[bytes(20)], turn_length=4, luban=False),
])
def test_encode_rejects(kwargs):
    with pytest.raises(ValueError):
        encode_extra(**kwargs)
