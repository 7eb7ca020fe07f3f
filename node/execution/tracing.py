"""debug_traceTransaction and debug_traceCall, the execution half: re-run a transaction or a call under a tracer.

- `trace_transaction(chain, tx_hash, config)`: the block's context on its parent's post-state; the block's
  pre-execution system writes and the transactions before this one are replayed, then this one is traced;
- `trace_call(chain, header, params, config)`: a call as eth_call runs it, on `header`'s post-state (or, with
  `txIndex`, on the state before that transaction of the block), traced.

`config` is geth's TraceConfig as JSON (`{"tracer": "callTracer", "tracerConfig": {...}, "timeout": "10s"}`, or the
struct logger's `enableMemory`, `disableStack`, `disableStorage`, `enableReturnData`, `limit`); keys match without
regard to case and unknown keys are ignored, as Go's decoder does. Tracers: the struct logger (no `tracer`) and
`callTracer`; any other name is `tracer not found`. Nothing is written: the states run on an in-memory overlay of
the chain's database that is never committed. Errors are `TraceError`s (an ExecutionError: answered -32000).

- `trace_block(chain, block, config)`: every transaction of a block, in order, on one running state (geth's
  traceBlock), each with its own timeout as in geth.

A trace stops at its timeout (geth's `execution timeout`): the config's, else geth's 5 s default, at most `max_timeout`
(the node's evm timeout, so that no request runs unbounded), counted from the request's arrival; the replay of the
transactions before the traced one counts in it.
"""
from __future__ import annotations

import re
import time
from dataclasses import dataclass, field
from typing import Any

from eth._utils.address import generate_contract_address
from eth.abc import BlockAPI, BlockHeaderAPI, SignedTransactionAPI, VirtualMachineAPI
from eth_utils import ValidationError

from node.execution.overlay import overlay_vm
from node.execution.deadline import DeadlineExceeded, deadline_after, with_deadline
from node.execution.calls import (CALL_GAS_CAP, CallParams, CallRefused, ExecutionError, call_gas, call_transaction,
                            check_call, validation_message)
from node.execution.tracers.call_tracer import CallTracer, CallTracerConfig
from node.execution.tracers.evm import Tracer, TraceRun, TraceTimeout
from node.execution.tracers.struct_logger import LoggerConfig, StructLogger

DEFAULT_TIMEOUT = 5.0  # seconds: geth's defaultTraceTimeout
CALL_TRACER = "callTracer"


class TraceError(ExecutionError):
    """A trace geth would refuse or abort; the message is geth's."""


class TraceConfigError(TraceError):
    """A config that does not decode (geth: `json: cannot unmarshal ...`)."""


# -- config -------------------------------------------------------------------------------------------------------

@dataclass(frozen=True)
class TraceConfig:
    tracer: str | None = None
    timeout: float = DEFAULT_TIMEOUT
    logger: LoggerConfig = field(default_factory=LoggerConfig)
    tracer_config: Any = None        # the tracer's own JSON, decoded when the tracer is made
    tx_index: int | None = None      # debug_traceCall only: trace on the state before this transaction of the block
    overrides: tuple[str, ...] = ()  # override keys given (debug_traceCall's stateOverrides / blockOverrides)


_GO_TYPES = {bool: "bool", int: "int", str: "string"}
_TRACE_CONFIG_FIELDS = {"enableMemory": bool, "disableStack": bool, "disableStorage": bool, "enableReturnData": bool,
                        "debug": bool, "limit": int, "tracer": str, "timeout": str, "tracerConfig": object,
                        "txIndex": object, "stateOverrides": object, "blockOverrides": object}


def _json_type(value: Any) -> str:
    if isinstance(value, bool):
        return "bool"
    if isinstance(value, (int, float)):
        return "number"
    return {str: "string", list: "array", dict: "object"}.get(type(value), type(value).__name__)


def _decode_object(value: Any, fields: dict[str, type], struct: str) -> dict[str, Any]:
    """Go's json.Unmarshal into a struct: keys match without regard to case, nulls and unknown keys are skipped."""
    if value is None:
        return {}
    if not isinstance(value, dict):
        raise TraceConfigError(f"json: cannot unmarshal {_json_type(value)} into Go value of type {struct}")
    names = {name.lower(): name for name in fields}
    out: dict[str, Any] = {}
    for key, item in value.items():
        name = names.get(str(key).lower())
        if name is None or item is None:
            continue
        kind = fields[name]
        if kind is not object and (type(item) is not kind):
            raise TraceConfigError(f"json: cannot unmarshal {_json_type(item)} into Go struct field "
                                   f"{struct.rsplit('.', 1)[-1]}.{name} of type {_GO_TYPES[kind]}")
        out[name] = item
    return out


