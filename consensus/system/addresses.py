"""BSC's system contract addresses (bsc core/systemcontracts/const.go) and the accounts the fee path uses."""
from __future__ import annotations


def _address(value: int) -> bytes:
    return value.to_bytes(20, "big")


VALIDATOR_SET = _address(0x1000)
SLASH_INDICATOR = _address(0x1001)
SYSTEM_REWARD = _address(0x1002)
STAKE_HUB = _address(0x2002)
# Where BSC burns its share of the fees and where StakeHub locks 1 BNB of every new validator
DEAD_ADDRESS = _address(0xDEAD)
# Transaction fees collect here during a block (BSC's consensus.SystemAddress) until finalize moves them
SYSTEM_ADDRESS = bytes.fromhex("ff" * 19 + "fe")

SYSTEM_CONTRACTS = (VALIDATOR_SET, SLASH_INDICATOR, SYSTEM_REWARD, STAKE_HUB)
