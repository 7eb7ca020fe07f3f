"""Transaction rules that need no pool and no state: decoding, fee fields, and geth's stateless admission checks.

The checks run in geth's order (`txpool.ValidateTransaction`, after the RPC layer's EIP-155 check) and raise the
`node.txerrors` class for the broken rule, with geth's details. Recovering the sender is the last and most expensive
step: it reads `tx.sender`, a cached property on py-evm transactions, so it happens once per transaction object.

Fees on BSC: the base fee is always 0, so a transaction's effective gas price is its tip, capped by its fee cap.
"""
from __future__ import annotations

import re
from typing import Sequence

import rlp
from eth.abc import SignedTransactionAPI
from eth.vm.forks.prague import PragueVM
from eth_keys.exceptions import BadSignature
from eth_utils import ValidationError

from node.chain.transactions import (ACCESS_LIST_TX, BLOB_TX, DYNAMIC_FEE_TX, LEGACY_TX, SET_CODE_TX, effective_price,
                                     fee_cap, signature_checked, tip_cap, tx_type)
from node.txpool.errors import (
    DecodeError,
    EmptyAuthorizationList,
    FloorDataGasTooLow,
    GasLimitExceeded,
    IntrinsicGasTooLow,
    InvalidChainId,
    InvalidSender,
    MaxInitCodeSizeExceeded,
    NonceMax,
    OversizedData,
    ReplayProtectionRequired,
    TipAboveFeeCap,
    TxTypeNotSupported,
    TypedTxTooShort,
    Underpriced,
)

SUPPORTED_TYPES = frozenset({LEGACY_TX, ACCESS_LIST_TX, DYNAMIC_FEE_TX, SET_CODE_TX})

MAX_INITCODE_SIZE = 2 * 24576          # EIP-3860
INITCODE_WORD_GAS = 2                  # EIP-3860, per 32-byte word of init code
TX_GAS = 21000
FLOOR_GAS_PER_TOKEN = 10               # EIP-7623
SECP256K1_N = 0xFFFFFFFFFFFFFFFFFFFFFFFFFFFFFFFEBAAEDCE6AF48A03BBFD25E8CD0364141
MAX_NONCE = 2**64 - 1

_BUILDER = PragueVM.get_transaction_builder()
_GETH_TYPE_NAMES = {
    LEGACY_TX: "types.LegacyTx",
    ACCESS_LIST_TX: "types.AccessListTx",
    DYNAMIC_FEE_TX: "types.DynamicFeeTx",
    SET_CODE_TX: "types.SetCodeTx",
}


# -- decoding --

def decode(raw: bytes) -> SignedTransactionAPI:
    """Raw bytes (legacy RLP or an EIP-2718 envelope) -> a py-evm signed transaction, or geth's decode error."""
    if not raw or (raw[0] <= 0x7F and len(raw) == 1):
        raise TypedTxTooShort()
    kind = LEGACY_TX if raw[0] > 0x7F else raw[0]
    if kind == BLOB_TX:
        raise TxTypeNotSupported(f"received type {BLOB_TX}")
    if raw[0] <= 0x7F and kind not in (ACCESS_LIST_TX, DYNAMIC_FEE_TX, SET_CODE_TX):
        raise TxTypeNotSupported()
    try:
        return _BUILDER.decode(raw)
    except TypeError as exc:  # py-rlp: a list where an integer or byte string belongs
        raise DecodeError(f"expected input string or byte, decoding into {_GETH_TYPE_NAMES[kind]}") from exc
    except (rlp.exceptions.RLPException, ValidationError, ValueError) as exc:
        raise DecodeError(_rlp_reason(str(exc), _GETH_TYPE_NAMES[kind])) from exc


def _rlp_reason(reason: str, type_name: str) -> str:
    """py-rlp's complaint in the words geth's rlp package uses for the same defect, where there is one."""
    if "superfluous" in reason:
        return "input contains more than one value"
    if "Can only deserialize sequences" in reason:
        return f"expected input list for {type_name}"
    lengths = re.search(r"list length \((\d+)\) does not match sedes \((\d+)\)", reason)
    if lengths:
        have, want = map(int, lengths.groups())
        return f"too few elements for {type_name}" if have < want else f"input list has too many elements for {type_name}"
    if "too short" in reason:
        return "value size exceeds available input length"
    return reason[:1].lower() + reason[1:]


