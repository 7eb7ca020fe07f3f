"""From the samples of each repeat to medians, ratios, the issue's targets, a table and the JSON line."""
from __future__ import annotations

import statistics
from collections.abc import Sequence
from typing import Any

from benchmarks import p2p
from benchmarks.http_testing import FIGURES as HTTP_FIGURES

# (JSON path of the figure, comparison, bound, what the issue asks)
TARGETS = [
    (("node", "erc20_ratio"), ">=", 1.0, "node end-to-end ERC-20 throughput >= 1.0x the stock py-evm ceiling"),
    (("rpc", "ratios", "eth_blockNumber@1"), ">=", 0.8, "eth_blockNumber >= 0.8x the bare aiohttp echo server (c=1)"),
    (("rpc", "ratios", "eth_blockNumber@32"), ">=", 0.8, "eth_blockNumber >= 0.8x the bare aiohttp echo server (c=32)"),
    (("startup", "process_fresh_s"), "<=", 1.0, "start-up to first eth_chainId answer <= 1 s"),
    (("startup", "devnet_start_s"), "<=", 0.2, "in-process Devnet(1 validator) start <= 0.2 s"),
    (("follower", "import_erc20_ratio"), ">=", 0.9, "follower import >= 0.9x the ceiling"),
    (("scale", "ratio"), "<=", 2.0, "per-tx cost at the big state <= 2x that at the small one"),
    (("testing", "ratios", "transfers_per_s"), ">=", 5.0, "in-process, send-and-wait transfers >= 5x eth-tester"),
    (("testing", "ratios", "calls_per_s"), ">=", 5.0, "in-process, eth_call >= 5x eth-tester"),
    (("testing", "ratios", "snapshot_cycles_per_s"), ">=", 5.0, "in-process, snapshot+revert cycles >= 5x eth-tester"),
    (("testing", "ratios", "module_s"), ">=", 5.0, "in-process, the 50-test module >= 5x eth-tester (its time / ours)"),
    (("http_testing", "ratios", "transfers_per_s"), ">=", 0.5, "over HTTP, send-and-wait transfers >= 0.5x anvil"),
    (("http_testing", "ratios", "calls_per_s"), ">=", 0.5, "over HTTP, eth_call one at a time >= 0.5x anvil"),
    *p2p.TARGETS,
]


def median(values: Sequence[float | None]) -> float | None:
    present = [v for v in values if v is not None]
    return statistics.median(present) if present else None


def medians(samples: Sequence[dict[str, Any]]) -> dict[str, Any]:
    """Per key, the median over repeats of numeric values (other values: the first sample's)."""
    out: dict[str, Any] = {}
    for key in samples[0]:
        values = [s[key] for s in samples]
        numeric = all(isinstance(v, (int, float)) or v is None for v in values)
        out[key] = median(values) if numeric else values[0]
    return out


def ratio(numerator: float | None, denominator: float | None) -> float | None:
    if numerator is None or not denominator:
        return None
    return numerator / denominator


def _get(result: dict, path: tuple[str, ...]) -> Any:
    for key in path:
        if not isinstance(result, dict) or key not in result:
            return None
        result = result[key]
    return result


def targets(result: dict) -> list[dict[str, Any]]:
    out = []
    for path, op, bound, text in TARGETS:
        value = _get(result, path)
        met = None if value is None else (value >= bound if op == ">=" else value <= bound)
        out.append({"figure": ".".join(path), "value": value, "target": f"{op} {bound:g}", "met": met,
                    "what": text})
    return out


def _fmt(value: Any) -> str:
    if value is None:
        return "-"
    if isinstance(value, float):
        return f"{value:,.3f}" if abs(value) < 10 else f"{value:,.0f}"
    return str(value)


