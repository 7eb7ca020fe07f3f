"""SlashIndicator (0x…1001): missed-block counters and double-sign evidence, as gc/contracts/SlashIndicator.sol.

Each block sealed out of turn counts one miss for the in-turn validator (finalize calls `slash`): every
misdemeanorThreshold misses its incoming goes to the others, at felonyThreshold the count restarts, it leaves the
current set and StakeHub slashes downtimeSlashAmount of its self-stake and jails it. Counters decay by
felonyThreshold/4 at each breathe block (`clean`). `submitDoubleSignEvidence` checks the two headers as BSC's
precompile 0x68 does (same number and parent, different seals and seal hashes, one signer), then StakeHub's
double-sign slash; BSC answers a bad evidence with an empty revert, so does this. The same evidence is refused a
second time even after the jail term (BSC relies on the evidence expiring first).
`submitFinalityViolationEvidence` takes two votes signed by one BLS key that break the voting rules (same target,
or one span inside the other), checks them in BSC's order and words (0x66 for both signatures), rewards the
submitter and removes the validator from the set when the key is a current validator's, then StakeHub slashes and
jails it (maliciousVoteSlash). BSC also accepts keys of the previous vote-key set; only the current set is kept here.
"""
from __future__ import annotations

import rlp
from eth.vm.forks.prague.blocks import PragueBackwardsHeader
from eth_utils import ValidationError, keccak

from consensus.header import EXTRA_SEAL, recover_signer, seal_hash
from consensus.system import blsverify, stakehub, stakehub_system, systemreward, validatorset
from consensus.system.abi import Contract, as_address
from consensus.system.addresses import SLASH_INDICATOR
from consensus.system.runtime import ContractRevert, Env, Event, Storage, custom_error, revert_string

MISDEMEANOR_THRESHOLD = 50
FELONY_THRESHOLD = 150
DECREASE_RATE = 4
INIT_FELONY_SLASH_SCOPE = 28_800
INIT_FELONY_SLASH_REWARD_RATIO = 20
GAS_EVIDENCE = 10_000   # BSC's DoubleSignEvidenceVerifyGas for precompile 0x68

ValidatorSlashed = Event("validatorSlashed", ("address", True))
IndicatorCleaned = Event("indicatorCleaned")
FailedFelony = Event("failedFelony", ("address", True), ("uint256", False), ("bytes", False))

CONTRACT = Contract("SlashIndicator", SLASH_INDICATOR)


def store(env: Env) -> Storage:
    return env.storage(SLASH_INDICATOR)


def _require_init(env: Env) -> Storage:
    return env.initialised_storage(SLASH_INDICATOR)


def indicator(env: Env, validator: bytes) -> tuple[int, int]:
    """(height of the last miss, missed count) of a validator."""
    s = store(env)
    return s.get("ind.height", validator), s.get("ind.count", validator)


# -- block end ---------------------------------------------------------------------------------------------------

def slash(env: Env, validator: bytes) -> None:
    """Count one missed block for `validator` (finalize, when the block was sealed out of turn)."""
    s = _require_init(env)
    if env.block_number <= s.get("previousHeight"):
        raise revert_string("can not slash twice in one block")
    s.set("previousHeight", env.block_number)
    if not validatorset.is_current(env, validator):
        return
    if s.get("ind.exist", validator):
        count = s.get("ind.count", validator) + 1
    else:
        count = 1
        s.set("ind.exist", validator, 1)
        listed = s.add("vals.count", 1)
        s.set_address("vals.at", listed - 1, validator)
    s.set("ind.height", validator, env.block_number)
    if count % s.get("felonyThreshold") == 0:
        count = 0
        validatorset.felony(env, validator)
        failure = env.attempt(stakehub_system.downtime_slash, env, validator)
        if failure is not None:   # as BSC's try/catch around StakeHub.downtimeSlash
            env.emit(SLASH_INDICATOR, FailedFelony, validator, count, failure.data)
    elif count % s.get("misdemeanorThreshold") == 0:
        validatorset.misdemeanor(env, validator)
    s.set("ind.count", validator, count)
    env.emit(SLASH_INDICATOR, ValidatorSlashed, validator)


