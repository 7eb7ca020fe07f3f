"""BSC's fork choice with fast finality (bsc core/forkchoice.go ReorgNeededWithFastFinality): of two chains, the one
whose head has the higher justified block wins, even when it is lighter; only on a tie does total difficulty decide.

py-evm's ChainDB picks the canonical head by score (total difficulty) alone while it persists a block; the import
path (node/chain/chain.py Chain.import_block, in the same write transaction) then hands its outcome here, and when
the justified rule disagrees the canonical head is set to the other side, with the transaction lookups py-evm keeps
for canonical blocks moved along. Only a block that does not extend the head can need this.
"""
from __future__ import annotations

from typing import Any, TypeVar

from eth.abc import BlockAPI, BlockHeaderAPI, BlockImportResult, BlockPersistResult
from eth.constants import GENESIS_PARENT_HASH

Blocks = tuple[BlockAPI, ...]
Persisted = TypeVar("Persisted", BlockImportResult, BlockPersistResult)


def justified_first(chain: Any, block: BlockAPI, head_before: BlockHeaderAPI, persisted: Persisted) -> Persisted:
    """py-evm's persist result for `block` (imported on a fork of `head_before`), corrected to BSC's choice: its
    new and old canonical blocks relative to `head_before`. Call inside the import's write transaction."""
    new, old = _choose(chain, block, head_before, persisted.new_canonical_blocks, persisted.old_canonical_blocks)
    return persisted._replace(new_canonical_blocks=new, old_canonical_blocks=old)


def _choose(chain: Any, block: BlockAPI, head_before: BlockHeaderAPI, new: Blocks,
            old: Blocks) -> tuple[Blocks, Blocks]:
    chosen = chain.head
    if chosen.hash == block.hash:
        other = head_before
    elif chosen.hash == head_before.hash:
        other = block.header
    else:
        return new, old
    if not chain.engine.prefer_by_justified(chosen, other):
        return new, old   # None: a tie, decided by total difficulty as BSC does; False: the chosen head is ahead
    chaindb = chain.chaindb
    added, _ = chaindb._set_as_canonical_chain_head(chain.db, other, GENESIS_PARENT_HASH)
    for header in added:   # py-evm drops the lookups of decanonicalised blocks itself; it adds new ones on persist only
        for index, tx_hash in enumerate(chaindb._get_block_transaction_hashes(chain.db, header)):
            chaindb._add_transaction_to_canonical_chain(chain.db, tx_hash, header, index)
    if other.hash == head_before.hash:
        return (), ()   # py-evm's reorg undone: nothing changed on the canonical chain
    # `block` (on the lighter side) is the head now: relative to head_before, these blocks came and went
    added_blocks = tuple(block if h.hash == block.hash else chain.block_by_header(h) for h in added)
    removed = _dropped(chain, head_before, other)
    return added_blocks, removed


def _dropped(chain: Any, head_before: BlockHeaderAPI, new_head: BlockHeaderAPI) -> Blocks:
    """The blocks of the old canonical chain above the common ancestor of `head_before` and `new_head`, oldest first
    (read back by hash: they are stored, just no longer canonical)."""
    dropped = []
    a, b = head_before, new_head
    while a.hash != b.hash:
        if a.block_number >= b.block_number:
            dropped.append(chain.block_by_header(a))
            a = chain.header_by_hash(a.parent_hash)
        else:
            b = chain.header_by_hash(b.parent_hash)
    return tuple(reversed(dropped))
