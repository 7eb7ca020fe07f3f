"""Every wire method name and its handler, in one table; parameters parsed from the handlers' annotations.

A handler is a plain function `fn(node, arg0, arg1=default, ...)`; each argument after `node` is annotated with a
type from rpc.params, whose parser runs here, once, with geth's messages for a wrong count or a bad value
(`missing value for required argument 1`, `too many arguments, want at most 2`, `invalid argument 0: ...`).
An argument with a default is optional; a JSON null counts as absent.
"""
from __future__ import annotations

import inspect
from dataclasses import dataclass
from typing import Any, Callable

from rpc import accounts, eth, fees, logs, net, web3
from rpc.errors import InvalidParams, MethodNotFound
from rpc.params import PARSERS, ParamError

METHODS: dict[str, Callable] = {
    "web3_clientVersion": web3.client_version,
    "web3_sha3": web3.sha3,
    "net_version": net.version,
    "net_listening": net.listening,
    "net_peerCount": net.peer_count,
    "eth_chainId": eth.chain_id,
    "eth_blockNumber": eth.block_number,
    "eth_syncing": eth.syncing,
    "eth_getBalance": eth.get_balance,
    "eth_getTransactionCount": eth.get_transaction_count,
    "eth_getCode": eth.get_code,
    "eth_getStorageAt": eth.get_storage_at,
    "eth_call": eth.call,
    "eth_estimateGas": eth.estimate_gas,
    "eth_sendRawTransaction": eth.send_raw_transaction,
    "eth_getTransactionByHash": eth.get_transaction_by_hash,
    "eth_getTransactionReceipt": eth.get_transaction_receipt,
    "eth_getBlockByNumber": eth.get_block_by_number,
    "eth_getBlockByHash": eth.get_block_by_hash,
    "eth_getBlockTransactionCountByNumber": eth.get_block_transaction_count_by_number,
    "eth_getBlockTransactionCountByHash": eth.get_block_transaction_count_by_hash,
    "eth_getTransactionByBlockNumberAndIndex": eth.get_transaction_by_block_number_and_index,
    "eth_getTransactionByBlockHashAndIndex": eth.get_transaction_by_block_hash_and_index,
    "eth_getBlockReceipts": eth.get_block_receipts,
    "eth_getUncleCountByBlockNumber": eth.get_uncle_count_by_block_number,
    "eth_getUncleCountByBlockHash": eth.get_uncle_count_by_block_hash,
    "eth_getUncleByBlockNumberAndIndex": eth.get_uncle_by_block_number_and_index,
    "eth_getUncleByBlockHashAndIndex": eth.get_uncle_by_block_hash_and_index,
    "eth_gasPrice": fees.gas_price,
    "eth_maxPriorityFeePerGas": fees.max_priority_fee_per_gas,
    "eth_feeHistory": fees.fee_history,
    "eth_getLogs": logs.get_logs,
}

# Registered only when the node runs in dev mode (unlocked test accounts).
DEV_METHODS: dict[str, Callable] = {
    "eth_accounts": accounts.accounts,
    "eth_sendTransaction": accounts.send_transaction,
}


@dataclass(frozen=True)
class Param:
    name: str
    parse: Callable[[Any], Any]
    default: Any   # inspect.Parameter.empty: required


@dataclass(frozen=True)
class Method:
    name: str
    handler: Callable
    params: tuple[Param, ...]

    def __call__(self, node, raw_params: Any) -> Any:
        return self.handler(node, *self.parse(raw_params))

    def parse(self, raw: Any) -> list:
        """Positional JSON params -> handler arguments (geth's parsePositionalArguments)."""
        if raw is None:
            raw = []
        if not isinstance(raw, list):
            raise InvalidParams("non-array args")
        if len(raw) > len(self.params):
            raise InvalidParams(f"too many arguments, want at most {len(self.params)}")
        args = []
        for i, param in enumerate(self.params):
            value = raw[i] if i < len(raw) else None
            if value is None:
                if param.default is inspect.Parameter.empty:
                    raise InvalidParams(f"missing value for required argument {i}")
                args.append(param.default)
                continue
            try:
                args.append(param.parse(value))
            except ParamError as exc:
                raise InvalidParams(f"invalid argument {i}: {exc}") from None
        return args


def bind(name: str, handler: Callable) -> Method:
    """Read a handler's signature once: the parser for each annotated argument after `node`."""
    params = []
    for p in list(inspect.signature(handler).parameters.values())[1:]:
        annotation = eval(p.annotation, handler.__globals__) if isinstance(p.annotation, str) else p.annotation
        if annotation not in PARSERS:
            raise TypeError(f"{name}: no parser for parameter {p.name} of type {annotation!r}")
        params.append(Param(p.name, PARSERS[annotation], p.default))
    return Method(name, handler, tuple(params))


def methods_for(node) -> dict[str, Method]:
    """The methods this node serves: METHODS, plus DEV_METHODS in dev mode."""
    table = dict(METHODS)
    if node.config.dev:
        table.update(DEV_METHODS)
    return {name: bind(name, handler) for name, handler in table.items()}


def lookup(methods: dict[str, Method], name: str) -> Method:
    method = methods.get(name)
    if method is None:
        raise MethodNotFound(name)
    return method
