"""Thousands of malformed requests from a fixed seed, over HTTP and WebSocket, against a real dev node.

Every answer must be a well-formed JSON-RPC answer (strict JSON, "2.0", the request's id or null, a result or an
error with an integer code) of the class the request calls for: -32700 for what is not JSON, -32600 for JSON that is
not a request, -32601 for unknown methods, -32602 with geth's argument-numbered message whenever the method's own
parsers refuse a parameter or the count is wrong; never -32603 (a handler crashed), never an HTTP 5xx, never silence.
Afterwards the node must still answer reads correctly, mine, and index a token transfer. Known bugs outside rpc/'s
inputs that once crashed the node are checked one by one by the tests at the end.
"""
import asyncio
import gzip
import hashlib
import inspect
import json
import random
import subprocess
import sys
import textwrap
from dataclasses import dataclass
from pathlib import Path
from typing import Any, Callable

import aiohttp
import pytest
import rlp

from chainkit import GWEI, TRANSFER_TOPIC, calldata, deploy_token_raw, sign, token_balance
from node.dev.accounts import dev_accounts
from node.txpool.validation import decode
from rpc.accounts import TypedData
from rpc.dev import U256, MineOptions
from rpc.filters import Id
from rpc.params import (Address, BlockCount, BlockNumber, BlockRef, CallArgs, Data, FilterCriteria, Hash,
                        ParamError, Percentiles, Quantity, StorageKey, Uint64)
from rpc.registry import PARSERS, Method, methods_for
from rpc.server import BODY_LIMIT
from test_rpc_signing import MAIL
from test_rpc_transport import _raw

SEED = 714_2024
HTTP_CASES = 4000
WS_CASES = 1200
TRANSPORT_CASES = 60
ACCOUNTS = dev_accounts()
ADDRESSES = ["0x" + a.address.hex() for a in ACCOUNTS[:4]] + ["0x" + "00" * 19 + "04", "0x" + "00" * 20]
HASH = "0x" + "ab" * 32
# dev methods' numbers: valid, leading zeros, decimal, and what anvil refuses (odd digits, separators, Unicode digits)
U256_VALUES = [0, 1, "0x1", "0x01", "5", "0x10", -1, 2**256, 2**63, "0x", "abc", 1.5, "\u0661", "0x1_0", "0x" + "f" * 65]
INITCODES = ["0x00", "0x6000", "0x600160005500", "0x60006000fd", "0x6001600052600160" + "1ff3",  # cheap, no loops
             "0x" + "00" * 49153]   # over EIP-3860's limit: refused before it runs, as geth refuses it (never -32603)


@dataclass(frozen=True)
class Case:
    body: bytes
    codes: frozenset | None = None   # the allowed error codes; None: any answer except an internal error
    message: str | None = None        # what the (single) error message must start with
    note: str = ""


