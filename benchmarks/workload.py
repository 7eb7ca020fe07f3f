"""The transactions every section runs, signed once with eth-account and replayed byte for byte.

A setup run (the ERC-20 deployment by a dev account, then BNB and tokens for `senders` fresh keys), then N ERC-20
transfers and N value transfers, each to a fresh recipient, spread over the senders round-robin so that 32
requests in flight come from different accounts. Because the node and stock py-evm start from the same genesis
alloc with the same chain id, the very same raw transactions are valid on both.
"""
from __future__ import annotations

import json
from dataclasses import dataclass, field
from pathlib import Path

from eth._utils.address import generate_contract_address
from eth_abi import encode
from eth_account import Account
from eth_utils import function_signature_to_4byte_selector, keccak, to_checksum_address

from node.dev.accounts import dev_accounts
from node.config import GWEI, REPO_GENESIS
from node.chain.genesis import load_genesis

TOKEN_ARTIFACT = Path(__file__).resolve().parents[1] / "contracts" / "build" / "Token.json"
GAS_PRICE = GWEI              # the node's default minimum, as a wallet would pay on BSC
TRANSFER_GAS = 100_000        # an ERC-20 transfer to a fresh holder uses ~52k
DEPLOY_GAS = 2_000_000
SENDER_FUNDS = 10**18         # 1 BNB: far more than the gas a sender spends here
TOKEN_SUPPLY = 10**27
TRANSFER_SELECTOR = function_signature_to_4byte_selector("transfer(address,uint256)")
BALANCE_OF_SELECTOR = function_signature_to_4byte_selector("balanceOf(address)")


def derived_key(label: str, index: int) -> bytes:
    """A deterministic private key, so every run signs the same transactions."""
    return keccak(f"smartchain-bench:{label}:{index}".encode())


def derived_address(label: str, index: int) -> bytes:
    return keccak(f"smartchain-bench:{label}:{index}".encode())[12:]


def sender_keys(count: int) -> list[tuple[bytes, bytes]]:
    """(private key, address) of the workload's fresh senders."""
    keys = [derived_key("sender", i) for i in range(count)]
    return [(k, bytes.fromhex(Account.from_key(k).address[2:])) for k in keys]


def transfer_data(to: bytes, amount: int) -> bytes:
    return TRANSFER_SELECTOR + encode(["address", "uint256"], [to, amount])


def balance_of_data(holder: bytes) -> bytes:
    return BALANCE_OF_SELECTOR + encode(["address"], [holder])


def sign(key: bytes, nonce: int, chain_id: int, to: bytes | None, value: int = 0, data: bytes = b"",
         gas: int = 21_000) -> bytes:
    """A legacy EIP-155 transaction, as most wallets still send on BSC."""
    tx = {"nonce": nonce, "gas": gas, "gasPrice": GAS_PRICE, "value": value, "data": data, "chainId": chain_id}
    if to is not None:
        tx["to"] = to_checksum_address(to)
    return bytes(Account.sign_transaction(tx, key).raw_transaction)


@dataclass
class Workload:
    chain_id: int
    owner: bytes                       # the dev account that deploys the token and funds the senders
    token: bytes                       # the ERC-20's address (the owner's nonce-0 contract)
    senders: list[bytes]               # addresses of the fresh sender keys
    setup: list[bytes] = field(default_factory=list)     # deploy, then BNB and tokens for every sender
    erc20: list[bytes] = field(default_factory=list)     # N token transfers
    value: list[bytes] = field(default_factory=list)     # N value transfers (after the token transfers)
    origin: dict[bytes, tuple[bytes, int]] = field(default_factory=dict)   # raw tx -> (sender, nonce)

    @property
    def probe_holder(self) -> bytes:
        """An address with a token balance, for eth_call(balanceOf)."""
        return self.senders[0]


def build_workload(n: int, senders: int = 64, genesis: Path = REPO_GENESIS) -> Workload:
    """Sign the setup, `n` ERC-20 transfers and `n` value transfers for the chain of `genesis`."""
    chain_id = load_genesis(genesis).chain_id
    owner = dev_accounts()[1]
    token = generate_contract_address(owner.address, 0)
    keyed = sender_keys(senders)
    keys = [k for k, _ in keyed]
    load = Workload(chain_id, owner.address, token, [a for _, a in keyed])

    artifact = json.loads(TOKEN_ARTIFACT.read_text())
    code = bytes.fromhex(artifact["bytecode"][2:]) + encode(["string", "string", "uint256"],
                                                            ["Bench", "BNCH", TOKEN_SUPPLY])
    def add(batch: list[bytes], key: bytes, sender: bytes, nonce: int, to: bytes | None, **tx) -> None:
        raw = sign(key, nonce, chain_id, to, **tx)
        batch.append(raw)
        load.origin[raw] = (sender, nonce)

    nonce = 0
    add(load.setup, owner.private_key, owner.address, nonce, None, data=code, gas=DEPLOY_GAS)
    per_sender_tokens = TOKEN_SUPPLY // (2 * senders)
    for addr in load.senders:
        nonce += 1
        add(load.setup, owner.private_key, owner.address, nonce, addr, value=SENDER_FUNDS)
    for addr in load.senders:
        nonce += 1
        add(load.setup, owner.private_key, owner.address, nonce, token,
            data=transfer_data(addr, per_sender_tokens), gas=TRANSFER_GAS)

    nonces = [0] * senders
    for j in range(n):
        s = j % senders
        add(load.erc20, keys[s], load.senders[s], nonces[s], token,
            data=transfer_data(derived_address("holder", j), 1), gas=TRANSFER_GAS)
        nonces[s] += 1
    for j in range(n):
        s = j % senders
        add(load.value, keys[s], load.senders[s], nonces[s], derived_address("payee", j), value=1)
        nonces[s] += 1
    return load
