"""The eth/68 messages (and BSC's UpgradeStatus) as typed values, each with its RLP shape.

Every message class has a `code`, `items()` (the RLP structure: nested lists of byte strings) and
`from_items(items, types)` (the inverse, with a ChainTypes for messages that carry headers, blocks, transactions or
receipts). node/network/eth/codec.py turns these into bytes and back. Shapes from the eth/68 spec and BSC
(../shared/reference/devp2p.md section 9): requests and their responses carry a request id (eth/66, EIP-2481);
BSC adds optional trailing fields to NewBlock (blob sidecars, block access list) and block bodies (sidecars), kept
here as their raw RLP structure, since this node neither makes nor reads blob sidecars or access lists.
"""
from __future__ import annotations

from dataclasses import dataclass
from typing import Any, ClassVar

from eth.abc import BlockAPI, BlockHeaderAPI, ReceiptAPI, SignedTransactionAPI
from eth.vm.forks.shanghai.withdrawals import Withdrawal
from rlp.sedes import Binary, big_endian_int

from node.network.eth import protocol as p
from node.network.eth.chaintypes import ChainTypes
from node.network.forkid import ForkId

UINT64_MAX = 2**64 - 1
_hash32 = Binary.fixed_length(32)


# -- item helpers: each raises ValueError (the codec reports it as an invalid message) ----------------------------
def _list(item: Any, what: str, min_len: int = 0) -> list:
    if not isinstance(item, list):
        raise ValueError(f"{what}: expected a list")
    if len(item) < min_len:
        raise ValueError(f"{what}: expected at least {min_len} items, got {len(item)}")
    return item


def _uint(item: Any, what: str, bits: int = 64) -> int:
    if not isinstance(item, bytes):
        raise ValueError(f"{what}: expected an integer, got a list")
    value = big_endian_int.deserialize(item)
    if value.bit_length() > bits:
        raise ValueError(f"{what}: {value} does not fit in {bits} bits")
    return value


def _hash(item: Any, what: str) -> bytes:
    if not isinstance(item, bytes) or len(item) != 32:
        raise ValueError(f"{what}: expected a 32-byte hash")
    return item


def _hashes(item: Any, what: str) -> tuple[bytes, ...]:
    return tuple(_hash(h, what) for h in _list(item, what))


def _bool(item: Any, what: str) -> bool:
    # Go's rlp: false is the empty string, true is 0x01; anything else is refused
    if item == b"":
        return False
    if item == b"\x01":
        return True
    raise ValueError(f"{what}: invalid boolean {item!r}")


def _u(value: int) -> bytes:
    return big_endian_int.serialize(value)


class Message:
    """An eth message: `code` relative to the capability's offset."""

    code: ClassVar[int]
    name: ClassVar[str]

    def items(self) -> Any:
        raise NotImplementedError

    @classmethod
    def from_items(cls, items: Any, types: ChainTypes) -> "Message":
        raise NotImplementedError


class Request(Message):
    """A message answered by a Response with the same request id."""

    request_id: int


class Response(Message):
    """The answer to a Request; `answers` is the request class."""

    request_id: int
    answers: ClassVar[type[Request]]


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
        return [_u(self.version), _u(self.network_id), _u(self.total_difficulty), self.head, self.genesis,
                self.fork_id.serialize()]

    @classmethod
    def from_items(cls, items: Any, types: ChainTypes | None = None) -> "Status":
        items = _list(items, "status", 6)
        return cls(_uint(items[0], "version", 32), _uint(items[1], "network id"),
                   big_endian_int.deserialize(_bytes(items[2], "td")), _hash(items[3], "head"),
                   _hash(items[4], "genesis"), ForkId.deserialize(items[5]))


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
        items = _list(items, "upgrade status")
        if not items or items[0] in (b"", []):
            return cls()   # a nil extension: BSC's defaults
        extension = _list(items[0], "upgrade status extension", 1)
        return cls(_bool(extension[0], "disablePeerTxBroadcast"))


# -- announcements -------------------------------------------------------------------------------------------------
@dataclass(frozen=True)
class NewBlockHashes(Message):
    code: ClassVar[int] = p.NEW_BLOCK_HASHES
    name: ClassVar[str] = "NewBlockHashes"
    entries: tuple[tuple[bytes, int], ...]   # (hash, number)

    def items(self) -> list:
        return [[block_hash, _u(number)] for block_hash, number in self.entries]

    @classmethod
    def from_items(cls, items: Any, types: ChainTypes | None = None) -> "NewBlockHashes":
        return cls(tuple((_hash(e[0], "hash"), _uint(e[1], "number"))
                         for e in (_list(entry, "announcement", 2) for entry in _list(items, "announcements"))))