class Generator:
    """Malformed and near-valid values, bodies and requests, all drawn from one seeded Random."""

    def __init__(self, methods: dict, seed: int):
        self.r = random.Random(seed)
        self.methods = methods
        self.ids = iter(range(1, 10**9))
        self.values: dict[Callable, Callable[[], Any]] = {
            PARSERS[Address]: lambda: self.hexes(20, ADDRESSES),
            PARSERS[Hash]: lambda: self.hexes(32, [HASH]),
            PARSERS[StorageKey]: lambda: self.hexes(32, ["0x0", "0x1", HASH]),
            PARSERS[Data]: lambda: self.hexes(self.r.randrange(0, 40), ["0x", "0x00"]),
            PARSERS[Quantity]: self.quantity,
            PARSERS[Uint64]: self.quantity,
            PARSERS[bool]: lambda: self.pick([True, False, "true", 1, None, 0]),
            PARSERS[BlockNumber]: self.block,
            PARSERS[BlockRef]: self.block,
            PARSERS[BlockCount]: lambda: self.pick([1, "0x1", "5", "0x400", 0, -1, 2**64, "0x", "abc", 1.5, "0x01"]),
            PARSERS[Percentiles]: lambda: self.pick([[], [0, 50, 100], [50, 10], [101], ["a"], [True], 50, None]),
            PARSERS[CallArgs]: self.call_args,
            PARSERS[FilterCriteria]: self.filter_criteria,
            PARSERS[Id]: lambda: self.pick(["0x1", "0xdeadbeef", "", 1, None, ["0x1"]]),
            PARSERS[TypedData]: self.typed_data,
            PARSERS[U256]: lambda: self.pick(U256_VALUES),
            PARSERS[MineOptions]: lambda: self.pick([5, "0x5", {"blocks": 2}, {"blocks": "0x1", "timestamp": 1},
                                                     {"blocks": 2**63}, {"when": 1}, [], "abc", 1.5]),
        }

    def pick(self, options: list) -> Any:
        """One of `options`; a callable option is called, so that costly or recursive ones are made only if picked."""
        option = options[self.r.randrange(len(options))]
        return option() if callable(option) else option

    # -- values --

    def anything(self, depth: int = 0) -> Any:
        """A value of any JSON type, including the classic troublemakers."""
        roll = self.r.randrange(12)
        if roll == 0 and depth < 2:
            return [self.anything(depth + 1) for _ in range(self.r.randrange(4))]
        if roll == 1 and depth < 2:
            return {self.pick(["from", "to", "data", "address", "topics", "blockHash", "x"]): self.anything(depth + 1)
                    for _ in range(self.r.randrange(4))}
        if roll == 2:
            return self.nested(self.pick([10, 100, 1000, 5000]))
        return self.pick([None, True, False, 0, -1, 1.5, 2**256 + 1, -(2**255), 10**40, "", "x" * 10_000,
                          "0x", "0x0", "latest", "Latest", "latestt", "0X1", "1", "0xZZ", "\u0000", "\ud7ff\ue000",
                          "0x" + "0" * 80, "0x" + "f" * 65, lambda: self.hexes(self.r.randrange(40), [])])

    def nested(self, depth: int) -> list:
        value: list = []
        for _ in range(depth - 1):
            value = [value]
        return value

    def hexes(self, size: int, valid: list[str]) -> Any:
        """Hex of `size` bytes, or one of its usual defects: odd length, no 0x, wrong length, non-hex, not a string."""
        good = "0x" + self.r.randbytes(size).hex()
        return self.pick(valid + [good, good, good[2:], good + "0", good[:-1], "0X" + good[2:], good[:-2],
                                  good + "00", "0x" + "g" * (2 * size), good.upper(), int("0" + good[2:], 16), None,
                                  self.anything])

    def quantity(self) -> Any:
        return self.pick(["0x0", "0x1", "0x5207", "0x5208", hex(GWEI), "0x" + "f" * 16, "0x1" + "0" * 16,
                          "0x" + "f" * 64, "0x1" + "0" * 64, "0x01", "0x", "1", 1, 2**256, "-0x1", "0xg", None])

    def block(self) -> Any:
        return self.pick(["latest", "pending", "earliest", "safe", "finalized", "0x0", "0x1", "0x100",
                          "0x7fffffffffffffff", "0x8000000000000000", "0x1" + "0" * 16, "Latest", "finalised",
                          "head", "0x00", "", 5, HASH, "0x" + "ab" * 31, {"blockHash": HASH},
                          {"blockNumber": "0x0"}, {"blockHash": HASH, "requireCanonical": "yes"},
                          {"blockHash": HASH, "blockNumber": "0x0"}, {}, ["latest"], None])

    def call_args(self) -> Any:
        if self.r.random() < 0.1:
            return self.anything()
        args: dict[str, Any] = {}
        fields = [("from", lambda: self.hexes(20, ADDRESSES[:2] * 3)), ("to", lambda: self.hexes(20, ADDRESSES)),
                  ("gas", self.quantity), ("gasPrice", self.quantity), ("maxFeePerGas", self.quantity),
                  ("maxPriorityFeePerGas", self.quantity), ("value", self.quantity), ("nonce", self.quantity),
                  ("data", lambda: self.hexes(self.r.randrange(80), ["0x"])), ("input", lambda: self.hexes(4, [])),
                  ("chainId", lambda: self.pick(["0x2ca", "0x1", "0x", 714])),
                  ("accessList", lambda: self.pick([[], [{"address": ADDRESSES[0], "storageKeys": [HASH]}],
                                                    [{"address": "0x12"}], [1], {}, "x"]))]
        for name, value in fields:
            if self.r.random() < 0.3:
                args[name] = value()
        if "to" not in args or not isinstance(args["to"], str):
            args.pop("input", None)
            args["data"] = self.pick(INITCODES)   # code that runs must stay cheap: no loops
        return args

    def filter_criteria(self) -> Any:
        if self.r.random() < 0.1:
            return self.anything()
        crit: dict[str, Any] = {}
        for name, value in [("fromBlock", self.block), ("toBlock", self.block), ("blockHash", lambda: HASH),
                            ("address", lambda: self.pick([ADDRESSES[0], ADDRESSES[:2], [], ["0x12"], [1], 5])),
                            ("topics", lambda: self.pick([[], [HASH], [None, [HASH, HASH]], [[]], [1], [None] * 5,
                                                          ["0x12"], "x", [[HASH] * 1001]]))]:
            if self.r.random() < 0.35:
                crit[name] = value()
        return crit

    def typed_data(self) -> Any:
        message = json.loads(json.dumps(MAIL))
        for _ in range(self.r.randrange(3)):
            key = self.pick(["types", "primaryType", "domain", "message"])
            message[key] = self.pick([None, 1, "Mail", [], {}, {"Mail": []}, {"name": 5}])
        return self.pick([message, json.dumps(message), self.anything, "{", "[" * 20_000])

    # -- requests --

    def request(self, method: str, params: Any, request_id: Any = None) -> dict:
        return {"jsonrpc": "2.0", "id": next(self.ids) if request_id is None else request_id,
                "method": method, "params": params}

    def param_case(self) -> Case:
        """A real method with generated arguments; -32602 with geth's message whenever the method's parsers refuse."""
        name = self.pick(sorted(self.methods))
        method = self.methods[name]
        if not isinstance(method, Method):
            params = [self.pick(["newHeads", "logs", "nope", 1])] + [self.anything()]
            return Case(json.dumps(self.request(name, params)).encode(), note=name)   # may subscribe over WS
        slots = list(method.params)
        count = self.pick([len(slots), len(slots), len(slots), self.r.randrange(len(slots) + 1), len(slots) + 1])
        params = []
        for i in range(count):
            parse = slots[i].parse if i < len(slots) else None
            params.append(self.values.get(parse, self.anything)() if self.r.random() < 0.9 else self.anything())
        expected = refusal(method, params)
        body = json.dumps(self.request(name, params)).encode()
        return Case(body, frozenset({-32602}) if expected else None, expected, name)

    def body_case(self) -> Case:
        """Transport-level garbage: not JSON, not a request, unknown methods, mutated bodies, mixed batches."""
        roll = self.r.randrange(10)
        if roll == 0:
            return Case(self.pick([b"", b" ", b"\n\t", b"{", b"[", b"nul", b'{"jsonrpc":"2.0"', b"\x00" * 64,
                                   lambda: self.r.randbytes(self.r.randrange(1, 3000))]), frozenset({-32700, -32600}))
        if roll == 1:   # invalid UTF-8 inside an otherwise good request
            good = json.dumps(self.request("eth_getBalance", [ADDRESSES[0], "latest"])).encode()
            cut = self.r.randrange(1, len(good) - 1)
            bad = self.pick([b"\xff", b"\xc3\x28", b"\xf8\x88\x80\x80\x80", b"\xed\xa0\x80"])
            # an encoded lone surrogate passes as one (Python's json reads bytes with "surrogatepass")
            return Case(good[:cut] + bad + good[cut:], None if bad == b"\xed\xa0\x80" else frozenset({-32700}))
        if roll == 2:   # JSON that is not a request
            message = self.pick([1, "eth_chainId", True, None, {"id": 1}, {"jsonrpc": "1.0", "id": 1,
                                 "method": "eth_chainId"}, {"jsonrpc": "2.0", "id": [1], "method": "eth_chainId"},
                                 {"jsonrpc": "2.0", "id": {}, "method": "eth_chainId"},
                                 {"jsonrpc": "2.0", "id": 1, "method": 5}, {"jsonrpc": "2.0", "id": 1},
                                 {"jsonrpc": "2.0", "id": True, "method": "eth_chainId"}])
            return Case(json.dumps(message).encode(), frozenset({-32600}))
        if roll == 3:
            name = self.pick(["eth_nope", "", "eth_getbalance", "ETH_CHAINID", "txpool_x", "x" * 5000,
                              "eth_chainId ", "\u00e9th_chainId", "rpc_modules"])
            message = self.request(name, [])
            return Case(json.dumps(message).encode(), frozenset({-32601}),
                        f"the method {name} does not exist/is not available")
        if roll == 4:   # nested arrays as the whole body: a batch of invalid requests
            depth = self.pick([2, 50, 1000, 9000])
            return Case(b"[" * depth + b"]" * depth, frozenset({-32600}))
        if roll == 5:   # a huge string within the body limit
            digits = self.pick([100_001, 1_000_001, BODY_LIMIT - 1001])   # odd: not hex data
            message = self.request(self.pick(["eth_getBalance", "eth_sendRawTransaction", "web3_sha3"]),
                                   ["0x" + "a" * digits])
            return Case(json.dumps(message).encode(), frozenset({-32602}))
        if roll == 6:   # a signed transaction, mutated
            return Case(json.dumps(self.request("eth_sendRawTransaction", [self.raw_transaction()])).encode(),
                        frozenset({-32000, -32602}))
        if roll <= 8:   # a good request with random bytes changed
            good = bytearray(json.dumps(self.request("eth_getBalance", [ADDRESSES[1], "latest"])).encode())
            for _ in range(self.r.randrange(1, 4)):
                good[self.r.randrange(len(good))] = self.r.randrange(32, 127)
            return Case(bytes(good))
        return self.batch_case()

    def batch_case(self) -> Case:
        entries = []
        for _ in range(self.r.randrange(1, 12)):
            roll = self.r.randrange(4)
            if roll == 0:
                entries.append(self.request("eth_chainId", []))
            elif roll == 1:
                entries.append(json.loads(self.param_case().body))
            else:
                entries.append(self.pick([1, [], "x", None, {"id": 2}, self.request("eth_nope", [])]))
        return Case(json.dumps(entries).encode(), note="batch")

    def raw_transaction(self) -> str:
        """A signed transfer with bytes flipped, cut or inserted, or with its RLP fields reshaped."""
        raw = bytearray(sign(ACCOUNTS[self.r.randrange(4)], self.r.randrange(3), to=ACCOUNTS[5].address,
                             value=self.r.randrange(3), dynamic=self.r.random() < 0.5))
        for _ in range(self.r.randrange(1, 4)):
            if not raw:
                break   # cut to nothing: empty bytes are a case of their own
            roll = self.r.randrange(4)
            if roll == 0:
                raw[self.r.randrange(len(raw))] = self.r.randrange(256)
            elif roll == 1:
                del raw[self.r.randrange(len(raw)):]
            elif roll == 2:
                raw.insert(self.r.randrange(len(raw) + 1), self.r.randrange(256))
            else:
                raw = bytearray([self.r.randrange(0x80)]) + raw
        if rlp_list_in_an_integer(bytes(raw)):
            return "0x" + sign(ACCOUNTS[0], 0, to=ACCOUNTS[5].address).hex()   # the known bug below, not fuzzed
        return "0x" + bytes(raw).hex()

    def case(self) -> Case:
        return self.param_case() if self.r.random() < 0.6 else self.body_case()


