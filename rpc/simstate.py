"""What eth_simulateV1's simulated blocks run with: geth's transaction checks and error codes, the log tracer that
collects a call's logs (and ETH transfers), the state's blob fee and warm precompiles, and a call's JSON result.
A refused call is worded as geth's simulator words it: `err: <the state transition's error> (supplied gas N)`."""
from __future__ import annotations

from eth.abc import BlockHeaderAPI, ComputationAPI, SignedTransactionAPI
from eth.exceptions import Revert
from eth_utils import to_checksum_address

from node.execution.calls import CallRefused, InitCodeTooLarge, IntrinsicGasTooLow, check_gas, check_init_code, revert_reason
from node.execution.tracers.evm import Tracer, vm_error_message
from node.execution.tracers.opcodes import CALLCODE, DELEGATECALL
from rpc import encode
from rpc.errors import RpcError
from rpc.simargs import TxArgs

TRANSFER_TOPIC = int("ddf252ad1be2c89b69c2b068fc378daa952ba7f163c4a11628f55a4df523b3ef", 16)
TRANSFER_ADDRESS = bytes.fromhex("eeeeeeeeeeeeeeeeeeeeeeeeeeeeeeeeeeeeeeee")


class SimulationError(RpcError):
    """An error geth's simulator answers with its own code."""

    def __init__(self, code: int, message: str):
        super().__init__(message, code=code)


def limit_error(message: str) -> SimulationError:
    return SimulationError(-38026, message)


def refused(code: int, message: str, tx) -> SimulationError:
    """A call the state transition refuses, in geth's words (its applyMessage wraps every such error)."""
    return SimulationError(code, f"err: {message} (supplied gas {tx.gas})")


REFUSAL_CODES = {InitCodeTooLarge: -38025, IntrinsicGasTooLow: -38013}   # geth's txValidationError; else -32603


def _refused_call(exc: CallRefused, tx) -> SimulationError:
    return refused(REFUSAL_CODES.get(type(exc), -32603), str(exc), tx)


# -- the tracer: logs as geth's simulator collects them --

class LogCollector(Tracer):
    """geth's internal/ethapi/logtracer: per-frame log lists merged into the caller's unless the frame reverted;
    the log index counts every captured log of the block, kept or not."""

    def __init__(self, trace_transfers: bool, number: int, timestamp: int):
        self.trace_transfers = trace_transfers
        self.number = number
        self.timestamp = timestamp
        self.count = 0
        self.frames: list[list[tuple]] = []
        self.tx_index = 0

    def reset(self, tx_index: int) -> None:
        self.frames = []
        self.tx_index = tx_index

    def on_enter(self, depth, typ, sender, to, data, gas, value) -> None:
        self.frames.append([])
        if typ not in (DELEGATECALL, CALLCODE) and value:
            self._transfer(sender, to, value)

    def on_exit(self, depth, output, gas_used, error, reverted) -> None:
        if depth == 0:
            if reverted:
                self.frames[0] = []
            return
        if len(self.frames) <= 1:
            return
        frame = self.frames.pop()
        if not reverted:
            self.frames[-1].extend(frame)

    def on_log(self, address, topics, data, index) -> None:
        self._capture(address, tuple(topics), data)

    def _capture(self, address: bytes, topics: tuple[int, ...], data: bytes) -> None:
        self.frames[-1].append((address, topics, data, self.count, self.tx_index))
        self.count += 1

    def _transfer(self, sender: bytes, to: bytes, value: int) -> None:
        if self.trace_transfers:
            self._capture(TRANSFER_ADDRESS, (TRANSFER_TOPIC, int.from_bytes(sender, "big"),
                                             int.from_bytes(to, "big")), value.to_bytes(32, "big"))

    def logs(self) -> list[tuple]:
        return self.frames[0] if self.frames else []


