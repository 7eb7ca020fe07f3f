"""Helpers for tests that drive a real Node: signing with eth-account, the ERC-20 artifact, ABI calls."""
from __future__ import annotations

from contextlib import contextmanager

from eth_abi import decode, encode
from eth_account import Account
from eth_utils import function_signature_to_4byte_selector, keccak, to_checksum_address

from artifacts import load_artifact

CHAIN_ID = 714
GWEI = 10**9
TOKEN = load_artifact("Token")
TRANSFER_TOPIC = keccak(text="Transfer(address,address,uint256)")


def calldata(signature: str, *args) -> bytes:
    types = signature[signature.index("(") + 1:-1]
    types = [t for t in types.split(",") if t]
    return function_signature_to_4byte_selector(signature) + encode(types, list(args))


def sign(account, nonce: int, to: bytes | None = None, value: int = 0, data: bytes = b"", gas: int = 21000,
         gas_price: int = GWEI, dynamic: bool = False, chain_id: int = CHAIN_ID) -> bytes:
    """Raw signed bytes: legacy (EIP-155) by default, EIP-1559 when `dynamic`."""
    tx = {"nonce": nonce, "gas": gas, "value": value, "data": data, "chainId": chain_id}
    if to is not None:
        tx["to"] = to_checksum_address(to)
    if dynamic:
        tx.update(maxFeePerGas=gas_price, maxPriorityFeePerGas=gas_price, type=2)
    else:
        tx["gasPrice"] = gas_price
    return bytes(Account.sign_transaction(tx, account.private_key).raw_transaction)


def deploy_token_raw(account, nonce: int, supply: int = 10**24) -> bytes:
    code = bytes.fromhex(TOKEN["bytecode"][2:]) + encode(["string", "string", "uint256"], ["Test", "TST", supply])
    return sign(account, nonce, data=code, gas=2_000_000)


@contextmanager
def token_node(datadir, code: dict[bytes, bytes] | None = None, storage: dict[tuple[bytes, int], int] | None = None):
    """A started node that does not produce (blocks by `node.mine()`), the first dev account's ERC-20 of 1000
    deployed in block 1, then `code` (address -> code) and `storage` ((address, slot) -> value) set in the head
    state: yields (node, token, owner)."""
    from node.config import NodeConfig
    from node.node import Node

    def install(state) -> None:
        for address, body in (code or {}).items():
            state.set_code(address, body)
        for (address, slot), value in (storage or {}).items():
            state.set_storage(address, slot, value)
    with Node(NodeConfig(datadir=datadir, produce=False)) as node:
        owner = node.accounts[0]
        node.send_raw_transaction(deploy_token_raw(owner, 0, supply=1000))
        [block] = node.mine()
        token = node.chain.store.block_metas(block.hash)[0].contract_address
        if code or storage:
            node.chain.edit_head_state(install)
        yield node, token, owner


def token_balance(node, token: bytes, holder: bytes) -> int:
    from node.execution.calls import CallParams, call
    out = call(node.chain, node.chain.head, CallParams(to=token, data=calldata("balanceOf(address)", holder)))
    return decode(["uint256"], out)[0]
