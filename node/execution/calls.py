"""eth_call and eth_estimateGas on the state after a block, as geth runs them.

A call runs in the block context of `header` on its post-state, with the sender's current nonce and no fee unless a
gas price is given, and nothing is persisted. Before any code runs, `check_call` makes geth's state-transition
checks that py-evm makes later or words differently (init code size, intrinsic gas, the EIP-7623 floor): each is a
`CallRefused` carrying geth's core text, which every RPC method wraps in its own words. Gas estimation is geth's:
run at the cap, then an optimistic guess, then a binary search between the gas actually used and the cap, to within
1.5%; all its runs share one deadline. When the run at the cap shows that its outcome cannot depend on its gas
(node/execution/gasprobe.py), every later guess is answered from that run without the EVM. Every run takes a warm
VM at the block's state from node/execution/bases.py and leaves it as it found it, so a call pays for little more
than its EVM execution.
"""
from __future__ import annotations

from dataclasses import dataclass

from eth.abc import BlockHeaderAPI, ComputationAPI
from eth._utils.spoof import SpoofAttributes
from eth.exceptions import Revert
from eth.vm.forks.istanbul.computation import IstanbulComputation
from eth.vm.forks.prague.computation import PragueComputation
from eth.vm.forks.shanghai.computation import ShanghaiComputation
from eth_abi import decode as abi_decode
from eth_utils import ValidationError

from node.execution.bases import call_vms
from node.execution.deadline import DeadlineExceeded, deadline_after, deadline_class, go_duration, running_until
from node.execution.gasprobe import GasProbe, probing_class
from node.txpool.validation import INITCODE_WORD_GAS, MAX_INITCODE_SIZE, floor_data_gas

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


class ExecutionTimeout(ExecutionError):
    """The execution ran past the RPC evm timeout: geth's eth_call answers `execution aborted (timeout = 5s)`."""

    def __init__(self, timeout: float):
        self.timeout = timeout
        super().__init__(f"execution aborted (timeout = {go_duration(timeout)})")


class CallRefused(ExecutionError):
    """A call geth's state transition refuses before running code; the text is geth's core error, which each RPC
    method wraps as geth does (eth_call: `err: ... (supplied gas N)`)."""


class InitCodeTooLarge(CallRefused):
    """A contract creation whose init code is over EIP-3860's limit."""

    def __init__(self, size: int):
        super().__init__(f"max initcode size exceeded: code size {size} limit {MAX_INITCODE_SIZE}")


class IntrinsicGasTooLow(CallRefused):
    """Gas below the call's intrinsic cost (with EIP-3860's init-code words, as geth counts it)."""

    def __init__(self, have: int, want: int):
        super().__init__(f"intrinsic gas too low: have {have}, want {want}")


class FloorDataGasTooLow(CallRefused):
    """Gas below EIP-7623's calldata floor (Prague)."""

    def __init__(self, have: int, want: int):
        super().__init__(f"insufficient gas for floor data gas cost: have {have}, want {want}")


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


def check_call(vm, tx) -> None:
    """geth's state-transition checks of `tx` that py-evm makes later or in its own words, in geth's order."""
    check_init_code(vm, tx)
    check_gas(vm, tx)


def check_init_code(vm, tx) -> None:
    """EIP-3860's init code size limit (Shanghai on), which py-evm raises inside the frame as an OutOfGas."""
    if not tx.to and issubclass(vm.state.computation_class, ShanghaiComputation) and len(tx.data) > MAX_INITCODE_SIZE:
        raise InitCodeTooLarge(len(tx.data))


def check_gas(vm, tx) -> None:
    """The intrinsic gas as geth counts it (with EIP-3860's init-code words, which py-evm charges in the frame),
    then EIP-7623's calldata floor (Prague on; py-evm only settles it at the end)."""
    check_gas_at(vm.state.computation_class, tx, tx.gas)


