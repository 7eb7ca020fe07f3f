"""The system contracts' genesis accounts: code, balances and storage for a set of genesis validators.

Merge the result into the genesis alloc: `genesis_alloc` gives py-evm's genesis_state shape, `genesis_alloc_json`
genesis.json's. Every genesis validator is a StakeHub validator (operator = its consensus address unless given),
created as createValidator would, with `stake` of which 1 BNB is locked; the staked BNB is StakeHub's balance, so
it is part of the genesis supply. The contracts' parameters are written into their storage, where BSC keeps them.
"""
from __future__ import annotations

import copy
from dataclasses import dataclass
from typing import Any, Sequence

from consensus.system import credit, slashindicator, stakehub, validatorset
from consensus.system.addresses import STAKE_HUB, SYSTEM_CONTRACTS
from consensus.system.params import SystemParams
from consensus.system.runtime import Env

# Never runs (the precompile answers first); non-empty so Solidity's extcodesize check before a call passes.
# PUSH0 PUSH0 REVERT.
SYSTEM_CODE = bytes.fromhex("5f5ffd")
DEFAULT_COMMISSION = (1_000, 5_000, 500)   # 10%, at most 50%, moving by at most 5% a day


@dataclass(frozen=True)
class GenesisValidator:
    consensus: bytes
    operator: bytes | None = None
    vote_address: bytes = b""             # 48-byte BLS key, or none
    stake: int | None = None              # default: params.genesis_stake
    moniker: str | None = None            # default: Genesis<i>
    commission: tuple[int, int, int] = DEFAULT_COMMISSION


class DictState:
    """The StateLike subset on plain dicts, to run the contracts' own setup code at genesis."""

    def __init__(self) -> None:
        self.accounts: dict[bytes, dict[str, Any]] = {}

    def _account(self, address: bytes) -> dict[str, Any]:
        return self.accounts.setdefault(address, {"balance": 0, "nonce": 0, "code": b"", "storage": {}})

    def get_storage(self, address: bytes, slot: int) -> int:
        return self._account(address)["storage"].get(slot, 0)

    def set_storage(self, address: bytes, slot: int, value: int) -> None:
        storage = self._account(address)["storage"]
        if value:
            storage[slot] = value
        else:
            storage.pop(slot, None)

    def get_balance(self, address: bytes) -> int:
        return self._account(address)["balance"]

    def delta_balance(self, address: bytes, delta: int) -> None:
        self._account(address)["balance"] += delta

    def get_nonce(self, address: bytes) -> int:
        return self._account(address)["nonce"]

    def set_nonce(self, address: bytes, nonce: int) -> None:
        self._account(address)["nonce"] = nonce

    def set_code(self, address: bytes, code: bytes) -> None:
        self._account(address)["code"] = code

    def snapshot(self) -> dict:
        return copy.deepcopy(self.accounts)

    def revert(self, snapshot: dict) -> None:
        self.accounts = snapshot

    def commit(self, snapshot: dict) -> None:
        pass


def genesis_alloc(validators: Sequence[GenesisValidator | bytes], params: SystemParams = SystemParams(),
                  timestamp: int = 0) -> dict[bytes, dict[str, Any]]:
    """Accounts to add to the genesis alloc (address -> balance, nonce, code, storage), py-evm's shape."""
    if not validators:
        raise ValueError("genesis: want at least one validator")
    state = DictState()
    env = Env(state, timestamp=timestamp)
    for address in SYSTEM_CONTRACTS:
        state.set_code(address, SYSTEM_CODE)
        state.set_nonce(address, 1)
    _init_stake_hub(env, params)
    _init_validator_set(env, params, timestamp)
    _init_slash_indicator(env, params)
    hub = stakehub.store(env)
    entries = [v if isinstance(v, GenesisValidator) else GenesisValidator(v) for v in validators]
    for i, v in enumerate(sorted(entries, key=lambda v: v.consensus)):
        stake = params.genesis_stake if v.stake is None else v.stake
        if stake - credit.LOCK_AMOUNT < params.min_self_delegation:
            raise ValueError(f"genesis validator 0x{v.consensus.hex()}: stake {stake} wei is below the minimum "
                             f"self-delegation {params.min_self_delegation} + the 1 BNB lock")
        moniker = v.moniker or f"Genesis{i}"
        state.delta_balance(STAKE_HUB, stake)
        stakehub.add_validator(env, hub, v.operator or v.consensus, v.consensus, v.vote_address, v.commission,
                               (moniker, "", "", ""), stake)
    validatorset.set_current(env, sorted((v.consensus, v.vote_address) for v in entries))
    return {address: dict(account) for address, account in state.accounts.items()}


def _init_stake_hub(env: Env, params: SystemParams) -> None:
    s = stakehub.store(env)
    s.set("alreadyInit", 1)
    for name, value in (("transferGasLimit", params.transfer_gas_limit),
                        ("minSelfDelegationBNB", params.min_self_delegation),
                        ("minDelegationBNBChange", params.min_delegation_change),
                        ("maxElectedValidators", params.max_elected_validators),
                        ("unbondPeriod", params.unbond_period),
                        ("redelegateFeeRate", params.redelegate_fee_rate),
                        ("downtimeSlashAmount", params.downtime_slash_amount),
                        ("felonySlashAmount", params.felony_slash_amount),
                        ("downtimeJailTime", params.downtime_jail_time),
                        ("felonyJailTime", params.felony_jail_time),
                        ("maxFelonyBetweenBreatheBlock", params.max_felony_between_breathe_block),
                        ("BREATHE_BLOCK_INTERVAL", params.breathe_block_interval),
                        ("checkVoteAddressProof", params.check_vote_address_proof)):
        s.set("param", name, value)


def _init_validator_set(env: Env, params: SystemParams, timestamp: int) -> None:
    s = validatorset.store(env)
    s.set("alreadyInit", 1)
    s.set("burnRatio", params.burn_ratio)
    s.set("systemRewardBaseRatio", params.system_reward_ratio)
    s.set("numOfCabinets", params.num_of_cabinets)
    s.set("turnLength", params.turn_length)
    s.set("breathe", timestamp // params.breathe_block_interval + 1)


def _init_slash_indicator(env: Env, params: SystemParams) -> None:
    s = slashindicator.store(env)
    s.set("alreadyInit", 1)
    s.set("misdemeanorThreshold", params.misdemeanor_threshold)
    s.set("felonyThreshold", params.felony_threshold)
    s.set("felonySlashScope", params.felony_slash_scope)
    s.set("felonySlashRewardRatio", params.felony_slash_reward_ratio)
    s.set("enableMaliciousVoteSlash", params.enable_malicious_vote_slash)


def genesis_alloc_json(validators: Sequence[GenesisValidator | bytes], params: SystemParams = SystemParams(),
                       timestamp: int = 0) -> dict[str, dict[str, Any]]:
    """The same accounts as genesis.json writes them ("0x…" keys, hex quantities, 32-byte storage words)."""
    return {
        "0x" + address.hex(): {
            "balance": hex(account["balance"]),
            "nonce": hex(account["nonce"]),
            "code": "0x" + account["code"].hex(),
            "storage": {"0x" + slot.to_bytes(32, "big").hex(): "0x" + value.to_bytes(32, "big").hex()
                        for slot, value in sorted(account["storage"].items())},
        }
        for address, account in genesis_alloc(validators, params, timestamp).items()
    }

