"""geth's `callTracer` (`eth/tracers/native/call.go`): the tree of call frames, with `onlyTopCall` and `withLog`.

A frame is `{from, gas, gasUsed, to?, input, output?, error?, revertReason?, calls?, logs?, value?, type}` with
geth's encodings: lowercase 0x addresses, 0x quantities, 0x data (`input` always, `output` only when not empty).
The top frame's `gas` is the transaction's gas limit and its `gasUsed` the receipt's; a callee's are the gas it was
given (stipend included) and what it used. A failed frame has `error`; a reverted one keeps its output and, when
it is an `Error(string)` or a `Panic(uint256)`, its `revertReason`; a failed CREATE has no `to`. STATICCALL frames
have no `value`. With `withLog`, logs (`address, topics, data, index, position`) stay on frames that did not fail.
"""
from __future__ import annotations

from dataclasses import dataclass, field

from eth_abi import decode as abi_decode

from node.execution.tracers.evm import REVERTED, Tracer
from node.execution.tracers.opcodes import CREATE_OPS, op_name

ERROR_SELECTOR = bytes.fromhex("08c379a0")   # Error(string)
PANIC_SELECTOR = bytes.fromhex("4e487b71")   # Panic(uint256)
PANIC_REASONS = {  # Solidity's panic codes, worded as geth's abi.UnpackRevert words them
    0x00: "generic panic", 0x01: "assert(false)", 0x11: "arithmetic underflow or overflow",
    0x12: "division or modulo by zero", 0x21: "enum overflow", 0x22: "invalid encoded storage byte array accessed",
    0x31: "out-of-bounds array access; popping on an empty array", 0x32: "out-of-bounds access of an array or bytesN",
    0x41: "out of memory", 0x51: "uninitialized function",
}


def unpack_revert(data: bytes) -> str | None:
    """The reason of an `Error(string)` or `Panic(uint256)` revert, as geth's abi.UnpackRevert gives it."""
    try:
        if data[:4] == ERROR_SELECTOR:
            return abi_decode(["string"], data[4:], strict=False)[0]
        if data[:4] == PANIC_SELECTOR:
            code = abi_decode(["uint256"], data[4:], strict=False)[0]
            return PANIC_REASONS.get(code, f"unknown panic code: {code:#x}")
    except Exception:
        return None
    return None


@dataclass(frozen=True)
class CallTracerConfig:
    only_top_call: bool = False
    with_log: bool = False


@dataclass
class _Frame:
    typ: int
    sender: bytes
    to: bytes | None
    input: bytes
    gas: int
    value: int | None
    gas_used: int = 0
    output: bytes = b""
    error: str | None = None
    revert_reason: str | None = None
    reverted: bool = False
    calls: list = field(default_factory=list)
    logs: list = field(default_factory=list)

    def process_output(self, output: bytes, error: str | None, reverted: bool) -> None:
        output = bytes(output)
        if error is None or not reverted:
            self.output = output
            return
        self.error, self.reverted = error, reverted
        if self.typ in CREATE_OPS:
            self.to = None
        if error != REVERTED or not output:
            return
        self.output = output
        if len(output) >= 4:
            self.revert_reason = unpack_revert(output)

    def failed(self) -> bool:
        return bool(self.error) and self.reverted

    def to_json(self) -> dict:
        out = {"from": "0x" + self.sender.hex(), "gas": hex(self.gas), "gasUsed": hex(self.gas_used)}
        if self.to is not None:
            out["to"] = "0x" + self.to.hex()
        out["input"] = "0x" + self.input.hex()
        if self.output:
            out["output"] = "0x" + self.output.hex()
        if self.error:
            out["error"] = self.error
        if self.revert_reason:
            out["revertReason"] = self.revert_reason
        if self.calls:
            out["calls"] = [call.to_json() for call in self.calls]
        if self.logs:
            out["logs"] = self.logs
        if self.value is not None:
            out["value"] = hex(self.value)
        out["type"] = op_name(self.typ)
        return out


def _clear_failed_logs(frame: _Frame, parent_failed: bool) -> None:
    failed = parent_failed or frame.failed()
    if failed:
        frame.logs = []
    for call in frame.calls:
        _clear_failed_logs(call, failed)


class CallTracer(Tracer):
    def __init__(self, config: CallTracerConfig):
        self.config = config
        self.stack: list[_Frame] = []
        self.gas_limit = 0
        self.depth = 0

    def on_tx_start(self, gas_limit: int) -> None:
        self.gas_limit = gas_limit

    def on_enter(self, depth: int, typ: int, sender: bytes, to: bytes | None, data: bytes, gas: int,
                 value: int | None) -> None:
        self.depth = depth
        if self.config.only_top_call and depth > 0:
            return
        self.stack.append(_Frame(typ, sender, to, bytes(data), self.gas_limit if depth == 0 else gas, value))

    def on_exit(self, depth: int, output: bytes, gas_used: int, error: str | None, reverted: bool) -> None:
        if depth == 0:
            if len(self.stack) == 1:
                self.stack[0].process_output(output, error, reverted)
            return
        self.depth = depth - 1
        if self.config.only_top_call or len(self.stack) <= 1:
            return
        frame = self.stack.pop()
        frame.gas_used = gas_used
        frame.process_output(output, error, reverted)
        self.stack[-1].calls.append(frame)

    def on_log(self, address: bytes, topics: tuple[int, ...], data: bytes, index: int) -> None:
        if not self.config.with_log or (self.config.only_top_call and self.depth > 0):
            return
        frame = self.stack[-1]
        frame.logs.append({"address": "0x" + address.hex(), "topics": [f"0x{t:064x}" for t in topics],
                           "data": "0x" + data.hex(), "index": hex(index), "position": hex(len(frame.calls))})

    def on_tx_end(self, gas_used: int) -> None:
        self.stack[0].gas_used = gas_used
        if self.config.with_log:
            _clear_failed_logs(self.stack[0], False)

    def result(self) -> dict:
        return self.stack[0].to_json()
