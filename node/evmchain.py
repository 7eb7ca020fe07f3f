"""ScheduledChain: py-evm's Chain with VMs picked by the chain's ForkSchedule (number, timestamp, merge).

py-evm picks a VM by block number only, and its import path makes the header it executes on from the parent alone
(timestamp "now"), which picks the wrong VM across a timestamp fork. Here every VM lookup takes the header, and import
starts from the block's own timestamp and merge state.
"""
from __future__ import annotations

from typing import Any, Type

import eth.vm.base

from eth._utils.headers import new_timestamp_from_parent
from eth._utils.rlp import validate_imported_block_unchanged
from eth.abc import BlockAPI, BlockHeaderAPI, BlockImportResult, BlockPersistResult, ReceiptAPI, VirtualMachineAPI
from eth.chains.base import Chain as PyEvmChain
from eth.exceptions import HeaderNotFound
from eth.vm.chain_context import ChainContext
from eth_typing import BlockNumber
from eth_utils import ValidationError

from node import triebuild
from node.forks import ForkSchedule

# py-evm's VM computes (and, validating, re-checks) a block's transaction and receipt roots through this module
# global; the one-pass builder gives the same root and nodes several times faster (node/triebuild.py)
eth.vm.base.make_trie_root_and_nodes = triebuild.make_trie_root_and_nodes


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
        apply_all = vm.apply_all_transactions

        def apply_and_keep(transactions, base_header):
            new_header, block_receipts, computations = apply_all(transactions, base_header)
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
