"""Parlia snapshots: the validator set, turn length and recent signers after a block, and the store that finds them.

Rules (../shared/reference/parlia.md section 4, bsc consensus/parlia/snapshot.go), N validators, turn length T:
- the in-turn signer of block n is validators[(n // T) % N] in address order;
- recents: a validator that sealed T or more of the previous (N/2+1)*T - 1 blocks may not seal (T = 1: none of
  the last N/2);
- an epoch block E (E % epoch == 0) announces the next set; it takes over once block E + (N/2+1)*T - 1 is applied
  (N and T of the old set), and the recents are cleared then (Bohr, BEP-404);
- fast finality (finality.md section 6): a header's vote attestation moves the justified block to its target, and
  finalizes its source when the target is the source's child (BSC's updateAttestation, Fermi rules); recents at
  or below the finalized block are forgotten (Maxwell, BEP-524).
A Snapshot is an immutable value; `apply` returns a new one. SnapshotStore finds the snapshot after any header by
walking back to the nearest one in memory, in the key-value db (every `checkpoint_interval` blocks) or genesis.
"""
from __future__ import annotations

from collections.abc import Callable, Iterable, Mapping, Sequence
from dataclasses import dataclass, replace

import rlp
from eth.abc import BlockHeaderAPI
from eth_utils import encode_hex, keccak
from lru import LRU
from rlp.sedes import Binary, CountableList, List, big_endian_int

from consensus import attestation as attestations
from consensus import header as rules
from consensus.attestation import Finality
from consensus.errors import (
    OutOfRangeChain,
    RecentlySigned,
    UnauthorizedValidator,
    UnknownAncestor,
)
from consensus.genesis import genesis_validators
from consensus.header import ValidatorInfo

CHECKPOINT_INTERVAL = 1024  # BSC's checkpointInterval: a snapshot is written to the db every 1024 blocks
CACHE_SIZE = 1280  # BSC's inMemorySnapshots
DB_PREFIX = b"parlia-"  # BSC's key prefix; followed by the block hash
GENESIS_KEY = b"parlia-genesis-hash"  # the genesis hash, for the (0, genesis) justified block before any attestation

Author = Callable[[BlockHeaderAPI], bytes]


@dataclass(frozen=True)
class EpochSet:
    """A validator set as an epoch block carries it: validators ascending by address, with their turn length."""

    validators: tuple[ValidatorInfo, ...]
    turn_length: int

    def __post_init__(self) -> None:
        addresses = [v.address for v in self.validators]
        if not addresses or addresses != sorted(set(addresses)):
            raise ValueError(f"want a non-empty set of distinct validators in address order, have {len(addresses)}")
        if not 1 <= self.turn_length <= 255:
            raise ValueError(f"want a turn length of 1..255, have {self.turn_length}")

    @classmethod
    def of(cls, validators: Iterable[ValidatorInfo | bytes], turn_length: int = 1) -> EpochSet:
        """Sorted by address; bare addresses get a zero BLS key; a repeated address counts once."""
        infos = {}
        for v in validators:
            info = v if isinstance(v, ValidatorInfo) else ValidatorInfo(v)
            infos.setdefault(info.address, info)
        return cls(tuple(infos[a] for a in sorted(infos)), turn_length)

    @property
    def addresses(self) -> tuple[bytes, ...]:
        return tuple(v.address for v in self.validators)


