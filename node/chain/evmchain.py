"""ScheduledChain: py-evm's Chain with VMs picked by the chain's ForkSchedule (number, timestamp, merge); and a
block's header kept while its transactions run (RunningHeader), for building and importing.

py-evm picks a VM by block number only, and its import path makes the header it executes on from the parent alone
(timestamp "now"), which picks the wrong VM across a timestamp fork. Here every VM lookup takes the header, and import
starts from the block's own timestamp and merge state.
"""
from __future__ import annotations

from typing import Any, Sequence, Type

import eth.vm.base

from eth._utils.headers import new_timestamp_from_parent
from eth._utils.rlp import validate_imported_block_unchanged
from eth.abc import (BlockAPI, BlockHeaderAPI, BlockImportResult, BlockPersistResult, ComputationAPI, ReceiptAPI,
                     SignedTransactionAPI, VirtualMachineAPI)
from eth.chains.base import Chain as PyEvmChain
from eth.exceptions import HeaderNotFound
from eth.vm.chain_context import ChainContext
from eth.vm.forks.byzantium import ByzantiumVM
from eth.vm.forks.cancun.state import get_total_blob_gas
from eth_typing import BlockNumber
from eth_utils import ValidationError

from node.chain import triebuild
from node.chain.forks import ForkSchedule

# py-evm's VM computes (and, validating, re-checks) a block's transaction and receipt roots through this module
# global; the one-pass builder gives the same root and nodes several times faster (node/triebuild.py)
eth.vm.base.make_trie_root_and_nodes = triebuild.make_trie_root_and_nodes


class RunningHeader:
    """A block's header while its transactions run, updated once per block instead of once per transaction.

    From Byzantium on, a receipt only adds its gas and bloom to the header, for which py-evm's
    add_receipt_to_header deep-copies the header (and Cancun's increment_blob_gas_used copies it again); and
    py-evm's apply_transaction reads only the gas limit and the gas used so far from the header it is given
    (validate_transaction_against_header, make_receipt). So this stands in for the header, with a running gas
    total and bloom, and `result()` makes the one new header. Before Byzantium a receipt also sets the header's
    state root: those VMs keep py-evm's add_receipt_to_header per transaction. Every other field is the header's.
    """

    __slots__ = ("vm", "header", "gas_used", "bloom", "per_receipt", "added")

    def __init__(self, vm: VirtualMachineAPI, header: BlockHeaderAPI) -> None:
        self.vm, self.header, self.gas_used, self.bloom = vm, header, header.gas_used, header.bloom
        self.per_receipt = type(vm).add_receipt_to_header is not ByzantiumVM.add_receipt_to_header
        self.added = False

    def __getattr__(self, name: str) -> Any:
        return getattr(self.header, name)

    def add(self, receipt: ReceiptAPI, transaction: SignedTransactionAPI) -> None:
        """Count in an applied transaction and its receipt."""
        if self.per_receipt:
            self.header = self.vm.add_receipt_to_header(self.header, receipt)
        elif get_total_blob_gas(transaction):   # only blob transactions change the blob gas used
            self.header = self.vm.increment_blob_gas_used(self.header, transaction)
        self.gas_used = receipt.gas_used
        self.bloom |= receipt.bloom
        self.added = True

    def result(self) -> BlockHeaderAPI:
        """The header after the transactions added: py-evm's, field for field."""
        if not self.added or self.per_receipt:
            return self.header
        return self.header.copy(gas_used=self.gas_used, bloom=self.bloom)


def apply_all_transactions(vm: VirtualMachineAPI, transactions: Sequence[SignedTransactionAPI],
                           base_header: BlockHeaderAPI
                           ) -> tuple[BlockHeaderAPI, tuple[ReceiptAPI, ...], tuple[ComputationAPI, ...]]:
    """py-evm's VM.apply_all_transactions with a RunningHeader. Left out: its state snapshot before each
    transaction, reverted only when a trie node is missing (beam sync; the import fails either way), and its
    transaction_applied_hook (a no-op in py-evm's VMs and ours)."""
    if base_header.block_number != vm.get_header().block_number:
        raise ValidationError(f"This VM instance must only work on block #{vm.get_header().block_number}, "
                              f"but the target header has block #{base_header.block_number}")
    running = RunningHeader(vm, base_header)
    receipts, computations = [], []
    for transaction in transactions:
        receipt, computation = vm.apply_transaction(running, transaction)
        running.add(receipt, transaction)
        receipts.append(receipt)
        computations.append(computation)
    return running.result(), tuple(receipts), tuple(computations)


