"""eth_getLogs: a block hash or a block range, filtered by address (any of) and topics by position.

Blooms decide what is read. A filter becomes bit masks once per query (`BloomQuery`: three bits of the keccak of each
address and topic, as in a logsBloom), so testing a header is a few integer ANDs rather than hashing every address
and topic again for every block. Only a block whose header bloom may match has its receipts read, and then only a
receipt whose own bloom may match has its logs looked at. Receipts and transaction hashes come straight from the
block's tries as raw RLP (the receipts' fields without py-evm's objects; a transaction's hash is the keccak of its
trie value, so no transaction is decoded). Topic positions hold alternatives (OR); None (null) and an empty list
match anything, as in geth. Ranges are limited to MAX_BLOCK_RANGE blocks.
"""
from __future__ import annotations

from dataclasses import dataclass
from functools import reduce
from operator import or_

import rlp
from eth.abc import BlockHeaderAPI
from eth_bloom.bloom import get_bloom_bits
from eth_utils import keccak

from node.chain.triebuild import list_values
from rpc import encode
from rpc.blocks import number_of
from rpc.errors import InvalidParams, ServerError
from rpc.params import FilterCriteria

MAX_BLOCK_RANGE = 10_000


def bloom_mask(value: bytes) -> int:
    """The three bits `value` sets in a logsBloom, as one integer."""
    return reduce(or_, get_bloom_bits(value))


@dataclass(frozen=True)
class BloomQuery:
    """A filter's bloom masks: per group (the addresses, then each constrained topic position), the alternatives;
    a bloom may match when every group has an alternative whose bits are all set."""

    groups: tuple[tuple[int, ...], ...]

    @classmethod
    def of(cls, crit: FilterCriteria) -> "BloomQuery":
        groups = [crit.addresses, *crit.topics]
        return cls(tuple(tuple(bloom_mask(v) for v in group) for group in groups if group))

    def may_match(self, bloom: int) -> bool:
        """False when `bloom` proves no log under it matches (an empty bloom: no logs at all)."""
        if not bloom:
            return False
        return all(any(bloom & mask == mask for mask in group) for group in self.groups)


def bloom_may_match(bloom: int, crit: FilterCriteria) -> bool:
    """False when the header's bloom proves the block holds no matching log."""
    return BloomQuery.of(crit).may_match(bloom)


def log_matches(address: bytes, topics: tuple[bytes, ...] | list[bytes], crit: FilterCriteria) -> bool:
    if crit.addresses and address not in crit.addresses:
        return False
    if len(crit.topics) > len(topics):
        return False
    return all(not alternatives or topic in alternatives for topic, alternatives in zip(topics, crit.topics))


def read_receipts(node, header: BlockHeaderAPI) -> list[list]:
    """A block's receipts as raw RLP fields, [status, cumulative gas, bloom, logs] (the one place eth_getLogs reads
    receipts; a typed receipt's trie value is its type byte, then the list)."""
    return [rlp.decode(raw if raw[0] >= 0xc0 else raw[1:]) for raw in list_values(node.chain.db, header.receipt_root)]


def transaction_hashes(node, header: BlockHeaderAPI) -> list[bytes]:
    """The block's transaction hashes: each the keccak of its trie value (the legacy RLP, or type byte + payload)."""
    return [keccak(raw) for raw in list_values(node.chain.db, header.transaction_root)]


def block_logs(node, header: BlockHeaderAPI, crit: FilterCriteria, query: BloomQuery | None = None) -> list[dict]:
    """The matching logs of the block of `header` (whose bloom may match), as geth encodes them."""
    query = query or BloomQuery.of(crit)
    out: list[dict] = []
    tx_hashes: list[bytes] | None = None
    where: encode.LogBlock | None = None
    log_index = 0
    for tx_index, (_, _, bloom, entries) in enumerate(read_receipts(node, header)):
        if not query.may_match(int.from_bytes(bloom, "big")):
            log_index += len(entries)
            continue
        for address, topics, data in entries:
            if log_matches(address, topics, crit):
                if tx_hashes is None:
                    tx_hashes, where = transaction_hashes(node, header), encode.LogBlock.of(header)
                out.append(encode.raw_log(where, tx_hashes[tx_index], tx_index, log_index, address, topics, data))
            log_index += 1
    return out


def get_logs(node, crit: FilterCriteria) -> list[dict]:
    chain = node.chain
    query = BloomQuery.of(crit)
    if crit.block_hash is not None:
        header = chain.header_by_hash(crit.block_hash)
        if header is None:
            raise ServerError("unknown block")
        return block_logs(node, header, crit, query) if query.may_match(header.bloom) else []
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
        if header is not None and query.may_match(header.bloom):
            out.extend(block_logs(node, header, crit, query))
    return out
