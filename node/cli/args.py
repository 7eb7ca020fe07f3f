"""Options shared by the entry point (node/cli/launch.py reads them before the heavy imports) and the full
command line (node/cli/main.py)."""
from __future__ import annotations

import argparse


def add_listen_args(parser: argparse.ArgumentParser) -> None:
    """The options that say where and how `run` serves JSON-RPC."""
    parser.add_argument("--http.addr", dest="http_addr", default="127.0.0.1",
                        help="JSON-RPC listen address (default: %(default)s)")
    parser.add_argument("--http.port", dest="http_port", type=int, default=8545,
                        help="JSON-RPC port, HTTP and WebSocket (default: %(default)s)")
    parser.add_argument("--rpc.front", dest="rpc_front", action=argparse.BooleanOptionalAction, default=True,
                        help="answer JSON-RPC from a second process, so that requests do not take the node's core "
                             "from block production (default: on)")
