"""Merkle proofs of an account and its storage slots at a state root (EIP-1186), read from the store: the trie nodes
from the root down to each key (keccak of the address or slot), RLP-encoded; an absent key gets the nodes that prove
its absence."""
from __future__ import annotations

from dataclasses import dataclass
from typing import Sequence

import rlp
from eth.abc import DatabaseAPI
from eth.constants import BLANK_ROOT_HASH
from eth.rlp.accounts import Account
from eth_utils import keccak
from trie import HexaryTrie


@dataclass(frozen=True)
class SlotProof:
    key: bytes            # the 32-byte slot
    value: int
    proof: list[bytes]    # RLP-encoded nodes; empty when the account has no storage


@dataclass(frozen=True)
class AccountProof:
    account: Account | None   # None: no such account (its proof proves the absence)
    storage_root: bytes
    proof: list[bytes]
    storage: list[SlotProof]


def _nodes(trie: HexaryTrie, key: bytes) -> list[bytes]:
    return [rlp.encode(node) for node in trie.get_proof(keccak(key))]


def prove(db: DatabaseAPI, state_root: bytes, address: bytes, slots: Sequence[bytes]) -> AccountProof:
    """`address`'s account and `slots` (32-byte keys) at `state_root`, each with its proof."""
    accounts = HexaryTrie(db, state_root)
    raw = accounts.get(keccak(address))
    account = rlp.decode(raw, sedes=Account) if raw else None
    storage_root = account.storage_root if account else b"\0" * 32
    storage = HexaryTrie(db, storage_root) if account and storage_root != BLANK_ROOT_HASH else None
    proofs = []
    for key in slots:
        if storage is None:
            proofs.append(SlotProof(key, 0, []))
            continue
        value = storage.get(keccak(key))
        proofs.append(SlotProof(key, rlp.decode(value, sedes=rlp.sedes.big_endian_int) if value else 0,
                                _nodes(storage, key)))
    return AccountProof(account, storage_root, _nodes(accounts, address), proofs)
