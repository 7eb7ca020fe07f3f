"""eth_call and eth_estimateGas on the state after a block, as geth runs them.

A call runs in the block context of `header` on its post-state, with the sender's current nonce and no fee unless a
gas price is given, and nothing is persisted. Gas estimation is geth's: run at the cap, then an optimistic guess,
then a binary search between the gas actually used and the cap, to within 1.5%.
"""
from __future__ import annotations

import time
from dataclasses import dataclass

from eth.abc import BlockHeaderAPI, ComputationAPI
from eth._utils.spoof import SpoofAttributes
from eth.exceptions import Revert
from eth_abi import decode as abi_decode
from eth_utils import ValidationError

from node.deadline import DeadlineExceeded, go_duration, with_deadline

ZERO_ADDRESS = b"\x00" * 20
CALL_GAS_CAP = 50_000_000        # geth's --rpc.gascap default
CALL_TIMEOUT = 5.0               # s; geth's --rpc.evmtimeout default
ESTIMATE_ERROR_RATIO = 0.015     # geth's gasestimator: stop when within 1.5% of the answer
CALL_STIPEND = 2300
ERROR_SELECTOR = bytes.fromhex("08c379a0")  # Error(string)


class ExecutionError(Exception):
    """A call that did not complete: geth answers -32000 with this message."""


class ExecutionReverted(ExecutionError):
    """REVERT: geth answers code 3, `execution reverted[: reason]`, the raw revert bytes as data."""

    def __init__(self, data: bytes):
        self.data = data
        self.reason = revert_reason(data)
        super().__init__("execution reverted" + (f": {self.reason}" if self.reason is not None else ""))


def revert_reason(data: bytes) -> str | None:
    """The string of an `Error(string)` revert, if that is what `data` is."""
    if data[:4] != ERROR_SELECTOR:
        return None
    try:
        return abi_decode(["string"], data[4:])[0]
    except Exception:
        return None


@dataclass(frozen=True)
class CallParams:
    sender: bytes = ZERO_ADDRESS
    to: bytes = b""                 # b"" creates a contract
    gas: int | None = None
    gas_price: int = 0              # effective price per gas (0: free call, as geth without fee fields)
    value: int = 0
    data: bytes = b""


def call_gas(params: CallParams, header: BlockHeaderAPI, gas_cap: int = CALL_GAS_CAP) -> int:
    """Gas a call runs with: its own, else the block's gas limit, at most the RPC gas cap."""
    return min(params.gas if params.gas is not None else header.gas_limit, gas_cap)


def call_transaction(vm, params: CallParams, gas: int):
    """The unsigned transaction a call runs as, from `params.sender` at its current nonce in `vm`'s state."""
    unsigned = vm.create_unsigned_transaction(
        nonce=vm.state.get_nonce(params.sender), gas_price=params.gas_price, gas=gas, to=params.to,
        value=params.value, data=params.data)
    return SpoofAttributes(unsigned, from_=params.sender)


def _execute(chain, header: BlockHeaderAPI, params: CallParams, gas: int,
             timeout: float | None = None) -> ComputationAPI:
    vm = chain.vm_at(header)
    if timeout is not None:
        vm.state.computation_class = with_deadline(vm.state.computation_class, time.monotonic() + timeout)
    return vm.state.apply_transaction(call_transaction(vm, params, gas))


def call(chain, header: BlockHeaderAPI, params: CallParams, gas_cap: int = CALL_GAS_CAP,
         timeout: float | None = CALL_TIMEOUT) -> bytes:
    """Return data of the call; raise ExecutionReverted / ExecutionError as geth would answer."""
    try:
        computation = _execute(chain, header, params, call_gas(params, header, gas_cap), timeout)
    except ValidationError as exc:
        raise ExecutionError(validation_message(exc)) from None
    except DeadlineExceeded:
        raise ExecutionError(f"execution aborted (timeout = {go_duration(timeout)})") from None
    _raise_if_failed(computation)
    return computation.output


def _raise_if_failed(computation: ComputationAPI) -> None:
    if not computation.is_error:
        return
    if isinstance(computation.error, Revert):
        raise ExecutionReverted(computation.output)
    raise ExecutionError(_vm_error_message(computation.error))


def _vm_error_message(error: Exception) -> str:
    name = type(error).__name__
    text = str(error)
    if name == "OutOfGas":
        return "out of gas"
    if name == "InvalidInstruction":
        return "invalid opcode: " + text if text else "invalid opcode"
    if name == "StackDepthLimit":
        return "max call depth exceeded"
    if name == "InsufficientFunds":
        return "insufficient balance for transfer"
    if name in ("InsufficientStack", "FullStack"):
        return "stack underflow" if name == "InsufficientStack" else "stack overflow"
    if name == "WriteProtection":
        return "write protection"
    if name == "ContractCreationCollision":
        return "contract address collision"
    if name == "OutOfBoundsRead":
        return "return data out of bounds"
    if name == "InvalidJumpDestination":
        return "invalid jump destination"
    return text or name


def validation_message(exc: ValidationError) -> str:
    """geth's words for a call py-evm refuses to run."""
    text = str(exc)
    if "balance" in text.lower():
        return "insufficient funds for gas * price + value"
    if "intrinsic" in text.lower() or "Insufficient gas" in text:
        return "intrinsic gas too low"
    return text


def estimate_gas(chain, header: BlockHeaderAPI, params: CallParams, gas_cap: int = CALL_GAS_CAP) -> int:
    """geth's estimator: the least gas (within 1.5%) with which the call succeeds."""
    hi = params.gas if params.gas is not None and params.gas >= 21000 else header.gas_limit
    if params.gas_price:
        balance = chain.state_at(header).get_balance(params.sender)
        allowance = max(balance - params.value, 0) // params.gas_price
        hi = min(hi, allowance)
    hi = min(hi, gas_cap)

    def run(gas: int) -> tuple[bool, ComputationAPI | None]:
        try:
            computation = _execute(chain, header, params, gas)
        except ValidationError as exc:
            message = validation_message(exc)
            if message == "intrinsic gas too low":
                return False, None
            raise ExecutionError(message) from None
        return not computation.is_error, computation

    if params.to and not params.data and not chain.state_at(header).get_code(params.to):
        ok, _ = run(21000)
        if ok:
            return 21000
    ok, computation = run(hi)
    if not ok:
        if computation is not None and isinstance(computation.error, Revert):
            raise ExecutionReverted(computation.output)
        if computation is not None and type(computation.error).__name__ != "OutOfGas":
            raise ExecutionError(_vm_error_message(computation.error))
        raise ExecutionError(f"gas required exceeds allowance ({hi})")
    used_before_refund = hi - computation.get_gas_remaining()
    refund = min(computation.get_gas_refund(), used_before_refund // 5)
    used = used_before_refund - refund
    lo = used - 1
    optimistic = (used + refund + CALL_STIPEND) * 64 // 63
    if optimistic < hi:
        if run(optimistic)[0]:
            hi = optimistic
        else:
            lo = optimistic
    while lo + 1 < hi:
        if (hi - lo) / hi < ESTIMATE_ERROR_RATIO:
            break
        mid = (hi + lo) // 2
        if mid > lo * 2:
            mid = lo * 2
        if run(mid)[0]:
            hi = mid
        else:
            lo = mid
    return hi
