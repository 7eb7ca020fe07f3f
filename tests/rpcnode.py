"""A real Node behind a real RpcServer on 127.0.0.1 (a free port), and raw JSON-RPC over HTTP with urllib."""
from __future__ import annotations

import json
import urllib.error
import urllib.request
from contextlib import contextmanager
from dataclasses import dataclass
from typing import Any, Iterator

import re

from chainkit import calldata, deploy_token_raw, sign
from node.dev.accounts import dev_accounts
from node.config import NodeConfig
from node.node import Node
from rpc.frontproc import FrontProcess
from rpc.server import RpcServer


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


@contextmanager
def serve(cors_origins: list[str] | None = None, front: bool = False, **config: Any) -> Iterator[RpcNode]:
    """A started node (fresh temporary data dir unless `datadir` is given) and its RPC server on a free port;
    `front`: served by the JSON-RPC front process (rpc/front.py), as `smartchain run` serves it."""
    if config.get("dev") is False and "validator_key" not in config:
        config["validator_key"] = dev_accounts()[0].private_key
    with Node(NodeConfig(**config)) as node:
        if front:
            with FrontProcess("127.0.0.1", 0) as server:
                yield RpcNode(node, server.attach(node, cors_origins))
        else:
            with RpcServer(node, "127.0.0.1", 0, cors_origins=cors_origins) as server:
                yield RpcNode(node, server)


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
