"""The `testing` section: the pytest plugin's in-process `w3` against web3.py's EthereumTesterProvider (eth-tester on
py-evm), in the same run, each in a fresh process (isolate.py).

Per backend, after deploying contracts/build/Token.json from the first account (not timed): sequential send-and-wait
ERC-20 transfers per second (`transact` then `wait_for_transaction_receipt`, as a test does), `eth_call(balanceOf)`
per second, and snapshot + transfer + revert cycles per second (evm_snapshot / evm_revert on ours, eth-tester's
take_snapshot / revert_to_snapshot); and the wall time of one small realistic test module (testing_module.py: an
ERC-20 deployed once, 50 isolated tests of transfers, approvals and reverts) run by pytest on each; then the ratio
ours / eth-tester for each (for the module: eth-tester's time / ours, so above 1 is faster here too).

Each figure is also given per CPU second (`*_per_cpu_s`, `module_cpu_s`: the process's CPU time, every thread, for
the module the pytest child's): on a machine shared with other work the wall-clock rates follow the load, the CPU
rates much less so; the CPU ratios are printed below the wall-clock ones.

"web3.py alone" times the same loops on a `w3` whose provider answers at once with the answers our node gave
(benchmarks/web3floor.py): web3.py's own cost, which no backend driven through it can go below. Its "ceiling" is
eth-tester's time divided by it: the ratio a backend that costs nothing would reach.

    .venv/bin/python -m benchmarks.testing [-n TRANSFERS] [-r REPEATS]     # table, then one JSON line
"""
from __future__ import annotations

import argparse
import json
import resource
import sys
import time
from dataclasses import asdict, dataclass
from statistics import median

from benchmarks.isolate import fresh
from benchmarks.columns import aligned
from benchmarks.testing_module import module_wall_time

TOKEN_SUPPLY = 10**24
BACKENDS = ("smartchain", "eth_tester")
DEFAULT_TRANSFERS = 100
RATE_FIGURES = ("transfers_per_s", "calls_per_s", "snapshot_cycles_per_s")
CPU_FIGURES = ("transfers_per_cpu_s", "calls_per_cpu_s", "snapshot_cycles_per_cpu_s", "module_cpu_s")


@dataclass
class Rates:
    backend: str
    transfers_per_s: float
    calls_per_s: float
    snapshot_cycles_per_s: float
    setup_s: float
    transfers_per_cpu_s: float = 0.0
    calls_per_cpu_s: float = 0.0
    snapshot_cycles_per_cpu_s: float = 0.0
    web3_transfers_per_s: float = 0.0        # web3.py alone, answers replayed (ours only)
    web3_calls_per_s: float = 0.0
    web3_snapshot_cycles_per_s: float = 0.0


def _smartchain():
    """The plugin's `w3`: SmartchainProvider over a temporary automining dev node, PoA middleware injected (a
    RecordingProvider: the same provider, keeping its last answer per method for the web3-alone figures)."""
    from web3 import Web3
    from web3.middleware import ExtraDataToPOAMiddleware

    from benchmarks.web3floor import RecordingProvider

    w3 = Web3(RecordingProvider())
    w3.middleware_onion.inject(ExtraDataToPOAMiddleware, layer=0)
    return w3, *_raw_snapshots(w3), w3.provider.close


def _raw_snapshots(w3):
    def snapshot():
        return w3.provider.make_request("evm_snapshot", [])["result"]

    def revert(snap):
        assert w3.provider.make_request("evm_revert", [snap])["result"] is True
    return snapshot, revert


def _eth_tester():
    from web3 import EthereumTesterProvider, Web3

    provider = EthereumTesterProvider()
    tester = provider.ethereum_tester
    return Web3(provider), tester.take_snapshot, tester.revert_to_snapshot, lambda: None


def _timed(w3, token, snapshot, revert, transfers: int, calls: int, cycles: int) -> tuple[float, ...]:
    """Wall and CPU seconds of the three loops: transfers, balanceOf calls, snapshot + transfer + revert cycles."""
    owner, to = w3.eth.default_account, w3.eth.accounts[1]

    def transfer():
        tx = token.functions.transfer(to, 1).transact()
        assert w3.eth.wait_for_transaction_receipt(tx, poll_latency=0.01).status == 1

    def call():
        token.functions.balanceOf(owner).call()

    def cycle():
        snap = snapshot()
        transfer()
        revert(snap)

    times: list[float] = []
    for fn, count in ((transfer, transfers), (call, calls), (cycle, cycles)):
        t0, c0 = time.perf_counter(), time.process_time()
        for _ in range(count):
            fn()
        times += [time.perf_counter() - t0, time.process_time() - c0]
    return tuple(times)


