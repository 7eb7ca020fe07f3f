"""Every wire method name and its handler, in one table per receiver; parameters parsed from the handlers' annotations.

A handler is a plain function `fn(receiver, arg0, arg1=default, ...)`. The receiver is what its table says: the node
(METHODS, DEV_METHODS), the app's filters (FILTER_METHODS) or the connection the call came on, None over HTTP
(CONNECTION_METHODS). Each argument after it is annotated with a type from rpc.params (or rpc.filters.Id), whose
parser runs here, once, with geth's messages for a wrong count or a bad value (`missing value for required argument
1`, `too many arguments, want at most 2`, `invalid argument 0: ...`). An argument with a default is optional; a JSON
null counts as absent. eth_subscribe is one method whose first parameter names a kind in SUBSCRIPTIONS; the kind's
own parameters follow, numbered after the name as geth numbers them.

Namespaces geth leaves out of its default HTTP and WebSocket modules (`--http.api`) sit in OPTIONAL_MODULES: a node
serves them in dev mode, as anvil does, and otherwise only when `methods_for` is asked for them by name.

Each method has its lane in the server (`Method.inline`, `Method.executes`): INLINE ones answer on the event loop,
EXECUTES ones (they run EVM code for the caller, bounded by the node's evm timeout) on the server's execution
workers, every other one on its read workers, so that reads never queue behind executions.
"""
from __future__ import annotations

import inspect
from dataclasses import dataclass, field
from operator import attrgetter
from typing import Any, Callable, Collection

from rpc import (accesslist, accounts, admin, blocktrace, chaininfo, debug, debugraw, dev, eth, fees, filters, finality,
                 finalizedheads, logs, net, parlia, proofs, simargs, simulate, subscriptions, testing, txpool, web3)
from rpc.errors import InvalidParams, MethodNotFound
from rpc.filters import FilterManager, Id, parse_id
from rpc.params import PARSERS as PARAM_PARSERS, Data, ParamError
from rpc.subscriptions import Connection, NotificationsUnsupported, SubscriptionNotFound, subscription_name

PARSERS: dict[Any, Callable[[Any], Any]] = {**PARAM_PARSERS, Id: parse_id,
                                             accounts.TypedData: accounts.parse_typed_data,
                                             debug.TraceConfigArg: debug.parse_trace_config_arg, **dev.PARSERS,
                                             **admin.PARSERS,
                                             proofs.StorageKeys: proofs.parse_storage_keys,
                                             proofs.StorageRequest: proofs.parse_storage_request,
                                             simargs.SimOptsArg: simargs.parse_sim_opts,
                                             testing.PayloadAttributes: testing.parse_payload_attributes,
                                             testing.RawTransactions: testing.parse_raw_transactions,
                                             testing.ExtraData: PARAM_PARSERS[Data],
                                             finality.ValidatorCount: finality.parse_validator_count}

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
    "eth_baseFee": fees.base_fee,
    "eth_blobBaseFee": fees.blob_base_fee,
    "eth_getProof": proofs.get_proof,
    "eth_config": chaininfo.config,
    "eth_simulateV1": simulate.simulate,
    "eth_createAccessList": accesslist.create_access_list,
    "eth_capabilities": chaininfo.capabilities,
    "eth_getStorageValues": proofs.get_storage_values,
    "eth_getLogs": logs.get_logs,
    "eth_getFinalizedHeader": finality.get_finalized_header,
    "eth_getFinalizedBlock": finality.get_finalized_block,
}

# Handlers that answer from memory or one committed-db read and never wait on a lock: the server runs them on its
# event loop, without the hop to a worker thread (which costs more than they do).
INLINE: frozenset[str] = frozenset({
    "web3_clientVersion", "web3_sha3", "net_version", "net_listening", "net_peerCount",
    "eth_chainId", "eth_blockNumber", "eth_syncing",
})

# Handlers that run EVM code for the caller (calls, estimates, access lists, simulations, traces, block builds, and
# the dev signing methods, which estimate the gas when it is not given): each stops at the node's evm timeout, and
# the server runs them in their own bounded lane, apart from the reads.
EXECUTES: frozenset[str] = frozenset({
    "eth_call", "eth_estimateGas", "eth_createAccessList", "eth_simulateV1",
    "debug_traceCall", "debug_traceTransaction", "debug_traceBlockByNumber", "debug_traceBlockByHash",
    "testing_buildBlockV1", "eth_sendTransaction", "eth_signTransaction",
})