def refusal(method: Method, params: list) -> str | None:
    """geth's message for the first argument the method's own parsers refuse (rpc.registry's order), or None."""
    if len(params) > len(method.params):
        return f"too many arguments, want at most {len(method.params)}"
    for i, slot in enumerate(method.params):
        value = params[i] if i < len(params) else None
        if value is None:
            if slot.default is inspect.Parameter.empty:
                return f"missing value for required argument {i}"
            continue
        try:
            slot.parse(value)
        except ParamError:
            return f"invalid argument {i}: "
    return None


def rlp_list_in_an_integer(raw: bytes) -> bool:
    try:
        decode(raw)
    except TypeError:
        return True
    except Exception:
        return False
    return False


# -- checking answers --

def strict_json(text: str) -> Any:
    def refuse(constant):
        raise ValueError(f"not JSON: {constant}")
    return json.loads(text, parse_constant=refuse)


def expected_ids(message: Any) -> list:
    """The ids a server answers for `message` (None for an answer with id null), in the message's order."""
    if isinstance(message, list):
        if not message:
            return [None]
        return [i for entry in message for i in _entry_ids(entry)]
    return _entry_ids(message)


def _entry_ids(entry: Any) -> list:
    """geth's jsonrpcMessage.isNotification: version "2.0", no id and a method name get no answer."""
    if not isinstance(entry, dict):
        return [None]
    if "id" not in entry and entry.get("jsonrpc") == "2.0" and isinstance(entry.get("method"), str):
        return []
    request_id = entry.get("id")
    if request_id is not None and (isinstance(request_id, bool) or not isinstance(request_id, (str, int, float))):
        return [None]
    return [request_id]


