"""In-process block production with the node's own parts, and a follower importing the chain it made.

Producer: an in-process `Node` (no production loop) admits the workload to its pool and seals it with
`node.mine()` in blocks of the ceiling's size, so the comparison with stock `mine_all` differs only by the
node's own work (pool admission, Parlia, LMDB, indexes). Follower: the produced chain is exported with
`node.blockfile.export_file` and imported into a fresh data dir through `Chain.import_block`, the single import
path `smartchain import` uses, timing ERC-20 blocks and value-transfer blocks apart.
"""
from __future__ import annotations

import tempfile
import time
from contextlib import nullcontext
from dataclasses import dataclass
from pathlib import Path
from typing import Callable, ContextManager, Sequence

from node.blockfile import decode_blocks, export_file
from node.chain import Chain
from node.config import NodeConfig
from node.db import LmdbDB
from node.node import DB_DIR, Node

from benchmarks.ceiling import BLOCK_SIZE
from benchmarks.workload import Workload


@dataclass
class FollowerRun:
    build_erc20_tps: float      # pool admission + node.mine(), per transaction
    build_value_tps: float
    import_erc20_tps: float
    import_value_tps: float
    import_blocks_per_s: float  # all blocks after genesis, setup included
    blocks: int


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


def run_once(load: Workload, block_size: int = BLOCK_SIZE,
             phase: Callable[[str], ContextManager] = lambda name: nullcontext()) -> FollowerRun:
    """Build the workload's chain in-process, then import it into a fresh data dir.

    `phase("build")` and `phase("import")` wrap the timed parts (the harness profiles them with it).
    """
    with tempfile.TemporaryDirectory(prefix="smartchain-bench-") as tmp:
        chain_file = Path(tmp) / "chain.rlp"
        with Node(NodeConfig(datadir=Path(tmp) / "producer", block_time=0, produce=False)) as node:
            _produce(node, load.setup, block_size)
            with phase("build"):
                erc20_s, erc20_blocks = _produce(node, load.erc20, block_size)
                value_s, value_blocks = _produce(node, load.value, block_size)
            export_file(node.chain, chain_file)
            config = node.chain_config

        db = LmdbDB(Path(tmp) / "follower" / DB_DIR)
        try:
            chain = Chain(db, config)
            blocks = decode_blocks(chain, chain_file.read_bytes())[1:]
            took: dict[int, float] = {}
            with phase("import"):
                for block in blocks:
                    started = time.perf_counter()
                    result = chain.import_block(block, check_future=False)
                    took[block.number] = time.perf_counter() - started
                    if result.known:
                        raise RuntimeError(f"block {block.number} was already known to a fresh follower")
        finally:
            db.close()
    import_erc20 = sum(took[n] for n in erc20_blocks)
    import_value = sum(took[n] for n in value_blocks)
    return FollowerRun(len(load.erc20) / erc20_s, len(load.value) / value_s, len(load.erc20) / import_erc20,
                       len(load.value) / import_value, len(blocks) / sum(took.values()), len(blocks))
