"""SystemParams: the staking, slashing and reward parameters, BSC's values by default, readable from genesis.

Keys in genesis `config.parlia` are BSC's own getter names (StakeHub, BSCValidatorSet, SlashIndicator), e.g.
`"unbondPeriod": 120`. Amounts are in wei, times in seconds, ratios in the contracts' own bases.
"""
from __future__ import annotations

from dataclasses import dataclass, fields, replace
from typing import Any, Mapping

ETHER = 10**18
DAY = 86_400


@dataclass(frozen=True)
class SystemParams:
    # StakeHub.initialize() (gc/contracts/StakeHub.sol)
    min_self_delegation: int = 2_000 * ETHER
    min_delegation_change: int = 1 * ETHER
    max_elected_validators: int = 45
    unbond_period: int = 7 * DAY
    redelegate_fee_rate: int = 2                 # of 100000
    downtime_slash_amount: int = 10 * ETHER
    felony_slash_amount: int = 200 * ETHER
    downtime_jail_time: int = 2 * DAY
    felony_jail_time: int = 30 * DAY
    max_felony_between_breathe_block: int = 2
    transfer_gas_limit: int = 5000
    # BSC's BreatheBlockInterval (bsc params/protocol_params.go): rewards paid and slash counters decayed once
    # per interval; a constant on BSC, a parameter here so devnets run their day in minutes (node-deploy: 1200 s)
    breathe_block_interval: int = DAY
    # SlashIndicator
    misdemeanor_threshold: int = 50
    felony_threshold: int = 150
    felony_slash_scope: int = 28_800             # blocks an evidence stays valid
    felony_slash_reward_ratio: int = 20          # % of SystemReward's balance paid to the evidence submitter
    # BSCValidatorSet
    burn_ratio: int = 1_000                      # of 10000
    system_reward_ratio: int = 625               # of 10000 (systemRewardBaseRatio)
    num_of_cabinets: int = 21
    turn_length: int = 1
    # stake of each genesis validator (BSC's node-deploy registers validators with 20001 BNB)
    genesis_stake: int = 20_001 * ETHER
    # SlashIndicator.enableMaliciousVoteSlash: finality-violation evidence slashes (true in BSC's dev genesis)
    enable_malicious_vote_slash: int = 1
    # Not a BSC switch (BSC always checks): StakeHub verifies the BLS proof of a vote address through 0x66 when 1,
    # as BSC; a genesis may set 0 to keep only the length check (e.g. to replay scripts written with dummy proofs).
    check_vote_address_proof: int = 1

    def __post_init__(self) -> None:
        for item in fields(self):
            value = getattr(self, item.name)
            if not isinstance(value, int) or isinstance(value, bool) or value < 0:
                raise ValueError(f"{GENESIS_KEYS[item.name]}: want a non-negative integer, have {value!r}")
        # the ranges BSC's updateParam enforces where a value outside them breaks the rules themselves
        if not 1 <= self.misdemeanor_threshold < self.felony_threshold:
            raise ValueError(f"misdemeanorThreshold/felonyThreshold: want 1 <= misdemeanor < felony, "
                             f"have {self.misdemeanor_threshold} and {self.felony_threshold}")
        if self.burn_ratio + self.system_reward_ratio > 10_000:
            raise ValueError(f"burnRatio + systemRewardBaseRatio: want at most 10000, "
                             f"have {self.burn_ratio + self.system_reward_ratio}")
        if self.max_elected_validators < 1 or self.num_of_cabinets < 1:
            raise ValueError("maxElectedValidators/numOfCabinets: want at least 1")
        if not 1 <= self.turn_length <= 64:
            raise ValueError(f"turnLength: want 1..64, have {self.turn_length}")
        if self.breathe_block_interval < 1:
            raise ValueError("breatheBlockInterval: want at least 1 second")
        if self.enable_malicious_vote_slash > 1 or self.check_vote_address_proof > 1:
            raise ValueError("enableMaliciousVoteSlash/checkVoteAddressProof: want 0 or 1")
        if self.felony_slash_reward_ratio > 100 or self.redelegate_fee_rate > 100:
            raise ValueError("felonySlashRewardRatio/redelegateFeeRate: want at most 100")

    @classmethod
    def from_genesis(cls, parlia: Mapping[str, Any] | None) -> "SystemParams":
        """Parameters from genesis `config.parlia`; absent keys keep BSC's defaults, unknown keys are ignored."""
        overrides = {}
        for name, key in GENESIS_KEYS.items():
            if parlia and key in parlia:
                overrides[name] = _quantity(parlia[key], key)
        return replace(cls(), **overrides)


GENESIS_KEYS = {
    "min_self_delegation": "minSelfDelegationBNB",
    "min_delegation_change": "minDelegationBNBChange",
    "max_elected_validators": "maxElectedValidators",
    "unbond_period": "unbondPeriod",
    "redelegate_fee_rate": "redelegateFeeRate",
    "downtime_slash_amount": "downtimeSlashAmount",
    "felony_slash_amount": "felonySlashAmount",
    "downtime_jail_time": "downtimeJailTime",
    "felony_jail_time": "felonyJailTime",
    "max_felony_between_breathe_block": "maxFelonyBetweenBreatheBlock",
    "transfer_gas_limit": "transferGasLimit",
    "breathe_block_interval": "breatheBlockInterval",
    "misdemeanor_threshold": "misdemeanorThreshold",
    "felony_threshold": "felonyThreshold",
    "felony_slash_scope": "felonySlashScope",
    "felony_slash_reward_ratio": "felonySlashRewardRatio",
    "burn_ratio": "burnRatio",
    "system_reward_ratio": "systemRewardBaseRatio",
    "num_of_cabinets": "numOfCabinets",
    "turn_length": "turnLength",
    "genesis_stake": "genesisStake",
    "enable_malicious_vote_slash": "enableMaliciousVoteSlash",
    "check_vote_address_proof": "checkVoteAddressProof",
}


def _quantity(value: Any, key: str) -> int:
    # the genesis conventions: a JSON integer, a 0x-hex string or a decimal string
    if isinstance(value, bool):
        raise ValueError(f"config.parlia.{key}: want a number, have {value!r}")
    if isinstance(value, int):
        return value
    if isinstance(value, str):
        try:
            return int(value, 16) if value.lower().startswith("0x") else int(value, 10)
        except ValueError:
            pass
    raise ValueError(f"config.parlia.{key}: want a number, have {value!r}")
