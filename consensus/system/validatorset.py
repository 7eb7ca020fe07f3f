"""ValidatorSet (0x…1000): the current validator set, the block fees' split and each validator's `incoming`.

As BSCValidatorSet.sol (gc/contracts/BSCValidatorSet.sol): `deposit` sends systemRewardBaseRatio/10000 of a block's
fees to SystemReward and burnRatio/10000 to 0x…dEaD and credits the rest to the sealing validator's incoming
(kept by the contract when the validator is not in the current set); misdemeanor shares the offender's incoming
among the others; felony also removes it from the current set. Differences: the set is replaced at each epoch
block from the header (finalize), there is no maintenance mode and no candidate rotation, so the mining validators
are the first numOfCabinets of the current set; deposit and the set update run in finalize, not as transactions.
"""
from __future__ import annotations

from typing import Sequence

from consensus.system import systemreward
from consensus.system.abi import Contract, as_address
from consensus.system.addresses import DEAD_ADDRESS, SLASH_INDICATOR, STAKE_HUB, SYSTEM_REWARD, VALIDATOR_SET
from consensus.system.runtime import Env, Event, Storage, revert_string

FEE_RATIO_SCALE = 10_000
INIT_NUM_OF_CABINETS = 21
MAX_SYSTEM_REWARD_BALANCE = 100 * 10**18  # BSC: finality rewards come only from SystemReward's balance above this

ValidatorDeposit = Event("validatorDeposit", ("address", True), ("uint256", False))
DeprecatedDeposit = Event("deprecatedDeposit", ("address", True), ("uint256", False))
SystemTransfer = Event("systemTransfer", ("uint256", False))
FeeBurned = Event("feeBurned", ("uint256", False))
ValidatorMisdemeanor = Event("validatorMisdemeanor", ("address", True), ("uint256", False))
ValidatorFelony = Event("validatorFelony", ("address", True), ("uint256", False))
FinalityRewardDeposit = Event("finalityRewardDeposit", ("address", True), ("uint256", False))
DeprecatedFinalityRewardDeposit = Event("deprecatedFinalityRewardDeposit", ("address", True), ("uint256", False))

CONTRACT = Contract("BSCValidatorSet", VALIDATOR_SET)


def store(env: Env) -> Storage:
    return env.storage(VALIDATOR_SET)


def is_initialised(env: Env) -> bool:
    return store(env).get("alreadyInit") == 1


def _require_init(env: Env) -> Storage:
    return env.initialised_storage(VALIDATOR_SET)


# -- the current set -----------------------------------------------------------------------------------------------

def current_set(env: Env) -> list[tuple[bytes, bytes]]:
    """(consensus address, vote address) of each current validator, in set order."""
    s = store(env)
    return [(s.get_address("set.at", i), s.get_bytes("set.vote", i)) for i in range(s.get("set.count"))]


def set_current(env: Env, validators: Sequence[tuple[bytes, bytes]]) -> None:
    """Replace the current set (BSC's doUpdateState), keeping the incoming of every validator as it is."""
    s = store(env)
    for address, _ in current_set(env):
        s.set("set.index", address, 0)
    old_count = s.get("set.count")
    for i, (address, vote) in enumerate(validators):
        s.set_address("set.at", i, address)
        s.set_bytes("set.vote", i, vote)
        s.set("set.index", address, i + 1)
    for i in range(len(validators), old_count):
        s.set("set.at", i, 0)
        s.set_bytes("set.vote", i, b"")
    s.set("set.count", len(validators))


def is_current(env: Env, address: bytes) -> bool:
    return store(env).get("set.index", address) != 0


def incoming(env: Env, address: bytes) -> int:
    return store(env).get("incoming", address)


def add_incoming(env: Env, address: bytes, amount: int) -> None:
    store(env).add("incoming", address, amount)
    _track_holder(env, address)


def _track_holder(env: Env, address: bytes) -> None:
    # who has incoming, so the breathe block can pay everyone, also validators the set has since dropped
    s = store(env)
    if s.get("holder.index", address) == 0:
        count = s.add("holder.count", 1)
        s.set_address("holder.at", count - 1, address)
        s.set("holder.index", address, count)


