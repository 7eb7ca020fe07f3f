"""eth_createAccessList: the accounts and slots a call touches, as geth's access-list tracer finds them.

The call runs as eth_call does (on the block's post-state, no fee unless one is given) with the list found so far,
until a run touches nothing new; the sender, the recipient and the precompiles are left out unless their storage
was read. The answer carries the list, the gas the last run used, and its error, if any. A call geth's state
transition refuses is geth's `failed to apply transaction: <hash> err: ...` (the hash of the call as an unsigned
legacy transaction). All runs share one deadline, the node's evm timeout; past it the answer is geth's server's
`request timed out` (geth bounds this method only by its request timeout).
"""
from __future__ import annotations

import rlp
from eth._utils.address import generate_contract_address
from eth._utils.spoof import SpoofAttributes
from eth_hash.auto import keccak
from eth_utils import ValidationError

from node.execution.deadline import deadline_after
from node.execution.calls import CallRefused, ExecutionError, call_gas, check_call, validation_message
from node.execution.tracers.evm import Tracer, TraceRun, TraceTimeout, vm_error_message
from rpc import encode
from rpc.blocks import state_header
from rpc.eth import RequestTimedOut, call_params, no_base_fee
from rpc.params import LATEST, BlockRef, CallArgs

SLOAD, SSTORE, BALANCE, EXTCODESIZE, EXTCODECOPY, EXTCODEHASH, SELFDESTRUCT = (
    0x54, 0x55, 0x31, 0x3B, 0x3C, 0x3F, 0xFF)
CALLS = frozenset((0xF1, 0xF2, 0xF4, 0xFA))
MAX_ROUNDS = 10


class AccessListTracer(Tracer):
    """geth's logger.AccessListTracer: slots by SLOAD/SSTORE, accounts by the opcodes that name one."""

    def __init__(self, initial: dict[bytes, set[int]], excluded: set[bytes]):
        self.found = {address: set(slots) for address, slots in initial.items()}
        self.excluded = excluded

    def _address(self, address: bytes) -> None:
        if address not in self.excluded:
            self.found.setdefault(address, set())

    def on_opcode(self, pc, op, gas, depth, scope) -> None:
        stack = scope.trace_stack()
        if op in (SLOAD, SSTORE) and stack:
            self.found.setdefault(bytes(scope.msg.storage_address), set()).add(stack[-1])
        elif op in (EXTCODECOPY, EXTCODEHASH, EXTCODESIZE, BALANCE, SELFDESTRUCT) and stack:
            self._address((stack[-1] & ((1 << 160) - 1)).to_bytes(20, "big"))
        elif op in CALLS and len(stack) >= 5:
            self._address((stack[-2] & ((1 << 160) - 1)).to_bytes(20, "big"))

    def result(self) -> dict:
        return self.found


def _encode(found: dict[bytes, set[int]]) -> list[dict]:
    return [{"address": encode.address(address), "storageKeys": [encode.word(k) for k in sorted(found[address])]}
            for address in sorted(found)]


def create_access_list(node, args: CallArgs, block: BlockRef = LATEST) -> dict:
    header = state_header(node, block)
    params = call_params(args, encode.base_fee(header))
    header = no_base_fee(header, params)
    chain = node.chain
    vm = chain.vm_at(header)
    sender = params.sender
    nonce = args.nonce if args.nonce is not None else vm.state.get_nonce(sender)
    to = params.to or generate_contract_address(sender, nonce)
    excluded = {sender, to, *vm.state.computation_class.get_precompiles()}
    found = {address: {int.from_bytes(k, "big") for k in keys} for address, keys in args.access_list or ()}
    gas = call_gas(params, header)
    deadline = deadline_after(node.config.evm_timeout)
    refused = _refusal(args, nonce, gas)
    try:
        for _ in range(MAX_ROUNDS):
            tracer = AccessListTracer(found, excluded)
            computation, used = _run(chain, header, params, nonce, gas, found, tracer, deadline, refused)
            if tracer.found == found:
                break
            found = tracer.found
    except TraceTimeout:
        raise RequestTimedOut() from None
    answer = {"accessList": _encode(found)}
    if computation.is_error:
        answer["error"] = vm_error_message(computation.error)
    answer["gasUsed"] = encode.quantity(used)
    return answer


def _refusal(args: CallArgs, nonce: int, gas: int) -> str:
    """geth's prefix for a call it cannot apply: `failed to apply transaction: <hash> err:`, the hash of the call
    as an unsigned legacy transaction (geth's args.ToTransaction(LegacyTxType))."""
    unsigned = [nonce, args.gas_price or 0, gas, args.to or b"", args.value or 0, args.data or b"", 0, 0, 0]
    return f"failed to apply transaction: 0x{keccak(rlp.encode(unsigned)).hex()} err:"


def _run(chain, header, params, nonce: int, gas: int, found: dict, tracer: Tracer, deadline: float, refused: str):
    vm = chain.vm_at(header)
    run = TraceRun(tracer, deadline=deadline)
    state = run.state_class(vm.get_state_class())(vm.chaindb.db, vm.state.execution_context, header.state_root)
    access = [(address, tuple(sorted(slots))) for address, slots in sorted(found.items())]
    unsigned = vm.get_transaction_builder().new_unsigned_access_list_transaction(
        chain.config.chain_id, nonce, params.gas_price, gas, params.to, params.value, params.data, access)
    tx = SpoofAttributes(unsigned, from_=params.sender)
    try:
        check_call(vm, tx)
    except CallRefused as exc:
        raise ExecutionError(f"{refused} {exc}") from None
    run.begin_tx(params.sender, params.to, params.data, gas, params.value, not params.to)
    try:
        computation = state.apply_transaction(tx)
    except ValidationError as exc:
        raise ExecutionError(f"{refused} {validation_message(exc)}") from None
    used = vm.finalize_gas_used(tx, computation)
    run.end_tx(computation, used)
    return computation, used
