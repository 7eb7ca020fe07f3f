"""eth_subscribe / eth_unsubscribe over a real server's WebSocket: raw JSON with aiohttp's client (newHeads, logs,
newPendingTransactions, geth's errors, the answer before the first notification, the end of subscriptions with their
socket), then web3.py v8's AsyncWeb3 with WebSocketProvider."""
import asyncio
import itertools
import threading
import time

import aiohttp
import pytest
from web3 import AsyncWeb3, WebSocketProvider
from web3.middleware import ExtraDataToPOAMiddleware

from chainkit import TRANSFER_TOPIC
from rpc import subscriptions
from rpc.server import HUB
from rpc.subscriptions import Connection, Hub
from rpcnode import ALICE, BOB, CAROL, GETH_ID, deploy_token, hx, send, transfer

HEAD_KEYS = ["parentHash", "sha3Uncles", "miner", "stateRoot", "transactionsRoot", "receiptsRoot", "logsBloom",
             "difficulty", "number", "gasLimit", "gasUsed", "timestamp", "extraData", "mixHash", "nonce",
             "baseFeePerGas", "withdrawalsRoot", "blobGasUsed", "excessBlobGas", "parentBeaconBlockRoot",
             "requestsHash", "hash"]


@pytest.fixture(scope="module")
def rpc(served_rpc):
    """Every test here runs in-process and through the JSON-RPC front process."""
    return served_rpc


@pytest.fixture(scope="module")
def token(rpc) -> bytes:
    return deploy_token(rpc)


class Socket:
    """A raw JSON-RPC WebSocket client: answers by id; notifications kept in arrival order."""

    def __init__(self, ws: aiohttp.ClientWebSocketResponse):
        self.ws = ws
        self.ids = itertools.count(1)
        self.notes: list[dict] = []

    async def request(self, method: str, *params) -> dict:
        request_id = next(self.ids)
        await self.ws.send_json({"jsonrpc": "2.0", "id": request_id, "method": method, "params": list(params)})
        while True:
            message = await self.receive()
            if message.get("id") == request_id:
                return message
            self.notes.append(message)

    async def call(self, method: str, *params):
        answer = await self.request(method, *params)
        assert "error" not in answer, answer
        return answer["result"]

    async def receive(self) -> dict:
        return await asyncio.wait_for(self.ws.receive_json(), 10)

    async def notifications(self, count: int) -> list[dict]:
        while len(self.notes) < count:
            self.notes.append(await self.receive())
        taken, self.notes = self.notes[:count], self.notes[count:]
        assert all(n["jsonrpc"] == "2.0" and n["method"] == "eth_subscription" and "id" not in n for n in taken)
        return taken


def over_websocket(rpc, test) -> None:
    """Run `test(socket, ...)` with as many sockets as it takes arguments after the first."""
    async def main():
        async with aiohttp.ClientSession() as session:
            sockets = [Socket(await session.ws_connect(rpc.server.ws_url))
                       for _ in range(test.__code__.co_argcount)]
            try:
                await test(*sockets)
            finally:
                for socket in sockets:
                    await socket.ws.close()
    asyncio.run(main())


async def mine(rpc, blocks: int = 1):
    return await asyncio.to_thread(rpc.node.mine, blocks)


def test_http_cannot_subscribe(rpc):
    assert rpc.error("eth_subscribe", "newHeads") == {"code": -32601, "message": "notifications not supported"}
    assert rpc.error("eth_unsubscribe", "0x1") == {"code": -32000, "message": "subscription not found"}


def test_new_heads_are_geths_header_json(rpc):
    async def test(ws):
        sub = await ws.call("eth_subscribe", "newHeads")
        assert GETH_ID.fullmatch(sub)
        blocks = await mine(rpc, 2)
        notes = await ws.notifications(2)
        assert [n["params"]["subscription"] for n in notes] == [sub, sub]
        for b, note in zip(blocks, notes):
            head = note["params"]["result"]
            assert list(head) == HEAD_KEYS
            block = await ws.call("eth_getBlockByNumber", hex(b.number), False)
            assert head == {key: block[key] for key in HEAD_KEYS}
    over_websocket(rpc, test)


