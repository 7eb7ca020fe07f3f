"""Block tags, numbers and hashes (EIP-1898) resolved to headers of this node's chain.

There is no pending block and no finality yet: `pending`, `safe` and `finalized` are the head. Lookups that name a
missing block answer None (getBlock*: null); state reads at a missing block raise geth's `header not found`.
"""
from __future__ import annotations

from eth.abc import BlockHeaderAPI

from rpc.errors import HeaderNotFound, ServerError
from rpc.params import BlockId


def header_or_none(node, block: BlockId) -> BlockHeaderAPI | None:
    chain = node.chain
    if block.hash is not None:
        header = chain.header_by_hash(block.hash)
        if header is not None and block.require_canonical and not chain.is_canonical(header):
            raise ServerError("hash is not currently canonical")
        return header
    if block.tag == "earliest":
        return chain.header_by_number(0)
    if block.tag is not None:
        return chain.head
    return chain.header_by_number(block.number)


def state_header(node, block: BlockId) -> BlockHeaderAPI:
    """The header whose post-state a read at `block` sees; geth's errors when there is none."""
    header = header_or_none(node, block)
    if header is None:
        raise HeaderNotFound("header for hash not found" if block.hash is not None else "header not found")
    return header


def number_of(node, block: BlockId) -> int:
    """The number a tag or number stands for (it may be above the head)."""
    if block.number is not None:
        return block.number
    return 0 if block.tag == "earliest" else node.chain.head.block_number
