"""Dev-mode methods that use the node's unlocked test accounts: eth_accounts, eth_sendTransaction.

eth_sendTransaction fills the transaction as geth's TransactionArgs.setDefaults does (nonce from the pool, fees
from the suggested tip, gas by estimation), signs it with the account's key (eth-account) and submits the raw
bytes through the same path as eth_sendRawTransaction.
"""
from __future__ import annotations

from eth_account import Account
from eth_utils import to_checksum_address

from node.execution import estimate_gas as run_estimate
from rpc import encode
from rpc.errors import ServerError
from rpc.eth import call_params
from rpc.fees import suggested_tip
from rpc.params import CallArgs


def accounts(node) -> list[str]:
    return [encode.address(a.address) for a in node.accounts]


def send_transaction(node, args: CallArgs) -> str:
    account = next((a for a in node.accounts if a.address == args.sender), None)
    if account is None:
        raise ServerError("unknown account")
    chain_id = node.chain_config.chain_id
    if args.chain_id is not None and args.chain_id != chain_id:
        raise ServerError(f"chainId does not match node's (have={args.chain_id}, want={chain_id})")
    if args.to is None and not args.data:
        raise ServerError("contract creation without any data provided")
    tx = {
        "chainId": chain_id,
        "nonce": args.nonce if args.nonce is not None else node.pool.pending_nonce(account.address),
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
        tx["gas"] = run_estimate(node.chain, head, call_params(args, encode.base_fee(head)))
    raw = Account.sign_transaction(tx, account.private_key).raw_transaction
    return encode.data(node.send_raw_transaction(bytes(raw)))


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
