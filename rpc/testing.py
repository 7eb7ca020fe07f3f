"""testing_buildBlockV1: a block built on the head from payload attributes and transactions (or the pool), returned
as the engine API's execution payload envelope and not imported (geth's testing namespace).

The block is built by the chain's VM for its number and time on an in-memory overlay of the database: header from the
parent (base fee and blob gas by the fork's rules, gas limit moved toward geth's default 60M ceiling), the fork's
system calls, every transaction applied with the full transaction rules (a transaction that does not apply fails the
request; from the pool it is skipped, as a miner does), withdrawals, then requests and roots. The build stops at the
node's evm timeout with geth's server's `request timed out` (geth bounds this method only by its request timeout).
"""
from __future__ import annotations

from dataclasses import dataclass, field
from typing import Any, NewType

from eth_utils import ValidationError

from node.execution.overlay import Overlay
from node.execution.deadline import DeadlineExceeded, deadline_after, with_deadline
from node.execution.calls import CallRefused, check_call
from node.chain.transactions import effective_price
from rpc import encode
from rpc.eth import RequestTimedOut
from rpc.errors import ServerError
from rpc.params import Hash, ParamError, parse_address, parse_data, parse_hash, parse_uint64

GAS_CEILING = 60_000_000        # geth's miner.gasceil default: the gas limit a built block moves toward
GAS_LIMIT_BOUND_DIVISOR = 1024
MIN_GAS_LIMIT = 5000

PayloadAttributes = NewType("PayloadAttributes", object)
RawTransactions = NewType("RawTransactions", list)
ExtraData = NewType("ExtraData", bytes)


@dataclass
class Attributes:
    timestamp: int
    prev_randao: bytes
    fee_recipient: bytes
    withdrawals: list = field(default_factory=list)
    beacon_root: bytes | None = None


def parse_payload_attributes(value: Any) -> Attributes:
    if not isinstance(value, dict):
        raise ParamError("cannot unmarshal into engine.PayloadAttributes")
    for name in ("timestamp", "prevRandao", "suggestedFeeRecipient"):
        if value.get(name) is None:
            raise ParamError(f"missing required field '{name}' for PayloadAttributes")
    withdrawals = []
    for w in value.get("withdrawals") or []:
        withdrawals.append((parse_uint64(w["index"]), parse_uint64(w["validatorIndex"]), parse_address(w["address"]),
                            parse_uint64(w["amount"])))
    beacon = value.get("parentBeaconBlockRoot")
    return Attributes(parse_uint64(value["timestamp"]), parse_hash(value["prevRandao"]),
                      parse_address(value["suggestedFeeRecipient"]), withdrawals,
                      None if beacon is None else parse_hash(beacon))


def parse_raw_transactions(value: Any) -> list[bytes]:
    if not isinstance(value, list):
        raise ParamError("cannot unmarshal into []hexutil.Bytes")
    return [parse_data(item) for item in value]


def calc_gas_limit(parent_limit: int, desired: int = GAS_CEILING) -> int:
    """geth's core.CalcGasLimit: one step from the parent's limit toward the desired one."""
    delta = parent_limit // GAS_LIMIT_BOUND_DIVISOR - 1
    desired = max(desired, MIN_GAS_LIMIT)
    if parent_limit < desired:
        return min(parent_limit + delta, desired)
    if parent_limit > desired:
        return max(parent_limit - delta, desired)
    return parent_limit


def build_block_v1(node, parent_hash: Hash, attributes: PayloadAttributes, transactions: RawTransactions = None,
                   extra_data: ExtraData = None) -> dict:
    deadline = deadline_after(node.config.evm_timeout)
    try:
        return _build(node, parent_hash, attributes, transactions, extra_data, deadline)
    except DeadlineExceeded:
        raise RequestTimedOut() from None


