"""The py-evm seam for tracing: hooks like geth's `core/tracing.Hooks`, fired from a computation class configured for
one trace run and used only by the state that runs the traced transaction. py-evm itself is not patched.

- every instruction of the VM's table (and every byte it does not define) is wrapped, so each step is seen before
  it runs (pc, gas, stack, memory) and after (what it charged, the error it raised);
- a gas meter that notes each charge and refund gives a step's cost as geth reports it: static and dynamic gas,
  and for CALL* the gas handed to the callee (geth's `callGasTemp`), but not, for CREATE*, the callee's gas, which
  geth takes after logging the step;
- `apply_child_computation` gives the call frames, after py-evm's create message has paid the code deposit;
- what py-evm decides inside an instruction without a child computation (a CALL or CREATE refused for balance,
  depth or a colliding address, a SELFDESTRUCT) becomes the frame geth opens and closes for it.
"""
from __future__ import annotations

import re
import time
from typing import Any, Callable

from eth.abc import ComputationAPI, MessageAPI
from eth.exceptions import (ContractCreationCollision, FullStack, Halt, InsufficientFunds, InsufficientStack,
                            InvalidInstruction, InvalidJumpDestination, OutOfBoundsRead, OutOfGas, ReservedBytesInCode,
                            Revert, StackDepthLimit, VMError, WriteProtection)
from eth.vm.gas_meter import GasMeter
from eth.vm.logic.invalid import InvalidOpcode

from node.execution.tracers.opcodes import (CALL, CALL_OPS, CALLCODE, CREATE, CREATE_OPS, DELEGATECALL, JUMP, JUMPI, SELFDESTRUCT,
                                  STACK_LIMIT, STATICCALL, op_name, stack_error)

REVERTED = "execution reverted"
_ADDRESS_MASK = (1 << 160) - 1
_TIME_CHECK_EVERY = 256


class TraceTimeout(Exception):
    """The run passed its deadline (geth answers `execution timeout`)."""


class Tracer:
    """The hooks a run fires, as geth's tracers receive them; each tracer overrides what it needs.

    Depths are geth's: the transaction's frame enters at 0, its callees at 1; steps of the transaction's own code
    are at depth 1. Values are ints, addresses and data bytes; `value` is None for STATICCALL.
    """

    def on_tx_start(self, gas_limit: int) -> None:
        pass

    def on_enter(self, depth: int, typ: int, sender: bytes, to: bytes | None, data: bytes, gas: int,
                 value: int | None) -> None:
        pass

    def on_exit(self, depth: int, output: bytes, gas_used: int, error: str | None, reverted: bool) -> None:
        pass

    def on_opcode(self, pc: int, op: int, gas: int, depth: int, scope: "TracingComputation") -> Any:
        """Before the instruction runs; what it returns comes back to on_opcode_end."""

    def on_opcode_end(self, handle: Any, cost: int, error: str | None) -> None:
        """After it ran: the gas it cost and the error geth reports on the step (gas and stack checks only)."""

    def on_log(self, address: bytes, topics: tuple[int, ...], data: bytes, index: int) -> None:
        pass

    def on_tx_end(self, gas_used: int) -> None:
        pass

    def result(self) -> dict:
        raise NotImplementedError


def vm_error_message(error: BaseException, op: int | None = None) -> str:
    """geth's text for the VM error py-evm raised (`op`: the instruction that raised it, when known)."""
    if isinstance(error, Revert):
        return REVERTED
    if isinstance(error, OutOfGas):
        text = str(error)
        if "EIP170" in text:
            return "max code size exceeded"
        if "EIP-3860" in text:
            sizes = re.search(r"limit of (\d+)\. Got code of size: (\d+)", text)
            return "out of gas: max initcode size exceeded" + (
                f": code size {sizes[2]} limit {sizes[1]}" if sizes else "")
        if "below 2300 gas" in text:
            return "out of gas: not enough gas for reentrancy sentry"  # EIP-2200's SSTORE sentry
        if "Write contract code" in text:
            return "contract creation code storage out of gas"
        return "out of gas"
    if isinstance(error, InvalidJumpDestination) or (isinstance(error, InvalidInstruction) and op in (JUMP, JUMPI)):
        return "invalid jump destination"
    if isinstance(error, InvalidInstruction):
        return "invalid opcode: " + (op_name(op) if op is not None else str(error))
    for kind, message in _FIXED_MESSAGES:
        if isinstance(error, kind):
            return message
    return str(error) or type(error).__name__


