"""Opcode facts the tracers report as geth does: names (geth's `OpCode.String()`), and how many stack items each
instruction takes and leaves (for geth's `stack underflow (have <=> want)` / `stack limit reached` messages).

Names follow geth whatever the fork: an instruction this VM does not define is still called by its geth name
(`invalid opcode: CLZ`), and a byte geth has no name for is `opcode 0xc not defined`.
"""
from __future__ import annotations

STOP, CREATE, CALL, CALLCODE, RETURN, DELEGATECALL, CREATE2 = 0x00, 0xF0, 0xF1, 0xF2, 0xF3, 0xF4, 0xF5
JUMP, JUMPI, SLOAD, SSTORE = 0x56, 0x57, 0x54, 0x55
STATICCALL, REVERT, INVALID, SELFDESTRUCT = 0xFA, 0xFD, 0xFE, 0xFF

CALL_OPS = frozenset((CALL, CALLCODE, DELEGATECALL, STATICCALL))
CREATE_OPS = frozenset((CREATE, CREATE2))
STACK_LIMIT = 1024

_NAMED_RANGES: dict[int, str] = {
    0x00: "STOP ADD MUL SUB DIV SDIV MOD SMOD ADDMOD MULMOD EXP SIGNEXTEND",
    0x10: "LT GT SLT SGT EQ ISZERO AND OR XOR NOT BYTE SHL SHR SAR CLZ",
    0x20: "KECCAK256",
    0x30: "ADDRESS BALANCE ORIGIN CALLER CALLVALUE CALLDATALOAD CALLDATASIZE CALLDATACOPY CODESIZE CODECOPY "
          "GASPRICE EXTCODESIZE EXTCODECOPY RETURNDATASIZE RETURNDATACOPY EXTCODEHASH",
    0x40: "BLOCKHASH COINBASE TIMESTAMP NUMBER DIFFICULTY GASLIMIT CHAINID SELFBALANCE BASEFEE BLOBHASH BLOBBASEFEE "
          "SLOTNUM",
    0x50: "POP MLOAD MSTORE MSTORE8 SLOAD SSTORE JUMP JUMPI PC MSIZE GAS JUMPDEST TLOAD TSTORE MCOPY PUSH0",
    0xD0: "DATALOAD DATALOADN DATASIZE DATACOPY",
    0xE0: "RJUMP RJUMPI RJUMPV CALLF RETF JUMPF DUPN SWAPN EXCHANGE",
    0xEC: "EOFCREATE",
    0xEE: "RETURNCONTRACT",
    0xF0: "CREATE CALL CALLCODE RETURN DELEGATECALL CREATE2",
    0xF7: "RETURNDATALOAD EXTCALL EXTDELEGATECALL STATICCALL EXTSTATICCALL",
    0xFD: "REVERT INVALID SELFDESTRUCT",
}


def _names() -> list[str | None]:
    names: list[str | None] = [None] * 256
    for start, words in _NAMED_RANGES.items():
        for offset, word in enumerate(words.split()):
            names[start + offset] = word
    for n in range(1, 33):
        names[0x5F + n] = f"PUSH{n}"
    for n in range(1, 17):
        names[0x7F + n] = f"DUP{n}"
        names[0x8F + n] = f"SWAP{n}"
    for n in range(5):
        names[0xA0 + n] = f"LOG{n}"
    return names


NAMES = _names()


def op_name(op: int) -> str:
    """geth's name of an instruction byte."""
    return NAMES[op] or f"opcode {op:#x} not defined"


# (items taken, items left) of every instruction Prague defines; geth checks them before charging gas.
_STACK_IO_GROUPS: dict[tuple[int, int], str] = {
    (0, 0): "00 5b",
    (0, 1): "30 32 33 34 36 38 3a 3d 41 42 43 44 45 46 47 48 4a 58 59 5a 5f",
    (1, 0): "50 56 ff",
    (1, 1): "15 19 31 35 3b 3f 40 49 51 54 5c",
    (2, 0): "52 53 55 57 5d f3 fd",
    (2, 1): "01 02 03 04 05 06 07 0a 0b 10 11 12 13 14 16 17 18 1a 1b 1c 1d 20",
    (3, 0): "37 39 3e 5e",
    (3, 1): "08 09 f0",
    (4, 0): "3c",
    (4, 1): "f5",
    (6, 1): "f4 fa",
    (7, 1): "f1 f2",
}


def _stack_io() -> dict[int, tuple[int, int]]:
    table = {int(op, 16): io for io, ops in _STACK_IO_GROUPS.items() for op in ops.split()}
    table.update({0x5F + n: (0, 1) for n in range(1, 33)})
    table.update({0x7F + n: (n, n + 1) for n in range(1, 17)})
    table.update({0x8F + n: (n + 1, n + 1) for n in range(1, 17)})
    table.update({0xA0 + n: (n + 2, 0) for n in range(5)})
    return table


STACK_IO = _stack_io()


def stack_error(op: int, height: int) -> str | None:
    """geth's message when `op` cannot run on a stack of `height` items, else None."""
    taken, left = STACK_IO.get(op, (0, 0))
    if height < taken:
        return f"stack underflow ({height} <=> {taken})"
    limit = STACK_LIMIT + taken - left
    if height > limit:
        return f"stack limit reached {height} ({limit})"
    return None