def check_answer(case: Case, status: int, text: str) -> str | None:
    """What is wrong with the answer to `case`, or None."""
    if status >= 500:
        return f"HTTP {status}"
    if status >= 400:
        return None if case.codes is not None and -32600 in case.codes else f"HTTP {status} for a JSON-RPC request"
    try:
        sent = json.loads(case.body)
    except (ValueError, RecursionError):
        sent = None   # not JSON: one parse error
    if text == "":
        return None if sent is not None and expected_ids(sent) == [] else "no answer"
    try:
        answer = strict_json(text)
    except ValueError as exc:
        return f"answer is not JSON: {exc}"
    answers = answer if isinstance(answer, list) else [answer]
    if sent is not None and isinstance(sent, list) and sent and sorted(map(repr, expected_ids(sent))) != sorted(
            repr(a.get("id")) for a in answers if isinstance(a, dict)):
        if not (len(sent) > 1000 and len(answers) == 1):
            return f"ids {[a.get('id') for a in answers]} for {expected_ids(sent)}"
    for one in answers:
        problem = check_one(case, one, batch=isinstance(answer, list))
        if problem:
            return problem
    return None


def check_one(case: Case, answer: Any, batch: bool) -> str | None:
    if not isinstance(answer, dict) or answer.get("jsonrpc") != "2.0" or "id" not in answer:
        return f"malformed answer {answer!r:.200}"
    if ("result" in answer) == ("error" in answer) or set(answer) - {"jsonrpc", "id", "result", "error"}:
        return f"malformed answer {answer!r:.200}"
    if "result" in answer:
        return None if case.codes is None or batch else f"result {answer['result']!r:.100} where an error was due"
    error = answer["error"]
    if not isinstance(error, dict) or not isinstance(error.get("code"), int) or not isinstance(error.get("message"),
                                                                                               str):
        return f"malformed error {error!r:.200}"
    if set(error) - {"code", "message", "data"}:
        return f"malformed error {error!r:.200}"
    if error["code"] == -32603:
        return f"internal error: {error['message']}"
    if not batch and case.codes is not None and error["code"] not in case.codes:
        return f"code {error['code']} ({error['message']:.200}), want one of {sorted(case.codes)}"
    if not batch and case.message is not None and not error["message"].startswith(case.message):
        return f"message {error['message']!r:.200}, want {case.message!r:.200}"
    return None