def measure(backend: str, transfers: int, calls: int, cycles: int) -> Rates:
    """One backend's three rates (run in a fresh process); on ours, web3.py's alone too (benchmarks/web3floor.py)."""
    import json as json_
    from pathlib import Path

    started = time.perf_counter()
    w3, snapshot, revert, close = (_smartchain if backend == "smartchain" else _eth_tester)()
    artifact = json_.loads((Path(__file__).resolve().parents[1] / "contracts" / "build" / "Token.json").read_text())
    owner, to = w3.eth.accounts[0], w3.eth.accounts[1]
    w3.eth.default_account = owner
    factory = w3.eth.contract(abi=artifact["abi"], bytecode=artifact["bytecode"])
    receipt = w3.eth.wait_for_transaction_receipt(factory.constructor("Bench", "BCH", TOKEN_SUPPLY).transact(),
                                                  poll_latency=0.01)
    token = w3.eth.contract(address=receipt.contractAddress, abi=artifact["abi"])
    setup_s = time.perf_counter() - started

    before = token.functions.balanceOf(to).call()
    transfer_s, transfer_cpu, call_s, call_cpu, cycle_s, cycle_cpu = _timed(w3, token, snapshot, revert,
                                                                            transfers, calls, cycles)
    assert token.functions.balanceOf(to).call() == before + transfers   # every cycle was reverted
    rates = Rates(backend, transfers / transfer_s, calls / call_s, cycles / cycle_s, setup_s,
                  transfers / transfer_cpu, calls / call_cpu, cycles / cycle_cpu)
    if backend == "smartchain":
        from benchmarks.web3floor import replaying_w3

        alone = replaying_w3(w3.provider, w3.eth.chain_id)
        alone.eth.default_account = owner
        replayed = alone.eth.contract(address=token.address, abi=artifact["abi"])
        wall = _timed(alone, replayed, *_raw_snapshots(alone), transfers, calls, cycles)[::2]
        rates.web3_transfers_per_s, rates.web3_calls_per_s, rates.web3_snapshot_cycles_per_s = (
            count / seconds for count, seconds in zip((transfers, calls, cycles), wall))
    close()
    return rates


def _children_cpu() -> float:
    usage = resource.getrusage(resource.RUSAGE_CHILDREN)
    return usage.ru_utime + usage.ru_stime


def run(transfers: int = DEFAULT_TRANSFERS, repeats: int = 1) -> dict:
    """Each backend `repeats` times, each run in its own process; medians and ratios (ours / eth-tester)."""
    samples: dict[str, list[dict]] = {b: [] for b in BACKENDS}
    for _ in range(repeats):
        for backend in BACKENDS:
            print(f"testing: {backend}", file=sys.stderr, flush=True)
            sample = asdict(fresh(measure, backend, transfers, transfers * 2, transfers // 2 or 1))
            print(f"testing: {backend}, the 50-test module", file=sys.stderr, flush=True)
            cpu = _children_cpu()
            sample["module_s"] = module_wall_time(backend)
            sample["module_cpu_s"] = _children_cpu() - cpu
            samples[backend].append(sample)
    result: dict = {"transfers": transfers, "repeats": repeats}
    for backend in BACKENDS:
        result[backend] = {k: median(s[k] for s in samples[backend]) for k in
                           (*RATE_FIGURES, "module_s", "setup_s", *CPU_FIGURES)}
    result["ratios"] = {k: result["smartchain"][k] / result["eth_tester"][k]
                        for k in (*RATE_FIGURES, *CPU_FIGURES[:3])}
    for key in ("module_s", "module_cpu_s"):
        result["ratios"][key] = result["eth_tester"][key] / result["smartchain"][key]
    # web3.py alone: the rate with a backend that costs nothing, and so the ratio no in-process backend can pass
    result["web3_alone"] = {k: median(s["web3_" + k] for s in samples["smartchain"]) for k in RATE_FIGURES}
    result["ceilings"] = {k: result["web3_alone"][k] / result["eth_tester"][k] for k in RATE_FIGURES}
    result["samples"] = samples
    return result


def table(result: dict) -> str:
    alone, ceilings = result.get("web3_alone", {}), result.get("ceilings", {})
    rows = [("figure", "smartchain w3", "eth-tester", "ratio", "web3.py alone", "ceiling")]
    for key, label in (("transfers_per_s", "send-and-wait transfers/s"), ("calls_per_s", "eth_call(balanceOf)/s"),
                       ("snapshot_cycles_per_s", "snapshot+transfer+revert/s")):
        rows.append((label, f"{result['smartchain'][key]:.1f}", f"{result['eth_tester'][key]:.1f}",
                     f"{result['ratios'][key]:.2f}x", f"{alone[key]:.1f}" if key in alone else "",
                     f"{ceilings[key]:.2f}x" if key in ceilings else ""))
    rows.append(("50-test module, wall s", f"{result['smartchain']['module_s']:.2f}",
                 f"{result['eth_tester']['module_s']:.2f}", f"{result['ratios']['module_s']:.2f}x", "", ""))
    for key, label in (("transfers_per_cpu_s", "  per CPU s: transfers"), ("calls_per_cpu_s", "  per CPU s: eth_call"),
                       ("snapshot_cycles_per_cpu_s", "  per CPU s: snapshot cycles")):
        if key in result["ratios"]:
            rows.append((label, f"{result['smartchain'][key]:.1f}", f"{result['eth_tester'][key]:.1f}",
                         f"{result['ratios'][key]:.2f}x", "", ""))
    if "module_cpu_s" in result["ratios"]:
        rows.append(("  50-test module, CPU s", f"{result['smartchain']['module_cpu_s']:.2f}",
                     f"{result['eth_tester']['module_cpu_s']:.2f}", f"{result['ratios']['module_cpu_s']:.2f}x", "", ""))
    return aligned(rows)


def main(argv: list[str] | None = None) -> int:
    p = argparse.ArgumentParser(prog="python -m benchmarks.testing", description=__doc__.splitlines()[0])
    p.add_argument("-n", "--transfers", type=int, default=DEFAULT_TRANSFERS,
                   help="sequential transfers per backend; twice as many calls, half as many cycles")
    p.add_argument("-r", "--repeats", type=int, default=1)
    args = p.parse_args(argv)
    result = run(args.transfers, args.repeats)
    print(table(result))
    print(json.dumps(result, separators=(",", ":")))
    return 0


if __name__ == "__main__":
    sys.exit(main())
