"""Parameter types of the RPC methods and their parsers, with geth's rules and messages.

A handler annotates each parameter with one of the types below; `rpc.registry` looks the parser up by that
annotation. Parsers raise `ParamError` with geth's text (hexutil's `hex string without 0x prefix`,
`hex number with leading zero digits`, ...); the registry prefixes `invalid argument N: `.
"""
from __future__ import annotations

import itertools
import json
import math
import re
from dataclasses import dataclass, field
from typing import Any, Callable, NewType

Address = NewType("Address", bytes)      # 20 bytes
Hash = NewType("Hash", bytes)            # 32 bytes
Data = NewType("Data", bytes)            # any even-length hex
Quantity = NewType("Quantity", int)      # hex number, at most 256 bits
Uint64 = NewType("Uint64", int)          # hex number, at most 64 bits
BlockCount = NewType("BlockCount", int)  # hex or decimal, string or number (geth's math.HexOrDecimal64)
Percentiles = NewType("Percentiles", list)
StorageKey = NewType("StorageKey", bytes)

TAGS = ("latest", "pending", "earliest", "safe", "finalized")
MAX_JSON_DEPTH = 10_000   # Go's encoding/json maxNestingDepth
MAX_TOPICS = 4
MAX_SUB_TOPICS = 1000
_HEX = re.compile(r"[0-9a-fA-F]*")
_JSON_STRING = re.compile(r'"[^"\\]*(?:\\.[^"\\]*)*"')
_NOT_BRACKET = re.compile(r"[^\[\]{}]+")


class ParamError(ValueError):
    """A parameter that does not parse; the message is geth's for the same input."""


@dataclass(frozen=True)
class BlockId:
    """A block named by tag, number or hash (EIP-1898), unresolved."""

    tag: str | None = None
    number: int | None = None
    hash: bytes | None = None
    require_canonical: bool = False

    def __str__(self) -> str:
        if self.hash is not None:
            return "0x" + self.hash.hex()
        return self.tag if self.tag is not None else hex(self.number)


LATEST = BlockId(tag="latest")


class BlockNumber(BlockId):
    """Annotation: a tag or a number (geth's rpc.BlockNumber)."""


class BlockRef(BlockId):
    """Annotation: a tag, a number, a block hash, or an EIP-1898 object (geth's rpc.BlockNumberOrHash)."""


@dataclass(frozen=True)
class CallArgs:
    """geth's TransactionArgs, as eth_call, eth_estimateGas and eth_sendTransaction take them."""

    sender: bytes | None = None
    to: bytes | None = None
    gas: int | None = None
    gas_price: int | None = None
    max_fee_per_gas: int | None = None
    max_priority_fee_per_gas: int | None = None
    value: int | None = None
    data: bytes | None = None
    nonce: int | None = None
    chain_id: int | None = None
    access_list: tuple | None = None


@dataclass(frozen=True)
class FilterCriteria:
    """eth_getLogs' filter: a block hash or a range, addresses (any of), topics by position (None: any)."""

    block_hash: bytes | None = None
    from_block: BlockId | None = None
    to_block: BlockId | None = None
    addresses: tuple[bytes, ...] = ()
    topics: tuple[tuple[bytes, ...] | None, ...] = field(default_factory=tuple)


# -- JSON --

def loads(document: str | bytes) -> Any:
    """JSON as Go's encoding/json reads it: nesting deeper than MAX_JSON_DEPTH, the constants NaN and Infinity and
    numbers beyond float64 (1e999) are refused (ValueError): none of them could be written back as JSON. The depth is checked before parsing because CPython's parser recurses on the C stack,
    bounded only by the recursion limit, which py_ecc raises to 100000: a deep enough document would overflow the
    stack and kill the process instead of raising."""
    if isinstance(document, (bytes, bytearray)):
        document = bytes(document).decode(json.detect_encoding(document), "surrogatepass")
    if _depth(document) > MAX_JSON_DEPTH:
        raise ValueError("exceeded max depth")
    try:
        return json.loads(document, parse_constant=_refuse_constant, parse_float=_finite_float)
    except RecursionError:   # a recursion limit below MAX_JSON_DEPTH
        raise ValueError("exceeded max depth") from None