# -- running --

async def run_http(url: str, cases: list[Case]) -> list[str]:
    failures = []
    timeout = aiohttp.ClientTimeout(total=20)
    async with aiohttp.ClientSession(timeout=timeout) as session:
        for case in cases:
            try:
                async with session.post(url, data=case.body, headers={"Content-Type": "application/json"}) as resp:
                    status, text = resp.status, await resp.text()
            except (aiohttp.ClientError, asyncio.TimeoutError) as exc:
                failures.append(f"HTTP {case.note} {case.body[:200]!r}: {exc!r}")
                continue
            problem = check_answer(case, status, text)
            if problem:
                failures.append(f"HTTP {case.note} {case.body[:300]!r}: {problem}")
    return failures


async def run_websocket(url: str, cases: list[Case]) -> list[str]:
    """One socket, one case at a time; text frames for UTF-8 bodies, binary frames for the rest. After a case that
    must not be answered (notifications only) a sentinel call must be the next answer. Subscription notifications
    (a fuzzed eth_subscribe may succeed) are skipped."""
    failures = []
    async with aiohttp.ClientSession() as session:
        async with session.ws_connect(url, max_msg_size=0) as ws:
            for n, case in enumerate(cases):
                try:
                    await ws.send_str(case.body.decode("utf-8"))
                except UnicodeDecodeError:
                    await ws.send_bytes(case.body)
                try:
                    sent = json.loads(case.body)
                except (ValueError, RecursionError):
                    sent = None
                if sent is not None and expected_ids(sent) == []:
                    await ws.send_str(json.dumps({"jsonrpc": "2.0", "id": f"sentinel-{n}", "method": "eth_chainId"}))
                    text = await _next_answer(ws)
                    if text is None or strict_json(text).get("id") != f"sentinel-{n}":
                        failures.append(f"WS {case.body[:300]!r}: a notification answered with {text!r:.200}")
                    continue
                text = await _next_answer(ws)
                problem = "no answer" if text is None else check_answer(case, 200, text)
                if problem:
                    failures.append(f"WS {case.note} {case.body[:300]!r}: {problem}")
    return failures