_DURATION_PART = re.compile(r"(\d+\.?\d*|\.\d+)(ns|us|µs|μs|ms|s|m|h)?")
_DURATION_UNITS = {"ns": 1e-9, "us": 1e-6, "µs": 1e-6, "μs": 1e-6, "ms": 1e-3, "s": 1.0, "m": 60.0, "h": 3600.0}


def parse_duration(text: str) -> float:
    """Go's time.ParseDuration, in seconds."""
    rest, sign = text, 1.0
    if rest[:1] in ("+", "-"):
        sign, rest = (-1.0 if rest[0] == "-" else 1.0), rest[1:]
    if rest == "0":
        return 0.0
    if not rest:
        raise TraceError(f'time: invalid duration "{text}"')
    total, pos = 0.0, 0
    while pos < len(rest):
        part = _DURATION_PART.match(rest, pos)
        if part is None:
            raise TraceError(f'time: invalid duration "{text}"')
        if part.group(2) is None:
            unit = re.match(r"[^\d.]*", rest[part.end():]).group(0)
            raise TraceError(f'time: unknown unit "{unit}" in duration "{text}"' if unit
                             else f'time: missing unit in duration "{text}"')
        total += float(part.group(1)) * _DURATION_UNITS[part.group(2)]
        pos = part.end()
    return sign * total


def parse_trace_config(value: Any) -> TraceConfig:
    """geth's TraceConfig (and TraceCallConfig) from its JSON; a TraceConfig passes through."""
    if isinstance(value, TraceConfig):
        return value
    raw = _decode_object(value, _TRACE_CONFIG_FIELDS, "tracers.TraceCallConfig")
    tx_index = raw.get("txIndex")
    if tx_index is not None:
        tx_index = _hex_uint(tx_index)
    return TraceConfig(
        tracer=raw.get("tracer"),
        timeout=parse_duration(raw["timeout"]) if "timeout" in raw else DEFAULT_TIMEOUT,
        logger=LoggerConfig(enable_memory=raw.get("enableMemory", False), disable_stack=raw.get("disableStack", False),
                            disable_storage=raw.get("disableStorage", False),
                            enable_return_data=raw.get("enableReturnData", False), limit=raw.get("limit", 0)),
        tracer_config=raw.get("tracerConfig"),
        tx_index=tx_index,
        overrides=tuple(key for key in ("stateOverrides", "blockOverrides") if raw.get(key)),
    )


def _hex_uint(value: Any) -> int:
    if not isinstance(value, str) or not re.fullmatch(r"0x(0|[1-9a-fA-F][0-9a-fA-F]*)", value):
        raise TraceConfigError(f"json: cannot unmarshal {_json_type(value)} into Go struct field "
                               f"TraceCallConfig.txIndex of type hexutil.Uint")
    return int(value, 16)


def make_tracer(config: TraceConfig) -> Tracer:
    if config.tracer is None:
        return StructLogger(config.logger)
    if config.tracer == CALL_TRACER:
        raw = _decode_object(config.tracer_config, {"onlyTopCall": bool, "withLog": bool},
                             "native.callTracerConfig")
        return CallTracer(CallTracerConfig(only_top_call=raw.get("onlyTopCall", False),
                                           with_log=raw.get("withLog", False)))
    raise TraceError("tracer not found")


# -- execution ----------------------------------------------------------------------------------------------------

def _state_before(chain, block: BlockAPI, index: int,
                  deadline: float | None = None) -> tuple[VirtualMachineAPI, bytes, int]:
    """geth's StateAtTransaction: a VM with the block's context and the state before transaction `index`, with
    the number of logs the block's earlier transactions emitted; the replay stops at `deadline`."""
    if block.number == 0:
        raise TraceError("no transaction in genesis")
    if index >= len(block.transactions) and (index or block.transactions):
        raise TraceError(f"transaction index {index} out of range for block 0x{block.hash.hex()}")
    parent = chain.header_by_hash(block.header.parent_hash)
    vm = overlay_vm(chain, block.header.copy(state_root=parent.state_root, gas_used=0))
    if deadline is not None:
        vm.state.computation_class = with_deadline(vm.state.computation_class, deadline)
    vm.block_preprocessing(block)
    header, logs = vm.get_header(), 0
    for tx in block.transactions[:index]:
        try:
            receipt, _ = vm.apply_transaction(header, tx)
        except ValidationError as exc:
            raise TraceError(f"transaction 0x{tx.hash.hex()} failed: {exc}") from None
        except DeadlineExceeded:
            raise TraceError("execution timeout") from None
        header = vm.add_receipt_to_header(header, receipt)
        logs += len(receipt.logs)
    vm.state.persist()  # into the overlay: the traced state starts from this root
    return vm, vm.state.state_root, logs


