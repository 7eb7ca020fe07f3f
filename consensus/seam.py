"""The py-evm consensus seam: a ConsensusAPI, its context, and the Prague VM configured for Parlia's rules.

py-evm's Paris/London defaults contradict Parlia (difficulty must be 0, the base fee moves, PREVRANDAO is the mix
hash); each override below says which rule it restores. py-evm is configured, not forked.
"""
from __future__ import annotations

from hashlib import sha256
from typing import Any, Iterable, Optional, Type

from eth.abc import (
    AtomicDatabaseAPI, BlockAPI, BlockHeaderAPI, ComputationAPI, ConsensusAPI, ConsensusContextAPI,
    SignedTransactionAPI, VirtualMachineAPI,
)
from eth.vm.forks.prague import PragueVM
from eth.vm.forks.prague.computation import PragueComputation
from eth.vm.forks.prague.headers import create_prague_header_from_parent
from eth.vm.forks.prague.state import PragueState, PragueTransactionExecutor
from eth_typing import Address
from eth_utils import ValidationError
from eth_utils.toolz import merge

from consensus.engine import PosaEngine
from consensus.header import DIFF_IN_TURN
from consensus.system import SYSTEM_ADDRESS, SYSTEM_PRECOMPILES, pay_undistributed_fees

# epoch extraData carries up to hundreds of validators with BLS keys; py-evm's default cap is 32 bytes
EXTRA_DATA_MAX_BYTES = 1 << 16
EMPTY_REQUESTS_HASH = sha256().digest()   # EIP-7685's hash of no requests


class ParliaContext(ConsensusContextAPI):
    """Built by py-evm once per chain instance with the chain's db; the engine rides as a class attribute."""

    engine: PosaEngine

    def __init__(self, db: AtomicDatabaseAPI) -> None:
        self.db = db


def context_class_for(engine: PosaEngine) -> Type[ParliaContext]:
    return type("ParliaContextFor%d" % engine.params.chain_id, (ParliaContext,), {"engine": engine})


class ParliaConsensus(ConsensusAPI):
    """Thin and stateless: py-evm makes one per VM; the context's engine holds the rules and caches."""

    def __init__(self, context: ParliaContext) -> None:
        self._engine = context.engine

    def validate_seal(self, header: BlockHeaderAPI) -> None:
        self._engine.check_standalone(header)

    def validate_seal_extension(self, header: BlockHeaderAPI, parents: Iterable[BlockHeaderAPI]) -> None:
        # The signer/set/difficulty rules need the parent; node/chain.py runs engine.verify_header with it
        # before execution, so nothing is left to check here.
        pass

    @classmethod
    def get_fee_recipient(cls, header: BlockHeaderAPI) -> Address:
        # COINBASE and fee payment both go to the sealing validator; finalize moves fees by BSC's split
        return header.coinbase


def _create_header_from_parent(parent: Optional[BlockHeaderAPI], **params: Any) -> BlockHeaderAPI:
    # Paris insists on difficulty 0 and London derives a base fee: Parlia has difficulty 1/2 and base fee 0
    difficulty = params.pop("difficulty", DIFF_IN_TURN if parent is not None else 1)
    nonce = params.pop("nonce", b"\x00" * 8)
    params.pop("base_fee_per_gas", None)
    header = create_prague_header_from_parent(parent, **params)
    return header.copy(difficulty=difficulty, nonce=nonce, base_fee_per_gas=0)


def _validate_header(cls: Type[VirtualMachineAPI], header: BlockHeaderAPI, parent: BlockHeaderAPI) -> None:
    # Replaces Paris's (difficulty 0, nonce 0) and London's base-fee rule; Parlia's own rules run in the engine.
    if parent is None:
        raise ValidationError("Must have access to parent header to validate current header")
    if len(header.extra_data) > cls.extra_data_max_bytes:
        raise ValidationError(f"extraData is {len(header.extra_data)} bytes, at most {cls.extra_data_max_bytes}")
    if header.block_number != parent.block_number + 1:
        raise ValidationError(f"block number {header.block_number} does not follow parent {parent.block_number}")
    if header.timestamp < parent.timestamp:
        raise ValidationError(f"timestamp {header.timestamp} is before parent's {parent.timestamp}")
    if header.base_fee_per_gas != 0:
        raise ValidationError(f"base fee must stay 0 (BSC), got {header.base_fee_per_gas}")
    if header.gas_used > header.gas_limit:
        raise ValidationError(f"gas used {header.gas_used} exceeds gas limit {header.gas_limit}")


