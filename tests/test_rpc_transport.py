"""HTTP transport faults through the real servers (in-process and the front process): body limits however the body
is sent, undecodable bodies, geth's parse error words, no log flood from what clients break, and JSON-RPC answers
(not plain-text 500s) when the node behind the front dies."""
import gzip
import http.client
import json
import os
import re
import signal
import socket
import threading
import time
import urllib.request

import pytest

from rpc.server import BODY_LIMIT
from test_cli import _children, _read_until, _start

CHAIN_ID = b'{"jsonrpc":"2.0","id":7,"method":"eth_chainId","params":[]}'
BIG = b'{"jsonrpc":"2.0","id":1,"method":"eth_chainId","params":["' + b"a" * BODY_LIMIT + b'"]}'


@pytest.fixture(scope="module")
def rpc(served_rpc):
    return served_rpc


def _port(url: str) -> int:
    return int(url.rstrip("/").rsplit(":", 1)[1])


def _post(port: int, body: bytes, headers: dict, chunked: bool = False) -> tuple[int, dict]:
    conn = http.client.HTTPConnection("127.0.0.1", port, timeout=30)
    try:
        if chunked:
            conn.request("POST", "/", body=iter([body[i:i + 65536] for i in range(0, len(body), 65536)]),
                         headers=headers, encode_chunked=True)
        else:
            conn.request("POST", "/", body=body, headers=headers)
        answer = conn.getresponse()
        return answer.status, json.loads(answer.read())
    finally:
        conn.close()


JSON = {"Content-Type": "application/json"}
GZIP = {**JSON, "Content-Encoding": "gzip"}


def test_a_body_over_the_limit_sent_chunked_is_413(rpc):
    status, answer = _post(_port(rpc.url), BIG, JSON, chunked=True)
    assert status == 413
    assert answer["error"] == {"code": -32600, "message": f"content length too large (>{BODY_LIMIT})"}


def test_gzip_that_inflates_past_the_limit_is_413(rpc):
    status, answer = _post(_port(rpc.url), gzip.compress(BIG), GZIP)
    assert status == 413 and answer["error"]["code"] == -32600


def test_a_gzip_body_that_is_not_gzip_is_400(rpc):
    status, answer = _post(_port(rpc.url), b"this is not gzip", GZIP)
    assert status == 400
    assert answer["error"]["code"] == -32600
    assert answer["error"]["message"].startswith("invalid request body: ")


def test_gzip_within_the_limit_is_answered(rpc):
    assert _post(_port(rpc.url), gzip.compress(CHAIN_ID), GZIP) == (200, {"jsonrpc": "2.0", "id": 7,
                                                                          "result": "0x2ca"})


@pytest.mark.parametrize("body", [b"{nope", b"", b"[1,", b'{"jsonrpc":"2.0"', b"\xff\xfe\x00"])
def test_parse_errors_use_geths_words(rpc, body):
    status, answer = _post(_port(rpc.url), body, JSON)
    assert (status, answer) == (200, {"jsonrpc": "2.0", "id": None,
                                      "error": {"code": -32700, "message": "parse error"}})


def test_parse_errors_over_websocket_use_geths_words(rpc):
    import aiohttp
    import asyncio

    async def talk():
        async with aiohttp.ClientSession() as session:
            async with session.ws_connect(rpc.server.ws_url) as ws:
                await ws.send_str("{nope")
                return json.loads((await ws.receive(timeout=10)).data)

    assert asyncio.run(talk())["error"] == {"code": -32700, "message": "parse error"}


def _raw(port: int, data: bytes, hang_up: bool = False) -> bytes:
    """Send raw bytes; read what comes back until the server closes (or, with hang_up, close at once)."""
    with socket.create_connection(("127.0.0.1", port), timeout=10) as sock:
        try:
            sock.sendall(data)
        except (BrokenPipeError, ConnectionResetError):   # the server refused early and closed: fine
            pass
        if hang_up:
            return b""
        chunks = []
        try:
            while chunk := sock.recv(65536):
                chunks.append(chunk)
        except (ConnectionResetError, socket.timeout):
            pass
        return b"".join(chunks)


