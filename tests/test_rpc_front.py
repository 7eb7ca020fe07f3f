"""The JSON-RPC front process (rpc/front.py) answers exactly as the in-process server does.

One node is served twice at once: by an in-process RpcServer and by a FrontProcess (a real second process on its
own port, reading the same LMDB data dir). Every request of the corpus below, well-formed or not, must get the same
status and body from both, before and after the chain changes; then what only the front has: the sender it
recovers reaches the pool, WebSockets are relayed in order, and each process notices when the other goes away.
"""
import asyncio
import json
import signal
import time

import aiohttp
import pytest

from chainkit import sign
from node.config import NodeConfig
from node.node import Node
from rpc.frontproc import FrontProcess
from rpc.server import BODY_LIMIT, RpcServer
from rpcnode import ALICE, BOB, CAROL, HttpAnswer, RpcNode, hx

CHAIN_ID = 714


@pytest.fixture(scope="module")
def both():
    """(in-process, front) views of one dev node without a production loop."""
    with Node(NodeConfig(produce=False)) as node:
        with RpcServer(node, "127.0.0.1", 0) as server, FrontProcess("127.0.0.1", 0) as front:
            front.attach(node)
            yield RpcNode(node, server), RpcNode(node, front)


def same(both, body, headers=None) -> HttpAnswer:
    """`body` sent to both servers: the answers must match (status, content type, CORS, body)."""
    inproc, front = both
    a, b = inproc.http(body, headers=headers), front.http(body, headers=headers)
    assert (a.status, a.body) == (b.status, b.body), f"{body!r}:\n in-process {a.body!r}\n front      {b.body!r}"
    for header in ("Content-Type", "Access-Control-Allow-Origin", "Vary"):
        assert a.headers.get(header) == b.headers.get(header), header
    return b


def call(method, *params, request_id=1) -> str:
    return json.dumps({"jsonrpc": "2.0", "id": request_id, "method": method, "params": list(params)})


def raw_tx(account, nonce, **tx) -> str:
    return hx(sign(account, nonce, **tx))


CORPUS = [
    # answered by the front itself
    call("eth_chainId"), call("eth_blockNumber"), call("net_version"), call("web3_clientVersion"),
    call("web3_sha3", "0x68656c6c6f"), call("web3_sha3", "0xzz"), call("web3_sha3"), call("eth_syncing"),
    call("net_listening"), call("net_peerCount"), call("eth_chainId", request_id="abc"),
    call("eth_chainId", request_id=None), call("eth_chainId", 1, 2),
    call("eth_getTransactionReceipt", "0x" + "00" * 32), call("eth_getTransactionReceipt", "0x1234"),
    call("eth_getTransactionReceipt"),
    '{"jsonrpc":"2.0","method":"eth_chainId","params":[]}',          # a notification: no answer
    '{"jsonrpc":"1.0","id":1,"method":"eth_chainId","params":[]}',
    '{"jsonrpc":"2.0","id":true,"method":"eth_chainId","params":[]}',
    '{"jsonrpc":"2.0","id":1,"method":"eth_blockNumber","params":{}}',
    '{"jsonrpc":"2.0","id":1,"method":["eth_chainId"]}', '{"jsonrpc":"2.0","id":1,"method":{"a":1}}',
    '{"jsonrpc":"2.0","id":[1],"method":"eth_sendRawTransaction","params":["0x00"]}',
    # not JSON-RPC at all
    "", "{bad", "[]", "[1]", "42", '"x"', "null", "[" * 20_000, b"\xff\xfe\x00",
    # forwarded to the node
    call("eth_getBalance", hx(ALICE.address), "latest"), call("eth_getBlockByNumber", "latest", True),
    call("eth_foo"), call("eth_subscribe", "newHeads"), call("eth_uninstallFilter", "0x1"), call("eth_getFilterChanges", "0x2"),
    json.dumps([json.loads(call("eth_chainId")), json.loads(call("eth_getBalance", hx(BOB.address)))]),
    json.dumps([json.loads(call("eth_blockNumber", request_id=i)) for i in range(3)]),
    # eth_sendRawTransaction that the front cannot read, or the pool refuses
    call("eth_sendRawTransaction"), call("eth_sendRawTransaction", "0x"), call("eth_sendRawTransaction", "0x1234"),
    call("eth_sendRawTransaction", "zz"), call("eth_sendRawTransaction", "0x00", "0x00"),
    call("eth_sendRawTransaction", raw_tx(ALICE, 0, to=BOB.address, chain_id=1)),
    call("eth_sendRawTransaction", raw_tx(ALICE, 0, to=BOB.address, gas_price=1)),
    call("eth_sendRawTransaction", raw_tx(ALICE, 0, to=BOB.address, gas=20_000)),
    call("eth_sendRawTransaction", raw_tx(CAROL, 0, to=BOB.address, value=10**30)),
]


