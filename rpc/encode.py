"""Blocks, headers, transactions, receipts and logs as geth shapes them in JSON.

Quantities are minimal hex (`0x0` for zero), data even-length lowercase hex, addresses lowercase. Headers, blocks
and receipts are Go maps in geth, so its JSON has their keys in alphabetical order; transactions and logs are
structs, written in field order. We emit the same orders, so answers compare byte for byte.
"""
from __future__ import annotations

from dataclasses import dataclass
from typing import Mapping, Sequence

import rlp
from eth.abc import BlockAPI, BlockHeaderAPI, ReceiptAPI, SignedTransactionAPI

from node.chain.blobgas import GAS_PER_BLOB
from node.chain.store import TxMeta
from node.chain.transactions import BLOB_TX, DYNAMIC_FEE_TX, SET_CODE_TX, effective_price, tx_type


def quantity(value: int) -> str:
    return hex(value)


def data(value: bytes) -> str:
    return "0x" + bytes(value).hex()


def address(value: bytes | None) -> str | None:
    return None if not value else "0x" + bytes(value).hex()


def word(value: int) -> str:
    """A 256-bit word (topic, storage key) as 32 bytes of hex."""
    return data(value.to_bytes(32, "big"))


def bloom(value: int) -> str:
    return data(value.to_bytes(256, "big"))


def base_fee(h: BlockHeaderAPI) -> int:
    """The header's base fee; 0 before London (and always on this chain)."""
    return getattr(h, "base_fee_per_gas", 0) or 0


# -- headers and blocks --

def header(h: BlockHeaderAPI) -> dict:
    """geth's RPCMarshalHeader; fork fields only when the header has them."""
    fields = {
        "baseFeePerGas": _optional_quantity(h, "base_fee_per_gas"),
        "blobGasUsed": _optional_quantity(h, "blob_gas_used"),
        "difficulty": quantity(h.difficulty),
        "excessBlobGas": _optional_quantity(h, "excess_blob_gas"),
        "extraData": data(h.extra_data),
        "gasLimit": quantity(h.gas_limit),
        "gasUsed": quantity(h.gas_used),
        "hash": data(h.hash),
        "logsBloom": bloom(h.bloom),
        "miner": address(h.coinbase),
        "mixHash": data(h.mix_hash),
        "nonce": data(h.nonce),
        "number": quantity(h.block_number),
        "parentBeaconBlockRoot": _optional_data(h, "parent_beacon_block_root"),
        "parentHash": data(h.parent_hash),
        "receiptsRoot": data(h.receipt_root),
        "requestsHash": _optional_data(h, "requests_hash"),
        "sha3Uncles": data(h.uncles_hash),
        "stateRoot": data(h.state_root),
        "timestamp": quantity(h.timestamp),
        "transactionsRoot": data(h.transaction_root),
        "withdrawalsRoot": _optional_data(h, "withdrawals_root"),
    }
    return {key: value for key, value in fields.items() if value is not None}


def _optional_quantity(h: BlockHeaderAPI, name: str) -> str | None:
    value = getattr(h, name, None)
    return None if value is None else quantity(value)


def _optional_data(h: BlockHeaderAPI, name: str) -> str | None:
    value = getattr(h, name, None)
    return None if value is None else data(value)


def block(b: BlockAPI, full: bool, metas: Sequence[TxMeta] | None,
          senders: Mapping[bytes, bytes] | None = None) -> dict:
    """geth's RPCMarshalBlock: the header plus size, transactions (hashes or objects), uncles, withdrawals.
    Senders come from `metas`, else `senders` (by transaction hash: unsigned simulated ones), else the signatures."""
    fields = header(b.header)
    fields["size"] = quantity(len(rlp.encode(b)))
    if full:
        fields["transactions"] = [
            transaction(tx, senders[tx.hash] if senders is not None else _sender(tx, metas, i), TxContext.of(b, i))
            for i, tx in enumerate(b.transactions)]
    else:
        fields["transactions"] = [data(tx.hash) for tx in b.transactions]
    fields["uncles"] = [data(u.hash) for u in b.uncles]
    withdrawals = getattr(b, "withdrawals", None)
    if withdrawals is not None:
        fields["withdrawals"] = [_withdrawal(w) for w in withdrawals]
    return dict(sorted(fields.items()))


def _withdrawal(w) -> dict:
    return {"index": quantity(w.index), "validatorIndex": quantity(w.validator_index),
            "address": address(w.address), "amount": quantity(w.amount)}


def _sender(tx: SignedTransactionAPI, metas: Sequence[TxMeta] | None, index: int) -> bytes:
    return metas[index].sender if metas is not None else tx.sender


# -- transactions --

@dataclass(frozen=True)
class TxContext:
    """Where a mined transaction sits; None for a pending one (block fields null, gasPrice = fee cap)."""

    block_hash: bytes
    block_number: int
    timestamp: int
    index: int
    base_fee: int

    @classmethod
    def of(cls, b: BlockAPI, index: int) -> "TxContext":
        return cls.at(b.header, index)

    @classmethod
    def at(cls, h: BlockHeaderAPI, index: int) -> "TxContext":
        return cls(h.hash, h.block_number, h.timestamp, index, base_fee(h))


