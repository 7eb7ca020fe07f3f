"""What the system contracts run on: an Env over py-evm state, with Solidity's gas, storage, log and revert rules.

A contract's storage is the account storage at its own address, so it is part of the state root, journaled by
py-evm (a revert undoes it) and readable with eth_getStorageAt. Slots are keccak256 of a name and keys, so each
field has its own slot and no layout needs to be declared. Inside a transaction an Env charges gas the way the EVM
charges SLOAD/SSTORE/LOG (EIP-2929 warm/cold, EIP-2200 set/reset, no refunds); at block end (finalize) and at
genesis it has no computation and charges nothing, as BSC's system transactions run with unlimited gas.
"""
from __future__ import annotations

from typing import Any, Callable, Protocol, Sequence

from eth.abc import ComputationAPI
from eth.exceptions import WriteProtection
from eth_abi import encode
from eth_utils import function_signature_to_4byte_selector, keccak

# gas as the EVM charges the same work (EIP-2929, EIP-2200, yellow paper LOG costs)
GAS_SLOAD_COLD = 2100
GAS_SLOAD_WARM = 100
GAS_SSTORE_SET = 20_000
GAS_SSTORE_RESET = 2_900
GAS_LOG = 375
GAS_LOG_TOPIC = 375
GAS_LOG_BYTE = 8
GAS_CREATE = 32_000
GAS_CODE_BYTE = 200

ERROR_STRING = function_signature_to_4byte_selector("Error(string)")


class StateLike(Protocol):
    """The part of py-evm's StateAPI the contracts use (genesis runs them on a dict-backed stand-in)."""

    def get_storage(self, address: bytes, slot: int) -> int: ...
    def set_storage(self, address: bytes, slot: int, value: int) -> None: ...
    def get_balance(self, address: bytes) -> int: ...
    def delta_balance(self, address: bytes, delta: int) -> None: ...
    def get_nonce(self, address: bytes) -> int: ...
    def set_nonce(self, address: bytes, nonce: int) -> None: ...
    def set_code(self, address: bytes, code: bytes) -> None: ...
    def snapshot(self) -> Any: ...
    def revert(self, snapshot: Any) -> None: ...
    def commit(self, snapshot: Any) -> None: ...


class ContractRevert(Exception):
    """A Solidity revert: `data` is what the caller receives (a custom error, Error(string), or nothing)."""

    def __init__(self, data: bytes = b"", reason: str = "reverted"):
        super().__init__(reason)
        self.data = data


def custom_error(signature: str, *args: Any) -> ContractRevert:
    """revert Name(args) as Solidity encodes a custom error, e.g. custom_error("ValidatorNotExisted()")."""
    types = signature[signature.index("(") + 1:-1]
    data = function_signature_to_4byte_selector(signature) + (encode(types.split(","), list(args)) if types else b"")
    return ContractRevert(data, signature)


def revert_string(message: str) -> ContractRevert:
    """require(false, message): Error(string)."""
    return ContractRevert(ERROR_STRING + encode(["string"], [message]), message)


def slot(name: str, *keys: int | bytes | str) -> int:
    """The storage slot of a named field (keys select an entry of a mapping or a list)."""
    return int.from_bytes(keccak(name.encode() + b"".join(_word(k) for k in keys)), "big")


def _word(key: int | bytes | str) -> bytes:
    if isinstance(key, int):
        return key.to_bytes(32, "big")
    if isinstance(key, str):
        key = key.encode()
    # keys longer than a word (BLS vote addresses) are hashed, as Solidity hashes bytes mapping keys
    return key.rjust(32, b"\x00") if len(key) <= 32 else keccak(key)


