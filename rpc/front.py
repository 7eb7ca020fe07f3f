"""The JSON-RPC front: a second process that owns the HTTP/WebSocket port, so that serving requests does not take the
GIL from block production (py-evm is pure Python: one process runs one core).

It parses every request, answers itself what needs no node memory, and hands the rest to the node over the link
(rpc/link.py, rpc/backend.py):
- answered here: the registry's INLINE methods (chain id, block number, client version ...) and
  eth_getTransactionReceipt, read from the node's LMDB data dir (LMDB serves readers in other processes; a block and
  its indexes commit in one transaction, so a receipt is visible exactly when its block is); for a receipt not
  there, the node is asked to say when the transaction's automined block is in (rpc/registry.py, SENDS), and the
  receipt is read again;
- eth_sendRawTransaction: decoded and its sender recovered here (the costliest part of admission), then handed to the
  node's pool with the sender; anything this side cannot read goes to the node whole, for the node's own error;
- everything else (a batch, any other method, a WebSocket's every message) goes to the node as it came and is
  answered by the node's own app, so behaviour is the in-process server's.
Run by rpc/frontproc.py as `python -m rpc.front --listen-fd N --link-fd M` on a uvloop event loop (as the node's
server: less per-request I/O cost than asyncio's own loop); it exits when the node closes the link.
"""
from __future__ import annotations

import argparse
import asyncio
import itertools
import json
import logging
import signal
import socket
import sys
from dataclasses import replace

import uvloop
from aiohttp import WSCloseCode, WSMsgType, web

from node.chain.readonly import ReadNode
from node.txpool.validation import decode, recover_sender
from rpc import link
from rpc.httplog import HTTP_LOG
from rpc.errors import ServerShuttingDown
from rpc.params import loads
from rpc.registry import INLINE, METHODS as NODE_METHODS, RECEIPT, Context, bind
from rpc.server import (BODY_LIMIT, FILTERS, METHODS, NODE, ORIGINS, SOCKETS, answer_call, close_websockets, cors, dumps,
                        handle_payload, json_response, open_websocket, preflight, read_body, valid_id)
from rpc.subscriptions import OUTBOX_LIMIT

log = logging.getLogger("smartchain.rpc")

# the node's live network state (peers, sync) is not in the data dir: those go to the node
LOCAL = (INLINE - {"net_listening", "net_peerCount", "eth_syncing"}) | {"eth_getTransactionReceipt"}
SEND_RAW = bind("eth_sendRawTransaction", NODE_METHODS["eth_sendRawTransaction"])
RECEIPT_ARGS = bind(RECEIPT, NODE_METHODS[RECEIPT])
NODE_LINK = web.AppKey("link", object)


class NodeLink:
    """The front's end of the link: requests with futures for their answers, and the relayed WebSockets."""

    def __init__(self, reader: asyncio.StreamReader, writer: asyncio.StreamWriter):
        self.reader = reader
        self.writer = writer
        self.go: asyncio.Future = asyncio.get_running_loop().create_future()
        self.closed = asyncio.Event()
        self._ids = itertools.count(1)
        self._waiting: dict[int, asyncio.Future] = {}
        self.sockets: dict[int, _Socket] = {}

    def send(self, frame: dict) -> None:
        self.writer.write(link.encode(frame))

    async def request(self, frame: dict) -> dict:
        if self.closed.is_set():
            raise ConnectionError("the node has stopped")
        i = frame["i"] = next(self._ids)
        future = self._waiting[i] = asyncio.get_running_loop().create_future()
        self.send(frame)
        await self.writer.drain()
        return await future

    async def run(self) -> None:
        """Read the node's frames until it closes the link."""
        try:
            async for frame in link.frames(self.reader):
                if "i" in frame:
                    future = self._waiting.pop(frame["i"], None)
                    if future is not None and not future.done():
                        future.set_result(frame)
                elif "w" in frame:
                    sock = self.sockets.get(frame["w"])
                    if sock is not None:
                        sock.put(frame["t"])
                elif "k" in frame:
                    sock = self.sockets.get(frame["k"])
                    if sock is not None:
                        sock.kick()
                elif "go" in frame and not self.go.done():
                    self.go.set_result(frame["go"])
        finally:
            self.closed.set()
            for future in self._waiting.values():
                if not future.done():
                    future.set_exception(ConnectionError("the node has stopped"))
            if not self.go.done():
                self.go.set_exception(ConnectionError("the node stopped before it started"))


