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


def block_bodies(chain: Any, hashes: Iterable[bytes]) -> list[BlockBody]:
    """The bodies of the blocks we have among `hashes`, in order."""
    bodies: list[BlockBody] = []
    size = 0
    for block_hash in hashes:
        if len(bodies) >= p.MAX_BODIES_SERVE or size >= p.SOFT_RESPONSE_LIMIT:
            break
        block = chain.block_by_hash(block_hash)
        if block is None:
            continue
        body = BlockBody.of(block)
        bodies.append(body)
        size += len(rlp.encode(body.items()))
    return bodies


def block_receipts(chain: Any, hashes: Iterable[bytes]) -> list[tuple[ReceiptAPI, ...]]:
    """Each known block's receipts among `hashes`, in order."""
    answer: list[tuple[ReceiptAPI, ...]] = []
    size = 0
    for block_hash in hashes:
        if len(answer) >= p.MAX_RECEIPTS_SERVE or size >= p.SOFT_RESPONSE_LIMIT:
            break
        header = chain.header_by_hash(block_hash)
        if header is None:
            continue
        receipts = tuple(chain.receipts(header))
        answer.append(receipts)
        size += len(rlp.encode([type(r).serialize(r) for r in receipts]))
    return answer


def pooled_transactions(lookup: TxLookup, hashes: Iterable[bytes]) -> list[SignedTransactionAPI]:
    """The transactions `lookup` (e.g. TxPool.get) finds among `hashes`, in the asked order."""
    found: list[SignedTransactionAPI] = []
    size = 0
    for tx_hash in hashes:
        if size >= p.SOFT_RESPONSE_LIMIT:
            break
        tx = lookup(tx_hash)
        if tx is None:
            continue
        found.append(tx)
        size += len(rlp.encode(tx_item(tx)))
    return found


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
