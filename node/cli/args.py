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


def add_p2p_args(parser: argparse.ArgumentParser) -> None:
    """The options of `run`'s peer-to-peer network (no discovery: peers are static, as BSC devnets run)."""
    parser.add_argument("--p2p", dest="p2p", action=argparse.BooleanOptionalAction, default=None,
                        help="run the peer-to-peer network (default: on, off in dev mode as geth --dev); "
                             "--no-p2p runs without peers")
    parser.add_argument("--p2p.addr", dest="p2p_addr", default="127.0.0.1",
                        help="RLPx listen address (default: %(default)s)")
    parser.add_argument("--p2p.port", dest="p2p_port", type=int, default=30311,
                        help="RLPx listen port (default: %(default)s)")
    parser.add_argument("--peers", dest="peers", default=None, metavar="ENODE,...",
                        help="comma-separated enode URLs of static peers, dialled and redialled (geth's "
                             "StaticNodes); giving them turns the network on in dev mode too")
    parser.add_argument("--maxpeers", dest="max_peers", type=int, default=50,
                        help="maximum number of peers (default: %(default)s)")
    parser.add_argument("--nodiscover", dest="nodiscover", action="store_true",
                        help="no peer discovery (accepted for geth's command lines: it is the only mode)")
