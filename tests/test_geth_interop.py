"""Interop with geth itself (v1.17.0, the last release speaking eth/68; tests/gethkit.py builds it once).

geth is initialised with the execution-apis conformance genesis (forks by block, the merge, forks by time up to BPO2)
and imports its chain.rlp; our node, set up as a user would (`smartchain init`, `smartchain run` with geth as its
static peer), dials it over RLPx, passes geth's eth/68 Status and EIP-2124 fork id checks (its genesis-state fork id
against geth's post-BPO2 one, and back), fetches every header and body and imports them, and ends on geth's head hash
and state root; and the same when geth dials us (its admin_addPeer). Each side's admin_peers must show the other on
eth/68. At the wire, our codec reads geth's receipts (their roots must be the headers') and geth's disconnect reason
when it refuses a stale fork id.

Without Go the test cannot run: under CI (CI=true) that is a failure, elsewhere a skip naming the reason.
"""
from __future__ import annotations

import asyncio
import dataclasses
import json
import os
import shutil
import subprocess
import sys
import time
import urllib.request
from pathlib import Path

import pytest

import ethchain
import gethkit
from eth.db.trie import make_trie_root_and_nodes

from node.chain.blockfile import split_blocks
from node.chain.chain import Chain
from node.chain.db import LmdbDB
from node.chain.genesis import load_genesis
from node.network.eth.chaintypes import ChainTypes
from node.network.eth.handshake import handshake, local_fork_filter, local_status, local_upgrade_status
from node.network.eth.messages import GetBlockHeaders, GetReceipts
from node.network.forkid import ForkId, fork_id
from node.network.peer import DisconnectReason, PeerDisconnected
from node.network.rlpx.connection import ConnectionConfig, RlpxConnection
from node.network.rlpx.crypto import new_private_key
from node.network.rlpx.nodekey import parse_enode
from node.network.rlpx.p2p import Capability
from node.network.rlpx.rlpxpeer import RlpxPeer

# the suite's 300 s per test would cut the one-off build short (it runs in the first test's fixture setup); every wait
# in these tests has its own bound
pytestmark = pytest.mark.timeout(gethkit.BUILD_TIMEOUT + 300)

GETH_NODE_KEY = bytes.fromhex("b71c71a67e1177ad4e901695e1b4b9ee17ae16c6668d313eac2f96dbcda3f291")
SYNC_TIMEOUT = 180
SMARTCHAIN = shutil.which("smartchain") or os.path.join(os.path.dirname(sys.executable), "smartchain")


@pytest.fixture(scope="module")
def geth_bin() -> Path:
    try:
        return gethkit.geth_binary()
    except gethkit.GoMissing as exc:
        if os.environ.get("CI") == "true":
            pytest.fail(f"{exc} (CI must run the geth interop test: install Go 1.24 or later)")
        pytest.skip(str(exc))


def rpc(port: int, method: str, *params) -> object:
    body = json.dumps({"jsonrpc": "2.0", "id": 1, "method": method, "params": list(params)}).encode()
    request = urllib.request.Request(f"http://127.0.0.1:{port}", body, {"Content-Type": "application/json"})
    with urllib.request.urlopen(request, timeout=10) as answer:
        reply = json.loads(answer.read())
    assert "error" not in reply, f"{method}: {reply['error']}"
    return reply["result"]


class OurNode:
    """`smartchain init` then `smartchain run` in a subprocess, logging to a file beside its data dir."""

    def __init__(self, datadir: Path, genesis: Path) -> None:
        self.datadir, self.genesis = datadir, genesis
        self.http_port, self.p2p_port = gethkit.free_port(), gethkit.free_port()
        self.log = datadir.parent / f"{datadir.name}.log"
        self.proc: subprocess.Popen | None = None

    def init(self) -> None:
        done = subprocess.run([SMARTCHAIN, "init", "--genesis", str(self.genesis), "--datadir", str(self.datadir)],
                              capture_output=True, text=True, timeout=120)
        assert done.returncode == 0, f"smartchain init failed:\n{done.stdout}\n{done.stderr}"

    def run(self, *flags: str) -> "OurNode":
        with self.log.open("a") as out:
            self.proc = subprocess.Popen([SMARTCHAIN, "--verbosity", "debug", "run", "--datadir", str(self.datadir),
                                          "--no-dev", "--no-rpc.front", "--http.port", str(self.http_port),
                                          "--p2p.port", str(self.p2p_port), *flags],
                                         stdout=out, stderr=subprocess.STDOUT)
        return self

    def rpc(self, method: str, *params) -> object:
        return rpc(self.http_port, method, *params)

    def stop(self) -> None:
        gethkit.stop_process(self.proc)

    def log_tail(self, lines: int = 60) -> str:
        return gethkit.log_tail(self.log, lines)


