"""The peer-to-peer sections (issue 14): sync from a peer over RLPx against `smartchain import`, and block propagation
across four validator processes. Every node is a `smartchain run` (or `smartchain import`) process started as a user
starts it, talking RLPx over 127.0.0.1.

- `p2p_sync`: the workload's chain (its setup, N ERC-20 and N value transfers in blocks of BLOCK_SIZE, built
  in-process and exported to a block file, untimed) is imported from the file by `smartchain import` into a fresh
  data dir, and synced over RLPx by a fresh `smartchain run --peers ENODE` from a `smartchain run` serving that data
  dir. The rates compare the work past start-up: the import's own clock (its summary line, "in X s") against the
  follower's first peer (`net_peerCount` 1, polled every POLL s) to `eth_blockNumber` at the last block, so the
  sync's clock includes the handshake, the header and body requests and their checks; the figure is the ratio of the
  two rates, taken in the same run. Spawn-to-done times of both processes are reported too. The synced head must
  be the served head's hash.
- `p2p_propagation`: `smartchain init-network --validators 4` and four `smartchain run --datadir DIR/node{i}`;
  a WebSocket `eth_subscribe("newHeads")` on each node stamps the moment each block reaches it; once every node
  has its 3 peers, for each of the next `--p2p-blocks` blocks seen by all four, the latency is the last other
  node's stamp minus the sealer's own (seal to imported on the last node, both through the same RPC path);
  median and p99 (nearest rank) are reported.
"""
from __future__ import annotations

import asyncio
import json
import math
import re
import shutil
import socket
import statistics
import subprocess
import tempfile
import time
from collections.abc import Callable
from dataclasses import asdict, dataclass, field
from pathlib import Path
from typing import Any

import aiohttp
import rlp
from eth_keys import keys
from eth_utils import big_endian_to_int

from benchmarks.follower import build_chain
from benchmarks.isolate import fresh
from benchmarks.processes import Child, _env, free_port, rpc_once, smartchain_command
from benchmarks.workload import Workload
from node.chain.blockfile import split_blocks

SECTIONS = ("p2p_sync", "p2p_propagation")
BLOCK_SIZE = 100          # transactions per block of the synced chain (more blocks than the follower's 500)
POLL = 0.05               # s between the follower's net_peerCount / eth_blockNumber probes
SYNC_TIMEOUT = 600.0      # s for a sync or an import to finish
VALIDATORS = 4
PEER_TIMEOUT = 60.0       # s for the four validators to reach their 3 peers each
IMPORT_SUMMARY = re.compile(r"imported \d+ blocks \(\d+ txs\) in ([0-9.]+) s")   # smartchain import's last line
DEFAULT_BLOCKS = 30       # propagation: measured blocks

# (JSON path of the figure, comparison, bound, what the issue asks): summary.py adds them to its own
TARGETS = [
    (("p2p_sync", "ratio"), ">=", 0.8, "sync of a chain from a peer over RLPx >= 0.8x `smartchain import` of it"),
]


class P2pBenchmarkError(RuntimeError):
    """A node of a p2p section failed (the message carries its log tail)."""


# -- sync from a peer against import from a file --------------------------------------------------------------------
@dataclass
class SyncRun:
    blocks: int
    transactions: int
    import_s: float            # `smartchain import`'s own clock (its summary)
    sync_s: float              # the follower's first peer -> eth_blockNumber at the last block
    import_spawn_s: float      # spawn of `smartchain import` -> its exit
    sync_spawn_s: float        # spawn of the follower -> eth_blockNumber at the last block
    import_blocks_per_s: float
    sync_blocks_per_s: float
    import_tps: float
    sync_tps: float


def _call(child: Child, method: str, *params: Any) -> Any:
    return rpc_once(child.url, method, params)


def _run_node(datadir: Path, *extra: str) -> Child:
    """`smartchain run` on a free HTTP port (dev mode, automine: it seals nothing without transactions)."""
    port = free_port()
    argv = [*smartchain_command(), "run", "--datadir", str(datadir), "--http.port", str(port), "--block-time", "0",
            "--p2p.port", str(free_port()), *extra]
    datadir.mkdir(parents=True, exist_ok=True)
    return Child(argv, port, datadir.parent / f"{datadir.name}.log", env=_env())


