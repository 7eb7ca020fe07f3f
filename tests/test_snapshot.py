"""consensus/snapshot.py: recents, turns and set switches as tables over signed headers; the snapshot store."""
import pytest
from eth.vm.forks.prague.blocks import PragueBlockHeader
from eth_keys import keys
from eth_utils import keccak

from consensus.errors import (
    OutOfRangeChain,
    RecentlySigned,
    UnauthorizedValidator,
    UnknownAncestor,
)
from consensus.header import ValidatorInfo, encode_extra, sign_header
from consensus.snapshot import (
    GENESIS_KEY,
    EpochSet,
    Snapshot,
    SnapshotStore,
    backoff_ms,
    shuffled_steps,
)
from node.chain.db import LmdbDB

CHAIN_ID = 714

# Fixed keys 1..8 named in address order: A < B < ... < H.
_SORTED_KEYS = sorted((keys.PrivateKey(i.to_bytes(32, "big")) for i in range(1, 9)),
                      key=lambda k: k.public_key.to_canonical_address())
KEYS = dict(zip("ABCDEFGH", _SORTED_KEYS))
NAMES = {k.public_key.to_canonical_address(): name for name, k in KEYS.items()}


def addr(name: str) -> bytes:
    return KEYS[name].public_key.to_canonical_address()


def bls(name: str) -> bytes:
    return keccak(name.encode()) + bytes(16)


def epoch_set(names: str, turn_length: int = 1) -> EpochSet:
    return EpochSet.of([ValidatorInfo(addr(n), bls(n)) for n in names], turn_length)


def genesis(names: str) -> PragueBlockHeader:
    """BSC genesis layout: vanity, bare addresses (any order), zero seal."""
    extra = bytes(32) + b"".join(addr(n) for n in names) + bytes(65)
    return PragueBlockHeader(difficulty=1, block_number=0, gas_limit=40_000_000, timestamp=1_700_000_000,
                             extra_data=extra, mix_hash=bytes(32), nonce=bytes(8))


def child(parent, signer: str, extra: bytes | None = None) -> PragueBlockHeader:
    header = PragueBlockHeader(
        parent_hash=parent.hash, block_number=parent.block_number + 1, coinbase=addr(signer), difficulty=2,
        gas_limit=40_000_000, timestamp=parent.timestamp + 1, extra_data=extra or encode_extra(),
        mix_hash=bytes(32), nonce=bytes(8))
    return sign_header(header, KEYS[signer], CHAIN_ID)


def anchored(names: str, turn_length: int, number: int = 100, epoch_length: int = 1000):
    """A snapshot in the middle of an epoch (no switch pending) and a header standing for its block."""
    anchor = PragueBlockHeader(difficulty=2, block_number=number, gas_limit=40_000_000, timestamp=1_700_000_000,
                               extra_data=encode_extra(), mix_hash=bytes(32), nonce=bytes(8))
    snap = Snapshot(CHAIN_ID, epoch_length, number, anchor.hash, epoch_set(names).validators, turn_length)
    return snap, anchor


def names(snap: Snapshot) -> str:
    return "".join(NAMES[a] for a in snap.addresses)


def recents(snap: Snapshot) -> list[tuple[int, str]]:
    return [(block, NAMES[signer]) for block, signer in snap.recents]


# --- recents and authorisation ---


