"""`TestDevnet`: a simulated multi-validator Devnet with staking, and web3.py over its first node, for tests.

Time is simulated (a SimClock): nothing happens until the test moves the chain with `run(blocks)` or `mined(tx)`.
The first `validators` nodes are the genesis set; `standby` more are funded nodes that may join through StakeHub
(`stake_hub` is a web3 contract over BSC's StakeHub at 0x...2002, with the functions a staking test needs).
"""
from __future__ import annotations

from typing import Any

from eth_utils import to_checksum_address

from consensus.system import STAKE_HUB
from node.dev.devnet import Devnet
from node.testing.provider import SmartchainProvider

_COMMISSION = {"type": "tuple", "name": "commission", "components": [
    {"type": "uint64", "name": "rate"}, {"type": "uint64", "name": "maxRate"},
    {"type": "uint64", "name": "maxChangeRate"}]}
_DESCRIPTION = {"type": "tuple", "name": "description", "components": [
    {"type": "string", "name": n} for n in ("moniker", "identity", "website", "details")]}

# BSC's StakeHub signatures (the subset tests use), as a script written for BSC declares them
STAKE_HUB_ABI = [
    {"type": "function", "name": "createValidator", "stateMutability": "payable", "outputs": [], "inputs": [
        {"type": "address", "name": "consensusAddress"}, {"type": "bytes", "name": "voteAddress"},
        {"type": "bytes", "name": "blsProof"}, _COMMISSION, _DESCRIPTION]},
    {"type": "function", "name": "delegate", "stateMutability": "payable", "outputs": [], "inputs": [
        {"type": "address", "name": "operatorAddress"}, {"type": "bool", "name": "delegateVotePower"}]},
    {"type": "function", "name": "getValidators", "stateMutability": "view", "inputs": [
        {"type": "uint256", "name": "offset"}, {"type": "uint256", "name": "limit"}], "outputs": [
        {"type": "address[]", "name": "operatorAddrs"}, {"type": "address[]", "name": "creditAddrs"},
        {"type": "uint256", "name": "totalLength"}]},
]


class TestDevnet:
    """`Devnet(validators, standby=standby, epoch=epoch)` started, with `w3` over node 0 (no automine: blocks come
    from `run`)."""

    __test__ = False   # not a test class, whatever pytest's name patterns say

    def __init__(self, validators: int = 3, standby: int = 1, epoch: int = 10, **devnet: Any) -> None:
        self.net = Devnet(validators, standby=standby, epoch=epoch, **devnet)
        self.epoch = epoch
        self.w3 = None
        self._provider: SmartchainProvider | None = None

    def start(self) -> "TestDevnet":
        from web3 import Web3
        from web3.middleware import ExtraDataToPOAMiddleware

        self.net.start()
        self._provider = SmartchainProvider(self.net.nodes[0])
        self.w3 = Web3(self._provider)
        self.w3.middleware_onion.inject(ExtraDataToPOAMiddleware, layer=0)
        return self

    def stop(self) -> None:
        if self._provider is not None:
            self._provider.close()
        self.net.stop()

    def __enter__(self) -> "TestDevnet":
        return self.start()

    def __exit__(self, *exc: object) -> None:
        self.stop()

    # -- moving the chain --
    def run(self, blocks: int = 1) -> list:
        """`blocks` more blocks, each sealed by whichever validator's slot comes first."""
        return self.net.run(blocks)

    def mined(self, tx_hash: Any, max_blocks: int = 5) -> Any:
        """Make blocks until `tx_hash` is in one; its receipt."""
        for _ in range(max_blocks):
            self.net.step()
            receipt = self.w3.eth.get_transaction_receipt(tx_hash) if self._known(tx_hash) else None
            if receipt is not None:
                return receipt
        raise AssertionError(f"transaction {self.w3.to_hex(tx_hash)} not mined in {max_blocks} blocks")

    def _known(self, tx_hash: Any) -> bool:
        raw = bytes(tx_hash) if not isinstance(tx_hash, str) else bytes.fromhex(tx_hash[2:])
        return self.net.nodes[0].chain.store.mined(raw) is not None

    def run_to_epoch(self) -> int:
        """Up to the next epoch block (where the next validator set is elected); its number."""
        self.run(1)
        while self.head % self.epoch:
            self.run(1)
        return self.head

    # -- views --
    @property
    def head(self) -> int:
        return self.net.nodes[0].chain.head.block_number

    def validators(self) -> list[str]:
        """The set allowed to seal the next block (checksum addresses, in address order)."""
        chain = self.net.nodes[0].chain
        return [to_checksum_address(a) for a in chain.engine.validators_at(chain.head)]

    @property
    def standby(self) -> list[str]:
        """The funded nodes outside the genesis set (candidates for createValidator)."""
        genesis = set(self.net.validators)
        return [to_checksum_address(m.address) for m in self.net.members if m.address not in genesis]

    @property
    def stake_hub(self) -> Any:
        return self.w3.eth.contract(address=to_checksum_address(STAKE_HUB), abi=STAKE_HUB_ABI)

    def agree(self) -> bool:
        """Every running node has the same head."""
        return len(self.net.heads()) == 1
