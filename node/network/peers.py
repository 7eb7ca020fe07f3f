"""The peer manager: who is connected after a successful eth handshake, who may connect, and the static peers kept
connected.

- PeerState: one connected peer as sync and gossip see it (its Status, best known head and total difficulty, the
  blocks and transactions it is known to have, announcement rate);
- PeerSet: admission as geth's p2p server and eth handler decide it (max peers with static peers exempt, one
  connection per node: of two, the one dialled by the node with the lower id stays on both sides, a short ban for
  a peer that sent an invalid block);
- StaticDialer: dials each static peer and redials it after a failed dial or a disconnect, waiting 1 s, 2 s ...
  30 s (geth's dial scheduler), so a restarted peer rejoins by itself.

Transports stay outside: a `Dial` is any coroutine function that returns a connected (not yet handshaken) Peer.
"""
from __future__ import annotations

import asyncio
import logging
import math
import random
import time
from collections import deque
from dataclasses import dataclass, field
from typing import Any, Awaitable, Callable

from node.network.bsc.messages import BscMessage
from node.network.bsc.rate import VoteRate
from node.network.eth.messages import Message, Status
from node.network.knownset import MAX_KNOWN_BLOCKS, MAX_KNOWN_TXS, KnownSet
from node.network.loopthread import cancel_and_wait
from node.network.peer import DisconnectReason, Peer, PeerDisconnected

log = logging.getLogger("smartchain.network.peers")

MAX_PEERS = 50                  # geth's default --maxpeers
BAN_SECONDS = 30.0              # a peer that sent an invalid block is refused this long
DIAL_BACKOFF_MIN = 1.0
DIAL_BACKOFF_MAX = 30.0
ANNOUNCE_WINDOW = 1.0           # seconds
MAX_ANNOUNCEMENTS = 256         # announcement messages per peer per window; more is a flood
MAX_QUEUED_SENDS = 256          # gossip messages waiting to go to one slow peer; more are dropped (geth's queues)
MAX_KNOWN_VOTES = 5376          # vote hashes remembered per peer (BSC's maxKnownVotes)

Dial = Callable[[], Awaitable[Peer]]


@dataclass(eq=False)
class PeerState:
    """A peer past its eth handshake."""

    peer: Peer
    status: Status
    inbound: bool = False
    static: bool = False
    info: dict[str, Any] = field(default_factory=dict)   # transport facts for admin_peers (name, caps, network)
    tx_broadcast: bool = True   # False when its UpgradeStatus asked for no transaction broadcasts (BSC)
    td: int = 0
    head: bytes = b""
    known_blocks: KnownSet = field(default_factory=lambda: KnownSet(MAX_KNOWN_BLOCKS))
    known_txs: KnownSet = field(default_factory=lambda: KnownSet(MAX_KNOWN_TXS))
    known_votes: KnownSet = field(default_factory=lambda: KnownSet(MAX_KNOWN_VOTES))
    vote_rate: VoteRate = field(default_factory=VoteRate)   # the BEP-619 receive limit
    dropped_sends: int = 0
    _announcements: deque = field(default_factory=deque)
    _sending: set = field(default_factory=set)

    def __post_init__(self) -> None:
        self.td, self.head = self.status.total_difficulty, self.status.head

    @property
    def id(self) -> str:
        return self.peer.id

    def set_head(self, block_hash: bytes, td: int) -> None:
        """The peer announced a head with total difficulty `td` (kept if heavier than what we knew)."""
        if td > self.td:
            self.td, self.head = td, block_hash

    def send_soon(self, message: Message | BscMessage) -> bool:
        """Queue a gossip message to this peer without waiting for it; False (dropped) if too many are waiting."""
        if len(self._sending) >= MAX_QUEUED_SENDS:
            self.dropped_sends += 1
            return False
        task = asyncio.get_running_loop().create_task(self._send(message))
        self._sending.add(task)
        task.add_done_callback(self._sending.discard)
        return True

    async def _send(self, message: Message) -> None:
        try:
            if isinstance(message, BscMessage):
                await self.peer.send_satellite(message)
            else:
                await self.peer.send(message)
        except PeerDisconnected:
            pass
        except Exception as exc:   # a transport error ends that peer (its reader sees it), never the sender
            log.debug("gossip to %s failed: %s", self.id[:16], exc)

    def note_announcement(self, now: float | None = None) -> bool:
        """Count one announcement; False when the peer sent more than MAX_ANNOUNCEMENTS in the last window."""
        now = time.monotonic() if now is None else now
        seen = self._announcements
        seen.append(now)
        while seen and seen[0] <= now - ANNOUNCE_WINDOW:
            seen.popleft()
        return len(seen) <= MAX_ANNOUNCEMENTS


