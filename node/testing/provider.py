"""web3.py providers that hand each request to a node in this process: no HTTP, no socket, no JSON.

    from web3 import Web3
    from node.testing.provider import SmartchainProvider

    w3 = Web3(SmartchainProvider())          # a temporary automining dev chain, stopped at exit
    w3 = Web3(SmartchainProvider(node))      # or a started Node of your own

Answers are the JSON-RPC server's (node.testing.dispatch), so web3.py raises what it raises over HTTP. Parlia's
extraData is longer than 32 bytes: inject web3's `ExtraDataToPOAMiddleware`, as for BSC (the plugin's `w3` has it).
With automine on, a send returns once its transaction is in a block (as eth-tester and Hardhat: node/automine.py),
so a test reads the new state right after `transact()`. web3's ValidationMiddleware is answered from the node's
chain id (node/testing/middleware.py) instead of asking `eth_chainId` around every call.
"""
from __future__ import annotations

import itertools
import weakref
from typing import Any, Iterable

from hexbytes import HexBytes
from web3.datastructures import AttributeDict
from web3.providers.async_base import AsyncBaseProvider
from web3.providers.base import JSONBaseProvider
from web3.types import RPCEndpoint, RPCResponse

from node.config import NodeConfig
from node.node import Node
from node.testing.dispatch import InProcessRpc
from node.testing.middleware import SwappedOnion, known_chain_validation


def to_json_value(value: Any) -> Any:
    """What web3's JSON encoder (Web3JsonEncoder) would send, then the server parse: bytes as 0x-hex, mappings as
    objects with string keys, sequences as lists."""
    if value is None or isinstance(value, (str, bool, int, float)):
        return value
    if isinstance(value, (bytes, bytearray, HexBytes)):
        return "0x" + bytes(value).hex()
    if isinstance(value, AttributeDict):
        value = value.__dict__
    if isinstance(value, dict):
        return {_json_key(k): to_json_value(v) for k, v in value.items()}
    if isinstance(value, (list, tuple)):
        return [to_json_value(v) for v in value]
    if hasattr(value, "model_dump"):   # web3's pydantic request models, as its encoder dumps them
        return to_json_value(value.model_dump(by_alias=True))
    raise TypeError(f"Object of type {type(value).__name__} is not JSON serializable")


def _json_key(key: Any) -> str:
    if isinstance(key, str):
        return key
    if isinstance(key, bool):
        return "true" if key else "false"
    if key is None:
        return "null"
    if isinstance(key, (int, float)):
        return str(key)
    raise TypeError(f"keys must be str, int, float, bool or None, not {type(key).__name__}")


def dev_node(**config: Any) -> Node:
    """A started dev node in a fresh temporary data dir, automining unless `block_time` says otherwise."""
    config.setdefault("block_time", 0)
    return Node(NodeConfig(**config)).start()


class _Backend:
    """What both providers share: the node (started here when not given) and its in-process RPC."""

    def __init__(self, node: Node | None) -> None:
        self.own_node = node is None
        self.node = dev_node() if node is None else node
        self.rpc = InProcessRpc(self.node)
        self.ids = itertools.count()
        # one object for the provider's life: web3 caches the composed onion while its middleware tuple is equal
        self.validation = known_chain_validation(self.node.chain_config.chain_id)

    def onion(self, middleware_onion: Any) -> SwappedOnion:
        """The caller's middleware with web3's ValidationMiddleware answered from the known chain id."""
        return SwappedOnion(middleware_onion, self.validation)

    def message(self, method: str, params: Any) -> dict:
        return {"jsonrpc": "2.0", "method": method, "params": to_json_value(params or []), "id": next(self.ids)}

    def close(self) -> None:
        self.rpc.close()
        if self.own_node:
            self.node.stop()


def _close(backend: _Backend) -> None:
    backend.close()


class SmartchainProvider(JSONBaseProvider):
    """A synchronous web3.py provider over an in-process node (default: a temporary automining dev chain)."""

    def __init__(self, node: Node | None = None, **kwargs: Any) -> None:
        super().__init__(**kwargs)
        self._backend = _Backend(node)
        self._finalizer = weakref.finalize(self, _close, self._backend)   # also runs at interpreter exit

    @property
    def node(self) -> Node:
        return self._backend.node

    @property
    def rpc(self) -> InProcessRpc:
        return self._backend.rpc

    def request_func(self, w3: Any, middleware_onion: Any) -> Any:
        return super().request_func(w3, self._backend.onion(middleware_onion))

    def batch_request_func(self, w3: Any, middleware_onion: Any) -> Any:
        return super().batch_request_func(w3, self._backend.onion(middleware_onion))

    def make_request(self, method: RPCEndpoint, params: Any) -> RPCResponse:
        return self._backend.rpc.answer_call(self._backend.message(method, params))

    def make_batch_request(self, requests: Iterable[tuple[RPCEndpoint, Any]]) -> list[RPCResponse] | RPCResponse:
        return self._backend.rpc.answer([self._backend.message(m, p) for m, p in requests])

    def is_connected(self, show_traceback: bool = False) -> bool:
        return not self._backend.rpc.closed

    def close(self) -> None:
        """Stop hearing the node (and stop the node if this provider started it)."""
        self._finalizer()

    def __enter__(self) -> "SmartchainProvider":
        return self

    def __exit__(self, *exc: object) -> None:
        self.close()


class AsyncSmartchainProvider(AsyncBaseProvider):
    """The asynchronous provider (for `AsyncWeb3`): handlers run on the app's worker lanes through the server's own
    `answer_call`, so the event loop is never blocked by the EVM."""

    def __init__(self, node: Node | None = None, **kwargs: Any) -> None:
        super().__init__(**kwargs)
        self._backend = _Backend(node)
        self._finalizer = weakref.finalize(self, _close, self._backend)

    @property
    def node(self) -> Node:
        return self._backend.node

    @property
    def rpc(self) -> InProcessRpc:
        return self._backend.rpc

    async def request_func(self, async_w3: Any, middleware_onion: Any) -> Any:
        return await super().request_func(async_w3, self._backend.onion(middleware_onion))

    async def batch_request_func(self, async_w3: Any, middleware_onion: Any) -> Any:
        return await super().batch_request_func(async_w3, self._backend.onion(middleware_onion))

    async def make_request(self, method: RPCEndpoint, params: Any) -> RPCResponse:
        return await self._backend.rpc.answer_async(self._backend.message(method, params))

    async def make_batch_request(self, requests: Iterable[tuple[RPCEndpoint, Any]]
                                 ) -> list[RPCResponse] | RPCResponse:
        return await self._backend.rpc.answer_async([self._backend.message(m, p) for m, p in requests])

    async def is_connected(self, show_traceback: bool = False) -> bool:
        return not self._backend.rpc.closed

    async def disconnect(self) -> None:
        """Stop hearing the node (and stop the node if this provider started it)."""
        self._finalizer()

    def close(self) -> None:
        self._finalizer()
