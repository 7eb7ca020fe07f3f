"""Fast finality in the engine: justified/finalized at a header, the attestation check of verify_header, the
attestation a sealer puts into its header, and the pool's admission rule for a vote (finality.md sections 5-9).

Everything is read from snapshots (SnapshotStore) and headers by hash; the votes come from a callable the node
passes in (`VoteSource`, e.g. VotePool.fetch). Rules chosen, as BSC today (Fermi, BEP-590): an attestation may
target the parent, grandparent or great-grandparent, and every such attestation moves the snapshot; checks are
strict from block 1 (BSC only logs bad attestations before Plato). Finality rewards: every 200th block the
attestations of the previous 200 headers weigh who voted (reward_weights, BSC's distributeFinalityReward).
BEP-648's early finality is `finalized(header, votes_for)`; Maxwell's recents cleanup is in Snapshot.apply.
"""
from __future__ import annotations

import threading
from collections import OrderedDict
from collections.abc import Callable, Sequence

from eth.abc import BlockHeaderAPI
from eth_utils import encode_hex

from consensus import attestation, votes
from consensus import header as rules
from consensus.attestation import Block
from consensus.errors import (
    AttestationUnverifiable,
    ConsensusError,
    UnknownAncestor,
    UnknownVoteTarget,
)
from consensus.header import ValidatorInfo
from consensus.snapshot import SnapshotStore
from consensus.votepool import check_admission
from consensus.votes import VoteData, VoteEnvelope

VoteSource = Callable[[bytes, int], Sequence[VoteEnvelope]]  # (target hash, source number) -> votes held
HeaderLookup = Callable[[bytes], BlockHeaderAPI | None]
FIRST_ATTESTED_BLOCK = 3  # BSC's assembleVoteAttestation starts at block 3
FINALITY_REWARD_INTERVAL = 200  # BSC's finalityRewardInterval, whatever the epoch length
ADDITIONAL_VOTES_REWARD_RATIO = 100  # BSC's collectAdditionalVotesRewardRatio (percent)
ANCESTOR_DEPTH = attestation.ANCESTOR_DEPTH_FERMI
RECENT_BLOCKS = 256  # headers, and vote admission facts, kept by hash