def transaction(tx: SignedTransactionAPI, sender: bytes, where: TxContext | None) -> dict:
    """geth's RPCTransaction for types 0-4."""
    kind = tx_type(tx)
    dynamic = kind >= DYNAMIC_FEE_TX
    if where is not None:
        price = effective_price(tx, where.base_fee)
    else:
        price = tx.max_fee_per_gas if dynamic else tx.gas_price
    fields = {
        "blockHash": data(where.block_hash) if where else None,
        "blockNumber": quantity(where.block_number) if where else None,
        "blockTimestamp": quantity(where.timestamp) if where else None,
        "from": address(sender),
        "gas": quantity(tx.gas),
        "gasPrice": quantity(price),
    }
    if dynamic:
        fields["maxFeePerGas"] = quantity(tx.max_fee_per_gas)
        fields["maxPriorityFeePerGas"] = quantity(tx.max_priority_fee_per_gas)
    if kind == BLOB_TX:
        fields["maxFeePerBlobGas"] = quantity(tx.max_fee_per_blob_gas)
    fields.update({
        "hash": data(tx.hash),
        "input": data(tx.data),
        "nonce": quantity(tx.nonce),
        "to": address(tx.to),
        "transactionIndex": quantity(where.index) if where else None,
        "value": quantity(tx.value),
        "type": quantity(kind),
    })
    if kind:
        fields["accessList"] = access_list(tx.access_list)
    if kind or tx.chain_id:
        fields["chainId"] = quantity(tx.chain_id)
    if kind == BLOB_TX:
        fields["blobVersionedHashes"] = [data(h) for h in tx.blob_versioned_hashes]
    if kind == SET_CODE_TX:
        fields["authorizationList"] = [_authorization(a) for a in tx.authorization_list]
    fields["v"] = quantity(tx.v if not kind else tx.y_parity)
    fields["r"] = quantity(tx.r)
    fields["s"] = quantity(tx.s)
    if kind:
        fields["yParity"] = quantity(tx.y_parity)
    return fields


def access_list(entries) -> list[dict]:
    """py-evm's AccountAccesses (account, storage_keys as ints) as geth's [{address, storageKeys}]."""
    return [{"address": address(e.account), "storageKeys": [word(k) for k in e.storage_keys]} for e in entries]


def _authorization(a) -> dict:
    return {"chainId": quantity(a.chain_id), "address": address(a.address), "nonce": quantity(a.nonce),
            "yParity": quantity(a.y_parity), "r": quantity(a.r), "s": quantity(a.s)}


# -- receipts and logs --

def receipt(h: BlockHeaderAPI, tx: SignedTransactionAPI, index: int, r: ReceiptAPI, meta: TxMeta,
            blob_gas_price: int = 0) -> dict:
    """geth's MarshalReceipt for `tx`, at `index` of the block of `h` (`blob_gas_price`: the block's, for type 3)."""
    kind = tx_type(tx)
    fields = {
        "blockHash": data(h.hash),
        "blockNumber": quantity(h.block_number),
        "contractAddress": address(meta.contract_address),
        "cumulativeGasUsed": quantity(r.gas_used),
        "effectiveGasPrice": quantity(meta.effective_gas_price),
        "from": address(meta.sender),
        "gasUsed": quantity(meta.gas_used),
        "logs": _logs(h, tx.hash, index, meta.first_log_index, r.logs),
        "logsBloom": bloom(r.bloom),
        "to": address(tx.to),
        "transactionHash": data(tx.hash),
        "transactionIndex": quantity(index),
        "type": quantity(kind),
    }
    if len(r.state_root) == 32:    # before Byzantium a receipt carries the post-state root, not a status
        fields["root"] = data(r.state_root)
    else:
        fields["status"] = quantity(1 if r.state_root == b"\x01" else 0)
    if kind == BLOB_TX:
        fields["blobGasUsed"] = quantity(GAS_PER_BLOB * len(tx.blob_versioned_hashes))
        fields["blobGasPrice"] = quantity(blob_gas_price)
    return dict(sorted(fields.items()))


def _logs(h: BlockHeaderAPI, tx_hash: bytes, tx_index: int, first_log_index: int, entries) -> list[dict]:
    """A receipt's logs, the block's fields encoded once for all of them."""
    if not entries:
        return []
    where = LogBlock.of(h)
    return [raw_log(where, tx_hash, tx_index, first_log_index + i, entry.address,
                    [t.to_bytes(32, "big") for t in entry.topics], entry.data) for i, entry in enumerate(entries)]


def log(h: BlockHeaderAPI, tx_hash: bytes, tx_index: int, log_index: int, entry) -> dict:
    """geth's types.Log in field order; `removed` is false for logs of canonical blocks."""
    return raw_log(LogBlock.of(h), tx_hash, tx_index, log_index, entry.address,
                   [t.to_bytes(32, "big") for t in entry.topics], entry.data)


@dataclass(frozen=True)
class LogBlock:
    """The block fields every log of one block repeats, encoded once."""

    number: str
    hash: str
    timestamp: str

    @classmethod
    def of(cls, h: BlockHeaderAPI) -> "LogBlock":
        return cls(quantity(h.block_number), data(h.hash), quantity(h.timestamp))


def raw_log(where: LogBlock, tx_hash: bytes, tx_index: int, log_index: int, address_: bytes,
            topics: Sequence[bytes], data_: bytes) -> dict:
    """geth's types.Log from the log's own bytes (topics as 32-byte words), in field order."""
    return {
        "address": "0x" + address_.hex(),
        "topics": ["0x" + t.hex() for t in topics],
        "data": "0x" + data_.hex(),
        "blockNumber": where.number,
        "transactionHash": "0x" + tx_hash.hex(),
        "transactionIndex": hex(tx_index),
        "blockHash": where.hash,
        "blockTimestamp": where.timestamp,
        "logIndex": hex(log_index),
        "removed": False,
    }