def _depth(document: str) -> int:
    """The deepest nesting of arrays and objects, brackets inside strings not counted."""
    if document.count("[") + document.count("{") <= MAX_JSON_DEPTH:
        return 0   # cannot be deeper than the number of openers
    brackets = _NOT_BRACKET.sub("", _JSON_STRING.sub("", document))
    return max(itertools.accumulate((1 if c in "[{" else -1 for c in brackets), initial=0))


def _refuse_constant(name: str) -> Any:
    raise ValueError(f"invalid character '{name[0]}' looking for beginning of value")


def _finite_float(text: str) -> float:
    number = float(text)
    if not math.isfinite(number):
        raise ValueError(f"number {text} out of range")
    return number


# -- scalars --

def _json_type(value: Any) -> str:
    if isinstance(value, bool):
        return "bool"
    if isinstance(value, (int, float)):
        return "number"
    if isinstance(value, list):
        return "array"
    if isinstance(value, dict):
        return "object"
    return "string" if isinstance(value, str) else "null"


def _string(value: Any, kind: str) -> str:
    if not isinstance(value, str):
        raise ParamError(f"cannot unmarshal {_json_type(value)} into {kind}")
    return value


def _hex_digits(text: str, allow_empty: bool = False) -> str:
    if text == "":
        if allow_empty:
            return ""
        raise ParamError("empty hex string")
    if not text.startswith(("0x", "0X")):
        raise ParamError("hex string without 0x prefix")
    return text[2:]


def _check_syntax(digits: str) -> str:
    if not _HEX.fullmatch(digits):
        raise ParamError("invalid hex string")
    return digits


def _number(text: str, bits: int) -> int:
    digits = _hex_digits(text)
    if digits == "":
        raise ParamError('hex string "0x"')
    if len(digits) > 1 and digits[0] == "0":
        raise ParamError("hex number with leading zero digits")
    if len(digits) > bits // 4:
        raise ParamError(f"hex number > {bits} bits")
    return int(_check_syntax(digits), 16)


def _bytes(text: str) -> bytes:
    digits = _hex_digits(text, allow_empty=True)
    if len(digits) % 2:
        raise ParamError("hex string of odd length")
    return bytes.fromhex(_check_syntax(digits))


def _fixed(text: str, size: int, type_name: str) -> bytes:
    digits = _hex_digits(text, allow_empty=True)
    if len(digits) != size * 2:
        raise ParamError(f"hex string has length {len(digits)}, want {size * 2} for {type_name}")
    return _bytes(text)


def parse_quantity(value: Any) -> int:
    return _number(_string(value, "quantity"), 256)


def parse_uint64(value: Any) -> int:
    return _number(_string(value, "quantity"), 64)


def parse_data(value: Any) -> bytes:
    return _bytes(_string(value, "hex data"))


def parse_address(value: Any) -> bytes:
    return _fixed(_string(value, "address"), 20, "common.Address")


def parse_hash(value: Any) -> bytes:
    return _fixed(_string(value, "hash"), 32, "common.Hash")


def parse_bool(value: Any) -> bool:
    if not isinstance(value, bool):
        raise ParamError(f"cannot unmarshal {_json_type(value)} into bool")
    return value


def parse_storage_key(value: Any) -> bytes:
    """geth's decodeHash: hex of at most 32 bytes, odd lengths allowed, left-padded."""
    text = _string(value, "storage key")
    digits = text[2:] if text.startswith(("0x", "0X")) else text
    if len(digits) % 2:
        digits = "0" + digits
    if not _HEX.fullmatch(digits):
        raise ParamError("unable to decode storage key: hex string invalid")
    key = bytes.fromhex(digits)
    if len(key) > 32:
        raise ParamError("unable to decode storage key: hex string too long, want at most 32 bytes")
    return key.rjust(32, b"\0")


