"""What the chain itself needs to know of a transaction: its type, the gas price it pays, and its sender, recovered
once per transaction object (py-evm caches `tx.sender`; the signature re-check py-evm makes before execution is
spared once the sender is known). The pool's admission rules build on these (node/txpool/validation.py)."""
from __future__ import annotations

from typing import Sequence

from eth.abc import SignedTransactionAPI
from eth_keys.exceptions import BadSignature
from eth_utils import ValidationError

LEGACY_TX, ACCESS_LIST_TX, DYNAMIC_FEE_TX, BLOB_TX, SET_CODE_TX = 0, 1, 2, 3, 4


# -- fee fields --

def tx_type(tx: SignedTransactionAPI) -> int:
    """EIP-2718 type; py-evm legacy transactions have `type_id` None."""
    return tx.type_id or LEGACY_TX


def fee_cap(tx: SignedTransactionAPI) -> int:
    """Most paid per gas: gasPrice, or maxFeePerGas (py-evm raises on `gas_price` of EIP-1559 types)."""
    return tx.gas_price if tx_type(tx) < DYNAMIC_FEE_TX else tx.max_fee_per_gas


def tip_cap(tx: SignedTransactionAPI) -> int:
    """Priority fee per gas: gasPrice, or maxPriorityFeePerGas."""
    return tx.gas_price if tx_type(tx) < DYNAMIC_FEE_TX else tx.max_priority_fee_per_gas


def effective_price(tx: SignedTransactionAPI, base_fee: int = 0) -> int:
    """Gas price actually paid in a block with this base fee (BSC's is 0): min(fee cap, base fee + tip cap)."""
    return min(fee_cap(tx), base_fee + tip_cap(tx))


# -- senders --

def signature_checked(tx: SignedTransactionAPI) -> None:
    """Spare `tx` py-evm's signature re-check (one more recovery and a verify, ~0.1 ms) when it executes: its sender
    was recovered from the signature already, which is the whole check geth makes. Call only after `tx.sender`."""
    fields = getattr(tx, "_inner", tx)   # a typed transaction validates through its payload
    fields.__dict__["check_signature_validity"] = _checked


def _checked() -> None:
    return None


def recover_senders(txs: Sequence[SignedTransactionAPI]) -> None:
    """Recover each sender once, before execution, and mark the signature checked; a transaction whose signature
    does not recover is left alone, for py-evm's validation to refuse it with its own message."""
    for tx in txs:
        try:
            tx.sender
        except (BadSignature, ValidationError, ValueError):
            continue
        signature_checked(tx)
