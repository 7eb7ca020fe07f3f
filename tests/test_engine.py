"""consensus/engine.py: every header rule as a table (header in, verdict out), production with back-off, and
validators sealing many epochs through prepare/seal/verify_header on snapshots."""
import pytest
from eth.vm.forks.prague.blocks import PragueBlockHeader
from eth_keys import keys
from eth_utils import keccak

from consensus.engine import HeaderFields, ParliaParams, PosaEngine, header_ms
from consensus.errors import (
    CoinbaseMismatch,
    ExtraValidators,
    FutureBlock,
    InvalidBlockNumber,
    InvalidEpochValidators,
    InvalidGasLimit,
    InvalidMixDigest,
    InvalidNonce,
    InvalidSignature,
    InvalidTimestamp,
    InvalidUncleHash,
    MismatchingEpochTurnLength,
    MismatchingEpochValidators,
    RecentlySigned,
    UnauthorizedValidator,
    UnknownAncestor,
    WrongDifficulty,
)
from consensus.header import EXTRA_SEAL, ValidatorInfo, encode_extra, sign_header
from consensus.snapshot import EpochSet

CHAIN_ID = 714
PERIOD_MS = 1000
GENESIS_TIME = 1_700_000_000

# 22 fixed keys in address order, V00 < V01 < ... < V21.
_SORTED_KEYS = sorted((keys.PrivateKey(i.to_bytes(32, "big")) for i in range(1, 23)),
                      key=lambda k: k.public_key.to_canonical_address())
KEYS = {f"V{i:02}": k for i, k in enumerate(_SORTED_KEYS)}
NAMES = {k.public_key.to_canonical_address(): name for name, k in KEYS.items()}
# The small tables use four validators A < B < C < D and an outsider X.
for _alias, _name in zip("ABCDX", ("V00", "V01", "V02", "V03", "V21")):
    KEYS[_alias] = KEYS[_name]


def addr(name: str) -> bytes:
    return KEYS[name].public_key.to_canonical_address()


def bls(name: str) -> bytes:
    return keccak(name.encode()) + bytes(16)


def genesis(names) -> PragueBlockHeader:
    extra = bytes(32) + b"".join(addr(n) for n in names) + bytes(EXTRA_SEAL)
    return PragueBlockHeader(difficulty=1, block_number=0, gas_limit=40_000_000, timestamp=GENESIS_TIME,
                             extra_data=extra, mix_hash=bytes(32), nonce=bytes(8))


def from_fields(parent, fields: HeaderFields, signer: str) -> PragueBlockHeader:
    header = PragueBlockHeader(
        parent_hash=parent.hash, block_number=parent.block_number + 1, coinbase=fields.coinbase,
        difficulty=fields.difficulty, timestamp=fields.timestamp, mix_hash=fields.mix_hash,
        extra_data=fields.extra_data, gas_limit=fields.gas_limit, gas_used=0, nonce=bytes(8))
    return sign_header(header, KEYS[signer], CHAIN_ID)