class PeerSet:
    """The connected peers, by id."""

    def __init__(self, self_id: str, max_peers: int = MAX_PEERS, ban_seconds: float = BAN_SECONDS) -> None:
        self.self_id = self_id
        self.max_peers = max_peers
        self.ban_seconds = ban_seconds
        self.peers: dict[str, PeerState] = {}
        self._banned: dict[str, float] = {}   # id -> monotonic time the ban ends

    def __len__(self) -> int:
        return len(self.peers)

    def __iter__(self):
        return iter(list(self.peers.values()))

    def get(self, peer_id: str) -> PeerState | None:
        return self.peers.get(peer_id)

    # -- admission ---------------------------------------------------------------------------------------------------
    def refusal(self, peer_id: str, inbound: bool, static: bool) -> DisconnectReason | None:
        """Why a new connection to `peer_id` may not stay (None: it may)."""
        if peer_id == self.self_id:
            return DisconnectReason.SELF
        if self.is_banned(peer_id):
            return DisconnectReason.USELESS_PEER
        existing = self.peers.get(peer_id)
        if existing is not None and not self._replaces(inbound, existing):
            return DisconnectReason.ALREADY_CONNECTED
        if existing is None and not static and len(self.peers) >= self.max_peers:
            return DisconnectReason.TOO_MANY_PEERS
        return None

    def _replaces(self, inbound: bool, existing: PeerState) -> bool:
        """Of two connections between the same nodes, both sides keep the one the lower id dialled."""
        if inbound == existing.inbound:
            return False
        dialled_by_lower = (self.self_id < existing.id) != inbound
        return dialled_by_lower

    def add(self, state: PeerState) -> PeerState | None:
        """Register `state`; returns the connection it replaces (the caller disconnects it), if any."""
        replaced = self.peers.get(state.id)
        self.peers[state.id] = state
        return replaced

    def remove(self, state: PeerState) -> None:
        if self.peers.get(state.id) is state:
            del self.peers[state.id]

    def ban(self, peer_id: str) -> None:
        now = time.monotonic()
        for expired in [i for i, until in self._banned.items() if until <= now]:
            del self._banned[expired]   # the list stays as long as the bans in force
        self._banned[peer_id] = now + self.ban_seconds

    def is_banned(self, peer_id: str) -> bool:
        until = self._banned.get(peer_id)
        if until is None:
            return False
        if time.monotonic() >= until:
            del self._banned[peer_id]
            return False
        return True

    # -- choices sync and gossip make ---------------------------------------------------------------------------------
    def best(self) -> PeerState | None:
        """The peer with the highest total difficulty."""
        return max(self.peers.values(), key=lambda s: s.td, default=None)

    def split_lacking(self, known: Callable[[PeerState], bool], exclude: PeerState | None = None,
                      direct: Callable[[int], int] = lambda n: int(math.sqrt(n))) -> tuple[list, list]:
        """(peers to send the whole thing, peers to announce it to): of the peers for which `known` is false,
        `direct(number of peers)` chosen at random get it whole, the rest an announcement."""
        lacking = [s for s in self.peers.values() if s is not exclude and not known(s)]
        random.shuffle(lacking)
        count = min(len(lacking), direct(len(self.peers)))
        return lacking[:count], lacking[count:]


class StaticDialer:
    """Keeps static peers connected: `connect(peer)` runs one connection to its end (True if its handshake passed);
    between attempts the dialer waits, doubling from 1 s to 30 s, and starts again at 1 s after a good session."""

    def __init__(self, connect: Callable[[Peer], Awaitable[bool]], connected: Callable[[str], bool],
                 banned: Callable[[str], bool], backoff_min: float = DIAL_BACKOFF_MIN,
                 backoff_max: float = DIAL_BACKOFF_MAX) -> None:
        self._connect, self._connected, self._banned = connect, connected, banned
        self.backoff_min, self.backoff_max = backoff_min, backoff_max
        self.targets: dict[str, asyncio.Task] = {}
        self.dials = 0   # attempts made (tests and logs)
        self._kick = asyncio.Event()

    def add(self, key: str, dial: Dial) -> bool:
        """Keep the node `key` (its peer id) connected, dialling it with `dial`; False if it is already a target."""
        if key in self.targets:
            return False
        self.targets[key] = asyncio.get_running_loop().create_task(self._keep(key, dial), name=f"dial {key[:16]}")
        return True

    def remove(self, key: str) -> bool:
        task = self.targets.pop(key, None)
        if task is None:
            return False
        task.cancel()
        return True

    def redial_now(self) -> None:
        """Cut every waiting back-off short and start again from 1 s (the network changed: a partition healed)."""
        kick, self._kick = self._kick, asyncio.Event()
        kick.set()

    def is_static(self, key: str) -> bool:
        return key in self.targets

    async def close(self) -> None:
        tasks = list(self.targets.values())
        self.targets.clear()
        await cancel_and_wait(tasks)

    async def _keep(self, key: str, dial: Dial) -> None:
        delay = self.backoff_min
        me = asyncio.current_task()
        while self.targets.get(key) is me:   # removed: stop even if a cancellation was lost on the way
            if not self._connected(key) and not self._banned(key):
                self.dials += 1
                try:
                    peer = await dial()
                except asyncio.CancelledError:
                    raise
                except Exception as exc:
                    log.debug("dial %s failed: %s", key[:16], exc)
                else:
                    if await self._connect(peer):
                        delay = self.backoff_min
            # jitter: two nodes that dial each other after one restart should not keep colliding
            kick = self._kick
            try:
                await asyncio.wait_for(kick.wait(), delay * random.uniform(0.8, 1.0))
                delay = self.backoff_min
            except asyncio.TimeoutError:
                delay = min(delay * 2, self.backoff_max)
