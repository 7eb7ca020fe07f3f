"""BSC's finalized-block methods of the eth namespace: `eth_getFinalizedHeader(verifiedValidatorNum)` and
`eth_getFinalizedBlock(verifiedValidatorNum, fullTx)` (bsc internal/ethapi/api.go, getFinalizedNumber).

The answer is the block at max(fast-finalized, probabilistic), where the probabilistic height is where a walk back
from the head has met `verifiedValidatorNum` distinct sealers (coinbases); the walk takes at most 1000 steps
(Maxwell's epoch length) and stops at max(finalized, 1). The number may be -1, -2 or -3 for ⌈N/2⌉, ⌈2N/3⌉ or N of
the head's N validators. Only a Parlia chain answers.
"""
from __future__ import annotations

from typing import Any, NewType

from eth.abc import BlockHeaderAPI

from consensus.engine import PosaEngine
from rpc import encode
from rpc.blocks import finality_header
from rpc.errors import ServerError
from rpc.params import ParamError

ValidatorCount = NewType("ValidatorCount", int)   # Go's int64 from a JSON number
MAX_WALK = 1000   # BSC: maxwellEpochLength, the most blocks the walk back takes
INT64 = 2**63


class OnlyParliaSupported(ServerError):
    """The finalized-block methods on a chain without Parlia."""

    def __init__(self):
        super().__init__("only parlia engine supported")


class ValidatorNumOutOfRange(ServerError):
    """A verifiedValidatorNum outside [1, N] and [-3, -1]."""

    def __init__(self, number: int, validators: int):
        super().__init__(f"{number} neither within the range [1,{validators}] nor the range [-3,-1]")


def parse_validator_count(value: Any) -> int:
    """encoding/json into int64: an integer JSON number in range (no hex string, no fraction or exponent)."""
    if isinstance(value, bool) or not isinstance(value, (int, float)):
        kind = "bool" if isinstance(value, bool) else "string" if isinstance(value, str) else \
            "array" if isinstance(value, list) else "object"
        raise ParamError(f"cannot unmarshal {kind} into int64")
    if isinstance(value, float) or not -INT64 <= value < INT64:
        raise ParamError(f"cannot unmarshal number {value} into int64")
    return value


def finalized_number(node, verified: int) -> int:
    """BSC's getFinalizedNumber: the highest block `verified` distinct validators have built on, or finalized."""
    chain = node.chain
    if not isinstance(chain.engine, PosaEngine):
        raise OnlyParliaSupported()
    head = chain.head
    count = len(chain.engine.validators_at(head))
    wanted = {-1: -(-count // 2), -2: -(-2 * count // 3), -3: count}.get(verified, verified)
    if not 1 <= wanted <= count:
        raise ValidatorNumOutOfRange(verified, count)
    floor = finality_header(node, "finalized", head).block_number
    cursor, sealers = head, {head.coinbase}
    steps = 1
    while len(sealers) < wanted and steps <= MAX_WALK and cursor.block_number > max(floor, 1):
        cursor = _parent(chain, cursor)
        sealers.add(cursor.coinbase)
        steps += 1
    return max(floor, cursor.block_number)


def _parent(chain, header: BlockHeaderAPI) -> BlockHeaderAPI:
    parent = chain.header_by_hash(header.parent_hash)
    if parent is None:   # every canonical block's parent is stored: a broken data dir
        raise ServerError(f"header {encode.data(header.parent_hash)} not found")
    return parent


def get_finalized_header(node, verified: ValidatorCount) -> dict | None:
    header = node.chain.header_by_number(finalized_number(node, verified))
    return None if header is None else encode.header(header)


def get_finalized_block(node, verified: ValidatorCount, full: bool) -> dict | None:
    b = node.chain.block_by_number(finalized_number(node, verified))
    if b is None:
        return None
    return encode.block(b, full, node.chain.store.block_metas(b.hash) if full and b.transactions else None)
