"""Helpers for the system-contract tests (no tests here): an in-memory py-evm chain built with consensus/seam.py.

`Sandbox` keeps one state root and runs transactions and blocks on it through the real Parlia VM: transactions go
through py-evm's executor (so fees collect at 0xffff…fffe and the system contracts answer as precompiles), and
`block()` runs py-evm's own block-end hook (seam._assign_block_rewards -> engine.finalize) with an engine whose
finalize applies consensus/system's rules, the way the engine will once it is wired.
"""
from __future__ import annotations

from dataclasses import dataclass
from typing import Any, Callable, Sequence

from eth.chains.base import Chain as PyEvmChain
from eth.db.atomic import AtomicDB
from eth_abi import decode, encode
from eth_keys import keys
from eth_utils import function_signature_to_4byte_selector, keccak

from consensus.engine import ParliaParams, PosaEngine
from consensus.header import DIFF_IN_TURN, ValidatorInfo, encode_extra
from consensus.seam import context_class_for, parlia_vm_class
from consensus.system import (
    SYSTEM_ADDRESS, BlockEnd, GenesisValidator, SystemParams, finalize_block, genesis_alloc,
)
from node.dev.accounts import dev_accounts
from node.execution.calls import CallParams, call_transaction

CHAIN_ID = 714
ETHER = 10**18
GWEI = 10**9
GENESIS_TIME = 1_700_000_000
USERS = dev_accounts()            # 10,000 BNB each
VALIDATOR_KEYS = [keys.PrivateKey(keccak(text=f"validator {i}")) for i in range(21)]
VALIDATORS = [k.public_key.to_canonical_address() for k in VALIDATOR_KEYS]


def selector_call(signature: str, *args: Any) -> bytes:
    """Calldata for `signature` (tuples written as Solidity's canonical form, e.g. f((uint64,uint64))) and args."""
    types = _split(signature[signature.index("(") + 1:-1])
    return function_signature_to_4byte_selector(signature) + encode(types, list(args))


def _split(types: str) -> list[str]:
    # split "a,(b,c),d" at top-level commas
    parts, depth, current = [], 0, ""
    for ch in types:
        if ch == "," and depth == 0:
            parts.append(current)
            current = ""
            continue
        depth += ch == "("
        depth -= ch == ")"
        current += ch
    return parts + [current] if current else parts


def error_data(signature: str, *args: Any) -> bytes:
    """What a Solidity custom error reverts with."""
    types = _split(signature[signature.index("(") + 1:-1])
    return function_signature_to_4byte_selector(signature) + (encode(types, list(args)) if types else b"")


def string_error(message: str) -> bytes:
    return function_signature_to_4byte_selector("Error(string)") + encode(["string"], [message])


@dataclass
class Result:
    computation: Any

    @property
    def ok(self) -> bool:
        return self.computation.is_success

    @property
    def output(self) -> bytes:
        return self.computation.output

    @property
    def logs(self) -> list[tuple[bytes, tuple[int, ...], bytes]]:
        return list(self.computation.get_log_entries())

    def decode(self, *types: str) -> tuple:
        assert self.ok, f"call failed: {self.computation.error!r} {self.output.hex()}"
        return decode(list(types), self.output)

    def topics(self, emitter: bytes) -> list[bytes]:
        """topic 0 of every log `emitter` wrote, in order."""
        return [topics[0].to_bytes(32, "big") for address, topics, _ in self.logs if address == emitter]


class FinalizingEngine(PosaEngine):
    """PosaEngine whose block-end hook runs `block_end(state, header)` (set by the test)."""

    block_end: Callable[[Any, Any], Any] | None = None

    def finalize(self, state, header) -> None:
        if self.block_end is not None:
            self.last_block_end = self.block_end(state, header)


