"""The `p2p` capability every RLPx connection speaks: Hello, Disconnect, Ping and Pong, and capability offsets.

Message ids 0x00-0x0f belong to `p2p`; shared capabilities get consecutive id blocks from 0x10, sorted by name
(devp2p rlpx.md "Message ID-based Multiplexing", geth p2p/peer.go matchProtocols).
"""
from __future__ import annotations

import enum
from dataclasses import dataclass

import rlp

from node.network.rlpx.errors import ProtocolError

P2P_VERSION = 5  # snappy from version 5 on (EIP-706)
BASE_PROTOCOL_LENGTH = 16
BASE_PROTOCOL_MAX_MSG_SIZE = 2 * 1024  # geth refuses a larger Hello
HELLO, DISCONNECT, PING, PONG = 0x00, 0x01, 0x02, 0x03
PING_PAYLOAD = b"\xc0"  # Ping and Pong carry the empty list


class DisconnectReason(enum.IntEnum):
    """Disconnect reasons, with geth's texts (p2p/peer_error.go)."""

    REQUESTED = 0x00
    NETWORK_ERROR = 0x01
    PROTOCOL_ERROR = 0x02
    USELESS_PEER = 0x03
    TOO_MANY_PEERS = 0x04
    ALREADY_CONNECTED = 0x05
    INCOMPATIBLE_VERSION = 0x06
    INVALID_IDENTITY = 0x07
    QUITTING = 0x08
    UNEXPECTED_IDENTITY = 0x09
    SELF = 0x0A
    READ_TIMEOUT = 0x0B
    SUBPROTOCOL_ERROR = 0x10

    @property
    def text(self) -> str:
        return _REASON_TEXT[self]


_REASON_TEXT = {
    DisconnectReason.REQUESTED: "disconnect requested",
    DisconnectReason.NETWORK_ERROR: "network error",
    DisconnectReason.PROTOCOL_ERROR: "breach of protocol",
    DisconnectReason.USELESS_PEER: "useless peer",
    DisconnectReason.TOO_MANY_PEERS: "too many peers",
    DisconnectReason.ALREADY_CONNECTED: "already connected",
    DisconnectReason.INCOMPATIBLE_VERSION: "incompatible p2p protocol version",
    DisconnectReason.INVALID_IDENTITY: "invalid node identity",
    DisconnectReason.QUITTING: "client quitting",
    DisconnectReason.UNEXPECTED_IDENTITY: "unexpected identity",
    DisconnectReason.SELF: "connected to self",
    DisconnectReason.READ_TIMEOUT: "read timeout",
    DisconnectReason.SUBPROTOCOL_ERROR: "subprotocol error",
}


def reason_text(reason: int | None) -> str:
    """geth's text for a reason code, also for codes it does not know."""
    if reason is None:
        return "no reason"
    try:
        return DisconnectReason(reason).text
    except ValueError:
        return f"unknown disconnect reason {reason}"


@dataclass(frozen=True)
class Capability:
    """A capability we offer: name, version, and how many message ids it takes."""

    name: str
    version: int
    length: int


@dataclass(frozen=True)
class SharedCapability:
    """A capability both sides speak, with its message id block [offset, offset + length)."""

    name: str
    version: int
    offset: int
    length: int


@dataclass(frozen=True)
class Hello:
    """The Hello message; `capabilities` are (name, version) pairs, `node_id` the 64-byte public key."""

    client_id: str
    capabilities: tuple[tuple[str, int], ...]
    node_id: bytes
    listen_port: int = 0  # legacy: geth sends 0 and ignores it
    version: int = P2P_VERSION

    def encode(self) -> bytes:
        """The RLP payload; capabilities are sent sorted by name, as geth does."""
        caps = [[name.encode(), version] for name, version in sorted(self.capabilities)]
        return rlp.encode([self.version, self.client_id.encode(), caps, self.listen_port, self.node_id])

    @classmethod
    def decode(cls, payload: bytes) -> "Hello":
        """Decode a Hello, ignoring extra list elements (EIP-8); ProtocolError if it is malformed."""
        try:
            items = rlp.decode(payload)
            if not isinstance(items, list) or len(items) < 5:
                raise ValueError("want a list of at least 5 elements")
            version, client, caps, port, node_id = items[:5]
            caps_out = []
            for cap in caps:
                if not isinstance(cap, list) or len(cap) < 2:
                    raise ValueError("capability is not [name, version]")
                caps_out.append((_text(cap[0]), _uint(cap[1])))
            if not isinstance(node_id, bytes):
                raise ValueError("node id is not a byte string")
            return cls(_text(client), tuple(caps_out), node_id, _uint(port), _uint(version))
        except (rlp.exceptions.DecodingError, ValueError, TypeError) as exc:
            raise ProtocolError(f"invalid Hello: {exc}") from None


def _uint(item: object) -> int:
    # Leading zero bytes are accepted (EIP-8: be liberal): @ethereumjs/devp2p sends listen port 0 as 0x00.
    if not isinstance(item, bytes) or len(item) > 8:
        raise ValueError("not an RLP unsigned integer")
    return int.from_bytes(item, "big")


def _text(item: object) -> str:
    if not isinstance(item, bytes):
        raise ValueError("not a string")
    return item.decode("utf-8", errors="replace")


def encode_disconnect(reason: int) -> bytes:
    """Disconnect's payload: a one-element list, as geth sends it."""
    return rlp.encode([int(reason)])


def decode_disconnect(payload: bytes) -> int:
    """The reason of a Disconnect, in the list form `[reason]` or the legacy bare-integer form; unknown codes are
    returned as they are. A payload with no reason at all reads as `REQUESTED`."""
    try:
        item = rlp.decode(payload)
    except rlp.exceptions.DecodingError as exc:
        raise ProtocolError(f"invalid Disconnect: {exc}") from None
    if isinstance(item, list):
        if not item:
            return DisconnectReason.REQUESTED
        item = item[0]
    if isinstance(item, list):
        raise ProtocolError("invalid Disconnect: reason is a list")
    return int.from_bytes(item, "big")


def match_capabilities(local: list[Capability], remote: tuple[tuple[str, int], ...]) -> list[SharedCapability]:
    """The shared capabilities with their id offsets: same name and version on both sides, the highest shared
    version per name, sorted by name, offsets from 0x10 in that order."""
    theirs = set(remote)
    best: dict[str, Capability] = {}
    for cap in local:
        if (cap.name, cap.version) in theirs and (cap.name not in best or cap.version > best[cap.name].version):
            best[cap.name] = cap
    shared, offset = [], BASE_PROTOCOL_LENGTH
    for name in sorted(best):
        cap = best[name]
        shared.append(SharedCapability(cap.name, cap.version, offset, cap.length))
        offset += cap.length
    return shared


def check_node_id(node_id: bytes) -> None:
    """geth's identity rule for a Hello: 64 bytes, not all zero; ProtocolError naming the reason otherwise."""
    if len(node_id) != 64 or not any(node_id):
        raise ProtocolError(reason_text(DisconnectReason.INVALID_IDENTITY))
