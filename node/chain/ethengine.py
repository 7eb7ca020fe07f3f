"""EthereumEngine: the consensus checks of a chain without Parlia (ethash before the merge, beacon after).

Such a chain is imported from a trusted file, not sealed here: proof-of-work seals are not verified (py-evm would need
an ethash implementation, geth's `import` of a trusted chain does not need them either) and there is no seal after
the merge. What is checked is what geth's beacon engine checks outside the seal: a proof-of-stake block (difficulty
0) never returns to proof-of-work, a proof-of-work block carries the difficulty its rules compute, and, when asked,
no block is ahead of the clock. Every other header and body rule is py-evm's, per fork, in the import path.
"""
from __future__ import annotations

from dataclasses import dataclass

from eth.abc import BlockHeaderAPI

from consensus.errors import ConsensusError
from node.chain.forks import ForkSchedule

ALLOWED_FUTURE_S = 15       # geth's ethash allowedFutureBlockTime
MS_PER_S = 1000


@dataclass(frozen=True)
class EthereumParams:
    """What the node asks every engine for: no validator set, no block period (this node does not seal)."""

    chain_id: int
    period: int = 0
    epoch: int = 0
    validators: tuple[bytes, ...] = ()


class EthereumEngine:
    """Verifies imported blocks; it seals none (the node has no validator set on such a chain)."""

    def __init__(self, chain_id: int, schedule: ForkSchedule):
        self.params = EthereumParams(chain_id)
        self.schedule = schedule

    def verify_header(self, header: BlockHeaderAPI, parent: BlockHeaderAPI, now_ms: int | None = None) -> None:
        """geth's beacon.VerifyHeader minus the seal: the merge is one-way, and pre-merge difficulty is the rule's."""
        if header.block_number != parent.block_number + 1:
            raise ConsensusError(f"block number {header.block_number} does not follow parent {parent.block_number}")
        merged = self.schedule.terminal_total_difficulty is not None
        if merged and parent.difficulty == 0 and parent.block_number > 0 and header.difficulty > 0:
            raise ConsensusError("invalid terminal block: a proof-of-work block after the merge")
        if header.difficulty > 0 or not merged:
            self._verify_pow(header, parent, now_ms)

    def _verify_pow(self, header: BlockHeaderAPI, parent: BlockHeaderAPI, now_ms: int | None) -> None:
        if now_ms is not None and header.timestamp > now_ms // MS_PER_S + ALLOWED_FUTURE_S:
            raise ConsensusError(f"block in the future: timestamp {header.timestamp}, now {now_ms // MS_PER_S}")
        if header.timestamp <= parent.timestamp:
            raise ConsensusError(f"timestamp {header.timestamp} is not after the parent's {parent.timestamp}")
        vm_class = self.schedule.vm_class_for(header)
        expected = vm_class.compute_difficulty(parent, header.timestamp)
        if header.difficulty != expected:
            raise ConsensusError(f"invalid difficulty: have {header.difficulty}, want {expected}")