class ScheduledChain(PyEvmChain):
    schedule: ForkSchedule = None

    @classmethod
    def get_vm_class(cls, header: BlockHeaderAPI) -> Type[VirtualMachineAPI]:
        return cls.schedule.vm_class_for(header)

    @classmethod
    def get_vm_class_for_block_number(cls, block_number: BlockNumber) -> Type[VirtualMachineAPI]:
        """py-evm's number-only lookups (uncle validation, ancestors) concern proof-of-work blocks: forks by number."""
        return cls.schedule.vm_class(block_number, 0, False)

    def vm_class_for_child(self, parent: BlockHeaderAPI, timestamp: int) -> Type[VirtualMachineAPI]:
        """The VM of a new block on `parent` at `timestamp`."""
        return self.schedule.vm_class(parent.block_number + 1, timestamp, self.child_is_merged(parent))

    def child_is_merged(self, parent: BlockHeaderAPI) -> bool:
        """geth's rule: a block is proof-of-stake once its parent's total difficulty has reached the terminal one."""
        ttd = self.schedule.terminal_total_difficulty
        return ttd is not None and self.get_score(parent.hash) >= ttd

    def get_vm(self, at_header: BlockHeaderAPI = None) -> VirtualMachineAPI:
        header = self.ensure_header(at_header)
        return self.get_vm_class(header)(header=header, chaindb=self.chaindb, chain_context=ChainContext(self.chain_id),
                                         consensus_context=self.consensus_context)

    def create_header_from_parent(self, parent_header: BlockHeaderAPI, **header_params: Any) -> BlockHeaderAPI:
        timestamp = header_params.setdefault("timestamp", new_timestamp_from_parent(parent_header))
        return self.vm_class_for_child(parent_header, timestamp).create_header_from_parent(
            parent_header, **header_params)

    def import_block(self, block: BlockAPI, perform_validation: bool = True) -> BlockImportResult:
        return self.import_block_with_receipts(block, perform_validation)[0]

    def import_block_with_receipts(self, block: BlockAPI, perform_validation: bool = True
                                   ) -> tuple[BlockImportResult, tuple[ReceiptAPI, ...]]:
        """py-evm's import_block, also handing back the receipts the execution made (the caller indexes them
        instead of reading them back from the receipt trie)."""
        try:
            parent = self.get_block_header_by_hash(block.header.parent_hash)
        except HeaderNotFound:
            raise ValidationError(f"cannot import block #{block.number} before its parent "
                                  f"0x{block.header.parent_hash.hex()}") from None
        vm_class = self.get_vm_class(block.header)
        # the header py-evm executes on: the block's VM and timestamp (py-evm's own uses "now")
        base = vm_class.create_header_from_parent(parent, timestamp=block.header.timestamp).copy(
            gas_used=block.header.gas_used)
        vm = vm_class(header=base, chaindb=self.chaindb, chain_context=ChainContext(self.chain_id),
                      consensus_context=self.consensus_context)
        receipts: list[ReceiptAPI] = []

        def apply_and_keep(transactions, base_header):
            new_header, block_receipts, computations = apply_all_transactions(vm, transactions, base_header)
            receipts.extend(block_receipts)
            return new_header, block_receipts, computations

        vm.apply_all_transactions = apply_and_keep
        result = vm.import_block(block)
        if perform_validation:
            validate_imported_block_unchanged(result.block, block)
            # the same block; the caller's objects carry the senders the execution recovered (py-evm's are copies)
            persisted = self.persist_block(block, perform_validation)
        else:
            persisted = self.persist_block(result.block, perform_validation)
        return BlockImportResult(*persisted, result.meta_witness), tuple(receipts)

    def persist_block(self, block: BlockAPI, perform_validation: bool = True) -> BlockPersistResult:
        """py-evm's persist_block, except that `block` itself stands in the new canonical blocks, not a copy decoded
        back from the db (which would recover every sender again when indexed)."""
        if perform_validation:
            self.validate_block(block)
        new_hashes, old_hashes = self.chaindb.persist_block(block)

        def load(block_hash: bytes) -> BlockAPI:
            return block if block_hash == block.hash else self.get_block_by_hash(block_hash)

        return BlockPersistResult(block, tuple(map(load, new_hashes)), tuple(map(load, old_hashes)))
