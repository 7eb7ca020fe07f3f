"""The benchmark harness: a smoke run of the real command with tiny sizes (no timing thresholds), and the
pieces whose correctness the figures rest on (the one-pass trie builder, the prebuilt million-account state)."""
from __future__ import annotations

import json
import math
import os
import subprocess
import sys
from pathlib import Path

import pytest

from benchmarks.scale import FUNDED_BALANCE, funded_address, make_datadir
from benchmarks.workload import SENDER_FUNDS, sender_keys
from node.config import NodeConfig
from node.node import Node

ROOT = Path(__file__).resolve().parents[1]
SECTIONS = ("ceiling", "node", "rpc", "startup", "scale", "follower")


def test_prebuilt_state_opens_as_an_initialised_data_dir(tmp_path):
    senders = [address for _, address in sender_keys(3)]
    make_datadir(tmp_path / "node", 2000, senders)
    with Node(NodeConfig(datadir=tmp_path / "node", block_time=0, produce=False)) as node:
        assert node.chain.head.block_number == 0
        assert node.chain.head.hash == node.chain.genesis_hash
        state = node.chain.state_at()
        for i in (0, 1, 1999):
            assert state.get_balance(funded_address(i)) == FUNDED_BALANCE
        assert state.get_balance(funded_address(2000)) == 0
        assert all(state.get_balance(a) == SENDER_FUNDS for a in senders)
        for address, account in node.chain_config.alloc.items():  # genesis.json's own accounts are kept
            assert state.get_balance(address) == account.balance


def _run(*args: str, timeout: float = 240) -> subprocess.CompletedProcess:
    return subprocess.run([sys.executable, "-m", "benchmarks", *args], cwd=ROOT, capture_output=True, text=True,
                          timeout=timeout, check=False)


def test_help_lists_the_options():
    out = _run("--help", timeout=60)
    assert out.returncode == 0, out.stderr
    for option in ("--transactions", "--repeats", "--sections", "--quick", "--profile"):
        assert option in out.stdout


def test_unknown_section_is_refused():
    out = _run("--sections", "ceiling,warp", timeout=60)
    assert out.returncode == 2
    assert "warp" in out.stderr


def _positive(value) -> bool:
    return isinstance(value, (int, float)) and value > 0 and math.isfinite(value)


def test_quick_run_reports_every_section():
    out = _run("--quick")
    assert out.returncode == 0, out.stdout + out.stderr
    lines = out.stdout.strip().splitlines()
    result = json.loads(lines[-1])
    assert "ceiling" in out.stdout and "follower" in out.stdout  # the table came first
    for section in SECTIONS:
        assert section in result, section
    n = result["transactions"]
    assert n == 48 and result["repeats"] == 1

    ceiling, node, follower = result["ceiling"], result["node"], result["follower"]
    for figures, keys in ((ceiling, ("erc20_tps", "value_tps")),
                          (node, ("erc20_tps", "value_tps", "erc20_send_rps")),
                          (follower, ("build_erc20_tps", "build_value_tps", "import_erc20_tps", "import_value_tps",
                                      "import_blocks_per_s"))):
        for key in keys:
            assert _positive(figures[key]), (key, figures[key])
    # every transfer succeeded on both sides, so both executed the same work
    assert ceiling["erc20_ok"] == ceiling["value_ok"] == n
    assert node["erc20_ok"] == node["value_ok"] == n
    # ratios are computed from the figures of this same run
    assert node["erc20_ratio"] == pytest.approx(node["erc20_tps"] / ceiling["erc20_tps"])
    assert node["value_ratio"] == pytest.approx(node["value_tps"] / ceiling["value_tps"])
    assert follower["import_erc20_ratio"] == pytest.approx(follower["import_erc20_tps"] / ceiling["erc20_tps"])
    assert follower["build_erc20_ratio"] == pytest.approx(follower["build_erc20_tps"] / ceiling["erc20_tps"])

    rates, ratios = result["rpc"]["rates"], result["rpc"]["ratios"]
    for method in ("eth_blockNumber", "eth_call", "eth_getTransactionReceipt", "echo"):
        for c in (1, 32):
            assert _positive(rates[f"{method}@{c}"]), (method, c)
    assert ratios["eth_blockNumber@32"] == pytest.approx(rates["eth_blockNumber@32"] / rates["echo@32"])
    assert ratios["eth_call@1"] == pytest.approx(rates["eth_call@1"] / rates["echo@1"])

    startup = result["startup"]
    assert _positive(startup["process_fresh_s"]) and _positive(startup["process_restart_s"])
    assert _positive(startup["node_start_s"])

    scale = result["scale"]
    assert scale["small_accounts"] < scale["big_accounts"]
    assert _positive(scale["small_us_per_tx"]) and _positive(scale["big_us_per_tx"])
    assert scale["ratio"] == pytest.approx(scale["big_us_per_tx"] / scale["small_us_per_tx"])

    by_figure = {t["figure"]: t for t in result["targets"]}
    assert by_figure["node.erc20_ratio"]["value"] == node["erc20_ratio"]
    assert by_figure["scale.ratio"]["met"] == (scale["ratio"] <= 2.0)


def test_sections_can_be_chosen():
    out = _run("--quick", "--sections", "startup")
    assert out.returncode == 0, out.stdout + out.stderr
    result = json.loads(out.stdout.strip().splitlines()[-1])
    assert "startup" in result
    assert not {"ceiling", "node", "rpc", "scale", "follower"} & result.keys()


