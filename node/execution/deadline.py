"""Wall-clock limits on EVM execution, as geth's --rpc.evmtimeout (5 s) bounds the RPC methods that run code.

py-evm runs each frame's opcodes by iterating its CodeStream; a computation class configured here gives every frame
a CodeStream that looks at the clock every 4096 opcodes and raises DeadlineExceeded (not a VM error, so no frame
catches it) once the deadline has passed. Only RPC executions get it: block execution never stops on time.

A request's clock starts when the server takes the call, not when a worker thread picks it up: the server runs the
handler inside `request_clock(arrival)`, and `deadline_after(timeout)` counts from that moment (from now outside a
request). A call that waited in a busy lane so gets less time, and every answer comes within the timeout of the
request's arrival however many requests are queued.
"""
from __future__ import annotations

import threading
import time
from collections import OrderedDict
from contextlib import contextmanager
from contextvars import ContextVar
from typing import Iterator, Type

from eth.abc import ComputationAPI
from eth.vm.code_stream import CodeStream
from eth.vm.opcode_values import STOP

CHECK_EVERY = 0xFFF   # opcodes between looks at the clock, minus one (a mask)

_ARRIVAL: ContextVar[float | None] = ContextVar("rpc_request_arrival", default=None)


class DeadlineExceeded(Exception):
    """An execution ran past its deadline (each RPC method answers it with geth's words for that method)."""


@contextmanager
def request_clock(arrival: float) -> Iterator[None]:
    """Deadlines made inside count from `arrival` (a time.monotonic() reading: when the request came in)."""
    token = _ARRIVAL.set(arrival)
    try:
        yield
    finally:
        _ARRIVAL.reset(token)


def deadline_after(timeout: float) -> float:
    """The time.monotonic() reading `timeout` seconds after the current request arrived (or after now)."""
    arrival = _ARRIVAL.get()
    return (time.monotonic() if arrival is None else arrival) + timeout


def check(deadline: float | None) -> None:
    """Raise DeadlineExceeded if `deadline` has passed (None: no deadline)."""
    if deadline is not None and time.monotonic() > deadline:
        raise DeadlineExceeded()


JUMP_ANALYSES_KEPT = 512   # codes whose opcode positions are remembered

_JUMP_ANALYSES: OrderedDict[bytes, tuple[set[int], set[int]]] = OrderedDict()
_JUMP_ANALYSES_LOCK = threading.Lock()


def _jump_analysis(code: bytes) -> tuple[set[int], set[int]]:
    """The (valid, invalid) opcode position sets CodeStreams of `code` share (only ever added to, with facts)."""
    with _JUMP_ANALYSES_LOCK:
        found = _JUMP_ANALYSES.get(code)
        if found is None:
            found = _JUMP_ANALYSES[code] = (set(), set())
            if len(_JUMP_ANALYSES) > JUMP_ANALYSES_KEPT:
                _JUMP_ANALYSES.popitem(last=False)
        else:
            _JUMP_ANALYSES.move_to_end(code)
        return found


class _DeadlineCode(CodeStream):
    __slots__ = ("_deadline",)

    def __init__(self, code_bytes: bytes, deadline: float) -> None:
        super().__init__(code_bytes)
        self._deadline = deadline
        # which positions are opcodes (not PUSH data) depends on the code alone: py-evm works it out again in every
        # frame (a JUMP target check looks back up to 32 bytes, recursively); calls share what earlier ones found
        self.valid_positions, self.invalid_positions = _jump_analysis(code_bytes)

    def __iter__(self) -> Iterator[int]:
        # CodeStream.__iter__ with a clock check: a read may move the pc during the yield
        code, deadline, steps = self._raw_code_bytes, self._deadline, 0
        while True:
            try:
                opcode = code[self.program_counter]
            except IndexError:
                break
            self.program_counter += 1
            steps += 1
            if not steps & CHECK_EVERY and time.monotonic() > deadline:
                raise DeadlineExceeded()
            yield opcode
        yield STOP


def with_deadline(computation_class: Type[ComputationAPI], deadline: float) -> Type[ComputationAPI]:
    """`computation_class` whose frames stop with DeadlineExceeded after `deadline` (time.monotonic())."""

    class Deadlined(computation_class):   # type: ignore[valid-type, misc]
        def __init__(self, state, message, transaction_context) -> None:
            super().__init__(state, message, transaction_context)
            self.code = _DeadlineCode(message.code, deadline)

    return Deadlined


_RUN_DEADLINE: ContextVar[float | None] = ContextVar("evm_run_deadline", default=None)
_DEADLINE_CLASSES: dict[type, type] = {}


@contextmanager
def running_until(deadline: float | None) -> Iterator[None]:
    """Frames of a `deadline_class` computation made inside stop at `deadline` (None: they never stop)."""
    token = _RUN_DEADLINE.set(deadline)
    try:
        yield
    finally:
        _RUN_DEADLINE.reset(token)


def deadline_class(computation_class: Type[ComputationAPI]) -> Type[ComputationAPI]:
    """`computation_class` whose frames stop at the deadline of the enclosing `running_until` (none outside one).

    with_deadline makes a class per deadline (~0.2 ms, a sizeable part of a cheap eth_call); this one is made once
    per computation class and reads the deadline when a frame starts, so a warm VM can keep it between calls."""
    made = _DEADLINE_CLASSES.get(computation_class)
    if made is not None:
        return made

    class RunDeadlined(computation_class):   # type: ignore[valid-type, misc]
        def __init__(self, state, message, transaction_context) -> None:
            super().__init__(state, message, transaction_context)
            deadline = _RUN_DEADLINE.get()
            if deadline is not None:
                self.code = _DeadlineCode(message.code, deadline)

    return _DEADLINE_CLASSES.setdefault(computation_class, RunDeadlined)


def go_duration(seconds: float) -> str:
    """`seconds` as Go prints a time.Duration: 5s, 1.5s, 200ms."""
    if seconds >= 1:
        return f"{seconds:g}s"
    return f"{seconds * 1000:g}ms"
