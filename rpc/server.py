"""JSON-RPC 2.0 over HTTP POST and WebSocket on one port and path, as an aiohttp application.

`create_app(node)` builds the app: POST `/` answers a request or a batch, GET `/` upgrades to a WebSocket (a plain
GET is a health check), OPTIONS `/` answers CORS preflights. Handlers are blocking (py-evm), so calls run in one of
three lanes: the few registry.INLINE ones answer at once on the loop (eth_blockNumber, eth_chainId ...), those that
execute code (registry.EXECUTES) on EXEC_WORKERS threads of their own, every other read on WORKERS threads that
executions never take. Limits are geth's: 5 MB request body, 1000 calls per batch, 32 MB WebSocket messages.
Each app owns the node's polling filters (rpc.filters) and a hub that feeds the WebSocket subscriptions
(rpc.subscriptions); both hear the node from the start of the app to its cleanup. Every WebSocket is a `Connection`:
answers and notifications leave it in order through one outbox, and its subscriptions end when it closes.
`RpcServer(node, host, port)` runs the app on its own event loop in a background thread, for the synchronous
node, CLI and tests: a uvloop loop (libuv), whose socket handling costs less per request than asyncio's selector loop
(a call forwarded by the front crosses two loops, the front's and this one).
"""
from __future__ import annotations

import asyncio
import json
import logging
import threading
import time
from concurrent.futures import ThreadPoolExecutor
from typing import Any, AsyncIterator, Sequence

import uvloop
from aiohttp import WSCloseCode, WSMsgType, web

from node.execution.deadline import request_clock
from rpc import filters
from rpc.endpoint import Endpoint
from rpc.errors import InvalidRequest, ParseError, RpcError, to_rpc_error
from rpc.filters import FilterManager
from rpc.httplog import HTTP_LOG
from rpc.params import loads
from rpc.registry import RECEIPT, Context, lookup, methods_for, mined_wait
from rpc.subscriptions import Connection, Hub

log = logging.getLogger("smartchain.rpc")

BODY_LIMIT = 5 * 1024 * 1024       # geth's --http body limit
BATCH_LIMIT = 1000                 # geth's --rpc.batch-request-limit
WS_READ_LIMIT = 32 * 1024 * 1024   # geth's websocket read limit
# Lanes: registry.INLINE methods answer on the event loop; registry.EXECUTES methods (they run EVM code, each bounded
# by the node's evm timeout) on EXEC_WORKERS threads of their own; every other method on WORKERS read threads, which
# executions never occupy. A call's deadline counts from its arrival (node.deadline.request_clock), so one that waits
# for an execution worker is answered within the timeout of its arrival all the same.
WORKERS = 8
EXEC_WORKERS = 4

NODE = web.AppKey("node", object)
METHODS = web.AppKey("methods", dict)
EXECUTOR = web.AppKey("executor", ThreadPoolExecutor)
EXEC_LANE = web.AppKey("exec_lane", ThreadPoolExecutor)
ORIGINS = web.AppKey("cors_origins", tuple)
SOCKETS = web.AppKey("websockets", set)
FILTERS = web.AppKey("filters", FilterManager)
HUB = web.AppKey("subscriptions", Hub)


def create_app(node, cors_origins: Sequence[str] | None = None,
               filter_timeout: float = filters.TIMEOUT) -> web.Application:
    """The RPC application for `node`; CORS allows `cors_origins` (default: any origin in dev mode, none else);
    filters not polled for `filter_timeout` seconds are removed."""
    app = web.Application(client_max_size=BODY_LIMIT, middlewares=[cors])
    app[NODE] = node
    app[METHODS] = methods_for(node)
    app[ORIGINS] = tuple(cors_origins) if cors_origins is not None else (("*",) if node.config.dev else ())
    app[SOCKETS] = set()
    app[FILTERS] = FilterManager(node, filter_timeout)
    app[HUB] = Hub(node)
    app.cleanup_ctx.append(_executor)
    app.cleanup_ctx.append(_events)
    app.on_shutdown.append(close_websockets)
    app.router.add_post("/", _http)
    app.router.add_get("/", _websocket_or_health)
    app.router.add_route("OPTIONS", "/", preflight)
    return app


