"""Fast-finality votes as BSC makes them: VoteData, VoteEnvelope, signing, the voting rules, dev vote keys.

Exact rules: ../shared/reference/finality.md sections 2, 3, 7, 11 and 12 (bsc core/types/vote.go,
core/vote/vote_manager.go, gc contracts/StakeHub.sol and SlashIndicator.sol).
- VoteData = [sourceNumber, sourceHash, targetNumber, targetHash]; a validator signs keccak256(RLP(VoteData)) with
  its BLS key, nothing else mixed in. Source = the highest justified block at the head, target = the head.
- VoteEnvelope = [voteAddress 48, signature 96, VoteData]; its hash identifies it in pools and on the wire.
- Rules a validator checks against its own earlier votes before signing (slashable if broken): no two votes for one
  target number (rule 1); no vote whose span surrounds or lies inside an earlier one (rule 2).
Everything here is pure: the journal of earlier votes is a mapping the caller keeps (and persists).
"""
from __future__ import annotations

from collections.abc import Iterable, Mapping, Sequence
from dataclasses import dataclass
from functools import lru_cache

import rlp
from eth_utils import encode_hex, keccak
from rlp.sedes import Binary, CountableList, List, big_endian_int

from consensus import bls
from consensus.errors import DoubleVote, InvalidVote, SurroundVote

MALICIOUS_VOTE_SLASH_SCOPE = 256  # BSC maliciousVoteSlashScope: how far back rule 2 looks
UPPER_LIMIT_OF_VOTE_BLOCK_NUMBER = 11  # BSC upperLimitOfVoteBlockNumber: how far ahead rule 2 looks
JOURNAL_CAPACITY = 512  # BSC maxSizeOfRecentEntry: votes a key remembers
_MEMO_SIZE = 8192  # votes whose hash and RLP are kept (21 validators x 256 blocks of the pool's window fit)
VOTE_DEADLINE_SLACK_MS = 50  # BSC: skip a vote when now + 50 ms is past head + depth * block interval

_HASH = Binary.fixed_length(32)
VOTE_DATA_SEDES = List([big_endian_int, _HASH, big_endian_int, _HASH])
_ENVELOPE_SEDES = List([
    Binary.fixed_length(bls.PUBLIC_KEY_LEN), Binary.fixed_length(bls.SIGNATURE_LEN), VOTE_DATA_SEDES,
])


@dataclass(frozen=True)
class VoteData:
    """What a vote (and an attestation) is about: the justified source and the voted target block."""

    source_number: int
    source_hash: bytes
    target_number: int
    target_hash: bytes

    def __post_init__(self) -> None:
        if len(self.source_hash) != 32 or len(self.target_hash) != 32:
            raise ValueError(f"want 32-byte hashes, have {len(self.source_hash)} and {len(self.target_hash)} bytes")
        if not 0 <= self.source_number < 2**64 or not 0 <= self.target_number < 2**64:
            raise ValueError(f"want uint64 numbers, have {self.source_number} and {self.target_number}")

    def as_list(self) -> list:
        return [self.source_number, self.source_hash, self.target_number, self.target_hash]

    def encode(self) -> bytes:
        """RLP([sourceNumber, sourceHash, targetNumber, targetHash])."""
        return rlp.encode(self.as_list(), sedes=VOTE_DATA_SEDES)

    def hash(self) -> bytes:
        """keccak256(RLP(VoteData)): the message every BLS vote signs (BSC's VoteData.Hash)."""
        return _hash_of(self)

    @classmethod
    def decode(cls, raw: bytes) -> VoteData:
        try:
            return cls(*rlp.decode(raw, sedes=VOTE_DATA_SEDES))
        except (rlp.RLPException, ValueError) as exc:
            raise InvalidVote(f"want RLP [source, hash, target, hash], have {encode_hex(raw[:16])}...: {exc}") from exc

    def __str__(self) -> str:
        return f"{self.source_number}->{self.target_number}"