def import_file(chain_file: Path, datadir: Path) -> tuple[float, float]:
    """`smartchain import FILE` into a fresh data dir: (seconds by its own summary, seconds from spawn to exit)."""
    log = datadir.parent / f"{datadir.name}-import.log"
    started = time.perf_counter()
    with open(log, "wb") as out:
        code = subprocess.run([*smartchain_command(), "import", "--datadir", str(datadir), str(chain_file)],
                              stdout=out, stderr=subprocess.STDOUT, stdin=subprocess.DEVNULL, env=_env(),
                              timeout=SYNC_TIMEOUT, check=False).returncode
    spawn_s = time.perf_counter() - started
    text = log.read_text(errors="replace")
    summary = IMPORT_SUMMARY.search(text)
    if code != 0 or summary is None:
        tail = "\n".join(text.splitlines()[-20:])
        raise P2pBenchmarkError(f"smartchain import exited with {code}:\n{tail}")
    return float(summary.group(1)), spawn_s


def sync_once(chain_file: Path, blocks: int, transactions: int, workdir: Path) -> SyncRun:
    """One import from the file and one sync of the same chain over RLPx, each into a fresh data dir."""
    workdir.mkdir(parents=True, exist_ok=True)
    imported = workdir / "imported"
    import_s, import_spawn_s = import_file(chain_file, imported)
    served = workdir / "server"
    shutil.copytree(imported, served)   # the import is over: its LMDB files are closed and unlocked
    with _run_node(served, "--p2p") as server:
        try:
            server.wait_ready()
            enode = _call(server, "admin_nodeInfo")["enode"]
            head = _call(server, "eth_getBlockByNumber", hex(blocks), False)
            if head is None:
                raise P2pBenchmarkError(f"the served data dir has no block {blocks}")
            follower = _run_node(workdir / "follower", "--peers", enode)
            with follower:
                try:
                    connected = _wait_until(follower, lambda: int(_call(follower, "net_peerCount"), 16) >= 1,
                                            "its peer")
                    done = _wait_until(follower, lambda: int(_call(follower, "eth_blockNumber"), 16) >= blocks,
                                       f"block {blocks}")
                    synced = _call(follower, "eth_getBlockByNumber", hex(blocks), False)
                except Exception as exc:
                    raise P2pBenchmarkError(f"{exc}\nfollower log:\n{follower.tail()}") from exc
        except P2pBenchmarkError:
            raise
        except Exception as exc:
            raise P2pBenchmarkError(f"{exc}\nserver log:\n{server.tail()}") from exc
    if synced["hash"] != head["hash"]:
        raise P2pBenchmarkError(f"synced block {blocks} is {synced['hash']}, the server's {head['hash']}")
    sync_s = done - connected
    return SyncRun(blocks, transactions, import_s, sync_s, import_spawn_s, done - follower.started,
                   blocks / import_s, blocks / sync_s, transactions / import_s, transactions / sync_s)


def _wait_until(child: Child, check: Callable[[], bool], what: str) -> float:
    """perf_counter() when `check()` first held (probed every POLL s)."""
    deadline = child.started + SYNC_TIMEOUT
    while True:
        try:
            if check():
                return time.perf_counter()
        except OSError:   # not serving yet
            pass
        if child.proc.poll() is not None:
            raise P2pBenchmarkError(f"the follower exited with {child.proc.returncode}")
        if time.perf_counter() > deadline:
            raise P2pBenchmarkError(f"the follower did not reach {what} within {SYNC_TIMEOUT:g} s")
        time.sleep(POLL)


def build_sync_chain(load: Workload, workdir: Path) -> tuple[Path, int, int]:
    """The workload's chain in a block file (in a fresh process, untimed): (file, last block, transactions)."""
    chain_file = workdir / "chain.rlp"
    built = fresh(build_chain, load.setup, load.erc20, load.value, workdir / "producer", chain_file, BLOCK_SIZE)
    last = built.value_blocks[-1]
    return chain_file, last, len(load.setup) + len(load.erc20) + len(load.value)


def _wait_past_last_block(chain_file: Path, say: Callable[[str], None]) -> None:
    """Wait until the chain's last block is no longer in the future: the chain is built faster than its 1 s period,
    and a sync refuses a block from the future until its time comes (BSC's ErrFutureBlock), where `smartchain
    import` of a file does not check the clock: the sync would be timed waiting, not working."""
    *_, (_, last) = split_blocks(chain_file.read_bytes())
    header = rlp.decode(last)[0]
    wait = big_endian_to_int(header[11]) + 1 - time.time()
    if wait > 0:
        say(f"p2p_sync: waiting {wait:.0f} s for the last block's timestamp to pass")
        time.sleep(wait)


# -- block propagation across four validator processes ----------------------------------------------------------------
@dataclass
class PropagationRun:
    blocks: int                     # blocks measured (seen by all four nodes)
    median_ms: float
    p99_ms: float
    max_ms: float
    latencies_ms: list[float] = field(default_factory=list)