def _assign_block_rewards(vm: VirtualMachineAPI, block: BlockAPI) -> None:
    # py-evm's block-end hook, called by finalize_block on the build and import paths alike
    vm.consensus_context.engine.finalize(vm.state, block.header)
    # whatever finalize did not distribute (no staking contracts in genesis) is the sealer's, as before staking
    pay_undistributed_fees(vm.state, block.header.coinbase)


class ParliaTransactionExecutor(PragueTransactionExecutor):
    """Fees collect at 0xffff…fffe, not at the coinbase (BSC state_transition.go), until finalize splits them.

    COINBASE still reads the sealer and the coinbase is still warm (EIP-3651), as on BSC; py-evm pays the coinbase,
    then the same amount moves on. The fee is py-evm's own: gas used after refunds and the EIP-7623 floor, times
    the tip (the whole price, the base fee being 0).
    """

    def finalize_computation(self, transaction: SignedTransactionAPI, computation: ComputationAPI) -> ComputationAPI:
        computation = super().finalize_computation(transaction, computation)
        gas_used = transaction.gas - computation.get_gas_remaining()
        refund = self.calculate_gas_refund(computation, gas_used)
        fee = (gas_used - refund + computation.data_floor_gas) * self.vm_state.get_tip(transaction)
        if fee:
            coinbase = self.vm_state.coinbase
            self.vm_state.delta_balance(coinbase, -fee)
            self.vm_state.delta_balance(SYSTEM_ADDRESS, fee)
            # EIP-161: the coinbase counts as touched, so an account only the fee made non-empty goes away again
            if self.vm_state.account_is_empty(coinbase):
                self.vm_state.delete_account(coinbase)
        return computation


ParliaComputation = PragueComputation.configure(
    __name__="ParliaComputation", _precompiles=merge(PragueComputation.get_precompiles(), SYSTEM_PRECOMPILES))


class _DifficultyRandao:
    # On BSC the block is not post-merge (difficulty 1/2), so opcode 0x44 returns the difficulty, not mixHash
    @property
    def mix_hash(self) -> bytes:
        return self.execution_context.difficulty.to_bytes(32, "big")


# the account db stays py-evm's here; the node configures its own on every VM it runs (node/chain/forks.py)
ParliaState = type("ParliaState", (_DifficultyRandao, PragueState), {
    "computation_class": ParliaComputation, "transaction_executor_class": ParliaTransactionExecutor})


def parlia_vm_class(base: Type[PragueVM] = PragueVM) -> Type[PragueVM]:
    """The Prague VM with Parlia's header, base-fee, randao and block-end rules."""
    return base.configure(
        __name__="ParliaPragueVM",
        consensus_class=ParliaConsensus,
        extra_data_max_bytes=EXTRA_DATA_MAX_BYTES,
        create_header_from_parent=staticmethod(_create_header_from_parent),
        validate_header=classmethod(_validate_header),
        _assign_block_rewards=_assign_block_rewards,
        _state_class=ParliaState,
        block_postprocessing=_no_requests,
    )


def _no_requests(vm: VirtualMachineAPI, block: BlockAPI) -> BlockAPI:
    """BSC collects no EIP-6110/7002/7251 requests (state_processor.go: only `config.IsNotInBSC()` chains parse
    deposit logs or call the withdrawal and consolidation queues), so requestsHash is always sha256("") and the
    block's receipts are not read back to look for deposit logs."""
    if getattr(block.header, "requests_hash", None) == EMPTY_REQUESTS_HASH and \
            not any(len(r) > 1 for r in block.block_requests):
        return block   # already so (as every header made here starts): spare py-evm's two copies
    return vm.compute_requests_hash(block)