@pytest.mark.parametrize("validators, turn_length, signers, verdict", [
    ("ABC", 1, "ABCABC", None),
    ("ABC", 1, "ABAB", None),                        # window (3/2+1)*1-1 = 1 block
    ("ABC", 1, "ABBC", (2, RecentlySigned)),
    ("ABCD", 1, "ABCA", None),                       # window 2
    ("ABCD", 1, "ABA", (2, RecentlySigned)),
    ("ABCDE", 1, "ABA", (2, RecentlySigned)),         # N=5: window still 2
    ("ABCDE", 1, "ABCA", None),
    ("ABCDEF", 1, "ABCA", (3, RecentlySigned)),       # N=6: window 3
    ("ABCDEF", 1, "ABCDA", None),
    ("ABC", 4, "AAAABBBBCCCCAAAA", None),             # turn length 4: window 7, at most 3 of one signer in it
    ("ABC", 4, "AAAAA", (4, RecentlySigned)),
    ("ABC", 4, "AAAABA", (5, RecentlySigned)),
    ("ABC", 4, "AAAABBBBA", None),                    # only three of A's blocks are left in the window
    ("A", 1, "AAAA", None),                           # one validator: window 0
    ("ABC", 1, "AD", (1, UnauthorizedValidator)),
    ("ABC", 1, "D", (0, UnauthorizedValidator)),
])
def test_recents_and_authorisation(validators, turn_length, signers, verdict):
    snap, parent = anchored(validators, turn_length)
    for index, signer in enumerate(signers):
        header = child(parent, signer)
        if verdict is not None and index == verdict[0]:
            with pytest.raises(verdict[1], match=f"block {header.block_number}: signer 0x{addr(signer).hex()}"):
                snap.apply([header])
            return
        snap, parent = snap.apply([header]), header
    assert verdict is None
    assert snap.number == 100 + len(signers) and snap.hash == parent.hash
    # the window's blocks before the next one, and the last block itself
    assert recents(snap) == [(100 + i + 1, s) for i, s in enumerate(signers)][-(snap.recents_window + 1):]


@pytest.mark.parametrize("validators, turn_length, number, in_turn, other", [
    ("ABC", 1, 100, "C", "A"),      # block 101: 101 % 3 = 2
    ("ABC", 1, 101, "A", "C"),      # block 102: 102 % 3 = 0
    ("ABCD", 4, 100, "B", "A"),     # block 101: (101 // 4) % 4 = 25 % 4 = 1
    ("ABCD", 4, 102, "B", "C"),     # block 103: 25 again, B's turn lasts blocks 100..103
    ("ABCD", 4, 103, "C", "B"),     # block 104: 26 % 4 = 2
])
def test_in_turn_validator_is_for_the_next_block(validators, turn_length, number, in_turn, other):
    snap, _ = anchored(validators, turn_length, number)
    assert snap.in_turn_validator() == addr(in_turn)
    assert snap.in_turn(addr(in_turn)) and not snap.in_turn(addr(other))


def test_apply_several_headers_at_once_equals_one_by_one():
    snap, parent = anchored("ABCDE", 2)
    headers = []
    for signer in "AABBCCDDEEAA":
        headers.append(child(parent, signer))
        parent = headers[-1]
    one_by_one = snap
    for header in headers:
        one_by_one = one_by_one.apply([header])
    assert snap.apply(headers) == one_by_one


@pytest.mark.parametrize("break_it", ["gap", "wrong parent"])
def test_apply_refuses_headers_that_do_not_continue_the_snapshot(break_it):
    snap, parent = anchored("ABC", 1)
    header = child(child(parent, "A"), "B") if break_it == "gap" else child(anchored("ABC", 1, 99)[1], "A")
    with pytest.raises(OutOfRangeChain, match="want block 101 on parent"):
        snap.apply([header])


# --- set switches ---


def rotate(snap, parent, count, extra_for=lambda number: None):
    """Apply `count` blocks, each sealed by its in-turn validator; returns every snapshot on the way.

    Epoch blocks carry `extra_for(number)`, or else the set in force.
    """
    seen = []
    for _ in range(count):
        number = parent.block_number + 1
        extra = extra_for(number)
        if extra is None and number % snap.epoch_length == 0:
            extra = encode_extra(snap.validators, turn_length=snap.turn_length)
        header = child(parent, NAMES[snap.in_turn_validator()], extra)
        snap, parent = snap.apply([header]), header
        seen.append(snap)
    return snap, parent, seen


def test_genesis_snapshot_reads_bare_addresses_in_any_order():
    header = genesis("CAB")
    snap = Snapshot.genesis(header, CHAIN_ID, epoch_length=10, turn_length=2)
    assert names(snap) == "ABC" and snap.turn_length == 2
    assert all(v.vote_address == bytes(48) for v in snap.validators)
    assert (snap.number, snap.hash, snap.recents) == (0, header.hash, ())
    assert snap.pending == (0, EpochSet(snap.validators, 2))  # epoch 0 switches to its own set like any epoch