class _Socket:
    """A relayed WebSocket's outbox: the node's messages, written in order by one task."""

    def __init__(self, ws: web.WebSocketResponse):
        self.ws = ws
        self.queue: asyncio.Queue[str | None] = asyncio.Queue()
        self.writer = asyncio.get_running_loop().create_task(self._write())

    def put(self, text: str) -> None:
        self.queue.put_nowait(text)
        if self.queue.qsize() > OUTBOX_LIMIT:   # as the node does for a client that does not read
            self.kick()

    def kick(self) -> None:
        self.queue.put_nowait(None)

    async def _write(self) -> None:
        while (text := await self.queue.get()) is not None:
            try:
                await self.ws.send_str(text)
            except ConnectionError:
                return
        await self.ws.close(code=WSCloseCode.POLICY_VIOLATION, message=b"too slow")


# -- HTTP --

async def _http(request: web.Request) -> web.Response:
    body = await read_body(request)
    if isinstance(body, web.Response):
        return body
    return json_response(await answer(request.app, body))


async def answer(app: web.Application, body: bytes) -> str | None:
    """A request body's JSON answer: answered here, or by the node (if the node has gone, every call in it is
    answered with SHUTTING_DOWN until this process exits)."""
    try:
        message = loads(body)
    except (ValueError, UnicodeDecodeError):
        return await handle_payload(app, body)   # the parse error, as the node words it
    name = message.get("method") if isinstance(message, dict) else None
    try:
        if isinstance(name, str):
            if name in app[METHODS]:
                result = await answer_call(app, Context(app[NODE], None), message)
                if name == RECEIPT and result is not None and result.get("result", 0) is None:
                    result = await _receipt_once_sealed(app, message, result)
                return None if result is None else dumps(result)
            if name == "eth_sendRawTransaction":
                result = await _send_raw(app, message)
                if result is not None:
                    return dumps(result)
        frame = await app[NODE_LINK].request({"h": body.decode(json.detect_encoding(body), "surrogatepass")})
    except ConnectionError:
        return shutting_down(message)
    return frame["t"]


def shutting_down(message) -> str | None:
    """The answer to `message` (a call or a batch) once the node has stopped: each call gets SHUTTING_DOWN."""
    calls = message if isinstance(message, list) else [message]
    answers = [{"jsonrpc": "2.0", "id": call.get("id") if isinstance(call, dict) and valid_id(call.get("id")) else None,
                "error": ServerShuttingDown().to_json()}
               for call in calls if not isinstance(call, dict) or "id" in call]
    if not answers:
        return None
    return dumps(answers if isinstance(message, list) else answers[0])


async def _receipt_once_sealed(app: web.Application, message: dict, answer: dict) -> dict:
    """A receipt not in the data dir: the node may be sealing its transaction (automine). Once the node says its
    block is in (or that none is coming), read it again here."""
    try:
        (tx_hash,) = RECEIPT_ARGS.parse(message.get("params"))
    except Exception:
        return answer
    await app[NODE_LINK].request({"m": tx_hash.hex()})
    return await answer_call(app, Context(app[NODE], None), message)


async def _send_raw(app: web.Application, message: dict) -> dict | None:
    """eth_sendRawTransaction with its sender recovered here; None: the node should see the request whole."""
    request_id = message.get("id")
    if message.get("jsonrpc") != "2.0" or "id" not in message or not valid_id(request_id):
        return None
    try:
        (raw,) = SEND_RAW.parse(message.get("params"))
        sender = recover_sender(decode(raw), app[NODE].chain_config.chain_id)
    except Exception:   # malformed, or refused: the node gives the answer, with its checks in geth's order
        return None
    frame = await app[NODE_LINK].request({"a": raw.hex(), "f": sender.hex()})
    if "e" in frame:
        return {"jsonrpc": "2.0", "id": request_id, "error": frame["e"]}
    return {"jsonrpc": "2.0", "id": request_id, "result": frame["r"]}