@dataclass(frozen=True)
class VoteEnvelope:
    """One validator's signed vote, as gossiped in BSC's `bsc` Votes message."""

    vote_address: bytes  # the BLS public key
    signature: bytes
    data: VoteData

    def encode(self) -> bytes:
        return _envelope_rlp(self)

    def hash(self) -> bytes:
        """keccak256(RLP(envelope)): the key a vote pool dedupes on."""
        # kept on the instance too: one decoded vote is shared by every peer that sent its bytes (bsc.messages) and
        # asked for its hash by the gossip, the pool and the service in turn (__eq__ and __hash__ look at the fields)
        found = self.__dict__.get("_hash")
        if found is None:
            found = _hash_of(self)
            object.__setattr__(self, "_hash", found)
        return found

    @classmethod
    def decode(cls, raw: bytes) -> VoteEnvelope:
        try:
            address, signature, data = rlp.decode(raw, sedes=_ENVELOPE_SEDES)
            return cls(address, signature, VoteData(*data))
        except (rlp.RLPException, ValueError) as exc:
            raise InvalidVote(
                f"want RLP [48-byte voteAddress, 96-byte signature, VoteData], have {encode_hex(raw[:16])}...: {exc}"
            ) from exc

    def verify(self) -> bool:
        """Whether the signature is the vote address's over the VoteData hash."""
        return bls.verify(self.vote_address, self.data.hash(), self.signature)

    def known_verdict(self) -> bool | None:
        """Whether the signature verifies, if this process has checked it already (None: not yet, or forgotten)."""
        return bls.known_verdict(self.vote_address, self.data.hash(), self.signature)

    def check(self) -> None:
        """Raise InvalidVote unless the signature verifies."""
        if not self.verify():
            raise self.bad_signature()

    def bad_signature(self) -> InvalidVote:
        """The error for this vote when its signature does not verify."""
        return InvalidVote(f"vote {self.data} for {encode_hex(self.data.target_hash)}: signature does not verify "
                           f"with vote address {encode_hex(self.vote_address)}")


def verify_votes(envelopes: Sequence[VoteEnvelope]) -> list[bool]:
    """Whether each vote's signature verifies, the unchecked ones in one batch check (bls.verify_many)."""
    return bls.verify_many([(v.vote_address, v.data.hash(), v.signature) for v in envelopes])


# A vote is hashed by every pool, gossip set and peer it passes; the results are kept per value (equal votes, equal
# bytes), outside the frozen dataclasses so that their fields stay all there is to them.
@lru_cache(maxsize=_MEMO_SIZE)
def _hash_of(value: VoteData | VoteEnvelope) -> bytes:
    return keccak(value.encode())


@lru_cache(maxsize=_MEMO_SIZE)
def _envelope_rlp(envelope: VoteEnvelope) -> bytes:
    return rlp.encode([envelope.vote_address, envelope.signature, envelope.data.as_list()], sedes=_ENVELOPE_SEDES)


def sign_vote(secret_key: bytes, data: VoteData, vote_address: bytes | None = None) -> VoteEnvelope:
    """The envelope of `data` signed with `secret_key` (BSC's VoteSigner.SignVote); `vote_address`, when given, is
    the key's public key as the signer derived it once (deriving it is a G1 multiplication per vote)."""
    address = bls.public_key(secret_key) if vote_address is None else vote_address
    return VoteEnvelope(address, bls.sign(secret_key, data.hash()), data)


def vote_for(head_number: int, head_hash: bytes, justified_number: int, justified_hash: bytes) -> VoteData | None:
    """The vote for a new head: source = the highest justified block at the head, target = the head.

    None when there is no justified hash yet, or the head is not above the justified block (nothing to vote for).
    """
    if justified_hash == bytes(32) or head_number <= justified_number:
        return None
    return VoteData(justified_number, justified_hash, head_number, head_hash)


def vote_too_late(now_ms: int, head_ms: int, block_interval_ms: int, depth: int = 1) -> bool:
    """BSC skips voting once now + 50 ms passes head time + depth * block interval (depth 3 from Fermi, else 1)."""
    return now_ms + VOTE_DEADLINE_SLACK_MS > head_ms + depth * block_interval_ms


# --- the voting rules against this key's own journal ---


def check_vote_rules(journal: Mapping[int, VoteData], vote: VoteData) -> None:
    """Raise DoubleVote or SurroundVote when signing `vote` would break BSC's rules 1 or 2.

    `journal` maps target number -> this key's earlier vote for it (BSC keeps the last 512 in an LRU). Rule 2 looks
    back over targets in [max(source + 1, target - 256), target) for a larger source (the new vote would surround
    that one) and ahead over (target, target + 11] for a smaller source (the new vote would lie inside it).
    """
    if vote.source_number >= vote.target_number:
        raise ValueError(f"want source < target, have vote {vote}")
    earlier = journal.get(vote.target_number)
    if earlier is not None:
        raise DoubleVote(
            f"already voted {earlier} for target {vote.target_number}, refusing a second vote {vote}"
        )
    first = max(vote.source_number + 1, vote.target_number - MALICIOUS_VOTE_SLASH_SCOPE)
    for number in range(first, vote.target_number):
        other = journal.get(number)
        if other is not None and other.source_number > vote.source_number:
            raise SurroundVote(f"vote {vote} would surround earlier vote {other}")
    for number in range(vote.target_number + 1, vote.target_number + UPPER_LIMIT_OF_VOTE_BLOCK_NUMBER + 1):
        other = journal.get(number)
        if other is not None and other.source_number < vote.source_number:
            raise SurroundVote(f"vote {vote} would lie inside earlier vote {other}")