# When the node automines (node/automine.py): a send through an in-process provider answers once its transaction is
# in a block (as eth-tester and Hardhat: a test reads the new state right after `transact()`), and a receipt asked
# for a transaction being mined is answered once its block is in, so a client's first look finds it (ethers' `wait()`
# would otherwise sleep its 4 s polling interval). Sends over HTTP answer at once, so that concurrent senders keep
# the pool full and blocks big.
SENDS: frozenset[str] = frozenset({"eth_sendRawTransaction", "eth_sendTransaction"})
RECEIPT = "eth_getTransactionReceipt"


def mined_wait(context: "Context", name: str, params: Any, result: Any) -> tuple[Any, bytes | None]:
    """(the node's MinedWait, the hash to wait for) when the answer to this call should wait for a block; else
    (None, None). After a receipt's wait (even none: the block may have come in since the handler looked), the
    handler is asked again."""
    mined = getattr(context.node, "mined", None)
    if mined is None or not mined.automining():
        return None, None
    tx_hash = None
    if name in SENDS and context.sends_wait and isinstance(result, str):
        tx_hash = result
    elif name == RECEIPT and result is None and isinstance(params, list) and params and isinstance(params[0], str):
        tx_hash = params[0]
    if tx_hash is None:
        return None, None
    try:
        tx_hash = bytes.fromhex(tx_hash[2:])
    except ValueError:
        return None, None
    return mined, tx_hash


# Handlers of the app's FilterManager (geth's eth/filters/api.go); served in every mode.
FILTER_METHODS: dict[str, Callable] = {
    "eth_newFilter": filters.new_filter,
    "eth_newBlockFilter": filters.new_block_filter,
    "eth_newPendingTransactionFilter": filters.new_pending_transaction_filter,
    "eth_getFilterChanges": filters.get_filter_changes,
    "eth_getFilterLogs": filters.get_filter_logs,
    "eth_uninstallFilter": filters.uninstall_filter,
}

# Handlers of the calling connection (a WebSocket; None over HTTP).
CONNECTION_METHODS: dict[str, Callable] = {
    "eth_unsubscribe": subscriptions.unsubscribe,
}

# The kinds of eth_subscribe: functions of the kind's parameters that return its feed.
SUBSCRIPTIONS: dict[str, Callable] = {
    "newHeads": subscriptions.new_heads,
    "logs": subscriptions.logs,
    "newPendingTransactions": subscriptions.new_pending_transactions,
    "newFinalizedHeaders": finalizedheads.new_finalized_headers,
}

# Registered only when the node runs in dev mode: unlocked test accounts and anvil's chain controls.
DEV_METHODS: dict[str, Callable] = {
    "eth_accounts": accounts.accounts,
    "eth_sendTransaction": accounts.send_transaction,
    "eth_signTransaction": accounts.sign_transaction,
    "eth_sign": accounts.sign,
    "personal_sign": accounts.personal_sign,
    "eth_signTypedData_v4": accounts.sign_typed_data_v4,
    **dev.METHODS,
}

# Namespaces outside geth's default modules: served in dev mode, else only when asked for (geth's --http.api).
OPTIONAL_MODULES: dict[str, dict[str, Callable]] = {
    "admin": admin.METHODS,
    "parlia": {
        "parlia_getJustifiedNumber": parlia.get_justified_number,
        "parlia_getFinalizedNumber": parlia.get_finalized_number,
    },
    "testing": {
        "testing_buildBlockV1": testing.build_block_v1,
    },
    "txpool": {
        "txpool_content": txpool.content,
        "txpool_contentFrom": txpool.content_from,
        "txpool_status": txpool.status,
        "txpool_inspect": txpool.inspect,
    },
    "debug": {
        "debug_traceTransaction": debug.trace_transaction,
        "debug_traceCall": debug.trace_call,
        "debug_traceBlockByNumber": blocktrace.trace_block_by_number,
        "debug_traceBlockByHash": blocktrace.trace_block_by_hash,
        "debug_getRawHeader": debugraw.get_raw_header,
        "debug_getRawBlock": debugraw.get_raw_block,
        "debug_getRawReceipts": debugraw.get_raw_receipts,
        "debug_getRawTransaction": debugraw.get_raw_transaction,
    },
}


@dataclass(frozen=True)
class Param:
    name: str
    parse: Callable[[Any], Any]
    default: Any   # inspect.Parameter.empty: required


