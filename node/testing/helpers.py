"""The plugin's helpers over a dev node: deploy an artifact, mine, travel in time, set balances, impersonate."""
from __future__ import annotations

import json
from pathlib import Path
from typing import Any, Callable

from eth_utils import to_canonical_address, to_checksum_address

from node.node import Node

RECEIPT_TIMEOUT = 30.0   # s a deployment waits for its block (automine answers at once; interval mining may not)


class DeployFailed(Exception):
    """The deployment transaction was mined but failed (status 0)."""


def abi_and_bytecode(artifact: Any) -> tuple[list, str]:
    """(abi, bytecode) from a solc/Hardhat artifact dict, a Foundry one ({"bytecode": {"object": ...}}), an
    (abi, bytecode) pair, or the path of a JSON file holding one of those."""
    if isinstance(artifact, (str, Path)):
        artifact = json.loads(Path(artifact).read_text())
    if isinstance(artifact, (tuple, list)) and len(artifact) == 2:
        abi, bytecode = artifact
    elif isinstance(artifact, dict) and "abi" in artifact and "bytecode" in artifact:
        abi, bytecode = artifact["abi"], artifact["bytecode"]
    else:
        raise TypeError("deploy wants an artifact with 'abi' and 'bytecode', an (abi, bytecode) pair, or a JSON file")
    if isinstance(bytecode, dict):
        bytecode = bytecode.get("object", "")
    if isinstance(bytecode, (bytes, bytearray)):
        bytecode = "0x" + bytes(bytecode).hex()
    if not bytecode.startswith("0x"):
        bytecode = "0x" + bytecode
    return abi, bytecode


def deployer(w3: Any) -> Callable[..., Any]:
    def deploy(artifact: Any, *args: Any, **tx: Any) -> Any:
        """Deploy with constructor `args` (transaction fields in `tx`, e.g. `from`, `value`); the web3 Contract."""
        abi, bytecode = abi_and_bytecode(artifact)
        tx_hash = w3.eth.contract(abi=abi, bytecode=bytecode).constructor(*args).transact(tx or None)
        receipt = w3.eth.wait_for_transaction_receipt(tx_hash, timeout=RECEIPT_TIMEOUT, poll_latency=0.01)
        if receipt.status != 1:
            raise DeployFailed(f"deployment {w3.to_hex(tx_hash)} failed (status 0, gas used {receipt.gasUsed})")
        return w3.eth.contract(address=receipt.contractAddress, abi=abi)
    return deploy


def miner(node: Node) -> Callable[[int], int]:
    def mine(blocks: int = 1) -> int:
        node.dev.mine(blocks)
        return node.chain.head.block_number
    return mine


def time_traveller(node: Node) -> Callable[[int], int]:
    def time_travel(seconds: int) -> int:
        node.dev.increase_time(seconds)
        [block] = node.dev.mine(1)
        return block.header.timestamp
    return time_travel


def balance_setter(node: Node) -> Callable[[Any, int], None]:
    def set_balance(address: Any, wei: int) -> None:
        node.dev.set_balance(to_canonical_address(address), wei)
    return set_balance


class Impersonation:
    """`impersonate(address)` for one test; `stop()` ends every impersonation it started."""

    def __init__(self, node: Node) -> None:
        self.node = node
        self.started: set[bytes] = set()

    def __call__(self, address: Any) -> str:
        raw = to_canonical_address(address)
        if not self.node.dev.is_impersonated(raw):
            self.node.dev.impersonate(raw)
            self.started.add(raw)
        return to_checksum_address(raw)

    def stop(self) -> None:
        for raw in self.started:
            self.node.dev.stop_impersonating(raw)
        self.started.clear()
