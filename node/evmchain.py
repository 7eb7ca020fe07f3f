"""ScheduledChain: py-evm's Chain with VMs picked by the chain's ForkSchedule (number, timestamp, merge).

py-evm picks a VM by block number only, and its import path makes the header it executes on from the parent alone
(timestamp "now"), which picks the wrong VM across a timestamp fork. Here every VM lookup takes the header, and import
starts from the block's own timestamp and merge state.
"""
from __future__ import annotations

from typing import Any, Type

from eth._utils.headers import new_timestamp_from_parent
from eth._utils.rlp import validate_imported_block_unchanged
from eth.abc import BlockAPI, BlockHeaderAPI, BlockImportResult, VirtualMachineAPI
from eth.chains.base import Chain as PyEvmChain
from eth.exceptions import HeaderNotFound
from eth.vm.chain_context import ChainContext
from eth_typing import BlockNumber
from eth_utils import ValidationError

from node.forks import ForkSchedule


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
        result = vm.import_block(block)
        if perform_validation:
            validate_imported_block_unchanged(result.block, block)
        return BlockImportResult(*self.persist_block(result.block, perform_validation), result.meta_witness)