async def _next_answer(ws) -> str | None:
    while True:
        try:
            message = await ws.receive(timeout=20)
        except asyncio.TimeoutError:
            return None
        if message.type != aiohttp.WSMsgType.TEXT:
            return None
        if '"method":"eth_subscription"' not in message.data:
            return message.data


@pytest.fixture(scope="module")
def fuzzed(rpc) -> list[str]:
    generator = Generator(methods_for(rpc.node), SEED)
    http_cases = [generator.case() for _ in range(HTTP_CASES)]
    ws_cases = [case for case in (generator.case() for _ in range(WS_CASES)) if len(case.body) < 200_000]
    failures = asyncio.run(run_http(rpc.url, http_cases))
    failures += asyncio.run(run_websocket(rpc.server.ws_url, ws_cases))
    return failures


def test_every_malformed_request_gets_a_well_formed_error(fuzzed):
    assert not fuzzed, f"{len(fuzzed)} bad answers:\n" + "\n".join(fuzzed[:30])


def test_transport_garbage_gets_http_4xx(rpc):
    assert rpc.http(b"{}" * (BODY_LIMIT // 2 + 1)).status == 413
    assert rpc.http(b"{}", method="PUT").status == 405
    assert rpc.http(b"{}", method="DELETE").status == 405


def _transport_case(rng: random.Random) -> tuple[bytes, bool]:
    """A seeded malformed HTTP exchange: (bytes to send, whether to hang up at once). Bodies declared gzip that are
    not, or inflate past the limit; chunked bodies over the limit or broken; mangled request lines and headers."""
    kind = rng.randrange(6)
    body = bytes(rng.randrange(256) for _ in range(rng.randrange(1, 64)))
    head = b"POST / HTTP/1.1\r\nHost: x\r\nConnection: close\r\nContent-Type: application/json\r\n"
    if kind == 0:   # gzip that is not
        return head + b"Content-Encoding: gzip\r\nContent-Length: %d\r\n\r\n" % len(body) + body, False
    if kind == 1:   # gzip that inflates past the limit
        bomb = gzip.compress(b"[" * (BODY_LIMIT + 1 + rng.randrange(1000)))
        return head + b"Content-Encoding: gzip\r\nContent-Length: %d\r\n\r\n" % len(bomb) + bomb, False
    if kind == 2:   # chunked, broken
        return head + b"Transfer-Encoding: chunked\r\n\r\n" + body.replace(b"\r\n", b"") + b"\r\n", False
    if kind == 3:   # a mangled request line or header
        line = bytearray(head)
        for _ in range(rng.randrange(1, 4)):
            line[rng.randrange(len(line))] = rng.randrange(256)
        return bytes(line) + b"Content-Length: 2\r\n\r\n{}", False
    if kind == 4:   # a hang-up in the middle of the body
        return head + b"Content-Length: 1000\r\n\r\n" + body, True
    big = b"[" + b"1," * (BODY_LIMIT // 2) + b"1]"   # chunked, over the limit
    chunks = b"".join(b"%x\r\n%s\r\n" % (len(big[i:i + 65536]), big[i:i + 65536]) for i in range(0, len(big), 65536))
    return head + b"Transfer-Encoding: chunked\r\n\r\n" + chunks + b"0\r\n\r\n", False


def test_malformed_http_gets_a_4xx_or_a_closed_connection_never_a_5xx(rpc):
    rng = random.Random(SEED)
    port = int(rpc.url.rstrip("/").rsplit(":", 1)[1])
    for _ in range(TRANSPORT_CASES):
        data, hang_up = _transport_case(rng)
        answer = _raw(port, data, hang_up)
        if answer:
            status = answer.split(b" ", 2)[1] if answer.startswith(b"HTTP/1.") else b"?"
            assert status in (b"200", b"400", b"413", b"431", b"405", b"404", b"501"), answer[:300]
    assert rpc.call("eth_chainId") == "0x2ca"


def test_node_still_reads_mines_and_indexes_after_the_fuzz(rpc, fuzzed):
    node = rpc.node
    owner, alice = ACCOUNTS[6], ACCOUNTS[7]
    assert int(rpc.call("eth_blockNumber"), 16) == node.chain.head.block_number
    balance = node.chain.state_at(node.chain.head).get_balance(owner.address)
    assert rpc.call("eth_getBalance", "0x" + owner.address.hex(), "latest") == hex(balance)
    payload = b"still alive"
    assert rpc.call("eth_call", {"to": "0x" + "00" * 19 + "02", "data": "0x" + payload.hex()}) == (
        "0x" + hashlib.sha256(payload).hexdigest())
    nonce = int(rpc.call("eth_getTransactionCount", "0x" + owner.address.hex(), "pending"), 16)
    deploy = rpc.call("eth_sendRawTransaction", "0x" + deploy_token_raw(owner, nonce).hex())
    node.mine()
    token = bytes.fromhex(rpc.call("eth_getTransactionReceipt", deploy)["contractAddress"][2:])
    transfer = sign(owner, nonce + 1, to=token, data=calldata("transfer(address,uint256)", alice.address, 321),
                    gas=100_000)
    tx_hash = rpc.call("eth_sendRawTransaction", "0x" + transfer.hex())
    [block] = node.mine()
    receipt = rpc.call("eth_getTransactionReceipt", tx_hash)
    assert receipt["status"] == "0x1" and receipt["blockNumber"] == hex(block.number)
    assert token_balance(node, token, alice.address) == 321
    logs = rpc.call("eth_getLogs", {"fromBlock": hex(block.number), "address": "0x" + token.hex(),
                                    "topics": ["0x" + TRANSFER_TOPIC.hex()]})
    assert [log["transactionHash"] for log in logs] == [tx_hash]
    assert rpc.call("eth_getTransactionByHash", tx_hash)["blockNumber"] == hex(block.number)


# -- inputs that once crashed the node: kept out of the generator above, checked one by one --

def test_a_deeply_nested_body_is_a_parse_error_not_a_crash():
    script = textwrap.dedent("""
        from rpcnode import serve
        with serve(produce=False) as r:
            answer = r.http(b"[" * 200_000 + b"]" * 200_000)
            print(answer.status, answer.json["error"]["code"] if isinstance(answer.json, dict) else answer.json)
    """)
    tests = Path(__file__).parent
    done = subprocess.run([sys.executable, "-c", script], capture_output=True, text=True, timeout=120, cwd=tests,
                          env={"PATH": "", "PYTHONPATH": f"{tests}:{tests.parent}"})
    assert done.returncode == 0, f"the node process died (exit {done.returncode})"
    assert done.stdout.split() == ["200", "-32700"]


@pytest.mark.parametrize("request_id", ["NaN", "Infinity", "-Infinity", "1e999"])
def test_non_finite_ids_are_parse_errors(rpc, request_id):
    answer = rpc.http(f'{{"jsonrpc":"2.0","id":{request_id},"method":"eth_chainId"}}')
    assert strict_json(answer.body.decode())["error"]["code"] == -32700


def test_rlp_list_in_an_integer_field_is_a_decode_error(rpc):
    fields = rlp.decode(sign(ACCOUNTS[0], 0, to=ACCOUNTS[1].address))
    fields[1] = [b"\x01"]   # gasPrice as a list
    error = rpc.error("eth_sendRawTransaction", "0x" + rlp.encode(fields).hex())
    assert error["code"] == -32000 and error["message"].startswith("rlp: ")
