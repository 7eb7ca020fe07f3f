"""The `http_testing` section: the node as a test suite drives it over HTTP, against anvil, in the same run.

Test suites written for Hardhat or Foundry (ethers, viem, web3.py scripts) talk to a local node over HTTP one request
at a time, so what matters is the latency of one transaction and of one call, not bulk throughput. Both nodes are
started by this process as their users start them, each on a free port, one after the other (never both at once):
`smartchain run --block-time 0` (dev mode, automine, a fresh data dir, JSON-RPC served by its front process) and
`anvil` from npm `@foundry-rs/anvil` (pinned in benchmarks/js/package.json; automine is its default).

On each, with the same key (the mnemonic's first account, funded on both) and the same ERC-20
(contracts/build/Token.json), after deploying it (not timed):
- sequential send-and-wait transfers per second: eth_sendRawTransaction, then eth_getTransactionReceipt polled until
  it is there (at once, then every POLL_S), as ethers' `tx.wait()` and web3.py's `wait_for_transaction_receipt` do;
  transactions are signed before the clock starts (signing is the client's cost, the same on both);
- eth_call(balanceOf) one at a time, per second; and, to tell the HTTP path from the EVM, eth_getBalance (a state
  read) and eth_blockNumber one at a time;
- the share of transfers whose receipt the first eth_getTransactionReceipt found: ethers' `wait()` asks once, then
  waits a polling interval (4 s by default) for the next block, so every miss costs a user that much;
- eth_getLogs over the last LOG_BLOCKS blocks (every transfer mined in its own block), median ms: with the token's
  address and Transfer topic (a log in every block), and with one recipient as third topic (one block holds it: what
  header blooms let a node skip).
The ratio of each figure to anvil's (for the getLogs times, anvil's / ours, so above 1 is faster here too), taken per
repeat (the two nodes run back to back, under the same load from the rest of the machine), then the median.

One keep-alive HTTP connection per node (http.client), so the client costs the same against both.

    .venv/bin/python -m benchmarks.http_testing [-n TRANSFERS] [-r REPEATS]   # table, then one JSON line
"""
from __future__ import annotations

import argparse
import http.client
import json
import os
import statistics
import sys
import tempfile
import time
from dataclasses import asdict, dataclass
from pathlib import Path
from typing import Any
from urllib.parse import urlparse

from eth_abi import encode as abi_encode
from eth_utils import keccak

from benchmarks.processes import Child, free_port, start_node
from benchmarks.columns import aligned
from benchmarks.workload import DEPLOY_GAS, TOKEN_ARTIFACT, TRANSFER_GAS, balance_of_data, derived_address, sign, \
    transfer_data
from node.dev.accounts import dev_accounts

ROOT = Path(__file__).resolve().parents[1]
ANVIL = ROOT / "benchmarks" / "js" / "node_modules" / ".bin" / "anvil"
ANVIL_ENV = "SMARTCHAIN_BENCH_ANVIL"   # another anvil executable (or a missing path, to run without it)
INSTALL_HINT = "npm ci --prefix benchmarks/js"
BACKENDS = ("smartchain", "anvil")
DEFAULT_TRANSFERS = 200
LOG_BLOCKS = 100
LOG_QUERIES = 20
POLL_S = 0.001
TOKEN_SUPPLY = 10**27
TRANSFER_TOPIC = keccak(b"Transfer(address,address,uint256)")


class RpcFailure(RuntimeError):
    """A JSON-RPC call answered with an error, or a transaction that did not succeed."""


class Rpc:
    """Blocking JSON-RPC over one keep-alive HTTP connection."""

    def __init__(self, url: str, timeout: float = 60.0):
        parsed = urlparse(url)
        self.conn = http.client.HTTPConnection(parsed.hostname, parsed.port, timeout=timeout)
        self._id = 0

    def call(self, method: str, *params: Any) -> Any:
        self._id += 1
        body = json.dumps({"jsonrpc": "2.0", "id": self._id, "method": method, "params": list(params)})
        self.conn.request("POST", "/", body, {"Content-Type": "application/json"})
        answer = json.loads(self.conn.getresponse().read())
        if "error" in answer:
            raise RpcFailure(f"{method}: {answer['error']}")
        return answer["result"]

    def close(self) -> None:
        self.conn.close()


def anvil_executable() -> Path:
    return Path(os.environ.get(ANVIL_ENV) or ANVIL)


def anvil_missing() -> str | None:
    """Why anvil cannot run here, or None when it can."""
    path = anvil_executable()
    if not path.exists():
        return f"anvil is not installed ({path} is missing): run `{INSTALL_HINT}` (Node.js 20 and npm)"
    if not os.access(path, os.X_OK):
        return f"anvil at {path} is not executable"
    return None


def start_anvil(workdir: Path) -> Child:
    """`anvil` on a free port, as a user starts it (automine, the test mnemonic's ten funded accounts)."""
    port = free_port()
    return Child([str(anvil_executable()), "--host", "127.0.0.1", "--port", str(port)], port,
                 workdir / "anvil.log")


