"""The building blocks of eth message codecs: base classes, and readers of decoded RLP items that raise ValueError
(the codec reports it as an invalid message) when an item has the wrong shape."""
from __future__ import annotations

from typing import Any, ClassVar

from eth.abc import SignedTransactionAPI
from rlp.sedes import big_endian_int

from node.network.eth.chaintypes import ChainTypes


def as_list(item: Any, what: str, min_len: int = 0) -> list:
    if not isinstance(item, list):
        raise ValueError(f"{what}: expected a list")
    if len(item) < min_len:
        raise ValueError(f"{what}: expected at least {min_len} items, got {len(item)}")
    return item


def as_uint(item: Any, what: str, bits: int = 64) -> int:
    if not isinstance(item, bytes):
        raise ValueError(f"{what}: expected an integer, got a list")
    value = big_endian_int.deserialize(item)
    if value.bit_length() > bits:
        raise ValueError(f"{what}: {value} does not fit in {bits} bits")
    return value


def as_hash(item: Any, what: str) -> bytes:
    if not isinstance(item, bytes) or len(item) != 32:
        raise ValueError(f"{what}: expected a 32-byte hash")
    return item


def as_hashes(item: Any, what: str) -> tuple[bytes, ...]:
    return tuple(as_hash(h, what) for h in as_list(item, what))


def as_bool(item: Any, what: str) -> bool:
    # Go's rlp: false is the empty string, true is 0x01; anything else is refused
    if item == b"":
        return False
    if item == b"\x01":
        return True
    raise ValueError(f"{what}: invalid boolean {item!r}")


def uint(value: int) -> bytes:
    """An integer as RLP's big-endian bytes (0 is the empty string)."""
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


def tx_item(tx: SignedTransactionAPI) -> Any:
    """A transaction's consensus form: a legacy transaction's field list, a typed one's `type || payload` bytes."""
    return type(tx).serialize(tx)


def as_bytes(item: Any, what: str) -> bytes:
    if not isinstance(item, bytes):
        raise ValueError(f"{what}: expected a byte string, got a list")
    return item


def as_request(items: Any) -> tuple[int, Any]:
    items = as_list(items, "request", 2)
    return as_uint(items[0], "request id"), items[1]


def optional_tail(*fields: Any) -> list:
    """Go's `rlp:"optional"` fields: up to the last one set, an unset one before it written as an empty list."""
    tail = list(fields)
    while tail and tail[-1] is None:
        tail.pop()
    return [[] if field is None else field for field in tail]