class Sandbox:
    """One chain state in memory, moved forward by transactions and blocks."""

    def __init__(self, params: SystemParams = SystemParams(), validators: Sequence[bytes] = VALIDATORS[:3],
                 genesis_validators: Sequence[GenesisValidator] | None = None, epoch: int = 200,
                 contracts: dict[bytes, bytes | tuple[bytes, dict]] | None = None, system: bool = True):
        """`validators` are the genesis validators (staked as `genesis_validators` say, default the params'
        genesis stake); `contracts` adds accounts with code (and storage); system=False leaves the system
        contracts out."""
        self.params = params
        self.validators = sorted(validators)
        state = {address: {"balance": 10_000 * ETHER, "nonce": 0, "code": b"", "storage": {}} for address in
                 [u.address for u in USERS] + list(self.validators)}
        for address, code in (contracts or {}).items():
            code, storage = code if isinstance(code, tuple) else (code, {})
            state[address] = {"balance": 0, "nonce": 1, "code": code, "storage": storage}
        if system:
            state.update(genesis_alloc(genesis_validators or [GenesisValidator(v) for v in self.validators], params,
                                       GENESIS_TIME))
        self.genesis_supply = sum(account["balance"] for account in state.values())
        self.engine = FinalizingEngine(ParliaParams(CHAIN_ID, 1, epoch, self.validators))
        self.vm_class = parlia_vm_class()
        chain_class = PyEvmChain.configure(__name__="SandboxChain", vm_configuration=((0, self.vm_class),),
                                           chain_id=CHAIN_ID, consensus_context_class=context_class_for(self.engine))
        genesis = dict(coinbase=bytes(20), difficulty=1, extra_data=encode_extra(self.validators), gas_limit=60_000_000,
                       timestamp=GENESIS_TIME, base_fee_per_gas=0)
        self.chain = chain_class.from_genesis(AtomicDB(), genesis, state)
        self.header = self.chain.get_canonical_head()
        self.addresses = set(state) | {SYSTEM_ADDRESS}

    # -- time and the current header -------------------------------------------------------------------------
    @property
    def time(self) -> int:
        return self.header.timestamp

    def next_header(self, coinbase: bytes | None = None, difficulty: int = DIFF_IN_TURN, seconds: int = 1,
                    epoch_validators: Sequence[bytes] | None = None):
        extra = encode_extra([ValidatorInfo(v) for v in epoch_validators], 1) if epoch_validators else encode_extra()
        return self.header.copy(parent_hash=self.header.hash, block_number=self.header.block_number + 1,
                                timestamp=self.header.timestamp + seconds, coinbase=coinbase or self.validators[0],
                                difficulty=difficulty, extra_data=extra)

    def advance(self, seconds: int) -> None:
        """Let time pass: the next transactions run at a later timestamp (and the next block number)."""
        self.header = self.next_header(seconds=seconds)

    # -- transactions ------------------------------------------------------------------------------------------
    def _vm(self, header=None):
        return self.chain.get_vm(header or self.header)

    def state(self):
        return self._vm().state

    def send(self, sender: bytes, to: bytes, data: bytes = b"", value: int = 0, gas: int = 5_000_000,
             gas_price: int = 0) -> Result:
        """Run a transaction from `sender` on the current state and keep its effects (also when it reverts)."""
        vm = self._vm()
        computation = vm.state.apply_transaction(call_transaction(
            vm, CallParams(sender=sender, to=to, gas=gas, gas_price=gas_price, value=value, data=data), gas))
        self._keep(vm.state)
        return Result(computation)

    def call(self, to: bytes, data: bytes, sender: bytes = bytes(20), value: int = 0) -> Result:
        """eth_call: run on the current state and throw the changes away."""
        vm = self._vm()
        return Result(vm.state.apply_transaction(call_transaction(
            vm, CallParams(sender=sender, to=to, value=value, data=data), 10_000_000)))

    def view(self, to: bytes, signature: str, *args: Any, returns: Sequence[str]) -> tuple:
        return self.call(to, selector_call(signature, *args)).decode(*returns)

    def _keep(self, state) -> None:
        state.persist()
        self.header = self.header.copy(state_root=state.state_root)

    # -- blocks ------------------------------------------------------------------------------------------------
    def block(self, txs: Sequence[dict] = (), *, coinbase: bytes | None = None, difficulty: int = DIFF_IN_TURN,
              in_turn: bytes | None = None, signed_recently: bool = False, seconds: int = 1,
              epoch_validators: Sequence[bytes] | None = None) -> tuple[BlockEnd, list[Result]]:
        """A block: `txs` (keyword dicts for send), then py-evm's block-end hook with the system rules."""
        header = self.next_header(coinbase, difficulty, seconds, epoch_validators)
        vm = self._vm(header)
        results = []
        for tx in txs:
            tx = dict(tx)
            sender = tx.pop("sender")
            gas = tx.pop("gas", 5_000_000)
            computation = vm.state.apply_transaction(call_transaction(vm, CallParams(sender=sender, gas=gas, **tx),
                                                                      gas))
            results.append(Result(computation))
        self.engine.block_end = lambda state, hdr: finalize_block(
            state, hdr, in_turn=in_turn or header.coinbase, signed_recently=signed_recently,
            is_epoch=epoch_validators is not None)
        finished = vm.finalize_block(vm.get_block()).block
        self.header = finished.header
        return self.engine.last_block_end, results

    # -- accounting --------------------------------------------------------------------------------------------
    def balance(self, address: bytes) -> int:
        return self.state().get_balance(address)

    def total_balances(self, extra: Sequence[bytes] = ()) -> int:
        state = self.state()
        return sum(state.get_balance(a) for a in self.addresses | set(extra))