def parse_block_count(value: Any) -> int:
    """geth's math.HexOrDecimal64: 5, "5" or "0x5"."""
    if isinstance(value, int) and not isinstance(value, bool) and 0 <= value < 2**64:
        return value
    text = _string(value, "block count")
    base, digits = (16, text[2:]) if text.startswith(("0x", "0X")) else (10, text)
    if not digits or not _HEX.fullmatch(digits) or (base == 10 and not digits.isdigit()):
        raise ParamError(f"invalid hex or decimal integer {text}")
    number = int(digits, base)
    if number >= 2**64:
        raise ParamError(f"invalid hex or decimal integer {text}")
    return number


def parse_percentiles(value: Any) -> list[float]:
    if not isinstance(value, list):
        raise ParamError(f"cannot unmarshal {_json_type(value)} into []float64")
    out = []
    for item in value:
        if isinstance(item, bool) or not isinstance(item, (int, float)) or not math.isfinite(item):
            raise ParamError(f"cannot unmarshal {_json_type(item)} into float64")
        out.append(float(item))
    return out


# -- blocks --

def parse_block_number(value: Any) -> BlockId:
    """A tag or a hex number; geth strips quotes, so a bare JSON number reads as hex without prefix."""
    if isinstance(value, bool) or not isinstance(value, (str, int)):
        raise ParamError(f"cannot unmarshal {_json_type(value)} into block number")
    text = str(value).strip()
    if text in TAGS:
        return BlockId(tag=text)
    number = _number(text, 64)
    if number >= 2**63:
        raise ParamError("block number larger than int64")
    return BlockId(number=number)


def parse_block_ref(value: Any) -> BlockId:
    """geth's BlockNumberOrHash: a tag, a number, a 32-byte hash, or {blockHash, requireCanonical} / {blockNumber}."""
    if isinstance(value, dict):
        number, block_hash = value.get("blockNumber"), value.get("blockHash")
        if number is not None and block_hash is not None:
            raise ParamError("cannot specify both BlockHash and BlockNumber, choose one or the other")
        if number is None and block_hash is None:
            raise ParamError("must specify either BlockHash or BlockNumber")
        if block_hash is not None:
            canonical = value.get("requireCanonical", False)
            return BlockId(hash=parse_hash(block_hash), require_canonical=parse_bool(canonical))
        return parse_block_number(number)
    text = _string(value, "block number or hash")
    if len(text) == 66:
        return BlockId(hash=parse_hash(text))
    return parse_block_number(text)


# -- objects --

def parse_field(obj: dict, name: str, parser: Callable[[Any], Any]) -> Any:
    """`obj[name]` parsed, None when absent or null; a refusal names the field."""
    value = obj.get(name)
    if value is None:
        return None
    try:
        return parser(value)
    except ParamError as exc:
        raise ParamError(f'field "{name}": {exc}') from None


def parse_access_list(value: Any) -> tuple:
    if not isinstance(value, list):
        raise ParamError(f"cannot unmarshal {_json_type(value)} into access list")
    entries = []
    for item in value:
        if not isinstance(item, dict):
            raise ParamError(f"cannot unmarshal {_json_type(item)} into access tuple")
        keys = item.get("storageKeys") or []
        if not isinstance(keys, list):
            raise ParamError(f"cannot unmarshal {_json_type(keys)} into storage keys")
        entries.append((parse_address(item.get("address")), tuple(parse_hash(k) for k in keys)))
    return tuple(entries)


