"""geth's default tracer, the struct logger (`eth/tracers/logger/logger.go`): one entry per executed instruction.

The answer is `{"gas", "failed", "returnValue", "structLogs"}` in geth's current (v1.17.3+, execution-apis) form:
`gas` is the receipt's gas used; `returnValue` is 0x-hex of the output, kept when the call succeeded or reverted and
empty otherwise; each entry has `pc`, `op` (name), `gas` (before the step), `gasCost`, `depth` (1 for the
transaction's own code), `error` when the step failed its gas or stack check, `stack` (0x-quantities, bottom first)
unless disabled, `returnData` and `memory` (0x-prefixed 32-byte words) when enabled and not empty, `storage` (the
slots this contract read or wrote so far in the trace, at SLOAD/SSTORE) unless disabled, and `refund` when not 0.
"""
from __future__ import annotations

import json
from dataclasses import dataclass

from node.execution.tracers.evm import REVERTED, Tracer, TracingComputation
from node.execution.tracers.opcodes import SLOAD, SSTORE, op_name


@dataclass(frozen=True)
class LoggerConfig:
    enable_memory: bool = False
    disable_stack: bool = False
    disable_storage: bool = False
    enable_return_data: bool = False
    limit: int = 0  # bytes of structLogs JSON after which no more entries are added (0: no limit)


class _Step:
    __slots__ = ("pc", "op", "gas", "depth", "stack", "return_data", "memory", "storage", "refund")


def _word_hex(value: int) -> str:
    return f"0x{value:064x}"


def _memory_words(memory: bytes) -> list[str]:
    memory = memory + b"\0" * (-len(memory) % 32)
    return ["0x" + memory[i:i + 32].hex() for i in range(0, len(memory), 32)]


class StructLogger(Tracer):
    def __init__(self, config: LoggerConfig):
        self.config = config
        self.logs: list = []
        self.size = 0
        self.storage: dict[bytes, dict[int, int]] = {}
        self.output = b""
        self.error: str | None = None
        self.gas_used = 0

    def on_opcode(self, pc: int, op: int, gas: int, depth: int, scope: TracingComputation) -> int | None:
        cfg = self.config
        if cfg.limit and self.size > cfg.limit:
            return None
        step = _Step()
        step.pc, step.op, step.gas, step.depth = pc, op, gas, depth
        step.stack = None if cfg.disable_stack else scope.trace_stack()
        step.return_data = bytes(scope.return_data) if cfg.enable_return_data else b""
        step.memory = scope.trace_memory() if cfg.enable_memory else b""
        step.storage = None if cfg.disable_storage or op not in (SLOAD, SSTORE) else self._storage(op, scope)
        step.refund = scope.trace_refund()
        self.logs.append(step)
        return len(self.logs) - 1

    def _storage(self, op: int, scope: TracingComputation) -> dict[int, int] | None:
        address = scope.msg.storage_address
        slots = self.storage.setdefault(address, {})
        stack = scope.trace_raw_stack()
        if op == SLOAD and len(stack) >= 1:
            key = scope.trace_stack()[-1]
            slots[key] = scope.state.get_storage(address, key)
        elif op == SSTORE and len(stack) >= 2:
            key, value = scope.trace_stack()[-1:-3:-1]
            slots[key] = value
        else:
            return None
        return dict(slots)

    def on_opcode_end(self, handle: int | None, cost: int, error: str | None) -> None:
        if handle is None:
            return
        step = self.logs[handle]
        entry = {"pc": step.pc, "op": op_name(step.op), "gas": step.gas, "gasCost": cost, "depth": step.depth}
        if error:
            entry["error"] = error
        if step.stack is not None:
            entry["stack"] = [hex(v) for v in step.stack]
        if step.return_data:
            entry["returnData"] = "0x" + step.return_data.hex()
        if step.memory:
            entry["memory"] = _memory_words(step.memory)
        if step.storage:
            entry["storage"] = {_word_hex(k): _word_hex(v) for k, v in step.storage.items()}
        if step.refund:
            entry["refund"] = step.refund
        self.logs[handle] = entry
        if self.config.limit:
            self.size += len(json.dumps(entry, separators=(",", ":")))

    def on_exit(self, depth: int, output: bytes, gas_used: int, error: str | None, reverted: bool) -> None:
        if depth == 0:
            self.output, self.error = bytes(output), error

    def on_tx_end(self, gas_used: int) -> None:
        self.gas_used = gas_used

    def result(self) -> dict:
        failed = self.error is not None
        output = self.output if not failed or self.error == REVERTED else b""
        return {"gas": self.gas_used, "failed": failed, "returnValue": "0x" + output.hex(),
                "structLogs": [entry for entry in self.logs if isinstance(entry, dict)]}
