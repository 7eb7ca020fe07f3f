"""Answering a peer's eth requests from our chain and pool, as geth's eth/handlers.go does.

Each answer stops at the protocol's count limit or once the soft response size (2 MiB) is reached, whichever comes
first, and leaves out what we do not have: an unknown hash is skipped (the asker matches bodies and receipts to its
headers by their roots, transactions by their hashes).
"""
from __future__ import annotations

from typing import Any, Callable, Iterable

import rlp
from eth.abc import BlockHeaderAPI, ReceiptAPI, SignedTransactionAPI

from node.network.eth import protocol as p
from node.network.eth.messages import (BlockBodies, BlockBody, BlockHeaders, GetBlockBodies, GetBlockHeaders,
                                       GetPooledTransactions, GetReceipts, PooledTransactions, Receipts, Request,
                                       Response, tx_item)

UINT64_MAX = 2**64 - 1
MAX_NON_CANONICAL_WALK = 100   # geth's maxNonCanonical: parent steps allowed off the canonical chain

TxLookup = Callable[[bytes], SignedTransactionAPI | None]


def block_headers(chain: Any, query: GetBlockHeaders) -> list[BlockHeaderAPI]:
    """The headers `query` asks for, by hash or number, `skip` apart, forwards or towards genesis."""
    headers: list[BlockHeaderAPI] = []
    size = 0
    by_hash = isinstance(query.origin, bytes)
    header = chain.header_by_hash(query.origin) if by_hash else chain.header_by_number(query.origin)
    step = query.skip + 1
    while header is not None and len(headers) < min(query.amount, p.MAX_HEADERS_SERVE) \
            and size < p.SOFT_RESPONSE_LIMIT:
        headers.append(header)
        size += len(rlp.encode(header))
        number = header.block_number
        if query.reverse:
            if number < step:
                break
            header = _ancestor(chain, header, step) if by_hash else chain.header_by_number(number - step)
        elif by_hash:
            # forwards from a hash: only along the canonical chain, and only if the origin is on it
            if number + step > UINT64_MAX or not chain.is_canonical(header):
                break
            header = chain.header_by_number(number + step)
        else:
            if number + step > UINT64_MAX:
                break
            header = chain.header_by_number(number + step)
    return headers


def _ancestor(chain: Any, header: BlockHeaderAPI, steps: int) -> BlockHeaderAPI | None:
    """`header`'s ancestor `steps` blocks back (by number once on the canonical chain, else parent by parent)."""
    walked = 0
    while steps and not chain.is_canonical(header):
        if walked == MAX_NON_CANONICAL_WALK:
            return None
        header = chain.header_by_hash(header.parent_hash)
        if header is None:
            return None
        steps, walked = steps - 1, walked + 1
    return chain.header_by_number(header.block_number - steps) if steps else header


def _bounded(keys: Iterable[bytes], find: Callable[[bytes], Any], size_of: Callable[[Any], int],
             most: int | None = None) -> list:
    """What `find` knows among `keys`, in the asked order, until `most` items or geth's soft response size."""
    found: list = []
    size = 0
    for key in keys:
        if (most is not None and len(found) >= most) or size >= p.SOFT_RESPONSE_LIMIT:
            break
        item = find(key)
        if item is None:
            continue
        found.append(item)
        size += size_of(item)
    return found


def block_bodies(chain: Any, hashes: Iterable[bytes]) -> list[BlockBody]:
    """The bodies of the blocks we have among `hashes`, in order."""
    def body(block_hash: bytes) -> BlockBody | None:
        block = chain.block_by_hash(block_hash)
        return None if block is None else BlockBody.of(block)
    return _bounded(hashes, body, lambda b: len(rlp.encode(b.items())), p.MAX_BODIES_SERVE)


def block_receipts(chain: Any, hashes: Iterable[bytes]) -> list[tuple[ReceiptAPI, ...]]:
    """Each known block's receipts among `hashes`, in order."""
    def receipts(block_hash: bytes) -> tuple[ReceiptAPI, ...] | None:
        header = chain.header_by_hash(block_hash)
        return None if header is None else tuple(chain.receipts(header))
    return _bounded(hashes, receipts, lambda rs: len(rlp.encode([type(r).serialize(r) for r in rs])),
                    p.MAX_RECEIPTS_SERVE)


def pooled_transactions(lookup: TxLookup, hashes: Iterable[bytes]) -> list[SignedTransactionAPI]:
    """The transactions `lookup` (e.g. TxPool.get) finds among `hashes`, in the asked order."""
    return _bounded(hashes, lookup, lambda tx: len(rlp.encode(tx_item(tx))))


def answer(request: Request, chain: Any, pool_lookup: TxLookup = lambda tx_hash: None) -> Response:
    """The response to any eth request, with its request id."""
    if isinstance(request, GetBlockHeaders):
        return BlockHeaders(request.request_id, tuple(block_headers(chain, request)))
    if isinstance(request, GetBlockBodies):
        return BlockBodies(request.request_id, tuple(block_bodies(chain, request.hashes)))
    if isinstance(request, GetReceipts):
        return Receipts(request.request_id, tuple(block_receipts(chain, request.hashes)))
    if isinstance(request, GetPooledTransactions):
        return PooledTransactions(request.request_id, tuple(pooled_transactions(pool_lookup, request.hashes)))
    raise TypeError(f"not an eth request: {type(request).__name__}")
