"""Why an RLPx connection failed: one class per cause, worded as geth words it.

Every class derives from `RlpxError`, so a server loop can catch that one base and end just the connection at fault.
"""
from __future__ import annotations


class RlpxError(Exception):
    """Any failure of the RLPx transport or the `p2p` capability on one connection."""


class EciesError(RlpxError):
    """An ECIES packet that does not decrypt (geth: "ecies: invalid message")."""

    def __init__(self, detail: str = "invalid message") -> None:
        super().__init__(f"ecies: {detail}")


class HandshakeError(RlpxError):
    """A malformed auth or ack packet (bad size, bad RLP, bad signature, bad key)."""


class FrameError(RlpxError):
    """A frame that breaks the framing rules (size, header, message id)."""


class BadMacError(FrameError):
    """A header or frame MAC that does not match: tampered or desynchronised stream."""

    def __init__(self, which: str) -> None:
        self.which = which
        super().__init__(f"bad {which} MAC")


class FrameTooLargeError(FrameError):
    """A frame whose declared size is over this connection's limit (checked before its body is read)."""

    def __init__(self, size: int, limit: int) -> None:
        self.size, self.limit = size, limit
        super().__init__(f"frame too large: {size} bytes > {limit}")


class MessageTooLargeError(FrameError):
    """A snappy message whose declared decompressed length is over 16 MiB - 1 (geth's errPlainMessageTooLarge)."""

    def __init__(self, size: int, limit: int) -> None:
        self.size, self.limit = size, limit
        super().__init__(f"message length >= 16MB: {size} bytes > {limit}")


class SnappyError(FrameError):
    """A payload that is not a valid raw snappy block."""

    def __init__(self, detail: str) -> None:
        super().__init__(f"snappy: {detail}")


class ProtocolError(RlpxError):
    """A peer that breaks the `p2p` capability's rules (Hello, Disconnect, Ping/Pong, message ids)."""


class HandshakeTimeoutError(RlpxError):
    """The RLPx handshake or the Hello exchange did not finish in time."""

    def __init__(self, what: str, seconds: float) -> None:
        super().__init__(f"{what} timed out after {seconds:g}s")


class ConnectionClosedError(RlpxError):
    """The connection is closed; `.reason` is the Disconnect reason (ours or the peer's), if any."""

    def __init__(self, message: str, reason: int | None = None, remote: bool = False) -> None:
        self.reason, self.remote = reason, remote
        super().__init__(message)


class SendQueueFullError(RlpxError):
    """The bounded send queue of a connection is full (the peer reads too slowly)."""


class NodeKeyError(RlpxError):
    """A node key file or an enode URL that cannot be used."""
