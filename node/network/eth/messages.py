"""The eth/68 messages (and BSC's UpgradeStatus) as typed values, each with its RLP shape.

Every message class has a `code`, `items()` (the RLP structure: nested lists of byte strings) and
`from_items(items, types)` (the inverse, with a ChainTypes for messages that carry headers, blocks, transactions or
receipts). node/network/eth/codec.py turns these into bytes and back. Shapes from the eth/68 spec and BSC
(../shared/reference/devp2p.md section 9). Here: the handshake and the announcements; the requests and responses
are in node/network/eth/requests.py (re-exported here). BSC adds optional trailing fields to NewBlock (blob
sidecars, block access list) and block bodies (sidecars), kept as their raw RLP structure, since this node neither
makes nor reads blob sidecars or access lists.
"""
from __future__ import annotations

from dataclasses import dataclass
from typing import Any, ClassVar

from eth.abc import BlockAPI, SignedTransactionAPI
from rlp.sedes import big_endian_int

from node.network.eth import protocol as p
from node.network.eth.chaintypes import ChainTypes
from node.network.eth.fields import (Message, Request, Response, as_bool, as_bytes, as_hash, as_hashes, as_list,
                                     as_uint, optional_tail, tx_item, uint)
from node.network.eth.requests import (BlockBodies, BlockBody, BlockHeaders, GetBlockBodies, GetBlockHeaders,
                                       GetPooledTransactions, GetReceipts, PooledTransactions, Receipts)
from node.network.forkid import ForkId

__all__ = ["MESSAGES", "Message", "Request", "Response", "Status", "UpgradeStatus", "NewBlockHashes", "Transactions",
           "NewBlock", "NewPooledTransactionHashes", "GetBlockHeaders", "BlockHeaders", "GetBlockBodies",
           "BlockBody", "BlockBodies", "GetPooledTransactions", "PooledTransactions", "GetReceipts", "Receipts",
           "tx_item"]


# -- handshake -----------------------------------------------------------------------------------------------------
@dataclass(frozen=True)
class Status(Message):
    code: ClassVar[int] = p.STATUS
    name: ClassVar[str] = "Status"
    version: int
    network_id: int
    total_difficulty: int
    head: bytes
    genesis: bytes
    fork_id: ForkId

    def items(self) -> list:
        return [uint(self.version), uint(self.network_id), uint(self.total_difficulty), self.head, self.genesis,
                self.fork_id.serialize()]

    @classmethod
    def from_items(cls, items: Any, types: ChainTypes | None = None) -> "Status":
        items = as_list(items, "status", 6)
        return cls(as_uint(items[0], "version", 32), as_uint(items[1], "network id"),
                   big_endian_int.deserialize(as_bytes(items[2], "td")), as_hash(items[3], "head"),
                   as_hash(items[4], "genesis"), ForkId.deserialize(items[5]))


@dataclass(frozen=True)
class UpgradeStatus(Message):
    """BSC's second handshake message: `[extension]`, the extension being the RLP of `[disablePeerTxBroadcast]`.

    BSC's packet holds the extension as a raw RLP value (nil allowed); the default packet is `c2 c1 80`."""

    code: ClassVar[int] = p.UPGRADE_STATUS
    name: ClassVar[str] = "UpgradeStatus"
    disable_peer_tx_broadcast: bool = False

    def items(self) -> list:
        return [[b"\x01" if self.disable_peer_tx_broadcast else b""]]

    @classmethod
    def from_items(cls, items: Any, types: ChainTypes | None = None) -> "UpgradeStatus":
        items = as_list(items, "upgrade status")
        if not items or items[0] in (b"", []):
            return cls()   # a nil extension: BSC's defaults
        extension = as_list(items[0], "upgrade status extension", 1)
        return cls(as_bool(extension[0], "disablePeerTxBroadcast"))


# -- announcements -------------------------------------------------------------------------------------------------
@dataclass(frozen=True)
class NewBlockHashes(Message):
    code: ClassVar[int] = p.NEW_BLOCK_HASHES
    name: ClassVar[str] = "NewBlockHashes"
    entries: tuple[tuple[bytes, int], ...]   # (hash, number)

    def items(self) -> list:
        return [[block_hash, uint(number)] for block_hash, number in self.entries]

    @classmethod
    def from_items(cls, items: Any, types: ChainTypes | None = None) -> "NewBlockHashes":
        return cls(tuple((as_hash(e[0], "hash"), as_uint(e[1], "number"))
                         for e in (as_list(entry, "announcement", 2) for entry in as_list(items, "announcements"))))