def test_set_switch_after_epoch_block_plus_window():
    epoch = 10
    snap = Snapshot.genesis(genesis("ABC"), CHAIN_ID, epoch)
    parent = genesis("ABC")
    announced = {10: encode_extra(epoch_set("ABCD").validators, turn_length=2),
                 20: encode_extra(epoch_set("AB").validators, turn_length=1)}
    snap, parent, seen = rotate(snap, parent, 25, announced.get)
    by_number = {s.number: s for s in seen}
    # epoch 0: window (3/2+1)*1-1 = 1, so genesis's own set takes over after block 1 and clears the recents
    assert by_number[1].recents == () and by_number[1].pending is None
    assert recents(by_number[3]) == [(2, "C"), (3, "A")]  # the window's block and the block itself
    # epoch 10 announces ABCD/T=2; the old set (window 1) keeps sealing through block 11
    assert names(by_number[10]) == "ABC" and by_number[10].pending == (10, epoch_set("ABCD", 2))
    assert by_number[10].switch_block(10) == 11
    assert (names(by_number[11]), by_number[11].turn_length, by_number[11].recents) == ("ABCD", 2, ())
    assert by_number[11].pending is None
    # new window (4/2+1)*2-1 = 5 also matches block 15 (15 % 10): no second switch, the recents stay
    assert [b for b, _ in by_number[15].recents] == [12, 13, 14, 15]
    assert by_number[11].validators == epoch_set("ABCD", 2).validators  # BLS keys carried over from extraData
    # epoch 20 announces AB/T=1; ABCD's window 5 keeps it in force through block 25
    assert names(by_number[24]) == "ABCD" and names(by_number[25]) == "AB" and by_number[25].turn_length == 1
    with pytest.raises(UnauthorizedValidator):
        snap.apply([child(parent, "D")])
    assert snap.apply([child(parent, NAMES[snap.in_turn_validator()])]).number == 26


def test_a_set_whose_window_reaches_the_next_epoch_never_takes_over():
    # One validator: window 0, so the set announced at block 4 takes over at block 4 itself. Eight validators
    # then have window (8/2+1)-1 = 4 >= epoch 4: BSC's switch condition number % epoch == window never holds,
    # and each epoch's announcement replaces the last one unused.
    announce = {4: epoch_set("ABCDEFGH"), 8: epoch_set("AB"), 12: epoch_set("AB"), 16: epoch_set("ABC")}
    snap, _, seen = rotate(Snapshot.genesis(genesis("A"), CHAIN_ID, 4), genesis("A"), 18,
                           lambda n: encode_extra(announce[n].validators, turn_length=1) if n in announce else None)
    assert names(seen[2]) == "A" and names(seen[3]) == "ABCDEFGH"
    assert [names(s) for s in seen[4:]] == ["ABCDEFGH"] * 14
    assert snap.pending == (16, epoch_set("ABC"))


def test_encode_decode_round_trip():
    snap, _, _ = rotate(Snapshot.genesis(genesis("ABC"), CHAIN_ID, 10), genesis("ABC"), 10,
                             lambda n: encode_extra(epoch_set("ABCD").validators, turn_length=3) if n == 10 else None)
    assert snap.pending is not None and snap.recents
    assert Snapshot.decode(snap.encode()) == snap


# --- back-off ---


@pytest.mark.parametrize("count", [0, 1, 2, 7, 21])
def test_shuffled_steps_are_a_deterministic_permutation(count):
    assert sorted(shuffled_steps(count, 42)) == list(range(count))
    assert shuffled_steps(count, 42) == shuffled_steps(count, 42)


def test_shuffle_depends_on_the_seed():
    assert len({tuple(shuffled_steps(7, seed)) for seed in range(10)}) > 1


def test_backoff_in_turn_and_out_of_turn():
    snap, _ = anchored("ABCDEFG", 1)  # block 101: in turn is 101 % 7 = 3 -> D
    assert snap.in_turn_validator() == addr("D")
    delays = {name: backoff_ms(snap, addr(name)) for name in "ABCDEFG"}
    assert delays.pop("D") == 0
    # the six others wait 2 s plus a distinct whole number of 1 s wiggles
    assert sorted(delays.values()) == [2000 + 1000 * k for k in range(6)]
    assert {n: backoff_ms(snap, addr(n), 500, 100) for n in delays} == {n: 500 + (d - 2000) // 10
                                                                        for n, d in delays.items()}