class FastFinality:
    """The finality rules over one chain's snapshots and headers."""

    def __init__(self, store: SnapshotStore, header_by_hash: HeaderLookup, epoch_length: int, *,
                 votes_for: VoteSource | None = None, depth: int = ANCESTOR_DEPTH):
        self.store = store
        self.epoch_length = epoch_length
        self.votes_for = votes_for
        self.depth = depth
        self._lookup = header_by_hash
        # a hash names one header forever, and the snapshot after it one set and one justified block: what the vote
        # pool asks for every vote it takes in (N votes per block, on every node) is kept for recent blocks
        self._headers: OrderedDict[bytes, BlockHeaderAPI] = OrderedDict()
        self._facts: OrderedDict[bytes, tuple[int, Block, tuple[ValidatorInfo, ...]]] = OrderedDict()
        self._cache_lock = threading.Lock()

    def _header_by_hash(self, block_hash: bytes) -> BlockHeaderAPI | None:
        """The header by hash, recent ones from memory (only found ones are kept: a block may arrive later)."""
        with self._cache_lock:
            found = self._headers.get(block_hash)
        if found is None:
            found = self._lookup(block_hash)
            if found is not None:
                self._remember(self._headers, block_hash, found)
        return found

    def known(self, block_hash: bytes) -> bool:
        """Whether the chain has the block (the vote pool's `target_known`)."""
        return self._header_by_hash(block_hash) is not None

    def _remember(self, cache: OrderedDict, key: bytes, value: object) -> None:
        with self._cache_lock:
            cache[key] = value
            while len(cache) > RECENT_BLOCKS:
                cache.popitem(last=False)

    # -- reading -----------------------------------------------------------------------------------------------------
    def justified(self, header: BlockHeaderAPI) -> Block:
        """(number, hash) of the highest justified block at `header`; (0, genesis) before any attestation.
        Every vote on `header` and attestation in its child must name it as source."""
        return attestation.justified_at(self.store.get(header).finality, self.store.genesis_hash(header))

    def finalized(self, header: BlockHeaderAPI, votes_for: VoteSource | None = None) -> Block:
        """(number, hash) of the finalized block at `header`; (0, genesis) before any attestation.

        With a vote source (BEP-648, GetFinalizedHeader): when the parent is justified and a quorum of votes for
        `header` itself names it as source, the parent is finalized already, a block earlier than the snapshot says.
        """
        finality = self.store.get(header).finality
        found = attestation.finalized_at(finality, self.store.genesis_hash(header))
        if votes_for is None or finality is None or finality.justified[0] != header.block_number - 1:
            return found
        voters = self.voters(header)
        keys = {v.vote_address for v in voters}
        data = VoteData(*finality.justified, header.block_number, header.hash)
        held = {v.vote_address for v in votes_for(header.hash, finality.justified[0])
                if v.data == data and v.vote_address in keys}
        return finality.justified if len(held) >= attestation.quorum(len(voters)) else found

    def voters(self, target: BlockHeaderAPI) -> tuple[ValidatorInfo, ...]:
        """Who may vote for `target`: the set of the snapshot at target - 1, in address order (bit i = i-th)."""
        return self.store.get(self._parent(target)).validators

    def vote_data(self, head: BlockHeaderAPI) -> VoteData | None:
        """What a validator votes for a new head: source = justified at the head, target = the head."""
        justified_number, justified_hash = self.justified(head)
        return votes.vote_for(head.block_number, head.hash, justified_number, justified_hash)

    def targets(self, parent: BlockHeaderAPI) -> list[BlockHeaderAPI]:
        """The blocks an attestation in the child of `parent` may target, nearest first (parent first)."""
        found = [parent]
        while len(found) < self.depth and found[-1].block_number > 0:
            found.append(self._parent(found[-1]))
        return found

    def _parent(self, header: BlockHeaderAPI) -> BlockHeaderAPI:
        parent = self._header_by_hash(header.parent_hash)
        if parent is None:
            raise UnknownAncestor(f"no header {encode_hex(header.parent_hash)} (parent of block "
                                  f"{header.block_number})")
        return parent

    def _voters_by_block(self, number: int, block_hash: bytes) -> tuple[ValidatorInfo, ...]:
        target = self._header_by_hash(block_hash)
        if target is None or target.block_number != number:
            raise UnknownAncestor(f"no header {encode_hex(block_hash)} at block {number} to take voters from")
        return self.voters(target)

    # -- verify_header ---------------------------------------------------------------------------------------------
    def verify(self, header: BlockHeaderAPI, parent: BlockHeaderAPI) -> None:
        """BSC's verifyVoteAttestation: nothing without an attestation; else the named InvalidAttestation."""
        found = self.attestation_of(header)
        if found is None:
            return
        attestation.verify(found, justified=self.justified(parent),
                           ancestors=[(h.block_number, h.hash) for h in self.targets(parent)],
                           validators=self._voters_by_block)

    def attestation_of(self, header: BlockHeaderAPI) -> rules.VoteAttestation | None:
        """The attestation `header` carries, or None."""
        return attestation.from_extra(header.extra_data,
                                      epoch_block=header.block_number % self.epoch_length == 0)

    # -- sealing -----------------------------------------------------------------------------------------------------
    def assemble(self, parent: BlockHeaderAPI) -> bytes:
        """The RLP attestation for the child of `parent` from the vote source, or b"" without a quorum.

        Tries the parent, then older targets (Fermi); the result is verified before use, so a bad vote that slipped
        into the pool costs the block its attestation, never its validity (BSC: a failed assembly is not fatal).
        """
        if self.votes_for is None or parent.block_number + 1 < FIRST_ATTESTED_BLOCK:
            return b""
        justified = self.justified(parent)
        for target in self.targets(parent):
            if target.block_number <= justified[0]:
                break
            data = VoteData(justified[0], justified[1], target.block_number, target.hash)
            voters = self.voters(target)
            keys = {v.vote_address for v in voters}
            held = [v for v in self.votes_for(target.hash, justified[0]) if v.data == data and v.vote_address in keys]
            if len({v.vote_address for v in held}) < attestation.quorum(len(voters)):
                continue
            try:
                made = attestation.assemble(held, voters, data)
                attestation.verify_votes(made, voters)
            except ConsensusError:
                continue
            return rules.encode_attestation(made)
        return b""

    # -- finality rewards ----------------------------------------------------------------------------------------------
    def reward_weights(self, header: BlockHeaderAPI) -> list[tuple[bytes, int]]:
        """(validator, weight) ascending by address for a block whose number is a multiple of 200, else [].

        Over headers n-1 down to n-200 (not below 1): each attestation gives 1 to each voter (bits < N of the set
        at target - 1) and its sealer the votes above quorum; one with more bits than validators is skipped.
        """
        number = header.block_number
        if number == 0 or number % FINALITY_REWARD_INTERVAL:
            return []
        weights: dict[bytes, int] = {}
        cursor = header
        for _ in range(min(FINALITY_REWARD_INTERVAL, number - 1)):
            cursor = self._parent(cursor)
            found = self.attestation_of(cursor)
            if found is None:
                continue
            target = self._header_by_hash(found.target_hash)
            if target is None:  # BSC logs and goes on
                continue
            voters = self.voters(target)
            if found.vote_address_set.bit_count() > len(voters):
                continue
            count = 0
            for i, voter in enumerate(voters):
                if found.vote_address_set >> i & 1:
                    weights[voter.address] = weights.get(voter.address, 0) + 1
                    count += 1
            extra = (count - attestation.quorum(len(voters))) * ADDITIONAL_VOTES_REWARD_RATIO // 100
            if extra > 0:
                weights[cursor.coinbase] = weights.get(cursor.coinbase, 0) + extra
        return sorted(weights.items())

    # -- the vote pool -----------------------------------------------------------------------------------------------
    def admit(self, vote: VoteEnvelope) -> None:
        """BSC's VerifyVote for a vote whose target is known: the source is justified at the target and the key
        is a voter's there; raises a VoteRejected (for VotePool's `admit`)."""
        data = vote.data
        with self._cache_lock:
            facts = self._facts.get(data.target_hash)
        if facts is None:
            target = self._header_by_hash(data.target_hash)
            if target is not None:
                facts = (target.block_number, self.justified(target), self.voters(target))
                self._remember(self._facts, data.target_hash, facts)
        if facts is None or facts[0] != data.target_number:
            raise UnknownVoteTarget(f"vote {data}: no block {data.target_number} with hash "
                                    f"{encode_hex(data.target_hash)}")
        check_admission(vote, justified=facts[1], validators=facts[2])


def unverifiable(header: BlockHeaderAPI) -> AttestationUnverifiable:
    """The error for an attested header on an engine without headers (the static single-set mode)."""
    return AttestationUnverifiable(
        f"block {header.block_number} carries a vote attestation, but this engine has no header lookup to check "
        f"its source and voters")
