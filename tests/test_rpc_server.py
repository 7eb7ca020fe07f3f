"""The JSON-RPC transport and parameter rules, over a real server with raw JSON: geth's codes and messages."""
import asyncio
import json

import aiohttp
import pytest

from rpc.server import BATCH_LIMIT, BODY_LIMIT
from rpcnode import serve

ALICE = "0xf39fd6e51aad88f6f4ce6ab8827279cfffb92266"


def test_parse_error_answers_id_null(rpc):
    answer = rpc.http('{"jsonrpc":"2.0","id":7,"method":').json
    assert answer["id"] is None and answer["jsonrpc"] == "2.0"
    assert answer["error"]["code"] == -32700


def test_unknown_method(rpc):
    assert rpc.error("eth_nope") == {"code": -32601, "message": "the method eth_nope does not exist/is not available"}


def test_invalid_requests(rpc):
    assert rpc.post({"jsonrpc": "1.0", "id": 3, "method": "eth_chainId"}).json == {
        "jsonrpc": "2.0", "id": 3, "error": {"code": -32600, "message": "invalid request"}}
    assert rpc.post({"jsonrpc": "2.0", "id": [1], "method": "eth_chainId"}).json["id"] is None
    assert rpc.post(5).json["error"]["code"] == -32600
    assert rpc.post({"jsonrpc": "2.0", "id": 1, "method": 5}).json["error"]["code"] == -32600


@pytest.mark.parametrize("method, params, message", [
    ("eth_getBalance", [], "missing value for required argument 0"),
    ("eth_getBalance", [ALICE, "latest", 1], "too many arguments, want at most 2"),
    ("eth_getBalance", [ALICE[2:]], "invalid argument 0: hex string without 0x prefix"),
    ("eth_getBalance", [ALICE[:-2]], "invalid argument 0: hex string has length 38, want 40 for common.Address"),
    ("eth_getBalance", [42], "invalid argument 0: cannot unmarshal number into address"),
    ("eth_getBalance", [ALICE, "latestt"], "invalid argument 1: hex string without 0x prefix"),
    ("eth_getBalance", [ALICE, "0x01"], "invalid argument 1: hex number with leading zero digits"),
    ("eth_getBalance", [ALICE, "0x"], 'invalid argument 1: hex string "0x"'),
    ("eth_getBalance", [ALICE, "0xfffffffffffffffff"], "invalid argument 1: hex number > 64 bits"),
    ("eth_getBalance", [ALICE, {"blockNumber": "0x0", "blockHash": "0x" + "00" * 32}],
     "invalid argument 1: cannot specify both BlockHash and BlockNumber, choose one or the other"),
    ("eth_getBalance", [ALICE, {}], "invalid argument 1: must specify either BlockHash or BlockNumber"),
    ("eth_getBlockByNumber", ["latest", "yes"], "invalid argument 1: cannot unmarshal string into bool"),
    ("eth_getBlockByNumber", ["latest"], "missing value for required argument 1"),
    ("eth_sendRawTransaction", ["0x123"], "invalid argument 0: hex string of odd length"),
    ("eth_sendRawTransaction", ["0xzz"], "invalid argument 0: invalid hex string"),
    ("eth_sendRawTransaction", ["0x 1"], "invalid argument 0: invalid hex string"),
    ("eth_call", [{"to": ALICE, "data": "0xabc"}], 'invalid argument 0: field "data": hex string of odd length'),
    ("eth_call", [{"to": ALICE, "value": "0x1" + "0" * 64}],
     'invalid argument 0: field "value": hex number > 256 bits'),
    ("eth_call", [{"to": ALICE, "gasPrice": "0x1", "maxFeePerGas": "0x2"}],
     "invalid argument 0: both gasPrice and (maxFeePerGas or maxPriorityFeePerGas) specified"),
    ("eth_getLogs", [{"fromBlock": "0x0", "blockHash": "0x" + "00" * 32}],
     "invalid argument 0: cannot specify both BlockHash and FromBlock/ToBlock, choose one or the other"),
    ("eth_getLogs", [{"address": ["0x12"]}],
     "invalid argument 0: invalid address at index 0: hex string has length 2, want 40 for common.Address"),
    ("eth_getLogs", [{"topics": [1]}], "invalid argument 0: invalid topic(s)"),
    ("eth_getLogs", [{"topics": [None] * 5}], "invalid argument 0: exceed max topics"),
])
def test_invalid_params_name_the_argument(rpc, method, params, message):
    assert rpc.error(method, *params) == {"code": -32602, "message": message}


def test_params_must_be_an_array(rpc):
    answer = rpc.post({"jsonrpc": "2.0", "id": 1, "method": "eth_getBalance", "params": {"address": ALICE}}).json
    assert answer["error"] == {"code": -32602, "message": "non-array args"}
    assert rpc.post({"jsonrpc": "2.0", "id": 2, "method": "eth_chainId", "params": None}).json["result"] == "0x2ca"


