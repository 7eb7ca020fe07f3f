"""StakeHub's system functions: what ValidatorSet and SlashIndicator call (rewards, downtime and double-sign slashes).

BSC guards each with onlyValidatorContract / onlySlash; here the other contracts call them from Python, so their
selectors answer every transaction with BSC's OnlySystemContract(address) error.
"""
from __future__ import annotations

from eth_utils import keccak

from consensus.system import credit
from consensus.system.addresses import SLASH_INDICATOR, STAKE_HUB, SYSTEM_REWARD, VALIDATOR_SET
from consensus.system.runtime import Env, Storage, custom_error
from consensus.system.stakehub import (
    CONTRACT, SLASH_DOUBLE_SIGN, SLASH_DOWNTIME, SLASH_MALICIOUS_VOTE, RewardDistributed, RewardDistributeFailed,
    ValidatorSlashed, exists, is_jailed, jail, operator_of, param, require_validator, store,
)


def distribute_reward(env: Env, consensus: bytes, amount: int) -> None:
    """Pay a validator's incoming from ValidatorSet into its pool (commission as the operator's shares)."""
    s = store(env)
    op = operator_of(s, consensus)
    if not exists(s, op) or is_jailed(s, op):
        env.transfer(VALIDATOR_SET, SYSTEM_REWARD, amount)
        env.emit(STAKE_HUB, RewardDistributeFailed, op, b"INVALID_VALIDATOR")
        return
    env.transfer(VALIDATOR_SET, STAKE_HUB, amount)
    day = env.timestamp // param(s, "BREATHE_BLOCK_INTERVAL")
    credit.distribute_reward(env, op, amount, s.get("val.rate", op), day)
    env.emit(STAKE_HUB, RewardDistributed, op, amount)


def _slash(env: Env, s: Storage, op: bytes, amount: int) -> int:
    taken = credit.slash_self_stake(s, op, amount)
    env.transfer(STAKE_HUB, SYSTEM_REWARD, taken)
    return taken


def downtime_slash(env: Env, consensus: bytes) -> None:
    """Felony for missed blocks: slash downtimeSlashAmount of self-stake, jail for downtimeJailTime."""
    s = store(env)
    op = operator_of(s, consensus)
    require_validator(s, op)
    taken = _slash(env, s, op, param(s, "downtimeSlashAmount"))
    until = env.timestamp + param(s, "downtimeJailTime")
    jail(env, s, op, until)
    env.emit(STAKE_HUB, ValidatorSlashed, op, until, taken, SLASH_DOWNTIME)


def double_sign_slash(env: Env, consensus: bytes) -> None:
    """Felony for double signing: at most maxFelonyBetweenBreatheBlock per interval, once per jail term."""
    s = store(env)
    _felony(env, s, operator_of(s, consensus), ("consensusExpiration", consensus, "ConsensusAddressExpired()"),
            SLASH_DOUBLE_SIGN)


def malicious_vote_slash(env: Env, vote_address: bytes) -> None:
    """Felony for a finality violation by `vote_address`'s validator: the double-sign rules, keyed by vote key."""
    s = store(env)
    _felony(env, s, s.get_address("voteToOperator", vote_address),
            ("voteExpiration", vote_address, "VoteAddressExpired()"), SLASH_MALICIOUS_VOTE)


def _felony(env: Env, s, op: bytes, expiry: tuple[str, bytes, str], kind: int) -> None:
    """StakeHub's felony path (doubleSignSlash and maliciousVoteSlash share it): the per-interval cap, the key's
    expiry (`expiry`: the map, the key, the error), once per jail term, then slash felonySlashAmount and jail."""
    require_validator(s, op)
    index = env.timestamp // param(s, "BREATHE_BLOCK_INTERVAL")
    if s.get("felonyMap", index) >= param(s, "maxFelonyBetweenBreatheBlock"):
        raise custom_error("NoMoreFelonyAllowed()")
    s.add("felonyMap", index, 1)
    expiry_map, key, expired = expiry
    expiration = s.get(expiry_map, key)
    if expiration and expiration + param(s, "BREATHE_BLOCK_INTERVAL") < env.timestamp:
        raise custom_error(expired)
    record = keccak(op + bytes([kind]))   # abi.encodePacked(operator, SlashType)
    if s.get("felonyRecords", record) > env.timestamp:
        raise custom_error("AlreadySlashed()")
    until = env.timestamp + param(s, "felonyJailTime")
    s.set("felonyRecords", record, until)
    taken = _slash(env, s, op, param(s, "felonySlashAmount"))
    jail(env, s, op, until)
    env.emit(STAKE_HUB, ValidatorSlashed, op, until, taken, kind)


def _only_system(contract: bytes):
    def refuse(env: Env, *args: object) -> None:
        raise custom_error("OnlySystemContract(address)", contract)
    return refuse


CONTRACT.method("distributeReward", ("address",), payable=True)(_only_system(VALIDATOR_SET))
CONTRACT.method("downtimeSlash", ("address",))(_only_system(SLASH_INDICATOR))
CONTRACT.method("doubleSignSlash", ("address",))(_only_system(SLASH_INDICATOR))
CONTRACT.method("maliciousVoteSlash", ("bytes",))(_only_system(SLASH_INDICATOR))