def test_logs_one_notification_per_matching_log(rpc, token):
    async def test(ws):
        transfers = await ws.call("eth_subscribe", "logs", {"address": hx(token), "topics": [hx(TRANSFER_TOPIC)]})
        to_carol = await ws.call("eth_subscribe", "logs", {"topics": [None, None, hx(CAROL.address.rjust(32, b"\0"))]})
        elsewhere = await ws.call("eth_subscribe", "logs", {"address": hx(b"\x42" * 20)})
        later = await ws.call("eth_subscribe", "logs", {"fromBlock": hex(rpc.node.chain.head.block_number + 5)})
        heads = await ws.call("eth_subscribe", "newHeads")
        transfer(rpc, token, ALICE.address, 1)
        transfer(rpc, token, CAROL.address, 2)
        [b] = await mine(rpc)
        await mine(rpc)   # its head comes after everything the first block caused
        notes = await ws.notifications(5)
        assert notes[-1]["params"]["subscription"] == heads
        logs = await ws.call("eth_getLogs", {"blockHash": hx(b.hash)})
        by_sub = {}
        for note in notes:
            by_sub.setdefault(note["params"]["subscription"], []).append(note["params"]["result"])
        assert by_sub[transfers] == logs and len(logs) == 2
        assert by_sub[to_carol] == logs[1:]
        assert elsewhere not in by_sub and later not in by_sub
    over_websocket(rpc, test)


def test_pending_transactions_hashes_or_whole(rpc):
    async def test(ws):
        hashes = await ws.call("eth_subscribe", "newPendingTransactions")
        whole = await ws.call("eth_subscribe", "newPendingTransactions", True)
        tx_hash = send(rpc, ALICE, to=BOB.address, value=3)
        notes = {n["params"]["subscription"]: n["params"]["result"] for n in await ws.notifications(2)}
        assert notes[hashes] == tx_hash
        assert notes[whole] == await ws.call("eth_getTransactionByHash", tx_hash)
        assert notes[whole]["blockHash"] is None
        await mine(rpc)
    over_websocket(rpc, test)


def test_unsubscribe(rpc):
    async def test(ws, other):
        gone = await ws.call("eth_subscribe", "newHeads")
        assert (await other.request("eth_unsubscribe", gone))["error"] == {
            "code": -32000, "message": "subscription not found"}   # only its own connection can end it
        assert await ws.call("eth_unsubscribe", gone) is True
        assert (await ws.request("eth_unsubscribe", gone))["error"]["message"] == "subscription not found"
        kept = await ws.call("eth_subscribe", "newHeads")
        await mine(rpc)
        [note] = await ws.notifications(1)
        assert note["params"]["subscription"] == kept
        assert await ws.call("eth_blockNumber") and ws.notes == []
    over_websocket(rpc, test)


@pytest.mark.parametrize("params, code, message", [
    (["nope"], -32601, 'no "nope" subscription in eth namespace'),
    ([], -32602, "expected subscription name as first argument"),
    ([5], -32602, "expected subscription name as first argument"),
    (["newHeads", {}], -32602, "too many arguments, want at most 1"),
    (["logs"], -32602, "missing value for required argument 1"),
    (["logs", {"fromBlock": "pending"}], -32602, "pending logs are not supported"),
    (["logs", {"fromBlock": "0x9", "toBlock": "0x3"}], -32602, "invalid block range params"),
    (["logs", {"address": "0x12"}], -32602,
     "invalid argument 1: invalid address: hex string has length 2, want 40 for common.Address"),
    (["newPendingTransactions", "yes"], -32602, "invalid argument 1: cannot unmarshal string into bool"),
])
def test_subscribe_errors(rpc, params, code, message):
    async def test(ws):
        assert (await ws.request("eth_subscribe", *params))["error"] == {"code": code, "message": message}
    over_websocket(rpc, test)


