"""What the network layer uses of the node, imported in this one place (the node's modules are moving into
subpackages: only these lines follow them).

`Node` itself is the API: `chain` (head, header and block reads, the consensus `engine`), `import_block`,
`send_raw_transaction`, `subscribe`, `pool` and `chain_config`. The chain's refusals and the pool's are named here so
that sync and gossip can tell a peer's lie (an invalid block, an undecodable transaction) from a harmless refusal.
"""
from __future__ import annotations

from consensus.errors import FutureBlock
from node.chain.chain import ChainError, UnknownAncestor
from node.node import Node
from node.txpool.errors import DecodeError, TxPoolError

__all__ = ["ChainError", "DecodeError", "Node", "TxPoolError", "UnknownAncestor", "is_future_block"]


def is_future_block(exc: BaseException) -> bool:
    """The chain refused a block only because its time is ahead of our clock: not a lie (geth queues such blocks)."""
    return isinstance(exc, ChainError) and isinstance(exc.__cause__, FutureBlock)
