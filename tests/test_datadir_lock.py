"""One process per data dir: a second `smartchain run` (or init/import/devnet) on a data dir in use exits 1 with
geth's message and disturbs nothing; the lock goes with the process, however it ends (SIGKILL included)."""
import os
import signal
import subprocess
import time

import pytest

from node.chain.datalock import DataDirInUse
from node.chain.db import LmdbDB
from test_cli import SMARTCHAIN, _chain_id, _read_until, _start


def _head(banner: str) -> int:
    import json
    import re
    import urllib.request
    url = re.search(r"JSON-RPC: (http://127\.0\.0\.1:\d+)", banner).group(1)
    body = json.dumps({"jsonrpc": "2.0", "id": 1, "method": "eth_blockNumber", "params": []}).encode()
    with urllib.request.urlopen(urllib.request.Request(url, body, {"Content-Type": "application/json"}),
                                timeout=10) as answer:
        return int(json.load(answer)["result"], 16)


def test_a_second_run_on_one_data_dir_is_refused_and_the_first_keeps_sealing(tmp_path):
    datadir = tmp_path / "node"
    first = _start(datadir)
    try:
        _, banner = _read_until(first, r"JSON-RPC: http")
        second = subprocess.run([SMARTCHAIN, "run", "--datadir", str(datadir), "--http.port", "0"],
                                capture_output=True, text=True, timeout=60)
        assert second.returncode == 1
        assert "datadir already used by another process" in second.stderr
        assert "Traceback" not in second.stderr
        for command in (["init"], ["import", str(tmp_path / "none.rlp")]):
            other = subprocess.run([SMARTCHAIN, *command, "--datadir", str(datadir)], capture_output=True,
                                   text=True, timeout=60)
            assert other.returncode == 1 and "datadir already used by another process" in other.stderr
        before = _head(banner)
        deadline = time.time() + 20
        while _head(banner) < before + 2 and time.time() < deadline:
            time.sleep(0.2)
        assert _head(banner) >= before + 2   # the first still seals, undisturbed
        assert first.poll() is None
        first.send_signal(signal.SIGKILL)
        first.wait(20)
    finally:
        first.kill()
        first.wait()
    again = _start(datadir)   # the kernel dropped the lock with the killed process
    try:
        _, banner = _read_until(again, r"JSON-RPC: http")
        assert _chain_id(banner)["result"] == "0x2ca"
        assert _head(banner) >= before + 2   # and what the first sealed is there
    finally:
        again.send_signal(signal.SIGTERM)
        again.wait(20)


def test_the_lock_is_per_store_and_released_on_close(tmp_path):
    db = LmdbDB(tmp_path / "chaindata")
    with pytest.raises(DataDirInUse, match="datadir already used by another process"):
        LmdbDB(tmp_path / "chaindata")
    db.close()
    LmdbDB(tmp_path / "chaindata").close()


def test_a_devnet_on_a_data_dir_in_use_is_refused(tmp_path):
    from node.dev.devnet import Devnet
    with Devnet(1, datadir=tmp_path / "net"):
        genesis = (tmp_path / "net" / "genesis.json").read_text()
        with pytest.raises(DataDirInUse, match="datadir already used by another process"):
            Devnet(1, datadir=tmp_path / "net", period=3).start()
        assert (tmp_path / "net" / "genesis.json").read_text() == genesis   # untouched
