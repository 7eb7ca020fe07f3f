"""eth_getProof (EIP-1186) and eth_getStorageValues: account and storage reads with their Merkle proofs.

The proofs come from the chain (node/chain/proofs.py); this module reads the parameters and answers geth's JSON.
Storage keys are read leniently, as geth's decodeStorageKey does (0x optional, odd lengths padded, at most 32
bytes).
"""
from __future__ import annotations

from typing import Any, NewType

from rpc import encode
from rpc.blocks import state_header
from rpc.errors import InvalidParams, RpcError
from rpc.params import LATEST, Address, BlockRef, ParamError, parse_address, parse_hash

MAX_PROOF_KEYS = 1024          # geth's maxGetProofKeys
MAX_STORAGE_VALUES = 1024      # geth's limit on slots per eth_getStorageValues request

StorageKeys = NewType("StorageKeys", list)
StorageRequest = NewType("StorageRequest", dict)


def parse_storage_keys(value: Any) -> list[str]:
    if not isinstance(value, list) or not all(isinstance(k, str) for k in value):
        raise ParamError("cannot unmarshal into []string")
    return value


def parse_storage_request(value: Any) -> dict[bytes, list[bytes]]:
    if not isinstance(value, dict):
        raise ParamError("cannot unmarshal into map[common.Address][]common.Hash")
    return {parse_address(addr): [parse_hash(k) for k in parse_storage_keys(keys)] for addr, keys in value.items()}


def decode_storage_key(text: str) -> tuple[bytes, int]:
    """geth's decodeStorageKey: the 32-byte key and the length the caller wrote."""
    digits = text[2:] if text[:2] in ("0x", "0X") else text
    if len(digits) % 2:
        digits = "0" + digits
    if len(digits) > 64:
        raise InvalidParams(f'storage key too long (want at most 32 bytes): "{text}"')
    try:
        raw = bytes.fromhex(digits)
    except ValueError:
        raise InvalidParams(f'invalid hex string: "{text}"') from None
    return raw.rjust(32, b"\0"), len(raw)


def get_proof(node, address: Address, keys: StorageKeys, block: BlockRef = LATEST) -> dict:
    if len(keys) > MAX_PROOF_KEYS:
        raise InvalidParams(f"too many storage keys requested (max {MAX_PROOF_KEYS}, got {len(keys)})")
    decoded = [decode_storage_key(k) for k in keys]
    proof = node.chain.proof(state_header(node, block), address, [key for key, _ in decoded])
    storage_proof = []
    for (key, length), slot in zip(decoded, proof.storage):
        # geth: a key given as 32 bytes comes back as written, a shorter one as a quantity
        shown = encode.data(key) if length == 32 else encode.quantity(int.from_bytes(key, "big"))
        storage_proof.append({"key": shown, "value": encode.quantity(slot.value),
                              "proof": [encode.data(n) for n in slot.proof]})
    account = proof.account
    return {
        "address": encode.address(address),
        "accountProof": [encode.data(n) for n in proof.proof],
        "balance": encode.quantity(account.balance if account else 0),
        "codeHash": encode.data(account.code_hash if account else b"\0" * 32),
        "nonce": encode.quantity(account.nonce if account else 0),
        "storageHash": encode.data(proof.storage_root),
        "storageProof": storage_proof,
    }


def get_storage_values(node, request: StorageRequest, block: BlockRef = LATEST) -> dict:
    """Many slots of many accounts at one block: {address: [32-byte values, in the order asked]}."""
    count = sum(len(keys) for keys in request.values())
    if count > MAX_STORAGE_VALUES:
        raise LimitExceeded(f"too many slots (max {MAX_STORAGE_VALUES})")
    if count == 0:
        raise InvalidParams("empty request")
    state = node.chain.state_at(state_header(node, block))
    # a Go map: keys in sorted order
    return {encode.address(address): [encode.word(state.get_storage(address, int.from_bytes(k, "big")))
                                      for k in request[address]]
            for address in sorted(request)}


class LimitExceeded(RpcError):
    """geth's clientLimitExceededError."""

    code = -38026
