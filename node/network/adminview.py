"""The network as geth's admin API shows it (geth/p2p/server.go NodeInfo, geth/p2p/peer.go PeerInfo; see
../shared/reference/devp2p.md section 14): admin_nodeInfo and admin_peers objects, plain JSON values.

`service` is a node/network/service.py NetworkService (not imported: it imports this module).
"""
from __future__ import annotations

from typing import Any

from node.network.eth import protocol as p
from node.network.eth.handshake import local_status
from node.network.peer import Peer
from node.network.rlpx.establish import CLIENT_ID
from node.network.rlpx.nodekey import Enode


def transport_info(peer: Peer) -> dict[str, Any]:
    """What the transport knows of a peer: its client name, capabilities, addresses and enode (when it has one)."""
    connection = getattr(peer, "connection", None)
    if connection is None:   # an in-memory peer
        return {"name": "", "caps": [f"{p.PROTOCOL_NAME}/{p.ETH68}"],
                "network": {"localAddress": "memory", "remoteAddress": "memory"}}
    info: dict[str, Any] = {"name": connection.remote_hello.client_id, "caps": connection.caps,
                            "network": connection.network_info()}
    if connection.remote_address is not None:
        host, port = connection.remote_address
        info["enode"] = Enode(connection.remote_pubkey, host, port).url
    return info


def peers_info(service: Any) -> list[dict[str, Any]]:
    """admin_peers: one object per connected peer, sorted by id."""
    answer = []
    for state in sorted(service.peers, key=lambda s: s.id):
        info = state.info
        network = {**info.get("network", {}), "inbound": state.inbound, "trusted": False,
                   "static": state.static or service.dialer.is_static(state.id)}
        entry: dict[str, Any] = {"id": state.id, "name": info.get("name", ""), "caps": info.get("caps", []),
                                 "network": network, "protocols": running_protocols(service, state.peer)}
        if "enode" in info:
            entry = {"enode": info["enode"], **entry}
        answer.append(entry)
    return answer


def running_protocols(service: Any, peer: Peer) -> dict[str, dict[str, int]]:
    """The protocols running with a peer, BSC's admin_peers shape: eth, and `bsc` when both sides speak it (we offer
    it only when this node runs fast finality; over RLPx the Hellos say whether the peer does)."""
    running: dict[str, dict[str, int]] = {p.PROTOCOL_NAME: {"version": p.ETH68}}
    if getattr(service.vote_gossip, "finality", None) is not None:
        running.update({name: {"version": version} for name, version in peer.satellites.items()})
    return running


def node_info(service: Any) -> dict[str, Any]:
    """admin_nodeInfo (no ENR: this node runs without discovery)."""
    chain = service.node.chain
    status = local_status(chain)
    host, port = (service.server.host, service.server.port) if service.server is not None else ("", 0)
    info: dict[str, Any] = {
        "id": service.id, "name": CLIENT_ID, "ip": host, "ports": {"discovery": 0, "listener": port},
        "listenAddr": f"{host}:{port}" if host else "",
        "protocols": {p.PROTOCOL_NAME: {
            "network": status.network_id, "difficulty": status.total_difficulty,
            "genesis": "0x" + status.genesis.hex(), "config": dict(service.node.chain_config.raw.get("config", {})),
            "head": "0x" + status.head.hex()}},
    }
    if service.server is not None:
        info["enode"] = service.enode
    return info