@dataclass
class Figures:
    backend: str
    transfers_per_s: float
    polls_per_transfer: float     # eth_getTransactionReceipt requests per transfer, the answering one included
    receipt_at_once: float        # share of transfers whose receipt the first request found (ethers asks once, then
                                  # waits a polling interval: 4 s by default)
    calls_per_s: float
    balance_reads_per_s: float    # eth_getBalance one at a time: a state read, no EVM (on ours, forwarded to the node)
    block_numbers_per_s: float    # eth_blockNumber one at a time (on ours, answered by the front process itself)
    logs_all_ms: float            # eth_getLogs, LOG_BLOCKS blocks, a Transfer log in each (median)
    logs_one_ms: float            # the same range, one recipient's Transfer (one block matches) (median)
    log_blocks: int


def _hex(value: bytes) -> str:
    return "0x" + value.hex()


def _wait_receipt(rpc: Rpc, tx_hash: str) -> tuple[dict, int]:
    polls = 1
    while (receipt := rpc.call("eth_getTransactionReceipt", tx_hash)) is None:
        time.sleep(POLL_S)
        polls += 1
    return receipt, polls


def _succeeded(receipt: dict, what: str) -> dict:
    if receipt.get("status") != "0x1":
        raise RpcFailure(f"{what} failed: {receipt}")
    return receipt


