"""node/trieupdate.py: a batch of sets and deletes applied in one pass gives HexaryTrie's root, and the new trie's
nodes are in the db (HexaryTrie reads every key back from them)."""
import random

import pytest
from eth_utils import keccak
from trie import HexaryTrie
from trie.exceptions import MissingTrieNode, ValidationError

from node.chain.triebuild import BLANK_ROOT
from node.chain.trieupdate import update_trie


def _hexary(db: dict, root: bytes, changes: dict) -> bytes:
    """The reference: HexaryTrie, one key at a time."""
    trie = HexaryTrie(db, root)
    for key, value in changes.items():
        if value:
            trie[key] = value
        else:
            del trie[key]
    return trie.root_hash


def _stored(items: dict) -> tuple[dict, bytes]:
    db: dict = {}
    return db, _hexary(db, BLANK_ROOT, items)


def _read(trie: HexaryTrie, key: bytes) -> bytes:
    """An absent key's value (b""). py-trie refuses to look up a key that ends inside an extension's path (keys of
    different lengths); that counts as absent too."""
    try:
        return trie[key]
    except ValidationError as exc:
        assert "extension node with remaining key" in str(exc)
        return b""


def _reachable(db: dict, root: bytes) -> set[bytes]:
    """Hashes of every stored node of the trie at `root` (raises KeyError if one is missing)."""
    if root == BLANK_ROOT:
        return set()
    return set(HexaryTrie(db, root).regenerate_ref_count())


def _check(items: dict, changes: dict) -> bytes:
    """Apply `changes` to a stored trie of `items` both ways and compare; returns the new root."""
    db, root = _stored(items)
    reference_db = dict(db)
    expected = _hexary(reference_db, root, changes)
    written: dict = {}

    class Recording(dict):
        def __setitem__(self, key, value):
            written[key] = value
            super().__setitem__(key, value)

    ours = Recording(db)
    new_root = update_trie(ours, root, changes.items())
    assert new_root == expected
    final = {**items, **changes}
    reader, reference = HexaryTrie(ours, new_root), HexaryTrie(reference_db, expected)
    for key, value in final.items():
        if value:
            assert reader[key] == value
        else:
            assert _read(reader, key) == _read(reference, key) == b""
    assert _read(reader, b"\xfe\xed\xfa\xce") == b""
    # only nodes of the new trie are written, and each is stored under its hash
    reachable = _reachable(ours, new_root)
    assert set(written) <= reachable
    assert all(keccak(encoded) == digest for digest, encoded in written.items())
    return new_root


TABLE = {
    # name: (existing items, changes)
    "empty trie, no changes": ({}, {}),
    "empty trie, one set": ({}, {b"\x01\x02": b"v"}),
    "empty trie, deletes of absent keys": ({}, {b"\x01": b"", b"\x02": None}),
    "one leaf replaced": ({b"\x01\x02": b"a"}, {b"\x01\x02": b"b"}),
    "one leaf split into a branch": ({b"\x01\x02": b"a"}, {b"\x01\x03": b"b"}),
    "leaf deleted: empty trie": ({b"\x01\x02": b"a"}, {b"\x01\x02": b""}),
    "delete everything": ({bytes([i, j]): bytes([i + j + 1]) * 40 for i in range(4) for j in range(4)},
                          {bytes([i, j]): b"" for i in range(4) for j in range(4)}),
    "branch collapses into a leaf": ({b"\x10": b"a" * 40, b"\x20": b"b" * 40}, {b"\x10": b""}),
    "branch collapses into an extension over a branch": (
        {b"\x10": b"a" * 40, b"\x21\x00": b"b" * 40, b"\x21\x01": b"c" * 40}, {b"\x10": None}),
    "extension split by a new key": ({b"\x12\x34\x00": b"a" * 40, b"\x12\x34\x01": b"b" * 40},
                                     {b"\x12\x00": b"c" * 40}),
    "extension split at its last nibble": ({b"\x12\x34\x00": b"a", b"\x12\x34\x01": b"b"}, {b"\x12\x35": b"c"}),
    "extension split, new key deleted again (absent)": ({b"\x12\x34\x00": b"a" * 40, b"\x12\x34\x01": b"b" * 40},
                                                        {b"\x12\x00": b""}),
    "extension over a branch that collapses": ({b"\x12\x34\x00": b"a" * 40, b"\x12\x34\x01": b"b" * 40},
                                               {b"\x12\x34\x00": b""}),
    "key that is a prefix of another": ({b"\x01": b"a", b"\x01\x02": b"b"}, {b"\x01": b"", b"\x01\x02\x03": b"c"}),
    "branch value set and deleted": ({b"\x01\x02": b"b", b"\x01\x03": b"c"}, {b"\x01": b"a", b"\x01\x02": None}),
    "inline nodes under 32 bytes": ({bytes([i]): bytes([i + 1]) for i in range(0, 64, 3)},
                                    {bytes([i]): (bytes([i + 7]) if i % 2 else b"") for i in range(0, 64, 5)}),
    "hashed keys, mixed": ({keccak(bytes([i])): bytes([i + 1]) * 70 for i in range(100)},
                           {keccak(bytes([i])): (b"" if i % 3 == 0 else b"x" * 33) for i in range(50, 160)}),
}


