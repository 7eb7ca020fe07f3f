"""In-process block production with the node's own parts, and a follower importing the chain it made.

Producer: an in-process `Node` (no production loop) admits the workload to its pool and seals it with
`node.mine()` in blocks of the ceiling's size, so the comparison with stock `mine_all` differs only by the
node's own work (pool admission, Parlia, LMDB, indexes). Follower: the produced chain is exported with
`node.blockfile.export_file` and imported into a fresh data dir through `Chain.import_block`, the single import
path `smartchain import` uses, timing ERC-20 blocks and value-transfer blocks apart. Producer and follower run in
separate fresh processes, as two nodes would (a shared process would hand the follower the producer's cached
transaction and receipt roots).
"""
from __future__ import annotations

import tempfile
import time
from collections.abc import Sequence
from dataclasses import dataclass
from pathlib import Path

from benchmarks.ceiling import BLOCK_SIZE
from benchmarks.isolate import fresh
from benchmarks.profiling import profiled
from benchmarks.workload import Workload
from node.chain.blockfile import decode_blocks, export_file
from node.chain.chain import Chain
from node.config import NodeConfig
from node.chain.db import LmdbDB
from node.chain.genesis import load_genesis
from node.node import DB_DIR, Node


@dataclass
class FollowerRun:
    build_erc20_tps: float      # pool admission + node.mine(), per transaction
    build_value_tps: float
    import_erc20_tps: float
    import_value_tps: float
    import_blocks_per_s: float  # all blocks after genesis, setup included
    blocks: int


@dataclass
class Built:
    erc20_s: float
    value_s: float
    erc20_blocks: list[int]
    value_blocks: list[int]
    genesis: Path


def _produce(node: Node, raws: Sequence[bytes], block_size: int) -> tuple[float, list[int]]:
    """Admit and seal `raws` in blocks of `block_size`; returns (seconds, block numbers)."""
    numbers = []
    started = time.perf_counter()
    for i in range(0, len(raws), block_size):
        for raw in raws[i:i + block_size]:
            node.send_raw_transaction(raw)
        [block] = node.mine()
        if len(block.transactions) != len(raws[i:i + block_size]):
            raise RuntimeError(f"block {block.number} took {len(block.transactions)} of "
                               f"{len(raws[i:i + block_size])} transactions")
        numbers.append(block.number)
    return time.perf_counter() - started, numbers


def build_chain(setup: Sequence[bytes], erc20: Sequence[bytes], value: Sequence[bytes], workdir: Path,
                chain_file: Path, block_size: int = BLOCK_SIZE, profile: Path | None = None) -> Built:
    """Produce the workload's chain in-process and export it to `chain_file`."""
    with Node(NodeConfig(datadir=workdir, block_time=0, produce=False)) as node:
        _produce(node, setup, block_size)
        with profiled(profile):
            erc20_s, erc20_blocks = _produce(node, erc20, block_size)
            value_s, value_blocks = _produce(node, value, block_size)
        export_file(node.chain, chain_file)
        return Built(erc20_s, value_s, erc20_blocks, value_blocks, node.config.genesis)


def import_chain(chain_file: Path, genesis: Path, workdir: Path,
                 profile: Path | None = None) -> dict[int, float]:
    """Import `chain_file` into a fresh data dir block by block; returns seconds per block number."""
    db = LmdbDB(workdir / DB_DIR)
    try:
        chain = Chain(db, load_genesis(genesis))
        blocks = decode_blocks(chain, chain_file.read_bytes())[1:]
        took: dict[int, float] = {}
        with profiled(profile):
            for block in blocks:
                started = time.perf_counter()
                result = chain.import_block(block, check_future=False)
                took[block.number] = time.perf_counter() - started
                if result.known:
                    raise RuntimeError(f"block {block.number} was already known to a fresh follower")
        return took
    finally:
        db.close()


def run_once(load: Workload, block_size: int = BLOCK_SIZE, profile_dir: Path | None = None,
             tag: str = "0") -> FollowerRun:
    """Build the workload's chain in one fresh process, import it in another."""
    def profile(name: str) -> Path | None:
        return None if profile_dir is None else profile_dir / f"follower-{name}-{tag}.prof"

    with tempfile.TemporaryDirectory(prefix="smartchain-bench-") as tmp:
        chain_file = Path(tmp) / "chain.rlp"
        built = fresh(build_chain, load.setup, load.erc20, load.value, Path(tmp) / "producer", chain_file,
                      block_size, profile("build"))
        took = fresh(import_chain, chain_file, built.genesis, Path(tmp) / "follower", profile("import"))
    import_erc20 = sum(took[n] for n in built.erc20_blocks)
    import_value = sum(took[n] for n in built.value_blocks)
    return FollowerRun(len(load.erc20) / built.erc20_s, len(load.value) / built.value_s,
                       len(load.erc20) / import_erc20, len(load.value) / import_value,
                       len(took) / sum(took.values()), len(took))
