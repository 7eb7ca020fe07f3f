"""debug_traceBlockByNumber / debug_traceBlockByHash: every transaction of a block traced, as geth answers them:
[{txHash, result}] in block order, each result the tracer's (struct logger by default, or the configured one).
Each transaction's trace has its own timeout, as in geth (the config's, at most the node's evm timeout); the first
that runs past it answers `execution timeout` for the whole block."""
from __future__ import annotations

from eth.abc import BlockHeaderAPI

from node.execution.tracing import trace_block as run_trace_block
from rpc import encode
from rpc.blocks import header_or_none
from rpc.debug import TraceConfigArg
from rpc.errors import ServerError
from rpc.params import BlockNumber, Hash


def _trace_block(node, header: BlockHeaderAPI, config) -> list[dict]:
    if header.block_number == 0:
        raise ServerError("genesis is not traceable")
    block = node.chain.block_by_header(header)
    return [{"txHash": encode.data(tx_hash), "result": result}
            for tx_hash, result in run_trace_block(node.chain, block, config, node.config.evm_timeout)]


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
