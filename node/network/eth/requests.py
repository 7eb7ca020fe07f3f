"""eth/68's request/response pairs, each carrying a request id (eth/66, EIP-2481): headers, block bodies, pooled
transactions and receipts. A response's `answers` names the request class it completes."""
from __future__ import annotations

from dataclasses import dataclass
from typing import Any, ClassVar

from eth.abc import BlockAPI, BlockHeaderAPI, ReceiptAPI, SignedTransactionAPI
from eth.vm.forks.shanghai.withdrawals import Withdrawal

from node.network.eth import protocol as p
from node.network.eth.chaintypes import ChainTypes
from node.network.eth.fields import (Request, Response, as_bool, as_bytes, as_hashes, as_list, as_request, as_uint,
                                     optional_tail, tx_item, uint)


@dataclass(frozen=True)
class GetBlockHeaders(Request):
    """Headers from `origin` (a 32-byte hash or a number): `amount` of them, `skip` apart, towards genesis if
    `reverse`."""

    code: ClassVar[int] = p.GET_BLOCK_HEADERS
    name: ClassVar[str] = "GetBlockHeaders"
    request_id: int
    origin: bytes | int
    amount: int
    skip: int = 0
    reverse: bool = False

    def __post_init__(self) -> None:
        if isinstance(self.origin, bytes) and len(self.origin) != 32:
            raise ValueError(f"an origin hash is 32 bytes, got {len(self.origin)}")

    def items(self) -> list:
        origin = self.origin if isinstance(self.origin, bytes) else uint(self.origin)
        return [uint(self.request_id), [origin, uint(self.amount), uint(self.skip), b"\x01" if self.reverse else b""]]

    @classmethod
    def from_items(cls, items: Any, types: ChainTypes | None = None) -> "GetBlockHeaders":
        request_id, query = as_request(items)
        query = as_list(query, "header query", 4)
        origin: bytes | int = as_bytes(query[0], "origin")
        if len(origin) != 32:   # geth's HashOrNumber: a hash by its size, else a uint64
            if len(origin) > 8:
                raise ValueError(f"invalid input size {len(origin)} for origin")
            origin = as_uint(origin, "origin")
        return cls(request_id, origin, as_uint(query[1], "amount"), as_uint(query[2], "skip"),
                   as_bool(query[3], "reverse"))


@dataclass(frozen=True)
class BlockHeaders(Response):
    code: ClassVar[int] = p.BLOCK_HEADERS
    name: ClassVar[str] = "BlockHeaders"
    answers: ClassVar[type[Request]] = GetBlockHeaders
    request_id: int
    headers: tuple[BlockHeaderAPI, ...]

    def items(self) -> list:
        return [uint(self.request_id), [ChainTypes.header_items(h) for h in self.headers]]

    @classmethod
    def from_items(cls, items: Any, types: ChainTypes) -> "BlockHeaders":
        request_id, headers = as_request(items)
        return cls(request_id, tuple(types.header_from_items(as_list(header, "header"))
                                     for header in as_list(headers, "headers")))


@dataclass(frozen=True)
class GetBlockBodies(Request):
    code: ClassVar[int] = p.GET_BLOCK_BODIES
    name: ClassVar[str] = "GetBlockBodies"
    request_id: int
    hashes: tuple[bytes, ...]

    def items(self) -> list:
        return [uint(self.request_id), list(self.hashes)]

    @classmethod
    def from_items(cls, items: Any, types: ChainTypes | None = None) -> "GetBlockBodies":
        request_id, hashes = as_request(items)
        return cls(request_id, as_hashes(hashes, "hash"))


