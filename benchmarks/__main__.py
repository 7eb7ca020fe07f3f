"""`python -m benchmarks`: run the sections, print a table, then one JSON line with every figure."""
from __future__ import annotations

import argparse
import json
import os
import sys
import time
from dataclasses import asdict
from pathlib import Path

from benchmarks import ceiling, endtoend, follower, http_testing, p2p, scale, startup, testing
from benchmarks.isolate import fresh
from benchmarks.processes import start_echo
from benchmarks.summary import medians, ratio, table, targets
from benchmarks.workload import build_workload

SECTIONS = ("ceiling", "node", "rpc", "startup", "scale", "follower", "testing", "http_testing", *p2p.SECTIONS)
QUICK = dict(transactions=48, repeats=1, senders=16, rpc_seconds=0.2, scale_accounts="1000,10000",
             scale_blocks=1, scale_block_size=48, p2p_blocks=3)


def _parser() -> argparse.ArgumentParser:
    p = argparse.ArgumentParser(
        prog="python -m benchmarks",
        description="Benchmark the node against stock py-evm and a bare aiohttp server in the same run. "
                    "Prints a table, then one JSON line (the last line of stdout).")
    p.add_argument("-n", "--transactions", type=int, default=2000,
                   help="ERC-20 transfers, and as many value transfers, per repeat (default: %(default)s)")
    p.add_argument("-r", "--repeats", type=int, default=3, help="repeats; figures are medians (default: %(default)s)")
    p.add_argument("-s", "--sections", default=",".join(SECTIONS),
                   help=f"comma-separated sections to run, from {','.join(SECTIONS)} (default: all); "
                        "node and follower also run the ceiling, for their ratios")
    p.add_argument("--quick", action="store_true",
                   help="tiny sizes for a smoke run: " + ", ".join(f"{k}={v}" for k, v in QUICK.items()))
    p.add_argument("--concurrency", type=int, default=32, help="requests in flight (default: %(default)s)")
    p.add_argument("--senders", type=int, default=64, help="distinct sending accounts (default: %(default)s)")
    p.add_argument("--block-time", type=float, default=0,
                   help="the node's --block-time in the end-to-end section (default: 0, automine)")
    p.add_argument("--node-args", default="", metavar="ARGS",
                   help="extra arguments for `smartchain run` in the node and rpc sections, e.g. "
                        "--node-args=--no-rpc.front (JSON-RPC served from the node's own process) (default: none)")
    p.add_argument("--rpc-seconds", type=float, default=1.0,
                   help="seconds per request-rate measurement (default: %(default)s)")
    p.add_argument("--scale-accounts", default="1000,1000000",
                   help="small,big funded-account counts for the scale section (default: %(default)s)")
    p.add_argument("--scale-blocks", type=int, default=3, help="measured blocks per state size (default: %(default)s)")
    p.add_argument("--scale-block-size", type=int, default=500, help="transfers per block (default: %(default)s)")
    p2p.add_arguments(p)
    p.add_argument("--profile", type=Path, default=None, metavar="DIR",
                   help="also write cProfile profiles (.prof and a .txt summary) of the node process (all threads), "
                        "the in-process producer/follower and the ceiling to DIR; timings are then inflated")
    return p


def _options(argv: list[str] | None) -> argparse.Namespace:
    parser = _parser()
    args = parser.parse_args(argv)
    if args.quick:
        defaults = {a.dest: a.default for a in parser._actions}
        for key, value in QUICK.items():
            if getattr(args, key) == defaults[key]:
                setattr(args, key, value)
    args.sections = [s.strip() for s in args.sections.split(",") if s.strip()]
    unknown = sorted(set(args.sections) - set(SECTIONS))
    if unknown:
        parser.error(f"unknown section(s) {', '.join(unknown)}; choose from {', '.join(SECTIONS)}")
    small, big = (int(x) for x in args.scale_accounts.split(","))
    args.scale_accounts = (small, big)
    if args.transactions < 1 or args.repeats < 1 or args.senders < 1:
        parser.error("--transactions, --repeats and --senders must be positive")
    return args


