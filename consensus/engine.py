"""PosaEngine: Parlia's verbs (verify_header, prepare, seal, finalize, author) over the pure rules in header.py.

This is the single-validator-set engine of the chain core: the validator set is the genesis one. Snapshots,
recents, back-off, staking and slashing extend it (consensus/snapshot.py, staking.py).
"""
from __future__ import annotations

from dataclasses import dataclass
from functools import lru_cache
from typing import Sequence

from eth.abc import BlockHeaderAPI, StateAPI
from eth_keys.datatypes import PrivateKey

from consensus import header as rules
from consensus.errors import CoinbaseMismatch, ConsensusError, InvalidTimestamp, UnauthorizedValidator

MS_PER_S = 1000


class ParliaParams:
    """The protocol parameters of one chain, as read from genesis."""

    def __init__(self, chain_id: int, period: int, epoch: int, validators: Sequence[bytes]):
        self.chain_id = chain_id
        self.period = period
        self.epoch = epoch
        self.validators = tuple(sorted(validators))
        self.turn_length = 1


def header_ms(header: BlockHeaderAPI) -> int:
    """Block time in milliseconds: seconds in `timestamp`, the millisecond part in mixHash (BSC Lorentz+)."""
    return header.timestamp * MS_PER_S + int.from_bytes(header.mix_hash, "big")


@dataclass(frozen=True)
class HeaderFields:
    """What `prepare` decides for a new block; the chain fills in the rest."""

    coinbase: bytes
    difficulty: int
    timestamp: int
    mix_hash: bytes
    extra_data: bytes
    gas_limit: int


class PosaEngine:
    def __init__(self, params: ParliaParams):
        self.params = params
        self._author = lru_cache(maxsize=4096)(self._recover)

    # -- author ----------------------------------------------------------------------------------------------------
    def _recover(self, header: BlockHeaderAPI) -> bytes:
        return rules.recover_signer(header, self.params.chain_id)

    def author(self, header: BlockHeaderAPI) -> bytes:
        """The validator that sealed `header` (cached by header)."""
        return self._author(header)

    def validators_at(self, parent: BlockHeaderAPI) -> tuple[bytes, ...]:
        """The set allowed to seal the child of `parent`."""
        return self.params.validators

    # -- verification ------------------------------------------------------------------------------------------------
    def check_standalone(self, header: BlockHeaderAPI) -> None:
        rules.check_standalone(header, epoch_length=self.params.epoch)
        self.author(header)  # the seal must recover

    def verify_header(self, header: BlockHeaderAPI, parent: BlockHeaderAPI, now_ms: int | None = None) -> None:
        """Every Parlia rule for `header` given its parent: standalone fields, time, gas limit, signer, difficulty."""
        self.check_standalone(header)
        if header.block_number != parent.block_number + 1:
            raise ConsensusError(f"block number {header.block_number} does not follow parent {parent.block_number}")
        earliest = header_ms(parent) + self.params.period * MS_PER_S
        if header_ms(header) < earliest:
            raise InvalidTimestamp(f"block time {header_ms(header)} ms is before parent + period ({earliest} ms)")
        if now_ms is not None and header.timestamp > now_ms // MS_PER_S:
            raise InvalidTimestamp(f"block time {header.timestamp} s is in the future (now {now_ms // MS_PER_S} s)")
        rules.check_gas_limit(header, parent)
        self.verify_seal(header, parent)

    def verify_seal(self, header: BlockHeaderAPI, parent: BlockHeaderAPI) -> None:
        signer = self.author(header)
        if signer != header.coinbase:
            raise CoinbaseMismatch(f"signer 0x{signer.hex()} is not the coinbase 0x{header.coinbase.hex()}")
        validators = self.validators_at(parent)
        if signer not in validators:
            raise UnauthorizedValidator(f"signer 0x{signer.hex()} is not in the validator set")
        rules.check_difficulty(header, validators, signer, self.params.turn_length)

    # -- production --------------------------------------------------------------------------------------------------
    def prepare(self, parent: BlockHeaderAPI, coinbase: bytes, now_ms: int) -> HeaderFields:
        """Header fields for the child of `parent` sealed by `coinbase`, stamped no earlier than `now_ms`."""
        number = parent.block_number + 1
        validators = self.validators_at(parent)
        ms = max(header_ms(parent) + self.params.period * MS_PER_S, now_ms)
        if number % self.params.epoch == 0:
            extra = rules.encode_extra(
                validators=[rules.ValidatorInfo(v) for v in validators], turn_length=self.params.turn_length)
        else:
            extra = rules.encode_extra()
        return HeaderFields(
            coinbase=coinbase,
            difficulty=rules.expected_difficulty(validators, number, coinbase, self.params.turn_length),
            timestamp=ms // MS_PER_S,
            mix_hash=(ms % MS_PER_S).to_bytes(32, "big"),
            extra_data=extra,
            gas_limit=parent.gas_limit,
        )

    def next_block_ms(self, parent: BlockHeaderAPI) -> int:
        """Earliest time the child of `parent` may carry."""
        return header_ms(parent) + self.params.period * MS_PER_S

    def seal(self, header: BlockHeaderAPI, key: PrivateKey) -> BlockHeaderAPI:
        return rules.sign_header(header, key, self.params.chain_id)

    def finalize(self, state: StateAPI, header: BlockHeaderAPI) -> None:
        """Block-end state transition applied by every node (fees, slashing, epoch rules arrive with staking)."""
