"""`smartchain devnet --validators N`: the installed command runs N validators in real time, each answering
JSON-RPC on consecutive ports, all on one chain; Ctrl-C stops it cleanly."""
import json
import signal
import socket
import subprocess
import sys
import time
import urllib.request
from pathlib import Path

SMARTCHAIN = Path(sys.executable).with_name("smartchain")


def free_ports(count: int) -> int:
    """A base port with `count` free ports after it (checked now; the range is unlikely to be taken meanwhile)."""
    for base in range(21000, 60000, 97):
        try:
            for port in range(base, base + count):
                with socket.socket() as s:
                    s.bind(("127.0.0.1", port))
            return base
        except OSError:
            continue
    raise RuntimeError("no free port range")


def rpc(port: int, method: str, *params):
    body = json.dumps({"jsonrpc": "2.0", "id": 1, "method": method, "params": list(params)}).encode()
    request = urllib.request.Request(f"http://127.0.0.1:{port}", body, {"Content-Type": "application/json"})
    with urllib.request.urlopen(request, timeout=10) as answer:
        return json.loads(answer.read())["result"]


def test_devnet_command_serves_every_validator_on_one_chain(tmp_path):
    base = free_ports(3)
    proc = subprocess.Popen([str(SMARTCHAIN), "devnet", "--validators", "3", "--http.port", str(base)],
                            stdout=subprocess.PIPE, stderr=subprocess.PIPE, text=True)
    try:
        banner = [proc.stdout.readline() for _ in range(4)]
        assert "3 validators" in banner[0]
        assert all(f"http://127.0.0.1:{base + i}" in banner[1 + i] for i in range(3))
        deadline = time.monotonic() + 60
        while min(int(rpc(base + i, "eth_blockNumber"), 16) for i in range(3)) < 8:
            assert time.monotonic() < deadline, "the devnet did not reach block 8"
            time.sleep(0.2)
        blocks = [rpc(base + i, "eth_getBlockByNumber", "0x2", False) for i in range(3)]
        assert len({b["hash"] for b in blocks}) == 1             # one chain
        # past start-up (nodes start one after another, and genesis lies in the past) they take turns
        sealers = {rpc(base, "eth_getBlockByNumber", hex(n), False)["miner"] for n in range(5, 9)}
        assert len(sealers) == 3
        assert {rpc(base + i, "eth_chainId") for i in range(3)} == {"0x2ca"}
    finally:
        proc.send_signal(signal.SIGINT)
        out, err = proc.communicate(timeout=30)
    assert proc.returncode == 0, err[-2000:]


def test_a_taken_port_is_a_clean_error_before_anything_starts(tmp_path):
    base = free_ports(4)
    with socket.socket() as taken:
        taken.bind(("127.0.0.1", base + 1))
        taken.listen()
        proc = subprocess.run([str(SMARTCHAIN), "devnet", "--validators", "4", "--http.port", str(base),
                               "--datadir", str(tmp_path / "net")],
                              capture_output=True, text=True, timeout=60)
    assert proc.returncode == 1
    assert f"127.0.0.1:{base + 1}" in proc.stderr and "node 1" in proc.stderr
    assert "Traceback" not in proc.stderr + proc.stdout
    assert not (tmp_path / "net").exists()   # nothing was started


def test_devnet_stops_every_producer_before_any_store(tmp_path, caplog):
    """Stopping a real-time devnet while its validators seal: no producer or listener touches a closed store."""
    from node.dev.devnet import Devnet
    for round_ in range(3):
        with Devnet(4, realtime=True, datadir=tmp_path / f"net{round_}", block_time=0.05, period=0) as net:
            deadline = time.time() + 20
            while min(n.chain.head.block_number for n in net.nodes) < 3 and time.time() < deadline:
                time.sleep(0.01)
            assert min(n.chain.head.block_number for n in net.nodes) >= 3
        assert all(n.db is None for n in net.nodes)
    errors = [r for r in caplog.records if r.levelname == "ERROR"]
    assert not errors, [r.getMessage() for r in errors]
