"""Vote gossip over the `bsc` protocol, as BSC does it (bsc/eth/handler.go BroadcastVote, handler_bsc.go,
protocols/bsc/peer.go; ../shared/reference/devp2p.md section 12):

- each vote that enters our pool goes out at once, one vote a message, to every bsc peer not known to have it whose
  total difficulty is within 1000 of ours (a peer far behind cannot use it);
- a new peer gets BscCap first (BSC ignores it but sends its own), then every current vote of the pool;
- from a Votes message only the first vote is taken; a peer is allowed 68 votes/s averaged over 30 s, the rest is
  dropped silently; a vote that fails its checks (bad signature, not a validator's, out of range) is dropped and the
  peer stays; a message that does not decode ends the peer (the Peer does that);
- per peer at most 5376 vote hashes are remembered as known, and at most MAX_QUEUED_SENDS messages wait to be sent.
"""
from __future__ import annotations

import logging
import time
from typing import Any, Callable

from consensus.votes import VoteEnvelope
from node.network.bsc.messages import PROTOCOL_NAME, BscCap, BscMessage, Votes
from node.network.peers import PeerSet, PeerState

log = logging.getLogger("smartchain.network.votes")

DELTA_TD_THRESHOLD = 1000       # BSC's deltaTdThreshold


class VoteGossip:
    """The network's half of fast finality for one node: its `votes` (node.votes, a FinalityService) and its peers.
    Call everything on the network loop."""

    def __init__(self, finality: Any, peers: PeerSet, our_td: Callable[[], int],
                 now_s: Callable[[], float] = time.monotonic, relay: bool = True) -> None:
        """`finality`: the node's FinalityService (None: votes are relayed nowhere and dropped); `now_s`: the clock
        the receive limit counts in (the node's, so a simulated Devnet counts simulated seconds); `relay`: pass on
        peers' votes too (BSC); without it only our own votes go out, which reaches everyone in a full mesh (the
        in-process Devnet: there every node's relays would run on one CPU, N^2 messages per vote)."""
        self.finality = finality
        self.peers = peers
        self._our_td = our_td
        self._now_s = now_s
        self.relay = relay
        self.rate_limited = 0   # votes dropped by the per-peer rate limit

    @staticmethod
    def speaks_bsc(state: PeerState) -> bool:
        return PROTOCOL_NAME in state.peer.satellites

    def greet(self, state: PeerState) -> None:
        """A new peer: our BscCap, then the pool's current votes (BSC's syncVotes)."""
        if not self.speaks_bsc(state):
            return
        state.send_soon(BscCap())
        if self.finality is None:
            return
        for vote in self.finality.pool.current_votes():
            self._send(state, vote.hash(), Votes((vote,)))

    def broadcast(self, vote: VoteEnvelope) -> int:
        """A vote that entered our pool, to every bsc peer that lacks it and is not far behind; how many got it."""
        if not self.relay and (self.finality is None or vote.vote_address != self.finality.vote_address):
            return 0
        vote_hash = vote.hash()
        message = Votes((vote,))   # one message for every peer: encoded once (Votes.encode keeps it)
        ours = self._our_td()
        sent = 0
        for state in self.peers:
            if vote_hash in state.known_votes or not self.speaks_bsc(state):
                continue
            if state.td + DELTA_TD_THRESHOLD < ours:
                continue
            if self._send(state, vote_hash, message):
                sent += 1
        return sent

    def _send(self, state: PeerState, vote_hash: bytes, message: Votes) -> bool:
        state.known_votes.add(vote_hash)
        return state.send_soon(message)

    def on_message(self, state: PeerState, message: BscMessage) -> None:
        if isinstance(message, Votes):
            self.on_votes(state, message)
        # BscCap: BSC since v1.6.5 sends it once and ignores the peer's; so do we

    def on_votes(self, state: PeerState, message: Votes) -> None:
        if not message.votes:
            return
        vote = message.votes[0]   # BSC's handler takes the first vote of a message only
        if not state.vote_rate.allow(self._now_s()):
            self.rate_limited += 1
            return
        state.known_votes.add(vote.hash())
        if self.finality is not None:
            self.finality.receive(vote)