class Event:
    """A Solidity event: topic 0 is keccak256 of its signature, indexed arguments are topics, the rest data."""

    def __init__(self, name: str, *inputs: tuple[str, bool]):
        self.name = name
        self.inputs = inputs
        self.signature = f"{name}({','.join(t for t, _ in inputs)})"
        self.topic = keccak(text=self.signature)

    def encode(self, args: Sequence[Any]) -> tuple[tuple[int, ...], bytes]:
        if len(args) != len(self.inputs):
            raise TypeError(f"{self.signature} takes {len(self.inputs)} arguments, got {len(args)}")
        topics = [int.from_bytes(self.topic, "big")]
        data_types, data_values = [], []
        for (kind, indexed), value in zip(self.inputs, args):
            if indexed:  # only value types are indexed by these contracts: one ABI word each
                topics.append(int.from_bytes(encode([kind], [value]), "big"))
            else:
                data_types.append(kind)
                data_values.append(value)
        return tuple(topics), encode(data_types, data_values)


class Env:
    """One run of system-contract code: inside a transaction (with its computation) or at block end / genesis."""

    def __init__(self, state: StateLike, computation: ComputationAPI | None = None, *,
                 timestamp: int = 0, block_number: int = 0, coinbase: bytes = b"\x00" * 20, chain_id: int = 0):
        self.state = state
        self.computation = computation
        if computation is not None:
            ctx = computation.state.execution_context
            timestamp, block_number, coinbase, chain_id = ctx.timestamp, ctx.block_number, ctx.coinbase, ctx.chain_id
        elif hasattr(state, "execution_context"):
            ctx = state.execution_context
            timestamp, block_number, coinbase, chain_id = ctx.timestamp, ctx.block_number, ctx.coinbase, ctx.chain_id
        self.timestamp = timestamp
        self.block_number = block_number
        self.coinbase = coinbase
        self.chain_id = chain_id

    # -- the message ---------------------------------------------------------------------------------------------
    @property
    def sender(self) -> bytes:
        return self.computation.msg.sender if self.computation is not None else self.coinbase

    @property
    def value(self) -> int:
        return self.computation.msg.value if self.computation is not None else 0

    @property
    def metered(self) -> bool:
        return self.computation is not None

    def charge(self, gas: int, reason: str) -> None:
        """Consume gas (OutOfGas ends the call as the EVM would); free outside a transaction."""
        if self.computation is not None and gas:
            self.computation.consume_gas(gas, reason)

    def _check_writable(self) -> None:
        if self.computation is not None and self.computation.msg.is_static:
            raise WriteProtection("Cannot modify state while inside of a STATICCALL context")

    # -- storage -------------------------------------------------------------------------------------------------
    def load(self, address: bytes, key: int) -> int:
        if self.computation is not None:
            state = self.computation.state
            if state.is_storage_warm(address, key):
                self.charge(GAS_SLOAD_WARM, "SLOAD")
            else:
                self.charge(GAS_SLOAD_COLD, "SLOAD")
                state.mark_storage_warm(address, key)
        return self.state.get_storage(address, key)

    def store(self, address: bytes, key: int, value: int) -> None:
        self._check_writable()
        if self.computation is not None:
            state = self.computation.state
            if not state.is_storage_warm(address, key):
                self.charge(GAS_SLOAD_COLD, "SSTORE cold")
                state.mark_storage_warm(address, key)
            current = state.get_storage(address, key)
            original = state.get_storage(address, key, from_journal=False)
            if current == value or original != current:
                self.charge(GAS_SLOAD_WARM, "SSTORE")
            else:
                self.charge(GAS_SSTORE_SET if original == 0 else GAS_SSTORE_RESET, "SSTORE")
        self.state.set_storage(address, key, value)

    def attempt(self, call: Callable[..., Any], *args: Any) -> ContractRevert | None:
        """Run `call` as Solidity's try/catch runs an external call: a revert undoes its changes and is returned."""
        snapshot = self.state.snapshot()
        try:
            call(*args)
        except ContractRevert as exc:
            self.state.revert(snapshot)
            return exc
        self.state.commit(snapshot)
        return None

    def storage(self, address: bytes) -> "Storage":
        return Storage(self, address)

    def initialised_storage(self, address: bytes) -> "Storage":
        """The storage of a system contract genesis set up; reverts as BSC's uninitialised contracts do otherwise."""
        s = self.storage(address)
        if s.get("alreadyInit") != 1:
            raise revert_string("the contract not init yet")
        return s

    # -- balances, accounts, logs ------------------------------------------------------------------------------
    def balance(self, address: bytes) -> int:
        return self.state.get_balance(address)

    def transfer(self, source: bytes, target: bytes, amount: int) -> None:
        """Move wei between accounts; the contracts only move what their own accounting says they hold."""
        if amount == 0:
            return
        self._check_writable()
        if self.state.get_balance(source) < amount:
            raise AssertionError(f"0x{source.hex()} holds {self.state.get_balance(source)} wei, not {amount}")
        self.state.delta_balance(source, -amount)
        self.state.delta_balance(target, amount)

    def create_account(self, address: bytes, code: bytes) -> None:
        """A contract account as CREATE leaves it: nonce 1 (EIP-161) and `code`."""
        self._check_writable()
        self.charge(GAS_CREATE + GAS_CODE_BYTE * len(code), "CREATE")
        self.state.set_nonce(address, 1)
        self.state.set_code(address, code)

    def emit(self, address: bytes, event: Event, *args: Any) -> None:
        """Log `event` from `address`; at block end there is no receipt to carry it, so nothing is logged."""
        self._check_writable()
        topics, data = event.encode(args)
        if self.computation is None:
            return
        self.charge(GAS_LOG + GAS_LOG_TOPIC * len(topics) + GAS_LOG_BYTE * len(data), "LOG")
        self.computation.add_log_entry(address, topics, data)