@dataclass(frozen=True)
class Transactions(Message):
    code: ClassVar[int] = p.TRANSACTIONS
    name: ClassVar[str] = "Transactions"
    transactions: tuple[SignedTransactionAPI, ...]

    def items(self) -> list:
        return [tx_item(tx) for tx in self.transactions]

    @classmethod
    def from_items(cls, items: Any, types: ChainTypes) -> "Transactions":
        return cls(tuple(types.transaction_from_item(item) for item in _list(items, "transactions")))


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
        items = [ChainTypes.block_items(self.block), _u(self.total_difficulty)]
        return items + _optional_tail(self.sidecars, self.access_list)

    @classmethod
    def from_items(cls, items: Any, types: ChainTypes) -> "NewBlock":
        items = _list(items, "new block", 2)
        td = big_endian_int.deserialize(_bytes(items[1], "td"))
        sidecars = items[2] if len(items) > 2 else None
        access_list = items[3] if len(items) > 3 else None
        return cls(types.block_from_items(items[0]), td, sidecars, access_list)


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
        return [self.types, [_u(size) for size in self.sizes], list(self.hashes)]

    @classmethod
    def from_items(cls, items: Any, types: ChainTypes | None = None) -> "NewPooledTransactionHashes":
        items = _list(items, "announcement", 3)
        hashes = _hashes(items[2], "hash")
        if len(hashes) > p.MAX_ANNOUNCED_HASHES:
            raise ValueError(f"{len(hashes)} hashes announced, more than {p.MAX_ANNOUNCED_HASHES}")
        return cls(_bytes(items[0], "types"), tuple(_uint(s, "size", 32) for s in _list(items[1], "sizes")), hashes)


# -- requests and responses ----------------------------------------------------------------------------------------
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

    def items(self) -> list:
        origin = self.origin if isinstance(self.origin, bytes) else _u(self.origin)
        return [_u(self.request_id), [origin, _u(self.amount), _u(self.skip), b"\x01" if self.reverse else b""]]

    @classmethod
    def from_items(cls, items: Any, types: ChainTypes | None = None) -> "GetBlockHeaders":
        request_id, query = _request(items)
        query = _list(query, "header query", 4)
        origin = _bytes(query[0], "origin")
        if len(origin) == 32:
            pass
        elif len(origin) <= 8:
            origin = _uint(origin, "origin")
        else:
            raise ValueError(f"invalid input size {len(origin)} for origin")
        return cls(request_id, origin, _uint(query[1], "amount"), _uint(query[2], "skip"),
                   _bool(query[3], "reverse"))


@dataclass(frozen=True)
class BlockHeaders(Response):
    code: ClassVar[int] = p.BLOCK_HEADERS
    name: ClassVar[str] = "BlockHeaders"
    answers: ClassVar[type[Request]] = GetBlockHeaders
    request_id: int
    headers: tuple[BlockHeaderAPI, ...]

    def items(self) -> list:
        return [_u(self.request_id), [ChainTypes.header_items(h) for h in self.headers]]

    @classmethod
    def from_items(cls, items: Any, types: ChainTypes) -> "BlockHeaders":
        request_id, headers = _request(items)
        return cls(request_id, tuple(types.header_from_items(_list(h, "header")) for h in _list(headers, "headers")))


@dataclass(frozen=True)
class GetBlockBodies(Request):
    code: ClassVar[int] = p.GET_BLOCK_BODIES
    name: ClassVar[str] = "GetBlockBodies"
    request_id: int
    hashes: tuple[bytes, ...]

    def items(self) -> list:
        return [_u(self.request_id), list(self.hashes)]

    @classmethod
    def from_items(cls, items: Any, types: ChainTypes | None = None) -> "GetBlockBodies":
        request_id, hashes = _request(items)
        return cls(request_id, _hashes(hashes, "hash"))


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
        return items + _optional_tail(withdrawals, self.sidecars)

    @classmethod
    def from_items(cls, items: Any, types: ChainTypes) -> "BlockBody":
        items = _list(items, "block body", 2)
        withdrawals = None
        if len(items) > 2:
            withdrawals = tuple(Withdrawal.deserialize(w) for w in _list(items[2], "withdrawals"))
        return cls(tuple(types.transaction_from_item(tx) for tx in _list(items[0], "transactions")),
                   tuple(types.header_from_items(_list(u, "uncle")) for u in _list(items[1], "uncles")),
                   withdrawals, items[3] if len(items) > 3 else None)


