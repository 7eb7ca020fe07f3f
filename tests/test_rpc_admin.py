"""The admin namespace and the net/eth answers that read the p2p network: two real nodes with RLPx networks on
127.0.0.1 (free ports), one served over HTTP; geth's shapes for admin_nodeInfo and admin_peers, admin_addPeer and
admin_removePeer, their errors, and which configurations serve the namespace at all."""
from __future__ import annotations

import re
import time
from contextlib import ExitStack
from types import SimpleNamespace

import pytest

from node.config import NodeConfig
from node.network.launch import start_network
from node.node import NetworkUnavailable, Node
from rpc.registry import methods_for
from rpc.server import RpcServer
from rpcnode import RpcNode, serve
from test_network_kit import write_genesis

NODE_ID = re.compile(r"[0-9a-f]{128}|[0-9a-f]{64}")


def networked(stack: ExitStack, genesis, datadir, key: bytes) -> Node:
    """A node whose RLPx network listens on a free port of 127.0.0.1 (no production loop)."""
    config = NodeConfig(genesis=genesis, datadir=datadir, dev=True, validator_key=key, produce=False, p2p=True,
                        p2p_port=0)
    node = Node(config, network_starter=lambda n: start_network(n, datadir, port=0)).start()
    stack.callback(node.stop)
    return node


def wait_until(check, seconds: float, what: str) -> None:
    deadline = time.monotonic() + seconds
    while not check():
        if time.monotonic() > deadline:
            raise AssertionError(f"timed out waiting for {what}")
        time.sleep(0.05)


def test_admin_shapes_add_and_remove_peer_and_net_answers(tmp_path):
    with ExitStack() as stack:
        genesis, keys, _ = write_genesis(tmp_path, 2)
        a = networked(stack, genesis, tmp_path / "a", keys[0])
        b = networked(stack, genesis, tmp_path / "b", keys[1])
        rpc = RpcNode(a, stack.enter_context(RpcServer(a, "127.0.0.1", 0)))
        assert (tmp_path / "a" / "enode").read_text().strip() == a.network.enode

        assert rpc.call("net_listening") is True
        assert rpc.call("net_peerCount") == "0x0"
        assert rpc.call("eth_syncing") is False
        info = rpc.call("admin_nodeInfo")
        port = a.network.server.port
        assert info["enode"] == a.network.enode == f"enode://{info['enode'][8:136]}@127.0.0.1:{port}"
        assert NODE_ID.fullmatch(info["id"]) and info["ip"] == "127.0.0.1"
        assert info["ports"] == {"discovery": 0, "listener": port} and info["listenAddr"] == f"127.0.0.1:{port}"
        eth = info["protocols"]["eth"]
        assert eth["network"] == a.chain_config.chain_id
        assert eth["genesis"] == eth["head"] == "0x" + a.chain.head.hash.hex()
        assert rpc.call("admin_peers") == []

        assert rpc.call("admin_addPeer", b.network.enode) is True
        wait_until(lambda: rpc.call("net_peerCount") == "0x1", 10, "a to connect to b")
        wait_until(lambda: b.network.peer_count == 1, 10, "b to count a")
        [peer] = rpc.call("admin_peers")
        assert peer["enode"] == b.network.enode and peer["id"] == b.network.id
        assert "eth/68" in peer["caps"] and peer["protocols"] == {"eth": {"version": 68}}
        assert peer["network"]["inbound"] is False and peer["network"]["static"] is True
        assert peer["network"]["remoteAddress"] == f"127.0.0.1:{b.network.server.port}"
        assert peer["name"]   # the remote client id from its Hello

        assert rpc.call("admin_removePeer", b.network.enode) is True
        wait_until(lambda: rpc.call("net_peerCount") == "0x0", 10, "a to drop b")
        assert rpc.call("admin_peers") == []

        bad = rpc.error("admin_addPeer", "enode://nothex@127.0.0.1:1")
        assert bad["code"] == -32000 and bad["message"].startswith("invalid enode: ")
        assert rpc.error("admin_addPeer", 7)["code"] == -32602
        assert rpc.error("admin_addPeer")["message"] == "missing value for required argument 0"


def test_without_a_network_net_tells_the_truth_and_admin_says_node_not_started():
    with serve(dev=True) as rpc:
        assert rpc.node.network is None
        assert rpc.call("net_listening") is False
        assert rpc.call("net_peerCount") == "0x0"
        assert rpc.call("eth_syncing") is False
        assert rpc.error("admin_nodeInfo") == {"code": -32000, "message": "node not started"}
        assert rpc.error("admin_peers") == {"code": -32000, "message": "node not started"}


def test_admin_is_served_in_dev_mode_or_when_named_in_http_api():
    admin = {"admin_nodeInfo", "admin_peers", "admin_addPeer", "admin_removePeer"}
    dev = SimpleNamespace(config=NodeConfig(dev=True))
    plain = SimpleNamespace(config=NodeConfig(dev=False))
    named = SimpleNamespace(config=NodeConfig(dev=False, http_api=("admin",)))
    assert admin <= methods_for(dev).keys()
    assert not admin & methods_for(plain).keys()
    assert admin <= methods_for(named).keys()


def test_a_node_asked_for_p2p_without_a_starter_refuses_to_start(tmp_path):
    genesis, keys, _ = write_genesis(tmp_path, 1)
    node = Node(NodeConfig(genesis=genesis, datadir=tmp_path / "n", validator_key=keys[0], produce=False, p2p=True))
    with pytest.raises(NetworkUnavailable, match="no network starter"):
        node.start()
    assert node.db is None   # what had started is stopped again


def test_eth_syncing_reports_a_running_sync_as_geth_does():
    from rpc.eth import syncing

    class Syncing:   # a network in the middle of a sync, as NetworkService.syncing reports it
        def syncing(self):
            return {"startingBlock": 0, "currentBlock": 17, "highestBlock": 300}
    assert syncing(SimpleNamespace(network=Syncing())) == {"startingBlock": "0x0", "currentBlock": "0x11",
                                                           "highestBlock": "0x12c"}
    assert syncing(SimpleNamespace(network=SimpleNamespace(syncing=lambda: None))) is False
    assert syncing(SimpleNamespace(network=None)) is False
