"""LmdbDB: one LMDB write per transaction, rollback on error, readers see committed data only."""
import threading

import pytest

from node.chain.db import LmdbDB


@pytest.fixture
def db(tmp_path):
    store = LmdbDB(tmp_path / "db")
    yield store
    store.close()


def test_plain_writes_and_deletes(db):
    db[b"k"] = b"v"
    assert db[b"k"] == b"v" and db.exists(b"k")
    del db[b"k"]
    assert not db.exists(b"k")
    with pytest.raises(KeyError):
        db[b"k"]
    with pytest.raises(KeyError):
        del db[b"k"]


def test_transaction_commits_all_or_nothing(db):
    with db.transaction():
        db[b"a"] = b"1"
        with db.atomic_batch() as batch:
            batch[b"b"] = b"2"
        assert db[b"b"] == b"2"
    assert (db[b"a"], db[b"b"]) == (b"1", b"2")
    with pytest.raises(RuntimeError):
        with db.transaction():
            db[b"c"] = b"3"
            del db[b"a"]
            with db.transaction():
                db[b"d"] = b"4"
            raise RuntimeError("crash before commit")
    assert db[b"a"] == b"1" and not db.exists(b"c") and not db.exists(b"d")


def test_other_threads_see_only_committed_data(db):
    seen = {}
    inside, release = threading.Event(), threading.Event()

    def writer():
        with db.transaction():
            db[b"x"] = b"new"
            inside.set()
            release.wait(5)

    t = threading.Thread(target=writer)
    t.start()
    inside.wait(5)
    seen["during"] = db.exists(b"x")
    release.set()
    t.join()
    seen["after"] = db[b"x"]
    assert seen == {"during": False, "after": b"new"}


def test_data_survives_reopen(tmp_path):
    first = LmdbDB(tmp_path / "db")
    with first.transaction():
        first[b"k"] = b"v"
    first.close()
    again = LmdbDB(tmp_path / "db")
    assert again[b"k"] == b"v"
    again.close()