async def _executor(app: web.Application) -> AsyncIterator[None]:
    app[EXECUTOR] = ThreadPoolExecutor(max_workers=WORKERS, thread_name_prefix="rpc")
    app[EXEC_LANE] = ThreadPoolExecutor(max_workers=EXEC_WORKERS, thread_name_prefix="rpc-exec")
    yield
    app[EXEC_LANE].shutdown(wait=False, cancel_futures=True)
    app[EXECUTOR].shutdown(wait=False, cancel_futures=True)


async def _events(app: web.Application) -> AsyncIterator[None]:
    """Filters and subscriptions hear the node's new blocks and pending transactions while the app runs."""
    app[FILTERS].start()
    app[HUB].start()
    yield
    app[HUB].stop()
    app[FILTERS].stop()


# -- JSON-RPC, whatever the transport --

def _answer(request_id: Any, result: Any = None, error: RpcError | None = None) -> dict:
    if error is not None:
        return {"jsonrpc": "2.0", "id": request_id, "error": error.to_json()}
    return {"jsonrpc": "2.0", "id": request_id, "result": result}


def dumps(message: Any) -> str:
    return json.dumps(message, separators=(",", ":"))


def valid_id(value: Any) -> bool:
    return value is None or isinstance(value, str) or (isinstance(value, (int, float)) and not isinstance(value, bool))


async def handle_payload(app: web.Application, payload: bytes | str,
                         context: Context | None = None) -> str | None:
    """A request or batch in, its JSON answer out (None when there is nothing to answer: notifications only).
    `context` carries the WebSocket connection; without one the calls are answered as over HTTP."""
    context = context or Context(app[NODE], app[FILTERS])
    try:
        message = loads(payload)  # depth-limited: CPython's parser would overflow the C stack on deep nesting
    except (ValueError, UnicodeDecodeError):   # geth's words, not the parser's
        return dumps(_answer(None, error=ParseError("parse error")))
    if not isinstance(message, list):
        answer = await answer_call(app, context, message)
        return None if answer is None else dumps(answer)
    refusal = batch_refusal(message)
    if refusal is not None:
        return dumps(refusal)
    answers = [answer for answer in [await answer_call(app, context, m) for m in message] if answer is not None]
    return dumps(answers) if answers else None


# The envelope rules, shared with every way of answering (this server, the in-process provider of node/testing)

def batch_refusal(batch: list) -> dict | list | None:
    """geth's answer to an empty or oversized batch; None for a batch to answer call by call."""
    if not batch:
        return _answer(None, error=InvalidRequest("empty batch"))
    if len(batch) > BATCH_LIMIT:
        first_id = next((m.get("id") for m in batch if isinstance(m, dict) and valid_id(m.get("id"))
                         and m.get("id") is not None), None)
        return [_answer(first_id, error=InvalidRequest("batch too large"))]
    return None


def malformed_call(message: Any) -> dict | None:
    """geth's answer to a message that is not a well-formed call; None for one to run."""
    if not isinstance(message, dict) or not valid_id(message.get("id")):
        return _answer(None, error=InvalidRequest("invalid request"))
    if message.get("jsonrpc") != "2.0" or not isinstance(message.get("method"), str):
        return _answer(message.get("id"), error=InvalidRequest("invalid request"))
    return None


def reply(message: dict, result: Any = None, failure: Exception | None = None) -> dict | None:
    """A well-formed call's answer: its result, or `failure` in geth's words (to_rpc_error logs the unexpected);
    None for a notification (a call without id)."""
    if failure is not None:
        answer = _answer(message.get("id"), error=to_rpc_error(failure))
    else:
        answer = _answer(message.get("id"), result)
    return answer if "id" in message else None


