"""Block tags, numbers and hashes (EIP-1898) resolved to headers of this node's chain.

`latest` and `pending` are the head (BSC has no pending block to show). On a Parlia chain `safe` is the highest
justified block and `finalized` the finalized one, both read from the head's snapshot by the engine (fast finality,
BEP-126; finalized with BEP-648's early finality when the node holds votes); before any attestation both are
genesis, as BSC answers. An Ethereum chain imported from files has no consensus client to say otherwise: there the
head is also safe and finalized. Lookups that name a missing block answer None (getBlock*: null); state reads at a
missing block raise geth's `header not found`.
"""
from __future__ import annotations

from eth.abc import BlockHeaderAPI

from consensus.engine import PosaEngine
from rpc.errors import HeaderNotFound, ServerError
from rpc.params import BlockId

FINALITY_TAGS = ("safe", "finalized")


def finality_header(node, tag: str, head: BlockHeaderAPI | None = None) -> BlockHeaderAPI:
    """The block `safe` (justified) or `finalized` names at `head` (default: the current head)."""
    chain = node.chain
    head = chain.head if head is None else head
    engine = chain.engine
    if not isinstance(engine, PosaEngine):
        return head   # an Ethereum chain: no fast finality
    if tag == "safe":
        _, block_hash = engine.justified(head)
    else:
        _, block_hash = engine.finalized(head, engine.votes_for)
    found = chain.header_by_hash(block_hash)
    if found is None:   # the snapshot names a block this chain has always stored: a broken data dir
        raise ServerError(f"{tag} block not found")
    return found


def header_or_none(node, block: BlockId) -> BlockHeaderAPI | None:
    chain = node.chain
    if block.hash is not None:
        header = chain.header_by_hash(block.hash)
        if header is not None and block.require_canonical and not chain.is_canonical(header):
            raise ServerError("hash is not currently canonical")
        return header
    if block.tag == "earliest":
        return chain.header_by_number(0)
    if block.tag in FINALITY_TAGS:
        return finality_header(node, block.tag)
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
    if block.tag == "earliest":
        return 0
    if block.tag in FINALITY_TAGS:
        return finality_header(node, block.tag).block_number
    return node.chain.head.block_number