class Net:
    """Validators on one chain: headers by hash, a producing engine and an independent verifying one."""

    def __init__(self, names, epoch=8, turn_length=1, election=None, checkpoint_interval=1024):
        self.genesis = genesis(names)
        self.headers = {self.genesis.hash: self.genesis}
        self.head = self.genesis
        params = ParliaParams(CHAIN_ID, PERIOD_MS // 1000, epoch, [addr(n) for n in names], turn_length=turn_length)
        self.db = {}
        self.producer = PosaEngine(params, self.headers.get, self.db, election=election,
                                   checkpoint_interval=checkpoint_interval)
        self.verifier = PosaEngine(params, self.headers.get, {}, election=election)

    def add(self, header):
        self.headers[header.hash] = header
        self.head = header

    def seal_next(self, live) -> PragueBlockHeader | None:
        """The block the live validators make on the head: the earliest allowed sealer wins; verified, added.

        None when none of them may seal (all signed recently: a minority cannot extend the chain)."""
        parent = self.head
        times = {v: self.producer.next_block_ms(parent, addr(v)) for v in live}
        times = {v: t for v, t in times.items() if t is not None}
        if not times:
            return None
        winner = min(times, key=times.get)
        header = from_fields(parent, self.producer.prepare(parent, addr(winner), times[winner]), winner)
        self.verifier.verify_header(header, parent, now_ms=header_ms(header))
        self.add(header)
        return header

    def run(self, count, live):
        """Up to `count` blocks, fewer if the live validators stall."""
        blocks = []
        while len(blocks) < count and (header := self.seal_next(live)) is not None:
            blocks.append(header)
        return blocks


# --- the rule table ---

TABLE_NAMES = "ABCD"  # window (4/2+1)*1-1 = 2; epoch 8


@pytest.fixture(scope="module")
def net():
    """Blocks 1..7 in turn (1 B, 2 C, 3 D, 4 A, 5 B, 6 C, 7 D): header 6's parent is block 5."""
    n = Net(TABLE_NAMES)
    n.run(7, TABLE_NAMES)
    assert [NAMES[h.coinbase] for h in list(n.headers.values())[1:]] == ["V01", "V02", "V03", "V00", "V01",
                                                                          "V02", "V03"]
    return n


def by_number(net, number):
    return next(h for h in net.headers.values() if h.block_number == number)


def candidate(net, parent, coinbase, *, key=None, delay_ms=0, **fields):
    """A sealed child of `parent` by `coinbase`: right difficulty for its turn, parent + period + delay_ms,
    the set in force on an epoch block; `fields` override, `key` signs instead of the coinbase's key."""
    snap = net.verifier.snapshot(parent)
    number = parent.block_number + 1
    ms = header_ms(parent) + PERIOD_MS + delay_ms
    extra = encode_extra(snap.validators, turn_length=snap.turn_length) if number % 8 == 0 else encode_extra()
    values = dict(
        parent_hash=parent.hash, block_number=number, coinbase=addr(coinbase),
        difficulty=2 if snap.in_turn(addr(coinbase)) else 1, timestamp=ms // 1000,
        mix_hash=(ms % 1000).to_bytes(32, "big"), extra_data=extra, gas_limit=parent.gas_limit, gas_used=0,
        nonce=bytes(8))
    header = PragueBlockHeader(**{**values, **fields})
    return sign_header(header, KEYS[key or coinbase], CHAIN_ID)


def garbage_seal(header):
    return header.copy(extra_data=header.extra_data[:-EXTRA_SEAL] + b"\x11" * 64 + b"\x05")


FAR_FUTURE = 10**6  # ms after parent + period


@pytest.mark.parametrize("parent_number, coinbase, options, error, match", [
    # valid: in turn (C for block 6), and out of turn (D) after its back-off: one candidate -> 2000 ms
    (5, "C", {}, None, None),
    (5, "D", dict(delay_ms=2000), None, None),
    (5, "C", dict(delay_ms=5000), None, None),
    # seal
    (5, "C", dict(key="D"), CoinbaseMismatch, "is not the coinbase"),          # forged: D signs as C
    (5, "C", dict(key="X"), CoinbaseMismatch, "is not the coinbase"),          # forged by an outsider
    (5, "C", dict(transform=garbage_seal), InvalidSignature, "recoverable"),
    # who may seal
    (5, "X", dict(delay_ms=5000), UnauthorizedValidator, "is not in the validator set"),
    (5, "B", dict(delay_ms=5000), RecentlySigned, "sealed 1 of the last 2 blocks"),   # B sealed 5
    (5, "A", dict(delay_ms=5000), RecentlySigned, "sealed 1 of the last 2 blocks"),   # A sealed 4
    # difficulty
    (5, "C", dict(difficulty=1), WrongDifficulty, "in turn, want difficulty 2, have 1"),
    (5, "D", dict(delay_ms=2000, difficulty=2), WrongDifficulty, "out of turn, want difficulty 1, have 2"),
    # time
    (5, "C", dict(delay_ms=-1), InvalidTimestamp, "before parent \\+ period \\+ back-off"),
    (5, "D", dict(delay_ms=1999), InvalidTimestamp, r"\+ 2000 = "),                # back-off not waited
    (5, "C", dict(delay_ms=FAR_FUTURE), FutureBlock, "in the future"),
    # extraData: epoch block 8 (parent 7) and non-epoch blocks
    (7, "A", {}, None, None),
    (7, "A", dict(extra_data=encode_extra()), InvalidEpochValidators, "at least one validator"),
    (7, "A", dict(extra_data=encode_extra([addr(n) for n in "ABC"], turn_length=1)), MismatchingEpochValidators,
     r"\(4\), have \[.*\] \(3\)"),
    (7, "A", dict(extra_data=encode_extra([addr(n) for n in "ABCX"], turn_length=1)), MismatchingEpochValidators,
     "want validators"),
    (7, "A", dict(extra_data=encode_extra([ValidatorInfo(addr(n), bls(n)) for n in "ABCD"], turn_length=1)),
     MismatchingEpochValidators, "want BLS key 0x0000"),
    (7, "A", dict(extra_data=encode_extra([addr(n) for n in "ABCD"], turn_length=2)), MismatchingEpochTurnLength,
     "want turn length 1, have 2"),
    (5, "C", dict(extra_data=encode_extra([addr(n) for n in "ABCD"], turn_length=1)), ExtraValidators, "want"),
    # header fields
    (5, "C", dict(block_number=7), InvalidBlockNumber, "does not follow block 5"),
    (5, "C", dict(parent_hash=keccak(b"elsewhere")), InvalidBlockNumber, "does not follow block 5"),
    (5, "C", dict(gas_limit=41_000_000), InvalidGasLimit, "parent's 40000000"),
    (5, "C", dict(uncles_hash=keccak(b"uncle")), InvalidUncleHash, "empty-list hash"),
    (5, "C", dict(nonce=b"\0" * 7 + b"\1"), InvalidNonce, "zero nonce"),
    (5, "C", dict(mix_hash=(1000).to_bytes(32, "big")), InvalidMixDigest, "0..999"),
], ids=lambda v: v.__name__ if isinstance(v, type) else None)
def test_verify_header(net, parent_number, coinbase, options, error, match):
    options = dict(options)
    transform = options.pop("transform", lambda h: h)
    parent = by_number(net, parent_number)
    header = transform(candidate(net, parent, coinbase, **options))
    now_ms = header_ms(parent) + PERIOD_MS + 10_000
    if error is None:
        net.verifier.verify_header(header, parent, now_ms)
    else:
        with pytest.raises(error, match=match):
            net.verifier.verify_header(header, parent, now_ms)


def test_without_a_clock_the_future_is_not_checked(net):
    parent = by_number(net, 5)
    net.verifier.verify_header(candidate(net, parent, "C", delay_ms=FAR_FUTURE), parent)


# --- production: prepare, back-off, next_block_ms ---


def test_who_may_seal_and_when(net):
    parent = by_number(net, 5)  # block 6: C in turn; A (4) and B (5) signed recently
    engine = net.producer
    assert engine.validators_at(parent) == tuple(addr(n) for n in "ABCD")
    assert engine.in_turn_validator(parent) == addr("C") and engine.in_turn(parent, addr("C"))
    assert [engine.signed_recently(parent, addr(n)) for n in "ABCD"] == [True, True, False, False]
    assert engine.backoff_ms(parent, addr("C")) == 0 and engine.backoff_ms(parent, addr("D")) == 2000
    base = header_ms(parent) + PERIOD_MS
    assert engine.next_block_ms(parent) == base
    assert engine.next_block_ms(parent, addr("C")) == base
    assert engine.next_block_ms(parent, addr("D")) == base + 2000
    assert engine.next_block_ms(parent, addr("A")) is None  # signed recently: may not seal at all
    assert engine.next_block_ms(parent, addr("X")) is None  # not a validator


@pytest.mark.parametrize("signer, now_offset, difficulty, delay", [
    ("C", 0, 2, 0),          # in turn, on time
    ("C", 700, 2, 700),      # in turn, late: stamped now
    ("D", 0, 1, 2000),       # out of turn: period + back-off
    ("D", 2500, 1, 2500),
])
def test_prepare_stamps_difficulty_and_time(net, signer, now_offset, difficulty, delay):
    parent = by_number(net, 5)
    now = header_ms(parent) + PERIOD_MS + now_offset
    fields = net.producer.prepare(parent, addr(signer), now)
    assert (fields.coinbase, fields.difficulty, fields.extra_data) == (addr(signer), difficulty, encode_extra())
    assert fields.timestamp * 1000 + int.from_bytes(fields.mix_hash, "big") == header_ms(parent) + PERIOD_MS + delay
    header = from_fields(parent, fields, signer)
    net.verifier.verify_header(header, parent, now_ms=header_ms(header))


@pytest.mark.parametrize("signer, error", [("A", RecentlySigned), ("X", UnauthorizedValidator)])
def test_prepare_refuses_who_may_not_seal(net, signer, error):
    with pytest.raises(error):
        net.producer.prepare(by_number(net, 5), addr(signer), 0)


def test_prepare_writes_the_set_it_is_given_on_epoch_blocks(net):
    parent = by_number(net, 7)
    next_set = [ValidatorInfo(addr(n), bls(n)) for n in "DCB"]
    fields = net.producer.prepare(parent, addr("A"), 0, validators=next_set, turn_length=2)
    assert fields.extra_data == encode_extra(next_set, turn_length=2)
    default = net.producer.prepare(parent, addr("A"), 0)  # the set in force, with its BLS keys and turn length
    assert default.extra_data == encode_extra([addr(n) for n in "ABCD"], turn_length=1)
    # a node whose election agrees accepts it; one that expects the old set does not
    agreeing = PosaEngine(net.verifier.params, net.headers.get, election=lambda p: EpochSet.of(next_set, 2))
    header = from_fields(parent, fields, "A")
    agreeing.verify_header(header, parent)
    with pytest.raises(MismatchingEpochValidators):
        net.verifier.verify_header(header, parent)
    with pytest.raises(ValueError, match="not an epoch block"):
        net.producer.prepare(by_number(net, 5), addr("C"), 0, validators=next_set)


def test_unknown_ancestor_is_reported(net):
    orphan_parent = candidate(net, by_number(net, 5), "C", parent_hash=keccak(b"nowhere"))
    header = candidate(net, by_number(net, 5), "C", parent_hash=orphan_parent.hash, block_number=7)
    with pytest.raises(UnknownAncestor, match="parent of block 6"):
        net.verifier.verify_header(header, orphan_parent)


# --- many validators over epochs ---

V21 = [f"V{i:02}" for i in range(21)]  # the genesis set: V00..V20


def test_21_validators_rotate_in_turn_across_epochs_with_set_changes():
    # epoch 30; at 30: V00 leaves, V21 joins; at 60: the same set with turn length 2
    after_30 = [f"V{i:02}" for i in range(1, 22)]
    schedule = {30: EpochSet.of([ValidatorInfo(addr(n), bls(n)) for n in after_30], 1),
                60: EpochSet.of([ValidatorInfo(addr(n), bls(n)) for n in after_30], 2)}
    net = Net(V21, epoch=30, election=lambda parent: schedule.get(parent.block_number + 1))  # else: no change
    everyone = V21 + ["V21"]
    blocks = net.run(90, everyone)
    assert all(h.difficulty == 2 for h in blocks)  # every slot sealed in turn
    signers = [NAMES[h.coinbase] for h in blocks]
    # window (21/2+1)*1-1 = 10: the set announced at 30 seals from block 41, the one at 60 from 60+10+1 = 71
    for number, signer in enumerate(signers, start=1):
        if number <= 40:
            assert signer == V21[number % 21]
        elif number <= 70:
            assert signer == after_30[number % 21]
        else:
            assert signer == after_30[(number // 2) % 21]
    assert "V21" not in signers[:40] and "V21" in signers[40:]
    assert "V00" in signers[:40] and "V00" not in signers[40:]
    assert all(signers[i] == signers[i + 1] for i in range(71, 89, 2))  # turn length 2: pairs from block 72
    # times: every in-turn block exactly one period after its parent
    assert all(header_ms(b) - header_ms(a) == PERIOD_MS for a, b in zip([net.genesis] + blocks, blocks))
    # the epoch blocks carry what the election said, with BLS keys
    unsealed = encode_extra(schedule[30].validators, turn_length=1)[:-EXTRA_SEAL]
    assert blocks[29].extra_data[:-EXTRA_SEAL] == unsealed
    assert blocks[59].extra_data[:-EXTRA_SEAL] == encode_extra(schedule[60].validators, turn_length=2)[:-EXTRA_SEAL]


def test_a_stopped_validator_is_covered_out_of_turn_and_the_chain_never_stalls():
    net = Net(V21, epoch=30)
    live = [v for v in V21 if v != "V05"]
    blocks = net.run(90, live)
    assert len(blocks) == 90 and "V05" not in {NAMES[h.coinbase] for h in blocks}
    parents = [net.genesis] + blocks
    for parent, header in zip(parents, blocks):
        gap = header_ms(header) - header_ms(parent)
        if header.block_number % 21 == 5:  # V05's slots: out of turn, after the smallest back-off
            assert header.difficulty == 1
            assert gap == PERIOD_MS + 2000
        elif header.difficulty == 1:
            # the in-turn validator covered an earlier slot and is still in the recents window: with it unable
            # to seal, the first of the shuffled others seals at once (Lorentz)
            assert net.verifier.signed_recently(parent, net.verifier.in_turn_validator(parent))
            assert gap == PERIOD_MS
        else:
            assert gap == PERIOD_MS and header.coinbase == net.verifier.in_turn_validator(parent)
    assert sum(h.difficulty == 1 for h in blocks) >= 4  # at least V05's four slots (5, 26, 47, 68, 89)


def test_a_minority_stalls_and_one_engine_verifies_both_forks():
    # from block 10 (where the genesis set's own switch cleared the recents) 14 validators keep sealing, while
    # 7 seal once each and then all sit in the recents window (10 blocks): the minority's fork stops at 7 blocks
    net = Net(V21, epoch=30)
    net.run(10, V21)
    fork_point = net.head
    heavy = net.run(30, V21[:14])
    net.head = fork_point
    light = net.run(30, V21[14:])
    assert len(heavy) == 30 and len(light) == 7
    assert heavy[0].hash != light[0].hash
    assert sum(h.difficulty for h in heavy) > sum(h.difficulty for h in light)
    fresh = PosaEngine(net.verifier.params, net.headers.get)  # one snapshot store across both forks
    for chain in (heavy, light):
        for parent, header in zip([fork_point] + chain, chain):
            fresh.verify_header(header, parent)
    assert all(fresh.signed_recently(light[-1], addr(v)) for v in V21[14:])


def test_checkpoints_keep_verification_from_replaying_the_chain():
    net = Net(V21, epoch=30, checkpoint_interval=16)
    net.run(70, V21)
    lookups = []

    def counting(block_hash):
        lookups.append(block_hash)
        return net.headers.get(block_hash)

    restarted = PosaEngine(net.verifier.params, counting, net.db, checkpoint_interval=16)  # same db, cold cache
    assert restarted.validators_at(net.head) == net.producer.validators_at(net.head)
    assert len(lookups) == 70 - 64  # back to the checkpoint at 64, not to genesis
    assert restarted.snapshot(net.head) == net.producer.snapshot(net.head)


# --- without a header lookup: the single-validator chain ---


def test_static_engine_runs_a_single_validator_chain_across_epochs():
    engine = PosaEngine(ParliaParams(CHAIN_ID, 1, 4, [addr("A")]))
    parent = genesis("A")
    for _ in range(9):
        assert engine.validators_at(parent) == (addr("A"),)
        assert engine.next_block_ms(parent) == engine.next_block_ms(parent, addr("A")) == header_ms(parent) + 1000
        header = from_fields(parent, engine.prepare(parent, addr("A"), 0), "A")
        engine.verify_header(header, parent, now_ms=header_ms(header))
        assert header.difficulty == 2
        parent = header
    with pytest.raises(UnauthorizedValidator):
        engine.prepare(parent, addr("B"), 0)
    with pytest.raises(ValueError, match="needs header_by_hash"):
        PosaEngine(ParliaParams(CHAIN_ID, 1, 4, [addr("A")]), db={})