def test_every_corpus_request_answers_the_same(both):
    for body in CORPUS:
        same(both, body)


def test_http_level_answers_are_the_same(both):
    inproc, front = both
    same(both, call("eth_chainId"), headers={"Origin": "http://localhost:3000"})
    same(both, call("eth_getBalance", hx(ALICE.address)), headers={"Origin": "http://localhost:3000"})
    assert same(both, "x" * (BODY_LIMIT + 1)).status == 413
    for method in ("GET", "OPTIONS"):
        a = inproc.http(None, method=method, headers={"Origin": "http://a.example",
                                                      "Access-Control-Request-Headers": "content-type"})
        b = front.http(None, method=method, headers={"Origin": "http://a.example",
                                                     "Access-Control-Request-Headers": "content-type"})
        assert (a.status, a.body) == (b.status, b.body)
        assert {k: v for k, v in a.headers.items() if k.startswith("Access-Control")} == \
               {k: v for k, v in b.headers.items() if k.startswith("Access-Control")}


def test_a_sent_transaction_is_pooled_mined_and_its_receipt_read_from_the_data_dir(both):
    inproc, front = both
    nonce = int(front.call("eth_getTransactionCount", hx(ALICE.address), "pending"), 16)
    raw = raw_tx(ALICE, nonce, to=BOB.address, value=7)
    tx_hash = front.call("eth_sendRawTransaction", raw)
    pooled = inproc.node.pool.get(bytes.fromhex(tx_hash[2:]))
    assert pooled is not None and pooled.sender == ALICE.address
    same(both, call("eth_sendRawTransaction", raw))                  # already known, from the pool
    same(both, call("eth_getTransactionByHash", tx_hash))
    same(both, call("eth_getTransactionReceipt", tx_hash))           # pending: null from both
    [block] = inproc.node.mine()
    receipt = same(both, call("eth_getTransactionReceipt", tx_hash)).json["result"]
    assert receipt["status"] == "0x1" and receipt["blockHash"] == hx(block.hash)
    assert receipt["from"] == hx(ALICE.address)
    same(both, call("eth_blockNumber"))
    same(both, call("eth_sendRawTransaction", raw))                  # now nonce too low, from the state
    for body in CORPUS:
        same(both, body)


def test_websocket_answers_then_notifications_in_order(both):
    inproc, front = both

    async def main():
        async with aiohttp.ClientSession() as session:
            ws = await session.ws_connect(front.server.ws_url)
            await ws.send_json({"jsonrpc": "2.0", "id": 1, "method": "eth_subscribe", "params": ["newHeads"]})
            await ws.send_json({"jsonrpc": "2.0", "id": 2, "method": "eth_chainId", "params": []})
            first = [await asyncio.wait_for(ws.receive_json(), 10) for _ in range(2)]
            assert sorted(m["id"] for m in first) == [1, 2]
            sub = next(m["result"] for m in first if m["id"] == 1)
            blocks = await asyncio.to_thread(inproc.node.mine, 2)
            notes = [await asyncio.wait_for(ws.receive_json(), 10) for _ in range(2)]
            assert [n["params"]["subscription"] for n in notes] == [sub, sub]
            assert [n["params"]["result"]["hash"] for n in notes] == [hx(b.hash) for b in blocks]
            await ws.send_str("{bad")
            assert (await asyncio.wait_for(ws.receive_json(), 10))["error"]["code"] == -32700
            await ws.close()
        deadline = time.monotonic() + 10   # the node ends the subscription of a closed relayed socket
        while len(_hub(front)) and time.monotonic() < deadline:
            await asyncio.sleep(0.05)
        assert len(_hub(front)) == 0
    asyncio.run(main())


def _hub(front: RpcNode):
    from rpc.server import HUB
    return front.server.backend.app[HUB]


def test_the_front_exits_when_the_node_goes_and_the_node_hears_when_the_front_goes():
    with Node(NodeConfig(produce=False)) as node:
        front = FrontProcess("127.0.0.1", 0).start()
        try:
            front.attach(node)
            front.backend.stop()                       # the node's end of the link closes
            assert front.proc.wait(20) == 0
        finally:
            front.stop()
        lost = []
        front = FrontProcess("127.0.0.1", 0).start()
        try:
            front.attach(node, on_lost=lambda: lost.append(True))
            front.proc.send_signal(signal.SIGKILL)
            deadline = time.monotonic() + 10
            while not lost and time.monotonic() < deadline:
                time.sleep(0.05)
            assert lost == [True]
        finally:
            front.stop()
