"""The net namespace: network id (the chain id, in decimal as geth answers it), listening, peers."""
from __future__ import annotations


def version(node) -> str:
    return str(node.chain_config.chain_id)


def listening(node) -> bool:
    return True


def peer_count(node) -> str:
    return "0x0"