# -- WebSocket --

_socket_ids = itertools.count(1)


async def _websocket_or_health(request: web.Request) -> web.StreamResponse:
    ws = await open_websocket(request)
    if not isinstance(ws, web.WebSocketResponse):
        return ws
    node_link: NodeLink = request.app[NODE_LINK]
    c = next(_socket_ids)
    sock = node_link.sockets[c] = _Socket(ws)
    node_link.send({"o": c})
    try:
        async for message in ws:
            if message.type == WSMsgType.TEXT:
                node_link.send({"w": c, "t": message.data})
            elif message.type == WSMsgType.BINARY:
                try:
                    text = message.data.decode(json.detect_encoding(message.data), "surrogatepass")
                except UnicodeDecodeError:
                    sock.put(await handle_payload(request.app, message.data))   # the parse error
                    continue
                node_link.send({"w": c, "t": text})
    finally:
        request.app[SOCKETS].discard(ws)
        node_link.sockets.pop(c, None)
        sock.writer.cancel()
        if not node_link.closed.is_set():
            node_link.send({"x": c})
    return ws


def create_front_app(read_node: ReadNode, node_link: NodeLink, origins: list[str]) -> web.Application:
    app = web.Application(client_max_size=BODY_LIMIT, middlewares=[cors])
    app[NODE] = read_node
    app[FILTERS] = None   # filters are the node's: their methods go there
    app[METHODS] = {name: replace(bind(name, NODE_METHODS[name]), inline=True) for name in LOCAL}
    app[ORIGINS] = tuple(origins)
    app[SOCKETS] = set()
    app[NODE_LINK] = node_link
    app.on_shutdown.append(close_websockets)
    app.router.add_post("/", _http)
    app.router.add_get("/", _websocket_or_health)
    app.router.add_route("OPTIONS", "/", preflight)
    return app


# -- the process --

async def serve(listener: socket.socket, link_sock: socket.socket) -> int:
    reader, writer = await link.open_link(link_sock)
    node_link = NodeLink(reader, writer)
    reading = asyncio.get_running_loop().create_task(node_link.run())
    try:
        go = await node_link.go
    except ConnectionError:
        return 1
    read_node = ReadNode.open(go["db"], go["genesis"])
    app = create_front_app(read_node, node_link, go["origins"])
    runner = web.AppRunner(app, access_log=None, shutdown_timeout=1.0, logger=HTTP_LOG)
    await runner.setup()
    await web.SockSite(runner, listener).start()
    node_link.send({"ready": True})
    stop = asyncio.Event()
    asyncio.get_running_loop().add_signal_handler(signal.SIGTERM, stop.set)
    waiting = [asyncio.ensure_future(stop.wait()), asyncio.ensure_future(node_link.closed.wait())]
    await asyncio.wait(waiting, return_when=asyncio.FIRST_COMPLETED)
    for task in waiting:
        task.cancel()
    await runner.cleanup()
    reading.cancel()
    writer.close()
    read_node.close()
    return 0


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(prog="python -m rpc.front",
                                     description="smartchain's JSON-RPC front process (started by the node).")
    parser.add_argument("--listen-fd", type=int, required=True, help="the bound, listening TCP socket")
    parser.add_argument("--link-fd", type=int, required=True, help="the node's end of the link (a socketpair)")
    parser.add_argument("--verbosity", default="INFO", help="log level (default: INFO)")
    args = parser.parse_args(argv)
    logging.basicConfig(level=args.verbosity.upper(), stream=sys.stderr,
                        format="%(levelname)-5s [%(asctime)s] %(name)s: %(message)s", datefmt="%m-%d|%H:%M:%S")
    # Ctrl-C in a terminal reaches the whole process group: the node stops first and then this process (SIGTERM)
    signal.signal(signal.SIGINT, signal.SIG_IGN)
    listener = socket.socket(fileno=args.listen_fd)
    link_sock = socket.socket(fileno=args.link_fd)
    return uvloop.run(serve(listener, link_sock))


if __name__ == "__main__":
    sys.exit(main())
