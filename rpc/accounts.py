"""Dev-mode methods that use the node's unlocked test accounts: eth_accounts, eth_sendTransaction, eth_signTransaction
and the message signatures eth_sign, personal_sign, eth_signTypedData_v4.

A transaction is filled as geth's TransactionArgs.setDefaults fills it (nonce from the pool, fees from the suggested
tip, gas by estimation) and signed with the account's key (eth-account); eth_sendTransaction submits the raw bytes
through the same path as eth_sendRawTransaction, eth_signTransaction hands them back with the transaction as geth's
types.Transaction marshals it. Messages are signed as geth's accounts.TextHash (EIP-191 version 0x45) or as EIP-712
typed data; signatures are r || s || v with v = 27 or 28, as geth's eth_sign answers.
"""
from __future__ import annotations

import threading
from contextlib import nullcontext
from typing import Any, NewType

from eth_account import Account
from eth_account.messages import SignableMessage, encode_defunct, encode_typed_data
from eth_utils import to_checksum_address

from node.dev.devtools import as_impersonated, impersonation_key
from node.execution.calls import ExecutionTimeout, estimate_gas as run_estimate
from node.chain.transactions import DYNAMIC_FEE_TX, tx_type
from node.txpool.validation import decode as decode_transaction
from rpc import encode
from rpc.errors import ServerError
from rpc.eth import RequestTimedOut, call_params
from rpc.fees import suggested_tip
from rpc.params import Address, CallArgs, Data, ParamError, loads

TypedData = NewType("TypedData", SignableMessage)   # EIP-712 typed data: a JSON object, or a string holding one

_NONCE_LOCKS: dict[bytes, threading.Lock] = {}
_NONCE_LOCKS_GUARD = threading.Lock()


def accounts(node) -> list[str]:
    return [encode.address(a.address) for a in node.accounts]


def send_transaction(node, args: CallArgs) -> str:
    """Without a nonce, the sender's next nonce is taken and the transaction submitted under the sender's lock (geth's
    AddrLocker), so that concurrent sends from one account get consecutive nonces."""
    if _impersonated(node, args.sender):
        return _send_impersonated(node, args.sender, args)
    account = _account(node, args.sender)
    with _nonce_lock(account.address) if args.nonce is None else nullcontext():
        # signed here with the account's key: the pool need not recover the sender
        return encode.data(node.send_raw_transaction(_sign_transaction(node, account, args), account.address))


def _impersonated(node, sender: bytes | None) -> bool:
    """anvil_impersonateAccount: a sender without a key here that dev mode lets send anyway."""
    return (node.dev is not None and sender is not None and node.dev.is_impersonated(sender)
            and all(a.address != sender for a in node.accounts))


def _send_impersonated(node, sender: bytes, args: CallArgs) -> str:
    with _nonce_lock(sender) if args.nonce is None else nullcontext():
        signed = Account.sign_transaction(_fill(node, sender, args), impersonation_key(sender).to_bytes())
        tx = as_impersonated(decode_transaction(bytes(signed.raw_transaction)), sender)
        return encode.data(node.pool.add(tx))


def sign_transaction(node, args: CallArgs) -> dict:
    """geth's SignTransactionResult: the signed transaction's bytes and the transaction itself."""
    raw = _sign_transaction(node, _account(node, args.sender), args)
    return {"raw": encode.data(raw), "tx": signed_transaction(decode_transaction(raw))}


def sign(node, address: Address, data: Data) -> str:
    """eth_sign: the EIP-191 personal message of the raw bytes, as geth's eth_sign."""
    return _sign_message(node, address, encode_defunct(primitive=data))


def personal_sign(node, data: Data, address: Address) -> str:
    """personal_sign: eth_sign with the parameters the other way round (MetaMask's order)."""
    return _sign_message(node, address, encode_defunct(primitive=data))


def sign_typed_data_v4(node, address: Address, typed_data: TypedData) -> str:
    return _sign_message(node, address, typed_data)


def parse_typed_data(value: Any) -> SignableMessage:
    """The EIP-712 message of typed data given as an object or as a JSON string (MetaMask sends a string)."""
    if isinstance(value, str):
        try:
            value = loads(value)
        except ValueError as exc:
            raise ParamError(f"invalid typed data: {exc}") from None
    if not isinstance(value, dict):
        raise ParamError("invalid typed data: not an object")
    try:
        return encode_typed_data(full_message=value)
    except Exception as exc:  # eth-account's checks raise ValueError, TypeError, KeyError, eth-abi errors ...
        raise ParamError(f"invalid typed data: {exc}") from None


