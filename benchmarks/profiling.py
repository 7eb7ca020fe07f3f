"""cProfile over every thread of a process, and a summary of where the time goes by component.

cProfile only sees the thread that enabled it, while the node works in its producer thread, its RPC event-loop
thread and the RPC worker pool; `ThreadProfiles` wraps `Thread.run` so each thread started afterwards carries
its own profiler, and `merged()` adds them up. Those profilers count each thread's CPU time (`time.thread_time`):
with wall time, a call that releases the GIL (an LMDB read, a socket write) would be charged for every moment
its thread then waits for the GIL while the other threads run.
"""
from __future__ import annotations

import cProfile
import io
import pstats
import threading
import time
from collections.abc import Iterator
from contextlib import contextmanager
from pathlib import Path

# (component, substrings of the code's file path), first match wins; self time is charged to the component
COMPONENTS = [
    ("sender recovery / signatures", ("eth_keys", "coincurve", "eth_account")),
    ("EVM execution", ("eth/vm/logic", "eth/vm/computation", "eth/vm/stack", "eth/vm/memory", "eth/vm/code_stream",
                       "eth/vm/gas_meter", "eth/vm/message", "eth/precompiles", "eth/vm/opcode")),
    ("tries (tx/receipt roots, state)", ("/trie/", "eth/db/account", "eth/db/storage", "eth/db/journal",
                                         "eth/db/batch", "eth/db/cache", "eth/db/keymap", "eth/db/diff",
                                         "eth/_utils/trie")),
    ("py-evm chain/state/blocks", ("/eth/",)),
    ("RLP", ("/rlp/", "eth_rlp")),
    ("hashing (keccak)", ("eth_hash", "Crypto/", "pycryptodome")),
    ("LMDB store (node/db.py)", ("node/db.py", "lmdb")),
    ("node: pool", ("node/txpool", "node/txvalidation", "node/txerrors")),
    ("node: chain/store/producer", ("node/",)),
    ("consensus (Parlia)", ("consensus/",)),
    ("RPC handlers/encoding", ("rpc/",)),
    ("HTTP (aiohttp, asyncio)", ("aiohttp", "asyncio", "multidict", "yarl", "selectors", "socket", "ssl")),
    ("JSON", ("json",)),
    ("threads/locks/waiting", ("threading", "concurrent/futures", "queue.py")),
]


# (stage, file path ending, function name): inclusive time of the function, wherever it is called from; stages
# nest (execution includes its EVM and validation), so their shares overlap and do not add up to 100%
STAGES = [
    ("pool admission (TxPool.add_raw)", "node/txpool.py", "add_raw"),
    ("execute transactions (VM.apply_transaction)", "eth/vm/base.py", "apply_transaction"),
    ("  EVM message (apply_message)", "eth/vm/forks/frontier/computation.py", "apply_message"),
    ("  tx validation incl. signature check", "eth/vm/forks/frontier/state.py", "validate_transaction"),
    ("sender recovery (extract_transaction_sender)", "eth/_utils/transactions.py", "extract_transaction_sender"),
    ("tx/receipt roots (make_trie_root_and_nodes)", "eth/db/trie.py", "make_trie_root_and_nodes"),
    ("state root + persist (VM.finalize_block)", "eth/vm/base.py", "finalize_block"),
    ("header/block persist (ChainDB.persist_block)", "eth/db/chain.py", "persist_block"),
    ("index (Store.index_block)", "node/store.py", "index_block"),
    ("LMDB commit (LmdbDB._commit)", "node/db.py", "_commit"),
    ("LMDB reads (LmdbDB.__getitem__)", "node/db.py", "__getitem__"),
    ("Parlia verify (PosaEngine.verify_header)", "consensus/engine.py", "verify_header"),
    ("Parlia seal (PosaEngine.seal)", "consensus/engine.py", "seal"),
    ("receipts read (ChainDB.get_receipts)", "eth/db/chain.py", "get_receipts"),
    ("block txs read (ChainDB.get_block_transactions)", "eth/db/chain.py", "get_block_transactions"),
    ("rpc eth_getTransactionReceipt", "rpc/eth.py", "get_transaction_receipt"),
    ("rpc eth_sendRawTransaction", "rpc/eth.py", "send_raw_transaction"),
    ("rpc eth_getTransactionCount", "rpc/eth.py", "get_transaction_count"),
    ("rpc eth_call", "rpc/eth.py", "call"),
    ("rpc eth_blockNumber", "rpc/eth.py", "block_number"),
    ("rpc dispatch (registry call, in a worker thread)", "rpc/registry.py", "__call__"),
    ("request parse (rpc.params.loads)", "rpc/params.py", "loads"),
]


