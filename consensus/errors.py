"""Consensus errors: one class per broken Parlia rule, named as clique and BSC's parlia.go name them.

Every class derives from ConsensusError, itself an eth_utils.ValidationError, so py-evm's import path treats a
broken consensus rule like any other invalid block. Raise each with a message that says what was wanted and what
the header has. New rules add a class here, in the section of the check that raises it.
"""
from eth_utils import ValidationError


class ConsensusError(ValidationError):
    """Base class of every consensus rule violation."""


# --- extraData layout (header.parse_extra, header.check_standalone) ---


class MissingVanity(ConsensusError):
    """extraData is shorter than the 32-byte vanity."""


class MissingSignature(ConsensusError):
    """extraData has no room for the 65-byte seal after the vanity."""


class ExtraValidators(ConsensusError):
    """Validator bytes (anything but a vote attestation) on a non-epoch block."""


class InvalidEpochValidators(ConsensusError):
    """An epoch block's validator list is missing, truncated, unsorted or has trailing garbage."""


class InvalidTurnLength(ConsensusError):
    """An epoch block's turnLength byte is zero (every turn needs at least one block)."""


class InvalidAttestation(ConsensusError):
    """The bytes before the seal are an RLP list but not a vote attestation."""


# --- seal (header.recover_signer, header.check_signer) ---


class InvalidSignature(ConsensusError):
    """The 65-byte seal does not recover to a public key."""


class CoinbaseMismatch(ConsensusError):
    """The header's coinbase is not the account that sealed it."""


# --- standalone header fields (header.check_standalone) ---


class InvalidDifficulty(ConsensusError):
    """Difficulty is neither 1 (out of turn) nor 2 (in turn)."""


class InvalidUncleHash(ConsensusError):
    """Uncles hash is not the hash of the empty list: Parlia has no uncles."""


class InvalidMixDigest(ConsensusError):
    """mixHash is not a 32-byte integer 0..999 (the millisecond part of the block time)."""


class InvalidNonce(ConsensusError):
    """Nonce is not zero (BSC's Prepare zeroes it; smartchain also requires it, as Parlia has no use for it)."""


class InvalidGasLimit(ConsensusError):
    """Gas limit outside [5000, 2**63-1] or moved too far from the parent's."""


class InvalidGasUsed(ConsensusError):
    """Gas used exceeds the gas limit."""


# --- rules that need the validator set (header.check_difficulty) ---


class WrongDifficulty(ConsensusError):
    """Difficulty 1 or 2 does not match whether the signer is in turn."""


# --- rules that need the parent snapshot (engine.PosaEngine.verify_header) ---


class UnauthorizedValidator(ConsensusError):
    """The signer is not in the validator set in force for this block."""


class RecentlySigned(ConsensusError):
    """The signer sealed turnLength or more of the previous (N/2+1)*turnLength-1 blocks (BSC's recents rule)."""


class InvalidBlockNumber(ConsensusError):
    """The header's number does not follow its parent's."""


class InvalidTimestamp(ConsensusError):
    """The block time is before parent + period + the signer's back-off."""


class FutureBlock(InvalidTimestamp):
    """The block time is ahead of the verifier's clock."""


class MismatchingEpochValidators(ConsensusError):
    """An epoch block's validator list (addresses and BLS keys) is not the set this node expects next."""


class MismatchingEpochTurnLength(ConsensusError):
    """An epoch block's turnLength is not the one this node expects next."""


# --- snapshots (snapshot.Snapshot.apply, snapshot.SnapshotStore) ---


class UnknownAncestor(ConsensusError):
    """A header needed to build the snapshot is not known."""


class OutOfRangeChain(ConsensusError):
    """Headers given to Snapshot.apply do not continue the snapshot's block one by one."""


# --- fast-finality votes (votes.py) ---


class InvalidVote(ConsensusError):
    """A vote envelope does not decode, or its BLS signature is not its key's over its VoteData hash."""


class VoteRuleViolation(ConsensusError):
    """Signing this vote would break a slashable voting rule against the key's own earlier votes."""


class DoubleVote(VoteRuleViolation):
    """Rule 1: a second vote for a target number this key already voted for."""


class SurroundVote(VoteRuleViolation):
    """Rule 2: a vote whose source..target span surrounds, or lies inside, one of this key's earlier votes."""


# --- vote attestations in headers (attestation.py); all are InvalidAttestation, so before Plato a caller can
# log every one of them and accept the header, as BSC does ---


class InvalidAttestationRange(InvalidAttestation):
    """The attestation's source number is not below its target number."""


class AttestationTargetMismatch(InvalidAttestation):
    """The attested target is not the parent (or, from Fermi, one of the nearest ancestors) of the header."""


class AttestationSourceMismatch(InvalidAttestation):
    """The attested source is not the highest justified block at the parent."""


class TooManyVoteBits(InvalidAttestation):
    """More bits are set in voteAddressSet than there are validators."""


class InvalidVoteAddress(InvalidAttestation):
    """A set bit selects a validator whose BLS vote key does not decode (e.g. the all-zero key of one without)."""


class NotEnoughVotes(InvalidAttestation):
    """Fewer than ceil(2N/3) validators voted (or, assembling, fewer votes than that are at hand)."""


class InvalidAggregateSignature(InvalidAttestation):
    """The aggregated BLS signature does not verify over the VoteData hash with the selected keys."""


class AttestationVoteMismatch(InvalidAttestation):
    """Assembling: a vote's data is not the attested VoteData, or its key is not a validator's vote key."""


# --- the vote pool (votepool.py): why a vote was not taken in; the vote is dropped, the peer is not at fault
# unless the vote was InvalidVote ---


class VoteRejected(ConsensusError):
    """A vote the pool does not take in."""


class VoteOutOfRange(VoteRejected):
    """The vote's target is not in (head - 256, head + 11]."""


class DuplicateVote(VoteRejected):
    """The pool already holds this exact vote envelope."""


class TooManyVotesForBlock(VoteRejected):
    """The pool already holds 21 votes (50 for a block not yet known) for the vote's target hash."""


class VoteSourceMismatch(VoteRejected):
    """The vote's source is not the justified block at its target (BSC's VerifyVote)."""


class VoterNotValidator(VoteRejected):
    """The vote's key is not the vote address of a validator in the snapshot at target - 1."""


class UnknownVoteTarget(VoteRejected):
    """A vote moved to current whose target block is not the known block of that number and hash."""


# --- the engine's finality checks (finality.py) ---


class AttestationUnverifiable(InvalidAttestation):
    """A header carries an attestation but the engine has no header lookup to find its source and voters."""
