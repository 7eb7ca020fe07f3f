"""The `bsc` protocol's messages as typed values, and their codec (bsc/eth/protocols/bsc/protocol.go).

| code | message | RLP |
| 0x00 | BscCap | `[protocolVersion, extra]`, extra the raw byte 00 (bsc/1 sends `c2 01 00`) |
| 0x01 | Votes  | `[[VoteEnvelope, ...]]`, VoteEnvelope = `[voteAddress 48, signature 96, VoteData]` |
We speak bsc/1 (BscCap and Votes): bsc/2's GetBlocksByRange is not implemented, so only bsc/1 is advertised.
A message that does not decode breaks the protocol (the peer is dropped, as BSC's handler returns the decode error).
"""
from __future__ import annotations

from dataclasses import dataclass
from functools import lru_cache
from typing import Any, ClassVar

import rlp
from eth_utils import ValidationError

from consensus.errors import InvalidVote
from consensus.votes import VoteData, VoteEnvelope
from node.network.eth.protocol import EthProtocolError, InvalidMessage, InvalidMessageCode, MessageTooLarge

PROTOCOL_NAME = "bsc"
BSC1 = 1
PROTOCOL_LENGTH = 2            # bsc/1 reserves ids 0x00..0x01
BSC_CAP = 0x00
VOTES = 0x01
MAX_MESSAGE_SIZE = 10 * 1024 * 1024   # bsc/eth/protocols/bsc: maxMessageSize
MAX_VOTES_PER_MESSAGE = 1024          # a Votes message is decoded only this far (BSC reads votes[0] anyway)
RECENT_MESSAGES = 4096                # Votes messages kept encoded and decoded (21 validators x ~200 blocks)


class BscMessage:
    """A `bsc` message: `code` relative to the capability's offset."""

    code: ClassVar[int]
    name: ClassVar[str]
    protocol: ClassVar[str] = PROTOCOL_NAME

    def encode(self) -> bytes:
        """The RLP payload."""
        raise NotImplementedError


@dataclass(frozen=True)
class BscCap(BscMessage):
    """The capability announcement BSC sends once, at connection, and ignores when received (since v1.6.5)."""

    code: ClassVar[int] = BSC_CAP
    name: ClassVar[str] = "BscCap"
    version: int = BSC1
    extra: bytes = b"\x00"

    def encode(self) -> bytes:
        # extra is an rlp.RawValue in BSC: its bytes go in as they are (the default 00 is one raw byte)
        body = rlp.encode(rlp.sedes.big_endian_int.serialize(self.version)) + self.extra
        return _list_prefix(len(body)) + body

    @classmethod
    def decode(cls, payload: bytes) -> BscCap:
        items = rlp.decode(payload)
        if not isinstance(items, list) or len(items) < 1 or not isinstance(items[0], bytes):
            raise ValueError("BscCap: want [protocolVersion, extra]")
        return cls(rlp.sedes.big_endian_int.deserialize(items[0]) if items[0] else 0,
                   rlp.encode(items[1]) if len(items) > 1 else b"")


@dataclass(frozen=True)
class Votes(BscMessage):
    """Votes to gossip; BSC sends one vote a message and its receiver takes only the first."""

    code: ClassVar[int] = VOTES
    name: ClassVar[str] = "Votes"
    votes: tuple[VoteEnvelope, ...]

    def encode(self) -> bytes:
        return _encode_votes(self.votes)

    @classmethod
    def decode(cls, payload: bytes) -> Votes:
        return _decode_votes(bytes(payload))


# A vote goes to every peer, and comes from every peer that relays it, as the same bytes: both directions are kept
# for recent messages (the values are immutable, so one decoded Votes can serve every peer that sent those bytes).
@lru_cache(maxsize=RECENT_MESSAGES)
def _encode_votes(votes: tuple[VoteEnvelope, ...]) -> bytes:
    inner = b"".join(v.encode() for v in votes)
    body = _list_prefix(len(inner)) + inner
    return _list_prefix(len(body)) + body


@lru_cache(maxsize=RECENT_MESSAGES)
def _decode_votes(payload: bytes) -> Votes:
    items = rlp.decode(payload)
    if not isinstance(items, list) or len(items) != 1 or not isinstance(items[0], list):
        raise ValueError("Votes: want [[VoteEnvelope, ...]]")
    return Votes(tuple(_envelope(item) for item in items[0][:MAX_VOTES_PER_MESSAGE]))


def _envelope(item: Any) -> VoteEnvelope:
    """A VoteEnvelope from its decoded RLP items, checked field by field (the sedes path re-encodes; gossip decodes
    each vote once per peer that sends it)."""
    if not isinstance(item, list) or len(item) != 3 or not isinstance(item[2], list) or len(item[2]) != 4:
        raise ValueError("VoteEnvelope: want [voteAddress, signature, [srcNum, srcHash, tgtNum, tgtHash]]")
    address, signature, (source, source_hash, target, target_hash) = item
    for value, size, what in ((address, 48, "voteAddress"), (signature, 96, "signature"),
                              (source_hash, 32, "sourceHash"), (target_hash, 32, "targetHash")):
        if not isinstance(value, bytes) or len(value) != size:
            raise ValueError(f"VoteEnvelope: {what} must be {size} bytes")
    return VoteEnvelope(address, signature, VoteData(_uint64(source), source_hash, _uint64(target), target_hash))


def _uint64(value: Any) -> int:
    if not isinstance(value, bytes) or len(value) > 8 or value[:1] == b"\x00":
        raise ValueError("VoteData: numbers must be canonical uint64")
    return int.from_bytes(value, "big")


def clear_caches() -> None:
    """Forget the Votes messages kept encoded and decoded."""
    _encode_votes.cache_clear()
    _decode_votes.cache_clear()


MESSAGES: dict[int, type] = {BSC_CAP: BscCap, VOTES: Votes}


def _list_prefix(length: int) -> bytes:
    if length < 56:
        return bytes([0xC0 + length])
    size = length.to_bytes((length.bit_length() + 7) // 8, "big")
    return bytes([0xF7 + len(size)]) + size


def encode(message: BscMessage) -> tuple[int, bytes]:
    """(code, payload) of a bsc message."""
    return message.code, message.encode()


def decode(code: int, payload: bytes) -> BscMessage:
    """The bsc message `code` carries; raises InvalidMessageCode, MessageTooLarge or InvalidMessage (the peer is
    dropped for each, as BSC's handler ends the peer on a decode error)."""
    cls = MESSAGES.get(code)
    if cls is None:
        raise InvalidMessageCode(code)
    if len(payload) > MAX_MESSAGE_SIZE:
        raise MessageTooLarge(len(payload), MAX_MESSAGE_SIZE)
    try:
        return cls.decode(payload)
    except (rlp.DecodingError, rlp.DeserializationError, InvalidVote, ValidationError, ValueError, TypeError,
            IndexError) as exc:
        raise InvalidMessage(f"bsc {cls.name}", exc) from None


__all__ = ["BSC1", "BscCap", "BscMessage", "EthProtocolError", "MESSAGES", "PROTOCOL_LENGTH", "PROTOCOL_NAME",
           "Votes", "decode", "encode"]
