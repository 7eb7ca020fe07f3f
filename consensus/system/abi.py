"""Contract: a table of ABI functions (BSC's names, argument order and selectors) dispatched as Solidity does.

Solidity's dispatcher rules, kept so that ethers, web3 and cast calls behave as against BSC's contracts: an unknown
selector, calldata that does not decode, or value sent to a non-payable function reverts with no data; empty
calldata goes to `receive` when the contract has one. Handlers take the Env (plus any context the contract passes,
such as the validator a StakeCredit belongs to) and the decoded arguments, and return the outputs.
"""
from __future__ import annotations

from dataclasses import dataclass
from typing import Any, Callable

from eth_abi import decode, encode
from eth_abi.exceptions import DecodingError
from eth_utils import function_signature_to_4byte_selector

from consensus.system.runtime import ContractRevert, Env

GAS_DISPATCH = 700  # what a Solidity dispatcher and ABI decoding cost, roughly, before any storage is touched

Handler = Callable[..., Any]


@dataclass(frozen=True)
class Method:
    name: str
    inputs: tuple[str, ...]
    outputs: tuple[str, ...]
    handler: Handler
    payable: bool

    @property
    def signature(self) -> str:
        return f"{self.name}({','.join(self.inputs)})"

    @property
    def selector(self) -> bytes:
        return function_signature_to_4byte_selector(self.signature)


def as_address(value: str | bytes) -> bytes:
    """An address argument as 20 bytes (eth-abi decodes addresses to checksummed hex strings)."""
    return value if isinstance(value, bytes) else bytes.fromhex(value[2:])


class Contract:
    def __init__(self, name: str, address: bytes | None):
        self.name = name
        self.address = address
        self.methods: dict[bytes, Method] = {}
        self.receive: Handler | None = None

    def method(self, name: str, inputs: tuple[str, ...] = (), outputs: tuple[str, ...] = (),
               payable: bool = False) -> Callable[[Handler], Handler]:
        """Register the decorated function as `name(inputs) returns (outputs)`."""
        def register(handler: Handler) -> Handler:
            method = Method(name, tuple(inputs), tuple(outputs), handler, payable)
            if method.selector in self.methods:
                raise ValueError(f"{self.name}: selector of {method.signature} registered twice")
            self.methods[method.selector] = method
            return handler
        return register

    def getter(self, name: str, output: str, read: Callable[[Env], Any]) -> None:
        """A public state variable's getter: `name() returns (output)`."""
        self.method(name, (), (output,))(lambda env: read(env))

    def on_receive(self, handler: Handler) -> Handler:
        self.receive = handler
        return handler

    def call(self, env: Env, data: bytes, *context: Any) -> bytes:
        """Run one call; raises ContractRevert (or a VM error) as the Solidity contract would fail."""
        env.charge(GAS_DISPATCH, f"{self.name} dispatch")
        if not data and self.receive is not None:
            self.receive(env, *context)
            return b""
        method = self.methods.get(data[:4]) if len(data) >= 4 else None
        if method is None or (env.value and not method.payable):
            raise ContractRevert(b"", f"{self.name}: no such function or not payable")
        try:
            args = decode(method.inputs, data[4:]) if method.inputs else ()
        except (DecodingError, OverflowError, ValueError) as exc:
            raise ContractRevert(b"", f"{method.signature}: bad arguments: {exc}") from None
        result = method.handler(env, *context, *args)
        if not method.outputs:
            return b""
        values = result if len(method.outputs) > 1 else (result,)
        return encode(method.outputs, list(values))
