"""How one chain's headers, blocks, transactions and receipts look inside eth messages, as py-evm objects.

A header is read with the header class of the fork it belongs to, found the way node/blockfile.py finds a block's:
read it first with py-evm's widest header sedes (PragueBackwardsHeader, which picks a class by field count), then ask
the chain's ForkSchedule which VM rules that header and use that VM's classes. Transactions and receipts in
messages are in their consensus encoding (legacy: an RLP list; EIP-2718 typed: a byte string `type || payload`),
which is exactly what the newest VM's transaction and receipt builders (which read every earlier type) serialize.
"""
from __future__ import annotations

from typing import Any, Type

from eth.abc import (BlockAPI, BlockHeaderAPI, ReceiptAPI, ReceiptBuilderAPI, SignedTransactionAPI,
                     TransactionBuilderAPI)
from eth.vm.forks.prague.blocks import PragueBackwardsHeader

from node.chain.forks import ForkSchedule
from node.chain.genesis import ChainConfig


class ChainTypes:
    """The codec's view of one chain: its fork schedule picks header and block classes."""

    def __init__(self, schedule: ForkSchedule) -> None:
        self.schedule = schedule
        latest = schedule.forks[-1].vm_class
        self.transaction_builder: Type[TransactionBuilderAPI] = latest.get_transaction_builder()
        self.receipt_builder: Type[ReceiptBuilderAPI] = latest.get_block_class().receipt_builder

    @classmethod
    def for_chain(cls, chain: Any) -> "ChainTypes":
        """The types of a node.chain.Chain (anything with a `schedule`)."""
        return cls(chain.schedule)

    @classmethod
    def for_config(cls, config: ChainConfig) -> "ChainTypes":
        """The types of the chain a genesis config describes, without opening one (the schedule Chain builds)."""
        return cls(ForkSchedule.parlia() if config.is_parlia else ForkSchedule.from_config(config))

    def block_class(self, header: BlockHeaderAPI) -> Type[BlockAPI]:
        return self.schedule.vm_class_for(header).get_block_class()

    # -- headers -------------------------------------------------------------------------------------------------------
    def header_from_items(self, items: list) -> BlockHeaderAPI:
        """A decoded header list as the header class of its fork; raises if it has that fork's fields wrong."""
        probe = PragueBackwardsHeader.deserialize(items)
        header_class = self.block_class(probe)._meta.sedes[0]   # a block's first field is its header
        return probe if type(probe) is header_class else header_class.deserialize(items)

    @staticmethod
    def header_items(header: BlockHeaderAPI) -> list:
        return type(header).serialize(header)

    # -- blocks --------------------------------------------------------------------------------------------------------
    def block_from_items(self, items: list) -> BlockAPI:
        """[header, transactions, uncles, withdrawals?] read with the block class of the header's fork."""
        if not isinstance(items, list) or not items or not isinstance(items[0], list):
            raise ValueError("a block is a list whose first item is the header")
        return self.block_class(self.header_from_items(items[0])).deserialize(items)

    @staticmethod
    def block_items(block: BlockAPI) -> list:
        return type(block).serialize(block)

    # -- transactions and receipts -------------------------------------------------------------------------------------
    def transaction_from_item(self, item: Any) -> SignedTransactionAPI:
        return self.transaction_builder.deserialize(item)

    def transaction_item(self, transaction: SignedTransactionAPI) -> Any:
        return self.transaction_builder.serialize(transaction)

    def receipt_from_item(self, item: Any) -> ReceiptAPI:
        return self.receipt_builder.deserialize(item)

    def receipt_item(self, receipt: ReceiptAPI) -> Any:
        return self.receipt_builder.serialize(receipt)
