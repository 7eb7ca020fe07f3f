"""FinalityService (`node.votes`): one node's fast finality, joined to its chain, producer and network.

- a VotePool with BSC's bounds, whose admission check is the engine's (engine.admit_vote), fed by this node's own
  votes and by its peers'; the engine's vote source is the pool (`engine.votes_for = pool.fetch`), so the producer's
  sealer puts an attestation of a 2/3 quorum into each header it can;
- on each new canonical head (a block listener): the pool moves its waiting votes and prunes old ones, and the voter,
  if this node has a vote key, signs its vote, which enters the pool like any other;
- peers' votes (`receive`) are checked in one worker thread of their own (the BLS check takes milliseconds), never on
  the network loop: the worker takes all that are waiting at once and checks their signatures in one batch
  (VotePool.put_many); a vote whose check this process already made (bls's result cache) is pooled on the loop,
  with the others of the same loop turn; each vote that becomes current is told to `pool.listeners` (the network
  gossips it).
"""
from __future__ import annotations

import asyncio
import logging
import threading
from collections import deque
from concurrent.futures import ThreadPoolExecutor
from pathlib import Path
from typing import Any, Callable

from eth.abc import BlockAPI
from eth_utils import encode_hex

from consensus.votepool import VotePool
from consensus.votes import VoteEnvelope
from node.finality.journal import JOURNAL_FILE, PersistentJournal
from node.finality.voter import Voter
from node.network.knownset import KnownSet

log = logging.getLogger("smartchain.finality")

SEEN_VOTES = 8192   # vote hashes this node has taken in or refused (the Devnet waits on them)
RECEIVE_QUEUE = 4096  # peers' votes waiting for the worker: bounded, so a flood cannot grow memory


class FinalityService:
    """`FinalityService(chain, clock_ms, datadir, vote_key)`; `on_block` must hear each new canonical block."""

    def __init__(self, chain: Any, clock_ms: Callable[[], int], datadir: Path, vote_key: bytes | None, *,
                 fsync: bool = True, warmup: int = 0):
        self.chain = chain
        self.engine = chain.engine
        self.pool = VotePool(self.engine.finality.known, self.engine.admit_vote)
        self.engine.votes_for = self.pool.fetch
        self.voter: Voter | None = None
        if vote_key is not None:
            journal = PersistentJournal(Path(datadir) / JOURNAL_FILE, fsync=fsync)
            self.voter = Voter(self.engine, vote_key, journal, clock_ms, warmup=warmup)
        self.refused = 0   # peers' votes the pool refused
        self.observers: list[Callable[[], None]] = []   # told after each vote is taken in or refused (Devnet waits)
        self._seen = KnownSet(SEEN_VOTES)
        self._seen_lock = threading.Lock()
        self._worker = ThreadPoolExecutor(max_workers=1, thread_name_prefix="votes")
        self._queue: deque[VoteEnvelope] = deque()
        self._queue_lock = threading.Lock()
        self._draining = False
        self._ready: list[VoteEnvelope] = []   # checked votes waiting for the end of the network loop's turn
        self.dropped = 0   # peers' votes dropped because the queue was full
        # the pool's window is counted from the head as the last block event left it: reading the head from the
        # store for each of the N votes a block brings costs more than a window one block late (a rewind is followed
        # by the next block's event)
        self._head_number = chain.head.block_number

    @property
    def vote_address(self) -> bytes | None:
        return None if self.voter is None else self.voter.vote_address

    def close(self) -> None:
        self.engine.votes_for = None
        self._worker.shutdown(wait=True, cancel_futures=True)

    # -- the chain's events --------------------------------------------------------------------------------------------
    def on_block(self, block: BlockAPI, receipts: Any = None) -> None:
        """A block joined the canonical chain; when it is the head, the pool follows and the voter votes on it."""
        head = self.chain.head
        self._head_number = head.block_number
        if block.hash != head.hash:
            return   # one of several blocks a reorg or a batch made canonical: only the head is voted for
        self.pool.on_new_head(head.block_number)
        if self.voter is None:
            return
        vote = self.voter.decide(head)
        if vote is not None:
            self._put([vote])

    # -- votes -------------------------------------------------------------------------------------------------------
    def receive(self, vote: VoteEnvelope) -> None:
        """A peer's vote: checked and pooled in the vote worker (returns at once). Votes wait in a bounded queue that
        the worker drains in batches (one thread hand-over per batch, not per vote); beyond its bound they are
        dropped. A vote whose signature this process has already checked (relayed to us again; in the one-process
        Devnet, checked by another node) has no BLS work left and is pooled at once, on the caller's thread."""
        if vote.known_verdict() is not None:
            self._put_soon(vote)
            return
        with self._queue_lock:
            if len(self._queue) >= RECEIVE_QUEUE:
                self.dropped += 1
                return
            self._queue.append(vote)
            if self._draining:
                return
            self._draining = True
        try:
            self._worker.submit(self._drain)
        except RuntimeError:   # closed: the node is stopping
            pass

    def _put_soon(self, vote: VoteEnvelope) -> None:
        """Pool a vote with no BLS work left: on an event loop, with the others that arrive in the same loop turn
        (one pool call and one observer call for them all); elsewhere, at once."""
        try:
            loop = asyncio.get_running_loop()
        except RuntimeError:
            self._put([vote])
            return
        self._ready.append(vote)
        if len(self._ready) == 1:
            loop.call_soon(self._put_ready)

    def _put_ready(self) -> None:
        ready, self._ready = self._ready, []
        self._put(ready)

    def _drain(self) -> None:
        while True:
            with self._queue_lock:
                if not self._queue:
                    self._draining = False
                    return
                batch = list(self._queue)
                self._queue.clear()
            self._put(batch)

    def _put(self, votes: list[VoteEnvelope]) -> None:
        """Into the pool, their signatures checked together; then the observers hear of them once."""
        try:
            outcomes = self.pool.put_many(votes, self._head_number)
            for vote, refused in zip(votes, outcomes):
                if refused is not None:   # invalid signature, out of range, duplicate, not a validator ...
                    self.refused += 1
                    log.debug("vote %s for block %d refused: %s", encode_hex(vote.hash()), vote.data.target_number,
                              refused)
        finally:
            with self._seen_lock:
                for vote in votes:
                    self._seen.add(vote.hash())
            for observer in list(self.observers):
                observer()

    def seen(self, vote_hash: bytes) -> bool:
        """Whether this node has taken the vote in or refused it."""
        with self._seen_lock:
            return vote_hash in self._seen

    def votes_for(self, block_hash: bytes) -> list[VoteEnvelope]:
        """The current votes for one block."""
        return self.pool.fetch(block_hash)