def test_profile_writes_a_profile_with_stages(tmp_path):
    out = _run("--quick", "--sections", "ceiling", "--profile", str(tmp_path))
    assert out.returncode == 0, out.stdout + out.stderr
    assert json.loads(out.stdout.strip().splitlines()[-1])["profiled"] is True
    report = (tmp_path / "ceiling-0.txt").read_text()
    assert (tmp_path / "ceiling-0.prof").stat().st_size > 0
    assert "execute transactions (VM.apply_transaction)" in report
    assert "tx/receipt roots (make_trie_root_and_nodes)" in report


def test_a_failing_node_is_reported_not_measured():
    # the node refuses a negative block time and exits: the section reports why, the others still report
    out = _run("--quick", "--sections", "node", "--block-time", "-1")
    assert out.returncode == 1
    result = json.loads(out.stdout.strip().splitlines()[-1])
    assert "exited with 1" in result["node"]["error"]
    assert "block time must not be negative" in result["node"]["error"]  # the node's own log tail comes along
    assert "erc20_ratio" not in result["node"]
    assert result["ceiling"]["erc20_ok"] == result["transactions"]
    assert "FAILED" in out.stdout


def test_http_testing_says_why_it_did_not_run_without_anvil():
    env = dict(os.environ, SMARTCHAIN_BENCH_ANVIL=str(ROOT / "no-such-anvil"))
    out = subprocess.run([sys.executable, "-m", "benchmarks", "--quick", "--sections", "http_testing"], cwd=ROOT,
                         capture_output=True, text=True, timeout=120, check=False, env=env)
    assert out.returncode == 0, out.stdout + out.stderr
    result = json.loads(out.stdout.strip().splitlines()[-1])
    assert "npm ci --prefix benchmarks/js" in result["http_testing"]["skipped"]
    assert "http_testing not run: anvil is not installed" in out.stdout
    assert {t["figure"]: t["met"] for t in result["targets"]}["http_testing.ratios.calls_per_s"] is None


def test_http_testing_against_anvil():
    from benchmarks.http_testing import anvil_missing
    if anvil_missing():
        pytest.skip(anvil_missing())
    out = _run("--quick", "--sections", "http_testing")
    assert out.returncode == 0, out.stdout + out.stderr
    h = json.loads(out.stdout.strip().splitlines()[-1])["http_testing"]
    for backend in ("smartchain", "anvil"):
        for key in ("transfers_per_s", "calls_per_s", "logs_all_ms", "logs_one_ms"):
            assert _positive(h[backend][key]), (backend, key)
        assert h[backend]["log_blocks"] == 48   # one block per sequential transfer, the last ones queried
        assert h[backend]["polls_per_transfer"] >= 1
    assert h["ratios"]["transfers_per_s"] == pytest.approx(h["smartchain"]["transfers_per_s"] /
                                                           h["anvil"]["transfers_per_s"])
    assert h["ratios"]["logs_one_ms"] == pytest.approx(h["anvil"]["logs_one_ms"] / h["smartchain"]["logs_one_ms"])
    assert "send-and-wait transfers: anvil" in out.stdout


def test_p2p_sections_sync_over_rlpx_and_time_propagation():
    # tiny sizes (3 blocks each); the figures' values are not judged here, only that the work was done and measured
    out = _run("--quick", "--sections", "p2p_sync,p2p_propagation", timeout=400)
    assert out.returncode == 0, out.stdout + out.stderr
    result = json.loads(out.stdout.strip().splitlines()[-1])
    sync, propagation = result["p2p_sync"], result["p2p_propagation"]
    # the setup, 48 ERC-20 and 48 value transfers in 100-transaction blocks, imported and synced (same head hash)
    assert sync["blocks"] >= 3 and sync["transactions"] > 2 * 48 and sync["block_size"] == 100
    for key in ("import_s", "sync_s", "import_spawn_s", "sync_spawn_s", "import_blocks_per_s", "sync_blocks_per_s",
                "import_tps", "sync_tps"):
        assert _positive(sync[key]), (key, sync[key])
    assert sync["ratio"] == pytest.approx(sync["sync_blocks_per_s"] / sync["import_blocks_per_s"])
    assert sync["import_blocks_per_s"] == pytest.approx(sync["blocks"] / sync["import_s"])
    # past start-up is part of spawn to done, on both sides
    assert sync["import_s"] < sync["import_spawn_s"] and sync["sync_s"] < sync["sync_spawn_s"]
    # three blocks seen by all four validators; every latency a seal-to-last-import difference, summarised
    assert propagation["validators"] == 4 and propagation["blocks"] == 3
    latencies = propagation["samples"][0]["latencies_ms"]
    assert len(latencies) == 3 and all(math.isfinite(x) for x in latencies)
    assert propagation["median_ms"] == pytest.approx(sorted(latencies)[1], abs=1e-3)
    assert propagation["p99_ms"] == pytest.approx(max(latencies), abs=1e-3)
    by_figure = {t["figure"]: t for t in result["targets"]}
    assert by_figure["p2p_sync.ratio"]["value"] == sync["ratio"]
    assert "sync of the same blocks from a peer over RLPx" in out.stdout and "p99 / max" in out.stdout


def test_p2p_percentile_is_nearest_rank():
    from benchmarks.p2p import percentile
    values = [float(x) for x in range(1, 101)]
    assert percentile(values, 50) == 50 and percentile(values, 99) == 99 and percentile(values, 100) == 100
    assert percentile([7.0], 99) == 7.0 and percentile([3.0, 1.0, 2.0], 50) == 2.0