@pytest.mark.parametrize("name", list(TABLE))
def test_table(name):
    items, changes = TABLE[name]
    _check(items, changes)


def test_no_changes_keeps_the_root():
    db, root = _stored({b"\x01": b"a" * 40})
    assert update_trie(db, root, []) == root


def test_deleting_everything_gives_the_blank_root():
    items = {keccak(bytes([i])): b"v" * 40 for i in range(40)}
    assert _check(items, dict.fromkeys(items, b"")) == BLANK_ROOT


def test_a_key_twice_is_refused():
    with pytest.raises(ValueError, match="twice"):
        update_trie({}, BLANK_ROOT, [(b"\x01", b"a"), (b"\x01", b"b")])


def test_a_missing_node_raises_trie_missing_node():
    items = {keccak(bytes([i])): b"v" * 40 for i in range(40)}
    db, root = _stored(items)
    victim = next(iter(_reachable(db, root) - {root}))
    del db[victim]
    with pytest.raises(MissingTrieNode):
        update_trie(db, root, [(key, b"w" * 40) for key in items])


def _random_case(rnd: random.Random):
    shape = rnd.choice(["hashed", "short", "prefix"])
    if shape == "hashed":   # state tries: 32-byte hashed keys
        universe = [keccak(rnd.randbytes(8)) for _ in range(rnd.randrange(1, 120))]
    elif shape == "short":  # few distinct nibbles: long shared prefixes, extensions
        universe = list({bytes(rnd.choice(b"\x00\x01\x10\x11") for _ in range(rnd.randrange(2, 5)))
                         for _ in range(rnd.randrange(1, 40))})
    else:                   # keys of different lengths, some prefixes of others
        universe = list({bytes(rnd.randrange(3) for _ in range(rnd.randrange(1, 5))) for _ in range(40)})

    def value():
        return rnd.randbytes(rnd.choice([1, 2, 5, 20, 40]))   # small ones make inline nodes
    existing = {key: value() for key in universe if rnd.random() < 0.6}
    p_delete = rnd.choice([0.0, 0.3, 0.7, 1.0])
    changes = {key: (rnd.choice([b"", None]) if rnd.random() < p_delete else value())
               for key in universe if rnd.random() < rnd.choice([0.1, 0.5, 1.0])}
    return existing, changes


@pytest.mark.parametrize("seed", range(4))
def test_random_change_sets_equal_hexary_trie(seed):
    rnd = random.Random(seed)
    for _ in range(100):
        existing, changes = _random_case(rnd)
        _check(existing, changes)
