"""The `smartchain` command as users run it: --help everywhere, init, run producing blocks, clean Ctrl-C, resume."""
import json
import os
import re
import shutil
import signal
import subprocess
import sys
import time
import urllib.request

import pytest

from node.cli.main import main

SMARTCHAIN = shutil.which("smartchain") or os.path.join(os.path.dirname(sys.executable), "smartchain")


@pytest.mark.parametrize("argv", [["--help"], ["run", "--help"], ["init", "--help"]])
def test_help_on_every_command(argv, capsys):
    with pytest.raises(SystemExit) as exit_:
        main(argv)
    assert exit_.value.code == 0
    assert "usage: smartchain" in capsys.readouterr().out


def test_init_writes_genesis_and_is_idempotent(tmp_path, capsys):
    datadir = tmp_path / "d"
    assert main(["init", "--datadir", str(datadir)]) == 0
    first = capsys.readouterr().out
    assert "chain id 714" in first and (datadir / "genesis.json").exists()
    assert main(["init", "--datadir", str(datadir)]) == 0
    assert capsys.readouterr().out == first


def _start(datadir, *extra):
    return subprocess.Popen([SMARTCHAIN, "run", "--datadir", str(datadir), "--http.port", "0", *extra],
                            stdout=subprocess.PIPE,
                            stderr=subprocess.STDOUT, text=True)


def _read_until(proc, pattern, timeout=30):
    deadline, seen = time.time() + timeout, []
    os.set_blocking(proc.stdout.fileno(), False)
    while time.time() < deadline:
        line = proc.stdout.readline()
        if not line:
            if proc.poll() is not None:
                break
            time.sleep(0.05)
            continue
        seen.append(line)
        match = re.search(pattern, line)
        if match:
            return match, "".join(seen)
    raise AssertionError(f"no line matching {pattern!r} in:\n{''.join(seen)}")


def test_run_produces_blocks_stops_on_ctrl_c_and_resumes(tmp_path):
    datadir = tmp_path / "node"
    proc = _start(datadir)
    try:
        _, banner = _read_until(proc, r"sealed block #2 ")
        assert "chain id 714" in banner
        url = re.search(r"JSON-RPC: (http://127\.0\.0\.1:\d+)", banner)
        request = urllib.request.Request(url.group(1), data=json.dumps(
            {"jsonrpc": "2.0", "id": 1, "method": "eth_chainId", "params": []}).encode(),
            headers={"Content-Type": "application/json"})
        with urllib.request.urlopen(request, timeout=10) as answer:
            assert json.load(answer) == {"jsonrpc": "2.0", "id": 1, "result": "0x2ca"}
        assert "0xf39Fd6e51aad88F6F4ce6aB8827279cffFb92266 (10000 BNB)" in banner
        assert "key 0xac0974bec39a17e36ba4a6b4d238ff944bacb478cbed5efcae784d7bf4f2ff80" in banner
        proc.send_signal(signal.SIGINT)
        assert proc.wait(20) == 0
    finally:
        proc.kill()
    proc = _start(datadir)
    try:
        match, _ = _read_until(proc, r"at block #(\d+)")
        assert int(match.group(1)) >= 2
        proc.send_signal(signal.SIGTERM)
        assert proc.wait(20) == 0
    finally:
        proc.kill()


def test_run_refuses_a_bad_key(tmp_path):
    proc = subprocess.run([SMARTCHAIN, "run", "--datadir", str(tmp_path), "--validator-key", "0x1234"],
                          capture_output=True, text=True, timeout=60)
    assert proc.returncode == 1 and "smartchain:" in proc.stderr


def test_run_defaults_are_a_persistent_dev_chain(tmp_path):
    from pathlib import Path

    from node.cli.main import _parser, run_config
    from node.config import REPO_GENESIS
    config = run_config(_parser().parse_args(["run"]))
    assert config.datadir == Path.home() / ".smartchain"
    assert config.dev and config.block_time is None and config.http_addr == "127.0.0.1"
    assert config.genesis in (REPO_GENESIS, Path.home() / ".smartchain" / "genesis.json")
    assert not run_config(_parser().parse_args(["run", "--datadir", str(tmp_path), "--validator-key",
                                                "0x" + "11" * 32])).dev


def test_http_api_names_the_optional_modules(tmp_path, capsys):
    from types import SimpleNamespace

    from node.cli.main import _parser, run_config
    from rpc.registry import methods_for
    key = "0x" + "11" * 32
    args = _parser().parse_args(["run", "--datadir", str(tmp_path), "--no-dev", "--validator-key", key,
                                 "--http.api", "eth,net,web3,txpool,debug"])
    config = run_config(args)
    assert config.http_api == ("txpool", "debug")
    served = methods_for(SimpleNamespace(config=config))
    assert "txpool_status" in served and "debug_traceTransaction" in served and "eth_accounts" not in served
    plain = methods_for(SimpleNamespace(config=run_config(_parser().parse_args(
        ["run", "--datadir", str(tmp_path), "--no-dev", "--validator-key", key]))))
    assert "txpool_status" not in plain
    assert main(["run", "--datadir", str(tmp_path), "--http.api", "eth,nope"]) == 1
    assert "--http.api: unknown module 'nope'" in capsys.readouterr().err


def test_a_chain_without_parlia_runs_without_a_validator_key(tmp_path):
    from ethchain import genesis_file
    from node.cli.main import _parser, run_config
    config = run_config(_parser().parse_args(["run", "--datadir", str(tmp_path), "--genesis", str(genesis_file()),
                                              "--no-dev"]))
    assert config.validator_key is not None and config.dev is False


def _children(pid: int) -> list[int]:
    with open(f"/proc/{pid}/task/{pid}/children") as f:
        return [int(p) for p in f.read().split()]


def _chain_id(banner: str) -> dict:
    url = re.search(r"JSON-RPC: (http://127\.0\.0\.1:\d+)", banner).group(1)
    request = urllib.request.Request(url, data=json.dumps(
        {"jsonrpc": "2.0", "id": 1, "method": "eth_chainId", "params": []}).encode(),
        headers={"Content-Type": "application/json"})
    with urllib.request.urlopen(request, timeout=10) as answer:
        return json.load(answer)


def test_run_serves_through_its_front_process_and_stops_when_it_dies(tmp_path):
    proc = _start(tmp_path / "node")
    try:
        _, banner = _read_until(proc, r"JSON-RPC: http")
        assert _chain_id(banner)["result"] == "0x2ca"
        [front] = _children(proc.pid)
        with open(f"/proc/{front}/cmdline") as f:
            assert "rpc.front" in f.read().split("\0")
        os.kill(front, signal.SIGKILL)
        _read_until(proc, r"stopping: the JSON-RPC front process exited")
        assert proc.wait(20) == 1
    finally:
        proc.kill()


def test_no_rpc_front_serves_from_the_node_process(tmp_path):
    proc = _start(tmp_path / "node", "--no-rpc.front")
    try:
        _, banner = _read_until(proc, r"JSON-RPC: http")
        assert _chain_id(banner)["result"] == "0x2ca"
        assert _children(proc.pid) == []
        proc.send_signal(signal.SIGTERM)
        assert proc.wait(20) == 0
    finally:
        proc.kill()