_FIXED_MESSAGES = (
    (InsufficientStack, "stack underflow"), (FullStack, "stack overflow"), (WriteProtection, "write protection"),
    (OutOfBoundsRead, "return data out of bounds"), (ReservedBytesInCode, "invalid code: must not begin with 0xef"),
    (ContractCreationCollision, "contract address collision"), (StackDepthLimit, "max call depth exceeded"),
    (InsufficientFunds, "insufficient balance for transfer"),
)


class _ChargeLog(GasMeter):
    """A gas meter that also lists what the running instruction charges and gives back."""

    charges: list | None = None
    returns: list | None = None

    def consume_gas(self, amount: int, reason: str) -> None:
        if self.charges is not None:
            self.charges.append((amount, reason))
        super().consume_gas(amount, reason)

    def return_gas(self, amount: int) -> None:
        if self.returns is not None:
            self.returns.append(amount)
        super().return_gas(amount)


def _word(value: int | bytes) -> int:
    return value if isinstance(value, int) else int.from_bytes(value, "big")


def _address(value: int | bytes) -> bytes:
    return (_word(value) & _ADDRESS_MASK).to_bytes(20, "big")


class TracingComputation:
    """Mixed in before a fork's computation class; `trace_run` is configured per run."""

    trace_run: "TraceRun" = None

    def __init__(self, *args: Any) -> None:
        super().__init__(*args)
        self.trace_children_refund = 0  # refunds of finished, successful callees (py-evm sums them at the end)
        self.trace_end_pc = 0           # program counter after the last step: tells the implicit final STOP apart
        self.trace_error: str | None = None
        self.trace_op: int | None = None
        self.trace_args: tuple | None = None

    def _configure_gas_meter(self) -> GasMeter:
        meter = super()._configure_gas_meter()
        return _ChargeLog(meter.start_gas, meter.refund_strategy)

    def apply_child_computation(self, child_msg: MessageAPI) -> ComputationAPI:
        return self.trace_run.child(self, child_msg, super().apply_child_computation)

    def add_child_computation(self, child_computation: ComputationAPI) -> None:
        super().add_child_computation(child_computation)
        self.trace_children_refund += child_computation.get_gas_refund()

    def add_log_entry(self, account: bytes, topics: tuple[int, ...], data: bytes) -> None:
        super().add_log_entry(account, topics, data)
        self.trace_run.log(account, topics, data)

    def __enter__(self) -> ComputationAPI:
        self.trace_run.frames.append(self)
        return super().__enter__()

    def __exit__(self, *exc_info: Any) -> bool | None:
        self.trace_run.frames.pop()
        return super().__exit__(*exc_info)

    # -- what tracers read at a step --------------------------------------------------------------------------------
    def trace_raw_stack(self) -> list:
        return self._stack.values

    def trace_stack(self) -> list[int]:
        """The stack, bottom first."""
        return [v if v.__class__ is int else int.from_bytes(v, "big") for v in self._stack.values]

    def trace_memory(self) -> bytes:
        return self.memory_read_bytes(0, len(self._memory))

    def trace_refund(self) -> int:
        """The transaction's refund counter now (geth's StateDB.GetRefund)."""
        total = 0
        for frame in self.trace_run.frames:
            total += frame.msg.refund + frame._gas_meter.gas_refunded + frame.trace_children_refund
        return total


class _TracedOpcode:
    __slots__ = ("logic", "op", "run")

    def __init__(self, logic: Callable, op: int, run: "TraceRun"):
        self.logic, self.op, self.run = logic, op, run

    def __call__(self, computation: TracingComputation) -> None:
        self.run.step(computation, self.op, self.logic)