def _say(message: str) -> None:
    print(message, file=sys.stderr, flush=True)


def run(args: argparse.Namespace) -> dict:
    sections = set(args.sections)
    if sections & {"node", "follower"}:
        sections.add("ceiling")
    result: dict = {"version": 1, "transactions": args.transactions, "repeats": args.repeats,
                    "senders": args.senders, "cpus": os.cpu_count(), "ecc_backend": ceiling.ecc_backend(),
                    "profiled": args.profile is not None}
    started = time.perf_counter()
    load = None
    if sections & {"ceiling", "node", "rpc", "follower", "p2p_sync"}:
        _say(f"signing {args.transactions} ERC-20 and as many value transfers ...")
        load = build_workload(args.transactions, args.senders)

    samples: dict[str, list[dict]] = {"ceiling": [], "node": [], "rpc": [], "follower": []}
    node_error: str | None = None
    echo = start_echo() if "rpc" in sections else None
    try:
        if echo is not None:
            echo.wait_ready()
        for repeat in range(args.repeats):
            tag = f"[{repeat + 1}/{args.repeats}]"
            if "ceiling" in sections:
                _say(f"{tag} ceiling: stock py-evm mine_all")
                samples["ceiling"].append(asdict(fresh(ceiling.run_once, load.setup, load.erc20, load.value,
                                                       profile=_profile_path(args, f"ceiling-{repeat}"))))
            if sections & {"node", "rpc"}:
                _say(f"{tag} node: smartchain run, JSON-RPC")
                node_error = _node_repeat(args, load, sections, repeat, node_error, samples, echo)
            if "follower" in sections:
                _say(f"{tag} follower: in-process build, export, import")
                samples["follower"].append(asdict(follower.run_once(load, profile_dir=args.profile,
                                                                    tag=str(repeat))))
    finally:
        if echo is not None:
            echo.stop()

    if samples["ceiling"]:
        c = medians(samples["ceiling"])
        result["ceiling"] = dict(c, block_size=ceiling.BLOCK_SIZE, samples=samples["ceiling"])
    if "node" in sections and node_error is not None:
        result["node"] = {"error": node_error, "samples": samples["node"]}
    elif "node" in sections:
        n = medians(samples["node"])
        result["node"] = dict(n, mode="automine" if args.block_time == 0 else f"block time {args.block_time:g} s",
                              concurrency=args.concurrency, node_args=args.node_args,
                              erc20_ratio=ratio(n["erc20_tps"], result["ceiling"]["erc20_tps"]),
                              value_ratio=ratio(n["value_tps"], result["ceiling"]["value_tps"]),
                              samples=samples["node"])
    if "rpc" in sections:
        rates = medians(samples["rpc"])
        ratios = {}
        for key, value in rates.items():
            name, c = key.split("@")
            if name != "echo":
                ratios[key] = ratio(value, rates[f"echo@{c}"])
        result["rpc"] = {"rates": rates, "ratios": ratios, "seconds_each": args.rpc_seconds,
                         "samples": samples["rpc"]}
    if "follower" in sections:
        f = medians(samples["follower"])
        cl = result["ceiling"]
        result["follower"] = dict(f, build_erc20_ratio=ratio(f["build_erc20_tps"], cl["erc20_tps"]),
                                  build_value_ratio=ratio(f["build_value_tps"], cl["value_tps"]),
                                  import_erc20_ratio=ratio(f["import_erc20_tps"], cl["erc20_tps"]),
                                  import_value_ratio=ratio(f["import_value_tps"], cl["value_tps"]),
                                  block_size=ceiling.BLOCK_SIZE, samples=samples["follower"])
    if "startup" in sections:
        _say("startup: smartchain run -> first eth_chainId; in-process Node start")
        runs = [asdict(startup.run_once()) for _ in range(args.repeats)]
        result["startup"] = dict(medians(runs), samples=runs)
    if "scale" in sections:
        small, big = args.scale_accounts
        runs = {}
        for accounts in (small, big):
            _say(f"scale: {accounts:,} funded accounts")
            runs[accounts] = fresh(scale.run, accounts, args.scale_block_size, args.scale_blocks, args.senders,
                                   profile=_profile_path(args, f"scale-{accounts}"))
        result["scale"] = {"small_accounts": small, "big_accounts": big,
                           "small_us_per_tx": runs[small].us_per_tx, "big_us_per_tx": runs[big].us_per_tx,
                           "ratio": ratio(runs[big].us_per_tx, runs[small].us_per_tx),
                           "small_setup_s": runs[small].setup_s, "big_setup_s": runs[big].setup_s,
                           "blocks": args.scale_blocks, "block_size": args.scale_block_size}
    if "testing" in sections:   # benchmarks/testing.py: the plugin's w3 against eth-tester, sequential transfers
        result["testing"] = testing.run(min(args.transactions, testing.DEFAULT_TRANSFERS), args.repeats)
    if "http_testing" in sections:   # benchmarks/http_testing.py: the node against anvil over HTTP, one at a time
        result["http_testing"] = http_testing.run(min(args.transactions, http_testing.DEFAULT_TRANSFERS), args.repeats)
    result.update(p2p.run(args, load, sections, _say))   # benchmarks/p2p.py: sync over RLPx, propagation
    result["targets"] = targets(result)
    result["seconds"] = time.perf_counter() - started
    return result