MALFORMED = [
    b"POST / HTTP/1.1\r\nHost: x\r\nContent-Length: abc\r\n\r\n{}",
    b"POST / HTTP/1.1\r\nHost: x\r\nTransfer-Encoding: chunked\r\n\r\nzz\r\nhello\r\n0\r\n\r\n",
    b"POST / HTTP/1.1\r\nHost: x\r\nContent-Encoding: gzip\r\nContent-Length: 9\r\n\r\nnot gzip!",
    b"POST / HTTP/1.1\r\nHost: x\r\n" + b"X-Long: " + b"a" * 70000 + b"\r\n\r\n",
    b"GET /\x00 HTTP/1.1\r\n\r\n",
    b"\x16\x03\x01\x02\x00\x01\x00\x01\xfc\x03\x03",   # a TLS hello on the plain port
]


def _abuse(port: int) -> None:
    for _ in range(10):
        for data in MALFORMED:
            _raw(port, data)
        _raw(port, b"POST / HTTP/1.1\r\nHost: x\r\nContent-Length: 100\r\n\r\n{\"jsonrpc\"", hang_up=True)
        _raw(port, b"POST / HTTP/1.1\r\nHost: x\r\nTransfer-Encoding: chunked\r\n\r\n10\r\nabc", hang_up=True)


def test_malformed_http_and_hang_ups_do_not_flood_the_log(caplog):
    from rpcnode import serve
    with serve(produce=False) as r:
        _abuse(_port(r.url))
        assert r.call("eth_chainId") == "0x2ca"   # still serving
    noisy = [r for r in caplog.records if r.levelno >= 30]
    assert not noisy, [(r.name, r.getMessage()) for r in noisy]


def test_the_front_process_does_not_flood_the_log_either(tmp_path):
    proc = _start(tmp_path / "node")   # smartchain run, served by its front process; output to one pipe
    try:
        _, banner = _read_until(proc, r"JSON-RPC: http")
        url = re.search(r"JSON-RPC: (http://127\.0\.0\.1:\d+)", banner).group(1)
        _abuse(_port(url))
        body = json.dumps({"jsonrpc": "2.0", "id": 1, "method": "eth_chainId", "params": []}).encode()
        with urllib.request.urlopen(urllib.request.Request(url, body, JSON), timeout=10) as answer:
            assert json.load(answer)["result"] == "0x2ca"
        proc.send_signal(signal.SIGTERM)
        assert proc.wait(20) == 0
        output = proc.stdout.read()
        assert "Traceback" not in output and "ERROR" not in output, output[-3000:]
    finally:
        proc.kill()
        proc.wait()


def test_in_flight_requests_get_a_json_rpc_error_when_the_node_dies(tmp_path):
    proc = _start(tmp_path / "node")
    try:
        _, banner = _read_until(proc, r"JSON-RPC: http")
        url = re.search(r"JSON-RPC: (http://127\.0\.0\.1:\d+)", banner).group(1)
        [front] = _children(proc.pid)

        def call(method, *params):
            body = json.dumps({"jsonrpc": "2.0", "id": 5, "method": method, "params": list(params)}).encode()
            with urllib.request.urlopen(urllib.request.Request(url, body, JSON), timeout=30) as answer:
                return answer.status, json.load(answer)

        loop = "0x" + "11" * 20
        assert call("anvil_setCode", loop, "0x5b600056")[1]["result"] is None   # an endless loop: runs 5 s
        answers = []
        threads = [threading.Thread(target=lambda: answers.append(call("eth_call", {"to": loop}, "latest")))
                   for _ in range(3)]
        for t in threads:
            t.start()
        time.sleep(1.0)
        os.kill(proc.pid, signal.SIGKILL)
        for t in threads:
            t.join(30)
        assert answers == [(200, {"jsonrpc": "2.0", "id": 5,
                                  "error": {"code": -32000, "message": "server is shutting down"}})] * 3
        deadline = time.time() + 20
        while os.path.exists(f"/proc/{front}") and time.time() < deadline:
            try:
                with open(f"/proc/{front}/stat") as f:
                    if f.read().split()[2] == "Z":
                        break
            except FileNotFoundError:
                break
            time.sleep(0.1)
        output = proc.stdout.read() or ""
        assert "Traceback" not in output, output[-3000:]
    finally:
        proc.kill()
        proc.wait()
