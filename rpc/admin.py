"""The admin namespace (geth/node/api.go): the node's own p2p identity, its peers, and static peers added and
removed at run time. Optional (`--http.api admin`, or dev mode), as in geth. The shapes are the network's
(node/network/adminview.py, ../shared/reference/devp2p.md section 14); this module maps them to JSON-RPC."""
from __future__ import annotations

from typing import Any, NewType

from node.network.rlpx.errors import NodeKeyError
from rpc.errors import ServerError
from rpc.params import ParamError, _json_type

EnodeUrl = NewType("EnodeUrl", str)   # an enode:// URL (geth takes any string and parses it itself)


class NodeNotStarted(ServerError):
    """The p2p network is off (`--no-p2p`, or dev mode without peers): geth's ErrNodeStopped."""

    def __init__(self) -> None:
        super().__init__("node not started")


class InvalidEnode(ServerError):
    def __init__(self, reason: str) -> None:
        super().__init__(f"invalid enode: {reason}")


def parse_enode_url(value: Any) -> str:
    if not isinstance(value, str):
        raise ParamError(f"cannot unmarshal {_json_type(value)} into Go value of type string")
    return value


PARSERS = {EnodeUrl: parse_enode_url}


def _network(node) -> Any:
    network = getattr(node, "network", None)
    if network is None:
        raise NodeNotStarted()
    return network


def node_info(node) -> dict:
    """admin_nodeInfo: id, name, enode, ip, ports, listenAddr and the eth protocol's network, genesis and head."""
    return _network(node).node_info()


def peers(node) -> list:
    """admin_peers: the connected peers, sorted by id."""
    return _network(node).peers_info()


def add_peer(node, url: EnodeUrl) -> bool:
    """admin_addPeer: dial this node and keep it as a static peer (redialled after a disconnect)."""
    try:
        return _network(node).add_peer(url)
    except NodeKeyError as exc:
        raise InvalidEnode(str(exc)) from None


def remove_peer(node, url: EnodeUrl) -> bool:
    """admin_removePeer: forget the static peer and disconnect it."""
    try:
        return _network(node).remove_peer(url)
    except NodeKeyError as exc:
        raise InvalidEnode(str(exc)) from None


METHODS = {
    "admin_nodeInfo": node_info,
    "admin_peers": peers,
    "admin_addPeer": add_peer,
    "admin_removePeer": remove_peer,
}
