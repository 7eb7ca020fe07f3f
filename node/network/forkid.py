"""EIP-2124 fork identifiers (with EIP-6122's timestamp forks): what a chain announces in its eth Status, and the
filter that decides whether a peer's announcement is compatible with our chain.

FORK_HASH is the IEEE CRC32 of the genesis hash continued over each passed fork's 8-byte big-endian block number,
then each passed fork's timestamp; FORK_NEXT is the first fork still ahead (0 if none). As geth and BSC gather them
(`gatherForks`: every chain-config field named ...Block or ...Time), the forks are every block and time fork the
genesis config lists (node/genesis.py keeps exactly those, BSC's own included): block forks sorted and deduplicated,
those at block 0 dropped; time forks sorted and deduplicated, those at or before the genesis timestamp dropped.
"""
from __future__ import annotations

import zlib
from dataclasses import dataclass
from typing import Callable, Sequence

import rlp
from rlp.sedes import Binary, big_endian_int

from node.chain.genesis import ChainConfig

UINT64_MAX = 2**64 - 1
# geth's timestampThreshold (mainnet's genesis time): a FORK_NEXT above it can only be a timestamp, so it is also
# compared against our head's time in rule 1a
TIMESTAMP_THRESHOLD = 1438269973


class ForkIdError(Exception):
    """A peer's fork id that our chain cannot accept."""


class RemoteStale(ForkIdError):
    """The peer's fork hash is one of our past states, but it does not know the fork we took next."""

    def __init__(self, detail: str = "") -> None:
        super().__init__("remote needs update" + (f": {detail}" if detail else ""))


class LocalIncompatibleOrStale(ForkIdError):
    """The peer's fork hash is none of our past, present or future states (another chain, or we need updating)."""

    def __init__(self, detail: str = "") -> None:
        super().__init__("local incompatible or needs update" + (f": {detail}" if detail else ""))


@dataclass(frozen=True)
class ForkId:
    """The pair a Status carries: `hash` (4 bytes) and `next` (a block number, a timestamp or 0)."""

    hash: bytes
    next: int

    def __post_init__(self) -> None:
        if len(self.hash) != 4:
            raise ValueError(f"a fork hash is 4 bytes, got {len(self.hash)}")
        if not 0 <= self.next <= UINT64_MAX:
            raise ValueError(f"fork next {self.next} is not a uint64")

    def serialize(self) -> list[bytes]:
        return [self.hash, big_endian_int.serialize(self.next)]

    @classmethod
    def deserialize(cls, items: object) -> "ForkId":
        if not isinstance(items, list) or len(items) < 2:
            raise rlp.DeserializationError("a fork id is a list [hash, next]", items)
        next_ = big_endian_int.deserialize(items[1])
        if next_ > UINT64_MAX:
            raise rlp.DeserializationError(f"fork next {next_} is not a uint64", items)
        return cls(Binary.fixed_length(4).deserialize(items[0]), next_)

    def encode(self) -> bytes:
        """RLP([FORK_HASH, FORK_NEXT]), as EIP-2124 defines the fork identifier."""
        return rlp.encode(self.serialize())

    def __str__(self) -> str:
        return f"{{hash: 0x{self.hash.hex()}, next: {self.next}}}"


def gather_forks(config: ChainConfig) -> tuple[tuple[int, ...], tuple[int, ...]]:
    """(block forks, time forks) that count in the fork id: sorted, deduplicated, genesis-time forks dropped."""
    blocks = sorted({number for number in config.block_forks.values() if number > 0})
    times = sorted({time for time in config.time_forks.values() if time > config.timestamp})
    return tuple(blocks), tuple(times)


def _update(checksum: int, fork: int) -> int:
    return zlib.crc32(fork.to_bytes(8, "big"), checksum)


def _to_bytes(checksum: int) -> bytes:
    return checksum.to_bytes(4, "big")


def fork_id(config: ChainConfig, genesis_hash: bytes, head_number: int, head_time: int) -> ForkId:
    """The fork id of a chain whose head is block `head_number` with timestamp `head_time`."""
    blocks, times = gather_forks(config)
    checksum = zlib.crc32(genesis_hash)
    for forks, head in ((blocks, head_number), (times, head_time)):
        for fork in forks:
            if fork > head:
                return ForkId(_to_bytes(checksum), fork)
            checksum = _update(checksum, fork)
    return ForkId(_to_bytes(checksum), 0)


class ForkFilter:
    """EIP-2124's validation of a remote fork id against our chain, at our head as `head()` reports it then.

    `check(remote)` returns when the peer may stay and raises RemoteStale or LocalIncompatibleOrStale when not.
    """

    def __init__(self, config: ChainConfig, genesis_hash: bytes, head: Callable[[], tuple[int, int]]) -> None:
        self.head = head
        blocks, times = gather_forks(config)
        self._block_count = len(blocks)
        forks: list[int] = [*blocks, *times]
        checksum = zlib.crc32(genesis_hash)
        self._sums = [_to_bytes(checksum)]   # _sums[i]: the fork hash before forks[i] (the last: after every fork)
        for fork in forks:
            checksum = _update(checksum, fork)
            self._sums.append(_to_bytes(checksum))
        self._forks: Sequence[int] = (*forks, UINT64_MAX)   # a last fork that is never passed

    def check(self, remote: ForkId) -> None:
        number, time = self.head()
        for i, fork in enumerate(self._forks):
            head = number if i < self._block_count else time
            if head >= fork:
                continue   # passed: look for the first fork still ahead of us
            if self._sums[i] == remote.hash:
                # rule 1: same state; 1a: the fork the peer announces next is already behind us
                if remote.next and (number >= remote.next
                                    or (remote.next > TIMESTAMP_THRESHOLD and time >= remote.next)):
                    raise LocalIncompatibleOrStale(f"remote announces fork {remote.next}, already passed locally")
                return
            for j in range(i):
                if self._sums[j] == remote.hash:
                    # rule 2: the peer is behind us; it must know the fork we took after that state
                    if self._forks[j] != remote.next:
                        raise RemoteStale(f"remote next fork {remote.next}, local {self._forks[j]}")
                    return
            for j in range(i + 1, len(self._sums)):
                if self._sums[j] == remote.hash:
                    return   # rule 3: the peer is ahead of us on forks we know
            raise LocalIncompatibleOrStale(f"remote fork hash 0x{remote.hash.hex()} is not on our chain")
        return   # unreachable: the last fork is never passed
