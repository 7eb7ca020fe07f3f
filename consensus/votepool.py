"""The vote pool: the votes a node holds for recent blocks, with BSC's bounds (bsc core/vote/vote_pool.go).

- A vote is taken in only for a target in (head - 256, head + 11], once per envelope hash, at most 21 per target
  hash (50 while the target block is unknown), and only with a valid BLS signature.
- *Current* votes have a known target block and passed the engine's check (`admit`: the source is the justified
  block at the target, the key a validator's at target - 1; `check_admission` is that rule, given the facts).
  *Future* votes wait for their block; on each new head, those whose block is now known (or that fell more than 11
  below the head) are checked and moved to current, the rest stay; current votes older than 256 blocks are pruned.
- `fetch(target_hash, source_number)` gives the sealer the current votes for one target (finality.md section 9);
  listeners hear of each vote that becomes current (for gossip and `newVotes`).
The per-peer rate limit (BEP-619) is network policy and belongs to the protocol handler, not here.
"""
from __future__ import annotations

import threading
from collections.abc import Callable, Sequence
from dataclasses import dataclass, field

from eth_utils import encode_hex

from consensus.errors import (
    ConsensusError,
    DuplicateVote,
    TooManyVotesForBlock,
    VoteOutOfRange,
    VoterNotValidator,
    VoteSourceMismatch,
)
from consensus.header import ValidatorInfo
from consensus.votes import VoteEnvelope, verify_votes

LOWER_LIMIT = 256  # BSC lowerLimitOfVoteBlockNumber: keep votes with target > head - 256
UPPER_LIMIT = 11  # BSC upperLimitOfVoteBlockNumber: and target <= head + 11
MAX_CURRENT_VOTES_PER_BLOCK = 21  # BSC maxCurVoteAmountPerBlock
MAX_FUTURE_VOTES_PER_BLOCK = 50  # BSC maxFutureVoteAmountPerBlock

Admit = Callable[[VoteEnvelope], None]  # raises a ConsensusError when the engine refuses a current vote
Listener = Callable[[VoteEnvelope], None]


def check_admission(vote: VoteEnvelope, *, justified: tuple[int, bytes],
                    validators: Sequence[ValidatorInfo]) -> None:
    """BSC's Parlia.VerifyVote for a vote whose target block is known: `justified` is the justified block at the
    target, `validators` the set of the snapshot at target - 1."""
    data = vote.data
    if (data.source_number, data.source_hash) != justified:
        raise VoteSourceMismatch(
            f"vote {data} source mismatch: want block {justified[0]} ({encode_hex(justified[1])}), have "
            f"{data.source_number} ({encode_hex(data.source_hash)})")
    if all(v.vote_address != vote.vote_address for v in validators):
        raise VoterNotValidator(
            f"vote address {encode_hex(vote.vote_address)} is not a validator's at block {data.target_number - 1}")


@dataclass
class _Box:
    number: int
    votes: list[VoteEnvelope] = field(default_factory=list)


