"""SystemReward (0x…1002): takes its share of every block's fees and slashed stake, pays evidence submitters.

As gc/contracts/SystemReward.sol: anyone may send it BNB (receiveDeposit); claimRewards pays at most MAX_REWARDS
per claim and only to the system contracts that are its operators (here SlashIndicator and ValidatorSet, which call
it from Python, so every transaction calling claimRewards is refused as BSC refuses a non-operator).
"""
from __future__ import annotations

from consensus.system.abi import Contract, as_address
from consensus.system.addresses import SLASH_INDICATOR, SYSTEM_REWARD, VALIDATOR_SET
from consensus.system.runtime import Env, Event, revert_string

MAX_REWARDS = 5 * 10**18
OPERATORS = (SLASH_INDICATOR, VALIDATOR_SET)

RewardTo = Event("rewardTo", ("address", True), ("uint256", False))
RewardEmpty = Event("rewardEmpty")
ReceiveDeposit = Event("receiveDeposit", ("address", True), ("uint256", False))

CONTRACT = Contract("SystemReward", SYSTEM_REWARD)


def claim_rewards(env: Env, to: bytes, amount: int) -> int:
    """Pay `to` up to `amount` (capped by the balance and MAX_REWARDS); returns what was paid."""
    actual = min(amount, env.balance(SYSTEM_REWARD), MAX_REWARDS)
    if actual:
        env.transfer(SYSTEM_REWARD, to, actual)
        env.emit(SYSTEM_REWARD, RewardTo, to, actual)
    else:
        env.emit(SYSTEM_REWARD, RewardEmpty)
    return actual


@CONTRACT.on_receive
def _receive(env: Env) -> None:
    if env.value:
        env.emit(SYSTEM_REWARD, ReceiveDeposit, env.sender, env.value)


@CONTRACT.method("claimRewards", ("address", "uint256"), ("uint256",))
def _claim_rewards(env: Env, to: str, amount: int) -> int:
    raise revert_string("only operator is allowed to call the method")


@CONTRACT.method("isOperator", ("address",), ("bool",))
def _is_operator(env: Env, address: str) -> bool:
    return as_address(address) in OPERATORS


CONTRACT.getter("numOperator", "uint256", lambda env: len(OPERATORS))
CONTRACT.getter("MAX_REWARDS", "uint256", lambda env: MAX_REWARDS)
