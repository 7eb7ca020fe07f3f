"""cProfile over every thread of a process, and a summary of where the time goes by component.

cProfile only sees the thread that enabled it, while the node works in its producer thread, its RPC event-loop
thread and the RPC worker pool; `profile_threads()` wraps `Thread.run` so each thread started afterwards carries
its own profiler, and `merged()` adds them up.
"""
from __future__ import annotations

import cProfile
import io
import pstats
import threading
from contextlib import contextmanager
from pathlib import Path
from typing import Iterator

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
def profiled() -> Iterator[cProfile.Profile]:
    """Profile the calling thread for the duration of the block."""
    profile = cProfile.Profile()
    profile.enable()
    try:
        yield profile
    finally:
        profile.disable()


class ThreadProfiles:
    """Profiles every thread started after `install()`, plus the installing thread."""

    def __init__(self) -> None:
        self._done: list[cProfile.Profile] = []
        self._lock = threading.Lock()
        self._main = cProfile.Profile()
        self._original_run = threading.Thread.run

    def install(self) -> None:
        profiles = self

        def run(thread: threading.Thread) -> None:
            profile = cProfile.Profile()
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