async def answer_call(app: web.Application, context: Context, message: Any) -> dict | None:
    """One parsed call's answer; None for a notification (a request without id)."""
    refusal = malformed_call(message)
    if refusal is not None:
        return refusal
    name = message["method"]
    log.debug("rpc call %s", name)
    try:
        method = lookup(app[METHODS], name)
        if method.inline:
            result = method(context, message.get("params"))
        else:
            lane = app[EXEC_LANE] if method.executes else app[EXECUTOR]
            result = await asyncio.get_running_loop().run_in_executor(
                lane, _from_arrival, time.monotonic(), method, context, message.get("params"))
    except Exception as exc:  # every failure becomes an error answer
        return reply(message, failure=exc)
    mined, tx_hash = mined_wait(context, name, message.get("params"), result)
    if mined is not None:
        await mined.wait_async(tx_hash)
        if name == RECEIPT:   # now in a block (or not coming): ask again
            try:
                result = await asyncio.get_running_loop().run_in_executor(
                    app[EXECUTOR], _from_arrival, time.monotonic(), method, context, message.get("params"))
            except Exception as exc:
                return reply(message, failure=exc)
    return reply(message, result)


def _from_arrival(arrival: float, method, context: Context, params: Any) -> Any:
    """In a worker thread: the call, its deadlines counted from `arrival` rather than from when a worker was free."""
    with request_clock(arrival):
        return method(context, params)


# -- HTTP --

async def _http(request: web.Request) -> web.Response:
    body = await read_body(request)
    if isinstance(body, web.Response):
        return body
    return json_response(await handle_payload(request.app, body))


async def read_body(request: web.Request) -> bytes | web.Response:
    """The request body, or the answer to give instead: geth's 413 when it is over BODY_LIMIT (declared, sent
    chunked, or inflated from gzip), 400 when it cannot be read as sent (a broken gzip or chunked encoding)."""
    if request.content_length is not None and request.content_length > BODY_LIMIT:
        return _too_large(f"{request.content_length}>{BODY_LIMIT}")
    try:
        return await request.read()
    except web.HTTPRequestEntityTooLarge:   # no size known: chunked, or compressed
        return _too_large(f">{BODY_LIMIT}")
    except web.RequestPayloadError as exc:
        cause = exc.__cause__ or exc   # aiohttp's ContentEncodingError, TransferEncodingError ...
        return _error_response(400, InvalidRequest(f"invalid request body: {getattr(cause, 'message', cause)}"))


def json_response(text: str | None) -> web.Response:
    return web.Response(text=text or "", content_type="application/json")


def _too_large(sizes: str) -> web.Response:
    return _error_response(413, InvalidRequest(f"content length too large ({sizes})"))


def _error_response(status: int, error: RpcError) -> web.Response:
    return web.Response(status=status, text=dumps(_answer(None, error=error)), content_type="application/json")


# -- CORS --

def _origin_allowed(app: web.Application, origin: str) -> bool:
    allowed = app[ORIGINS]
    return "*" in allowed or origin in allowed


@web.middleware
async def cors(request: web.Request, handler) -> web.StreamResponse:
    response = await handler(request)
    origin = request.headers.get("Origin")
    if origin and not response.prepared and _origin_allowed(request.app, origin):
        response.headers["Access-Control-Allow-Origin"] = "*" if "*" in request.app[ORIGINS] else origin
        response.headers["Vary"] = "Origin"
    return response


async def preflight(request: web.Request) -> web.Response:
    origin = request.headers.get("Origin")
    if not origin or not _origin_allowed(request.app, origin):
        return web.Response(status=403, text="origin not allowed")
    return web.Response(status=204, headers={
        "Access-Control-Allow-Methods": "POST, GET, OPTIONS",
        "Access-Control-Allow-Headers": request.headers.get("Access-Control-Request-Headers", "Content-Type"),
        "Access-Control-Max-Age": "600",
    })


# -- WebSocket --