def clean(env: Env) -> None:
    """Decay every counter by felonyThreshold/4 and forget those at or below it (breathe block)."""
    s = store(env)
    decrease = s.get("felonyThreshold") // DECREASE_RATE
    kept = []
    for i in range(s.get("vals.count")):
        validator = s.get_address("vals.at", i)
        count = s.get("ind.count", validator)
        s.set("vals.at", i, 0)
        if count > decrease:
            s.set("ind.count", validator, count - decrease)
            kept.append(validator)
        else:
            for field in ("ind.count", "ind.height", "ind.exist"):
                s.set(field, validator, 0)
    for i, validator in enumerate(kept):
        s.set_address("vals.at", i, validator)
    s.set("vals.count", len(kept))
    env.emit(SLASH_INDICATOR, IndicatorCleaned)


# -- double-sign evidence ----------------------------------------------------------------------------------------

def verify_double_sign(header1: bytes, header2: bytes, chain_id: int) -> tuple[bytes, int]:
    """BSC's precompile 0x68: (signer, height) of two headers one validator sealed at one height."""
    try:
        first = rlp.decode(header1, sedes=PragueBackwardsHeader)
        second = rlp.decode(header2, sedes=PragueBackwardsHeader)
    except (rlp.DecodingError, rlp.DeserializationError, ValueError) as exc:
        raise ContractRevert(b"", f"evidence headers do not decode: {exc}") from None
    if first.block_number != second.block_number or first.parent_hash != second.parent_hash:
        raise ContractRevert(b"", "invalid double sign evidence: different heights or parents")
    if len(first.extra_data) < EXTRA_SEAL or len(second.extra_data) < EXTRA_SEAL:
        raise ContractRevert(b"", "invalid double sign evidence: no seal")
    if first.extra_data[-EXTRA_SEAL:] == second.extra_data[-EXTRA_SEAL:]:
        raise ContractRevert(b"", "invalid double sign evidence: same seal")
    try:
        if seal_hash(first, chain_id) == seal_hash(second, chain_id):
            raise ContractRevert(b"", "invalid double sign evidence: same seal hash")
        signer = recover_signer(first, chain_id)
        if recover_signer(second, chain_id) != signer:
            raise ContractRevert(b"", "invalid double sign evidence: different signers")
    except ValidationError as exc:
        raise ContractRevert(b"", f"invalid double sign evidence: {exc}") from None
    return signer, first.block_number


@CONTRACT.method("submitDoubleSignEvidence", ("bytes", "bytes"))
def submit_double_sign_evidence(env: Env, header1: bytes, header2: bytes) -> None:
    s = _require_init(env)
    if not header1 or not header2:
        raise revert_string("empty header")
    env.charge(GAS_EVIDENCE, "double sign evidence")
    signer, height = verify_double_sign(header1, header2, env.chain_id)
    hub = stakehub.store(env)
    if hub.get("consensusToOperator", signer) == 0:
        raise revert_string("validator not migrated")
    if height + s.get("felonySlashScope") < env.block_number:
        raise revert_string("evidence too old")
    stakehub_system.double_sign_slash(env, signer)
    validatorset.felony(env, signer)
    evidence = keccak(b"".join(sorted((keccak(header1), keccak(header2)))))
    if s.get("evidence", evidence):
        raise revert_string("evidence already submitted")
    s.set("evidence", evidence, 1)
    reward = env.balance(systemreward.SYSTEM_REWARD) * s.get("felonySlashRewardRatio") // 100
    systemreward.claim_rewards(env, env.sender, reward)


# -- views -------------------------------------------------------------------------------------------------------

@CONTRACT.method("getSlashIndicator", ("address",), ("uint256", "uint256"))
def _get_slash_indicator(env: Env, validator: str) -> tuple[int, int]:
    return indicator(env, as_address(validator))


@CONTRACT.method("indicators", ("address",), ("uint256", "uint256", "bool"))
def _indicators(env: Env, validator: str) -> tuple[int, int, bool]:
    s, address = store(env), as_address(validator)
    return s.get("ind.height", address), s.get("ind.count", address), s.get("ind.exist", address) == 1


@CONTRACT.method("validators", ("uint256",), ("address",))
def _validators(env: Env, index: int) -> bytes:
    s = store(env)
    if index >= s.get("vals.count"):
        raise custom_error("Panic(uint256)", 0x32)   # array index out of bounds
    return s.get_address("vals.at", index)


@CONTRACT.method("getSlashThresholds", outputs=("uint256", "uint256"))
def _thresholds(env: Env) -> tuple[int, int]:
    s = store(env)
    return s.get("misdemeanorThreshold"), s.get("felonyThreshold")


