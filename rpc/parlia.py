"""The parlia namespace: justified and finalized numbers from a block's snapshot (bsc consensus/parlia/api.go).

BSC registers it as a non-public module (served only when `--http.api` names it); here it sits among the optional
modules, so dev mode serves it too. The block parameter is optional (default latest) and takes a number or a tag:
`safe` and `finalized` resolve as the block tags do, `pending` names no block (BSC has none) and, like a number above
the head, is answered with `unknown block`. The numbers are JSON numbers (Go's uint64), 0 before any attestation.
"""
from __future__ import annotations

from eth.abc import BlockHeaderAPI

from consensus.engine import PosaEngine
from rpc.blocks import header_or_none
from rpc.errors import ServerError
from rpc.params import LATEST, BlockNumber


class UnknownBlock(ServerError):
    """parlia_* asked about a block this chain does not have (BSC's errUnknownBlock)."""

    def __init__(self):
        super().__init__("unknown block")


class NotParlia(ServerError):
    """parlia_* on a chain without the Parlia engine."""

    def __init__(self):
        super().__init__("the parlia namespace needs a Parlia chain")


def _header(node, block: BlockNumber) -> tuple[PosaEngine, BlockHeaderAPI]:
    engine = node.chain.engine
    if not isinstance(engine, PosaEngine):
        raise NotParlia()
    header = None if block.tag == "pending" else header_or_none(node, block)
    if header is None:
        raise UnknownBlock()
    return engine, header


def get_justified_number(node, block: BlockNumber = LATEST) -> int:
    """The highest justified block number in the snapshot at `block` (0 before any attestation)."""
    engine, header = _header(node, block)
    return engine.justified(header)[0]


def get_finalized_number(node, block: BlockNumber = LATEST) -> int:
    """The finalized block number in the snapshot at `block` (0 before any attestation; no BEP-648 here, as BSC)."""
    engine, header = _header(node, block)
    return engine.finalized(header)[0]
