"""The epoch election: which validators the next epoch block names, from StakeHub's stake (a view of the state).

BSC (consensus/parlia/feynmanfork.go getTopValidatorsByVotingPower, ValidatorSet.getMiningValidators): voting
power is a validator's total pooled BNB, 0 while jailed; power-0 validators drop out; the rest are ranked by power,
ties by the EIP-55 checksummed consensus address; the top maxElectedValidators are elected and the first
numOfCabinets of them mine. Here a validator whose own stake has fallen below minSelfDelegationBNB is left out too.
The producer writes the result (sorted by address, as epoch extraData wants) into an epoch block; importers compare.
"""
from __future__ import annotations

from eth.abc import StateAPI
from eth_utils import to_checksum_address

from consensus.header import BLS_PUBKEY_LEN, ValidatorInfo
from consensus.snapshot import EpochSet
from consensus.system import credit, stakehub, validatorset
from consensus.system.runtime import Env
from consensus.system.stakehub_views import voting_power


def elect(state: StateAPI) -> tuple[ValidatorInfo, ...]:
    """The next epoch's validators (with their BLS vote keys), sorted by address; () without staking contracts.

    When nobody qualifies the current set stays, so the chain keeps a producer.
    """
    env = Env(state)
    s = stakehub.store(env)
    if s.get("alreadyInit") != 1:
        return ()
    ranked = []
    for op in stakehub.operators(s):
        power = voting_power(s, op)
        if power == 0 or credit.pooled_of(s, op, op) < stakehub.param(s, "minSelfDelegationBNB"):
            continue
        consensus = s.get_address("val.consensus", op)
        ranked.append((-power, to_checksum_address(consensus), consensus, s.get_bytes("val.vote", op)))
    ranked.sort()
    limit = min(stakehub.param(s, "maxElectedValidators"),
                validatorset.store(env).get("numOfCabinets") or validatorset.INIT_NUM_OF_CABINETS)
    chosen = [(consensus, vote) for _, _, consensus, vote in ranked[:limit]]
    if not chosen:
        chosen = validatorset.current_set(env)
    return tuple(sorted((_info(address, vote) for address, vote in chosen), key=lambda v: v.address))


def turn_length(state: StateAPI) -> int:
    """ValidatorSet.getTurnLength(): what the next epoch block's turnLength byte says."""
    return validatorset.store(Env(state)).get("turnLength") or 1


def epoch_set(state: StateAPI) -> EpochSet | None:
    """What PosaEngine's `election` hook answers for the state at an epoch block's parent: the elected validators
    and the turn length, or None (the set in force carries over) on a chain without the staking contracts."""
    validators = elect(state)
    return EpochSet(validators, turn_length(state)) if validators else None


def _info(address: bytes, vote: bytes) -> ValidatorInfo:
    # validators registered without a BLS key (genesis) carry a zero key in extraData, as before Luban
    return ValidatorInfo(address, vote if len(vote) == BLS_PUBKEY_LEN else bytes(BLS_PUBKEY_LEN))