def take_all_incoming(env: Env) -> list[tuple[bytes, int]]:
    """Zero every incoming and the holder list; returns (validator, amount) in the order they first earned."""
    s = store(env)
    paid = []
    for i in range(s.get("holder.count")):
        address = s.get_address("holder.at", i)
        amount = s.get("incoming", address)
        s.set("incoming", address, 0)
        s.set("holder.index", address, 0)
        s.set("holder.at", i, 0)
        if amount:
            paid.append((address, amount))
    s.set("holder.count", 0)
    s.set("totalInComing", 0)
    return paid


# -- block fees (deposit) and slashing (misdemeanor, felony) -----------------------------------------------------

def deposit(env: Env, validator: bytes, source: bytes, value: int) -> tuple[int, int]:
    """Split a block's fees held by `source`; returns (to SystemReward, burned). The rest stays in this contract."""
    s = store(env)
    env.transfer(source, VALIDATOR_SET, value)
    to_system_reward = value * s.get("systemRewardBaseRatio") // FEE_RATIO_SCALE
    if to_system_reward:
        env.transfer(VALIDATOR_SET, SYSTEM_REWARD, to_system_reward)
        env.emit(VALIDATOR_SET, SystemTransfer, to_system_reward)
    burned = value * s.get("burnRatio") // FEE_RATIO_SCALE
    if burned:
        env.transfer(VALIDATOR_SET, DEAD_ADDRESS, burned)
        env.emit(VALIDATOR_SET, FeeBurned, burned)
    rest = value - to_system_reward - burned
    if is_current(env, validator):
        s.add("totalInComing", rest)
        add_incoming(env, validator, rest)
        env.emit(VALIDATOR_SET, ValidatorDeposit, validator, rest)
    else:  # BSC keeps it as dust, sent to SystemReward with the next payout
        env.emit(VALIDATOR_SET, DeprecatedDeposit, validator, rest)
    return to_system_reward, burned


def distribute_finality_reward(env: Env, weights: Sequence[tuple[bytes, int]]) -> int:
    """BSC's distributeFinalityReward: claim SystemReward's balance above 100 BNB (at most 5 BNB) and credit it
    to the validators' incoming by weight; a jailed or former validator's share stays here as dust (an event
    says so). Returns the amount claimed."""
    balance = env.balance(SYSTEM_REWARD)
    if balance <= MAX_SYSTEM_REWARD_BALANCE:
        return 0
    total = systemreward.claim_rewards(env, VALIDATOR_SET, balance - MAX_SYSTEM_REWARD_BALANCE)
    total_weight = sum(w for _, w in weights)
    if total == 0 or total_weight == 0:
        return total
    s = store(env)
    for validator, weight in weights:
        value = total * weight // total_weight
        if is_current(env, validator):
            # BSC's currentValidatorSet jailed flag is set by felony, which also removes the validator here
            s.add("totalInComing", value)
            add_incoming(env, validator, value)
            env.emit(VALIDATOR_SET, FinalityRewardDeposit, validator, value)
        else:
            env.emit(VALIDATOR_SET, DeprecatedFinalityRewardDeposit, validator, value)
    return total