def _build(node, parent_hash: bytes, attributes: Attributes, transactions: list[bytes] | None,
           extra_data: bytes | None, deadline: float) -> dict:
    chain = node.chain
    parent = chain.head
    if parent.hash != parent_hash:
        raise ServerError("parentHash is not current head")
    overlay = Overlay(chain)   # nothing reaches the store
    vm_class = overlay.child_vm_class(parent, attributes.timestamp)
    header = vm_class.create_header_from_parent(
        parent, timestamp=attributes.timestamp, coinbase=attributes.fee_recipient, mix_hash=attributes.prev_randao,
        extra_data=extra_data or b"", gas_limit=calc_gas_limit(parent.gas_limit), nonce=b"\0" * 8)
    changes = {}
    if hasattr(header, "excess_blob_gas"):
        changes["excess_blob_gas"] = chain.schedule.next_excess_blob_gas(parent, attributes.timestamp)[0]
    if hasattr(header, "parent_beacon_block_root"):
        changes["parent_beacon_block_root"] = attributes.beacon_root or b"\0" * 32
    header = header.copy(**changes)
    vm = overlay.vm(header, vm_class)
    vm.state.computation_class = with_deadline(vm.state.computation_class, deadline)
    vm.block_preprocessing(vm.get_block())
    header = vm.get_header()
    builder = vm.get_transaction_builder()
    if transactions is None:
        candidates, strict = node.pool.pending_for_block(), False
    else:
        try:
            candidates, strict = [builder.decode(raw) for raw in transactions], True
        except Exception as exc:
            raise ServerError(f"invalid transaction: {exc}") from None
    included, receipts, value = [], [], 0
    base_fee = encode.base_fee(header)
    for tx in candidates:
        try:
            check_call(vm, tx)   # geth's words for what py-evm refuses late or otherwise (init code, intrinsic gas)
            receipt, _ = vm.apply_transaction(header, tx)
        except (CallRefused, ValidationError) as exc:
            if strict:
                raise ServerError(str(exc)) from None
            continue
        gas_used = receipt.gas_used - header.gas_used
        header = vm.increment_blob_gas_used(vm.add_receipt_to_header(header, receipt), tx)
        value += gas_used * (effective_price(tx, base_fee) - base_fee)
        included.append(tx)
        receipts.append(receipt)
    withdrawals = None
    if hasattr(header, "withdrawals_root"):
        from eth.vm.forks.shanghai.withdrawals import Withdrawal
        withdrawals = [Withdrawal(*w) for w in attributes.withdrawals]
        vm.apply_all_withdrawals(withdrawals)
    filled = vm.set_block_transactions_and_withdrawals(vm.get_block(), header, included, receipts,
                                                       withdrawals=withdrawals)
    processed = vm.block_postprocessing(filled)
    requests = [r for r in getattr(filled, "block_requests", []) if len(r) > 1]
    block = vm.finalize_block(processed).block
    return {"executionPayload": _payload(block), "blockValue": encode.quantity(value),
            "blobsBundle": {"commitments": [], "proofs": [], "blobs": []},
            "executionRequests": [encode.data(r) for r in requests], "shouldOverrideBuilder": False}


def _payload(block) -> dict:
    """The engine API's ExecutionPayload (V3 fields) of `block`."""
    h = block.header
    payload = {
        "parentHash": encode.data(h.parent_hash), "feeRecipient": encode.address(h.coinbase),
        "stateRoot": encode.data(h.state_root), "receiptsRoot": encode.data(h.receipt_root),
        "logsBloom": encode.bloom(h.bloom), "prevRandao": encode.data(h.mix_hash),
        "blockNumber": encode.quantity(h.block_number), "gasLimit": encode.quantity(h.gas_limit),
        "gasUsed": encode.quantity(h.gas_used), "timestamp": encode.quantity(h.timestamp),
        "extraData": encode.data(h.extra_data), "baseFeePerGas": encode.quantity(encode.base_fee(h)),
        "blockHash": encode.data(h.hash), "transactions": [encode.data(tx.encode()) for tx in block.transactions],
    }
    if hasattr(block, "withdrawals"):
        payload["withdrawals"] = [{"index": encode.quantity(w.index), "validatorIndex": encode.quantity(
            w.validator_index), "address": encode.address(w.address), "amount": encode.quantity(w.amount)}
            for w in block.withdrawals]
    if hasattr(h, "blob_gas_used"):
        payload["blobGasUsed"] = encode.quantity(h.blob_gas_used)
        payload["excessBlobGas"] = encode.quantity(h.excess_blob_gas)
    return payload