# -- signing --

def _account(node, address: bytes | None):
    account = next((a for a in node.accounts if a.address == address), None)
    if account is None:
        raise ServerError("unknown account")   # geth's accounts.ErrUnknownAccount
    return account


def _sign_message(node, address: bytes, message: SignableMessage) -> str:
    return encode.data(Account.sign_message(message, _account(node, address).private_key).signature)


def _nonce_lock(address: bytes) -> threading.Lock:
    with _NONCE_LOCKS_GUARD:
        return _NONCE_LOCKS.setdefault(address, threading.Lock())


def _sign_transaction(node, account, args: CallArgs) -> bytes:
    return bytes(Account.sign_transaction(_fill(node, account.address, args), account.private_key).raw_transaction)


def _fill(node, sender: bytes, args: CallArgs) -> dict:
    """geth's TransactionArgs.setDefaults, as an eth-account transaction dict."""
    chain_id = node.chain_config.chain_id
    if args.chain_id is not None and args.chain_id != chain_id:
        raise ServerError(f"chainId does not match node's (have={args.chain_id}, want={chain_id})")
    if args.to is None and not args.data:
        raise ServerError("contract creation without any data provided")
    tx = {
        "chainId": chain_id,
        "nonce": args.nonce if args.nonce is not None else node.pool.pending_nonce(sender),
        "value": args.value or 0,
        "data": args.data or b"",
    }
    if args.to is not None:
        tx["to"] = to_checksum_address(args.to)
    tx.update(_fees(node, args))
    if args.access_list is not None:
        tx["accessList"] = [{"address": to_checksum_address(a), "storageKeys": ["0x" + k.hex() for k in keys]}
                            for a, keys in args.access_list]
    if args.gas is not None:
        tx["gas"] = args.gas
    else:
        head = node.chain.head
        try:
            tx["gas"] = run_estimate(node.chain, head, call_params(args, encode.base_fee(head)),
                                     timeout=node.config.evm_timeout)
        except ExecutionTimeout:
            raise RequestTimedOut() from None
    return tx


def _fees(node, args: CallArgs) -> dict:
    """A legacy price when gasPrice is given, else EIP-1559 caps: tip suggested, fee cap = tip + 2 * base fee."""
    if args.gas_price is not None:
        return {"gasPrice": args.gas_price}
    base_fee = encode.base_fee(node.chain.head)
    tip = args.max_priority_fee_per_gas
    if tip is None:
        tip = suggested_tip(node)
        if args.max_fee_per_gas is not None:
            tip = min(tip, args.max_fee_per_gas)
    fee_cap = args.max_fee_per_gas if args.max_fee_per_gas is not None else tip + 2 * base_fee
    if fee_cap < tip:
        raise ServerError(f"maxFeePerGas ({fee_cap}) < maxPriorityFeePerGas ({tip})")
    return {"type": 2, "maxFeePerGas": fee_cap, "maxPriorityFeePerGas": tip}


def signed_transaction(tx) -> dict:
    """geth's types.Transaction JSON (txJSON) for types 0-2, in its field order: fields a type lacks are null,
    chainId only on replay-protected legacy transactions, accessList and yParity only on typed ones."""
    kind = tx_type(tx)
    fields: dict[str, Any] = {"type": encode.quantity(kind)}
    if kind or tx.v >= 35:
        fields["chainId"] = encode.quantity(tx.chain_id)
    dynamic = kind >= DYNAMIC_FEE_TX
    fields.update({
        "nonce": encode.quantity(tx.nonce),
        "to": encode.address(tx.to),
        "gas": encode.quantity(tx.gas),
        "gasPrice": None if dynamic else encode.quantity(tx.gas_price),
        "maxPriorityFeePerGas": encode.quantity(tx.max_priority_fee_per_gas) if dynamic else None,
        "maxFeePerGas": encode.quantity(tx.max_fee_per_gas) if dynamic else None,
        "value": encode.quantity(tx.value),
        "input": encode.data(tx.data),
    })
    if kind:
        fields["accessList"] = encode.access_list(tx.access_list)
    fields.update({
        "v": encode.quantity(tx.y_parity if kind else tx.v),
        "r": encode.quantity(tx.r),
        "s": encode.quantity(tx.s),
    })
    if kind:
        fields["yParity"] = encode.quantity(tx.y_parity)
    fields["hash"] = encode.data(tx.hash)
    return fields
