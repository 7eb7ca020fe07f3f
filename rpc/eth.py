"""The eth namespace: chain, state, calls, transactions, blocks and receipts (fees in rpc/fees.py, logs in
rpc/logs.py, dev accounts in rpc/accounts.py). Plain functions of the node and parsed parameters, returning JSON.

Calls stop at the node's evm timeout (`--rpc.evmtimeout`): eth_call with geth's `execution aborted (timeout = 5s)`;
eth_estimateGas, which geth bounds only by its server's request timeout, with that server's answer, `request timed
out` (code -32002), as the other methods geth does not bound by the evm timeout (RequestTimedOut).
"""
from __future__ import annotations

from eth.abc import BlockAPI, BlockHeaderAPI, SignedTransactionAPI

from node.chain.store import TxMeta
from node.execution.calls import CallParams, ExecutionTimeout, call as run_call, estimate_gas as run_estimate
from rpc import encode
from rpc.errors import RpcError
from rpc.blocks import header_or_none, state_header
from rpc.params import LATEST, Address, BlockId, BlockNumber, BlockRef, CallArgs, Data, Hash, StorageKey, Uint64

ZERO_ADDRESS = b"\0" * 20


class RequestTimedOut(RpcError):
    """A request that ran past its time: geth's RPC server answers it -32002 `request timed out`."""

    code = -32002

    def __init__(self) -> None:
        super().__init__("request timed out")


# -- chain --

def chain_id(node) -> str:
    return encode.quantity(node.chain_config.chain_id)


def block_number(node) -> str:
    return encode.quantity(node.chain.head.block_number)


def syncing(node) -> bool | dict:
    """false, or while the node syncs from a peer geth's progress object (startingBlock, currentBlock, highestBlock)."""
    network = getattr(node, "network", None)
    progress = None if network is None else network.syncing()
    if progress is None:
        return False
    return {name: encode.quantity(value) for name, value in progress.items()}


# -- state --

def get_balance(node, address: Address, block: BlockRef = LATEST) -> str:
    return encode.quantity(node.chain.state_at(state_header(node, block)).get_balance(address))


def get_transaction_count(node, address: Address, block: BlockRef = LATEST) -> str:
    if block.tag == "pending":
        return encode.quantity(node.pool.pending_nonce(address))
    return encode.quantity(node.chain.state_at(state_header(node, block)).get_nonce(address))


def get_code(node, address: Address, block: BlockRef = LATEST) -> str:
    return encode.data(node.chain.state_at(state_header(node, block)).get_code(address))


def get_storage_at(node, address: Address, key: StorageKey, block: BlockRef = LATEST) -> str:
    state = node.chain.state_at(state_header(node, block))
    return encode.word(state.get_storage(address, int.from_bytes(key, "big")))


# -- calls --

def call_params(args: CallArgs, base_fee: int = 0) -> CallParams:
    """geth's TransactionArgs.ToMessage: the price is gasPrice, or min(tip + base fee, fee cap), else free."""
    if args.gas_price is not None:
        price = args.gas_price
    elif args.max_fee_per_gas or args.max_priority_fee_per_gas:
        price = min((args.max_priority_fee_per_gas or 0) + base_fee, args.max_fee_per_gas or 0)
    else:
        price = 0
    return CallParams(sender=args.sender or ZERO_ADDRESS, to=args.to or b"", gas=args.gas, gas_price=price,
                      value=args.value or 0, data=args.data or b"")


def no_base_fee(header: BlockHeaderAPI, params: CallParams) -> BlockHeaderAPI:
    """geth's NoBaseFee for calls: a call that pays nothing runs with base fee 0 (BASEFEE reads 0 too), so a block's
    base fee does not refuse it. (A zero base fee, as on a Parlia chain, needs no change.)"""
    if params.gas_price == 0 and encode.base_fee(header):
        return header.copy(base_fee_per_gas=0)
    return header


def call(node, args: CallArgs, block: BlockRef = LATEST) -> str:
    header = state_header(node, block)
    params = call_params(args, encode.base_fee(header))
    return encode.data(run_call(node.chain, no_base_fee(header, params), params, timeout=node.config.evm_timeout))