class TraceRun:
    """One traced transaction: builds the state class that traces, and turns py-evm's events into hooks."""

    def __init__(self, tracer: Tracer, timeout: float | None = None, log_index: int = 0,
                 deadline: float | None = None):
        """Steps past `timeout` seconds from now, or past `deadline` (time.monotonic()), raise TraceTimeout."""
        self.tracer = tracer
        ends = [d for d in (deadline, None if timeout is None else time.monotonic() + timeout) if d is not None]
        self.deadline = min(ends) if ends else None
        self.frames: list[TracingComputation] = []
        self.log_index = log_index   # geth numbers a traced transaction's logs from its first index in the block
        self._steps = 0

    def state_class(self, state_class: type) -> type:
        """`state_class` with a computation class whose instructions, gas meter and frames report to this run."""
        base = state_class.computation_class
        mixed = type(f"Tracing{base.__name__}", (TracingComputation, base), {})
        opcodes = {op: _TracedOpcode(logic, op, self) for op, logic in base.opcodes.items()}
        for op in range(256):
            opcodes.setdefault(op, _TracedOpcode(InvalidOpcode(op), op, self))
        computation_class = mixed.configure(opcodes=opcodes, trace_run=self)
        return state_class.configure(__name__=f"Tracing{state_class.__name__}", computation_class=computation_class)

    def check_deadline(self) -> None:
        if self.deadline is not None and time.monotonic() > self.deadline:
            raise TraceTimeout()

    # -- the transaction --------------------------------------------------------------------------------------------
    def begin_tx(self, sender: bytes, to: bytes, data: bytes, gas: int, value: int, create: bool) -> None:
        self.tracer.on_tx_start(gas)
        self.tracer.on_enter(0, CREATE if create else CALL, sender, to, data, gas, value)

    def end_tx(self, computation: ComputationAPI, gas_used: int) -> None:
        self.check_deadline()
        self.tracer.on_exit(0, computation.output, computation.get_gas_used(), self.error_message(computation),
                            computation.is_error)
        self.tracer.on_tx_end(gas_used)

    @staticmethod
    def error_message(computation: ComputationAPI) -> str | None:
        if not computation.is_error:
            return None
        return getattr(computation, "trace_error", None) or vm_error_message(computation.error)

    # -- frames -----------------------------------------------------------------------------------------------------
    def child(self, parent: TracingComputation, msg: MessageAPI, apply: Callable) -> ComputationAPI:
        if msg.is_create:
            try:
                type(parent).validate_create_message(msg)
            except VMError:
                return apply(msg)  # refused before a frame exists: geth fails the CREATE step's gas check
        typ, args = parent.trace_op, parent.trace_args
        if typ in CREATE_OPS:
            to, data = msg.storage_address, msg.code
        else:
            to = msg.to if typ in (CALL, STATICCALL) else args[1]
            data = msg.data
        depth = msg.depth
        self.tracer.on_enter(depth, typ, parent.msg.storage_address, to, bytes(data), msg.gas,
                             None if typ == STATICCALL else msg.value)
        logs_before = self.log_index
        try:
            computation = apply(msg)
        except VMError as exc:  # py-evm refusing the message itself: close the frame, the caller's step fails
            self.log_index = logs_before
            self.tracer.on_exit(depth, b"", msg.gas, vm_error_message(exc), True)
            raise
        if computation.is_error:
            self.log_index = logs_before  # geth's journal takes the frame's logs back, and their indexes
        self.tracer.on_exit(depth, computation.output, computation.get_gas_used(), self.error_message(computation),
                            computation.is_error)
        return computation

    def log(self, account: bytes, topics: tuple[int, ...], data: bytes) -> None:
        self.tracer.on_log(account, topics, bytes(data), self.log_index)
        self.log_index += 1

    # -- steps ------------------------------------------------------------------------------------------------------
    def step(self, c: TracingComputation, op: int, logic: Callable) -> None:
        code = c.code
        if not len(code):
            return logic(c)  # geth runs nothing for an account without code; py-evm runs one STOP
        if not self._steps % _TIME_CHECK_EVERY:
            self.check_deadline()
        self._steps += 1
        counter = code.program_counter
        pc = counter - 1 if counter == c.trace_end_pc + 1 else counter  # py-evm's final STOP does not advance it
        values = c.trace_raw_stack()
        height = len(values)
        c.trace_op = op
        c.trace_args = self._frame_args(c, op, values) if op in _FRAME_OPS else None
        meter = c.get_gas_meter()
        handle = self.tracer.on_opcode(pc, op, meter.gas_remaining, c.msg.depth + 1, c)
        charges, returns = meter.charges, meter.returns = [], []
        children = len(c.children)
        try:
            logic(c)
        except VMError as exc:
            self._step_end(c, op, handle, height, exc)
            raise
        except Halt:
            self._step_end(c, op, handle, height, None)
            self._frame_without_child(c, op, children, charges, returns)
            raise
        except BaseException:
            meter.charges = meter.returns = None
            raise
        self._step_end(c, op, handle, height, None)
        self._frame_without_child(c, op, children, charges, returns)

    def _step_end(self, c: TracingComputation, op: int, handle: Any, height: int, exc: VMError | None) -> None:
        meter = c.get_gas_meter()
        charges = meter.charges
        meter.charges = meter.returns = None
        c.trace_end_pc = c.code.program_counter
        cost = sum(amount for amount, _ in charges) - _create_callee_gas(op, charges)
        step_error = None
        if exc is not None:
            stack_message = stack_error(op, height)
            c.trace_error = stack_message or vm_error_message(exc, op)
            if stack_message or isinstance(exc, OutOfGas):
                step_error = c.trace_error  # geth checks stack and gas before the step is logged
        self.tracer.on_opcode_end(handle, cost, step_error)

    @staticmethod
    def _frame_args(c: TracingComputation, op: int, values: list) -> tuple | None:
        """What a frame-opening instruction reads from the stack, before it runs (None: too few items)."""
        words = [_word(v) for v in reversed(values[-7:])]  # top first
        if op == SELFDESTRUCT:
            return (_address(words[0]), c.state.get_balance(c.msg.storage_address)) if words else None
        if op in CREATE_OPS:
            return tuple(words[:3]) if len(words) >= 3 else None  # value, input offset, input size
        if op in (CALL, CALLCODE):
            if len(words) < 7:
                return None
            gas, to, value, offset, size = words[:5]
        else:
            if len(words) < 6:
                return None
            (gas, to, offset, size), value = words[:4], None
        return gas, _address(to), value, offset, size

    def _frame_without_child(self, c: TracingComputation, op: int, children: int, charges: list,
                             returns: list) -> None:
        """The frame geth opens for what py-evm settles inside the instruction, without a child computation."""
        args = c.trace_args
        if args is None or op not in _FRAME_OPS or len(c.children) != children:
            return
        depth, sender = c.msg.depth + 1, c.msg.storage_address
        if op == SELFDESTRUCT:
            self.tracer.on_enter(depth, op, sender, args[0], b"", 0, args[1])
            self.tracer.on_exit(depth, b"", 0, None, False)
            return
        too_deep = depth > STACK_LIMIT
        if op in CREATE_OPS:
            value, offset, size = args
            data = c.memory_read_bytes(offset, size) if size else b""
            if _create_callee_gas(op, charges):
                gas = used = charges[-1][0]
                error = "contract address collision"
            else:
                remaining = c.get_gas_remaining()
                gas, used = remaining - remaining // 64, 0
                error = ("max call depth exceeded" if too_deep else "insufficient balance for transfer"
                         if c.state.get_balance(sender) < value else "nonce uint64 overflow")
            self.tracer.on_enter(depth, op, sender, None, bytes(data), gas, value)
            self.tracer.on_exit(depth, b"", used, error, True)
            return
        _, to, value, offset, size = args
        data = c.memory_read_bytes(offset, size) if size else b""
        if op == DELEGATECALL:
            value = c.msg.value
        self.tracer.on_enter(depth, op, sender, to, bytes(data), sum(returns), value)
        self.tracer.on_exit(depth, b"", 0, "max call depth exceeded" if too_deep else
                            "insufficient balance for transfer", True)


_FRAME_OPS = CALL_OPS | CREATE_OPS | {SELFDESTRUCT}


def _create_callee_gas(op: int, charges: list[tuple[int, str]]) -> int:
    """The gas a CREATE* step set aside for its callee: py-evm charges it last, with the instruction's name as its
    first charge has; geth takes it while running the instruction, after the step is logged, so it is no cost."""
    if op in CREATE_OPS and len(charges) > 1 and charges[-1][1] == charges[0][1]:
        return charges[-1][0]
    return 0
