"""The eth/68 handshake as BSC runs it: both sides send Status and check the other's within 5 s (network id,
protocol version, genesis, EIP-2124 fork id, total difficulty size), then, on a Parlia chain, both send BSC's
UpgradeStatus and wait for the other's within a fresh 5 s.

UpgradeStatus is BSC's: BSC nodes offer their `bsc` protocol in the RLPx Hello, vanilla eth/68 clients (geth v1.17.0,
@ethereumjs/devp2p) do not, and would ignore it (ethereumjs) or disconnect for an unknown message code (geth), never
answering it. So with an RLPx peer whose Hello lists no `bsc`, the handshake is plain eth/68 even on a Parlia chain;
in-process peers (no Hello) are our own nodes and always take the BSC handshake.

Each refusal is a named HandshakeError carrying the devp2p disconnect reason geth/BSC end the connection with: a
subprotocol error (0x10) for a Status that does not match, a read timeout (0x0b) for a message that never comes.
Messages are geth's (bsc/eth/protocols/eth/handshake.go).
"""
from __future__ import annotations

import asyncio
from typing import Any

from node.network.eth import protocol as p
from node.network.eth.messages import Message, Status, UpgradeStatus
from node.network.forkid import ForkFilter, ForkIdError, fork_id
from node.network.peer import DisconnectReason, Peer

BSC_PROTOCOL = "bsc"   # the capability name BSC nodes offer beside eth


class HandshakeError(p.EthProtocolError):
    """The peer cannot stay: `reason` is what we disconnect it with."""

    reason = DisconnectReason.SUBPROTOCOL_ERROR


class NoStatusMessage(HandshakeError):
    def __init__(self, code: int) -> None:
        super().__init__(f"no status message: first msg has code {code:#x} (!= {p.STATUS:#x})")


class NoUpgradeStatus(HandshakeError):
    def __init__(self, code: int) -> None:
        super().__init__(f"upgrade status msg has code {code:#x} (!= {p.UPGRADE_STATUS:#x})")


class ProtocolVersionMismatch(HandshakeError):
    def __init__(self, theirs: int, ours: int) -> None:
        super().__init__(f"protocol version mismatch: {theirs} (!= {ours})")


class NetworkIdMismatch(HandshakeError):
    def __init__(self, theirs: int, ours: int) -> None:
        super().__init__(f"network ID mismatch: {theirs} (!= {ours})")


class GenesisMismatch(HandshakeError):
    def __init__(self, theirs: bytes, ours: bytes) -> None:
        super().__init__(f"genesis mismatch: {theirs.hex()} (!= {ours.hex()})")


class ForkIdRejected(HandshakeError):
    def __init__(self, cause: ForkIdError) -> None:
        super().__init__(f"fork ID rejected: {cause}")
        self.cause = cause


class TotalDifficultyTooLarge(HandshakeError):
    def __init__(self, bits: int) -> None:
        super().__init__(f"too large total difficulty: bitlen {bits}")


class HandshakeTimeout(HandshakeError):
    reason = DisconnectReason.READ_TIMEOUT

    def __init__(self, waiting_for: str, seconds: float) -> None:
        super().__init__(f"read timeout: no {waiting_for} within {seconds:g} s")


def local_status(chain: Any) -> Status:
    """Our Status from a node.chain.Chain: network id = chain id, the head's total difficulty and fork id."""
    head = chain.head
    return Status(p.ETH68, chain.config.chain_id, chain.chaindb.get_score(head.hash), head.hash,
                  chain.genesis_hash, fork_id(chain.config, chain.genesis_hash, head.block_number, head.timestamp))


def local_fork_filter(chain: Any) -> ForkFilter:
    """EIP-2124's filter at the chain's head as it is when a peer's Status is checked."""
    return ForkFilter(chain.config, chain.genesis_hash, lambda: (chain.head.block_number, chain.head.timestamp))


def check_status(ours: Status, theirs: Status, fork_filter: ForkFilter) -> None:
    """Raise the HandshakeError for the first check `theirs` fails, in geth's order; return if it may stay."""
    if theirs.network_id != ours.network_id:
        raise NetworkIdMismatch(theirs.network_id, ours.network_id)
    if theirs.version != ours.version:
        raise ProtocolVersionMismatch(theirs.version, ours.version)
    if theirs.genesis != ours.genesis:
        raise GenesisMismatch(theirs.genesis, ours.genesis)
    try:
        fork_filter.check(theirs.fork_id)
    except ForkIdError as exc:
        raise ForkIdRejected(exc) from None
    if theirs.total_difficulty.bit_length() > p.MAX_TD_BITS:
        raise TotalDifficultyTooLarge(theirs.total_difficulty.bit_length())


def speaks_bsc(peer: Peer) -> bool:
    """Whether BSC's UpgradeStatus belongs in the handshake with `peer` (see the module docstring)."""
    capabilities = getattr(peer, "remote_capabilities", None)
    return capabilities is None or BSC_PROTOCOL in capabilities


async def handshake(peer: Peer, ours: Status, fork_filter: ForkFilter, upgrade: UpgradeStatus | None = None,
                    timeout: float = p.HANDSHAKE_TIMEOUT) -> tuple[Status, UpgradeStatus | None]:
    """Run the handshake on a fresh `peer`: (their Status, their UpgradeStatus or None when `upgrade` is None, i.e.
    not a BSC network, or the peer is a vanilla eth/68 client). On a refusal the peer is disconnected with the
    error's reason and the error raised."""
    if upgrade is not None and not speaks_bsc(peer):
        upgrade = None
    try:
        await peer.send(ours)
        theirs = await _first(peer, Status, NoStatusMessage, "status message", timeout)
        check_status(ours, theirs, fork_filter)
        their_upgrade = None
        if upgrade is not None:
            await peer.send(upgrade)
            their_upgrade = await _first(peer, UpgradeStatus, NoUpgradeStatus, "upgrade status message", timeout)
    except HandshakeError as exc:
        peer.error = exc
        await peer.disconnect(exc.reason)
        raise
    return theirs, their_upgrade


async def _first(peer: Peer, expected: type[Message], wrong: type[HandshakeError], what: str,
                 timeout: float) -> Any:
    try:
        message = await asyncio.wait_for(peer.receive(), timeout)
    except asyncio.TimeoutError:
        raise HandshakeTimeout(what, timeout) from None
    if not isinstance(message, expected):
        raise wrong(message.code)
    return message


def local_upgrade_status(chain: Any) -> UpgradeStatus | None:
    """BSC's UpgradeStatus on a Parlia chain (we accept transaction broadcasts), None on an Ethereum chain."""
    return UpgradeStatus() if chain.config.is_parlia else None