def estimate_gas(node, args: CallArgs, block: BlockRef = LATEST) -> str:
    header = state_header(node, block)
    params = call_params(args, encode.base_fee(header))
    try:
        gas = run_estimate(node.chain, no_base_fee(header, params), params, timeout=node.config.evm_timeout)
    except ExecutionTimeout:
        raise RequestTimedOut() from None
    return encode.quantity(gas)


# -- transactions --

def send_raw_transaction(node, raw: Data) -> str:
    return encode.data(node.send_raw_transaction(raw))


def get_transaction_by_hash(node, tx_hash: Hash) -> dict | None:
    found = _mined(node, tx_hash)
    if found is not None:
        header, tx, index, meta = found
        return encode.transaction(tx, meta.sender, encode.TxContext.at(header, index))
    tx = node.pool.get(tx_hash)
    return None if tx is None else encode.transaction(tx, tx.sender, None)


def get_transaction_receipt(node, tx_hash: Hash) -> dict | None:
    found = _mined(node, tx_hash)
    if found is None:
        return None
    header, tx, index, meta = found
    return encode.receipt(header, tx, index, node.chain.receipt_at(header, index), meta,
                          node.chain.schedule.blob_base_fee(header))


def _mined(node, tx_hash: bytes) -> tuple[BlockHeaderAPI, SignedTransactionAPI, int, TxMeta] | None:
    """A canonical transaction, its block's header, index and metadata: one index key and one trie lookup, however
    many transactions the block holds."""
    found = node.chain.store.mined(tx_hash)
    if found is None:
        return None
    location, meta = found
    header = node.chain.header_by_hash(location.block_hash)
    tx = None if header is None else node.chain.transaction_at(header, location.index)
    return None if tx is None else (header, tx, location.index, meta)


# -- blocks --

def _block(node, block: BlockId) -> BlockAPI | None:
    header = header_or_none(node, block)
    return None if header is None else node.chain.block_by_header(header)


def _encode_block(node, b: BlockAPI | None, full: bool) -> dict | None:
    if b is None:
        return None
    return encode.block(b, full, node.chain.store.block_metas(b.hash) if full and b.transactions else None)


def get_block_by_number(node, block: BlockNumber, full: bool) -> dict | None:
    return _encode_block(node, _block(node, block), full)


def get_block_by_hash(node, block_hash: Hash, full: bool) -> dict | None:
    return _encode_block(node, node.chain.block_by_hash(block_hash), full)


def get_block_transaction_count_by_number(node, block: BlockNumber) -> str | None:
    b = _block(node, block)
    return None if b is None else encode.quantity(len(b.transactions))


def get_block_transaction_count_by_hash(node, block_hash: Hash) -> str | None:
    b = node.chain.block_by_hash(block_hash)
    return None if b is None else encode.quantity(len(b.transactions))


def _transaction_at(node, b: BlockAPI | None, index: int) -> dict | None:
    if b is None or index >= len(b.transactions):
        return None
    metas = node.chain.store.block_metas(b.hash)
    sender = metas[index].sender if metas is not None else b.transactions[index].sender
    return encode.transaction(b.transactions[index], sender, encode.TxContext.of(b, index))


def get_transaction_by_block_number_and_index(node, block: BlockNumber, index: Uint64) -> dict | None:
    return _transaction_at(node, _block(node, block), index)


def get_transaction_by_block_hash_and_index(node, block_hash: Hash, index: Uint64) -> dict | None:
    return _transaction_at(node, node.chain.block_by_hash(block_hash), index)


def get_block_receipts(node, block: BlockRef) -> list[dict] | None:
    b = _block(node, block)
    if b is None:
        return None
    if not b.transactions:
        return []
    receipts, metas = node.chain.receipts(b.header), node.chain.store.block_metas(b.hash)
    blob_price = node.chain.schedule.blob_base_fee(b.header)
    return [encode.receipt(b.header, tx, i, r, m, blob_price)
            for i, (tx, r, m) in enumerate(zip(b.transactions, receipts, metas))]


def get_uncle_count_by_block_number(node, block: BlockNumber) -> str | None:
    return None if header_or_none(node, block) is None else "0x0"


def get_uncle_count_by_block_hash(node, block_hash: Hash) -> str | None:
    return None if node.chain.header_by_hash(block_hash) is None else "0x0"


def get_uncle_by_block_number_and_index(node, block: BlockNumber, index: Uint64) -> None:
    return None


def get_uncle_by_block_hash_and_index(node, block_hash: Hash, index: Uint64) -> None:
    return None