@dataclass(frozen=True)
class Snapshot:
    """The consensus state after block `number`: who may seal block number + 1, and how."""

    chain_id: int
    epoch_length: int
    number: int
    hash: bytes
    validators: tuple[ValidatorInfo, ...]  # ascending by address
    turn_length: int
    recents: tuple[tuple[int, bytes], ...] = ()  # (block number, signer), ascending, inside the recents window
    # the set announced by the last epoch block, as (epoch block number, set), until its switch block is applied
    pending: tuple[int, EpochSet] | None = None
    # justified and finalized blocks (BSC's Snapshot.Attestation); None before any attestation
    finality: Finality | None = None

    @classmethod
    def genesis(cls, header: BlockHeaderAPI, chain_id: int, epoch_length: int, turn_length: int = 1) -> Snapshot:
        """The snapshot after genesis: its extraData's validators, bare addresses (BSC's own genesis) or with vote
        keys (a devnet's Luban-layout genesis, consensus/genesis.py)."""
        genesis_set = EpochSet.of(genesis_validators(header.extra_data), turn_length)
        # Epoch 0 switches to its own set like any epoch (BSC does), so genesis is its first pending set.
        return cls(chain_id, epoch_length, header.block_number, header.hash, genesis_set.validators, turn_length,
                   (), (header.block_number, genesis_set))

    # -- the set ---------------------------------------------------------------------------------------------------
    @property
    def addresses(self) -> tuple[bytes, ...]:
        return tuple(v.address for v in self.validators)

    @property
    def epoch_set(self) -> EpochSet:
        """The set in force, as an epoch block would carry it."""
        return EpochSet(self.validators, self.turn_length)

    def is_validator(self, address: bytes) -> bool:
        return address in self.addresses

    def in_turn_validator(self) -> bytes:
        """Whose turn block number + 1 is."""
        return rules.in_turn_validator(self.addresses, self.number + 1, self.turn_length)

    def in_turn(self, validator: bytes) -> bool:
        return self.in_turn_validator() == validator

    # -- recents ---------------------------------------------------------------------------------------------------
    @property
    def recents_window(self) -> int:
        """(N/2+1)*T - 1: how many previous blocks the recents rule looks at (BSC's minerHistoryCheckLen)."""
        return (len(self.validators) // 2 + 1) * self.turn_length - 1

    def recent_counts(self) -> dict[bytes, int]:
        """Blocks each validator sealed among the `recents_window` blocks before block number + 1."""
        first = self.number + 1 - self.recents_window
        counts: dict[bytes, int] = {}
        for block, signer in self.recents:
            if block >= first:
                counts[signer] = counts.get(signer, 0) + 1
        return counts

    def signed_recently(self, validator: bytes, counts: Mapping[bytes, int] | None = None) -> bool:
        """True when `validator` may not seal block number + 1: T or more blocks in the recents window."""
        counts = self.recent_counts() if counts is None else counts
        return counts.get(validator, 0) >= self.turn_length

    def switch_block(self, epoch_block: int) -> int:
        """The block after which the set announced at `epoch_block` takes over (N and T of this snapshot)."""
        return epoch_block + self.recents_window

    # -- transition ------------------------------------------------------------------------------------------------
    def apply(self, headers: Sequence[BlockHeaderAPI], author: Author | None = None) -> Snapshot:
        """The snapshot after `headers`, which must continue this one block by block.

        Checks only what the snapshot decides (signer authorised, recents); `author` recovers a header's signer
        (default: header.recover_signer with this chain id; the engine passes its cached one).
        """
        author = author or (lambda h: rules.recover_signer(h, self.chain_id))
        snap = self
        for header in headers:
            snap = snap._apply_one(header, author)
        return snap

    def _apply_one(self, header: BlockHeaderAPI, author: Author) -> Snapshot:
        number = header.block_number
        if number != self.number + 1 or header.parent_hash != self.hash:
            raise OutOfRangeChain(
                f"want block {self.number + 1} on parent {encode_hex(self.hash)}, "
                f"have block {number} on parent {encode_hex(header.parent_hash)}"
            )
        signer = author(header)
        if not self.is_validator(signer):
            raise UnauthorizedValidator(
                f"block {number}: signer {encode_hex(signer)} is not in the validator set of {len(self.validators)}"
            )
        counts = self.recent_counts()
        if self.signed_recently(signer, counts):
            raise RecentlySigned(
                f"block {number}: signer {encode_hex(signer)} sealed {counts[signer]} of the last "
                f"{self.recents_window} blocks, want fewer than turn length {self.turn_length}"
            )
        first = number - self.recents_window  # older entries can no longer count against anyone
        recents = tuple((b, s) for b, s in self.recents if b >= first) + ((number, signer),)
        validators, turn_length, pending = self.validators, self.turn_length, self.pending
        parsed = rules.parse_extra(header.extra_data, epoch_block=number % self.epoch_length == 0)
        attestation = rules.decode_attestation(parsed.attestation) if parsed.attestation else None
        finality = attestations.update(self.finality, attestation, number, header.parent_hash, fermi=True)
        if finality is not None:
            # Maxwell (BEP-524): a finalized block no longer holds its sealer back
            recents = tuple((b, s) for b, s in recents if b > finality.finalized[0])
        if number % self.epoch_length == 0:
            pending = (number, EpochSet.of(parsed.validators, parsed.turn_length or self.turn_length))
        epoch_block = number - number % self.epoch_length
        # Once a set has taken over, pending is cleared: a larger new set (longer window) cannot switch twice.
        if number > 0 and pending is not None and pending[0] == epoch_block and \
                number % self.epoch_length == self.recents_window:
            validators, turn_length = pending[1].validators, pending[1].turn_length
            recents, pending = (), None
        return replace(self, number=number, hash=header.hash, validators=validators, turn_length=turn_length,
                       recents=recents, pending=pending, finality=finality)

    # -- storage ---------------------------------------------------------------------------------------------------
    def encode(self) -> bytes:
        pending = [] if self.pending is None else [
            [self.pending[0], self.pending[1].turn_length, _encode_validators(self.pending[1].validators)]
        ]
        finality = [] if self.finality is None else [[*self.finality.justified, *self.finality.finalized]]
        return rlp.encode([
            self.chain_id, self.epoch_length, self.number, self.hash, _encode_validators(self.validators),
            self.turn_length, [list(r) for r in self.recents], pending, finality,
        ], sedes=_SNAPSHOT_SEDES)

    @classmethod
    def decode(cls, data: bytes) -> Snapshot:
        items = rlp.decode(data)
        if len(items) == 8:  # written before fast finality: no attestation seen yet
            items.append([])
        chain_id, epoch_length, number, block_hash, validators, turn_length, recents, pending, finality = (
            _SNAPSHOT_SEDES.deserialize(items))
        decoded_pending = None
        if pending:
            [(epoch_block, pending_turn, pending_validators)] = pending
            decoded_pending = (epoch_block, EpochSet(_decode_validators(pending_validators), pending_turn))
        decoded_finality = None
        if finality:
            [(justified_number, justified_hash, finalized_number, finalized_hash)] = finality
            decoded_finality = Finality((justified_number, justified_hash), (finalized_number, finalized_hash))
        return cls(chain_id, epoch_length, number, block_hash, _decode_validators(validators), turn_length,
                   tuple((b, s) for b, s in recents), decoded_pending, decoded_finality)


_VALIDATORS_SEDES = CountableList(List([Binary.fixed_length(rules.ADDRESS_LEN),
                                        Binary.fixed_length(rules.BLS_PUBKEY_LEN)]))
_SNAPSHOT_SEDES = List([
    big_endian_int, big_endian_int, big_endian_int, Binary.fixed_length(32), _VALIDATORS_SEDES, big_endian_int,
    CountableList(List([big_endian_int, Binary.fixed_length(rules.ADDRESS_LEN)])),
    CountableList(List([big_endian_int, big_endian_int, _VALIDATORS_SEDES]), max_length=1),
    CountableList(List([big_endian_int, Binary.fixed_length(32), big_endian_int, Binary.fixed_length(32)]),
                  max_length=1),
])


def _encode_validators(validators: Sequence[ValidatorInfo]) -> list[list[bytes]]:
    return [[v.address, v.vote_address] for v in validators]


def _decode_validators(raw: Sequence[Sequence[bytes]]) -> tuple[ValidatorInfo, ...]:
    return tuple(ValidatorInfo(address, vote) for address, vote in raw)


# --- back-off ---


def shuffled_steps(count: int, seed: int) -> list[int]:
    """A deterministic permutation of 0..count-1 for `seed` (Fisher-Yates driven by keccak).

    BSC shuffles with Go's math/rand seeded the same way; only that generator reproduces BSC's exact times, and
    a devnet only needs every node to agree, which any deterministic permutation gives.
    """
    steps = list(range(count))
    for i in range(count - 1, 0, -1):
        j = int.from_bytes(keccak(seed.to_bytes(8, "big") + i.to_bytes(4, "big")), "big") % (i + 1)
        steps[i], steps[j] = steps[j], steps[i]
    return steps


def backoff_ms(snap: Snapshot, validator: bytes, initial_ms: int = 2000, wiggle_ms: int = 1000) -> int:
    """Extra wait beyond the period before `validator` may seal block snap.number + 1 (BSC Bohr/Lorentz backOffTime).

    0 in turn. Out of turn: `initial_ms` (0 when the in-turn validator signed recently and cannot seal) plus
    `wiggle_ms` times the validator's step in a shuffle of the validators that may seal, less the in-turn one,
    seeded by number // turn length. With the in-turn validator out, step 0 seals at once and step k waits
    initial + (k-1) * wiggle (Lorentz). 0 also for validators that may not seal at all (not one, or recent).
    """
    if snap.in_turn(validator):
        return 0
    counts = snap.recent_counts()
    if snap.signed_recently(validator, counts):
        return 0
    in_turn = snap.in_turn_validator()
    in_turn_out = snap.signed_recently(in_turn, counts)
    candidates = [a for a in snap.addresses if a != in_turn and not snap.signed_recently(a, counts)]
    if validator not in candidates:
        return 0
    steps = shuffled_steps(len(candidates), (snap.number + 1) // snap.turn_length)
    step = steps[candidates.index(validator)]
    if in_turn_out:
        return 0 if step == 0 else initial_ms + (step - 1) * wiggle_ms
    return initial_ms + step * wiggle_ms


# --- the store ---


class SnapshotStore:
    """Snapshots by block hash: an LRU in memory, checkpoints in a key-value db, the rest rebuilt by walking back.

    `header_by_hash(hash)` returns a known header or None; `db` is any mapping with get/__setitem__ (node.db.LmdbDB,
    or a dict in tests). Finding the snapshot after a header applies only the headers since the nearest snapshot
    in memory, in the db (looked for at multiples of `checkpoint_interval`) or genesis.
    """

    def __init__(self, chain_id: int, epoch_length: int, header_by_hash: Callable[[bytes], BlockHeaderAPI | None],
                 db: object | None = None, *, turn_length: int = 1, author: Author | None = None,
                 checkpoint_interval: int = CHECKPOINT_INTERVAL, cache_size: int = CACHE_SIZE):
        self.chain_id = chain_id
        self.epoch_length = epoch_length
        self.turn_length = turn_length
        self.checkpoint_interval = checkpoint_interval
        self._header_by_hash = header_by_hash
        self._db = {} if db is None else db
        self._author = author or (lambda h: rules.recover_signer(h, chain_id))
        self._cache = LRU(cache_size)  # C extension: single operations are atomic under the GIL
        self._genesis_hash: bytes | None = None

    def get(self, header: BlockHeaderAPI) -> Snapshot:
        """The snapshot after `header` (its validators may seal the child of `header`)."""
        pending: list[BlockHeaderAPI] = []
        cursor = header
        while True:
            snap = self._cache.get(cursor.hash)
            if snap is not None:
                break
            if cursor.block_number % self.checkpoint_interval == 0:
                snap = self.load(cursor.hash)
                if snap is not None:
                    break
            if cursor.block_number == 0:
                snap = Snapshot.genesis(cursor, self.chain_id, self.epoch_length, self.turn_length)
                self._save(snap)
                self._remember_genesis(cursor.hash)
                break
            pending.append(cursor)
            parent = self._header_by_hash(cursor.parent_hash)
            if parent is None:
                raise UnknownAncestor(
                    f"no header 0x{cursor.parent_hash.hex()} (parent of block {cursor.block_number}) to build "
                    f"the snapshot of block {header.block_number} from"
                )
            cursor = parent
        for h in reversed(pending):
            snap = snap.apply([h], self._author)
            if snap.number % self.checkpoint_interval == 0:
                self._save(snap)
        self._cache[snap.hash] = snap
        return snap

    def genesis_hash(self, header: BlockHeaderAPI) -> bytes:
        """The hash of the genesis block under `header`: remembered, kept in the db, or (once, for a db written
        before fast finality) found by walking the headers back."""
        if self._genesis_hash is None:
            stored = self._db.get(GENESIS_KEY)
            if stored is not None:
                self._genesis_hash = bytes(stored)
            else:
                cursor = header
                while cursor.block_number > 0:
                    parent = self._header_by_hash(cursor.parent_hash)
                    if parent is None:
                        raise UnknownAncestor(f"no header 0x{cursor.parent_hash.hex()} (parent of block "
                                              f"{cursor.block_number}) on the way to genesis")
                    cursor = parent
                self._remember_genesis(cursor.hash)
        return self._genesis_hash

    def _remember_genesis(self, block_hash: bytes) -> None:
        if self._genesis_hash is None:
            self._genesis_hash = block_hash
            self._db[GENESIS_KEY] = block_hash

    def load(self, block_hash: bytes) -> Snapshot | None:
        """The checkpoint stored for `block_hash`, if any."""
        data = self._db.get(DB_PREFIX + block_hash)
        return None if data is None else Snapshot.decode(bytes(data))

    def _save(self, snap: Snapshot) -> None:
        self._db[DB_PREFIX + snap.hash] = snap.encode()