def encoded_size(tx: SignedTransactionAPI) -> int:
    """Length of the canonical encoding (the type byte included), as geth's tx.Size()."""
    return len(tx.encode())


# -- fee fields --

def max_cost(tx: SignedTransactionAPI) -> int:
    """gas * fee cap + value: what the sender must hold (geth's tx.Cost())."""
    return tx.gas * fee_cap(tx) + tx.value


def intrinsic_gas(tx: SignedTransactionAPI) -> int:
    """geth's IntrinsicGas: py-evm's figure plus the EIP-3860 init-code word cost, which py-evm charges later."""
    gas = tx.intrinsic_gas
    if not tx.to:
        gas += INITCODE_WORD_GAS * ((len(tx.data) + 31) // 32)
    return gas


def floor_data_gas(tx: SignedTransactionAPI) -> int:
    """EIP-7623 minimum: 21000 + 10 per calldata token (a zero byte is 1 token, any other byte 4)."""
    zeros = tx.data.count(0)
    tokens = zeros + 4 * (len(tx.data) - zeros)
    return TX_GAS + FLOOR_GAS_PER_TOKEN * tokens


# -- checks --

def validate_static(
    tx: SignedTransactionAPI, *, chain_id: int, size: int, max_size: int, block_gas_limit: int, min_gas_price: int
) -> bytes:
    """Every rule that needs no state, in geth's order; returns the recovered sender."""
    kind = tx_type(tx)
    if kind == LEGACY_TX and tx.chain_id is None:
        raise ReplayProtectionRequired()
    if kind not in SUPPORTED_TYPES:
        raise TxTypeNotSupported(f"received type {kind}")
    if size > max_size:
        raise OversizedData(f"transaction size {size}, limit {max_size}")
    if not tx.to and len(tx.data) > MAX_INITCODE_SIZE:
        raise MaxInitCodeSizeExceeded(f"code size {len(tx.data)}, limit {MAX_INITCODE_SIZE}")
    if tx.gas > block_gas_limit:
        raise GasLimitExceeded()
    if fee_cap(tx) < tip_cap(tx):
        raise TipAboveFeeCap()
    sender = recover_sender(tx, chain_id)
    if tx.nonce >= MAX_NONCE:
        raise NonceMax()
    needed = intrinsic_gas(tx)
    if tx.gas < needed:
        raise IntrinsicGasTooLow(f"gas {tx.gas}, minimum needed {needed}")
    floor = floor_data_gas(tx)
    if tx.gas < floor:
        raise FloorDataGasTooLow(f"gas {tx.gas}, minimum needed {floor}")
    if effective_price(tx) < min_gas_price:
        raise Underpriced(f"gas tip cap {effective_price(tx)}, minimum needed {min_gas_price}")
    if kind == SET_CODE_TX and not tx.authorization_list:
        raise EmptyAuthorizationList()
    return sender


def recover_sender(tx: SignedTransactionAPI, chain_id: int) -> bytes:
    """Check the chain id and signature values as geth's signer does, then recover (and cache) `tx.sender`."""
    if tx.chain_id != chain_id:
        raise InvalidChainId(f"invalid chain id for signer: have {tx.chain_id} want {chain_id}")
    if not (0 < tx.r < SECP256K1_N and 0 < tx.s <= SECP256K1_N // 2 and tx.y_parity in (0, 1)):
        raise InvalidSender("invalid transaction v, r, s values")
    try:
        sender = bytes(tx.sender)
    except (BadSignature, ValidationError, ValueError) as exc:
        raise InvalidSender("invalid public key") from exc
    signature_checked(tx)
    return sender


def recovered_elsewhere(tx: SignedTransactionAPI, sender: bytes) -> None:
    """`tx.sender` is `sender`, recovered from `tx`'s signature by a trusted process (the node's JSON-RPC front):
    py-evm caches the sender in the instance (a cached_property), so nothing recovers it again."""
    tx.__dict__["sender"] = sender
