"""Per-transaction cost against the size of the state: value transfers to accounts spread over the whole trie.

A data dir is made with `accounts` funded accounts (plus genesis.json's alloc and the workload's senders) by
writing the account trie in one pass (node.triebuild) straight into LMDB, then a genesis header with that
state root and the node's genesis markers, so an in-process `Node` opens it as an initialised data dir. Going
through py-evm's `from_genesis` instead would insert the accounts one by one (minutes for a million).
Each measured block is `block_size` transfers from the senders to random funded accounts, admitted to the pool
and sealed with `node.mine()`; the cost is (admission + sealing) / transactions.
"""
from __future__ import annotations

import random
import statistics
import tempfile
import time
from dataclasses import dataclass
from pathlib import Path

import rlp
from eth.abc import BlockHeaderAPI
from eth.constants import BLANK_ROOT_HASH, EMPTY_SHA3
from eth.db.chain import ChainDB
from eth.rlp.accounts import Account
from eth_utils import keccak

from benchmarks.profiling import profiled
from node.chain.triebuild import build_trie
from benchmarks.workload import SENDER_FUNDS, derived_address, sender_keys, sign
from node.chain.chain import Chain
from node.config import REPO_GENESIS, NodeConfig
from node.chain.db import LmdbDB
from node.chain.genesis import ChainConfig, load_genesis
from node.node import DB_DIR, Node
from node.chain.store import Store

FUNDED_BALANCE = 10**18
GENESIS_MARKERS = ("genesis-config", "genesis-hash")   # node/chain.py's names for them


def funded_address(index: int) -> bytes:
    return derived_address("funded", index)


def _account_rlp(balance: int, nonce: int = 0) -> bytes:
    return rlp.encode(Account(nonce, balance, BLANK_ROOT_HASH, EMPTY_SHA3))


def _accounts(config: ChainConfig, accounts: int, senders: list[bytes]):
    for address, acct in config.alloc.items():
        if acct.code or acct.storage:
            raise ValueError("the scale state copies balances only; genesis.json has code or storage")
        yield keccak(address), _account_rlp(acct.balance, acct.nonce)
    for address in senders:
        yield keccak(address), _account_rlp(SENDER_FUNDS)
    funded = _account_rlp(FUNDED_BALANCE)  # one shared value object keeps a million entries small
    for i in range(accounts):
        yield keccak(funded_address(i)), funded


def _genesis_template(config: ChainConfig, workdir: Path) -> tuple[BlockHeaderAPI, dict[str, bytes]]:
    """The genesis header and data-dir markers the node itself writes for `config` (in a throwaway dir)."""
    db = LmdbDB(workdir)
    try:
        chain = Chain(db, config)
        return chain.head, {name: chain.store.get_meta(name) for name in GENESIS_MARKERS}
    finally:
        db.close()


def make_datadir(datadir: Path, accounts: int, senders: list[bytes], genesis: Path = REPO_GENESIS) -> float:
    """Write an initialised data dir whose genesis state holds `accounts` funded accounts; returns seconds taken.

    The genesis header is the node's own for genesis.json with only the state root replaced, so the node opens
    the dir as one it initialised (the markers say which genesis file it came from).
    """
    started = time.perf_counter()
    config = load_genesis(genesis)
    template, markers = _genesis_template(config, datadir.parent / f"{datadir.name}-template")
    db = LmdbDB(datadir / DB_DIR)
    try:
        with db.transaction():
            root = build_trie(_accounts(config, accounts, senders), db.__setitem__)
            header = template.copy(state_root=root)
            ChainDB(db).persist_header(header)
            store = Store(db)
            for name, value in dict(markers, **{"genesis-hash": header.hash}).items():
                store.set_meta(name, value)
    finally:
        db.close()
    return time.perf_counter() - started


@dataclass
class ScaleRun:
    accounts: int
    setup_s: float
    us_per_tx: float           # median over the measured blocks
    blocks: int


def run(accounts: int, block_size: int, blocks: int, senders: int, seed: int = 7,
        profile: Path | None = None) -> ScaleRun:
    """Measure `blocks` blocks of `block_size` transfers on a state of `accounts` funded accounts.

    Run it in a fresh process (benchmarks.isolate), so the sizes do not share caches or memory.
    """
    keyed = sender_keys(senders)
    keys, addresses = [k for k, _ in keyed], [a for _, a in keyed]
    rnd = random.Random(seed)
    with tempfile.TemporaryDirectory(prefix="smartchain-bench-scale-") as tmp:
        datadir = Path(tmp) / "node"
        setup_s = make_datadir(datadir, accounts, addresses)
        with Node(NodeConfig(datadir=datadir, block_time=0, produce=False)) as node:
            chain_id = node.chain_config.chain_id
            nonces = [0] * senders
            costs = []
            for _ in range(blocks):
                raws = []
                for j in range(block_size):
                    s = j % senders
                    raws.append(sign(keys[s], nonces[s], chain_id, funded_address(rnd.randrange(accounts)), value=1))
                    nonces[s] += 1
                with profiled(profile if not costs else None):  # the first block: caches start cold
                    started = time.perf_counter()
                    for raw in raws:
                        node.send_raw_transaction(raw)
                    [block] = node.mine()
                    costs.append((time.perf_counter() - started) / block_size)
                if len(block.transactions) != block_size:
                    raise RuntimeError(f"block {block.number} took {len(block.transactions)} of {block_size}")
    return ScaleRun(accounts, setup_s, statistics.median(costs) * 1e6, blocks)
