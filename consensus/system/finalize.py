"""Block-end rules every node applies after a block's transactions, in BSC's Finalize order (parlia.go).

1. A block sealed out of turn counts a miss for the in-turn validator, unless it signed recently (SlashIndicator).
2. The block's fees, collected at 0xffff…fffe during execution, are deposited: SystemReward's and the burn's
   shares, the rest the sealer's incoming (ValidatorSet).
2b. Every 200th block, SystemReward's balance above 100 BNB (at most 5 BNB) goes to the voters of the last 200
   attestations by their weights (ValidatorSet.distributeFinalityReward; the engine computes the weights).
3. At a breathe block (the first whose timestamp / breatheBlockInterval differs from the last one's), every
   incoming is paid into its validator's pool (commission to the operator, the rest raising the share price),
   leftover dust goes to SystemReward and the missed-block counters decay.
4. At an epoch block, the current set becomes the validators the header names.
BSC applies these as system transactions the sealer signs; here they change state directly, so they leave no
transactions, receipts or logs. The caller (the engine's finalize hook) supplies what only consensus knows: the
in-turn validator, whether it signed recently, whether the block is an epoch block.
"""
from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass

from eth.abc import BlockHeaderAPI, StateAPI

from consensus.header import DIFF_IN_TURN, parse_extra
from consensus.system import slashindicator, stakehub, stakehub_system, validatorset
from consensus.system.addresses import SYSTEM_ADDRESS, SYSTEM_REWARD, VALIDATOR_SET
from consensus.system.runtime import Env


@dataclass(frozen=True)
class BlockEnd:
    """What finalize did, for logs and tests."""

    fees: int = 0
    to_system_reward: int = 0
    burned: int = 0
    missed: bytes | None = None       # the in-turn validator counted a miss
    breathe: bool = False
    epoch: bool = False
    finality_reward: int = 0          # claimed from SystemReward for voters


def is_installed(state: StateAPI) -> bool:
    """Whether genesis set up the staking contracts (a chain without them keeps fees with the sealer)."""
    return validatorset.is_initialised(Env(state))


def finalize_block(state: StateAPI, header: BlockHeaderAPI, *, in_turn: bytes, signed_recently: bool = False,
                   is_epoch: bool = False, finality_weights: Sequence[tuple[bytes, int]] = ()) -> BlockEnd:
    """Apply the block-end rules to `state` (the block's post-transaction state) for `header`;
    `finality_weights` are the voters' weights on a finality-reward block (empty elsewhere)."""
    env = Env(state)
    if not validatorset.is_initialised(env):
        return BlockEnd()
    missed = None
    if header.difficulty != DIFF_IN_TURN and not signed_recently:
        # BSC logs a failed slash and carries on; so does this
        if env.attempt(slashindicator.slash, env, in_turn) is None:
            missed = in_turn
    fees = env.balance(SYSTEM_ADDRESS)
    to_system_reward = burned = 0
    if fees:
        to_system_reward, burned = validatorset.deposit(env, header.coinbase, SYSTEM_ADDRESS, fees)
    finality_reward = validatorset.distribute_finality_reward(env, finality_weights) if finality_weights else 0
    breathe = _is_breathe_block(env)
    if breathe:
        _breathe(env)
    if is_epoch:
        parsed = parse_extra(header.extra_data, epoch_block=True)
        validatorset.set_current(env, [(v.address, v.vote_address) for v in parsed.validators])
    return BlockEnd(fees, to_system_reward, burned, missed, breathe, is_epoch, finality_reward)


def _is_breathe_block(env: Env) -> bool:
    # "breathe" holds the last block's interval index + 1; 0 (no block seen) learns the index without breathing,
    # as BSC's isBreatheBlock needs a parent time
    s = validatorset.store(env)
    index = env.timestamp // stakehub.param(stakehub.store(env), "BREATHE_BLOCK_INTERVAL") + 1
    last = s.get("breathe")
    if index == last:
        return False
    s.set("breathe", index)
    return last != 0


def _breathe(env: Env) -> None:
    # BSC's updateValidatorSetV2 steps 1, 2 and 4 (step 3, the set update, happens at epoch blocks here)
    for validator, amount in validatorset.take_all_incoming(env):
        stakehub_system.distribute_reward(env, validator, amount)
    dust = env.balance(VALIDATOR_SET)
    if dust:
        env.transfer(VALIDATOR_SET, SYSTEM_REWARD, dust)
        env.emit(VALIDATOR_SET, validatorset.SystemTransfer, dust)
    slashindicator.clean(env)


def pay_undistributed_fees(state: StateAPI, coinbase: bytes) -> int:
    """Fees finalize did not distribute go to the sealer, as before staking; returns the amount.

    Also removes the then empty 0xffff…fffe account, as EIP-158 removes it on BSC.
    """
    amount = state.get_balance(SYSTEM_ADDRESS)
    if amount:
        state.delta_balance(SYSTEM_ADDRESS, -amount)
        state.delta_balance(coinbase, amount)
    if state.account_exists(SYSTEM_ADDRESS) and state.account_is_empty(SYSTEM_ADDRESS):
        state.delete_account(SYSTEM_ADDRESS)
    return amount