def test_block_tags_numbers_and_eip1898(rpc):
    genesis = rpc.call("eth_getBlockByNumber", "earliest", False)
    balance = rpc.call("eth_getBalance", ALICE, "latest")
    for tag in ("latest", "pending", "safe", "finalized", "earliest", "0x0"):
        assert rpc.call("eth_getBalance", ALICE, tag) == balance
    for tag in ("safe", "finalized"):   # no vote on this chain: genesis, as BSC answers before any attestation
        assert rpc.call("eth_getBlockByNumber", tag, False)["hash"] == genesis["hash"]
    assert rpc.call("eth_getBalance", ALICE, {"blockHash": genesis["hash"], "requireCanonical": True}) == balance
    assert rpc.call("eth_getBalance", ALICE, {"blockNumber": "0x0"}) == balance
    assert rpc.call("eth_getBalance", ALICE, genesis["hash"]) == balance
    assert rpc.call("eth_getBlockByNumber", "0x100", False) is None
    assert rpc.call("eth_getBlockByHash", "0x" + "ab" * 32, False) is None
    assert rpc.error("eth_getBalance", ALICE, "0x100") == {"code": -32000, "message": "header not found"}
    assert rpc.error("eth_getBalance", ALICE, {"blockHash": "0x" + "ab" * 32}) == {
        "code": -32000, "message": "header for hash not found"}


def test_oversize_body_is_refused(rpc):
    payload = json.dumps({"jsonrpc": "2.0", "id": 1, "method": "eth_chainId", "params": ["x" * BODY_LIMIT]})
    answer = rpc.http(payload)
    assert answer.status == 413
    assert answer.json["error"]["code"] == -32600
    assert answer.json["error"]["message"].startswith("content length too large")


def test_empty_batch(rpc):
    assert rpc.post([]).json == {"jsonrpc": "2.0", "id": None, "error": {"code": -32600, "message": "empty batch"}}


def test_huge_batch_is_refused(rpc):
    batch = [{"jsonrpc": "2.0", "id": i, "method": "eth_chainId"} for i in range(10 * BATCH_LIMIT)]
    assert rpc.post(batch).json == [{"jsonrpc": "2.0", "id": 0,
                                     "error": {"code": -32600, "message": "batch too large"}}]


def test_batch_answers_each_id_and_skips_notifications(rpc):
    batch = [
        {"jsonrpc": "2.0", "id": "a", "method": "eth_chainId"},
        {"jsonrpc": "2.0", "method": "eth_blockNumber"},  # notification: no answer
        {"jsonrpc": "2.0", "id": 2, "method": "eth_nope"},
        {"jsonrpc": "2.0", "id": 3, "method": "net_version", "params": []},
        {"jsonrpc": "2.0", "id": 4, "method": "eth_getBalance", "params": ["0x1"]},
    ]
    answers = {a["id"]: a for a in rpc.post(batch).json}
    assert set(answers) == {"a", 2, 3, 4}
    assert answers["a"]["result"] == "0x2ca"
    assert answers[2]["error"]["code"] == -32601
    assert answers[3]["result"] == "714"
    assert answers[4]["error"]["code"] == -32602


def test_notification_gets_no_answer(rpc):
    answer = rpc.post({"jsonrpc": "2.0", "method": "eth_chainId"})
    assert answer.status == 200 and answer.body == b""


def test_cors_preflight_and_origin(rpc):
    origin = {"Origin": "http://localhost:3000"}
    preflight = rpc.http(method="OPTIONS", headers={
        **origin, "Access-Control-Request-Method": "POST", "Access-Control-Request-Headers": "content-type"})
    assert preflight.status == 204
    assert preflight.headers["Access-Control-Allow-Origin"] == "*"
    assert "POST" in preflight.headers["Access-Control-Allow-Methods"]
    assert preflight.headers["Access-Control-Allow-Headers"] == "content-type"
    answer = rpc.post({"jsonrpc": "2.0", "id": 1, "method": "eth_chainId"}, headers=origin)
    assert answer.headers["Access-Control-Allow-Origin"] == "*"


def test_dev_methods_and_cors_absent_without_dev_mode(prod_rpc):
    assert prod_rpc.error("eth_accounts")["code"] == -32601
    assert prod_rpc.error("eth_sendTransaction", {"from": ALICE})["code"] == -32601
    assert prod_rpc.call("eth_chainId") == "0x2ca"
    answer = prod_rpc.post({"jsonrpc": "2.0", "id": 1, "method": "eth_chainId"},
                           headers={"Origin": "http://evil.example"})
    assert "Access-Control-Allow-Origin" not in answer.headers
    assert prod_rpc.http(method="OPTIONS", headers={"Origin": "http://evil.example"}).status == 403


