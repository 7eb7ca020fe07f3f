"""BSC's system contracts in Python: StakeHub, ValidatorSet, SlashIndicator, SystemReward, and the block-end rules.

- precompiles.SYSTEM_PRECOMPILES: the handlers consensus/seam.py installs at BSC's addresses in the Prague VM;
- finalize.finalize_block: the block-end rules (missed blocks, fee split, rewards, decay, epoch set);
- election.elect / turn_length / epoch_set: the validators and turn length the next epoch block carries;
- genesis.genesis_alloc: the contracts' genesis accounts for the genesis validators;
- params.SystemParams: the parameters, BSC's values by default, from genesis `config.parlia`.
"""
from consensus.system.addresses import (
    DEAD_ADDRESS, SLASH_INDICATOR, STAKE_HUB, SYSTEM_ADDRESS, SYSTEM_CONTRACTS, SYSTEM_REWARD, VALIDATOR_SET,
)
from consensus.system.election import elect, epoch_set, turn_length
from consensus.system.finalize import BlockEnd, finalize_block, is_installed, pay_undistributed_fees
from consensus.system.genesis import GenesisValidator, genesis_alloc, genesis_alloc_json
from consensus.system.params import SystemParams
from consensus.system.precompiles import SYSTEM_PRECOMPILES

__all__ = [
    "BlockEnd", "DEAD_ADDRESS", "GenesisValidator", "SLASH_INDICATOR", "STAKE_HUB", "SYSTEM_ADDRESS",
    "SYSTEM_CONTRACTS", "SYSTEM_PRECOMPILES", "SYSTEM_REWARD", "SystemParams", "VALIDATOR_SET", "elect", "epoch_set",
    "finalize_block", "genesis_alloc", "genesis_alloc_json", "is_installed", "pay_undistributed_fees",
    "turn_length",
]
