"""A real Node behind a real transport, and raw JSON-RPC through it: the RpcServer on 127.0.0.1 (a free port) or the
front process, over HTTP with urllib; or node.testing's SmartchainProvider / AsyncSmartchainProvider (web3.py's
request path, no HTTP)."""
from __future__ import annotations

import asyncio
import json
import threading
import urllib.error
import urllib.request
from contextlib import contextmanager
from dataclasses import dataclass
from typing import Any, Coroutine, Iterator, TypeVar

import re

from web3 import AsyncWeb3, Web3
from web3.middleware import ExtraDataToPOAMiddleware

from chainkit import calldata, deploy_token_raw, sign
from node.dev.accounts import dev_accounts
from node.config import NodeConfig
from node.node import Node
from node.testing.provider import AsyncSmartchainProvider, SmartchainProvider
from rpc.frontproc import FrontProcess
from rpc.server import RpcServer

# serve(transport=...): HTTP served here, HTTP from the front process, and web3.py's two providers (no HTTP)
TRANSPORTS = ("in-process", "front", "provider", "async-provider")
T = TypeVar("T")


class NotHttp(Exception):
    """A test asked a provider transport for an HTTP exchange: that test belongs to the HTTP transports only."""


class RpcFailure(Exception):
    def __init__(self, error: dict):
        super().__init__(f"{error['code']}: {error['message']}")
        self.code = error["code"]
        self.message = error["message"]
        self.data = error.get("data")


@dataclass
class HttpAnswer:
    status: int
    headers: dict
    body: bytes

    @property
    def json(self) -> Any:
        return json.loads(self.body)


@dataclass
class RpcNode:
    node: Node
    server: RpcServer | FrontProcess

    @property
    def url(self) -> str:
        return self.server.url

    @property
    def transport(self) -> str:
        """Which of TRANSPORTS answers."""
        return "front" if isinstance(self.server, FrontProcess) else "in-process"

    def http(self, body: bytes | str | None = None, method: str = "POST", headers: dict | None = None) -> HttpAnswer:
        data = body.encode() if isinstance(body, str) else body
        request = urllib.request.Request(self.url, data=data, method=method,
                                         headers={"Content-Type": "application/json", **(headers or {})})
        try:
            with urllib.request.urlopen(request, timeout=30) as response:
                return HttpAnswer(response.status, dict(response.headers), response.read())
        except urllib.error.HTTPError as exc:
            return HttpAnswer(exc.code, dict(exc.headers), exc.read())

    def post(self, message: Any, headers: dict | None = None) -> HttpAnswer:
        return self.http(json.dumps(message), headers=headers)

    def request(self, method: str, *params: Any, request_id: Any = 1) -> dict:
        """The whole answer object of one call."""
        return self.post({"jsonrpc": "2.0", "id": request_id, "method": method, "params": list(params)}).json

    def call(self, method: str, *params: Any) -> Any:
        """The result of one call; an error answer raises RpcFailure."""
        answer = self.request(method, *params)
        if "error" in answer:
            raise RpcFailure(answer["error"])
        return answer["result"]

    def error(self, method: str, *params: Any) -> dict:
        """The error object of a call that must fail."""
        answer = self.request(method, *params)
        assert "error" in answer, f"{method} succeeded: {answer}"
        return answer["error"]

    def web3(self) -> Web3:
        """web3.py over this transport (PoA middleware injected: Parlia's extraData is longer than 32 bytes)."""
        return _with_poa(Web3(Web3.HTTPProvider(self.url, request_kwargs={"timeout": 30})))


@dataclass
class ProvidedRpcNode(RpcNode):
    """The node answered through SmartchainProvider.make_request (what web3.py calls): the server's registry, in this
    thread, with no HTTP; the answer's id is the provider's own."""
    server: SmartchainProvider

    @property
    def transport(self) -> str:
        return "provider"

    @property
    def url(self) -> str:
        raise NotHttp("the provider transport has no URL: this test is about HTTP")

    def http(self, body: bytes | str | None = None, method: str = "POST", headers: dict | None = None) -> HttpAnswer:
        raise NotHttp("the provider transport has no HTTP exchange: this test is about HTTP")

    def request(self, method: str, *params: Any, request_id: Any = 1) -> dict:
        return _as_json_carries(method, self.server.make_request(method, list(params)))

    def web3(self) -> Web3:
        return _with_poa(Web3(self.server))


