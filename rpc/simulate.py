"""eth_simulateV1: calls run in simulated blocks on top of a block, as geth's simulator runs them.

Each simulated block is built by the chain's own VM for its number and time (node.forks) on an in-memory overlay of
the database, so nothing is written: header from the parent (or the block overrides), state overrides, the fork's
system calls, the calls as unsigned transactions (type 2 unless gasPrice or blob/authorization fields say
otherwise), the fork's end-of-block processing, then the block's roots and hash. Without `validation` a call pays
no base fee and its nonce is not checked (geth's NoBaseFee and SkipNonceChecks); with it, geth's transaction checks
answer with their -380xx codes. Logs are collected as geth's simulator tracer collects them, with ETH transfers as
ERC-20-like logs when `traceTransfers` is set. As geth's, the whole simulation shares one deadline, the node's evm
timeout: a call running past it answers -32603 `execution aborted (timeout = 5s)`, a call about to start after it
`context deadline exceeded`.
"""
from __future__ import annotations

import time

import rlp
from eth.abc import BlockHeaderAPI, ComputationAPI
from eth._utils.spoof import SpoofAttributes
from eth.vm.forks.prague.transactions import Authorization as PyEvmAuthorization
from eth_utils import ValidationError

from node.chain import blobgas
from node.execution.overlay import Overlay
from node.execution.deadline import deadline_after, go_duration
from node.execution.tracers.evm import TraceRun, TraceTimeout
from rpc import encode
from rpc.blocks import state_header
from rpc.errors import InvalidParams, ServerError
from rpc.params import LATEST, BlockRef
from rpc.simargs import BlockOverrides, SimBlock, SimOpts, SimOptsArg, TxArgs
from rpc.simstate import (LogCollector, SimState, SimulationError, call_result, check_transaction, fee_caps,
                          limit_error)

MAX_BLOCKS = 256
MAX_CALLS_PER_BLOCK = 5000
MAX_CALLS = 10000
TIMESTAMP_INCREMENT = 12
GAS_CAP = 50_000_000           # geth's --rpc.gascap, shared by all simulated calls
ZERO_HASH = b"\0" * 32
DYNAMIC_FEE, BLOB, SET_CODE = 2, 3, 4


# -- the simulator --

