"""Starting a node's network as `smartchain run` will: the node key from DATADIR/nodekey (made on first start), RLPx
on --p2p.addr:--p2p.port, static peers from --peers, --maxpeers; the enode URL logged (geth's "Started P2P
networking") and written to DATADIR/enode for scripts and test harnesses."""
from __future__ import annotations

from pathlib import Path
from typing import Iterable

from node.network.nodeapi import Node
from node.network.peers import MAX_PEERS
from node.network.rlpx.nodekey import load_or_create_nodekey, parse_enode, write_enode_file
from node.network.service import NetworkService

DEFAULT_P2P_PORT = 30311
DEFAULT_P2P_ADDR = "127.0.0.1"


def start_network(node: Node, datadir: str | Path, *, addr: str = DEFAULT_P2P_ADDR, port: int = DEFAULT_P2P_PORT,
                  peers: Iterable[str] = (), max_peers: int = MAX_PEERS,
                  direct_broadcast: bool = False) -> NetworkService:
    """A started NetworkService for `node`; raises NodeKeyError for a bad node key file or enode URL."""
    peers = list(peers)
    for url in peers:
        parse_enode(url)   # a typo fails the start, not a dial much later
    key = load_or_create_nodekey(datadir)
    service = NetworkService(node, node_key=key, listen=(addr, port), max_peers=max_peers,
                             static_peers=peers, direct_broadcast=direct_broadcast).start()
    write_enode_file(datadir, service.enode)
    return service
