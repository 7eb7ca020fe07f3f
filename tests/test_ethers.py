"""ethers.js v6 (tests/js, Node's built-in test runner) against a real automining node over HTTP and WebSocket.

Needs Node.js 20+ and the pinned ethers installed once with `npm ci --prefix tests/js`.
"""
import os
import shutil
import subprocess
from pathlib import Path

import pytest

from rpcnode import serve

JS_DIR = Path(__file__).resolve().parent / "js"
FUNDED_KEY = "0xac0974bec39a17e36ba4a6b4d238ff944bacb478cbed5efcae784d7bf4f2ff80"   # the test mnemonic's first


def test_ethers_against_a_running_node():
    node_bin = shutil.which("node")
    if node_bin is None:
        pytest.fail("Node.js (20 or later) is not on PATH; the ethers.js tests need it")
    if not (JS_DIR / "node_modules" / "ethers").is_dir():
        pytest.fail(f"ethers.js is not installed in {JS_DIR / 'node_modules'}: run `npm ci --prefix tests/js`")
    files = sorted(str(path) for path in JS_DIR.glob("*.test.mjs"))
    assert files, f"no *.test.mjs files in {JS_DIR}"

    with serve(block_time=0) as rpc:
        env = {**os.environ, "RPC_URL": rpc.server.url, "WS_URL": rpc.server.ws_url,
               "PRIVATE_KEY": FUNDED_KEY, "CHAIN_ID": "714"}
        # One file at a time: every file sends from the same funded account.
        try:
            result = subprocess.run([node_bin, "--test", "--test-concurrency=1", *files], cwd=JS_DIR, env=env,
                                    capture_output=True, text=True, timeout=240)
        except subprocess.TimeoutExpired as exc:
            pytest.fail(f"node --test did not finish in {exc.timeout} s:\n{exc.stdout}\n{exc.stderr}")
    print(result.stdout)
    print(result.stderr)
    assert result.returncode == 0, f"node --test failed (exit {result.returncode}):\n{result.stdout}\n{result.stderr}"