def wait_until(check, timeout: float, what: str, *logs) -> object:
    deadline = time.monotonic() + timeout
    while True:
        try:
            result = check()
        except (OSError, AssertionError):
            result = None
        if result:
            return result
        if time.monotonic() > deadline:
            tails = "\n\n".join(f"--- {name} ---\n{tail()}" for name, tail in logs)
            raise AssertionError(f"timed out after {timeout:g} s waiting for {what}\n{tails}")
        time.sleep(0.25)


@pytest.fixture(scope="module")
def geth(geth_bin: Path, tmp_path_factory) -> gethkit.GethNode:
    """geth with the conformance chain imported, running on a free loopback port."""
    genesis = ethchain.genesis_file()
    node = gethkit.GethNode(geth_bin, tmp_path_factory.mktemp("geth") / "geth", network_id=chain_id(),
                            node_key=GETH_NODE_KEY)
    try:
        node.init(genesis)
        node.import_chain(ethchain.chain_file())
        node.start()
        yield node
    finally:
        node.stop()


def chain_id() -> int:
    return json.loads(ethchain.genesis_file().read_text())["config"]["chainId"]


@pytest.mark.parametrize("we_dial", [True, False], ids=["we dial geth", "geth dials us"])
def test_our_node_syncs_the_conformance_chain_from_geth(geth: gethkit.GethNode, tmp_path: Path, we_dial: bool) -> None:
    blocks_in_file = sum(1 for _ in split_blocks(ethchain.chain_file().read_bytes()))
    head = geth.rpc("eth_getBlockByNumber", "latest", False)
    assert int(head["number"], 16) == blocks_in_file and head["hash"] == "0x" + ethchain.head_hash().hex()
    assert geth.rpc("admin_nodeInfo")["enode"].split("?")[0] == geth.enode   # same key, same enode URL

    ours = OurNode(tmp_path / "ours", ethchain.genesis_file())
    logs = (("geth", geth.log_tail), ("smartchain", ours.log_tail))
    our_enode = None
    try:
        if we_dial:   # `smartchain init`, then `run` with geth as its static peer
            ours.init()
            ours.run("--peers", geth.enode, "--maxpeers", "5", "--http.api", "admin")
            our_enode = wait_until(lambda: (ours.datadir / "enode").read_text().strip(), 60, "our enode file", *logs)
        else:         # `run --genesis` on a new data dir; we only listen and geth is told to dial us (admin_addPeer)
            ours.run("--genesis", str(ours.genesis), "--maxpeers", "5", "--http.api", "admin")
            our_enode = wait_until(lambda: (ours.datadir / "enode").read_text().strip(), 60, "our enode file", *logs)
            assert geth.rpc("admin_addPeer", our_enode) is True
        ours_head = wait_until(lambda: (lambda b: b if b["hash"] == head["hash"] else None)(
            ours.rpc("eth_getBlockByNumber", "latest", False)), SYNC_TIMEOUT, "our node to reach geth's head", *logs)
        assert ours_head["stateRoot"] == head["stateRoot"] and ours_head["number"] == head["number"]
        for number in (1, 36, 39, blocks_in_file):   # the first block, the merge, Shanghai (withdrawals), the head
            theirs = geth.rpc("eth_getBlockByNumber", hex(number), False)
            mine = ours.rpc("eth_getBlockByNumber", hex(number), False)
            assert (mine["hash"], mine["stateRoot"], mine["receiptsRoot"]) == \
                (theirs["hash"], theirs["stateRoot"], theirs["receiptsRoot"]), f"block {number}"

        [peer] = geth.rpc("admin_peers")
        assert peer["name"].startswith("smartchain") and peer["protocols"]["eth"]["version"] == 68, peer
        assert peer["network"]["inbound"] is we_dial and peer["id"] == parse_enode(our_enode).node_id.hex()
        [seen] = ours.rpc("admin_peers")
        assert seen["id"] == geth.node_id and seen["name"].startswith("Geth/v1.17.0"), seen
        assert seen["network"]["inbound"] is not we_dial
        assert {"eth/68", "eth/69"} <= set(seen["caps"]) and seen["protocols"]["eth"] == {"version": 68}
        assert ours.rpc("net_peerCount") == "0x1"
        assert ours.proc.poll() is None and "dropping peer" not in ours.log.read_text()
    finally:
        ours.stop()
        if our_enode is not None and not we_dial:
            geth.rpc("admin_removePeer", our_enode)   # no redials of a node that is gone
    wait_until(lambda: geth.rpc("admin_peers") == [], 15, "geth to see us gone", *logs)


