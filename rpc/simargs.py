"""eth_simulateV1's parameters as geth reads them: transaction args, state and block overrides, options.

Parsers raise ParamError with geth's wording where the fixtures look at it; the registry prefixes the argument.
"""
from __future__ import annotations

from dataclasses import dataclass, field
from typing import Any, NewType

from rpc.params import (CallArgs, ParamError, call_fields, parse_address, parse_bool, parse_data, parse_field,
                        parse_hash, parse_quantity, parse_uint64)

SimOptsArg = NewType("SimOptsArg", object)


@dataclass
class Authorization:
    chain_id: int
    address: bytes
    nonce: int
    y_parity: int
    r: int
    s: int


@dataclass(frozen=True)
class TxArgs(CallArgs):
    """geth's TransactionArgs with the blob and set-code fields eth_simulateV1 reads; None: not given."""

    max_fee_per_blob_gas: int | None = None
    blob_hashes: tuple[bytes, ...] | None = None
    authorizations: tuple[Authorization, ...] | None = None

    @property
    def from_(self) -> bytes:
        return self.sender or b"\0" * 20


@dataclass
class AccountOverride:
    nonce: int | None = None
    code: bytes | None = None
    balance: int | None = None
    state: dict[bytes, bytes] | None = None
    state_diff: dict[bytes, bytes] | None = None
    move_precompile_to: bytes | None = None


@dataclass
class Withdrawal:
    index: int
    validator_index: int
    address: bytes
    amount: int


@dataclass
class BlockOverrides:
    number: int | None = None
    difficulty: int | None = None
    time: int | None = None
    gas_limit: int | None = None
    fee_recipient: bytes | None = None
    prev_randao: bytes | None = None
    base_fee: int | None = None
    blob_base_fee: int | None = None
    beacon_root: bytes | None = None
    withdrawals: list[Withdrawal] | None = None


@dataclass
class SimBlock:
    overrides: BlockOverrides = field(default_factory=BlockOverrides)
    state: dict[bytes, AccountOverride] = field(default_factory=dict)
    calls: list[TxArgs] = field(default_factory=list)


@dataclass
class SimOpts:
    blocks: list[SimBlock]
    trace_transfers: bool = False
    validation: bool = False
    full_transactions: bool = False


def _object(value: Any, what: str) -> dict:
    if not isinstance(value, dict):
        raise ParamError(f"cannot unmarshal into {what}")
    return value


def _list(value: Any, what: str) -> list:
    if not isinstance(value, list):
        raise ParamError(f"cannot unmarshal into {what}")
    return value


def parse_authorization(value: Any) -> Authorization:
    obj = _object(value, "types.SetCodeAuthorization")
    return Authorization(parse_field(obj, "chainId", parse_quantity) or 0, parse_field(obj, "address", parse_address) or b"\0" * 20,
                         parse_field(obj, "nonce", parse_uint64) or 0, parse_field(obj, "yParity", parse_uint64) or 0,
                         parse_field(obj, "r", parse_quantity) or 0, parse_field(obj, "s", parse_quantity) or 0)


def parse_tx_args(value: Any) -> TxArgs:
    obj = _object(value, "ethapi.TransactionArgs")
    hashes = obj.get("blobVersionedHashes")
    auths = obj.get("authorizationList")
    return TxArgs(
        **call_fields(obj), max_fee_per_blob_gas=parse_field(obj, "maxFeePerBlobGas", parse_quantity),
        blob_hashes=None if hashes is None else tuple(parse_hash(h) for h in _list(hashes, "[]common.Hash")),
        authorizations=None if auths is None else tuple(parse_authorization(a) for a in _list(auths, "auth list")),
    )


def _slots(value: Any) -> dict[bytes, bytes]:
    return {parse_hash(k): parse_hash(v) for k, v in _object(value, "map[common.Hash]common.Hash").items()}


def parse_state_overrides(value: Any) -> dict[bytes, AccountOverride]:
    out = {}
    for address, raw in _object(value, "override.StateOverride").items():
        obj = _object(raw, "override.OverrideAccount")
        out[parse_address(address)] = AccountOverride(
            nonce=parse_field(obj, "nonce", parse_uint64), code=parse_field(obj, "code", parse_data),
            balance=parse_field(obj, "balance", parse_quantity), state=parse_field(obj, "state", _slots),
            state_diff=parse_field(obj, "stateDiff", _slots),
            move_precompile_to=parse_field(obj, "movePrecompileToAddress", parse_address))
    return out


def _withdrawal(value: Any) -> Withdrawal:
    obj = _object(value, "types.Withdrawal")
    return Withdrawal(parse_field(obj, "index", parse_uint64) or 0, parse_field(obj, "validatorIndex", parse_uint64) or 0,
                      parse_field(obj, "address", parse_address) or b"\0" * 20, parse_field(obj, "amount", parse_uint64) or 0)


def parse_block_overrides(value: Any) -> BlockOverrides:
    obj = _object(value, "override.BlockOverrides")
    withdrawals = obj.get("withdrawals")
    return BlockOverrides(
        number=parse_field(obj, "number", parse_quantity), difficulty=parse_field(obj, "difficulty", parse_quantity),
        time=parse_field(obj, "time", parse_uint64), gas_limit=parse_field(obj, "gasLimit", parse_uint64),
        fee_recipient=parse_field(obj, "feeRecipient", parse_address), prev_randao=parse_field(obj, "prevRandao", parse_hash),
        base_fee=parse_field(obj, "baseFeePerGas", parse_quantity), blob_base_fee=parse_field(obj, "blobBaseFee", parse_quantity),
        beacon_root=parse_field(obj, "beaconRoot", parse_hash),
        withdrawals=None if withdrawals is None else [_withdrawal(w) for w in _list(withdrawals, "withdrawals")])


def parse_sim_opts(value: Any) -> SimOpts:
    obj = _object(value, "ethapi.simOpts")
    blocks = []
    for raw in _list(obj.get("blockStateCalls") or [], "[]ethapi.simBlock"):
        block = _object(raw, "ethapi.simBlock")
        blocks.append(SimBlock(
            overrides=parse_block_overrides(block["blockOverrides"]) if block.get("blockOverrides") is not None
            else BlockOverrides(),
            state=parse_state_overrides(block["stateOverrides"]) if block.get("stateOverrides") is not None else {},
            calls=[parse_tx_args(c) for c in _list(block.get("calls") or [], "[]ethapi.TransactionArgs")]))
    return SimOpts(blocks, bool(parse_field(obj, "traceTransfers", parse_bool)), bool(parse_field(obj, "validation", parse_bool)),
                   bool(parse_field(obj, "returnFullTransactions", parse_bool)))
