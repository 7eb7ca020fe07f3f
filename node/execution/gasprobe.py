"""One run of a call that also tells whether its outcome could depend on the gas it is given, and if not, the least
gas with which it succeeds: eth_estimateGas then answers geth's search without running the EVM for every guess.

Within one frame gas only goes down (refunds are settled after the run), so a run that makes no call, no create and
never reads GAS does the same work whatever its gas limit, and succeeds exactly when the limit covers what it consumed
and, at each SSTORE, leaves more than EIP-2200's 2300-gas sentry. Those are the only opcodes whose effect depends on
the gas left; the probing computation class below watches just them, so other opcodes run at full speed.
"""
from __future__ import annotations

from contextvars import ContextVar
from typing import Any, Type

from eth.abc import ComputationAPI

GAS, SSTORE = 0x5A, 0x55
CREATE, CALL, CALLCODE, DELEGATECALL, CREATE2, STATICCALL = 0xF0, 0xF1, 0xF2, 0xF4, 0xF5, 0xFA
GAS_READERS = (GAS, CREATE, CALL, CALLCODE, DELEGATECALL, CREATE2, STATICCALL)
SSTORE_SENTRY = 2300   # EIP-2200: SSTORE fails when no more than this is left

_PROBE: ContextVar["GasProbe | None"] = ContextVar("gas_probe", default=None)
_PROBING_CLASSES: dict[type, type] = {}


class GasProbe:
    """What one run saw: whether it did anything whose effect depends on the gas left, and the least gas left
    before any SSTORE."""

    def __init__(self) -> None:
        self.gas_dependent = False
        self.least_before_sstore: int | None = None
        self.checked: tuple[Any, Any] | None = None   # (computation class, transaction) of the run, for its checks

    def __enter__(self) -> "GasProbe":
        self._token = _PROBE.set(self)
        return self

    def __exit__(self, *exc: Any) -> None:
        _PROBE.reset(self._token)

    def least_gas(self, limit: int, remaining: int) -> int | None:
        """The least gas limit with which the run (made at `limit`, `remaining` left at its end, before refunds)
        succeeds, or None when its outcome could depend on the gas."""
        if self.gas_dependent:
            return None
        needed = limit - remaining
        if self.least_before_sstore is not None:
            needed = max(needed, limit - self.least_before_sstore + SSTORE_SENTRY + 1)
        return needed


def _gas_reader(opcode_fn: Any) -> Any:
    def probed(computation: ComputationAPI) -> None:
        probe = _PROBE.get()
        if probe is not None:
            probe.gas_dependent = True
        opcode_fn(computation=computation)
    probed.__wrapped__ = opcode_fn   # py-evm's debug log reads the mnemonic through it
    return probed


def _sstore(opcode_fn: Any) -> Any:
    def probed(computation: ComputationAPI) -> None:
        probe = _PROBE.get()
        if probe is not None:
            left = computation.get_gas_remaining()
            if probe.least_before_sstore is None or left < probe.least_before_sstore:
                probe.least_before_sstore = left
        opcode_fn(computation=computation)
    probed.__wrapped__ = opcode_fn
    return probed


def probing_class(computation_class: Type[ComputationAPI]) -> Type[ComputationAPI]:
    """`computation_class` whose gas-sensitive opcodes report to the enclosing GasProbe (made once per class)."""
    made = _PROBING_CLASSES.get(computation_class)
    if made is not None:
        return made
    opcodes = dict(computation_class.opcodes)
    for op in GAS_READERS:
        if op in opcodes:
            opcodes[op] = _gas_reader(opcodes[op])
    if SSTORE in opcodes:
        opcodes[SSTORE] = _sstore(opcodes[SSTORE])
    probing = type("GasProbing" + computation_class.__name__, (computation_class,), {"opcodes": opcodes})
    return _PROBING_CLASSES.setdefault(computation_class, probing)
