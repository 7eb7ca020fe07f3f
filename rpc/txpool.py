"""The txpool namespace: geth's TxPoolAPI (txpool_content, txpool_contentFrom, txpool_status, txpool_inspect).

geth answers Go maps, which its JSON writes with sorted keys: "pending" before "queued", senders by their EIP-55
checksummed hex (`account.Hex()`), nonces as decimal strings sorted as strings ("10" before "9"). We sort the same
way, so answers compare byte for byte. Pool transactions are geth's RPCTransaction of a pending transaction (block
fields null, gasPrice = fee cap); inspect flattens each into "<to>: <value> wei + <gas> gas × <price> wei".
"""
from __future__ import annotations

from typing import Callable

from eth_utils import to_checksum_address

from node.chain.transactions import DYNAMIC_FEE_TX, tx_type
from rpc import encode
from rpc.params import Address


def content(node) -> dict:
    return _by_sender(node, _rpc_transaction)


def content_from(node, address: Address) -> dict:
    pending, queued = node.pool.content()
    return {"pending": _by_nonce(address, pending.get(address, {}), _rpc_transaction),
            "queued": _by_nonce(address, queued.get(address, {}), _rpc_transaction)}


def status(node) -> dict:
    pending, queued = node.pool.status()
    return {"pending": encode.quantity(pending), "queued": encode.quantity(queued)}


def inspect(node) -> dict:
    return _by_sender(node, lambda _, tx: summary(tx))


def summary(tx) -> str:
    """geth's inspect line; the price is GasPrice(), which for EIP-1559 transactions is the fee cap."""
    destination = to_checksum_address(tx.to) if tx.to else "contract creation"
    price = tx.max_fee_per_gas if tx_type(tx) >= DYNAMIC_FEE_TX else tx.gas_price
    return f"{destination}: {tx.value} wei + {tx.gas} gas × {price} wei"


def _rpc_transaction(sender: bytes, tx) -> dict:
    return encode.transaction(tx, sender, None)


def _by_sender(node, shape: Callable[[bytes, object], object]) -> dict:
    pending, queued = node.pool.content()
    return {name: dict(sorted((to_checksum_address(sender), _by_nonce(sender, txs, shape))
                              for sender, txs in part.items()))
            for name, part in (("pending", pending), ("queued", queued))}


def _by_nonce(sender: bytes, txs: dict, shape: Callable[[bytes, object], object]) -> dict:
    return dict(sorted((str(nonce), shape(sender, tx)) for nonce, tx in txs.items()))
