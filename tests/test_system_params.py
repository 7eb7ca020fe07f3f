"""SystemParams from genesis `config.parlia` (BSC's getter names), and the system contracts' genesis accounts."""
import pytest

from consensus.system import (
    SLASH_INDICATOR, STAKE_HUB, SYSTEM_CONTRACTS, VALIDATOR_SET, GenesisValidator, SystemParams, genesis_alloc,
    genesis_alloc_json,
)
from consensus.system.params import DAY, ETHER, GENESIS_KEYS
from systemkit import VALIDATORS, Sandbox


def test_defaults_are_bscs():
    params = SystemParams.from_genesis({"period": 3, "epoch": 200})
    assert params == SystemParams()
    assert (params.min_self_delegation, params.min_delegation_change, params.max_elected_validators,
            params.unbond_period) == (2_000 * ETHER, ETHER, 45, 7 * DAY)
    assert (params.misdemeanor_threshold, params.felony_threshold, params.burn_ratio,
            params.system_reward_ratio) == (50, 150, 1_000, 625)


def test_genesis_keys_override_in_any_quantity_form():
    params = SystemParams.from_genesis({"unbondPeriod": 120, "minSelfDelegationBNB": "0x3635c9adc5dea00000",
                                        "felonyThreshold": "30", "misdemeanorThreshold": 10})
    assert (params.unbond_period, params.min_self_delegation, params.felony_threshold,
            params.misdemeanor_threshold) == (120, 1_000 * ETHER, 30, 10)
    assert set(GENESIS_KEYS) == {f.name for f in SystemParams.__dataclass_fields__.values()}


@pytest.mark.parametrize("parlia, named", [
    ({"unbondPeriod": "soon"}, "config.parlia.unbondPeriod"),
    ({"burnRatio": True}, "config.parlia.burnRatio"),
    ({"misdemeanorThreshold": 150}, "misdemeanorThreshold"),
    ({"burnRatio": 9_500}, "burnRatio"),
    ({"turnLength": 0}, "turnLength"),
    ({"unbondPeriod": -1}, "unbondPeriod"),
])
def test_bad_values_are_refused_naming_the_key(parlia, named):
    with pytest.raises(ValueError, match=named):
        SystemParams.from_genesis(parlia)


def test_genesis_accounts_hold_the_stake_and_the_parameters():
    params = SystemParams(unbond_period=60, genesis_stake=5_000 * ETHER)
    alloc = genesis_alloc([GenesisValidator(v) for v in VALIDATORS[:2]], params, timestamp=1_000)
    assert set(SYSTEM_CONTRACTS) <= set(alloc)
    assert alloc[STAKE_HUB]["balance"] == 2 * 5_000 * ETHER
    assert all(alloc[a]["code"] for a in SYSTEM_CONTRACTS)
    credits = [a for a, acct in alloc.items() if a not in SYSTEM_CONTRACTS]
    assert len(credits) == 2 and all(alloc[c]["nonce"] == 1 and alloc[c]["code"] for c in credits)
    written = genesis_alloc_json([GenesisValidator(v) for v in VALIDATORS[:2]], params, timestamp=1_000)
    assert written["0x" + STAKE_HUB.hex()]["balance"] == hex(2 * 5_000 * ETHER)
    assert all(len(slot) == 66 and len(value) == 66 for slot, value in written["0x" + VALIDATOR_SET.hex()]
               ["storage"].items())
    assert written["0x" + SLASH_INDICATOR.hex()]["storage"]


def test_genesis_refuses_a_validator_below_the_minimum_self_delegation():
    with pytest.raises(ValueError, match="below the minimum self-delegation"):
        genesis_alloc([GenesisValidator(VALIDATORS[0], stake=2_000 * ETHER)])
    with pytest.raises(ValueError, match="at least one validator"):
        genesis_alloc([])


def test_contracts_read_the_genesis_parameters():
    sb = Sandbox(SystemParams(unbond_period=77, felony_threshold=40, misdemeanor_threshold=8, num_of_cabinets=5))
    assert sb.view(STAKE_HUB, "unbondPeriod()", returns=("uint256",)) == (77,)
    assert sb.view(SLASH_INDICATOR, "getSlashThresholds()", returns=("uint256", "uint256")) == (8, 40)
    assert sb.view(VALIDATOR_SET, "numOfCabinets()", returns=("uint256",)) == (5,)
