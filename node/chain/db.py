"""The persistent key-value store: LMDB behind py-evm's AtomicDatabaseAPI.

A block and everything derived from it are written inside one `transaction()`: writes collect in an in-memory
overlay that only the writing thread sees, and the outermost `transaction()` commits the overlay in a single LMDB
write transaction. LMDB commits atomically, so after a crash the store holds the previous head or the new one,
never a mix. Readers on other threads read committed data only, so RPC reads never see a half-built block.
"""
from __future__ import annotations

import os
import threading
from contextlib import contextmanager
from pathlib import Path
from typing import Iterator

import lmdb
from eth.abc import AtomicWriteBatchAPI
from eth.db.atomic import AtomicDBWriteBatch
from eth.db.backends.base import BaseAtomicDB

from node.chain.datalock import DataDirLock
from node.chain.statecache import StateCaches

_DELETED = None
DEFAULT_MAP_SIZE = 1 << 40  # address space only: LMDB's file grows with the data (sparse)


class LmdbDB(BaseAtomicDB):
    """py-evm AtomicDatabaseAPI over one LMDB environment, with per-block write transactions."""

    def __init__(self, path: str | os.PathLike, *, map_size: int = DEFAULT_MAP_SIZE, readonly: bool = False,
                 durable: bool = True):
        """`readonly`: a reader in another process (the JSON-RPC front) of a store the node's process writes.
        `durable` False: commits are not flushed to disk (no fsync), for a throwaway data dir that nothing reopens
        after a crash (a temporary chain for tests); a commit then costs microseconds instead of an fsync. A crash
        may lose the last commits but never mixes two: LMDB's copy-on-write pages still switch atomically."""
        self.durable = durable
        self.path = Path(path)
        self._datalock: DataDirLock | None = None
        if not readonly:
            self.path.mkdir(parents=True, exist_ok=True)
            # before anything is read or written: one writer per store (the data dir holds it in chaindata/)
            self._datalock = DataDirLock(self.path, shown=self.path.parent)
        try:
            self._env = lmdb.open(
                str(self.path), map_size=map_size, subdir=True, max_dbs=0, readonly=readonly,
                # one process writes a data dir; metasync+sync keep every commit durable (kill -9, power loss)
                lock=True, sync=durable, metasync=durable, readahead=False, max_readers=256,
            )
        except BaseException:
            if self._datalock is not None:
                self._datalock.release()
            raise
        self._overlay: dict[bytes, bytes | None] = {}
        self._depth = 0
        self._writer: int | None = None
        self._lock = threading.RLock()
        # what state tries hold, by root, shared by every state opened on this store (node/chain/statedb.py)
        self.state_caches = StateCaches()

    # -- py-evm DatabaseAPI --------------------------------------------------------------------------------------
    def __getitem__(self, key: bytes) -> bytes:
        if self._writer == threading.get_ident() and key in self._overlay:
            value = self._overlay[key]
            if value is _DELETED:
                raise KeyError(key)
            return value
        with self._env.begin(buffers=False) as txn:
            value = txn.get(key)
        if value is None:
            raise KeyError(key)
        return value

    def __setitem__(self, key: bytes, value: bytes) -> None:
        with self.transaction():
            self._overlay[key] = value

    def __delitem__(self, key: bytes) -> None:
        if not self._exists(key):
            raise KeyError(key)
        with self.transaction():
            self._overlay[key] = _DELETED

    def _exists(self, key: bytes) -> bool:
        try:
            self[key]
        except KeyError:
            return False
        return True

    @contextmanager
    def atomic_batch(self) -> Iterator[AtomicWriteBatchAPI]:
        with self.transaction():
            with AtomicDBWriteBatch._commit_unless_raises(self) as batch:
                yield batch

    # -- block write transactions ---------------------------------------------------------------------------------
    @contextmanager
    def transaction(self) -> Iterator[None]:
        """Collect every write in this context; the outermost context commits them in one LMDB transaction.

        An exception anywhere inside discards all of the outermost context's writes.
        """
        self._lock.acquire()
        try:
            if self._depth == 0:
                self._writer = threading.get_ident()
                self._overlay = {}
            self._depth += 1
            try:
                yield
            except BaseException:
                if self._depth == 1:
                    self._overlay = {}
                raise
            finally:
                self._depth -= 1
            if self._depth == 0:
                self._commit()
        finally:
            if self._depth == 0:
                self._writer = None
            self._lock.release()

    def _commit(self) -> None:
        overlay, self._overlay = self._overlay, {}
        if not overlay:
            return
        with self._env.begin(write=True) as txn:
            for key, value in overlay.items():
                if value is _DELETED:
                    txn.delete(key)
                else:
                    txn.put(key, value)

    def close(self) -> None:
        self._env.close()
        if self._datalock is not None:
            self._datalock.release()
            self._datalock = None

    def stats(self) -> dict:
        return dict(self._env.stat(), **self._env.info())
