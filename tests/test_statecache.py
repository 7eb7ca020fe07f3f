"""node/chain/statecache.py: values by trie root, carried over to the next root, bounded; and the account db reading
through it gives exactly what the trie gives (roots and reads compared with a cache-less AccountDB over the same
changes, across blocks, storage wipes and a return to an older root)."""
import random

from eth.constants import BLANK_ROOT_HASH
from eth.db.atomic import AtomicDB
from eth_utils import keccak

from node.chain.db import LmdbDB
from node.chain.statecache import MISSING, StateCache
from node.chain.statedb import BatchedAccountDB


def test_values_are_per_root_and_carry_over():
    cache = StateCache()
    cache.put(b"r1", b"a", b"1")
    cache.put(b"r1", b"b", b"2")
    assert cache.get(b"r1", b"a") == b"1" and cache.get(b"r2", b"a") is MISSING and cache.get(b"r1", b"c") is MISSING
    cache.advance(b"r1", b"r2", [(b"a", b"9"), (b"c", b"")])
    assert [cache.get(b"r2", k) for k in (b"a", b"b", b"c")] == [b"9", b"2", b""]
    assert cache.get(b"r1", b"a") == b"1"   # the old root keeps its values
    cache.put(b"r2", b"d", b"4")
    assert cache.get(b"r1", b"d") is MISSING


def test_bounded_in_roots_and_keys():
    cache = StateCache(max_roots=2, max_keys=3)
    for key in (b"a", b"b", b"c", b"d"):
        cache.put(b"r1", key, key)
    assert cache.get(b"r1", b"d") is MISSING and cache.get(b"r1", b"c") == b"c"
    cache.advance(b"r1", b"r2", [(b"x", b"1")])   # 4 keys: more than a layer holds, the change alone is kept
    assert cache.get(b"r2", b"x") == b"1" and cache.get(b"r2", b"a") is MISSING
    cache.touch(b"r1")
    cache.put(b"r3", b"a", b"1")   # a third root: the least recently used (r2) goes
    assert len(cache) == 2 and cache.get(b"r2", b"x") is MISSING and cache.get(b"r1", b"a") == b"a"


def _apply(db, root: bytes, changes: list) -> tuple[bytes, list]:
    """One block of account and storage changes on `root`; returns the new root and every value read after."""
    accounts = BatchedAccountDB(db, root)
    for address, kind, key, value in changes:
        if kind == "balance":
            accounts.set_balance(address, value)
        elif kind == "storage":
            accounts.set_storage(address, key, value)
        elif kind == "wipe":
            accounts.delete_storage(address)
        else:
            accounts.delete_account(address)
    accounts.persist()
    return accounts.state_root, _reads(db, accounts.state_root, {c[0] for c in changes})


def _reads(db, root: bytes, addresses) -> list:
    accounts = BatchedAccountDB(db, root)
    return [(a, accounts.get_balance(a), accounts.get_nonce(a), [accounts.get_storage(a, s) for s in range(4)])
            for a in sorted(addresses)]


def test_reads_through_the_cache_are_the_tries(tmp_path):
    rng = random.Random(15)
    addresses = [keccak(bytes([i]))[:20] for i in range(6)]
    store = LmdbDB(tmp_path / "db")   # shares StateCaches among its states
    plain = AtomicDB()                # none: every read goes to the trie
    assert getattr(plain, "state_caches", None) is None
    try:
        roots = [(BLANK_ROOT_HASH, BLANK_ROOT_HASH)]
        for _ in range(25):
            changes = []
            for _ in range(rng.randint(1, 6)):
                kind = rng.choice(["balance", "balance", "storage", "storage", "wipe", "delete"])
                changes.append((rng.choice(addresses), kind, rng.randrange(4), rng.choice([0, rng.randrange(1, 99)])))
            base = rng.choice(roots[-3:])   # sometimes on an older root, as after evm_revert
            cached_root, cached_reads = _apply(store, base[0], changes)
            plain_root, plain_reads = _apply(plain, base[1], changes)
            assert cached_root == plain_root and cached_reads == plain_reads
            roots.append((cached_root, plain_root))
        for cached_root, plain_root in roots[1:]:   # every root, long after it was the latest
            assert _reads(store, cached_root, addresses) == _reads(plain, plain_root, addresses)
        assert len(store.state_caches.accounts) > 1 and len(store.state_caches.storage) > 1
    finally:
        store.close()