def measure(url: str, backend: str, transfers: int, calls: int, log_queries: int = LOG_QUERIES) -> Figures:
    """The figures of one node at `url` (already answering)."""
    rpc = Rpc(url)
    owner = dev_accounts()[0]
    chain_id = int(rpc.call("eth_chainId"), 16)
    nonce = int(rpc.call("eth_getTransactionCount", _hex(owner.address), "pending"), 16)
    artifact = json.loads(TOKEN_ARTIFACT.read_text())
    code = bytes.fromhex(artifact["bytecode"][2:]) + abi_encode(["string", "string", "uint256"],
                                                                ["Bench", "BNCH", TOKEN_SUPPLY])
    deploy = sign(owner.private_key, nonce, chain_id, None, data=code, gas=DEPLOY_GAS)
    receipt, _ = _wait_receipt(rpc, rpc.call("eth_sendRawTransaction", _hex(deploy)))
    token = _succeeded(receipt, "the ERC-20 deployment")["contractAddress"]
    token_bytes = bytes.fromhex(token[2:])
    recipients = [derived_address("http-holder", j) for j in range(transfers)]
    signed = [_hex(sign(owner.private_key, nonce + 1 + j, chain_id, token_bytes,
                        data=transfer_data(to, 1), gas=TRANSFER_GAS)) for j, to in enumerate(recipients)]

    polls = at_once = 0
    blocks = set()
    started = time.perf_counter()
    for raw in signed:
        receipt, n = _wait_receipt(rpc, rpc.call("eth_sendRawTransaction", raw))
        blocks.add(_succeeded(receipt, "a transfer")["blockNumber"])
        polls += n
        at_once += n == 1
    transfer_s = time.perf_counter() - started

    call = {"to": token, "data": _hex(balance_of_data(recipients[-1]))}
    started = time.perf_counter()
    for _ in range(calls):
        balance = rpc.call("eth_call", call, "latest")
    call_s = time.perf_counter() - started
    if int(balance, 16) != 1:
        raise RpcFailure(f"balanceOf answered {balance}, not 1")
    balance_s = _seconds(rpc, calls, "eth_getBalance", _hex(owner.address), "latest")
    number_s = _seconds(rpc, calls, "eth_blockNumber")

    if len(blocks) != transfers:
        raise RpcFailure(f"{transfers} sequential transfers landed in {len(blocks)} blocks, not one each")
    # the last LOG_BLOCKS blocks, transfers only: one Transfer log in each
    head = int(rpc.call("eth_blockNumber"), 16)
    first = max(min(int(b, 16) for b in blocks), head - LOG_BLOCKS + 1)
    span = {"fromBlock": hex(first), "toBlock": hex(head), "address": token}
    mined = recipients[-(head - first + 1):]
    every = dict(span, topics=[_hex(TRANSFER_TOPIC)])
    one = dict(span, topics=[_hex(TRANSFER_TOPIC), None, _hex(mined[len(mined) // 2].rjust(32, b"\0"))])
    all_ms = _median_ms(rpc, every, expect=len(mined), queries=log_queries)
    one_ms = _median_ms(rpc, one, expect=1, queries=log_queries)
    rpc.close()
    return Figures(backend, transfers / transfer_s, polls / transfers, at_once / transfers, calls / call_s,
                   calls / balance_s, calls / number_s, all_ms, one_ms, len(mined))


def _seconds(rpc: Rpc, count: int, method: str, *params: Any) -> float:
    started = time.perf_counter()
    for _ in range(count):
        rpc.call(method, *params)
    return time.perf_counter() - started


def _median_ms(rpc: Rpc, criteria: dict, expect: int, queries: int) -> float:
    times = []
    for _ in range(queries):
        started = time.perf_counter()
        logs = rpc.call("eth_getLogs", criteria)
        times.append((time.perf_counter() - started) * 1000)
        if len(logs) != expect:
            raise RpcFailure(f"eth_getLogs {criteria} answered {len(logs)} logs, not {expect}")
    return statistics.median(times)


def run_backend(backend: str, transfers: int, calls: int, workdir: Path) -> Figures:
    """Start one node, measure it, stop it; the node's log tail comes with any failure."""
    child = start_node(workdir / "smartchain", block_time=0) if backend == "smartchain" else start_anvil(workdir)
    try:
        child.wait_ready()
        return measure(child.url, backend, transfers, calls)
    except (RpcFailure, RuntimeError, OSError) as exc:
        raise RuntimeError(f"{backend}: {exc}\n{child.tail()}") from exc
    finally:
        child.stop()


def run(transfers: int = DEFAULT_TRANSFERS, repeats: int = 1) -> dict:
    """Both nodes `repeats` times, alternating; medians and ratios. Without anvil: why it did not run."""
    missing = anvil_missing()
    if missing is not None:
        return {"skipped": missing}
    calls = transfers * 2
    samples: dict[str, list[dict]] = {b: [] for b in BACKENDS}
    try:
        for repeat in range(repeats):
            for backend in BACKENDS:
                print(f"[{repeat + 1}/{repeats}] http_testing: {backend}", file=sys.stderr, flush=True)
                with tempfile.TemporaryDirectory(prefix=f"smartchain-http-{backend}-") as tmp:
                    samples[backend].append(asdict(run_backend(backend, transfers, calls, Path(tmp))))
    except RuntimeError as exc:
        return {"error": str(exc), "samples": samples}
    result: dict = {"transfers": transfers, "calls": calls, "repeats": repeats, "poll_s": POLL_S}
    keys = ("transfers_per_s", "polls_per_transfer", "receipt_at_once", "calls_per_s", "balance_reads_per_s",
            "block_numbers_per_s", "logs_all_ms", "logs_one_ms", "log_blocks")
    for backend in BACKENDS:
        result[backend] = {k: statistics.median(s[k] for s in samples[backend]) for k in keys}
    # each repeat's ratio (the two nodes ran back to back, under the same load), then their median
    result["ratios"] = {key: statistics.median(_ratio(key, ours, anvil) for ours, anvil in
                                               zip(samples["smartchain"], samples["anvil"]))
                        for key, _, unit in FIGURES if unit}
    result["samples"] = samples
    return result


# (key, label, unit) of each figure, in table order; {blocks}: the blocks eth_getLogs spans (log_blocks)
FIGURES = (("transfers_per_s", "send-and-wait transfers", "/s"),
           ("calls_per_s", "eth_call(balanceOf) one at a time", "/s"),
           ("balance_reads_per_s", "eth_getBalance one at a time (no EVM)", "/s"),
           ("block_numbers_per_s", "eth_blockNumber one at a time", "/s"),
           ("receipt_at_once", "share of receipts found by the first request", ""),   # a share: no ratio
           ("logs_all_ms", "eth_getLogs, {blocks} blocks, a match in each", " ms"),
           ("logs_one_ms", "eth_getLogs, {blocks} blocks, one block matches", " ms"))


def _ratio(key: str, ours: dict, anvil: dict) -> float:
    """Ours / anvil's for a rate; anvil's / ours for a time (above 1: faster here)."""
    return anvil[key] / ours[key] if key.endswith("_ms") else ours[key] / anvil[key]


def rows(result: dict) -> list[tuple[str, str, str, str]]:
    """(figure, smartchain, anvil, ratio) rows of a finished run."""
    ours, anvil, blocks = result["smartchain"], result["anvil"], result["smartchain"]["log_blocks"]
    return [(label.format(blocks=blocks), f"{ours[key]:,.1f}{unit}" if unit else f"{ours[key]:.0%}",
             f"{anvil[key]:,.1f}{unit}" if unit else f"{anvil[key]:.0%}",
             f"{result['ratios'][key]:.2f}x" if key in result["ratios"] else "") for key, label, unit in FIGURES]


def table(result: dict) -> str:
    if "skipped" in result:
        return f"http_testing: not run: {result['skipped']}"
    if "error" in result:
        return f"http_testing FAILED: {result['error']}"
    lines = [("figure", "smartchain", "anvil", "ratio"), *rows(result)]
    return aligned(lines)


def main(argv: list[str] | None = None) -> int:
    p = argparse.ArgumentParser(prog="python -m benchmarks.http_testing", description=__doc__.splitlines()[0])
    p.add_argument("-n", "--transfers", type=int, default=DEFAULT_TRANSFERS,
                   help="sequential transfers per node; twice as many calls (default: %(default)s)")
    p.add_argument("-r", "--repeats", type=int, default=1)
    args = p.parse_args(argv)
    result = run(args.transfers, args.repeats)
    print(table(result))
    print(json.dumps(result, separators=(",", ":")))
    return 1 if "error" in result else 0


if __name__ == "__main__":
    sys.exit(main())
