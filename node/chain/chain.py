"""Chain: py-evm configured for our rules, with one import path for every block and reads at any block.

- `build_block(parent, fields, txs)` executes transactions in one VM (py-evm's batch path, one state for the
  whole block) and skips those that turn out invalid, as geth's miner does;
- `import_block(block)` is the single path for own and peers' blocks: consensus rules before execution, then
  execution (or, for a block this node built and sealed, persistence of the already executed result, unverified),
  then the store's indexes, all in one LMDB write transaction (the producer opens it before building, so the
  build's state and tries join it: one commit per sealed block);
- `state_at(header)` opens read-only state at a block.
"""
from __future__ import annotations

import logging
import time
from collections import OrderedDict
from dataclasses import dataclass, field
from typing import Callable, Sequence

from eth._utils.db import apply_state_dict
from eth.abc import (BlockAPI, BlockHeaderAPI, ComputationAPI, ReceiptAPI, SignedTransactionAPI, StateAPI,
                     VirtualMachineAPI)
from eth.consensus.context import ConsensusContext
from eth.db.chain import ChainDB
from eth.db.chain_gaps import reopen_gap
from eth.db.schema import SchemaV1
from eth.exceptions import HeaderNotFound
from eth.rlp.headers import BlockHeader
from eth.rlp.sedes import chain_gaps
from eth.vm.chain_context import ChainContext
import rlp
from eth_utils import ValidationError
from trie import HexaryTrie

from consensus import system
from consensus.engine import HeaderFields, ParliaParams, PosaEngine
from consensus.errors import ConsensusError
from consensus.seam import context_class_for
from node.chain.db import LmdbDB
from node.chain.ethengine import EthereumEngine
from node.chain.evmchain import RunningHeader, ScheduledChain
from node.chain.forks import ForkSchedule
from node.chain.genesis import ChainConfig, config_hash
from node.chain.store import INDEX_VERSION, Store
from node.chain.triebuild import list_values
from node.chain.proofs import AccountProof, prove
from node.chain.transactions import recover_senders
from node.finality.forkchoice import justified_first

log = logging.getLogger("smartchain.chain")

StateEdit = Callable[[StateAPI], None]
RECENT_BLOCKS = 16   # blocks whose transactions and receipts stay decoded in memory


class ChainError(Exception):
    """A block or request the chain refuses; the message says why."""


class UnknownAncestor(ChainError):
    pass


class GenesisMismatch(ChainError):
    pass


@dataclass
class BuiltBlock:
    block: BlockAPI
    receipts: tuple[ReceiptAPI, ...]
    computations: tuple[ComputationAPI, ...]
    rejected: list[tuple[SignedTransactionAPI, str]] = field(default_factory=list)


@dataclass
class ImportResult:
    block: BlockAPI
    known: bool = False
    new_canonical: tuple[BlockAPI, ...] = ()
    old_canonical: tuple[BlockAPI, ...] = ()


def genesis_params(config: ChainConfig, vm_class: type[VirtualMachineAPI]) -> dict:
    """The genesis header's fields as geth's Genesis.ToBlock sets them, for the fields `vm_class`'s header has."""
    header_fields = vm_class.get_block_class()._meta.sedes[0]._meta.field_names
    params = dict(
        coinbase=config.coinbase, difficulty=config.difficulty, extra_data=config.extra_data,
        gas_limit=config.gas_limit, mix_hash=config.mix_hash, nonce=config.nonce, timestamp=config.timestamp,
        base_fee_per_gas=config.genesis_base_fee(), blob_gas_used=config.blob_gas_used,
        excess_blob_gas=config.excess_blob_gas,
        # EIP-4788: the genesis has no parent beacon block (geth and BSC: the zero hash; py-evm's default differs)
        parent_beacon_block_root=b"\0" * 32,
    )
    return {name: value for name, value in params.items() if name in header_fields and value is not None}