def test_geth_serves_receipts_we_decode_and_refuses_a_stale_fork_id(geth: gethkit.GethNode, tmp_path: Path) -> None:
    """At the wire: our Peer over RLPx asks geth for every header and receipt list (their roots must be the headers'),
    then a second connection announces a fork id geth must refuse; we read geth's disconnect reason."""
    db = LmdbDB(tmp_path / "chaindata")
    chain = Chain(db, load_genesis(ethchain.genesis_file()))
    types = ChainTypes.for_chain(chain)
    pubkey = parse_enode(geth.enode).pubkey
    config = ConnectionConfig([Capability("eth", 68, 17)])

    async def connect() -> RlpxPeer:
        connection = await RlpxConnection.dial(new_private_key(), pubkey, "127.0.0.1", geth.port, config)
        assert connection.remote_hello.client_id.startswith("Geth/v1.17.0")
        peer = RlpxPeer(connection, types)
        peer.start()
        return peer

    async def main() -> None:
        peer = await connect()
        theirs, upgrade = await handshake(peer, local_status(chain), local_fork_filter(chain),
                                          local_upgrade_status(chain))
        assert upgrade is None and theirs.total_difficulty == 0   # post-merge geth sends no TD on eth/68
        assert theirs.fork_id == fork_id(chain.config, chain.genesis_hash, 54, 540)   # past BPO2, nothing next
        headers = (await peer.request(GetBlockHeaders(0, 1, 64))).headers
        assert [h.block_number for h in headers] == list(range(1, 55)) and headers[-1].hash == ethchain.head_hash()
        # block 2's receipts (large logs) encode to 10.66 MB, over eth's 10 MiB message cap that geth enforces on what
        # it reads as we do (maxMessageSize): such an answer ends the connection, so that block is not asked for
        wanted = [h for h in headers if h.block_number != 2]
        answer = await peer.request(GetReceipts(0, tuple(h.hash for h in wanted)))
        assert len(answer.receipts) == len(wanted)
        for header, receipts in zip(wanted, answer.receipts):
            root, _ = make_trie_root_and_nodes(receipts)
            assert root == header.receipt_root, f"receipts of block {header.block_number}"
        await peer.disconnect(DisconnectReason.REQUESTED)

        stale = await connect()   # a peer at genesis that does not know the fork at block 3
        ours = local_status(chain)
        status = dataclasses.replace(ours, fork_id=ForkId(ours.fork_id.hash, 999))
        try:
            await handshake(stale, status, local_fork_filter(chain), None)
            await stale.receive()
        except PeerDisconnected as exc:
            assert exc.reason == DisconnectReason.SUBPROTOCOL_ERROR and not exc.by_us
        else:
            raise AssertionError("geth kept a peer with a stale fork id")
    try:
        asyncio.run(asyncio.wait_for(main(), 60))
    finally:
        db.close()
    assert "fork ID rejected" in geth.log.read_text()