@dataclass
class Context:
    """What one request or batch reaches: the node, the app's filters, and the connection it came on (None over
    HTTP). `subscribed` collects the ids eth_subscribe made, to be activated once the answer is queued."""

    node: Any
    filters: FilterManager
    connection: Connection | None = None
    sends_wait: bool = False   # an in-process provider's: sends answer once automined (see SENDS)
    subscribed: list[str] = field(default_factory=list)


NODE = attrgetter("node")
FILTERS = attrgetter("filters")
CONNECTION = attrgetter("connection")


@dataclass(frozen=True)
class Method:
    name: str
    handler: Callable
    params: tuple[Param, ...]
    receiver: Callable[[Context], Any] | None = NODE   # None: the handler takes only its parameters
    inline: bool = False                                 # run on the server's event loop (see INLINE)
    executes: bool = False                               # run in the server's execution lane (see EXECUTES)

    def __call__(self, context: Context, raw_params: Any) -> Any:
        args = self.parse(raw_params)
        return self.handler(*args) if self.receiver is None else self.handler(self.receiver(context), *args)

    def parse(self, raw: Any, skipped: int = 0) -> list:
        """Positional JSON params -> handler arguments (geth's parsePositionalArguments); `skipped` leading
        parameters were read by the caller and count in the messages' argument numbers."""
        if raw is None:
            raw = []
        if not isinstance(raw, list):
            raise InvalidParams("non-array args")
        if len(raw) > len(self.params):
            raise InvalidParams(f"too many arguments, want at most {len(self.params) + skipped}")
        args = []
        for i, param in enumerate(self.params):
            value = raw[i] if i < len(raw) else None
            if value is None:
                if param.default is inspect.Parameter.empty:
                    raise InvalidParams(f"missing value for required argument {i + skipped}")
                args.append(param.default)
                continue
            try:
                args.append(param.parse(value))
            except ParamError as exc:
                raise InvalidParams(f"invalid argument {i + skipped}: {exc}") from None
        return args


@dataclass(frozen=True)
class Subscribe:
    """eth_subscribe: only on a connection that can carry notifications; the first parameter picks the kind."""

    name: str
    kinds: dict[str, Method]
    inline: bool = False
    executes: bool = False

    def __call__(self, context: Context, raw_params: Any) -> str:
        if context.connection is None:
            raise NotificationsUnsupported()
        kind = self.kinds.get(subscription_name(raw_params))
        if kind is None:
            raise SubscriptionNotFound(raw_params[0])
        sub_id = context.connection.subscribe(kind.handler(*kind.parse(raw_params[1:], skipped=1)))
        context.subscribed.append(sub_id)
        return sub_id


def bind(name: str, handler: Callable, receiver: Callable[[Context], Any] | None = NODE) -> Method:
    """Read a handler's signature once: the parser for each annotated argument after the receiver."""
    params = []
    for p in list(inspect.signature(handler).parameters.values())[0 if receiver is None else 1:]:
        annotation = eval(p.annotation, handler.__globals__) if isinstance(p.annotation, str) else p.annotation
        if annotation not in PARSERS:
            raise TypeError(f"{name}: no parser for parameter {p.name} of type {annotation!r}")
        params.append(Param(p.name, PARSERS[annotation], p.default))
    return Method(name, handler, tuple(params), receiver, name in INLINE, name in EXECUTES)


def methods_for(node, modules: Collection[str] | None = None) -> dict[str, Method | Subscribe]:
    """The methods this node serves: METHODS, filters, subscriptions, the OPTIONAL_MODULES named in `modules`
    (default: the node config's `http_api`, as `smartchain run --http.api` sets it), plus DEV_METHODS and every
    optional module in dev mode."""
    if modules is None:
        modules = getattr(node.config, "http_api", ())
    table = dict(METHODS)
    for module, handlers in OPTIONAL_MODULES.items():
        if node.config.dev or module in modules:
            table.update(handlers)
    if node.config.dev:
        table.update(DEV_METHODS)
    methods: dict[str, Method | Subscribe] = {name: bind(name, handler) for name, handler in table.items()}
    methods.update({name: bind(name, handler, FILTERS) for name, handler in FILTER_METHODS.items()})
    methods.update({name: bind(name, handler, CONNECTION) for name, handler in CONNECTION_METHODS.items()})
    methods["eth_subscribe"] = Subscribe("eth_subscribe", {
        kind: bind(f"eth_subscribe {kind}", handler, None) for kind, handler in SUBSCRIPTIONS.items()})
    return methods


def lookup(methods: dict[str, Method | Subscribe], name: str) -> Method | Subscribe:
    method = methods.get(name)
    if method is None:
        raise MethodNotFound(name)
    return method