for _name in ("misdemeanorThreshold", "felonyThreshold", "felonySlashScope", "felonySlashRewardRatio",
              "previousHeight"):
    CONTRACT.getter(_name, "uint256", lambda env, name=_name: store(env).get(name))
CONTRACT.getter("alreadyInit", "bool", lambda env: store(env).get("alreadyInit") == 1)
CONTRACT.getter("enableMaliciousVoteSlash", "bool", lambda env: store(env).get("enableMaliciousVoteSlash") == 1)
CONTRACT.getter("MISDEMEANOR_THRESHOLD", "uint256", lambda env: MISDEMEANOR_THRESHOLD)
CONTRACT.getter("FELONY_THRESHOLD", "uint256", lambda env: FELONY_THRESHOLD)
CONTRACT.getter("DECREASE_RATE", "uint256", lambda env: DECREASE_RATE)
CONTRACT.getter("INIT_FELONY_SLASH_SCOPE", "uint256", lambda env: INIT_FELONY_SLASH_SCOPE)
CONTRACT.getter("INIT_FELONY_SLASH_REWARD_RATIO", "uint256", lambda env: INIT_FELONY_SLASH_REWARD_RATIO)


@CONTRACT.method("slash", ("address",))
def _slash_by_transaction(env: Env, validator: str) -> None:
    if env.sender != env.coinbase:
        raise revert_string("the message sender must be the block producer")
    raise revert_string("applied by the consensus engine at block end")


@CONTRACT.method("clean")
@CONTRACT.method("downtimeSlash", ("address", "uint256", "bool"))
def _only_validator_contract(env: Env, *args: object) -> None:
    raise revert_string("the message sender must be validatorSet contract")


_VOTE = "(uint256,bytes32,uint256,bytes32,bytes)"


Vote = tuple[int, bytes, int, bytes, bytes]  # (srcNum, srcHash, tarNum, tarHash, sig)


@CONTRACT.method("submitFinalityViolationEvidence", (f"({_VOTE},{_VOTE},bytes)",))
def submit_finality_violation_evidence(env: Env, evidence: tuple[Vote, Vote, bytes]) -> None:
    s = _require_init(env)
    vote_a, vote_b, vote_address = evidence
    if s.get("enableMaliciousVoteSlash") != 1:
        raise revert_string("malicious vote slash not enabled")
    (src_a, src_hash_a, tar_a, tar_hash_a, _), (src_b, src_hash_b, tar_b, tar_hash_b, _) = vote_a, vote_b
    scope = s.get("felonySlashScope")
    if not (tar_a + scope > env.block_number and tar_b + scope > env.block_number):
        raise revert_string("target block too old")
    if src_hash_a == src_hash_b and tar_hash_a == tar_hash_b:
        raise revert_string("two identical votes")
    if not (src_a < tar_a and src_b < tar_b):
        raise revert_string("srcNum bigger than tarNum")
    if not ((src_a < src_b and tar_b < tar_a) or (src_b < src_a and tar_a < tar_b) or tar_a == tar_b):
        raise revert_string("no violation of vote rules")
    living = validatorset.current_set(env)
    if all(vote != vote_address for _, vote in living):
        raise revert_string("voteAddr is not found")
    if not (_vote_signed(env, vote_a, vote_address) and _vote_signed(env, vote_b, vote_address)):
        raise revert_string("verify signature failed")
    for validator, vote in living:
        if vote == vote_address:
            reward = env.balance(systemreward.SYSTEM_REWARD) * s.get("felonySlashRewardRatio") // 100
            systemreward.claim_rewards(env, env.sender, reward)
            validatorset.felony(env, validator)
            break
    stakehub_system.malicious_vote_slash(env, vote_address)


def _vote_signed(env: Env, vote: Vote, vote_address: bytes) -> bool:
    # SlashIndicator._verifyBLSSignature: 0x66 over keccak256(RLP([srcNum, srcHash, tarNum, tarHash]))
    src, src_hash, tar, tar_hash, signature = vote
    data = keccak(rlp.encode([src, src_hash, tar, tar_hash])) + signature + vote_address
    env.charge(blsverify.required_gas(data), "blsSignatureVerify precompile")
    try:
        return blsverify.check(data)
    except blsverify.BlsInputError as exc:
        raise ContractRevert(b"", f"blsSignatureVerify reverted: {exc}") from None   # BSC: revert(0, 0)