class Chain:
    """One chain in one data dir. Writes (build/import) are serialised by the db's write lock."""

    def __init__(self, db: LmdbDB, config: ChainConfig, clock_ms: Callable[[], int] | None = None):
        self.db = db
        self.config = config
        self.clock_ms = clock_ms or (lambda: int(time.time() * 1000))
        if config.is_parlia:
            # snapshots walk this chain's headers (checkpoints in its db); the staking state elects each epoch's
            # set, read from stored state only (dev-mode head edits never reach consensus)
            self.engine = PosaEngine(
                ParliaParams(config.chain_id, config.parlia.period, config.parlia.epoch, config.genesis_validators),
                header_by_hash=self.header_by_hash, db=db,
                election=lambda parent: system.epoch_set(self.py.get_vm(parent).state))
            self.schedule = ForkSchedule.parlia()
            context_class = context_class_for(self.engine)
        else:
            self.schedule = ForkSchedule.from_config(config)
            self.engine = EthereumEngine(config.chain_id, self.schedule)
            context_class = ConsensusContext
        # the newest VM: its transaction and receipt builders read every earlier type too
        self.vm_class = self.schedule.forks[-1].vm_class
        self.py_chain_class = ScheduledChain.configure(
            __name__="SmartChain", vm_configuration=((0, self.schedule.forks[0].vm_class),),
            chain_id=config.chain_id, consensus_context_class=context_class, schedule=self.schedule)
        self.store = Store(db)
        self._executed: OrderedDict[bytes, tuple[ReceiptAPI, ...]] = OrderedDict()
        self.head_edits: tuple[bytes, tuple[StateEdit, ...]] = (b"", ())   # dev mode: (head hash, its edits)
        self._read_state: tuple[tuple, StateAPI] | None = None
        self._head: tuple[bytes, BlockHeaderAPI] | None = None   # (hash, header) of the head last read
        self._recent: OrderedDict[bytes, tuple[tuple, tuple]] = OrderedDict()   # block hash -> (txs, receipts)
        self._init_or_check_genesis()
        self.py = self.py_chain_class(db)
        self.chaindb = self.py.chaindb
        self.store.upgrade(lambda: (self.block_by_number(n) for n in range(1, self.head.block_number + 1)))

    def _init_or_check_genesis(self) -> None:
        fingerprint = config_hash(self.config)
        stored = self.store.get_meta("genesis-config")
        if stored is None:
            with self.db.transaction():
                genesis = self._write_genesis()
                self.store.set_meta("genesis-config", fingerprint)
                self.store.set_meta("genesis-hash", genesis.hash)
                self.store.set_meta("index-version", INDEX_VERSION)
            log.info("initialised genesis 0x%s", self.genesis_hash.hex())
        elif stored != fingerprint:
            raise GenesisMismatch("the data dir was initialised from a different genesis file")

    def _write_genesis(self) -> BlockHeaderAPI:
        """py-evm's from_genesis, with the genesis VM chosen by the schedule (py-evm's picks by number only)."""
        probe = BlockHeader(difficulty=self.config.difficulty, block_number=0, gas_limit=self.config.gas_limit,
                            timestamp=self.config.timestamp)
        vm_class = self.schedule.vm_class_for(probe)
        pre_genesis = BlockHeader(difficulty=0, block_number=-1, gas_limit=0)
        state = vm_class.build_state(self.db, pre_genesis, ChainContext(self.config.chain_id))
        apply_state_dict(state, self.config.genesis_state())
        state.persist()
        header = vm_class.create_genesis_header(state_root=state.state_root,
                                                **genesis_params(self.config, vm_class))
        if self.config.gas_used:   # geth copies it from the file; py-evm's genesis builder takes no such field
            header = header.copy(gas_used=self.config.gas_used)
        self.py_chain_class.get_chaindb_class()(self.db).persist_header(header)
        return header

    # -- reads -----------------------------------------------------------------------------------------------------
    @property
    def genesis_hash(self) -> bytes:
        return self.store.get_meta("genesis-hash")

    @property
    def head(self) -> BlockHeaderAPI:
        """The canonical head: its hash read from the store each time (one key), its header decoded once."""
        head_hash = self.chaindb._get_canonical_head_hash(self.db)
        kept = self._head
        if kept is not None and kept[0] == head_hash:
            return kept[1]
        header = self.chaindb.get_block_header_by_hash(head_hash)
        self._head = (head_hash, header)
        return header

    def header_by_number(self, number: int) -> BlockHeaderAPI | None:
        try:
            return self.chaindb.get_canonical_block_header_by_number(number)
        except HeaderNotFound:
            return None

    def header_by_hash(self, block_hash: bytes) -> BlockHeaderAPI | None:
        try:
            return self.chaindb.get_block_header_by_hash(block_hash)
        except HeaderNotFound:
            return None

    def vm_class_for(self, header: BlockHeaderAPI) -> type[VirtualMachineAPI]:
        """The VM whose rules made `header`'s block."""
        return self.schedule.vm_class_for(header)

    def block_by_header(self, header: BlockHeaderAPI) -> BlockAPI:
        return self.vm_class_for(header).get_block_class().from_header(header, self.chaindb)

    def block_by_number(self, number: int) -> BlockAPI | None:
        header = self.header_by_number(number)
        return None if header is None else self.block_by_header(header)

    def block_by_hash(self, block_hash: bytes) -> BlockAPI | None:
        header = self.header_by_hash(block_hash)
        return None if header is None else self.block_by_header(header)

    def receipts(self, header: BlockHeaderAPI) -> tuple[ReceiptAPI, ...]:
        return self.chaindb.get_receipts(header, self.vm_class_for(header).get_block_class().receipt_builder)

    def transaction_at(self, header: BlockHeaderAPI, index: int) -> SignedTransactionAPI | None:
        """One transaction of `header`'s block, without decoding the others."""
        return self._item_at(header, index, 0, header.transaction_root,
                             lambda: self.vm_class_for(header).get_transaction_builder())

    def receipt_at(self, header: BlockHeaderAPI, index: int) -> ReceiptAPI | None:
        """One receipt of `header`'s block, without decoding the others."""
        return self._item_at(header, index, 1, header.receipt_root,
                             lambda: self.vm_class_for(header).get_block_class().receipt_builder)

    def _item_at(self, header: BlockHeaderAPI, index: int, kept: int, root: bytes, decoder: Callable):
        """Entry `index` of one of a block's lists: from the recent blocks kept in memory (`kept`: 0 transactions,
        1 receipts), else from its trie at `root`, decoded by `decoder()`. A recent block not in memory (this node
        restarted, or another process reads its data dir: the JSON-RPC front) is decoded whole and kept: senders
        ask for every receipt of a block they just filled, and one lookup in a block's tries costs about as much
        as decoding a tenth of it (with each trie node read once, triebuild.list_values)."""
        recent = self._recent.get(header.hash)
        if recent is None and header.block_number + RECENT_BLOCKS > self.head.block_number:
            vm_class = self.vm_class_for(header)
            txs, receipts = vm_class.get_transaction_builder(), vm_class.get_block_class().receipt_builder
            recent = self._keep_recent(
                header.hash, tuple(txs.decode(raw) for raw in list_values(self.db, header.transaction_root)),
                tuple(receipts.decode(raw) for raw in list_values(self.db, header.receipt_root)))
        if recent is not None:
            items = recent[kept]
            return items[index] if index < len(items) else None
        raw = HexaryTrie(self.db, root)[rlp.encode(index)]
        return decoder().decode(raw) if raw else None

    def _keep_recent(self, block_hash: bytes, transactions: tuple, receipts: tuple) -> tuple[tuple, tuple]:
        kept = self._recent[block_hash] = (transactions, receipts)
        while len(self._recent) > RECENT_BLOCKS:
            self._recent.popitem(last=False)
        return kept

    def next_header(self, parent: BlockHeaderAPI | None = None, **fields) -> BlockHeaderAPI:
        """The header a block on `parent` (default: the head) starts from under the chain's rules (base fee,
        blob gas, fork fields); `fields` (timestamp, gas_limit ...) as the block would set them."""
        return self.py.create_header_from_parent(parent or self.head, **fields)

    def vm_at(self, header: BlockHeaderAPI | None = None) -> VirtualMachineAPI:
        """A VM on the state after `header` (default: the head), with the head's pending dev edits applied."""
        header = header or self.head
        vm = self.py.get_vm(header)
        self._apply_edits(header, vm.state)
        return vm

    def state_at(self, header: BlockHeaderAPI | None = None) -> StateAPI:
        """State after `header` (default: the head), for reading only. The last one opened is kept and shared (the
        pool and RPC read the head's many times a block; opening one costs ~0.12 ms, a cached account read ~0.3 us)."""
        header = header or self.head
        key = (header.hash, self.head_edits)
        kept = self._read_state
        if kept is not None and kept[0] == key:
            return kept[1]
        state = self.vm_at(header).state
        self._read_state = (key, state)
        return state

    def proof(self, header: BlockHeaderAPI, address: bytes, slots: Sequence[bytes]) -> AccountProof:
        """EIP-1186: `address`'s account and storage `slots` after `header`, with their Merkle proofs."""
        return prove(self.db, header.state_root, address, slots)

    def is_canonical(self, header: BlockHeaderAPI) -> bool:
        canonical = self.header_by_number(header.block_number)
        return canonical is not None and canonical.hash == header.hash

    # -- building --------------------------------------------------------------------------------------------------
    def build_block(self, parent: BlockHeaderAPI, fields: HeaderFields,
                    transactions: Sequence[SignedTransactionAPI]) -> BuiltBlock:
        """Execute `transactions` (per sender in nonce order) on top of `parent`; invalid ones are skipped and
        reported in `rejected`; one that does not fit the gas left waits, with its sender's later ones, for a later
        block."""
        header = self.py.vm_class_for_child(parent, fields.timestamp).create_header_from_parent(
            parent, coinbase=fields.coinbase, difficulty=fields.difficulty, timestamp=fields.timestamp,
            mix_hash=fields.mix_hash, extra_data=fields.extra_data, gas_limit=fields.gas_limit)
        vm = self.py.get_vm(header)
        vm.block_preprocessing(vm.get_block())
        self._apply_edits(parent, vm.state)
        running = RunningHeader(vm, vm.get_header())   # one header copy per block, not two per transaction
        included, receipts, computations, rejected = [], [], [], []
        waiting: set[bytes] = set()   # senders with a transaction left for a later block: their later nonces wait
        for tx in transactions:
            if running.gas_limit - running.gas_used < 21000:
                break
            if tx.sender in waiting:
                continue
            if tx.gas > running.gas_limit - running.gas_used:
                waiting.add(tx.sender)   # fits a later block (geth's miner skips the sender, it does not drop)
                continue
            try:
                # py-evm validates (nonce, balance, gas, signature) before it touches state, so a rejected tx
                # leaves nothing to undo (and apply_transaction's lock_changes() drops open checkpoints anyway)
                receipt, computation = vm.apply_transaction(running, tx)
            except ValidationError as exc:
                rejected.append((tx, str(exc)))
                waiting.add(tx.sender)
                continue
            running.add(receipt, tx)
            included.append(tx)
            receipts.append(receipt)
            computations.append(computation)
        header = running.result()
        filled = vm.set_block_transactions_and_withdrawals(vm.get_block(), header, included, receipts,
                                                           withdrawals=())
        # py-evm's mine_block without its two steps that change nothing here: pack_block with no fields to set (a deep
        # copy of the header and block) and validate_block, which re-derives the transaction root and header checks
        # of the block just assembled from them
        result = vm.finalize_block(vm.block_postprocessing(filled))
        # py-evm's finalize deep-copies the transactions; the pool's objects carry the recovered senders
        block = result.block.copy(transactions=tuple(included))
        return BuiltBlock(block, tuple(receipts), tuple(computations), rejected)

    def mark_executed(self, block: BlockAPI, receipts: tuple[ReceiptAPI, ...]) -> None:
        """Record that `block` (sealed after build_block) was executed here, so import persists without re-running
        or re-verifying it."""
        self._executed[block.hash] = receipts
        while len(self._executed) > 64:
            self._executed.popitem(last=False)

    # -- the import path ---------------------------------------------------------------------------------------------
    def import_block(self, block: BlockAPI, *, check_future: bool = True) -> ImportResult:
        """Verify, execute (unless this node already did), persist and index `block` in one write transaction."""
        with self.db.transaction():
            if self.header_by_hash(block.hash) is not None and (
                    self.is_canonical(block.header) or block.header.parent_hash != self.head.hash):
                return ImportResult(block, known=True)
            parent = self.header_by_hash(block.header.parent_hash)
            if parent is None:
                raise UnknownAncestor(
                    f"unknown ancestor: parent 0x{block.header.parent_hash.hex()} of block {block.number}")
            receipts = self._executed.pop(block.hash, None)
            if receipts is None:
                # a block this chain built and sealed (mark_executed) was made by the engine's own prepare and seal:
                # checking it again would recover the seal's signer we signed with (as geth's miner, which writes
                # its sealed blocks without VerifyHeader)
                try:
                    self.engine.verify_header(block.header, parent, self.clock_ms() if check_future else None)
                except ConsensusError as exc:
                    raise ChainError(f"invalid block {block.number}: {exc}") from exc
            if block.uncles and self.config.is_parlia:
                raise ChainError(f"invalid block {block.number}: uncles are not allowed")
            head_before = self.head
            try:
                if receipts is not None:   # py-evm's header and seal checks too are for blocks made elsewhere
                    persisted = self.py.persist_block(block, perform_validation=False)
                else:
                    recover_senders(block.transactions)
                    persisted, receipts = self.py.import_block_with_receipts(block)
            except ValidationError as exc:
                raise ChainError(f"invalid block {block.number}: {exc}") from exc
            if self.config.is_parlia and block.header.parent_hash != head_before.hash:   # a fork: BSC's choice
                persisted = justified_first(self, block, head_before, persisted)
            for old in persisted.old_canonical_blocks:
                self.store.unindex_block(old)
            for new in persisted.new_canonical_blocks:
                # `block` itself (its senders recovered, or in dev mode impersonated) with the receipts just made;
                # a reorg's other new blocks are read back
                self.store.index_block(new, receipts if new.hash == block.hash else self.receipts(new.header))
        # wallets ask for the receipts of what was just mined: the newest blocks' are answered from memory (a block
        # hash's transactions and receipts never change, so a reorg leaves nothing stale here)
        self._keep_recent(block.hash, tuple(block.transactions), tuple(receipts))
        return ImportResult(block, False, persisted.new_canonical_blocks, persisted.old_canonical_blocks)

    # -- dev mode: state edits (anvil_setBalance ...) and rewinding (evm_revert) ------------------------------------
    def edit_head_state(self, edit: StateEdit) -> None:
        """Apply `edit` to the head's state as every read sees it; the next block built on the head writes it.

        As in anvil and Hardhat, no block is made for the edit; the head's header keeps its state root until then.
        """
        head = self.head.hash
        edits = self.head_edits[1] if self.head_edits[0] == head else ()
        self.head_edits = (head, edits + (edit,))

    def _apply_edits(self, header: BlockHeaderAPI, state: StateAPI) -> None:
        block_hash, edits = self.head_edits
        if edits and header.hash == block_hash:
            for edit in edits:
                edit(state)

    def rewind(self, target: BlockHeaderAPI) -> tuple[BlockAPI, ...]:
        """Make the canonical block `target` the head again; returns the blocks that left the chain, newest first.

        Their data stays in the db (a block sealed again with the same hash becomes canonical again on import).
        Pending head edits are dropped: the rewound head's state is the one stored for it.
        """
        if not self.is_canonical(target):
            raise ChainError(f"block 0x{target.hash.hex()} is not canonical")
        removed = []
        with self.db.transaction():
            header_gaps = self.chaindb._get_header_chain_gaps(self.db)
            block_gaps = self.chaindb._get_chain_gaps(self.db)
            for number in range(self.head.block_number, target.block_number, -1):
                block = self.block_by_number(number)
                self.store.unindex_block(block)
                for tx in block.transactions:
                    ChainDB._remove_transaction_from_canonical_chain(self.db, tx.hash)
                del self.db[SchemaV1.make_block_number_to_hash_lookup_key(number)]
                # py-evm tracks which numbers it holds; an open gap lets the next block at `number` be written
                header_gaps = reopen_gap(number, header_gaps)
                block_gaps = reopen_gap(number, block_gaps)
                removed.append(block)
            self.db[SchemaV1.make_header_chain_gaps_lookup_key()] = rlp.encode(header_gaps, sedes=chain_gaps)
            self.db[SchemaV1.make_chain_gaps_lookup_key()] = rlp.encode(block_gaps, sedes=chain_gaps)
            self.db[SchemaV1.make_canonical_head_hash_lookup_key()] = target.hash
        self.head_edits = (b"", ())
        return tuple(removed)
