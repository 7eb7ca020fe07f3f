"""Start-up: from spawning `smartchain run` to its first eth_chainId answer, and in-process Node/Devnet start."""
from __future__ import annotations

import tempfile
import time
from dataclasses import dataclass
from pathlib import Path

from benchmarks.processes import start_node
from node.config import NodeConfig
from node.node import Node


@dataclass
class StartupRun:
    process_fresh_s: float      # a new data dir: genesis is written first
    process_restart_s: float    # the same data dir again, as after a reboot
    node_start_s: float         # Node(NodeConfig(block_time=0)).start() in this process, imports already done
    devnet_start_s: float | None


def process_first_answer(datadir: Path) -> float:
    node = start_node(datadir)
    try:
        return node.wait_ready()
    finally:
        if node.stop() not in (0, None):
            raise RuntimeError(f"the node did not stop cleanly:\n{node.tail()}")


def node_start() -> float:
    started = time.perf_counter()
    node = Node(NodeConfig(block_time=0)).start()
    took = time.perf_counter() - started
    node.stop()
    return took


def devnet_start() -> float | None:
    """Devnet(validators=1) start once node.devnet exists (the multi-validator issue builds it); None until then."""
    try:
        from node.dev.devnet import Devnet
    except ImportError:
        return None
    started = time.perf_counter()
    with Devnet(validators=1):
        took = time.perf_counter() - started
    return took


def run_once() -> StartupRun:
    with tempfile.TemporaryDirectory(prefix="smartchain-bench-") as tmp:
        datadir = Path(tmp) / "node"
        fresh = process_first_answer(datadir)
        restart = process_first_answer(datadir)
    return StartupRun(fresh, restart, node_start(), devnet_start())