class Simulator:
    def __init__(self, chain, base: BlockHeaderAPI, opts: SimOpts, timeout: float | None = None):
        self.chain = chain
        self.timeout = timeout
        self.deadline = None if timeout is None else deadline_after(timeout)
        self.base = base
        self.opts = opts
        self.validate = opts.validation
        self.overlay = Overlay(chain)   # every write stays in memory
        self.budget = GAS_CAP
        self.merged = self.overlay.child_is_merged(base)

    # geth's sanitizeChain: numbers and times in order, gaps filled with empty blocks
    def sanitize(self, blocks: list[SimBlock]) -> list[SimBlock]:
        out = []
        prev_number, prev_time = self.base.block_number, self.base.timestamp
        for block in blocks:
            o = block.overrides
            number = prev_number + 1 if o.number is None else o.number
            if number <= prev_number:
                raise SimulationError(-38020, f"block numbers must be in order: {number} <= {prev_number}")
            if number - self.base.block_number > MAX_BLOCKS:
                raise limit_error("too many blocks")
            for gap in range(prev_number + 1, number):
                prev_time += TIMESTAMP_INCREMENT
                out.append(SimBlock(BlockOverrides(number=gap, time=prev_time)))
            prev_number = number
            if o.time is None:
                time = prev_time + TIMESTAMP_INCREMENT
            else:
                time = o.time
                if time <= prev_time:
                    raise SimulationError(-38021, f"block timestamps must be in order: {time} <= {prev_time}")
            prev_time = time
            o.number, o.time = number, time
            out.append(block)
        return out

    def run(self) -> list[dict]:
        blocks = self.sanitize(self.opts.blocks)
        parent, results = self.base, []
        try:
            for block in blocks:
                header, result = self.process(block, parent)
                results.append(result)
                parent = header
        except TraceTimeout:
            raise SimulationError(-32603, f"execution aborted (timeout = {go_duration(self.timeout)})") from None
        return results

    def _header(self, vm_class, parent: BlockHeaderAPI, o: BlockOverrides) -> BlockHeaderAPI:
        schedule = self.chain.schedule
        # geth's makeHeaders: gas limit and fee recipient carry over from the previous block unless overridden
        fields = dict(timestamp=o.time, gas_limit=o.gas_limit if o.gas_limit is not None else parent.gas_limit,
                      coinbase=o.fee_recipient if o.fee_recipient is not None else parent.coinbase,
                      mix_hash=o.prev_randao or ZERO_HASH, extra_data=b"", nonce=b"\0" * 8)
        if not self.merged:
            fields["difficulty"] = o.difficulty if o.difficulty is not None else parent.difficulty
        header = vm_class.create_header_from_parent(parent, **fields)
        changes = {}
        if hasattr(header, "base_fee_per_gas"):
            if o.base_fee is not None:
                changes["base_fee_per_gas"] = o.base_fee
            elif not self.validate:
                changes["base_fee_per_gas"] = 0   # geth: no base fee edge cases without validation
        if hasattr(header, "excess_blob_gas"):
            cancun_parent = hasattr(parent, "excess_blob_gas")
            changes["excess_blob_gas"] = schedule.next_excess_blob_gas(parent, o.time)[0] if cancun_parent else 0
            changes["blob_gas_used"] = 0
        if hasattr(header, "parent_beacon_block_root"):
            changes["parent_beacon_block_root"] = o.beacon_root or ZERO_HASH
        return header.copy(**changes) if changes else header

    def _vm(self, vm_class, header: BlockHeaderAPI, run: TraceRun, precompiles: dict):
        state_class = run.state_class(vm_class.get_state_class())
        computation_class = state_class.computation_class.configure(_precompiles=precompiles)
        state_class = type(f"Sim{state_class.__name__}", (SimState, state_class), {})
        state_class = state_class.configure(computation_class=computation_class)
        return self.overlay.vm(header, vm_class.configure(__name__=vm_class.__name__, _state_class=state_class))

    def process(self, block: SimBlock, parent: BlockHeaderAPI) -> tuple[BlockHeaderAPI, dict]:
        o = block.overrides
        vm_class = self.chain.schedule.vm_class(o.number, o.time, self.merged)
        header = self._header(vm_class, parent, o)
        collector = LogCollector(self.opts.trace_transfers, o.number, o.time)
        run = TraceRun(collector, deadline=self.deadline)
        native = dict(vm_class.get_state_class().computation_class._precompiles)
        vm = self._vm(vm_class, header, run, self._precompiles(block, native))
        vm.state.sim_warm = frozenset(native)
        fork = self.chain.schedule.fork_at(o.number, o.time, self.merged)
        params = self.chain.schedule.blob_params(fork)
        if o.blob_base_fee is not None:
            vm.state.sim_blob_base_fee = o.blob_base_fee
        elif params is not None:
            vm.state.sim_blob_base_fee = blobgas.blob_base_fee(header.excess_blob_gas, params)
        self._apply_overrides(vm.state, block)
        base_block = vm.get_block()
        vm.block_preprocessing(base_block)
        header = vm.get_header()
        txs, receipts, calls, senders = [], [], [], {}
        gas_left = header.gas_limit
        for index, args in enumerate(block.calls):
            if self.deadline is not None and time.monotonic() > self.deadline:
                raise ServerError("context deadline exceeded")   # geth checks its context before each call
            tx, sender, capped = self._transaction(vm, header, args, gas_left)
            collector.reset(index)
            computation = self._execute(vm, header, tx, sender, args, run)
            receipt = vm.make_receipt(header, tx, computation, vm.state)
            header = vm.increment_blob_gas_used(vm.add_receipt_to_header(header, receipt), tx)
            gas_used = receipt.gas_used - (receipts[-1].gas_used if receipts else 0)
            gas_left -= gas_used
            self.budget -= gas_used
            txs.append(tx)
            senders[tx.hash] = sender
            receipts.append(receipt)
            calls.append(call_result(computation, collector, gas_used, capped, tx))
        withdrawals = self._withdrawals(vm, o)
        filled = vm.set_block_transactions_and_withdrawals(vm.get_block(), header, txs, receipts,
                                                           withdrawals=withdrawals)
        final = vm.finalize_block(vm.block_postprocessing(filled)).block
        self.overlay.chaindb.db[final.hash] = rlp.encode(final.header)   # headers by hash: BLOCKHASH finds it
        result = encode.block(final, self.opts.full_transactions, None, senders)
        for call in calls:
            for log in call["logs"]:
                log["blockHash"] = encode.data(final.hash)
        result["calls"] = calls
        return final.header, dict(sorted(result.items()))

    # -- overrides --

    def _precompiles(self, block: SimBlock, precompiles: dict) -> dict:
        """geth's StateOverride.Apply, the precompile part: an overridden precompile is one no more, a moved one
        answers at its new address; bad moves are refused with geth's errors."""
        moved, dirty = dict(precompiles), set()
        for address in sorted(block.state):
            account = block.state[address]
            if address in dirty:
                raise ServerError(f"account 0x{address.hex()} has already been overridden by a precompile")
            is_precompile = address in precompiles
            if account.move_precompile_to is not None:
                if not is_precompile:
                    raise ServerError(f"account 0x{address.hex()} is not a precompile")
                if account.move_precompile_to in block.state:
                    raise ServerError(f"account 0x{account.move_precompile_to.hex()} is already overridden")
                moved[account.move_precompile_to] = precompiles[address]
                dirty.add(account.move_precompile_to)
            if is_precompile:
                moved.pop(address, None)
        return moved

    @staticmethod
    def _apply_overrides(state, block: SimBlock) -> None:
        for address in sorted(block.state):
            account = block.state[address]
            if account.nonce is not None:
                state.set_nonce(address, account.nonce)
            if account.code is not None:
                state.set_code(address, account.code)
            if account.balance is not None:
                state.set_balance(address, account.balance)
            if account.state is not None and account.state_diff is not None:
                raise ServerError(f"account 0x{address.hex()} has both 'state' and 'stateDiff'")
            if account.state is not None:
                state.delete_storage(address)
            for slot, value in (account.state or account.state_diff or {}).items():
                state.set_storage(address, int.from_bytes(slot, "big"), int.from_bytes(value, "big"))
        state.lock_changes()

    def _withdrawals(self, vm, o: BlockOverrides):
        if not hasattr(vm.get_header(), "withdrawals_root"):
            return None
        from eth.vm.forks.shanghai.withdrawals import Withdrawal
        withdrawals = [Withdrawal(w.index, w.validator_index, w.address, w.amount) for w in o.withdrawals or []]
        vm.apply_all_withdrawals(withdrawals)
        return withdrawals

    # -- calls --

    def _transaction(self, vm, header: BlockHeaderAPI, args: TxArgs, gas_left: int):
        """geth's sanitizeCall + CallDefaults + ToTransaction: the unsigned transaction the call becomes."""
        sender = args.from_
        nonce = args.nonce if args.nonce is not None else vm.state.get_nonce(sender)
        gas = args.gas if args.gas is not None else gas_left
        if gas_left < gas:
            raise SimulationError(-38015, f"block gas limit reached: remaining: {gas_left}, required: {gas}")
        capped = gas > self.budget
        gas = min(gas, self.budget)
        if args.gas_price is not None and (args.max_fee_per_gas is not None
                                           or args.max_priority_fee_per_gas is not None):
            raise InvalidParams("both gasPrice and (maxFeePerGas or maxPriorityFeePerGas) specified")
        chain_id = self.chain.config.chain_id
        if args.chain_id is not None and args.chain_id != chain_id:
            raise ServerError(f"chainId does not match node's (have={args.chain_id}, want={chain_id})")
        london = hasattr(header, "base_fee_per_gas")
        to = args.to or b""
        value, data = args.value or 0, args.data or b""
        access = [(a, tuple(int.from_bytes(k, "big") for k in keys)) for a, keys in args.access_list or ()]
        builder = vm.get_transaction_builder()
        fee_cap = args.max_fee_per_gas or 0
        tip = args.max_priority_fee_per_gas or 0
        if args.gas_price is not None or not london:
            tx = builder.new_transaction(nonce, args.gas_price or 0, gas, to, value, data, 0, 0, 0)
        elif args.authorizations is not None:
            auths = [PyEvmAuthorization(a.chain_id, a.address, a.nonce, a.y_parity, a.r, a.s)
                     for a in args.authorizations]
            tx = builder.new_set_code_transaction(chain_id, nonce, tip, fee_cap, gas, to, value, data, access, auths,
                                                  0, 0, 0)
        elif args.blob_hashes is not None:
            tx = builder.new_blob_transaction(chain_id, nonce, tip, fee_cap, gas, to, value, data, access,
                                              args.max_fee_per_blob_gas or 0, args.blob_hashes, 0, 0, 0)
        else:
            tx = builder.new_dynamic_fee_transaction(chain_id, nonce, tip, fee_cap, gas, to, value, data, access,
                                                     0, 0, 0)
        if tx.type_id:
            # py-evm's builders make some types with an older fork's class, which the block's sedes then reads as
            # legacy: decoding the envelope gives this VM's class
            tx = builder.decode(tx.encode())
        return tx, sender, capped

    def _execute(self, vm, header, tx, sender: bytes, args: TxArgs, run: TraceRun) -> ComputationAPI:
        check_transaction(vm, header, tx, sender, args, self.validate)
        spoofed = SpoofAttributes(tx, sender=sender, get_sender=lambda: sender)
        state = vm.state
        executor = state.get_transaction_executor()
        create = not tx.to
        to = tx.to if tx.to else b""
        context = state.execution_context
        fee_cap, tip = fee_caps(tx)
        saved = context._base_fee_per_gas, getattr(state, "sim_blob_base_fee", None)
        if not self.validate and fee_cap == 0 and tip == 0:
            context._base_fee_per_gas = 0 if saved[0] is not None else None   # geth: BASEFEE reads 0, no fee paid
        if not self.validate and not args.max_fee_per_blob_gas and saved[1] is not None:
            state.sim_blob_base_fee = 0
        wraps = not self.validate and state.get_nonce(sender) == 2**64 - 1
        if wraps:   # geth's uint64 nonce wraps to 0 when its checks are skipped; py-evm's cannot pass 2**64 - 1
            state.set_nonce(sender, 2**64 - 2)
        run.begin_tx(sender, to, tx.data, tx.gas, tx.value, create)
        try:
            message = executor.build_evm_message(spoofed)
            computation = executor.build_computation(message, spoofed)
            computation = executor.finalize_computation(spoofed, computation)
        except ValidationError as exc:
            raise SimulationError(-32603, str(exc)) from None
        finally:
            context._base_fee_per_gas = saved[0]
            if saved[1] is not None:
                state.sim_blob_base_fee = saved[1]
        if wraps:
            state.set_nonce(sender, 0)
        if hasattr(state, "clear_transient_storage"):
            state.clear_transient_storage()
        state.lock_changes()
        run.end_tx(computation, vm.finalize_gas_used(spoofed, computation))
        computation.sim_peak = tx.gas - computation.get_gas_remaining()
        return computation

def simulate(node, opts: SimOptsArg, block: BlockRef = LATEST) -> list[dict]:
    """eth_simulateV1."""
    if not opts.blocks:
        raise InvalidParams("empty input")
    if len(opts.blocks) > MAX_BLOCKS:
        raise limit_error("too many blocks")
    total = 0
    for b in opts.blocks:
        if len(b.calls) > MAX_CALLS_PER_BLOCK:
            raise limit_error(f"too many calls in block: {len(b.calls)} > {MAX_CALLS_PER_BLOCK}")
        total += len(b.calls)
        if total > MAX_CALLS:
            raise limit_error(f"too many calls: {total} > {MAX_CALLS}")
    base = state_header(node, block)
    return Simulator(node.chain, base, opts, node.config.evm_timeout).run()