def percentile(values: list[float], q: float) -> float:
    """Nearest-rank percentile (q in 0..100) of a non-empty list."""
    ordered = sorted(values)
    return ordered[max(0, math.ceil(q / 100 * len(ordered)) - 1)]


def propagation_once(blocks: int, workdir: Path) -> PropagationRun:
    """Four validators from init-network, each its own `smartchain run`; latencies of `blocks` blocks."""
    http_ports = _consecutive_free(VALIDATORS)
    p2p_ports = _consecutive_free(VALIDATORS, avoid=set(http_ports))
    http, p2p = http_ports[0], p2p_ports[0]
    root = workdir / "net"
    subprocess.run([*smartchain_command(), "init-network", "--validators", str(VALIDATORS), "--dir", str(root),
                    "--http.port", str(http), "--p2p.port", str(p2p)], check=True, env=_env(),
                   stdout=subprocess.DEVNULL, stderr=subprocess.PIPE, timeout=120)
    owners = {}
    for i in range(VALIDATORS):
        key = bytes.fromhex((root / f"node{i}" / "validator.key").read_text().strip().removeprefix("0x"))
        owners["0x" + keys.PrivateKey(key).public_key.to_canonical_address().hex()] = i
    children = [Child([*smartchain_command(), "run", "--datadir", str(root / f"node{i}")], http + i,
                      root / f"node{i}.log", env=_env()) for i in range(VALIDATORS)]
    try:
        for child in children:
            child.wait_ready()
        latencies = asyncio.run(_measure(children, owners, blocks))
    except Exception as exc:
        tails = "\n".join(f"--- node{i}\n{c.tail(10)}" for i, c in enumerate(children))
        raise P2pBenchmarkError(f"{exc}\n{tails}") from exc
    finally:
        for child in children:
            child.stop()
    return PropagationRun(len(latencies), statistics.median(latencies), percentile(latencies, 99), max(latencies),
                          [round(x, 3) for x in latencies])


def _consecutive_free(count: int, avoid: set[int] = frozenset()) -> list[int]:
    """`count` consecutive free ports (init-network gives node i the base port + i)."""
    for _ in range(100):
        base = free_port()
        ports = list(range(base, base + count))
        if avoid & set(ports):
            continue
        try:
            for port in ports:
                with socket.socket() as s:
                    s.bind(("127.0.0.1", port))
            return ports
        except OSError:
            continue
    raise P2pBenchmarkError(f"no {count} consecutive free ports")


async def _measure(children: list[Child], owners: dict[str, int], blocks: int) -> list[float]:
    seen: dict[str, dict[int, float]] = {}     # block hash -> node index -> perf_counter at the notification
    sealer: dict[str, int] = {}
    ready = asyncio.Event()

    async def listen(index: int, child: Child, session: aiohttp.ClientSession) -> None:
        async with session.ws_connect(f"ws://127.0.0.1:{child.port}/") as ws:
            await ws.send_json({"jsonrpc": "2.0", "id": 1, "method": "eth_subscribe", "params": ["newHeads"]})
            async for message in ws:
                stamp = time.perf_counter()
                data = json.loads(message.data)
                head = data.get("params", {}).get("result") if data.get("method") == "eth_subscription" else None
                if head is None or not ready.is_set():
                    continue
                seen.setdefault(head["hash"], {})[index] = stamp
                sealer[head["hash"]] = owners.get(head["miner"].lower(), -1)

    async with aiohttp.ClientSession() as session:
        tasks = [asyncio.create_task(listen(i, c, session)) for i, c in enumerate(children)]
        try:
            deadline = time.perf_counter() + PEER_TIMEOUT
            while min(await asyncio.gather(*(asyncio.to_thread(_peers, c) for c in children))) < VALIDATORS - 1:
                if time.perf_counter() > deadline:
                    raise P2pBenchmarkError(f"the validators did not reach {VALIDATORS - 1} peers each in "
                                            f"{PEER_TIMEOUT:g} s")
                await asyncio.sleep(0.2)
            ready.set()
            deadline = time.perf_counter() + blocks * 5 + 30   # a 1 s period, with room for out-of-turn back-offs
            while _complete(seen, sealer) < blocks:
                if any(t.done() for t in tasks):
                    raise P2pBenchmarkError(f"a subscription ended: {[t.exception() for t in tasks if t.done()]}")
                if time.perf_counter() > deadline:
                    raise P2pBenchmarkError(f"only {_complete(seen, sealer)} of {blocks} blocks reached all nodes")
                await asyncio.sleep(0.1)
        finally:
            for task in tasks:
                task.cancel()
            await asyncio.gather(*tasks, return_exceptions=True)
    done = [h for h in seen if _reached_all(seen, sealer, h)][:blocks]
    return [(max(t for i, t in seen[h].items() if i != sealer[h]) - seen[h][sealer[h]]) * 1000 for h in done]


