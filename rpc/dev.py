"""Dev-mode methods as anvil and Hardhat name them (evm_*, anvil_*, hardhat_*), over node.devtools.

Answers are anvil's: evm_mine "0x0", evm_snapshot a hex id counting from 0x0, evm_revert true/false,
evm_increaseTime the total offset in seconds as a number, anvil_setStorageAt true, the other setters null.
Numbers are read as anvil reads a U256: a JSON number, a hex string (leading zeros allowed) or a decimal string.
"""
from __future__ import annotations

import re
from dataclasses import dataclass
from typing import Any, NewType

from rpc import encode
from rpc.params import Address, Data, Hash, ParamError

U256 = NewType("U256", int)

_HEX = re.compile(r"0[xX][0-9a-fA-F]+")
_DECIMAL = re.compile(r"[0-9]+")


@dataclass(frozen=True)
class MineOptions:
    """evm_mine's optional parameter: a timestamp, or {timestamp, blocks}."""

    timestamp: int | None = None
    blocks: int = 1


def parse_u256(value: Any) -> int:
    if isinstance(value, bool) or not isinstance(value, (int, str)):
        raise ParamError(f"cannot unmarshal {type(value).__name__} into a number")
    if isinstance(value, int):
        number = value
    elif _HEX.fullmatch(value):
        number = int(value[2:], 16)
    elif _DECIMAL.fullmatch(value):
        number = int(value)
    else:
        raise ParamError(f"invalid number {value!r}: want a hex or decimal integer")
    if not 0 <= number < 2**256:
        raise ParamError(f"number out of range: {value}")
    return number


def parse_mine_options(value: Any) -> MineOptions:
    if isinstance(value, dict):
        unknown = set(value) - {"timestamp", "blocks"}
        if unknown:
            raise ParamError(f"unknown field {sorted(unknown)[0]!r} in mine options")
        timestamp = value.get("timestamp")
        blocks = value.get("blocks")
        return MineOptions(None if timestamp is None else parse_u256(timestamp),
                           1 if blocks is None else parse_u256(blocks))
    return MineOptions(timestamp=parse_u256(value))


PARSERS = {U256: parse_u256, MineOptions: parse_mine_options}


# -- mining --

def evm_mine(node, options: MineOptions = MineOptions()) -> str:
    node.dev.mine(options.blocks, options.timestamp)
    return "0x0"


def anvil_mine(node, blocks: U256 = 1, interval: U256 = None) -> None:
    """`blocks` blocks now, `interval` seconds apart (hardhat_mine's parameters)."""
    node.dev.mine(blocks, interval=interval)


def set_automine(node, enabled: bool) -> None:
    node.dev.set_automine(enabled)


def get_automine(node) -> bool:
    return node.producer.automine


def set_interval_mining(node, seconds: U256) -> None:
    node.dev.set_interval_mining(seconds)


# -- time --

def increase_time(node, seconds: U256) -> int:
    return node.dev.increase_time(seconds)


def set_next_block_timestamp(node, timestamp: U256) -> None:
    node.dev.set_next_block_timestamp(timestamp)


# -- snapshots --

def snapshot(node) -> str:
    return encode.quantity(node.dev.snapshot())


def revert(node, snapshot_id: U256) -> bool:
    return node.dev.revert(snapshot_id)


# -- state --

def set_balance(node, address: Address, balance: U256) -> None:
    node.dev.set_balance(address, balance)


def set_nonce(node, address: Address, nonce: U256) -> None:
    node.dev.set_nonce(address, nonce)


def set_code(node, address: Address, code: Data) -> None:
    node.dev.set_code(address, code)


def set_storage_at(node, address: Address, slot: U256, value: Hash) -> bool:
    node.dev.set_storage(address, slot, int.from_bytes(value, "big"))
    return True


# -- impersonation --

def impersonate_account(node, address: Address) -> None:
    node.dev.impersonate(address)


def stop_impersonating_account(node, address: Address) -> None:
    node.dev.stop_impersonating(address)


def auto_impersonate_account(node, enabled: bool) -> None:
    node.dev.auto_impersonate = enabled


# Every name anvil answers to for each method (its hardhat_/evm_ aliases included).
METHODS = {
    "evm_mine": evm_mine,
    "anvil_mine": anvil_mine,
    "hardhat_mine": anvil_mine,
    "evm_setAutomine": set_automine,
    "anvil_setAutomine": set_automine,
    "anvil_getAutomine": get_automine,
    "hardhat_getAutomine": get_automine,
    "evm_setIntervalMining": set_interval_mining,
    "anvil_setIntervalMining": set_interval_mining,
    "evm_increaseTime": increase_time,
    "anvil_increaseTime": increase_time,
    "evm_setNextBlockTimestamp": set_next_block_timestamp,
    "anvil_setNextBlockTimestamp": set_next_block_timestamp,
    "evm_snapshot": snapshot,
    "anvil_snapshot": snapshot,
    "evm_revert": revert,
    "anvil_revert": revert,
    "anvil_setBalance": set_balance,
    "hardhat_setBalance": set_balance,
    "anvil_setNonce": set_nonce,
    "hardhat_setNonce": set_nonce,
    "anvil_setCode": set_code,
    "hardhat_setCode": set_code,
    "anvil_setStorageAt": set_storage_at,
    "hardhat_setStorageAt": set_storage_at,
    "anvil_impersonateAccount": impersonate_account,
    "hardhat_impersonateAccount": impersonate_account,
    "anvil_stopImpersonatingAccount": stop_impersonating_account,
    "hardhat_stopImpersonatingAccount": stop_impersonating_account,
    "anvil_autoImpersonateAccount": auto_impersonate_account,
}