@dataclass
class AsyncProvidedRpcNode(ProvidedRpcNode):
    """The node answered through AsyncSmartchainProvider.make_request (what AsyncWeb3 awaits), on an event loop of
    its own thread, as an async application runs it; the handlers run on the app's worker lanes."""
    server: AsyncSmartchainProvider
    loop: asyncio.AbstractEventLoop

    @property
    def transport(self) -> str:
        return "async-provider"

    def request(self, method: str, *params: Any, request_id: Any = 1) -> dict:
        return _as_json_carries(method, self.run(self.server.make_request(method, list(params))))

    def web3(self) -> Web3:
        raise NotImplementedError("web3.py's Web3 takes the sync provider: here use async_web3() and run()")

    def async_web3(self) -> AsyncWeb3:
        """AsyncWeb3 over this provider (PoA middleware injected)."""
        w3 = AsyncWeb3(self.server)
        w3.middleware_onion.inject(ExtraDataToPOAMiddleware, layer=0)
        return w3

    def run(self, coroutine: Coroutine[Any, Any, T]) -> T:
        """Await `coroutine` on this transport's event loop; its result."""
        return asyncio.run_coroutine_threadsafe(coroutine, self.loop).result(timeout=60)


def _as_json_carries(method: str, answer: dict) -> dict:
    """A provider's answer, checked to be what HTTP would carry: the same after a JSON round trip (no tuples,
    bytes or non-string keys on the way)."""
    assert json.loads(json.dumps(answer)) == answer, f"{method}: the provider's answer is not JSON's: {answer!r}"
    return answer


def _with_poa(w3: Web3) -> Web3:
    w3.middleware_onion.inject(ExtraDataToPOAMiddleware, layer=0)
    return w3


@contextmanager
def serve(cors_origins: list[str] | None = None, front: bool = False, transport: str = "in-process",
          **config: Any) -> Iterator[RpcNode]:
    """A started node (fresh temporary data dir unless `datadir` is given) and its transport (TRANSPORTS):
    "in-process", an RpcServer in this process on a free port; "front" (or `front=True`), the JSON-RPC front process
    (rpc/front.py) as `smartchain run` serves it; "provider", node.testing's SmartchainProvider with no HTTP."""
    if transport not in TRANSPORTS:
        raise ValueError(f"unknown transport {transport!r}, want one of {', '.join(TRANSPORTS)}")
    if config.get("dev") is False and "validator_key" not in config:
        config["validator_key"] = dev_accounts()[0].private_key
    with Node(NodeConfig(**config)) as node:
        with attach(node, "front" if front else transport, cors_origins) as r:
            yield r


@contextmanager
def attach(node: Node, transport: str, cors_origins: list[str] | None = None, **server: Any) -> Iterator[RpcNode]:
    """A transport (TRANSPORTS) on a started node; `server`: the app's options (filter_timeout)."""
    if transport == "front":
        with FrontProcess("127.0.0.1", 0) as front:
            yield RpcNode(node, front.attach(node, cors_origins, **server))
    elif transport == "provider":
        with SmartchainProvider(node) as provider:
            _set_app_options(provider.rpc, cors_origins, **server)
            yield ProvidedRpcNode(node, provider)
    elif transport == "async-provider":
        provider = AsyncSmartchainProvider(node)
        try:
            _set_app_options(provider.rpc, cors_origins, **server)
            with _event_loop() as loop:
                yield AsyncProvidedRpcNode(node, provider, loop)
        finally:
            provider.close()
    else:
        with RpcServer(node, "127.0.0.1", 0, cors_origins=cors_origins, **server) as http:
            yield RpcNode(node, http)


def _set_app_options(rpc, cors_origins: list[str] | None, filter_timeout: float | None = None) -> None:
    """The provider's app is made without options: set them as rpc.server.create_app does."""
    if cors_origins is not None:
        raise NotHttp("CORS is HTTP's: a provider has no origins to allow")
    if filter_timeout is not None:
        rpc.filters.timeout = filter_timeout


@contextmanager
def _event_loop() -> Iterator[asyncio.AbstractEventLoop]:
    """An event loop running in a thread of its own until the block ends."""
    loop = asyncio.new_event_loop()
    thread = threading.Thread(target=loop.run_forever, name="async-provider", daemon=True)
    thread.start()
    try:
        yield loop
    finally:
        loop.call_soon_threadsafe(loop.stop)
        thread.join(timeout=10)
        loop.close()


# -- sending through a served node (filters and subscriptions tests) --

_ACCOUNTS = dev_accounts()
OWNER, ALICE, BOB, CAROL = _ACCOUNTS[1:5]
GETH_ID = re.compile(r"0x(0|[1-9a-f][0-9a-f]{0,31})")


def hx(b: bytes) -> str:
    return "0x" + b.hex()


def send(r: RpcNode, account, **tx) -> str:
    raw = sign(account, r.node.pool.pending_nonce(account.address), **tx)
    return r.call("eth_sendRawTransaction", hx(raw))


def transfer(r: RpcNode, token: bytes, to: bytes, amount: int) -> str:
    return send(r, OWNER, to=token, data=calldata("transfer(address,uint256)", to, amount), gas=100_000)


def deploy_token(r: RpcNode) -> bytes:
    r.node.send_raw_transaction(deploy_token_raw(OWNER, r.node.pool.pending_nonce(OWNER.address)))
    [b] = r.node.mine()
    return r.node.chain.store.block_metas(b.hash)[0].contract_address


def head(r: RpcNode) -> int:
    return int(r.call("eth_blockNumber"), 16)
