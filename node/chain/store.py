"""Indexes py-evm does not keep, written in the same LMDB transaction as the block they describe.

- tx hash -> (block hash, block number, index in block) and the transaction's metadata (below), for canonical
  blocks only (rewritten on reorg), so one receipt is answered from one key and two trie lookups;
- per block: for each transaction the sender, created contract, gas used, effective gas price and the index of
  its first log in the block, so a receipt or a log answers with geth's fields without re-executing anything;
- node metadata (genesis hash, genesis file fingerprint).
Logs themselves stay in py-evm's receipts; the header's logsBloom filters blocks for eth_getLogs ranges.
"""
from __future__ import annotations

import logging
from dataclasses import dataclass
from typing import Callable, Iterable, Sequence

import rlp
from eth.abc import BlockAPI, ReceiptAPI
from eth._utils.address import generate_contract_address
from rlp.sedes import Binary, CountableList, big_endian_int

from node.chain.db import LmdbDB
from node.chain.transactions import effective_price

log = logging.getLogger("smartchain.store")

TX_LOCATION = b"sc:txloc:"
BLOCK_META = b"sc:bmeta:"
META = b"sc:meta:"
INDEX_VERSION = b"2"   # 2: a transaction's location holds its metadata too

_address_or_empty = Binary.fixed_length(20, allow_empty=True)


class _TxMetaSedes(rlp.Serializable):
    fields = [
        ("sender", Binary.fixed_length(20)),
        ("contract_address", _address_or_empty),
        ("gas_used", big_endian_int),
        ("effective_gas_price", big_endian_int),
        ("first_log_index", big_endian_int),
    ]


class _LocationSedes(rlp.Serializable):
    fields = [("block_hash", Binary.fixed_length(32)), ("block_number", big_endian_int), ("index", big_endian_int),
              *_TxMetaSedes._meta.fields]


_META_LIST = CountableList(_TxMetaSedes)


@dataclass(frozen=True)
class TxLocation:
    block_hash: bytes
    block_number: int
    index: int


@dataclass(frozen=True)
class TxMeta:
    sender: bytes
    contract_address: bytes | None
    gas_used: int
    effective_gas_price: int
    first_log_index: int


def _meta_fields(m: TxMeta) -> tuple:
    return m.sender, m.contract_address or b"", m.gas_used, m.effective_gas_price, m.first_log_index


def _meta_of(e: _TxMetaSedes | _LocationSedes) -> TxMeta:
    """The metadata fields of a decoded entry (both sedes carry them under the same names)."""
    return TxMeta(e.sender, e.contract_address or None, e.gas_used, e.effective_gas_price, e.first_log_index)


def tx_metas(block: BlockAPI, receipts: Sequence[ReceiptAPI]) -> list[TxMeta]:
    """Per-transaction facts of an executed block (senders are cached on the tx objects)."""
    base_fee = getattr(block.header, "base_fee_per_gas", 0) or 0
    metas, prev_cumulative, log_index = [], 0, 0
    for tx, receipt in zip(block.transactions, receipts):
        sender = tx.sender
        contract = generate_contract_address(sender, tx.nonce) if tx.to == b"" else None
        metas.append(TxMeta(sender, contract, receipt.gas_used - prev_cumulative,
                            effective_price(tx, base_fee), log_index))
        prev_cumulative = receipt.gas_used
        log_index += len(receipt.logs)
    return metas


class Store:
    def __init__(self, db: LmdbDB):
        self.db = db

    def index_block(self, block: BlockAPI, receipts: Sequence[ReceiptAPI]) -> None:
        """Index a block that just became canonical (call inside the block's db transaction)."""
        metas = tx_metas(block, receipts)
        self.db[BLOCK_META + block.hash] = rlp.encode(
            [_TxMetaSedes(*_meta_fields(m)) for m in metas], sedes=_META_LIST)
        self._locate(block, metas)

    def _locate(self, block: BlockAPI, metas: Sequence[TxMeta]) -> None:
        for index, (tx, meta) in enumerate(zip(block.transactions, metas)):
            self.db[TX_LOCATION + tx.hash] = rlp.encode(
                _LocationSedes(block.hash, block.number, index, *_meta_fields(meta)))

    def upgrade(self, canonical_blocks: Callable[[], Iterable[BlockAPI]]) -> None:
        """Rewrite a data dir's indexes written by an earlier version of this module (its metadata is kept)."""
        if self.get_meta("index-version") == INDEX_VERSION:
            return
        count = 0
        with self.db.transaction():
            for block in canonical_blocks():
                metas = self.block_metas(block.hash)
                if block.transactions and metas is not None:
                    self._locate(block, metas)
                    count += 1
            self.set_meta("index-version", INDEX_VERSION)
        if count:
            log.info("upgraded the transaction index of %d blocks", count)

    def unindex_block(self, block: BlockAPI) -> None:
        """Forget the tx locations of a block that left the canonical chain (its metadata stays, keyed by hash)."""
        for tx in block.transactions:
            loc = self.tx_location(tx.hash)
            if loc is not None and loc.block_hash == block.hash:
                del self.db[TX_LOCATION + tx.hash]

    def tx_location(self, tx_hash: bytes) -> TxLocation | None:
        found = self.mined(tx_hash)
        return None if found is None else found[0]

    def mined(self, tx_hash: bytes) -> tuple[TxLocation, TxMeta] | None:
        """Where a canonical transaction sits and its metadata."""
        try:
            raw = self.db[TX_LOCATION + tx_hash]
        except KeyError:
            return None
        e = rlp.decode(raw, sedes=_LocationSedes)
        return TxLocation(e.block_hash, e.block_number, e.index), _meta_of(e)

    def block_metas(self, block_hash: bytes) -> list[TxMeta] | None:
        try:
            raw = self.db[BLOCK_META + block_hash]
        except KeyError:
            return None
        return [_meta_of(m) for m in rlp.decode(raw, sedes=_META_LIST)]

    def get_meta(self, name: str) -> bytes | None:
        try:
            return self.db[META + name.encode()]
        except KeyError:
            return None

    def set_meta(self, name: str, value: bytes) -> None:
        self.db[META + name.encode()] = value