def check_transaction(vm, header: BlockHeaderAPI, tx, sender: bytes, args: TxArgs, validate: bool) -> None:
    """geth's preCheck and buyGas, with NoBaseFee and SkipNonceChecks unless validating."""
    state = vm.state
    if validate:
        have = state.get_nonce(sender)
        if have < tx.nonce:
            raise refused(-38011, f"nonce too high: address {checksum(sender)}, tx: {tx.nonce} state: {have}", tx)
        if have > tx.nonce:
            raise refused(-38010, f"nonce too low: address {checksum(sender)}, tx: {tx.nonce} state: {have}", tx)
        if have + 1 >= 2**64:
            raise refused(-32603, f"nonce has max value: address {checksum(sender)}, nonce: {have}", tx)
    fee_cap, tip = fee_caps(tx)
    base_fee = getattr(header, "base_fee_per_gas", None)
    if base_fee is not None and (validate or fee_cap or tip):
        if fee_cap < tip:
            raise refused(-32602, f"max priority fee per gas higher than max fee per gas: address "
                                  f"{checksum(sender)}, maxPriorityFeePerGas: {tip}, maxFeePerGas: {fee_cap}", tx)
        if fee_cap < base_fee:
            raise refused(-38012, f"max fee per gas less than block base fee: address "
                                  f"{checksum(sender)}, maxFeePerGas: {fee_cap}, baseFee: {base_fee}", tx)
    try:
        check_init_code(vm, tx)   # geth's preCheck: before the balance is charged
    except CallRefused as exc:
        raise _refused_call(exc, tx) from None
    blob_gas = 2**17 * len(args.blob_hashes or ())
    balance_check = tx.gas * fee_cap + tx.value + blob_gas * (args.max_fee_per_blob_gas or 0)
    balance = state.get_balance(sender)
    if balance < balance_check:
        raise refused(-38014, f"insufficient funds for gas * price + value: address "
                              f"{checksum(sender)} have {balance} want {balance_check}", tx)
    try:
        check_gas(vm, tx)
    except CallRefused as exc:
        raise _refused_call(exc, tx) from None
    price = vm.state.get_gas_price(tx) if base_fee is not None else fee_cap
    if tx.value and balance - tx.gas * price < tx.value:
        raise refused(-38014, f"insufficient funds for transfer: address {checksum(sender)}", tx)


def call_result(computation: ComputationAPI, collector: LogCollector, gas_used: int, capped: bool,
            tx: SignedTransactionAPI) -> dict:
    logs = [{
        "address": encode.address(address), "topics": [encode.word(t) for t in topics], "data": encode.data(data),
        "blockNumber": encode.quantity(collector.number), "transactionHash": encode.data(tx.hash),
        "transactionIndex": encode.quantity(tx_index), "blockHash": None,
        "blockTimestamp": encode.quantity(collector.timestamp), "logIndex": encode.quantity(index),
        "removed": False,
    } for address, topics, data, index, tx_index in collector.logs()]
    peak = max(computation.sim_peak, gas_used)
    result = {"returnData": encode.data(b"" if computation.is_error else computation.output),
              "logs": logs, "gasUsed": encode.quantity(gas_used), "maxUsedGas": encode.quantity(peak),
              "status": "0x0" if computation.is_error else "0x1"}
    if computation.is_error:
        if isinstance(computation.error, Revert):
            reason = revert_reason(computation.output)
            result["error"] = {"message": "execution reverted" + (f": {reason}" if reason else ""), "code": 3,
                               "data": encode.data(computation.output)}
        else:
            message = vm_error_message(computation.error)
            if capped:
                message += " (gas limit was capped by the RPC server's global gas cap)"
            result["error"] = {"message": message, "code": -32015}
    return result


class SimState:
    """A simulated block's state: the blob base fee of the chain's blob schedule or the block's override (py-evm's
    own uses Prague's constants), and the fork's precompiles warm even when overrides moved them."""

    sim_blob_base_fee: int | None = None
    sim_warm: frozenset = frozenset()

    def is_address_warm(self, address: bytes) -> bool:
        # geth warms the fork's own precompile addresses, whatever the overrides moved or replaced
        return self._account_db.is_address_warm(address) or address in self.sim_warm

    @property
    def blob_base_fee(self) -> int:
        if self.sim_blob_base_fee is not None:
            return self.sim_blob_base_fee
        return super().blob_base_fee


def fee_caps(tx) -> tuple[int, int]:
    if getattr(tx, "type_id", None) is None or not tx.type_id:
        return tx.gas_price, tx.gas_price
    return tx.max_fee_per_gas, tx.max_priority_fee_per_gas


def checksum(address: bytes) -> str:
    return to_checksum_address(address)
