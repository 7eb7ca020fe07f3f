"""The ceiling: stock py-evm (MiningChain, PragueVM, in-memory AtomicDB) running `mine_all` on the workload.

Nothing of ours runs here except the genesis alloc read from genesis.json: no Parlia, no LMDB, no pool, no RPC.
The transactions are decoded before the clock starts and each repeat decodes them afresh, so sender recovery
(lazy in py-evm) is paid inside the timed block building, as it is on the node.
"""
from __future__ import annotations

import time
from collections.abc import Sequence
from dataclasses import dataclass
from pathlib import Path

from eth.chains.base import MiningChain
from eth.db.atomic import AtomicDB
from eth.vm.forks.prague import PragueVM
from eth_keys.backends import get_backend

from benchmarks.profiling import profiled
from node.config import REPO_GENESIS
from node.chain.genesis import load_genesis

BLOCK_SIZE = 500


def ecc_backend() -> str:
    """The eth-keys backend in use (coincurve when installed, as the issue's reference figure assumes)."""
    return type(get_backend()).__name__


def stock_chain(genesis: Path = REPO_GENESIS) -> MiningChain:
    """A fresh stock py-evm chain with genesis.json's chain id, gas limit and alloc."""
    config = load_genesis(genesis)
    chain_class = MiningChain.configure(__name__="StockPrague", vm_configuration=((0, PragueVM),),
                                        chain_id=config.chain_id)
    params = dict(difficulty=0, gas_limit=config.gas_limit, timestamp=config.timestamp, base_fee_per_gas=0,
                  extra_data=b"", coinbase=b"\x00" * 20, nonce=b"\x00" * 8)
    return chain_class.from_genesis(AtomicDB(), params, config.genesis_state())


def decode(raws: Sequence[bytes]) -> list:
    builder = PragueVM.get_transaction_builder()
    return [builder.decode(raw) for raw in raws]


def mine_blocks(chain: MiningChain, raws: Sequence[bytes], block_size: int = BLOCK_SIZE) -> tuple[float, int]:
    """Mine `raws` in blocks of `block_size` with mine_all; returns (seconds, transactions that succeeded)."""
    txs = decode(raws)
    succeeded = 0
    started = time.perf_counter()
    for i in range(0, len(txs), block_size):
        _, receipts, _ = chain.mine_all(txs[i:i + block_size])
        succeeded += sum(1 for r in receipts if r.state_root == b"\x01")
    return time.perf_counter() - started, succeeded


@dataclass
class CeilingRun:
    erc20_tps: float
    value_tps: float
    erc20_ok: int
    value_ok: int


def run_once(setup: Sequence[bytes], erc20: Sequence[bytes], value: Sequence[bytes],
             block_size: int = BLOCK_SIZE, profile: Path | None = None) -> CeilingRun:
    """One repeat on a fresh chain: the setup (untimed), then the ERC-20 and the value transfers, each timed.

    Run it in a fresh process (benchmarks.isolate): py-evm caches roots of transactions it has seen.
    """
    chain = stock_chain()
    mine_blocks(chain, setup, block_size)
    with profiled(profile):
        erc20_s, erc20_ok = mine_blocks(chain, erc20, block_size)
        value_s, value_ok = mine_blocks(chain, value, block_size)
    return CeilingRun(len(erc20) / erc20_s, len(value) / value_s, erc20_ok, value_ok)
