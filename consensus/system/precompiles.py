"""The py-evm binding: one precompile-style handler per system contract address, for the computation class, and
BSC's BLS precompile 0x66 (blsverify.py).

py-evm calls `handler(computation)` for a message to a precompile address (before any code would run), after it
moved msg.value to the address. A handler answers through computation.output, charges gas through the
computation, and fails as the EVM fails: a Revert keeps the revert data and the unused gas, any other VMError
(out of gas, a write inside STATICCALL) burns it. py-evm then reverts the message's state changes.
"""
from __future__ import annotations

from typing import Callable

from eth.abc import ComputationAPI
from eth.exceptions import Revert

from consensus.system import (
    blsverify, credit, slashindicator, stakehub, stakehub_system, stakehub_views, systemreward, validatorset,
)
from consensus.system.abi import Contract
from consensus.system.runtime import ContractRevert, Env

assert stakehub_views and stakehub_system  # imported for their side effect: they register on StakeHub's table


def _call_stake_hub(env: Env, data: bytes) -> bytes:
    # a call forwarded by a validator's credit address is a StakeCredit call for that validator
    op = credit.operator_of_credit(stakehub.store(env), env.sender)
    if op is not None:
        return credit.CREDIT.call(env, data, op)
    return stakehub.CONTRACT.call(env, data)


def _handler(contract: Contract, call: Callable[[Env, bytes], bytes]) -> Callable[[ComputationAPI], ComputationAPI]:
    def run(computation: ComputationAPI) -> ComputationAPI:
        env = Env(computation.state, computation)
        try:
            if computation.msg.storage_address != contract.address:
                # DELEGATECALL/CALLCODE would run the contract on the caller's storage: refuse
                raise ContractRevert(b"", f"{contract.name} cannot be delegate-called")
            computation.output = call(env, computation.msg.data_as_bytes)
        except ContractRevert as exc:
            computation.output = exc.data
            raise Revert(str(exc)) from None
        return computation
    run.__name__ = f"{contract.name}_precompile"
    return run


SYSTEM_PRECOMPILES = {
    c.address: _handler(c, call) for c, call in (
        (validatorset.CONTRACT, validatorset.CONTRACT.call),
        (slashindicator.CONTRACT, slashindicator.CONTRACT.call),
        (systemreward.CONTRACT, systemreward.CONTRACT.call),
        (stakehub.CONTRACT, _call_stake_hub),
    )
}
SYSTEM_PRECOMPILES[blsverify.BLS_SIGNATURE_VERIFY] = blsverify.precompile