class Storage:
    """Named fields of one contract's storage: ints, addresses, booleans, bytes and strings."""

    def __init__(self, env: Env, address: bytes):
        self.env = env
        self.address = address

    def get(self, name: str, *keys: int | bytes | str) -> int:
        return self.env.load(self.address, slot(name, *keys))

    def set(self, name: str, *keys_and_value: Any) -> None:
        *keys, value = keys_and_value
        self.env.store(self.address, slot(name, *keys), int(value))

    def add(self, name: str, *keys_and_delta: Any) -> int:
        """Add to an integer field (negative to subtract); returns the new value."""
        *keys, delta = keys_and_delta
        value = self.get(name, *keys) + delta
        if value < 0:
            raise AssertionError(f"{name}{keys} would go negative")
        self.set(name, *keys, value)
        return value

    def get_address(self, name: str, *keys: int | bytes | str) -> bytes:
        return self.get(name, *keys).to_bytes(20, "big")

    def set_address(self, name: str, *keys_and_value: Any) -> None:
        *keys, value = keys_and_value
        self.set(name, *keys, int.from_bytes(value, "big"))

    def get_bytes(self, name: str, *keys: int | bytes | str) -> bytes:
        base = slot(name, *keys)
        length = self.env.load(self.address, base)
        words = [self.env.load(self.address, _chunk(base, i)).to_bytes(32, "big") for i in range((length + 31) // 32)]
        return b"".join(words)[:length]

    def set_bytes(self, name: str, *keys_and_value: Any) -> None:
        *keys, value = keys_and_value
        base = slot(name, *keys)
        old_words = (self.env.load(self.address, base) + 31) // 32
        self.env.store(self.address, base, len(value))
        padded = value.ljust((len(value) + 31) // 32 * 32, b"\x00")
        for i in range(max(old_words, len(padded) // 32)):
            word = padded[i * 32:(i + 1) * 32]
            self.env.store(self.address, _chunk(base, i), int.from_bytes(word, "big") if word else 0)

    def get_str(self, name: str, *keys: int | bytes | str) -> str:
        return self.get_bytes(name, *keys).decode("utf-8", errors="replace")

    def set_str(self, name: str, *keys_and_value: Any) -> None:
        *keys, value = keys_and_value
        self.set_bytes(name, *keys, value.encode())


def _chunk(base: int, index: int) -> int:
    # a long value's words follow keccak256(base slot), as Solidity lays out bytes/string
    return (int.from_bytes(keccak(base.to_bytes(32, "big")), "big") + index) % 2**256
