"""The net namespace: network id (the chain id, in decimal as geth answers it), listening, peers, as the node's
p2p network (node.network, None when it is off) has them."""
from __future__ import annotations

from rpc import encode


def version(node) -> str:
    return str(node.chain_config.chain_id)


def listening(node) -> bool:
    """Whether the node accepts peers' connections (false with the network off)."""
    network = getattr(node, "network", None)
    return network is not None and network.listening


def peer_count(node) -> str:
    network = getattr(node, "network", None)
    return encode.quantity(0 if network is None else network.peer_count)
