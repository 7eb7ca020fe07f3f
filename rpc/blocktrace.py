"""debug_traceBlockByNumber / debug_traceBlockByHash: every transaction of a block traced, as geth answers them:
[{txHash, result}] in block order, each result the tracer's (struct logger by default, or the configured one)."""
from __future__ import annotations

from eth.abc import BlockHeaderAPI

from node.tracing import trace_transaction as run_trace_transaction
from rpc import encode
from rpc.blocks import header_or_none
from rpc.debug import TraceConfigArg
from rpc.errors import ServerError
from rpc.params import BlockNumber, Hash


def _trace_block(node, header: BlockHeaderAPI, config) -> list[dict]:
    if header.block_number == 0:
        raise ServerError("genesis is not traceable")
    block = node.chain.block_by_header(header)
    return [{"txHash": encode.data(tx.hash), "result": run_trace_transaction(node.chain, tx.hash, config)}
            for tx in block.transactions]


def trace_block_by_number(node, block: BlockNumber, config: TraceConfigArg = None) -> list[dict]:
    header = header_or_none(node, block)
    if header is None:
        raise ServerError(f"block #{block.number} not found")
    return _trace_block(node, header, config)


def trace_block_by_hash(node, block_hash: Hash, config: TraceConfigArg = None) -> list[dict]:
    header = node.chain.header_by_hash(block_hash)
    if header is None:
        raise ServerError(f"block 0x{block_hash.hex()} not found")
    return _trace_block(node, header, config)
