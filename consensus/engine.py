"""PosaEngine: Parlia's verbs (verify_header, prepare, seal, finalize, author) over header.py and snapshot.py.

Given a header lookup (and a key-value db for checkpoints) the engine follows the chain through snapshots: the
validator set, turn length and recent signers at the parent decide who may seal, with what difficulty and how
late. Without one it runs on the fixed genesis set with no recents, which is all a single-validator chain needs.
The next validator set for epoch blocks comes from `election(parent)` when given (staking state at the parent);
without one, or when it answers None, the set in force carries over.
Fast finality (finality.py, with snapshots only): verify_header checks a header's vote attestation before the seal;
prepare puts in an attestation of a quorum of the votes `votes_for(target hash, source number)` holds, when given;
justified / finalized / vote_data / admit_vote answer the node's voter, vote pool and block tags.
"""
from __future__ import annotations

import threading
from collections import OrderedDict
from collections.abc import Callable, Sequence
from dataclasses import dataclass

from eth.abc import BlockHeaderAPI, StateAPI
from eth_keys.datatypes import PrivateKey
from eth_utils import encode_hex

from consensus import header as rules
from consensus import system
from consensus import snapshot as snapshots
from consensus.attestation import Block
from consensus.errors import (
    CoinbaseMismatch,
    FutureBlock,
    InvalidBlockNumber,
    InvalidTimestamp,
    MismatchingEpochTurnLength,
    MismatchingEpochValidators,
    RecentlySigned,
    UnauthorizedValidator,
)
from consensus.finality import FastFinality, VoteSource, unverifiable
from consensus.header import ValidatorInfo
from consensus.snapshot import EpochSet, Snapshot, SnapshotStore
from consensus.votes import VoteData, VoteEnvelope

MS_PER_S = 1000
INITIAL_BACKOFF_MS = 2000  # BSC lorentzInitialBackOffTime
WIGGLE_MS = 1000  # BSC wiggleTime
AUTHORS_CACHED = 4096   # signers remembered by header hash

HeaderLookup = Callable[[bytes], BlockHeaderAPI | None]
Election = Callable[[BlockHeaderAPI], EpochSet | None]  # None: the set in force carries over


class ParliaParams:
    """The protocol parameters of one chain, as read from genesis."""

    def __init__(self, chain_id: int, period: int, epoch: int, validators: Sequence[bytes], *,
                 turn_length: int = 1, initial_backoff_ms: int = INITIAL_BACKOFF_MS, wiggle_ms: int = WIGGLE_MS):
        self.chain_id = chain_id
        self.period = period
        self.epoch = epoch
        self.validators = tuple(sorted(validators))  # the genesis set
        self.turn_length = turn_length  # of the genesis set (genesis extraData has no turnLength byte)
        self.initial_backoff_ms = initial_backoff_ms
        self.wiggle_ms = wiggle_ms


def header_ms(header: BlockHeaderAPI) -> int:
    """Block time in milliseconds: seconds in `timestamp`, the millisecond part in mixHash (BSC Lorentz+)."""
    return header.timestamp * MS_PER_S + int.from_bytes(header.mix_hash, "big")


@dataclass(frozen=True)
class HeaderFields:
    """What `prepare` decides for a new block; the chain fills in the rest."""

    coinbase: bytes
    difficulty: int
    timestamp: int
    mix_hash: bytes
    extra_data: bytes
    gas_limit: int


