"""The node as users run it: `smartchain run` in its own process, driven over HTTP JSON-RPC.

Automine (`--block-time 0`): the node seals as soon as transactions are pending and keeps sealing while any are,
so nothing waits for a clock tick and the figure is the node's own throughput. (With interval mining the rate
would be capped by the interval and the last receipt would wait up to a period for its block.)
"""
from __future__ import annotations

import asyncio
import tempfile
from dataclasses import dataclass, field
from pathlib import Path

from eth_utils import keccak

from benchmarks.processes import Child, start_node
from benchmarks.rpcload import deliver, request_rate
from benchmarks.workload import Workload, balance_of_data

RPC_CONCURRENCY = (1, 32)


@dataclass
class NodeRun:
    erc20_tps: float | None = None
    value_tps: float | None = None
    erc20_send_rps: float | None = None   # eth_sendRawTransaction answers per second while submitting
    erc20_mined_s: float | None = None    # of the ERC-20 phase: seconds from the last send to all mined
    erc20_receipts_s: float | None = None  # ... and then reading every receipt
    erc20_blocks: int | None = None       # blocks the ERC-20 transfers landed in (automine picks the sizes)
    value_blocks: int | None = None
    erc20_ok: int | None = None
    value_ok: int | None = None
    rpc: dict[str, float] = field(default_factory=dict)   # "eth_blockNumber@32" -> requests/s


def rpc_probes(load: Workload, mined: bytes) -> dict[str, tuple[str, list]]:
    """The requests whose rates are measured; `mined` is a raw transaction the chain holds."""
    call = {"to": "0x" + load.token.hex(), "data": "0x" + balance_of_data(load.probe_holder).hex()}
    return {"eth_blockNumber": ("eth_blockNumber", []), "eth_call": ("eth_call", [call, "latest"]),
            # a receipt of the last block the transfers filled: what every sender polls for
            "eth_getTransactionReceipt": ("eth_getTransactionReceipt", ["0x" + keccak(mined).hex()])}


async def _drive(node: Child, load: Workload, concurrency: int, rpc_seconds: float, transfers: bool) -> NodeRun:
    setup = await deliver(node.url, load.setup, concurrency, load.origin)
    if setup.succeeded != len(load.setup):
        raise RuntimeError(f"setup: only {setup.succeeded}/{len(load.setup)} transactions succeeded")
    run = NodeRun()
    if transfers:
        erc20 = await deliver(node.url, load.erc20, concurrency, load.origin)
        value = await deliver(node.url, load.value, concurrency, load.origin)
        run = NodeRun(erc20.tps(len(load.erc20)), value.tps(len(load.value)), len(load.erc20) / erc20.send_seconds,
                      erc20.mined_seconds, erc20.receipt_seconds, erc20.blocks, value.blocks, erc20.succeeded,
                      value.succeeded)
    if rpc_seconds > 0:
        mined = load.erc20[-1] if transfers else load.setup[-1]
        for name, (method, params) in rpc_probes(load, mined).items():
            for c in RPC_CONCURRENCY:
                run.rpc[f"{name}@{c}"] = await request_rate(node.url, method, params, c, rpc_seconds)
    return run


def run_once(load: Workload, concurrency: int = 32, rpc_seconds: float = 1.0, block_time: float = 0,
             prefix: tuple[str, ...] = (), transfers: bool = True, extra: tuple[str, ...] = ()) -> NodeRun:
    """A fresh node in a temporary data dir (`extra`: more `smartchain run` arguments): setup, ERC-20 transfers,
    value transfers (unless not `transfers`), then RPC request rates (unless `rpc_seconds` is 0)."""
    with tempfile.TemporaryDirectory(prefix="smartchain-bench-") as tmp:
        node = start_node(Path(tmp) / "node", block_time=block_time, extra=extra, prefix=prefix)
        try:
            node.wait_ready()
            run = asyncio.run(_drive(node, load, concurrency, rpc_seconds, transfers))
        except Exception as exc:
            node.stop()
            raise RuntimeError(f"{exc}\n--- node log tail ---\n{node.tail()}") from exc
        code = node.stop()
        if code != 0:
            raise RuntimeError(f"the node exited with {code}:\n{node.tail()}")
        return run


async def _echo_rates(url: str, seconds: float) -> dict[str, float]:
    return {f"echo@{c}": await request_rate(url, "eth_blockNumber", [], c, seconds) for c in RPC_CONCURRENCY}


def echo_rates(echo: Child, seconds: float) -> dict[str, float]:
    return asyncio.run(_echo_rates(echo.url, seconds))
