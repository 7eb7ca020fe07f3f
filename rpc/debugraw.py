"""debug_getRawHeader / getRawBlock / getRawReceipts / getRawTransaction: consensus encodings, as geth serves them.

Headers and blocks are RLP; transactions and receipts their EIP-2718 envelopes (legacy: plain RLP, typed: the type
byte and the payload), as they are hashed into the block's tries.
"""
from __future__ import annotations

import rlp

from rpc import encode
from rpc.blocks import header_or_none
from rpc.errors import HeaderNotFound
from rpc.params import BlockRef, Hash


def _header(node, block: BlockRef):
    header = header_or_none(node, block)
    if header is None:
        raise HeaderNotFound("header for hash not found" if block.hash is not None else "header not found")
    return header


def get_raw_header(node, block: BlockRef) -> str:
    return encode.data(rlp.encode(_header(node, block)))


def get_raw_block(node, block: BlockRef) -> str:
    return encode.data(rlp.encode(node.chain.block_by_header(_header(node, block))))


def get_raw_receipts(node, block: BlockRef) -> list[str]:
    return [encode.data(r.encode()) for r in node.chain.receipts(_header(node, block))]


def get_raw_transaction(node, tx_hash: Hash) -> str:
    """The transaction's envelope, mined or pending; "0x" when unknown, as geth answers."""
    location = node.chain.store.tx_location(tx_hash)
    if location is not None:
        tx = node.chain.transaction_at(node.chain.header_by_hash(location.block_hash), location.index)
    else:
        tx = node.pool.get(tx_hash)
    return "0x" if tx is None else encode.data(tx.encode())