def test_subscribe_in_a_batch(rpc):
    async def test(ws):
        await ws.ws.send_json([{"jsonrpc": "2.0", "id": 1, "method": "eth_subscribe", "params": ["newHeads"]},
                               {"jsonrpc": "2.0", "id": 2, "method": "eth_blockNumber"}])
        answers = {a["id"]: a for a in await ws.receive()}
        [b] = await mine(rpc)
        [note] = await ws.notifications(1)
        assert note["params"]["subscription"] == answers[1]["result"]
        assert note["params"]["result"]["number"] == hex(b.number)
    over_websocket(rpc, test)


def test_answer_comes_before_the_first_notification(rpc):
    stop = threading.Event()

    def keep_mining():
        while not stop.is_set():
            rpc.node.mine()

    async def test(ws):
        subscribed = set()
        for request_id in range(1, 21):
            await ws.ws.send_json({"jsonrpc": "2.0", "id": request_id, "method": "eth_subscribe",
                                   "params": ["newHeads"]})
        while len(subscribed) < 20:
            message = await ws.receive()
            if "id" in message:
                subscribed.add(message["result"])
            else:
                assert message["params"]["subscription"] in subscribed

    miner = threading.Thread(target=keep_mining)
    miner.start()
    try:
        over_websocket(rpc, test)
    finally:
        stop.set()
        miner.join()


def test_subscriptions_end_with_their_socket(rpc):
    hub = rpc.server.app[HUB]

    async def test(ws):
        for kind in ("newHeads", "newPendingTransactions"):
            await ws.call("eth_subscribe", kind)
        assert len(hub) == 2
        await ws.ws.close()

    over_websocket(rpc, test)
    deadline = time.monotonic() + 5
    while len(hub) and time.monotonic() < deadline:
        time.sleep(0.02)
    assert len(hub) == 0
    rpc.node.mine()   # nothing left to notify


def test_slow_client_is_disconnected(monkeypatch):
    monkeypatch.setattr(subscriptions, "OUTBOX_LIMIT", 3)

    async def main():
        disconnected = asyncio.Event()

        async def never_sent(text: str) -> None:
            await asyncio.Event().wait()

        async def disconnect() -> None:
            disconnected.set()

        hub = Hub(node=None)
        connection = Connection(hub, never_sent, disconnect)
        connection.subscribe(subscriptions.NewHeads())
        assert len(hub) == 1
        for n in range(5):
            connection.send(f'"{n}"')
        await asyncio.wait_for(disconnected.wait(), 5)
        assert len(hub) == 0
    asyncio.run(main())


# -- web3.py v8 --

def test_web3_subscriptions(rpc, token):
    async def main():
        async with AsyncWeb3(WebSocketProvider(rpc.server.ws_url)) as w3:
            w3.middleware_onion.inject(ExtraDataToPOAMiddleware, layer=0)
            heads = await w3.eth.subscribe("newHeads")
            logs = await w3.eth.subscribe("logs", {"address": w3.to_checksum_address(token),
                                                   "topics": [TRANSFER_TOPIC]})
            tx_hash = transfer(rpc, token, BOB.address, 4)
            [b] = await mine(rpc)
            seen = {}
            async for message in w3.socket.process_subscriptions():
                seen[message["subscription"]] = message["result"]
                if len(seen) == 2:
                    break
            assert seen[heads]["number"] == b.number and seen[heads]["hash"] == b.hash
            assert seen[logs]["transactionHash"].to_0x_hex() == tx_hash
            assert seen[logs]["topics"][0] == TRANSFER_TOPIC
            assert await w3.eth.unsubscribe(heads) is True
            assert await w3.eth.unsubscribe(logs) is True
        assert len(rpc.server.app[HUB]) == 0
    asyncio.run(main())