def check_gas_at(computation_class, tx, gas: int) -> None:
    """check_gas of `tx` as if its gas limit were `gas`."""
    needed = tx.intrinsic_gas
    if not tx.to and issubclass(computation_class, ShanghaiComputation):
        needed += INITCODE_WORD_GAS * ((len(tx.data) + 31) // 32)
    if gas < needed:
        raise IntrinsicGasTooLow(gas, needed)
    floor = floor_gas(computation_class, tx)
    if gas < floor:
        raise FloorDataGasTooLow(gas, floor)


def floor_gas(computation_class, tx) -> int:
    """EIP-7623's calldata floor of `tx` (0 before Prague)."""
    return floor_data_gas(tx) if issubclass(computation_class, PragueComputation) else 0


def _execute(chain, header: BlockHeaderAPI, params: CallParams, gas: int,
             deadline: float | None = None, probe: GasProbe | None = None) -> ComputationAPI:
    """One run of the call on a warm VM at `header` (node.execution.bases), its state changes undone after; with a
    `probe`, the run also reports what it needs to node.execution.gasprobe."""
    with call_vms(chain).vm(header) as vm:
        tx = call_transaction(vm, params, gas)
        check_call(vm, tx)
        state = vm.state
        if probe is None:
            state.computation_class = deadline_class(state.computation_class)
            with running_until(deadline):
                return state.apply_transaction(tx)
        probe.checked = (state.computation_class, tx)
        if not issubclass(state.computation_class, IstanbulComputation):
            probe.gas_dependent = True   # before EIP-2200's sentry, SSTORE's rule differs: always search
        state.computation_class = deadline_class(probing_class(state.computation_class))
        with running_until(deadline), probe:
            return state.apply_transaction(tx)


def call(chain, header: BlockHeaderAPI, params: CallParams, gas_cap: int = CALL_GAS_CAP,
         timeout: float | None = CALL_TIMEOUT) -> bytes:
    """Return data of the call; raise ExecutionReverted / ExecutionError as geth would answer."""
    gas = call_gas(params, header, gas_cap)
    try:
        computation = _execute(chain, header, params, gas, None if timeout is None else deadline_after(timeout))
    except CallRefused as exc:
        raise ExecutionError(f"err: {exc} (supplied gas {gas})") from None
    except ValidationError as exc:
        raise ExecutionError(validation_message(exc)) from None
    except DeadlineExceeded:
        raise ExecutionTimeout(timeout) from None
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
    if name == "InvalidInstruction" and text == "Jump resulted in invalid instruction":
        return "invalid jump destination"   # py-evm's words for a jump into PUSH data; geth's ErrInvalidJump
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


def estimate_gas(chain, header: BlockHeaderAPI, params: CallParams, gas_cap: int = CALL_GAS_CAP,
                 timeout: float = CALL_TIMEOUT) -> int:
    """geth's estimator: the least gas (within 1.5%) with which the call succeeds. Every run shares one deadline,
    `timeout` after the request arrived; past it, ExecutionTimeout."""
    deadline = deadline_after(timeout)
    hi = params.gas if params.gas is not None and params.gas >= 21000 else header.gas_limit
    if params.gas_price:
        balance = chain.state_at(header).get_balance(params.sender)
        allowance = max(balance - params.value, 0) // params.gas_price
        hi = min(hi, allowance)
    hi = min(hi, gas_cap)

    def run(gas: int, probe: GasProbe | None = None) -> tuple[bool, ComputationAPI | None]:
        try:
            computation = _execute(chain, header, params, gas, deadline, probe)
        except IntrinsicGasTooLow:
            return False, None   # geth's special case: raise the gas
        except CallRefused as exc:
            raise ExecutionError(f"failed with {gas} gas: {exc}") from None
        except ValidationError as exc:
            message = validation_message(exc)
            if message == "intrinsic gas too low":
                return False, None
            raise ExecutionError(message) from None
        except DeadlineExceeded:
            raise ExecutionTimeout(timeout) from None
        return not computation.is_error, computation

    if params.to and not params.data and not chain.state_at(header).get_code(params.to):
        ok, _ = run(21000)
        if ok:
            return 21000
    probe = GasProbe()
    ok, computation = run(hi, probe)
    if not ok:
        if computation is not None and isinstance(computation.error, Revert):
            raise ExecutionReverted(computation.output)
        if computation is not None and type(computation.error).__name__ != "OutOfGas":
            raise ExecutionError(_vm_error_message(computation.error))
        raise ExecutionError(f"gas required exceeds allowance ({hi})")
    used_before_refund = hi - computation.get_gas_remaining()
    refund = min(computation.get_gas_refund(), used_before_refund // 5)
    # geth's gas used counts EIP-7623's calldata floor (Prague on): no guess below it can run
    used = max(used_before_refund - refund, floor_gas(*probe.checked))
    least = probe.least_gas(hi, computation.get_gas_remaining())
    succeeds = (lambda gas: run(gas)[0]) if least is None else _without_evm(probe, least)
    lo = used - 1
    optimistic = (used + refund + CALL_STIPEND) * 64 // 63
    if optimistic < hi:
        if succeeds(optimistic):
            hi = optimistic
        else:
            lo = optimistic
    while lo + 1 < hi:
        if (hi - lo) / hi < ESTIMATE_ERROR_RATIO:
            break
        mid = (hi + lo) // 2
        if mid > lo * 2:
            mid = lo * 2
        if succeeds(mid):
            hi = mid
        else:
            lo = mid
    return hi


def _without_evm(probe: GasProbe, least: int):
    """For a run whose outcome does not depend on its gas (node.execution.gasprobe): whether it succeeds with `gas`,
    answered as its run would answer (the same checks first, then success from `least` up) without the EVM."""
    computation_class, tx = probe.checked

    def succeeds(gas: int) -> bool:
        try:
            check_gas_at(computation_class, tx, gas)
        except IntrinsicGasTooLow:
            return False
        except CallRefused as exc:
            raise ExecutionError(f"failed with {gas} gas: {exc}") from None
        return gas >= least
    return succeeds