def test_backoff_when_the_in_turn_validator_signed_recently():
    snap, parent = anchored("ABCDEFG", 1)  # window (7/2+1)-1 = 3
    for signer in "AGB":  # blocks 101..103
        header = child(parent, signer)
        snap, parent = snap.apply([header]), header
    # block 104: in turn is 104 % 7 = 6 -> G, which sealed 102, inside the window
    assert snap.in_turn_validator() == addr("G") and snap.signed_recently(addr("G"))
    delays = {n: backoff_ms(snap, addr(n)) for n in "CDEF"}
    # G cannot seal: one of the others may seal at once, the rest from 2 s on (Lorentz)
    assert sorted(delays.values()) == [0, 2000, 3000, 4000]
    assert backoff_ms(snap, addr("A")) == backoff_ms(snap, addr("B")) == 0  # recent: may not seal at all
    assert backoff_ms(snap, addr("H")) == 0  # not a validator


# --- the store ---


class Headers:
    """header_by_hash over a dict, counting lookups."""

    def __init__(self, *headers):
        self.by_hash = {h.hash: h for h in headers}
        self.lookups = 0

    def add(self, header):
        self.by_hash[header.hash] = header

    def __call__(self, block_hash):
        self.lookups += 1
        return self.by_hash.get(block_hash)


def build_chain(length: int, validators: str = "ABC", epoch: int = 50):
    """Genesis and `length` in-turn blocks; returns the headers and the snapshot after the last."""
    snap, _, _ = rotate(Snapshot.genesis(genesis(validators), CHAIN_ID, epoch), genesis(validators), 0)
    headers = [genesis(validators)]
    for _ in range(length):
        snap, header, _ = rotate(snap, headers[-1], 1)
        headers.append(header)
    return headers, snap


def test_store_walks_back_only_to_the_nearest_checkpoint(tmp_path):
    headers, expected = build_chain(300)
    lookup = Headers(*headers)
    db = {}
    store = SnapshotStore(CHAIN_ID, 50, lookup, db, checkpoint_interval=64)
    assert store.get(headers[300]) == expected
    assert lookup.lookups == 300  # first time: back to genesis
    assert sorted(Snapshot.decode(v).number for k, v in db.items() if k != GENESIS_KEY) == [0, 64, 128, 192, 256]
    assert db[GENESIS_KEY] == headers[0].hash

    lookup.lookups = 0
    fresh = SnapshotStore(CHAIN_ID, 50, lookup, db, checkpoint_interval=64)  # empty memory, same db
    assert fresh.get(headers[300]) == expected
    assert lookup.lookups == 300 - 256  # headers 299..256, then the checkpoint at 256
    lookup.lookups = 0
    assert fresh.get(headers[300]) == expected and lookup.lookups == 0  # now in memory
    following = child(headers[300], NAMES[expected.in_turn_validator()])
    lookup.add(following)
    assert fresh.get(following).number == 301 and lookup.lookups == 1  # its parent, whose snapshot is cached


def test_store_checkpoints_survive_reopening_lmdb(tmp_path):
    headers, expected = build_chain(140)
    lookup = Headers(*headers)
    db = LmdbDB(tmp_path / "db")
    SnapshotStore(CHAIN_ID, 50, lookup, db, checkpoint_interval=64).get(headers[140])
    db.close()
    db = LmdbDB(tmp_path / "db")
    lookup.lookups = 0
    assert SnapshotStore(CHAIN_ID, 50, lookup, db, checkpoint_interval=64).get(headers[140]) == expected
    assert lookup.lookups == 140 - 128
    db.close()


def test_store_on_a_fork_shares_the_common_ancestor():
    headers, _ = build_chain(20)
    lookup = Headers(*headers)
    store = SnapshotStore(CHAIN_ID, 50, lookup)
    store.get(headers[20])
    base = store.get(headers[15])
    fork = child(headers[15], NAMES[base.in_turn_validator()], encode_extra(vanity=b"fork".ljust(32, b"\0")))
    assert fork.hash != headers[16].hash
    lookup.add(fork)
    lookup.lookups = 0
    assert store.get(fork).hash == fork.hash and lookup.lookups == 1  # block 15, whose snapshot was cached


def test_store_reports_a_missing_ancestor():
    headers, _ = build_chain(5)
    store = SnapshotStore(CHAIN_ID, 50, Headers(headers[5], headers[4]))
    with pytest.raises(UnknownAncestor, match="parent of block 4"):
        store.get(headers[5])