def call_fields(obj: dict) -> dict:
    """The TransactionArgs fields every method reads (CallArgs' keywords), "input" taking precedence over "data"."""
    data = parse_field(obj, "data", parse_data)
    input_ = parse_field(obj, "input", parse_data)
    if data is not None and input_ is not None and data != input_:
        raise ParamError('both "data" and "input" are set and not equal. '
                         'Please use "input" to pass transaction call data')
    return dict(
        sender=parse_field(obj, "from", parse_address),
        to=parse_field(obj, "to", parse_address),
        gas=parse_field(obj, "gas", parse_uint64),
        gas_price=parse_field(obj, "gasPrice", parse_quantity),
        max_fee_per_gas=parse_field(obj, "maxFeePerGas", parse_quantity),
        max_priority_fee_per_gas=parse_field(obj, "maxPriorityFeePerGas", parse_quantity),
        value=parse_field(obj, "value", parse_quantity),
        data=input_ if input_ is not None else data,
        nonce=parse_field(obj, "nonce", parse_uint64),
        chain_id=parse_field(obj, "chainId", parse_quantity),
        access_list=parse_field(obj, "accessList", parse_access_list),
    )


def parse_call_args(value: Any) -> CallArgs:
    if not isinstance(value, dict):
        raise ParamError(f"cannot unmarshal {_json_type(value)} into transaction args")
    args = CallArgs(**call_fields(value))
    if args.gas_price is not None and (args.max_fee_per_gas is not None or args.max_priority_fee_per_gas is not None):
        raise ParamError("both gasPrice and (maxFeePerGas or maxPriorityFeePerGas) specified")
    return args


def _topic_position(value: Any) -> tuple[bytes, ...] | None:
    if value is None:
        return None
    if isinstance(value, str):
        return (parse_hash(value),)
    if isinstance(value, list):
        if len(value) > MAX_SUB_TOPICS:
            raise ParamError("exceed max topics")
        if any(item is None for item in value):
            return None   # a null alternative matches anything
        if not all(isinstance(item, str) for item in value):
            raise ParamError("invalid topic(s)")
        return tuple(parse_hash(item) for item in value)
    raise ParamError("invalid topic(s)")


def parse_filter(value: Any) -> FilterCriteria:
    if not isinstance(value, dict):
        raise ParamError(f"cannot unmarshal {_json_type(value)} into filter criteria")
    block_hash = parse_field(value, "blockHash", parse_hash)
    from_block = parse_field(value, "fromBlock", parse_block_number)
    to_block = parse_field(value, "toBlock", parse_block_number)
    if block_hash is not None and (from_block is not None or to_block is not None):
        raise ParamError("cannot specify both BlockHash and FromBlock/ToBlock, choose one or the other")
    raw_addresses = value.get("address")
    if raw_addresses is None:
        addresses: tuple[bytes, ...] = ()
    elif isinstance(raw_addresses, str):
        try:
            addresses = (parse_address(raw_addresses),)
        except ParamError as exc:
            raise ParamError(f"invalid address: {exc}") from None
    elif isinstance(raw_addresses, list):
        parsed = []
        for i, item in enumerate(raw_addresses):
            if not isinstance(item, str):
                raise ParamError(f"non-string address at index {i}")
            try:
                parsed.append(parse_address(item))
            except ParamError as exc:
                raise ParamError(f"invalid address at index {i}: {exc}") from None
        addresses = tuple(parsed)
    else:
        raise ParamError("invalid addresses in query")
    raw_topics = value.get("topics") or []
    if not isinstance(raw_topics, list):
        raise ParamError("invalid topic(s)")
    if len(raw_topics) > MAX_TOPICS:
        raise ParamError("exceed max topics")
    return FilterCriteria(block_hash, from_block, to_block, addresses,
                          tuple(_topic_position(t) for t in raw_topics))


PARSERS: dict[Any, Callable[[Any], Any]] = {
    Address: parse_address,
    Hash: parse_hash,
    Data: parse_data,
    Quantity: parse_quantity,
    Uint64: parse_uint64,
    BlockCount: parse_block_count,
    Percentiles: parse_percentiles,
    StorageKey: parse_storage_key,
    bool: parse_bool,
    BlockNumber: parse_block_number,
    BlockRef: parse_block_ref,
    CallArgs: parse_call_args,
    FilterCriteria: parse_filter,
}