class VoteJournal:
    """One key's recent votes by target number, checked before each new vote (BSC's vote journal, 512 entries).

    Pure: `encode` gives the bytes to persist (beside the vote key, written before the vote leaves the node) and
    `decode` restores them at start, so a restart cannot sign a second vote for a target already voted for.
    """

    def __init__(self, capacity: int = JOURNAL_CAPACITY, votes: Iterable[VoteData] = ()):
        self.capacity = capacity
        self._votes: dict[int, VoteData] = {}
        for vote in votes:
            self._remember(vote)

    def check(self, vote: VoteData) -> None:
        """Raise DoubleVote or SurroundVote when `vote` breaks the rules against this journal."""
        check_vote_rules(self._votes, vote)

    def record(self, vote: VoteData) -> None:
        """Check `vote`, then keep it (the caller persists `encode()` before sending the vote)."""
        self.check(vote)
        self._remember(vote)

    def _remember(self, vote: VoteData) -> None:
        self._votes[vote.target_number] = vote
        while len(self._votes) > self.capacity:  # forget the oldest entry, as BSC's LRU does
            del self._votes[next(iter(self._votes))]

    def latest(self) -> VoteData | None:
        return self._votes[max(self._votes)] if self._votes else None

    def __len__(self) -> int:
        return len(self._votes)

    def encode(self) -> bytes:
        return rlp.encode([v.as_list() for v in self._votes.values()],  # oldest first: decode keeps the order
                          sedes=CountableList(VOTE_DATA_SEDES))

    @classmethod
    def decode(cls, raw: bytes, capacity: int = JOURNAL_CAPACITY) -> VoteJournal:
        try:
            items = rlp.decode(raw, sedes=CountableList(VOTE_DATA_SEDES))
        except rlp.RLPException as exc:
            raise InvalidVote(f"want an RLP list of VoteData as the vote journal, have {len(raw)} bytes: {exc}") from exc
        return cls(capacity, (VoteData(*item) for item in items))


def is_double_vote(a: VoteData, b: VoteData) -> bool:
    """Two different votes for the same target number."""
    return a != b and a.target_number == b.target_number


def is_surround_vote(a: VoteData, b: VoteData) -> bool:
    """One vote's span lies strictly inside the other's."""
    return (a.source_number < b.source_number and b.target_number < a.target_number) or \
        (b.source_number < a.source_number and a.target_number < b.target_number)


def violation(a: VoteData, b: VoteData) -> str | None:
    """Why two votes by one key are slashable evidence, or None; SlashIndicator's checks in its order and words."""
    if a.source_hash == b.source_hash and a.target_hash == b.target_hash:
        return None  # "two identical votes"
    if a.source_number >= a.target_number or b.source_number >= b.target_number:
        return None  # "srcNum bigger than tarNum"
    if a.target_number == b.target_number:
        return "double vote"
    if is_surround_vote(a, b):
        return "surround vote"
    return None  # "no violation of vote rules"


# --- vote keys for dev and Devnet validators, and the StakeHub registration proof ---


def vote_key_for(validator_key: bytes) -> bytes:
    """A dev/Devnet validator's BLS secret key, derived from its 32-byte secp256k1 key (bls.derive_secret_key).

    Deterministic, so a Devnet restarts with the same vote addresses; anyone with the validator key can rebuild it,
    which is no loss (that key already controls the validator).
    """
    if len(validator_key) != 32:
        raise ValueError(f"want a 32-byte secp256k1 validator key, have {len(validator_key)} bytes")
    return bls.derive_secret_key(validator_key, b"smartchain/bls-vote-key/v1/secp256k1")


def registration_message(operator: bytes, vote_address: bytes, chain_id: int) -> bytes:
    """keccak256(operator 20 || voteAddress 48 || chainid uint256): what StakeHub's _checkVoteAddress verifies."""
    if len(operator) != 20 or len(vote_address) != bls.PUBLIC_KEY_LEN:
        raise ValueError(f"want a 20-byte operator and 48-byte vote address, have {len(operator)}, "
                         f"{len(vote_address)}")
    return keccak(operator + vote_address + chain_id.to_bytes(32, "big"))


def registration_proof(secret_key: bytes, operator: bytes, chain_id: int) -> bytes:
    """The 96-byte blsProof for createValidator/editVoteAddress: a plain Sign, not the IETF PopProve."""
    return bls.sign(secret_key, registration_message(operator, bls.public_key(secret_key), chain_id))


def verify_registration_proof(operator: bytes, vote_address: bytes, proof: bytes, chain_id: int) -> bool:
    """Whether `proof` proves possession of `vote_address` for `operator` on `chain_id`."""
    if len(operator) != 20 or len(vote_address) != bls.PUBLIC_KEY_LEN:
        return False
    return bls.verify(vote_address, registration_message(operator, vote_address, chain_id), proof)