@dataclass(frozen=True)
class BlockBody:
    """A block without its header: transactions, uncles, withdrawals (None before Shanghai), BSC's sidecars raw."""

    transactions: tuple[SignedTransactionAPI, ...]
    uncles: tuple[BlockHeaderAPI, ...] = ()
    withdrawals: tuple[Withdrawal, ...] | None = None
    sidecars: Any = None

    @classmethod
    def of(cls, block: BlockAPI) -> "BlockBody":
        withdrawals = getattr(block, "withdrawals", None)
        return cls(tuple(block.transactions), tuple(block.uncles), None if withdrawals is None else tuple(withdrawals))

    def items(self) -> list:
        items = [[tx_item(tx) for tx in self.transactions], [ChainTypes.header_items(u) for u in self.uncles]]
        withdrawals = None if self.withdrawals is None else [Withdrawal.serialize(w) for w in self.withdrawals]
        return items + optional_tail(withdrawals, self.sidecars)

    @classmethod
    def from_items(cls, items: Any, types: ChainTypes) -> "BlockBody":
        items = as_list(items, "block body", 2)
        withdrawals = None
        if len(items) > 2:
            withdrawals = tuple(Withdrawal.deserialize(w) for w in as_list(items[2], "withdrawals"))
        return cls(tuple(types.transaction_from_item(tx) for tx in as_list(items[0], "transactions")),
                   tuple(types.header_from_items(as_list(u, "uncle")) for u in as_list(items[1], "uncles")),
                   withdrawals, items[3] if len(items) > 3 else None)


@dataclass(frozen=True)
class BlockBodies(Response):
    code: ClassVar[int] = p.BLOCK_BODIES
    name: ClassVar[str] = "BlockBodies"
    answers: ClassVar[type[Request]] = GetBlockBodies
    request_id: int
    bodies: tuple[BlockBody, ...]

    def items(self) -> list:
        return [uint(self.request_id), [body.items() for body in self.bodies]]

    @classmethod
    def from_items(cls, items: Any, types: ChainTypes) -> "BlockBodies":
        request_id, bodies = as_request(items)
        return cls(request_id, tuple(BlockBody.from_items(b, types) for b in as_list(bodies, "bodies")))


@dataclass(frozen=True)
class GetPooledTransactions(Request):
    code: ClassVar[int] = p.GET_POOLED_TRANSACTIONS
    name: ClassVar[str] = "GetPooledTransactions"
    request_id: int
    hashes: tuple[bytes, ...]

    def items(self) -> list:
        return [uint(self.request_id), list(self.hashes)]

    @classmethod
    def from_items(cls, items: Any, types: ChainTypes | None = None) -> "GetPooledTransactions":
        request_id, hashes = as_request(items)
        return cls(request_id, as_hashes(hashes, "hash"))


@dataclass(frozen=True)
class PooledTransactions(Response):
    """The asked transactions the peer has, in the asked order (gaps allowed)."""

    code: ClassVar[int] = p.POOLED_TRANSACTIONS
    name: ClassVar[str] = "PooledTransactions"
    answers: ClassVar[type[Request]] = GetPooledTransactions
    request_id: int
    transactions: tuple[SignedTransactionAPI, ...]

    def items(self) -> list:
        return [uint(self.request_id), [tx_item(tx) for tx in self.transactions]]

    @classmethod
    def from_items(cls, items: Any, types: ChainTypes) -> "PooledTransactions":
        request_id, txs = as_request(items)
        return cls(request_id, tuple(types.transaction_from_item(tx) for tx in as_list(txs, "transactions")))


@dataclass(frozen=True)
class GetReceipts(Request):
    code: ClassVar[int] = p.GET_RECEIPTS
    name: ClassVar[str] = "GetReceipts"
    request_id: int
    hashes: tuple[bytes, ...]

    def items(self) -> list:
        return [uint(self.request_id), list(self.hashes)]

    @classmethod
    def from_items(cls, items: Any, types: ChainTypes | None = None) -> "GetReceipts":
        request_id, hashes = as_request(items)
        return cls(request_id, as_hashes(hashes, "hash"))


@dataclass(frozen=True)
class Receipts(Response):
    """Per asked block, its receipts in consensus encoding (eth/68 keeps the bloom)."""

    code: ClassVar[int] = p.RECEIPTS
    name: ClassVar[str] = "Receipts"
    answers: ClassVar[type[Request]] = GetReceipts
    request_id: int
    receipts: tuple[tuple[ReceiptAPI, ...], ...]

    def items(self) -> list:
        return [uint(self.request_id), [[type(r).serialize(r) for r in block] for block in self.receipts]]

    @classmethod
    def from_items(cls, items: Any, types: ChainTypes) -> "Receipts":
        request_id, blocks = as_request(items)
        return cls(request_id, tuple(tuple(types.receipt_from_item(r) for r in as_list(block, "receipts"))
                                     for block in as_list(blocks, "blocks")))