@dataclass(frozen=True)
class Transactions(Message):
    code: ClassVar[int] = p.TRANSACTIONS
    name: ClassVar[str] = "Transactions"
    transactions: tuple[SignedTransactionAPI, ...]

    def items(self) -> list:
        return [tx_item(tx) for tx in self.transactions]

    @classmethod
    def from_items(cls, items: Any, types: ChainTypes) -> "Transactions":
        return cls(tuple(types.transaction_from_item(item) for item in as_list(items, "transactions")))


@dataclass(frozen=True)
class NewBlock(Message):
    """A whole block and the sender's total difficulty at it; BSC's optional sidecars and access list kept raw."""

    code: ClassVar[int] = p.NEW_BLOCK
    name: ClassVar[str] = "NewBlock"
    block: BlockAPI
    total_difficulty: int
    sidecars: Any = None
    access_list: Any = None

    def items(self) -> list:
        items = [ChainTypes.block_items(self.block), uint(self.total_difficulty)]
        return items + optional_tail(self.sidecars, self.access_list)

    @classmethod
    def from_items(cls, items: Any, types: ChainTypes) -> "NewBlock":
        items = as_list(items, "new block", 2)
        td = big_endian_int.deserialize(as_bytes(items[1], "td"))
        sidecars = items[2] if len(items) > 2 else None
        access_list = items[3] if len(items) > 3 else None
        message = cls(types.block_from_items(items[0]), td, sidecars, access_list)
        message.sanity_check()
        return message

    def sanity_check(self) -> None:
        """geth/BSC's DoS bounds on an announced block (`NewBlockPacket.sanityCheck`, `Header.SanityCheck`), checked
        before anything else looks at it; raises ValueError with geth's message."""
        header = self.block.header
        if header.block_number.bit_length() > 64:
            raise ValueError(f"too large block number: bitlen {header.block_number.bit_length()}")
        if header.difficulty.bit_length() > 80:
            raise ValueError(f"too large block difficulty: bitlen {header.difficulty.bit_length()}")
        if len(header.extra_data) > 100 * 1024:
            raise ValueError(f"too large block extradata: size {len(header.extra_data)}")
        if self.total_difficulty.bit_length() > p.MAX_TD_BITS:
            raise ValueError(f"too large block TD: bitlen {self.total_difficulty.bit_length()}")


@dataclass(frozen=True)
class NewPooledTransactionHashes(Message):
    """eth/68 (EIP-5793): one type byte, consensus-encoding size and hash per announced transaction."""

    code: ClassVar[int] = p.NEW_POOLED_TRANSACTION_HASHES
    name: ClassVar[str] = "NewPooledTransactionHashes"
    types: bytes
    sizes: tuple[int, ...]
    hashes: tuple[bytes, ...]

    def __post_init__(self) -> None:
        if not len(self.types) == len(self.sizes) == len(self.hashes):
            raise ValueError(f"invalid len of fields: {len(self.types)} {len(self.sizes)} {len(self.hashes)}")

    def items(self) -> list:
        return [self.types, [uint(size) for size in self.sizes], list(self.hashes)]

    @classmethod
    def from_items(cls, items: Any, types: ChainTypes | None = None) -> "NewPooledTransactionHashes":
        items = as_list(items, "announcement", 3)
        hashes = as_hashes(items[2], "hash")
        if len(hashes) > p.MAX_ANNOUNCED_HASHES:
            raise ValueError(f"{len(hashes)} hashes announced, more than {p.MAX_ANNOUNCED_HASHES}")
        sizes = tuple(as_uint(size, "size", 32) for size in as_list(items[1], "sizes"))
        return cls(as_bytes(items[0], "types"), sizes, hashes)


MESSAGES: dict[int, type[Message]] = {cls.code: cls for cls in (
    Status, NewBlockHashes, Transactions, GetBlockHeaders, BlockHeaders, GetBlockBodies, BlockBodies, NewBlock,
    NewPooledTransactionHashes, GetPooledTransactions, PooledTransactions, UpgradeStatus, GetReceipts, Receipts)}


