"""Node: starts and stops the store, chain, pool, producer and (when configured) the peer-to-peer network in-process
(`with Node(config) as node:`).

The network is started by a `NetworkStarter` the caller passes (node/cli passes node.network.launch.start_network):
node.network imports this module for its Node API, so importing it back here would make a cycle."""
from __future__ import annotations

import logging
import shutil
import tempfile
import threading
import time
from pathlib import Path
from typing import Any, Callable

from eth.abc import BlockAPI, SignedTransactionAPI
from eth_keys import keys

from node.automine import MinedWait
from node.dev.accounts import DevAccount, dev_accounts, load_key
from node.chain.chain import Chain, ImportResult
from node.clock import Clock
from node.config import NodeConfig
from node.chain.db import LmdbDB
from node.dev.devtools import DevTools
from node.finality.keys import load_vote_key
from node.finality.service import FinalityService
from node.chain.genesis import load_genesis
from node.producer import BlockListener, Producer
from node.txpool.pool import PoolConfig, TxPool

log = logging.getLogger("smartchain.node")

KEY_FILE = "validator.key"
DB_DIR = "chaindata"


class NodeError(Exception):
    """The node cannot start with this configuration; the message says what to change."""


class NetworkUnavailable(NodeError):
    def __init__(self) -> None:
        super().__init__("the p2p network is enabled but no network starter was given (run with p2p off)")


# Starts the network of a node whose chain, pool and producer exist; returns the running service (with stop()).
NetworkStarter = Callable[["Node"], Any]


