"""Dev accounts from the well-known test mnemonic, and loading private keys.

The mnemonic is the one Hardhat, Anvil and Foundry use, so the first account
is 0xf39Fd6e51aad88F6F4ce6aB8827279cffFb92266 as wallets expect.
"""
from __future__ import annotations

import functools
import string
from dataclasses import dataclass
from pathlib import Path

from eth_account import Account
from eth_keys.constants import SECPK1_N
from eth_utils import to_checksum_address

TEST_MNEMONIC = "test test test test test test test test test test test junk"


@dataclass(frozen=True)
class DevAccount:
    address: bytes  # 20 bytes, canonical
    private_key: bytes  # 32 bytes

    @property
    def checksum(self) -> str:
        return to_checksum_address(self.address)


def dev_accounts(mnemonic: str = TEST_MNEMONIC, count: int = 10) -> list[DevAccount]:
    """The first `count` accounts of m/44'/60'/0'/0/i for `mnemonic`."""
    return [_derive(mnemonic, i) for i in range(count)]


@functools.lru_cache(maxsize=256)
def _derive(mnemonic: str, index: int) -> DevAccount:
    # HD derivation is slow next to a dict lookup and callers ask again and again.
    Account.enable_unaudited_hdwallet_features()
    acct = Account.from_mnemonic(mnemonic, account_path=f"m/44'/60'/0'/0/{index}")
    return DevAccount(bytes.fromhex(acct.address[2:]), bytes(acct.key))


def load_key(hex_or_path: str) -> bytes:
    """A 32-byte private key from hex (0x optional) or from a geth-style key
    file holding that hex. Raises ValueError saying what is wrong."""
    text = hex_or_path.strip()
    if not text:
        raise ValueError("empty private key")
    source = "private key"
    if not text.lower().startswith("0x"):
        path = Path(text)
        if path.is_file():
            text = path.read_text().strip()
            source = f"key file {path}"
        elif not all(c in string.hexdigits for c in text):
            raise ValueError(f"{hex_or_path!r} is neither a hex private key nor an existing key file")
    digits = text[2:] if text.lower().startswith("0x") else text
    try:
        key = bytes.fromhex(digits)
    except ValueError:
        raise ValueError(f"{source} is not valid hex") from None
    if len(key) != 32:
        raise ValueError(f"{source} must be 32 bytes (64 hex digits), got {len(digits)} hex digits")
    if not 0 < int.from_bytes(key, "big") < SECPK1_N:
        raise ValueError(f"{source} is out of range for secp256k1")
    return key
