"""The voter: on each new canonical head, a validator with a BLS vote key signs BSC's vote for it (bsc
core/vote/vote_manager.go; ../shared/reference/finality.md section 7).

- source = the highest justified block at the head, target = the head (engine.vote_data);
- only when the key belongs to a validator of the snapshot at head - 1 (engine.voters), after `warmup` heads
  (BSC waits 40 since mining started, so a backup node sharing the key does not vote at once; 0 here by default:
  the journal already stops a restarted node from voting twice), and not when too late (now + 50 ms past the head's
  time + 3 block intervals: Fermi's depth);
- never against BSC's rules 1 and 2: the persisted journal checks the vote and writes it before it is signed, so a
  vote that leaves the node is always on disk first.
"""
from __future__ import annotations

import logging
import threading
from collections import OrderedDict
from typing import Callable

from eth.abc import BlockHeaderAPI
from eth_utils import encode_hex

from consensus import bls
from consensus.attestation import ANCESTOR_DEPTH_FERMI
from consensus.engine import PosaEngine, header_ms
from consensus.errors import VoteRuleViolation
from consensus.votes import VoteEnvelope, sign_vote, vote_too_late
from node.finality.journal import PersistentJournal

log = logging.getLogger("smartchain.finality.voter")

RECENT_DECISIONS = 256   # heads whose outcome is remembered (the Devnet waits on them)


class Voter:
    """Signs votes for one BLS key; `decide(head)` is called once per new head, from any thread."""

    def __init__(self, engine: PosaEngine, secret_key: bytes, journal: PersistentJournal,
                 clock_ms: Callable[[], int], *, warmup: int = 0, depth: int = ANCESTOR_DEPTH_FERMI):
        self.engine = engine
        self.vote_address = bls.public_key(secret_key)
        self.journal = journal
        self.clock_ms = clock_ms
        self.warmup = warmup
        self.depth = depth
        self.period_ms = engine.params.period * 1000
        self.heads_seen = 0
        self.decisions: OrderedDict[bytes, VoteEnvelope | None] = OrderedDict()   # head hash -> vote or None
        self.refused = 0   # votes the journal refused (double or surround)
        self._secret = secret_key
        self._lock = threading.Lock()

    def decide(self, head: BlockHeaderAPI) -> VoteEnvelope | None:
        """The signed vote for `head`, or None when this key does not vote for it (the reason is logged)."""
        with self._lock:
            if head.hash in self.decisions:
                return None   # already decided: never a second signature for one head
            vote = self._decide(head)
            self.decisions[head.hash] = vote
            while len(self.decisions) > RECENT_DECISIONS:
                self.decisions.popitem(last=False)
            return vote

    def _decide(self, head: BlockHeaderAPI) -> VoteEnvelope | None:
        self.heads_seen += 1
        if self.heads_seen <= self.warmup:
            return None
        if vote_too_late(self.clock_ms(), header_ms(head), self.period_ms, self.depth):
            log.debug("not voting for block %d: too late", head.block_number)
            return None
        if head.block_number == 0 or all(v.vote_address != self.vote_address for v in self.engine.voters(head)):
            return None
        data = self.engine.vote_data(head)
        if data is None:
            return None
        try:
            self.journal.record(data)   # checked against rules 1 and 2, and on disk, before anything is signed
        except VoteRuleViolation as exc:
            self.refused += 1
            log.warning("not voting for block %d (%s): %s", head.block_number, encode_hex(head.hash), exc)
            return None
        return sign_vote(self._secret, data, self.vote_address)

    def voted(self, head_hash: bytes) -> bool:
        """Whether this voter has made its decision on `head_hash` (voted or not)."""
        return head_hash in self.decisions