def _trace(vm: VirtualMachineAPI, state_root: bytes, tx: SignedTransactionAPI, sender: bytes, config: TraceConfig,
           tracer: Tracer, log_index: int, deadline: float) -> dict:
    run = TraceRun(tracer, log_index=log_index, deadline=deadline)
    state = run.state_class(vm.get_state_class())(vm.chaindb.db, vm.state.execution_context, state_root)
    create = not tx.to
    to = generate_contract_address(sender, tx.nonce) if create else tx.to
    run.begin_tx(sender, to, tx.data, tx.gas, tx.value, create)
    try:
        computation = state.apply_transaction(tx)
        run.end_tx(computation, vm.finalize_gas_used(tx, computation))
    except TraceTimeout:
        raise TraceError("execution timeout") from None
    except ValidationError as exc:
        raise TraceError(f"tracing failed: {_refusal(exc, tx)}") from None
    return tracer.result()


def _refusal(exc: ValidationError, tx: SignedTransactionAPI) -> str:
    """geth's words for a transaction py-evm refuses to run."""
    short = re.search(r"Message.gas cannot be negative: Got: -(\d+)", str(exc))
    if short:
        return f"intrinsic gas too low: have {tx.gas}, want {tx.gas + int(short[1])}"
    return validation_message(exc)


def trace_deadline(config: TraceConfig, max_timeout: float | None = None) -> float:
    """When a trace with `config` must stop: its timeout (at most `max_timeout`) after the request arrived."""
    return deadline_after(config.timeout if max_timeout is None else min(config.timeout, max_timeout))


def trace_transaction(chain, tx_hash: bytes, config: Any = None, max_timeout: float | None = None) -> dict:
    """debug_traceTransaction: the tracer's result for a mined transaction."""
    config = parse_trace_config(config)
    deadline = trace_deadline(config, max_timeout)
    location = chain.store.tx_location(tx_hash)
    if location is None:
        raise TraceError("transaction not found")
    if location.block_number == 0:
        raise TraceError("genesis is not traceable")
    tracer = make_tracer(config)
    block = chain.block_by_hash(location.block_hash)
    vm, state_root, logs = _state_before(chain, block, location.index, deadline)
    tx = block.transactions[location.index]
    return _trace(vm, state_root, tx, tx.sender, config, tracer, logs, deadline)


def trace_block(chain, block: BlockAPI, config: Any = None,
                max_timeout: float | None = None) -> list[tuple[bytes, dict]]:
    """debug_traceBlock*: (hash, the tracer's result) of each transaction of `block`, traced in order on one running
    state (each transaction then applied untraced to move it on), each trace with its own timeout, as geth's."""
    config = parse_trace_config(config)
    timeout = config.timeout if max_timeout is None else min(config.timeout, max_timeout)
    vm, state_root, logs = _state_before(chain, block, 0)
    header, results = vm.get_header(), []
    for tx in block.transactions:
        deadline = deadline_after(timeout) if not results else time.monotonic() + timeout
        results.append((tx.hash, _trace(vm, state_root, tx, tx.sender, config, make_tracer(config), logs, deadline)))
        receipt, _ = vm.apply_transaction(header, tx)
        header = vm.add_receipt_to_header(header, receipt)
        logs += len(receipt.logs)
        vm.state.persist()
        state_root = vm.state.state_root
    return results


def trace_call(chain, header: BlockHeaderAPI, params: CallParams, config: Any = None,
               gas_cap: int = CALL_GAS_CAP, max_timeout: float | None = None) -> dict:
    """debug_traceCall: the tracer's result for a call run as eth_call runs it at `header`."""
    config = parse_trace_config(config)
    if config.overrides:
        raise TraceError(f"{' and '.join(config.overrides)} are not supported by this node")
    tracer = make_tracer(config)
    deadline = trace_deadline(config, max_timeout)
    if config.tx_index is not None:
        vm, state_root, logs = _state_before(chain, chain.block_by_header(header), config.tx_index, deadline)
    else:
        vm, state_root, logs = overlay_vm(chain, header), header.state_root, 0
    tx = call_transaction(vm, params, call_gas(params, header, gas_cap))
    try:
        check_call(vm, tx)
    except CallRefused as exc:
        raise TraceError(f"tracing failed: {exc}") from None
    return _trace(vm, state_root, tx, params.sender, config, tracer, logs, deadline)

