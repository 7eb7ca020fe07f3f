"""debug namespace: transaction and call traces (struct logger, callTracer) as geth answers them. A trace stops with
geth's `execution timeout` at its config's timeout (geth's 5 s default), at most the node's evm timeout."""
from __future__ import annotations

from typing import Any, NewType

from node.execution.tracing import TraceConfig, TraceConfigError, parse_trace_config
from node.execution.tracing import trace_call as run_trace_call
from node.execution.tracing import trace_transaction as run_trace_transaction
from rpc import encode
from rpc.blocks import state_header
from rpc.errors import ServerError
from rpc.eth import call_params
from rpc.params import LATEST, BlockRef, CallArgs, Hash, ParamError

TraceConfigArg = NewType("TraceConfigArg", TraceConfig)


def parse_trace_config_arg(value: Any) -> TraceConfig:
    try:
        return parse_trace_config(value)
    except TraceConfigError as exc:  # geth: -32602 "invalid argument N: json: cannot unmarshal ..."
        raise ParamError(str(exc)) from None


def trace_transaction(node, tx_hash: Hash, config: TraceConfigArg = None) -> dict:
    return run_trace_transaction(node.chain, tx_hash, config, node.config.evm_timeout)


def trace_call(node, args: CallArgs, block: BlockRef = LATEST, config: TraceConfigArg = None) -> dict:
    if block.tag == "pending":
        raise ServerError("tracing on top of pending is not supported")
    header = state_header(node, block)
    return run_trace_call(node.chain, header, call_params(args, encode.base_fee(header)), config,
                          max_timeout=node.config.evm_timeout)