def _node_repeat(args: argparse.Namespace, load, sections: set[str], repeat: int, node_error: str | None,
                 samples: dict[str, list[dict]], echo) -> str | None:
    """One node run: transfers (until they fail once) and RPC rates; returns the node section's error, if any.

    When the transfers fail (the node dropped or never mined a transaction), the node section reports that error
    and the RPC rates are still measured on a node that only ran the setup.
    """
    prefix: tuple[str, ...] = ()
    if args.profile is not None:
        args.profile.mkdir(parents=True, exist_ok=True)
        prefix = (sys.executable, "-m", "benchmarks.profiled", str(args.profile / f"node-{repeat}.prof"))
    rpc_seconds = args.rpc_seconds if "rpc" in sections else 0
    transfers = "node" in sections and node_error is None
    if not transfers and "rpc" not in sections:
        return node_error
    try:
        run_ = endtoend.run_once(load, args.concurrency, rpc_seconds, args.block_time, prefix, transfers=transfers,
                                 extra=tuple(args.node_args.split()))
    except RuntimeError as exc:
        if not transfers:
            raise
        node_error = str(exc)
        _say(f"node: failed: {node_error.splitlines()[0]}")
        if "rpc" not in sections:
            return node_error
        transfers = False
        run_ = endtoend.run_once(load, args.concurrency, rpc_seconds, args.block_time, prefix, transfers=False,
                                 extra=tuple(args.node_args.split()))
    sample = asdict(run_)
    rates = sample.pop("rpc")
    if transfers:
        samples["node"].append(sample)
    if echo is not None:
        rates.update(endtoend.echo_rates(echo, args.rpc_seconds))
        samples["rpc"].append(rates)
    return node_error


def _profile_path(args: argparse.Namespace, name: str) -> Path | None:
    return None if args.profile is None else args.profile / f"{name}.prof"


def main(argv: list[str] | None = None) -> int:
    args = _options(argv)
    try:
        result = run(args)
    except RuntimeError as exc:  # the node failed the workload (the message says how); no figures to print
        print(f"benchmark failed: {exc}", file=sys.stderr)
        return 1
    print(table(result))
    print(json.dumps(result, separators=(",", ":")))
    return 1 if any(isinstance(v, dict) and "error" in v for v in result.values()) else 0


if __name__ == "__main__":
    sys.exit(main())