def test_cors_allow_list():
    with serve(produce=False, cors_origins=["https://remix.ethereum.org"]) as r:
        allowed = r.post({"jsonrpc": "2.0", "id": 1, "method": "eth_chainId"},
                         headers={"Origin": "https://remix.ethereum.org"})
        assert allowed.headers["Access-Control-Allow-Origin"] == "https://remix.ethereum.org"
        other = r.post({"jsonrpc": "2.0", "id": 1, "method": "eth_chainId"}, headers={"Origin": "http://x.example"})
        assert "Access-Control-Allow-Origin" not in other.headers


def test_plain_get_is_a_health_check(rpc):
    assert rpc.http(method="GET").status == 200


def test_websocket_requests_and_batches(rpc):
    async def session():
        async with aiohttp.ClientSession() as client:
            async with client.ws_connect(rpc.server.ws_url) as ws:
                await ws.send_str(json.dumps({"jsonrpc": "2.0", "id": 1, "method": "eth_chainId"}))
                await ws.send_str(json.dumps([{"jsonrpc": "2.0", "id": 2, "method": "net_version"},
                                              {"jsonrpc": "2.0", "id": 3, "method": "eth_nope"}]))
                await ws.send_str("{not json")
                return [json.loads((await ws.receive(timeout=10)).data) for _ in range(3)]

    answers = asyncio.run(session())
    single = next(a for a in answers if isinstance(a, dict) and a["id"] == 1)
    assert single["result"] == "0x2ca"
    batch = next(a for a in answers if isinstance(a, list))
    assert {a["id"]: a.get("result", a.get("error")) for a in batch} == {
        2: "714", 3: {"code": -32601, "message": "the method eth_nope does not exist/is not available"}}
    parse = next(a for a in answers if isinstance(a, dict) and a["id"] is None)
    assert parse["error"]["code"] == -32700


def test_unexpected_exception_is_logged_and_answered_without_internals(rpc, monkeypatch, caplog):
    def broken(*_):
        raise RuntimeError("secret /data/path")

    monkeypatch.setattr(rpc.node.chain, "state_at", broken)
    with caplog.at_level("ERROR", logger="smartchain.rpc"):
        assert rpc.error("eth_getBalance", ALICE) == {"code": -32603, "message": "internal error"}
    assert "secret /data/path" in caplog.text


def test_inline_methods_answer_while_every_worker_is_busy(rpc, monkeypatch):
    """eth_blockNumber, eth_chainId ... run on the event loop: a full worker pool does not hold them up."""
    import threading
    from concurrent.futures import ThreadPoolExecutor

    from rpc.registry import INLINE, METHODS
    from rpc.server import WORKERS

    assert INLINE <= METHODS.keys()
    release, entered = threading.Event(), threading.Semaphore(0)
    state_at = rpc.node.chain.state_at

    def stuck(*args):
        entered.release()
        release.wait(30)
        return state_at(*args)

    monkeypatch.setattr(rpc.node.chain, "state_at", stuck)
    with ThreadPoolExecutor(WORKERS) as clients:
        slow = [clients.submit(rpc.call, "eth_getBalance", ALICE) for _ in range(WORKERS)]
        try:
            for _ in range(WORKERS):
                assert entered.acquire(timeout=30)
            assert rpc.call("eth_blockNumber") == hex(rpc.node.chain.head.block_number)
            assert rpc.call("eth_chainId") == hex(rpc.node.chain_config.chain_id)
            assert all(not f.done() for f in slow)
        finally:
            release.set()
        assert all(int(f.result(), 16) > 0 for f in slow)


def test_node_errors_map_to_geth_codes():
    from node.execution.calls import ExecutionError, ExecutionReverted
    from node.txpool.errors import NonceTooLow
    from rpc.errors import to_rpc_error

    assert to_rpc_error(NonceTooLow("next nonce 2, tx nonce 1")).to_json() == {
        "code": -32000, "message": "nonce too low: next nonce 2, tx nonce 1"}
    reason = bytes.fromhex("08c379a0") + (32).to_bytes(32, "big") + (2).to_bytes(32, "big") + b"no".ljust(32, b"\0")
    assert to_rpc_error(ExecutionReverted(reason)).to_json() == {
        "code": 3, "message": "execution reverted: no", "data": "0x" + reason.hex()}
    assert to_rpc_error(ExecutionReverted(b"\x12\x34\x56\x78")).to_json() == {
        "code": 3, "message": "execution reverted", "data": "0x12345678"}
    assert to_rpc_error(ExecutionError("out of gas")).to_json() == {"code": -32000, "message": "out of gas"}


def test_server_on_a_busy_port_fails_to_start(rpc):
    from rpc.server import RpcServer

    with pytest.raises(OSError):
        RpcServer(rpc.node, "127.0.0.1", rpc.server.port).start()
