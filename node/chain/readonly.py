"""A node's chain opened read-only from its data dir, by another process (the JSON-RPC front): LMDB serves readers
in other processes, and a block commits together with its indexes, so a reader sees whole blocks only. Readers take
no data-dir lock."""
from __future__ import annotations

import os

from node.chain.chain import Chain
from node.chain.db import LmdbDB
from node.chain.genesis import ChainConfig, load_genesis


class ReadNode:
    """What a reader sees of a node: its chain (read only) and its chain config."""

    def __init__(self, chain: Chain, chain_config: ChainConfig, db: LmdbDB | None = None):
        self.chain = chain
        self.chain_config = chain_config
        self._db = db

    @classmethod
    def open(cls, db_path: str | os.PathLike, genesis: str | os.PathLike) -> "ReadNode":
        """The chain stored at `db_path` (the node's DATADIR/chaindata), of the chain `genesis` describes."""
        config = load_genesis(genesis)
        db = LmdbDB(db_path, readonly=True)
        return cls(Chain(db, config), config, db)

    def close(self) -> None:
        if self._db is not None:
            self._db.close()
            self._db = None
