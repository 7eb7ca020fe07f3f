"""A small real chain for the eth wire tests: a dev Node whose blocks hold every transaction type we accept
(legacy, EIP-2930 access list, EIP-1559) and an ERC-20 deploy and transfer (receipts with logs)."""
from __future__ import annotations

from contextlib import contextmanager
from pathlib import Path
from typing import Iterator

import rlp
from eth_account import Account
from eth_utils import keccak, to_checksum_address

from chainkit import CHAIN_ID, GWEI, calldata, deploy_token_raw, sign
from node.config import NodeConfig
from node.network.eth.messages import (BlockBodies, BlockBody, BlockHeaders, GetBlockBodies, GetBlockHeaders,
                                       GetPooledTransactions, GetReceipts, NewBlock, NewBlockHashes,
                                       NewPooledTransactionHashes, PooledTransactions, Receipts, Status,
                                       Transactions, UpgradeStatus)
from node.network.forkid import ForkId
from node.node import Node

EMPTY_BLOCKS = 5


def sign_access_list(account, nonce: int, to: bytes, value: int) -> bytes:
    """An EIP-2930 (type 1) transfer naming `to` in its access list."""
    tx = {"type": 1, "chainId": CHAIN_ID, "nonce": nonce, "gas": 30000, "gasPrice": GWEI,
          "to": to_checksum_address(to), "value": value, "data": b"",
          "accessList": [{"address": to_checksum_address(to), "storageKeys": ["0x" + "00" * 32]}]}
    return bytes(Account.sign_transaction(tx, account.private_key).raw_transaction)


def build_chain(node: Node) -> None:
    """Block 1: one transaction of each type; 2: an ERC-20 deploy; 3: a token transfer; then empty blocks."""
    alice, bob, carol = node.accounts[1:4]
    node.send_raw_transaction(sign(alice, 0, bob.address, 10**18))
    node.send_raw_transaction(sign(alice, 1, carol.address, 2, dynamic=True))
    node.send_raw_transaction(sign_access_list(bob, 0, carol.address, 3))
    node.mine()
    node.send_raw_transaction(deploy_token_raw(carol, 0))
    [deploy] = node.mine()
    token = node.chain.receipts(deploy.header)[0]
    token_address = keccak(rlp.encode([carol.address, 0]))[12:]
    assert token.state_root == b"\x01", "the token deploy failed"
    node.send_raw_transaction(sign(carol, 1, token_address, data=calldata("transfer(address,uint256)",
                                                                          alice.address, 5), gas=100_000))
    node.mine()
    node.mine(EMPTY_BLOCKS)


@contextmanager
def chain_node(datadir: Path) -> Iterator[Node]:
    """A Node (no production loop) with build_chain's blocks."""
    with Node(NodeConfig(datadir=datadir, produce=False)) as node:
        build_chain(node)
        yield node


def every_message(chain) -> list:
    """One or more of every eth message, made of the kit chain's blocks 1-3, transactions and receipts."""
    blocks = [chain.block_by_number(n) for n in range(1, 4)]
    txs = tuple(tx for block in blocks for tx in block.transactions)
    td = chain.chaindb.get_score(blocks[0].hash)
    return [
        Status(68, 714, td, blocks[2].hash, chain.genesis_hash, ForkId(b"\x01\x02\x03\x04", 0)),
        UpgradeStatus(), UpgradeStatus(True),
        NewBlockHashes(tuple((b.hash, b.number) for b in blocks)),
        Transactions(txs),
        GetBlockHeaders(7, blocks[0].hash, 3, 1, True), GetBlockHeaders(2**64 - 1, 0, 1024, 0, False),
        BlockHeaders(7, tuple(b.header for b in blocks)),
        GetBlockBodies(8, tuple(b.hash for b in blocks)),
        BlockBodies(8, tuple(BlockBody.of(b) for b in blocks)),
        NewBlock(blocks[0], td), NewBlock(blocks[1], td + 2, sidecars=[[b"\x01"]]),
        NewBlock(blocks[2], td + 4, sidecars=[], access_list=[b"\x02", [b"\x03"]]),
        NewPooledTransactionHashes(bytes(tx.type_id or 0 for tx in txs),
                                   tuple(len(rlp.encode(tx)) for tx in txs), tuple(tx.hash for tx in txs)),
        GetPooledTransactions(9, tuple(tx.hash for tx in txs)),
        PooledTransactions(9, txs),
        GetReceipts(10, tuple(b.hash for b in blocks)),
        Receipts(10, tuple(tuple(chain.receipts(b.header)) for b in blocks)),
    ]