@dataclass(frozen=True)
class BlockBodies(Response):
    code: ClassVar[int] = p.BLOCK_BODIES
    name: ClassVar[str] = "BlockBodies"
    answers: ClassVar[type[Request]] = GetBlockBodies
    request_id: int
    bodies: tuple[BlockBody, ...]

    def items(self) -> list:
        return [_u(self.request_id), [body.items() for body in self.bodies]]

    @classmethod
    def from_items(cls, items: Any, types: ChainTypes) -> "BlockBodies":
        request_id, bodies = _request(items)
        return cls(request_id, tuple(BlockBody.from_items(b, types) for b in _list(bodies, "bodies")))


@dataclass(frozen=True)
class GetPooledTransactions(Request):
    code: ClassVar[int] = p.GET_POOLED_TRANSACTIONS
    name: ClassVar[str] = "GetPooledTransactions"
    request_id: int
    hashes: tuple[bytes, ...]

    def items(self) -> list:
        return [_u(self.request_id), list(self.hashes)]

    @classmethod
    def from_items(cls, items: Any, types: ChainTypes | None = None) -> "GetPooledTransactions":
        request_id, hashes = _request(items)
        return cls(request_id, _hashes(hashes, "hash"))


@dataclass(frozen=True)
class PooledTransactions(Response):
    """The asked transactions the peer has, in the asked order (gaps allowed)."""

    code: ClassVar[int] = p.POOLED_TRANSACTIONS
    name: ClassVar[str] = "PooledTransactions"
    answers: ClassVar[type[Request]] = GetPooledTransactions
    request_id: int
    transactions: tuple[SignedTransactionAPI, ...]

    def items(self) -> list:
        return [_u(self.request_id), [tx_item(tx) for tx in self.transactions]]

    @classmethod
    def from_items(cls, items: Any, types: ChainTypes) -> "PooledTransactions":
        request_id, txs = _request(items)
        return cls(request_id, tuple(types.transaction_from_item(tx) for tx in _list(txs, "transactions")))


@dataclass(frozen=True)
class GetReceipts(Request):
    code: ClassVar[int] = p.GET_RECEIPTS
    name: ClassVar[str] = "GetReceipts"
    request_id: int
    hashes: tuple[bytes, ...]

    def items(self) -> list:
        return [_u(self.request_id), list(self.hashes)]

    @classmethod
    def from_items(cls, items: Any, types: ChainTypes | None = None) -> "GetReceipts":
        request_id, hashes = _request(items)
        return cls(request_id, _hashes(hashes, "hash"))


@dataclass(frozen=True)
class Receipts(Response):
    """Per asked block, its receipts in consensus encoding (eth/68 keeps the bloom)."""

    code: ClassVar[int] = p.RECEIPTS
    name: ClassVar[str] = "Receipts"
    answers: ClassVar[type[Request]] = GetReceipts
    request_id: int
    receipts: tuple[tuple[ReceiptAPI, ...], ...]

    def items(self) -> list:
        return [_u(self.request_id), [[type(r).serialize(r) for r in block] for block in self.receipts]]

    @classmethod
    def from_items(cls, items: Any, types: ChainTypes) -> "Receipts":
        request_id, blocks = _request(items)
        return cls(request_id, tuple(tuple(types.receipt_from_item(r) for r in _list(block, "receipts"))
                                     for block in _list(blocks, "blocks")))


MESSAGES: dict[int, type[Message]] = {cls.code: cls for cls in (
    Status, NewBlockHashes, Transactions, GetBlockHeaders, BlockHeaders, GetBlockBodies, BlockBodies, NewBlock,
    NewPooledTransactionHashes, GetPooledTransactions, PooledTransactions, UpgradeStatus, GetReceipts, Receipts)}


def tx_item(tx: SignedTransactionAPI) -> Any:
    """A transaction's consensus form: a legacy transaction's field list, a typed one's `type || payload` bytes."""
    return type(tx).serialize(tx)


def _bytes(item: Any, what: str) -> bytes:
    if not isinstance(item, bytes):
        raise ValueError(f"{what}: expected a byte string, got a list")
    return item


def _request(items: Any) -> tuple[int, Any]:
    items = _list(items, "request", 2)
    return _uint(items[0], "request id"), items[1]


def _optional_tail(*fields: Any) -> list:
    """Go's `rlp:"optional"` fields: up to the last one set, an unset one before it written as an empty list."""
    tail = list(fields)
    while tail and tail[-1] is None:
        tail.pop()
    return [[] if field is None else field for field in tail]