class VotePool:
    """Current and future votes by target hash; safe to use from several threads."""

    def __init__(self, target_known: Callable[[bytes], bool], admit: Admit):
        """`target_known(hash)`: whether the chain has that block; `admit(vote)`: the engine's check of a current
        vote (e.g. check_admission with the snapshot's facts), raising a ConsensusError to refuse it."""
        self._target_known = target_known
        self._admit = admit
        self._lock = threading.RLock()
        self._current: dict[bytes, _Box] = {}
        self._future: dict[bytes, _Box] = {}
        self._received: set[bytes] = set()  # envelope hashes held, current or future
        self.listeners: list[Listener] = []

    # -- taking votes in -------------------------------------------------------------------------------------------
    def put(self, vote: VoteEnvelope, head_number: int) -> None:
        """Take a vote in, or raise the VoteRejected / InvalidVote that says why not."""
        refused = self.put_many([vote], head_number)[0]
        if refused is not None:
            raise refused

    def put_many(self, votes: Sequence[VoteEnvelope], head_number: int) -> list[ConsensusError | None]:
        """Take votes in as `put` does one by one, their signatures checked in one batch (votes.verify_votes);
        returns, per vote, None when it was taken in, else the error that says why not."""
        refused: list[ConsensusError | None] = [None] * len(votes)
        candidates: list[tuple[int, VoteEnvelope, bytes, bool]] = []
        for i, vote in enumerate(votes):
            try:
                candidates.append((i, vote, *self._precheck(vote, head_number)))
            except ConsensusError as exc:
                refused[i] = exc
        # the BLS checks, outside the lock: they are the slow part
        valid = verify_votes([vote for _, vote, _, _ in candidates])
        taken: list[VoteEnvelope] = []
        for (i, vote, vote_hash, future), ok in zip(candidates, valid):
            try:
                if not ok:
                    raise vote.bad_signature()
                if not future:
                    self._admit(vote)
                self._insert(vote, vote_hash, future)
            except ConsensusError as exc:
                refused[i] = exc
                continue
            if not future:
                taken.append(vote)
        self._notify(taken)
        return refused

    def _precheck(self, vote: VoteEnvelope, head_number: int) -> tuple[bytes, bool]:
        """(hash, future) of a vote in range, not yet held, for a block with room; else the VoteRejected."""
        data = vote.data
        if data.target_number + LOWER_LIMIT - 1 < head_number or data.target_number > head_number + UPPER_LIMIT:
            raise VoteOutOfRange(f"vote {data} outside ({head_number - LOWER_LIMIT}, {head_number + UPPER_LIMIT}] "
                                 f"around head {head_number}")
        # a target above the head cannot be known yet: no lookup (the usual case of a vote that beat its block here)
        future = data.target_number > head_number or not self._target_known(data.target_hash)
        vote_hash = vote.hash()
        with self._lock:
            self._check_room(vote, vote_hash, future)
        return vote_hash, future

    def _check_room(self, vote: VoteEnvelope, vote_hash: bytes, future: bool) -> None:
        """Under the lock: DuplicateVote or TooManyVotesForBlock."""
        if vote_hash in self._received:
            raise DuplicateVote(f"vote {encode_hex(vote_hash)} is already in the pool")
        data = vote.data
        cap = MAX_FUTURE_VOTES_PER_BLOCK if future else MAX_CURRENT_VOTES_PER_BLOCK
        box = (self._future if future else self._current).get(data.target_hash)
        if box is not None and len(box.votes) >= cap:
            raise TooManyVotesForBlock(
                f"already {len(box.votes)} votes for block {data.target_number} "
                f"({encode_hex(data.target_hash)}), at most {cap}")

    def _insert(self, vote: VoteEnvelope, vote_hash: bytes, future: bool) -> None:
        with self._lock:
            self._check_room(vote, vote_hash, future)   # another thread (or this batch) may have filled it meanwhile
            boxes = self._future if future else self._current
            boxes.setdefault(vote.data.target_hash, _Box(vote.data.target_number)).votes.append(vote)
            self._received.add(vote_hash)

    # -- head changes ------------------------------------------------------------------------------------------------
    def on_new_head(self, head_number: int) -> None:
        """Prune current votes below the window, then move future votes whose block arrived (or that fell more than
        11 below the head, to be checked and mostly dropped) to current."""
        moved: list[VoteEnvelope] = []
        with self._lock:
            for target_hash, box in list(self._current.items()):
                if box.number + LOWER_LIMIT - 1 < head_number:
                    del self._current[target_hash]
                    self._received.difference_update(v.hash() for v in box.votes)
            for target_hash, box in sorted(self._future.items(), key=lambda item: item[1].number):
                if box.number > head_number:
                    break
                if box.number + UPPER_LIMIT < head_number or self._target_known(target_hash):
                    moved.extend(self._transfer(target_hash, box))
        self._notify(moved)

    def _transfer(self, target_hash: bytes, box: _Box) -> list[VoteEnvelope]:
        del self._future[target_hash]
        valid = []
        for vote in box.votes:
            try:
                if not self._target_known(target_hash):
                    raise VoteOutOfRange(f"block {box.number} never arrived")
                self._admit(vote)
            except ConsensusError:
                self._received.discard(vote.hash())
                continue
            valid.append(vote)
        if valid:
            # may exceed 21 votes for the target, as in BSC: they were bounded by 50 while waiting
            self._current.setdefault(target_hash, _Box(box.number)).votes.extend(valid)
        return valid

    def _notify(self, votes: list[VoteEnvelope]) -> None:
        for vote in votes:
            for listener in list(self.listeners):
                listener(vote)

    # -- reading -----------------------------------------------------------------------------------------------------
    def fetch(self, target_hash: bytes, source_number: int | None = None) -> list[VoteEnvelope]:
        """Current votes for one target block (with that source number, when given): what an attestation takes."""
        with self._lock:
            box = self._current.get(target_hash)
            votes = list(box.votes) if box is not None else []
        return votes if source_number is None else [v for v in votes if v.data.source_number == source_number]

    def current_votes(self) -> list[VoteEnvelope]:
        """Every current vote (BSC's GetVotes: what a new peer is sent)."""
        with self._lock:
            return [v for box in self._current.values() for v in box.votes]

    def counts(self) -> tuple[int, int]:
        """(current, future) votes held."""
        with self._lock:
            return (sum(len(b.votes) for b in self._current.values()),
                    sum(len(b.votes) for b in self._future.values()))