class PosaEngine:
    def __init__(self, params: ParliaParams, header_by_hash: HeaderLookup | None = None, db: object | None = None,
                 *, election: Election | None = None, checkpoint_interval: int = snapshots.CHECKPOINT_INTERVAL,
                 cache_size: int = snapshots.CACHE_SIZE, votes_for: VoteSource | None = None):
        """`header_by_hash` (+ `db` for checkpoints, memory only without it) turns on snapshots and finality;
        `votes_for` (settable later) lets prepare attest a quorum of votes."""
        if db is not None and header_by_hash is None:
            raise ValueError("a snapshot db needs header_by_hash to walk the chain")
        self.params = params
        self.election = election
        self._header_by_hash = header_by_hash
        self._authors: OrderedDict[bytes, bytes] = OrderedDict()   # header hash -> signer, the last AUTHORS_CACHED
        self._authors_lock = threading.Lock()
        self._signers: dict[bytes, bytes] = {}   # sealing key -> its address
        self.snapshots: SnapshotStore | None = None
        if header_by_hash is not None:
            self.snapshots = SnapshotStore(
                params.chain_id, params.epoch, header_by_hash, db, turn_length=params.turn_length,
                author=self.author, checkpoint_interval=checkpoint_interval, cache_size=cache_size)
        self._static_set = EpochSet.of(params.validators, params.turn_length) if params.validators else None
        self.finality: FastFinality | None = None
        if self.snapshots is not None and header_by_hash is not None:
            self.finality = FastFinality(self.snapshots, header_by_hash, params.epoch, votes_for=votes_for)
        elif votes_for is not None:
            raise ValueError("votes need a header lookup: attestations are checked against snapshots")

    @property
    def votes_for(self) -> VoteSource | None:
        return self.finality.votes_for if self.finality is not None else None

    @votes_for.setter
    def votes_for(self, source: VoteSource | None) -> None:
        if self.finality is None:
            raise ValueError("votes need a header lookup: attestations are checked against snapshots")
        self.finality.votes_for = source

    # -- author ----------------------------------------------------------------------------------------------------
    def _recover(self, header: BlockHeaderAPI) -> bytes:
        return rules.recover_signer(header, self.params.chain_id)

    def author(self, header: BlockHeaderAPI) -> bytes:
        """The validator that sealed `header` (cached by hash; a header this engine sealed is never recovered)."""
        block_hash = header.hash
        with self._authors_lock:
            found = self._authors.get(block_hash)
        if found is None:
            found = self._recover(header)
            self._remember_author(block_hash, found)
        return found

    def _remember_author(self, block_hash: bytes, signer: bytes) -> None:
        with self._authors_lock:
            self._authors[block_hash] = signer
            if len(self._authors) > AUTHORS_CACHED:
                self._authors.popitem(last=False)

    # -- snapshots -------------------------------------------------------------------------------------------------
    def snapshot(self, parent: BlockHeaderAPI) -> Snapshot:
        """The snapshot after `parent`: who may seal its child."""
        if self.snapshots is not None:
            return self.snapshots.get(parent)
        if self._static_set is None:
            raise ValueError("no genesis validators and no header lookup: nobody may seal")
        return Snapshot(self.params.chain_id, self.params.epoch, parent.block_number, parent.hash,
                        self._static_set.validators, self._static_set.turn_length)

    def validators_at(self, parent: BlockHeaderAPI) -> tuple[bytes, ...]:
        """The set allowed to seal the child of `parent`, in address order."""
        return self.snapshot(parent).addresses

    def in_turn_validator(self, parent: BlockHeaderAPI) -> bytes:
        """Whose turn the child of `parent` is."""
        return self.snapshot(parent).in_turn_validator()

    def in_turn(self, parent: BlockHeaderAPI, validator: bytes) -> bool:
        return self.snapshot(parent).in_turn(validator)

    def signed_recently(self, parent: BlockHeaderAPI, validator: bytes) -> bool:
        """True when the recents rule forbids `validator` to seal the child of `parent`."""
        return self.snapshot(parent).signed_recently(validator)

    def backoff_ms(self, parent: BlockHeaderAPI, validator: bytes) -> int:
        """How long after parent + period `validator` waits to seal the child of `parent` (0 in turn)."""
        return self._backoff(self.snapshot(parent), validator)

    def _backoff(self, snap: Snapshot, validator: bytes) -> int:
        return snapshots.backoff_ms(snap, validator, self.params.initial_backoff_ms, self.params.wiggle_ms)

    def next_block_ms(self, parent: BlockHeaderAPI, validator: bytes | None = None) -> int | None:
        """Earliest time the child of `parent` may carry; for `validator`, its own (period + back-off).

        None when `validator` may not seal that block at all (not in the set, or signed recently).
        """
        earliest = header_ms(parent) + self.params.period * MS_PER_S
        if validator is None:
            return earliest
        snap = self.snapshot(parent)
        if not snap.is_validator(validator) or snap.signed_recently(validator):
            return None
        return earliest + self._backoff(snap, validator)

    # -- fast finality ---------------------------------------------------------------------------------------------
    def justified(self, header: BlockHeaderAPI) -> Block:
        """(number, hash) of the highest justified block at `header`: (0, genesis) before any attestation, and
        (0, zero hash) on an engine without snapshots (nobody votes on such a chain)."""
        return self.finality.justified(header) if self.finality is not None else (0, bytes(32))

    def finalized(self, header: BlockHeaderAPI, votes_for: VoteSource | None = None) -> Block:
        """(number, hash) of the finalized block at `header` ((0, genesis) before any attestation); with a vote
        source, a quorum of votes for `header` finalizes its justified parent at once (BEP-648)."""
        return self.finality.finalized(header, votes_for) if self.finality is not None else (0, bytes(32))

    def vote_data(self, head: BlockHeaderAPI) -> VoteData | None:
        """The vote a validator signs for a new head (None before there is a justified hash to name)."""
        return self.finality.vote_data(head) if self.finality is not None else None

    def voters(self, target: BlockHeaderAPI) -> tuple[ValidatorInfo, ...]:
        """The validators (with vote keys) who may vote for `target`: the set at target - 1."""
        if self.finality is None:
            return self.snapshot(target).validators
        return self.finality.voters(target)

    def admit_vote(self, vote: VoteEnvelope) -> None:
        """The vote pool's check of a vote for a known block (VotePool's `admit`); raises a VoteRejected."""
        if self.finality is None:
            raise ValueError("votes need a header lookup: attestations are checked against snapshots")
        self.finality.admit(vote)

    def prefer_by_justified(self, current: BlockHeaderAPI, candidate: BlockHeaderAPI) -> bool | None:
        """BSC's fork choice with fast finality: True when `candidate` has the higher justified block (even on a
        shorter chain), False when `current` has, None when they tie (then the Parlia rule: total difficulty...)."""
        mine, theirs = self.justified(current)[0], self.justified(candidate)[0]
        return None if mine == theirs else theirs > mine

    def _verify_attestation(self, header: BlockHeaderAPI, parent: BlockHeaderAPI) -> None:
        if self.finality is not None:
            self.finality.verify(header, parent)
        elif rules.parse_extra(header.extra_data, epoch_block=header.block_number % self.params.epoch == 0
                               ).attestation:
            raise unverifiable(header)

    # -- verification ------------------------------------------------------------------------------------------------
    def check_standalone(self, header: BlockHeaderAPI) -> None:
        rules.check_standalone(header, epoch_length=self.params.epoch)
        self.author(header)  # the seal must recover

    def verify_header(self, header: BlockHeaderAPI, parent: BlockHeaderAPI, now_ms: int | None = None) -> None:
        """Every Parlia rule for `header` given its parent: fields, time, gas limit, vote attestation, seal, epoch
        set, back-off."""
        self.check_standalone(header)
        number = header.block_number
        if number != parent.block_number + 1 or header.parent_hash != parent.hash:
            raise InvalidBlockNumber(
                f"block {number} (parent {encode_hex(header.parent_hash)}) does not follow block "
                f"{parent.block_number} ({encode_hex(parent.hash)})")
        if now_ms is not None and header.timestamp > now_ms // MS_PER_S:
            raise FutureBlock(f"block time {header.timestamp} s is in the future (now {now_ms // MS_PER_S} s)")
        rules.check_gas_limit(header, parent)
        self._verify_attestation(header, parent)  # BSC's order: after the gas limit, before the seal
        snap = self.snapshot(parent)
        self._verify_seal(header, snap)
        if number % self.params.epoch == 0:
            self._verify_epoch_set(header, self._expected_set(parent, snap))
        earliest = header_ms(parent) + self.params.period * MS_PER_S
        backoff = self._backoff(snap, header.coinbase)
        if header_ms(header) < earliest + backoff:
            raise InvalidTimestamp(
                f"block time {header_ms(header)} ms is before parent + period + back-off "
                f"({header_ms(parent)} + {self.params.period * MS_PER_S} + {backoff} = {earliest + backoff} ms)")

    def verify_seal(self, header: BlockHeaderAPI, parent: BlockHeaderAPI) -> None:
        """Signer = coinbase, in the parent snapshot's set, not recently signed, difficulty matching its turn."""
        self._verify_seal(header, self.snapshot(parent))

    def _verify_seal(self, header: BlockHeaderAPI, snap: Snapshot) -> None:
        signer = self.author(header)
        if signer != header.coinbase:
            raise CoinbaseMismatch(f"signer {encode_hex(signer)} is not the coinbase {encode_hex(header.coinbase)}")
        self._check_may_seal(snap, signer)
        rules.check_difficulty(header, snap.addresses, signer, snap.turn_length)

    def _check_may_seal(self, snap: Snapshot, signer: bytes) -> None:
        number = snap.number + 1
        if not snap.is_validator(signer):
            raise UnauthorizedValidator(
                f"block {number}: signer {encode_hex(signer)} is not in the validator set "
                f"({len(snap.validators)} validators at block {snap.number})")
        counts = snap.recent_counts()
        if snap.signed_recently(signer, counts):
            raise RecentlySigned(
                f"block {number}: signer {encode_hex(signer)} sealed {counts[signer]} of the last "
                f"{snap.recents_window} blocks, want fewer than turn length {snap.turn_length}")

    def _expected_set(self, parent: BlockHeaderAPI, snap: Snapshot) -> EpochSet:
        elected = self.election(parent) if self.election is not None else None
        return snap.epoch_set if elected is None else elected

    def _verify_epoch_set(self, header: BlockHeaderAPI, expected: EpochSet) -> None:
        parsed = rules.parse_extra(header.extra_data, epoch_block=True)
        if parsed.addresses != expected.addresses:
            raise MismatchingEpochValidators(
                f"epoch block {header.block_number}: want validators {_describe(expected.addresses)}, "
                f"have {_describe(parsed.addresses)}")
        for want, have in zip(expected.validators, parsed.validators):
            if want.vote_address != have.vote_address:
                raise MismatchingEpochValidators(
                    f"epoch block {header.block_number}: want BLS key {encode_hex(want.vote_address)} for "
                    f"{encode_hex(want.address)}, have {encode_hex(have.vote_address)}")
        if parsed.turn_length != expected.turn_length:
            raise MismatchingEpochTurnLength(
                f"epoch block {header.block_number}: want turn length {expected.turn_length}, "
                f"have {parsed.turn_length}")

    # -- production --------------------------------------------------------------------------------------------------
    def prepare(self, parent: BlockHeaderAPI, coinbase: bytes, now_ms: int,
                validators: Sequence[ValidatorInfo | bytes] | None = None,
                turn_length: int | None = None) -> HeaderFields:
        """Header fields for the child of `parent` sealed by `coinbase`, stamped no earlier than `now_ms`.

        An epoch block carries `validators` (with BLS keys) and `turn_length` when given, else the election's set,
        else the set in force. With a vote source, extraData carries an attestation of a quorum of votes when there
        is one. Raises UnauthorizedValidator / RecentlySigned when `coinbase` may not seal it.
        """
        number = parent.block_number + 1
        snap = self.snapshot(parent)
        self._check_may_seal(snap, coinbase)
        ms = max(header_ms(parent) + self.params.period * MS_PER_S + self._backoff(snap, coinbase), now_ms)
        attested = self.finality.assemble(parent) if self.finality is not None else b""
        if number % self.params.epoch == 0:
            next_set = self._next_set(parent, snap, validators, turn_length)
            extra = rules.encode_extra(validators=next_set.validators, turn_length=next_set.turn_length,
                                       attestation=attested)
        elif validators is not None or turn_length is not None:
            raise ValueError(f"block {number} is not an epoch block (every {self.params.epoch}): no validator set")
        else:
            extra = rules.encode_extra(attestation=attested)
        return HeaderFields(
            coinbase=coinbase,
            difficulty=rules.expected_difficulty(snap.addresses, number, coinbase, snap.turn_length),
            timestamp=ms // MS_PER_S,
            mix_hash=(ms % MS_PER_S).to_bytes(32, "big"),
            extra_data=extra,
            gas_limit=parent.gas_limit,
        )

    def _next_set(self, parent: BlockHeaderAPI, snap: Snapshot, validators: Sequence[ValidatorInfo | bytes] | None,
                  turn_length: int | None) -> EpochSet:
        if validators is not None:
            base = EpochSet.of(validators, snap.turn_length)
        else:
            base = self._expected_set(parent, snap)
        return base if turn_length is None else EpochSet(base.validators, turn_length)

    def seal(self, header: BlockHeaderAPI, key: PrivateKey) -> BlockHeaderAPI:
        sealed = rules.sign_header(header, key, self.params.chain_id)
        # the signer of our own seal is known: importing the block need not recover it
        signer = self._signers.get(key.to_bytes())
        if signer is None:   # (an address is a keccak of the public key: worked out once per key)
            signer = self._signers[key.to_bytes()] = key.public_key.to_canonical_address()
        self._remember_author(sealed.hash, signer)
        return sealed

    def finalize(self, state: StateAPI, header: BlockHeaderAPI) -> None:
        """Block-end rules every node applies (consensus/system): missed blocks, fee split, rewards, epoch set."""
        if not system.is_installed(state):
            return
        parent = self._header_by_hash(header.parent_hash) if self._header_by_hash is not None else None
        if parent is not None:
            in_turn = self.in_turn_validator(parent)
            recently = self.signed_recently(parent, in_turn)
        else:   # the static genesis set: no recents
            in_turn = rules.in_turn_validator(self.params.validators, header.block_number, self.params.turn_length)
            recently = False
        weights = self.finality.reward_weights(header) if self.finality is not None else []
        system.finalize_block(state, header, in_turn=in_turn, signed_recently=recently,
                              is_epoch=header.block_number % self.params.epoch == 0, finality_weights=weights)


def _describe(addresses: Sequence[bytes]) -> str:
    return "[" + ", ".join(encode_hex(a) for a in addresses) + f"] ({len(addresses)})"
