"""`reverts(expected)`: a context manager that passes only when the block inside it reverts, as expected.

    with reverts("Vault: nothing to deposit"):            # a require/revert reason string
        vault.functions.deposit().transact({"value": 0})
    with reverts("Insufficient(address,uint256,uint256)") as revert:   # a custom error, by its signature
        vault.functions.withdraw(1).call()
    assert revert.args == (owner, 0, 1)
    with reverts(PANIC_DIVISION_BY_ZERO):                # a panic code (Solidity's Panic(uint256))
        vault.functions.share(0).call()

It reads web3.py's ContractLogicError (and subclasses): eth_call, eth_estimateGas, and a transact() whose gas is
estimated all revert that way. A transaction mined with status 0 raises nothing: check its receipt instead.
"""
from __future__ import annotations

import re
from contextlib import contextmanager
from dataclasses import dataclass
from typing import Any, Iterator

from eth_abi import decode
from eth_utils import function_signature_to_4byte_selector

ERROR_SELECTOR = function_signature_to_4byte_selector("Error(string)")
PANIC_SELECTOR = function_signature_to_4byte_selector("Panic(uint256)")
PANIC_ASSERT = 0x01
PANIC_OVERFLOW = 0x11
PANIC_DIVISION_BY_ZERO = 0x12
PANIC_ARRAY_INDEX = 0x32
_SIGNATURE = re.compile(r"([A-Za-z_$][A-Za-z0-9_$]*)\((.*)\)")


class RevertMismatch(AssertionError):
    """The code reverted, but not as the test expected (or did not revert at all)."""


@dataclass
class Revert:
    """What reverted, filled in when the `with` block ends: raw data, and the decoded reason, panic or error."""

    data: bytes = b""
    reason: str | None = None      # Error(string)
    panic: int | None = None       # Panic(uint256)
    selector: bytes | None = None  # the first 4 bytes (a custom error's selector)
    args: tuple = ()               # a custom error's arguments, when its signature was given
    message: str = ""

    def describe(self) -> str:
        if self.reason is not None:
            return f"reason {self.reason!r}"
        if self.panic is not None:
            return f"panic 0x{self.panic:02x}"
        if self.selector is not None:
            return f"custom error 0x{self.selector.hex()} ({self.message})"
        return f"no revert data ({self.message})"


def _revert_data(exc: Exception) -> bytes:
    data: Any = getattr(exc, "data", None)
    if isinstance(data, dict):   # some nodes nest it; ours answers a hex string
        data = data.get("data")
    if isinstance(data, str) and data.startswith("0x"):
        try:
            return bytes.fromhex(data[2:])
        except ValueError:
            return b""
    return data if isinstance(data, bytes) else b""


def _read(exc: Exception) -> Revert:
    data = _revert_data(exc)
    revert = Revert(data=data, message=str(getattr(exc, "message", None) or exc))
    if len(data) >= 4:
        revert.selector = data[:4]
        try:
            if data[:4] == ERROR_SELECTOR:
                revert.reason = decode(["string"], data[4:])[0]
            elif data[:4] == PANIC_SELECTOR:
                revert.panic = decode(["uint256"], data[4:])[0]
        except Exception:   # malformed payloads stay raw
            pass
    return revert


def _check(revert: Revert, expected: str | int | None) -> None:
    if expected is None:
        return
    if isinstance(expected, int) and not isinstance(expected, bool):
        if revert.panic != expected:
            raise RevertMismatch(f"expected panic 0x{expected:02x}, got {revert.describe()}")
        return
    match = _SIGNATURE.fullmatch(expected.replace(" ", ""))
    if match is None:
        if revert.reason != expected:
            raise RevertMismatch(f"expected reason {expected!r}, got {revert.describe()}")
        return
    signature = expected.replace(" ", "")
    if revert.selector != function_signature_to_4byte_selector(signature):
        raise RevertMismatch(f"expected custom error {signature}, got {revert.describe()}")
    types = [t for t in _split_types(match.group(2))]
    revert.args = tuple(decode(types, revert.data[4:])) if types else ()


def _split_types(types: str) -> list[str]:
    """Top-level comma split, so tuple types `(uint256,address)` stay whole."""
    parts, depth, start = [], 0, 0
    for i, ch in enumerate(types):
        if ch == "(":
            depth += 1
        elif ch == ")":
            depth -= 1
        elif ch == "," and depth == 0:
            parts.append(types[start:i])
            start = i + 1
    if types:
        parts.append(types[start:])
    return parts


@contextmanager
def reverts(expected: str | int | None = None) -> Iterator[Revert]:
    """Pass when the block raises web3's ContractLogicError matching `expected`: None (any revert), a reason
    string, a custom error signature `Name(type,...)` (its args are decoded into the yielded Revert), or a panic
    code (PANIC_*)."""
    from web3.exceptions import ContractLogicError

    revert = Revert()
    try:
        yield revert
    except ContractLogicError as exc:
        found = _read(exc)
        _check(found, expected)
        revert.__dict__.update(found.__dict__)
    else:
        wanted = "a revert" if expected is None else f"a revert with {expected!r}"
        raise RevertMismatch(f"expected {wanted}, but nothing reverted")