async def open_websocket(request: web.Request) -> web.StreamResponse:
    """The prepared WebSocket of an upgrade request, or the answer to give instead: 200 to a plain GET (geth's
    health check), 403 to an origin CORS does not allow."""
    ws = web.WebSocketResponse(max_msg_size=WS_READ_LIMIT)
    if not ws.can_prepare(request).ok:
        return web.Response(status=200)
    origin = request.headers.get("Origin")
    if origin and not _origin_allowed(request.app, origin):
        return web.Response(status=403, text="origin not allowed")
    await ws.prepare(request)
    request.app[SOCKETS].add(ws)
    return ws


async def _websocket_or_health(request: web.Request) -> web.StreamResponse:
    ws = await open_websocket(request)
    if not isinstance(ws, web.WebSocketResponse):
        return ws
    connection = Connection(request.app[HUB], ws.send_str,
                            lambda: ws.close(code=WSCloseCode.POLICY_VIOLATION, message=b"too slow"))
    pending: set[asyncio.Task] = set()
    try:
        async for message in ws:
            if message.type in (WSMsgType.TEXT, WSMsgType.BINARY):
                task = asyncio.create_task(ws_reply(request.app, connection, message.data))
                pending.add(task)
                task.add_done_callback(pending.discard)
    finally:
        request.app[SOCKETS].discard(ws)
        connection.close()
        for task in pending:
            task.cancel()
    return ws


async def ws_reply(app: web.Application, connection: Connection, payload: bytes | str) -> None:
    context = Context(app[NODE], app[FILTERS], connection)
    text = await handle_payload(app, payload, context)
    if text is not None:
        connection.send(text)
    connection.activate(context.subscribed)


async def close_websockets(app: web.Application) -> None:
    for ws in list(app[SOCKETS]):
        await ws.close(code=1001, message=b"server shutdown")


# -- a server in its own thread --

class RpcServer(Endpoint):
    """The app on `host:port` (port 0: any free port, see `.port`) with its own event loop in a daemon thread."""

    def __init__(self, node, host: str = "127.0.0.1", port: int = 8545, cors_origins: Sequence[str] | None = None,
                 filter_timeout: float = filters.TIMEOUT):
        self.node = node
        self.host = host
        self.port = port
        self.cors_origins = cors_origins
        self.filter_timeout = filter_timeout
        self.app: web.Application | None = None
        self._loop: asyncio.AbstractEventLoop | None = None
        self._thread: threading.Thread | None = None
        self._error: BaseException | None = None

    def start(self) -> "RpcServer":
        ready = threading.Event()
        self._thread = threading.Thread(target=self._run, args=(ready,), name="rpc-server", daemon=True)
        self._thread.start()
        ready.wait()
        if self._error is not None:
            self._thread.join()
            raise self._error
        self._started()
        return self

    def _started(self) -> None:
        log.info("JSON-RPC on %s (HTTP and WebSocket)", self.url)

    def _run(self, ready: threading.Event) -> None:
        loop = self._loop = uvloop.new_event_loop()
        self.app = create_app(self.node, self.cors_origins, self.filter_timeout)
        runner = web.AppRunner(self.app, access_log=None, shutdown_timeout=1.0, logger=HTTP_LOG)
        try:
            loop.run_until_complete(runner.setup())
            loop.run_until_complete(self._open(runner))
        except BaseException as exc:
            self._error = exc
            loop.run_until_complete(runner.cleanup())
            loop.close()
            ready.set()
            return
        ready.set()
        try:
            loop.run_forever()
        finally:
            loop.run_until_complete(self._close())
            loop.run_until_complete(runner.cleanup())
            loop.close()

    async def _open(self, runner: web.AppRunner) -> None:
        """Start serving the set-up app: on host:port here."""
        site = web.TCPSite(runner, self.host, self.port)
        await site.start()
        self.port = runner.addresses[0][1]

    async def _close(self) -> None:
        """Before the app's cleanup, on stop."""

    def stop(self) -> None:
        if self._thread is None:
            return
        if self._loop is not None and not self._loop.is_closed():
            self._loop.call_soon_threadsafe(self._loop.stop)
        self._thread.join(timeout=10)
        self._thread = None

    def __enter__(self) -> "RpcServer":
        return self.start()

    def __exit__(self, *exc: object) -> None:
        self.stop()