def table(result: dict) -> str:
    """The human-readable table: one row per figure, medians of the repeats."""
    rows: list[tuple[str, str, str]] = []

    def add(section: str, label: str, value: Any, unit: str = "") -> None:
        rows.append((section, label, f"{_fmt(value)} {unit}".strip()))

    if "ceiling" in result:
        c = result["ceiling"]
        add("ceiling", f"stock py-evm mine_all, {c['block_size']}-tx blocks: ERC-20", c["erc20_tps"], "tx/s")
        add("ceiling", "stock py-evm mine_all: value transfers", c["value_tps"], "tx/s")
    failures = [f"{name} FAILED: {figures['error'].splitlines()[0]}" for name, figures in result.items()
                if isinstance(figures, dict) and "error" in figures]
    if "node" in result and "error" in result["node"]:
        add("node", "FAILED (below)", None)
    elif "node" in result:
        n = result["node"]
        add("node", f"end-to-end ERC-20 ({n['mode']}, {n['concurrency']} in flight)", n["erc20_tps"], "tx/s")
        add("node", "  ratio to ceiling", n["erc20_ratio"], "x")
        add("node", "end-to-end value transfers", n["value_tps"], "tx/s")
        add("node", "  ratio to ceiling", n["value_ratio"], "x")
        add("node", "ERC-20: eth_sendRawTransaction while submitting", n["erc20_send_rps"], "req/s")
        add("node", "ERC-20: last send -> all mined", n["erc20_mined_s"], "s")
        add("node", "ERC-20: reading every receipt", n["erc20_receipts_s"], "s")
        add("node", "blocks the ERC-20 transfers landed in", n["erc20_blocks"])
    if "rpc" in result:
        r = result["rpc"]
        for key, value in r["rates"].items():
            add("rpc", key, value, "req/s")
        for key, value in r["ratios"].items():
            add("rpc", f"{key} / echo", value, "x")
    if "startup" in result:
        s = result["startup"]
        add("startup", "process start -> first eth_chainId (fresh data dir)", s["process_fresh_s"], "s")
        add("startup", "process start -> first eth_chainId (restart)", s["process_restart_s"], "s")
        add("startup", "in-process Node(NodeConfig(block_time=0)).start()", s["node_start_s"], "s")
        add("startup", "in-process Devnet(validators=1) start", s["devnet_start_s"], "s")
    if "scale" in result:
        s = result["scale"]
        add("scale", f"per-tx cost, {s['small_accounts']:,} accounts", s["small_us_per_tx"], "us")
        add("scale", f"per-tx cost, {s['big_accounts']:,} accounts", s["big_us_per_tx"], "us")
        add("scale", "  ratio big / small", s["ratio"], "x")
        add("scale", f"state setup, {s['big_accounts']:,} accounts", s["big_setup_s"], "s")
    if "follower" in result:
        f = result["follower"]
        add("follower", "in-process build (pool + node.mine): ERC-20", f["build_erc20_tps"], "tx/s")
        add("follower", "  ratio to ceiling", f["build_erc20_ratio"], "x")
        add("follower", "import ERC-20 blocks", f["import_erc20_tps"], "tx/s")
        add("follower", "  ratio to ceiling", f["import_erc20_ratio"], "x")
        add("follower", "import value-transfer blocks", f["import_value_tps"], "tx/s")
        add("follower", "  ratio to ceiling", f["import_value_ratio"], "x")
        add("follower", "import, all blocks", f["import_blocks_per_s"], "blocks/s")
    if "testing" in result and "ratios" in result["testing"]:
        t = result["testing"]
        for key, label, unit in (("transfers_per_s", "send-and-wait transfers", "tx/s"),
                                 ("calls_per_s", "eth_call(balanceOf)", "calls/s"),
                                 ("snapshot_cycles_per_s", "snapshot+transfer+revert", "cycles/s")):
            add("testing", f"{label}: the plugin's w3", t["smartchain"][key], unit)
            add("testing", f"{label}: eth-tester", t["eth_tester"][key], unit)
            add("testing", "  ratio", t["ratios"][key], "x")
            if "ceilings" in t:
                add("testing", "  ceiling (web3.py alone / eth-tester)", t["ceilings"][key], "x")
        add("testing", "50-test module: the plugin's w3", t["smartchain"]["module_s"], "s")
        add("testing", "50-test module: eth-tester", t["eth_tester"]["module_s"], "s")
        add("testing", "  ratio (eth-tester's time / ours)", t["ratios"]["module_s"], "x")
    if "http_testing" in result and "ratios" in result["http_testing"]:
        h = result["http_testing"]
        for key, label, unit in HTTP_FIGURES:
            label = label.format(blocks=h["smartchain"]["log_blocks"])
            add("http_testing", f"{label}: smartchain", h["smartchain"][key], unit.strip())
            add("http_testing", f"{label}: anvil", h["anvil"][key], unit.strip())
            if key in h["ratios"]:
                add("http_testing", "  ratio" + (" (anvil's time / ours)" if key.endswith("_ms") else ""),
                    h["ratios"][key], "x")
    p2p.rows(result, add)
    width = [max(len(r[i]) for r in rows) for i in range(3)] if rows else [0, 0, 0]
    lines = [f"{a:<{width[0]}}  {b:<{width[1]}}  {c:>{width[2]}}" for a, b, c in rows]
    if failures:
        lines.append("")
        lines.extend(failures)
    skipped = [f"{name} not run: {figures['skipped']}" for name, figures in result.items()
               if isinstance(figures, dict) and "skipped" in figures]
    if skipped:
        lines.append("")
        lines.extend(skipped)
    goals = [t for t in result.get("targets", []) if t["value"] is not None]
    if goals:
        lines.append("")
        lines.extend(f"{'met ' if t['met'] else 'MISS'}  {t['what']}: {_fmt(t['value'])}" for t in goals)
    return "\n".join(lines)