def stages(stats: pstats.Stats) -> list[tuple[str, float, int]]:
    """(stage, inclusive seconds, calls) for each stage present in the profile."""
    out = []
    for label, path, name in STAGES:
        seconds, calls = 0.0, 0
        for (filename, _, function), (_, ncalls, _, cumtime, _) in stats.stats.items():  # type: ignore[attr-defined]
            if function == name and filename.endswith(path):
                seconds += cumtime
                calls += ncalls
        if calls:
            out.append((label, seconds, calls))
    return out


def component(filename: str) -> str:
    for name, needles in COMPONENTS:
        if any(n in filename for n in needles):
            return name
    return "builtins" if filename == "~" else "other"


def by_component(stats: pstats.Stats) -> list[tuple[str, float]]:
    """Self time per component, largest first (waiting in C calls such as sleep/select shows under builtins)."""
    totals: dict[str, float] = {}
    for (filename, _, _), (_, _, tottime, _, _) in stats.stats.items():  # type: ignore[attr-defined]
        key = component(filename)
        totals[key] = totals.get(key, 0.0) + tottime
    return sorted(totals.items(), key=lambda kv: -kv[1])


def report(stats: pstats.Stats, title: str, top: int = 25) -> str:
    """A text report: self time by component, then the top functions by cumulative and by self time."""
    out = io.StringIO()
    total = sum(t for _, t in by_component(stats)) or 1.0
    out.write(f"== {title}: self time by component (total {total:.2f} s profiled)\n")
    for name, seconds in by_component(stats):
        out.write(f"  {seconds:8.2f} s  {100 * seconds / total:5.1f}%  {name}\n")
    out.write(f"\n== {title}: stages, inclusive time (nested stages overlap)\n")
    for label, seconds, calls in stages(stats):
        out.write(f"  {seconds:8.2f} s  {100 * seconds / total:5.1f}%  {calls:9d} calls  {label}\n")
    for order in ("cumulative", "tottime"):
        out.write(f"\n== {title}: top {top} by {order}\n")
        stats.stream = out  # type: ignore[attr-defined]
        stats.sort_stats(order).print_stats(top)
    return out.getvalue()


def write(stats: pstats.Stats, directory: Path, name: str) -> Path:
    """`name.prof` (for snakeviz/pstats) and `name.txt` (the report) in `directory`; returns the .txt path."""
    directory.mkdir(parents=True, exist_ok=True)
    stats.dump_stats(directory / f"{name}.prof")
    text = directory / f"{name}.txt"
    text.write_text(report(stats, name))
    return text


@contextmanager
def profiled(to: Path | None) -> Iterator[None]:
    """Profile the calling thread for the duration of the block into `to` (.prof, plus a .txt report beside it);
    nothing when `to` is None."""
    if to is None:
        yield
        return
    profile = cProfile.Profile()
    profile.enable()
    try:
        yield
    finally:
        profile.disable()
    write(pstats.Stats(profile), to.parent, to.stem)


class ThreadProfiles:
    """Profiles every thread started after `install()`, plus the installing thread."""

    def __init__(self) -> None:
        self._done: list[cProfile.Profile] = []
        self._lock = threading.Lock()
        self._main = cProfile.Profile(time.thread_time)
        self._original_run = threading.Thread.run

    def install(self) -> None:
        profiles = self

        def run(thread: threading.Thread) -> None:
            profile = cProfile.Profile(time.thread_time)
            profile.enable()
            try:
                profiles._original_run(thread)
            finally:
                profile.disable()
                with profiles._lock:
                    profiles._done.append(profile)

        threading.Thread.run = run  # type: ignore[method-assign]
        self._main.enable()

    def merged(self) -> pstats.Stats:
        """The installing thread's profile plus every thread that has finished (call from the installing thread)."""
        self._main.disable()
        stats = pstats.Stats(self._main)
        with self._lock:
            for profile in self._done:
                stats.add(profile)
        return stats