def _reached_all(seen: dict, sealer: dict, block_hash: str) -> bool:
    return len(seen[block_hash]) == VALIDATORS and sealer[block_hash] in seen[block_hash]


def _complete(seen: dict, sealer: dict) -> int:
    return sum(_reached_all(seen, sealer, h) for h in list(seen))


def _peers(child: Child) -> int:
    try:
        return int(_call(child, "net_peerCount"), 16)
    except OSError:
        return 0


# -- the harness's view --------------------------------------------------------------------------------------------
def add_arguments(parser: Any) -> None:
    parser.add_argument("--p2p-blocks", type=int, default=DEFAULT_BLOCKS,
                        help="blocks measured in the p2p_propagation section (default: %(default)s)")


def run(args: Any, load: Workload | None, sections: set[str], say: Callable[[str], None]) -> dict:
    """The p2p sections chosen in `sections`, `args.repeats` times each: {section: figures}; a section whose node
    failed is {"error": why, with the node's log tail} and the others still run."""
    result: dict = {}
    for name, section in (("p2p_sync", _sync_section), ("p2p_propagation", _propagation_section)):
        if name in sections:
            try:
                result[name] = section(args, load, say)
            except (P2pBenchmarkError, subprocess.SubprocessError, OSError) as exc:
                say(f"{name}: failed: {str(exc).splitlines()[0]}")
                result[name] = {"error": str(exc)}
    return result


def _sync_section(args: Any, load: Workload, say: Callable[[str], None]) -> dict:
    with tempfile.TemporaryDirectory(prefix="smartchain-bench-p2p-") as tmp:
        say("p2p_sync: building the chain file")
        chain_file, last, transactions = build_sync_chain(load, Path(tmp))
        _wait_past_last_block(chain_file, say)
        runs = []
        for repeat in range(args.repeats):
            say(f"[{repeat + 1}/{args.repeats}] p2p_sync: smartchain import, then a sync over RLPx ({last} blocks)")
            runs.append(asdict(sync_once(chain_file, last, transactions, Path(tmp) / f"r{repeat}")))
    figures = _medians(runs)
    # the ratio of the medians, both taken in this run
    return dict(figures, ratio=figures["sync_blocks_per_s"] / figures["import_blocks_per_s"], block_size=BLOCK_SIZE,
                samples=runs)


def _propagation_section(args: Any, load: Workload | None, say: Callable[[str], None]) -> dict:
    runs = []
    for repeat in range(args.repeats):
        say(f"[{repeat + 1}/{args.repeats}] p2p_propagation: four validator processes, {args.p2p_blocks} blocks")
        with tempfile.TemporaryDirectory(prefix="smartchain-bench-p2p-") as tmp:
            runs.append(asdict(propagation_once(args.p2p_blocks, Path(tmp))))
    every = [x for r in runs for x in r["latencies_ms"]]
    return {"validators": VALIDATORS, "blocks": len(every), "median_ms": statistics.median(every),
            "p99_ms": percentile(every, 99), "max_ms": max(every), "samples": runs}


def _medians(runs: list[dict]) -> dict:
    return {key: statistics.median(r[key] for r in runs) for key in runs[0]}


def rows(result: dict, add: Callable[..., None]) -> None:
    """The table's rows of the p2p sections (summary.table calls this with its `add`)."""
    if "error" not in result.get("p2p_sync", {"error": None}):
        s = result["p2p_sync"]
        add("p2p_sync", f"`smartchain import` of {s['blocks']:.0f} blocks ({s['block_size']}-tx)",
            s["import_blocks_per_s"], "blocks/s")
        add("p2p_sync", "sync of the same blocks from a peer over RLPx", s["sync_blocks_per_s"], "blocks/s")
        add("p2p_sync", "  ratio sync / import", s["ratio"], "x")
        add("p2p_sync", "import / sync past start-up (import's clock; first peer -> last block)",
            f"{s['import_s']:.2f} / {s['sync_s']:.2f}", "s")
        add("p2p_sync", "import / sync, process spawn -> chain there", f"{s['import_spawn_s']:.2f} / "
            f"{s['sync_spawn_s']:.2f}", "s")
    if "error" not in result.get("p2p_propagation", {"error": None}):
        p = result["p2p_propagation"]
        add("p2p_propagation", f"seal -> imported on the last of {p['validators']} processes, median "
            f"({p['blocks']} blocks)", p["median_ms"], "ms")
        add("p2p_propagation", "  p99 / max", f"{p['p99_ms']:.0f} / {p['max_ms']:.0f}", "ms")
