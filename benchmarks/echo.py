"""The RPC reference: a bare aiohttp server that parses a JSON-RPC request and answers a constant result.

It does the work no JSON-RPC server can avoid (HTTP, JSON in, JSON out) and nothing else, so the node's request
rate divided by this one's is the share of the budget the node's own RPC stack keeps.
"""
from __future__ import annotations

import argparse
import json

from aiohttp import web


async def _echo(request: web.Request) -> web.Response:
    message = json.loads(await request.read())
    return web.json_response({"jsonrpc": "2.0", "id": message.get("id"), "result": "0x0"})


def create_app() -> web.Application:
    app = web.Application()
    app.router.add_post("/", _echo)
    return app


def main() -> None:
    parser = argparse.ArgumentParser(description="bare aiohttp JSON-RPC echo server (benchmark reference)")
    parser.add_argument("--port", type=int, required=True)
    args = parser.parse_args()
    web.run_app(create_app(), host="127.0.0.1", port=args.port, print=None, access_log=None)


if __name__ == "__main__":
    main()