def _share_out(env: Env, offender: bytes, others: Sequence[bytes]) -> int:
    # the offender's incoming split evenly among the others; the rounding dust stays as contract dust
    s = store(env)
    income = s.get("incoming", offender)
    s.set("incoming", offender, 0)
    if others and income // len(others):
        for address in others:
            add_incoming(env, address, income // len(others))
    return income


def misdemeanor(env: Env, validator: bytes) -> None:
    """The validator's incoming goes to the other current validators."""
    if not is_current(env, validator):
        return
    others = [address for address, _ in current_set(env) if address != validator]
    income = _share_out(env, validator, others)
    env.emit(VALIDATOR_SET, ValidatorMisdemeanor, validator, income)


def felony(env: Env, validator: bytes) -> None:
    """misdemeanor, and the validator leaves the current set (unless it is the last one)."""
    if not is_current(env, validator):
        return
    members = current_set(env)
    if len(members) <= 1:
        store(env).set("incoming", validator, 0)
        return
    remaining = [(address, vote) for address, vote in members if address != validator]
    income = _share_out(env, validator, [address for address, _ in remaining])
    env.emit(VALIDATOR_SET, ValidatorFelony, validator, income)
    set_current(env, remaining)


# -- ABI ---------------------------------------------------------------------------------------------------------

@CONTRACT.method("getValidators", outputs=("address[]",))
def _get_validators(env: Env) -> list[bytes]:
    _require_init(env)
    return [address for address, _ in current_set(env)]


def mining_validators(env: Env) -> list[tuple[bytes, bytes]]:
    cabinets = store(env).get("numOfCabinets") or INIT_NUM_OF_CABINETS
    return current_set(env)[:cabinets]


@CONTRACT.method("getMiningValidators", outputs=("address[]", "bytes[]"))
def _get_mining(env: Env) -> tuple[list[bytes], list[bytes]]:
    _require_init(env)
    members = mining_validators(env)
    return [a for a, _ in members], [v for _, v in members]


@CONTRACT.method("getLivingValidators", outputs=("address[]", "bytes[]"))
def _get_living(env: Env) -> tuple[list[bytes], list[bytes]]:
    _require_init(env)
    members = current_set(env)
    return [a for a, _ in members], [v for _, v in members]


@CONTRACT.method("isCurrentValidator", ("address",), ("bool",))
def _is_current(env: Env, validator: str) -> bool:
    return is_current(env, as_address(validator))


@CONTRACT.method("getCurrentValidatorIndex", ("address",), ("uint256",))
def _current_index(env: Env, validator: str) -> int:
    index = store(env).get("set.index", as_address(validator))
    if index == 0:
        raise revert_string("only current validators")
    return index - 1


@CONTRACT.method("currentValidatorSetMap", ("address",), ("uint256",))
def _set_map(env: Env, validator: str) -> int:
    return store(env).get("set.index", as_address(validator))


@CONTRACT.method("getIncoming", ("address",), ("uint256",))
def _get_incoming(env: Env, validator: str) -> int:
    return incoming(env, as_address(validator))


@CONTRACT.method("getWorkingValidatorCount", outputs=("uint256",))
def _working_count(env: Env) -> int:
    return max(len(mining_validators(env)), 1)


@CONTRACT.method("getTurnLength", outputs=("uint256",))
def _turn_length(env: Env) -> int:
    return store(env).get("turnLength") or 1


CONTRACT.getter("totalInComing", "uint256", lambda env: store(env).get("totalInComing"))
CONTRACT.getter("burnRatio", "uint256", lambda env: store(env).get("burnRatio"))
CONTRACT.getter("systemRewardBaseRatio", "uint256", lambda env: store(env).get("systemRewardBaseRatio"))
CONTRACT.getter("numOfCabinets", "uint256", lambda env: store(env).get("numOfCabinets"))
CONTRACT.getter("turnLength", "uint256", lambda env: store(env).get("turnLength"))
CONTRACT.getter("alreadyInit", "bool", lambda env: is_initialised(env))
CONTRACT.getter("BURN_ADDRESS", "address", lambda env: DEAD_ADDRESS)
CONTRACT.getter("BLOCK_FEES_RATIO_SCALE", "uint256", lambda env: FEE_RATIO_SCALE)
CONTRACT.getter("INIT_NUM_OF_CABINETS", "uint256", lambda env: INIT_NUM_OF_CABINETS)


def _only_coinbase(env: Env, *args: object) -> None:
    # block-end work: BSC's system transactions, applied here by finalize, so no transaction may run it
    if env.sender != env.coinbase:
        raise revert_string("the message sender must be the block producer")
    raise revert_string("applied by the consensus engine at block end")


def _only_slash(env: Env, *args: object) -> None:
    raise revert_string("the message sender must be slash contract")


def _only_slash_or_hub(env: Env, *args: object) -> None:
    if env.sender not in (SLASH_INDICATOR, STAKE_HUB):
        raise revert_string("only slash or stakeHub contract")
    raise revert_string("applied by the system contracts themselves")


CONTRACT.method("deposit", ("address",), payable=True)(_only_coinbase)
CONTRACT.method("updateValidatorSetV2", ("address[]", "uint64[]", "bytes[]"))(_only_coinbase)
CONTRACT.method("distributeFinalityReward", ("address[]", "uint256[]"))(_only_coinbase)
CONTRACT.method("misdemeanor", ("address",))(_only_slash)
CONTRACT.method("felony", ("address",))(_only_slash_or_hub)
