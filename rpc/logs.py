"""eth_getLogs: a block hash or a block range, filtered by address (any of) and topics by position.

Each header's logsBloom is checked first, so only blocks that may hold a match are read. Topic positions hold
alternatives (OR); None (null) and an empty list match anything, as in geth. Ranges are limited to MAX_BLOCK_RANGE blocks. The matching rules
are plain functions so that filters and subscriptions can reuse them.
"""
from __future__ import annotations

from eth.abc import BlockAPI, BlockHeaderAPI
from eth_bloom import BloomFilter

from rpc import encode
from rpc.blocks import number_of
from rpc.errors import InvalidParams, ServerError
from rpc.params import FilterCriteria

MAX_BLOCK_RANGE = 10_000


def bloom_may_match(bloom: int, crit: FilterCriteria) -> bool:
    """False when the header's bloom proves the block holds no matching log."""
    if not bloom:
        return False
    bits = BloomFilter(bloom)
    if crit.addresses and not any(a in bits for a in crit.addresses):
        return False
    return all(not alternatives or any(t in bits for t in alternatives) for alternatives in crit.topics)


def log_matches(address: bytes, topics: tuple[bytes, ...], crit: FilterCriteria) -> bool:
    if crit.addresses and address not in crit.addresses:
        return False
    if len(crit.topics) > len(topics):
        return False
    return all(not alternatives or topic in alternatives for topic, alternatives in zip(topics, crit.topics))


def block_logs(node, b: BlockAPI, crit: FilterCriteria) -> list[dict]:
    """The matching logs of one block, as geth encodes them."""
    if not b.transactions:
        return []
    out, log_index = [], 0
    for tx_index, receipt in enumerate(node.chain.receipts(b.header)):
        for entry in receipt.logs:
            topics = tuple(t.to_bytes(32, "big") for t in entry.topics)
            if log_matches(bytes(entry.address), topics, crit):
                out.append(encode.log(b.header, b.transactions[tx_index].hash, tx_index, log_index, entry))
            log_index += 1
    return out


def get_logs(node, crit: FilterCriteria) -> list[dict]:
    chain = node.chain
    if crit.block_hash is not None:
        header = chain.header_by_hash(crit.block_hash)
        if header is None:
            raise ServerError("unknown block")
        return _logs_of(node, header, crit)
    if "pending" in (getattr(crit.from_block, "tag", None), getattr(crit.to_block, "tag", None)):
        raise InvalidParams("pending logs are not supported")
    head = chain.head.block_number
    first = head if crit.from_block is None else number_of(node, crit.from_block)
    last = head if crit.to_block is None else number_of(node, crit.to_block)
    if first > last:
        raise InvalidParams("invalid block range params")
    if last > head:
        raise InvalidParams("block range extends beyond current head block")
    if last - first > MAX_BLOCK_RANGE:
        raise InvalidParams(f"exceed maximum block range {MAX_BLOCK_RANGE}")
    out = []
    for number in range(first, last + 1):
        header = chain.header_by_number(number)
        if header is not None:
            out.extend(_logs_of(node, header, crit))
    return out


def _logs_of(node, header: BlockHeaderAPI, crit: FilterCriteria) -> list[dict]:
    if not bloom_may_match(header.bloom, crit):
        return []
    return block_logs(node, node.chain.block_by_header(header), crit)
