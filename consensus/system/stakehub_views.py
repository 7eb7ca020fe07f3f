"""StakeHub's views and public getters, as BSC's StakeHub.sol declares them (registered on stakehub.CONTRACT)."""
from __future__ import annotations

from consensus.system import credit
from consensus.system.abi import as_address
from consensus.system.addresses import DEAD_ADDRESS
from consensus.system.runtime import Env, Storage
from consensus.system.stakehub import (
    COMMISSION, CONTRACT, DESCRIPTION, REDELEGATE_FEE_RATE_BASE, hub, is_jailed, operators, param,
    require_validator, store,
)

# the public parameters BSC's initialize() sets, by getter name
PARAMETERS = ("transferGasLimit", "minSelfDelegationBNB", "minDelegationBNBChange", "maxElectedValidators",
              "unbondPeriod", "redelegateFeeRate", "downtimeSlashAmount", "felonySlashAmount", "downtimeJailTime",
              "felonyJailTime", "maxFelonyBetweenBreatheBlock", "BREATHE_BLOCK_INTERVAL")


def _page(total: int, offset: int, limit: int) -> range:
    # BSC's pagination: nothing past the end, limit 0 means all the rest
    if offset >= total:
        return range(0)
    limit = limit or total
    return range(offset, offset + min(limit, total - offset))


@CONTRACT.method("getValidators", ("uint256", "uint256"), ("address[]", "address[]", "uint256"))
def get_validators(env: Env, offset: int, limit: int) -> tuple[list[bytes], list[bytes], int]:
    s = hub(env)
    ops = operators(s)
    page = [ops[i] for i in _page(len(ops), offset, limit)]
    return page, [s.get_address("val.credit", op) for op in page], len(ops)


def voting_power(s: Storage, op: bytes) -> int:
    """The validator's total pooled BNB, 0 while jailed (getValidatorElectionInfo)."""
    return 0 if is_jailed(s, op) else credit.total_pooled(s, op)


@CONTRACT.method("getValidatorElectionInfo", ("uint256", "uint256"), ("address[]", "uint256[]", "bytes[]", "uint256"))
def get_election_info(env: Env, offset: int, limit: int) -> tuple[list[bytes], list[int], list[bytes], int]:
    s = hub(env)
    ops = operators(s)
    page = [ops[i] for i in _page(len(ops), offset, limit)]
    return ([s.get_address("val.consensus", op) for op in page], [voting_power(s, op) for op in page],
            [s.get_bytes("val.vote", op) for op in page], len(ops))


@CONTRACT.method("getValidatorConsensusAddress", ("address",), ("address",))
def _consensus_address(env: Env, operator: str) -> bytes:
    return store(env).get_address("val.consensus", as_address(operator))


@CONTRACT.method("getValidatorCreditContract", ("address",), ("address",))
def _credit_contract(env: Env, operator: str) -> bytes:
    return store(env).get_address("val.credit", as_address(operator))


@CONTRACT.method("getValidatorVoteAddress", ("address",), ("bytes",))
def _vote_address(env: Env, operator: str) -> bytes:
    return store(env).get_bytes("val.vote", as_address(operator))


@CONTRACT.method("getValidatorBasicInfo", ("address",), ("uint256", "bool", "uint256"))
def get_basic_info(env: Env, operator: str) -> tuple[int, bool, int]:
    s, op = store(env), as_address(operator)
    return s.get("val.created", op), is_jailed(s, op), s.get("val.jailUntil", op)


@CONTRACT.method("getValidatorDescription", ("address",), (DESCRIPTION,))
def _description(env: Env, operator: str) -> tuple[str, str, str, str]:
    s, op = store(env), as_address(operator)
    require_validator(s, op)
    return tuple(s.get_str(f"val.{field}", op) for field in ("moniker", "identity", "website", "details"))


@CONTRACT.method("getValidatorCommission", ("address",), (COMMISSION,))
def _commission(env: Env, operator: str) -> tuple[int, int, int]:
    s, op = store(env), as_address(operator)
    require_validator(s, op)
    return s.get("val.rate", op), s.get("val.maxRate", op), s.get("val.maxChangeRate", op)


@CONTRACT.method("getValidatorUpdateTime", ("address",), ("uint256",))
def _update_time(env: Env, operator: str) -> int:
    s, op = store(env), as_address(operator)
    require_validator(s, op)
    return s.get("val.updateTime", op)


@CONTRACT.method("getValidatorAgent", ("address",), ("address",))
def _agent(env: Env, operator: str) -> bytes:
    s, op = store(env), as_address(operator)
    require_validator(s, op)
    return bytes(20)   # agents (updateAgent) are not supported


@CONTRACT.method("getValidatorRewardRecord", ("address", "uint256"), ("uint256",))
def _reward_record(env: Env, operator: str, day: int) -> int:
    s, op = store(env), as_address(operator)
    require_validator(s, op)
    return s.get("credit.rewardRecord", op, day)


@CONTRACT.method("getValidatorTotalPooledBNBRecord", ("address", "uint256"), ("uint256",))
def _pooled_record(env: Env, operator: str, day: int) -> int:
    s, op = store(env), as_address(operator)
    require_validator(s, op)
    return s.get("credit.pooledRecord", op, day)


@CONTRACT.method("consensusToOperator", ("address",), ("address",))
def _consensus_to_operator(env: Env, consensus: str) -> bytes:
    return store(env).get_address("consensusToOperator", as_address(consensus))


@CONTRACT.method("consensusExpiration", ("address",), ("uint256",))
def _consensus_expiration(env: Env, consensus: str) -> int:
    return store(env).get("consensusExpiration", as_address(consensus))


@CONTRACT.method("voteToOperator", ("bytes",), ("address",))
def _vote_to_operator(env: Env, vote_address: bytes) -> bytes:
    return store(env).get_address("voteToOperator", vote_address)


@CONTRACT.method("voteExpiration", ("bytes",), ("uint256",))
def _vote_expiration(env: Env, vote_address: bytes) -> int:
    return store(env).get("voteExpiration", vote_address)


@CONTRACT.method("agentToOperator", ("address",), ("address",))
def _agent_to_operator(env: Env, agent: str) -> bytes:
    return bytes(20)


CONTRACT.getter("numOfJailed", "uint256", lambda env: store(env).get("numOfJailed"))
CONTRACT.getter("DEAD_ADDRESS", "address", lambda env: DEAD_ADDRESS)
CONTRACT.getter("LOCK_AMOUNT", "uint256", lambda env: credit.LOCK_AMOUNT)
CONTRACT.getter("REDELEGATE_FEE_RATE_BASE", "uint256", lambda env: REDELEGATE_FEE_RATE_BASE)
for _name in PARAMETERS:
    CONTRACT.getter(_name, "uint256", lambda env, name=_name: param(store(env), name))