class Node:
    def __init__(self, config: NodeConfig | None = None, clock: Clock | None = None,
                 network_starter: NetworkStarter | None = None, *, vote_journal_fsync: bool = True):
        """`vote_journal_fsync`: wait for the disk on each vote written to the journal (a Devnet in temporary dirs
        skips it; a killed process loses nothing either way)."""
        self.config = config or NodeConfig()
        self.clock = clock or Clock()
        self.chain_config = load_genesis(self.config.genesis)
        self.accounts: list[DevAccount] = dev_accounts() if self.config.dev else []
        self._tmpdir: str | None = None
        self.db: LmdbDB | None = None
        self.chain: Chain | None = None
        self.pool: TxPool | None = None
        self.producer: Producer | None = None
        self.mined: MinedWait | None = None   # answers that wait for an automined block (node/automine.py)
        self.dev: DevTools | None = None   # dev mode's controls (anvil's evm_*/anvil_* methods)
        self.network: Any = None            # the NetworkService when config.p2p, else None
        self.votes: FinalityService | None = None   # fast finality, on a Parlia chain whose validators have vote keys
        self._vote_journal_fsync = vote_journal_fsync
        self._network_starter = network_starter
        self._peer_wait: threading.Thread | None = None
        self._stopping = threading.Event()

    @property
    def datadir(self) -> Path:
        return Path(self._tmpdir) if self.config.datadir is None else self.config.datadir

    # -- lifecycle ---------------------------------------------------------------------------------------------------
    def start(self) -> "Node":
        self._stopping.clear()
        if self.config.datadir is None:
            self._tmpdir = tempfile.mkdtemp(prefix="smartchain-")
        try:
            self.db = LmdbDB(self.datadir / DB_DIR, durable=self.config.datadir is not None)   # temp: no fsync
            self.chain = Chain(self.db, self.chain_config, clock_ms=self.clock.now_ms)
            self.pool = TxPool(
                self.chain_config.chain_id, head_state=self.chain.state_at,
                block_gas_limit=lambda: self.chain.head.gas_limit,
                config=PoolConfig(min_gas_price=self.config.min_gas_price))
            key = self._validator_key()
            self.producer = Producer(self.chain, self.pool, key, self.clock, self.config.block_time)
            self.pool.on_pending.append(self.producer.notify_pending)
            self.mined = MinedWait(self.producer, self.pool)
            if self.config.dev:
                self.dev = DevTools(self)
            self.votes = self._start_finality()
            if self.config.p2p:   # before production starts: the peers hear our first block
                if self._network_starter is None:
                    raise NetworkUnavailable()
                self.network = self._network_starter(self)
            if self.votes is not None:   # after the network's listener: a block goes out before our vote on it
                self.producer.listeners.append(self.votes.on_block)
            if self.producer.address not in self.chain.engine.params.validators:
                log.warning("key 0x%s is not a validator of this chain: not producing blocks",
                            self.producer.address.hex())
            elif self.config.produce:
                self._start_production()
        except BaseException:
            self.stop()
            raise
        log.info("chain %d at block #%d (0x%s), data dir %s", self.chain_config.chain_id, self.chain.head.block_number,
                 self.chain.head.hash.hex(), self.datadir)
        return self

    def stop(self) -> None:
        self._stopping.set()
        if self._peer_wait is not None:
            self._peer_wait.join()
            self._peer_wait = None
        if self.network is not None:   # first: no peer block is imported into a stopping producer or closed store
            self.network.stop()
            self.network = None
        if self.producer is not None:
            self.producer.stop()
        if self.votes is not None:
            self.votes.close()
            self.votes = None
        if self.db is not None:
            self.db.close()
            self.db = None
        if self._tmpdir is not None:
            shutil.rmtree(self._tmpdir, ignore_errors=True)
            self._tmpdir = None

    def _start_production(self) -> None:
        """Seal now, or, for a validator with static peers, once they are connected (at most config.peer_wait s):
        validators started together would otherwise each seal block 1 alone before any of them hears another's,
        and Parlia's recents rule then leaves every one-validator fork stuck (the miner of BSC waits for its first
        sync in the same way)."""
        if self.network is None or not self.config.peers:
            self.producer.start()
            return
        self._peer_wait = threading.Thread(target=self._produce_once_connected, name="peer wait", daemon=True)
        self._peer_wait.start()

    def _produce_once_connected(self) -> None:
        deadline = time.monotonic() + self.config.peer_wait
        wanted = len(set(self.config.peers))
        while self.network.peer_count < wanted and time.monotonic() < deadline:
            if self._stopping.wait(0.1):
                return
        if self.network.peer_count < wanted:
            log.warning("%d of %d static peers connected after %g s: sealing anyway", self.network.peer_count,
                        wanted, self.config.peer_wait)
        # a moment for their Status and first announcements: our head is then the network's
        if not self._stopping.wait(0.5):
            self.producer.start()

    def _start_finality(self) -> FinalityService | None:
        """The vote pool (and the voter, with DATADIR/vote.key) on a Parlia chain whose genesis validators have
        vote keys, or when this node has one; None elsewhere (no vote can exist: nothing to pay for)."""
        if not self.chain_config.is_parlia:
            return None
        vote_key = load_vote_key(self.datadir)
        if vote_key is None and not self.chain_config.has_vote_keys:
            return None
        return FinalityService(self.chain, self.clock.now_ms, self.datadir, vote_key,
                               fsync=self._vote_journal_fsync)

    def __enter__(self) -> "Node":
        return self.start()

    def __exit__(self, *exc: object) -> None:
        self.stop()

    def _validator_key(self) -> keys.PrivateKey:
        if self.config.validator_key is not None:
            return keys.PrivateKey(self.config.validator_key)
        key_file = self.datadir / KEY_FILE
        if key_file.exists():
            return keys.PrivateKey(load_key(str(key_file)))
        if self.config.dev:
            return keys.PrivateKey(self.accounts[0].private_key)
        raise NodeError(f"no validator key: pass --validator-key, put one in {key_file}, or run with --dev")

    # -- events: what RPC's filters and subscriptions, and the peers, hear of the node ---------------------------------
    def subscribe(self, on_block: BlockListener | None = None, on_removed: Callable[[BlockAPI], None] | None = None,
                  on_pending: Callable[[SignedTransactionAPI], None] | None = None) -> Callable[[], None]:
        """Hear each block that joins the canonical chain (with its receipts), each block a reorg takes off it (oldest
        first) and each transaction that becomes pending, on the thread that made the event; returns the function
        that stops them. A listener must not block: the producer and the pool wait for it."""
        pairs = [(listeners, fn) for listeners, fn in ((self.producer.listeners, on_block),
                                                       (self.producer.removed_listeners, on_removed),
                                                       (self.pool.on_pending, on_pending)) if fn is not None]
        for listeners, fn in pairs:
            listeners.append(fn)

        def unsubscribe() -> None:
            for listeners, fn in pairs:
                if fn in listeners:
                    listeners.remove(fn)
        return unsubscribe

    # -- conveniences for tests, the CLI and dev RPC methods ------------------------------------------------------------
    def send_raw_transaction(self, raw: bytes, sender: bytes | None = None) -> bytes:
        """Admit a signed transaction to the pool; returns its hash (raises the pool's error). `sender`: see
        TxPool.add_raw."""
        return self.pool.add_raw(raw, sender)

    def import_block(self, block: BlockAPI) -> ImportResult:
        """A block from a peer: verified and executed by the single import path; a heavier chain becomes the head."""
        return self.producer.import_block(block)

    def mine(self, blocks: int = 1) -> list[BlockAPI]:
        """Seal `blocks` blocks now, whatever the mining mode."""
        return [self.producer.produce_block() for _ in range(blocks)]
