"""Crash safety: a node killed with SIGKILL mid-production restarts with every committed block, receipt and balance."""
import os
import signal
import subprocess
import sys
from pathlib import Path

from node.config import NodeConfig
from node.node import Node

HERE = Path(__file__).resolve().parent


def _run_and_kill(datadir: Path, blocks_wanted: int) -> list[tuple[int, bytes, list[bytes]]]:
    env = dict(os.environ, PYTHONPATH=os.pathsep.join(filter(None, [str(HERE), os.environ.get("PYTHONPATH")])))
    proc = subprocess.Popen([sys.executable, str(HERE / "crashnode.py"), str(datadir)], stdout=subprocess.PIPE,
                            stderr=subprocess.DEVNULL, env=env, text=True)
    reported = []
    try:
        for line in proc.stdout:
            if not line.startswith("BLOCK "):
                continue
            _, number, block_hash, txs = (line.rstrip("\n").split(" ") + [""])[:4]
            reported.append((int(number), bytes.fromhex(block_hash), [bytes.fromhex(t) for t in txs.split(",") if t]))
            if len(reported) >= blocks_wanted and any(r[2] for r in reported):
                break
    finally:
        proc.send_signal(signal.SIGKILL)  # right after the last report, while it keeps producing
        proc.wait(10)
    assert proc.returncode == -signal.SIGKILL
    return reported


def test_sigkill_loses_nothing_committed(tmp_path):
    datadir = tmp_path / "node"
    reported = _run_and_kill(datadir, blocks_wanted=8)
    with Node(NodeConfig(datadir=datadir, produce=False)) as node:
        chain = node.chain
        head = chain.head
        assert head.block_number >= reported[-1][0]
        for number, block_hash, tx_hashes in reported:
            assert chain.header_by_number(number).hash == block_hash
            receipts = chain.receipts(chain.header_by_hash(block_hash))
            assert len(receipts) == len(tx_hashes) and all(r.state_root == b"\x01" for r in receipts)
            for index, tx_hash in enumerate(tx_hashes):
                loc = chain.store.tx_location(tx_hash)
                assert (loc.block_hash, loc.index) == (block_hash, index)
        # the head is whole: every canonical block links to its parent, and its state and indexes are readable
        sent = 0
        for number in range(1, head.block_number + 1):
            header = chain.header_by_number(number)
            assert header.parent_hash == chain.header_by_number(number - 1).hash
            block = chain.block_by_header(header)
            assert chain.store.block_metas(block.hash) is not None
            sent += len(block.transactions)
        sender, recipient = node.accounts[1], node.accounts[2]
        state = chain.state_at(head)
        assert state.get_nonce(sender.address) == sent
        assert state.get_balance(recipient.address) == 10_000 * 10**18 + sent
        # and the node goes on from there
        assert node.mine()[0].number == head.block_number + 1
