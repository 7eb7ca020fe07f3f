"""`smartchain devnet`: a real-time Devnet of N validators in one process, each node serving JSON-RPC on its own
port (consecutive from --http.port), until Ctrl-C."""
from __future__ import annotations

import argparse
import signal
import sys
import threading
from contextlib import ExitStack
from pathlib import Path

from eth_utils import to_checksum_address

from node.dev.devnet import Devnet
from node.cli.ports import check_free
from rpc.server import RpcServer


def add_parser(sub) -> None:
    devnet = sub.add_parser(
        "devnet", help="run N validators in one process, each serving JSON-RPC (real time)",
        description="Run a devnet of N validator nodes in one process, exchanging blocks in memory; node i serves "
                    "JSON-RPC (HTTP and WebSocket) on --http.port + i. Validators are staked in BSC's StakeHub; "
                    "the test accounts are funded as in genesis.json.")
    devnet.add_argument("--validators", type=int, default=4, metavar="N", help="validators (default: %(default)s)")
    devnet.add_argument("--standby", type=int, default=0, metavar="M",
                        help="extra funded nodes that can become validators through StakeHub (default: 0)")
    devnet.add_argument("--period", type=int, default=1, metavar="S", help="block period (default: %(default)s)")
    devnet.add_argument("--epoch", type=int, default=200, metavar="BLOCKS",
                        help="epoch length (default: %(default)s)")
    devnet.add_argument("--datadir", type=Path, default=None,
                        help="where the nodes keep their data (default: a temporary dir, removed on exit)")
    devnet.add_argument("--http.addr", dest="http_addr", default="127.0.0.1",
                        help="JSON-RPC listen address (default: %(default)s)")
    devnet.add_argument("--http.port", dest="http_port", type=int, default=8545,
                        help="JSON-RPC port of node 0; node i listens on this + i (default: %(default)s)")


def cmd_devnet(args: argparse.Namespace) -> int:
    if args.validators < 1 or args.standby < 0:
        raise ValueError("--validators must be at least 1 and --standby at least 0")
    nodes = args.validators + args.standby
    check_free(args.http_addr, [(args.http_port + i, f"JSON-RPC port of node {i} (--http.port + {i})")
                                for i in range(nodes)])
    stop = threading.Event()
    for sig in (signal.SIGINT, signal.SIGTERM):
        signal.signal(sig, lambda *_: stop.set())
    with ExitStack() as stack:
        net = stack.enter_context(Devnet(args.validators, realtime=True, period=args.period, epoch=args.epoch,
                                         datadir=args.datadir, standby=args.standby))
        lines = [f"smartchain devnet: {args.validators} validators, {args.standby} standby, chain id "
                 f"{net.nodes[0].chain_config.chain_id}, a block every {args.period} s, epoch {args.epoch}"]
        for member in net.members:
            server = stack.enter_context(RpcServer(member.node, args.http_addr, args.http_port + member.index))
            role = "validator" if member.address in net.validators else "standby"
            lines.append(f"  node {member.index}: {role} {to_checksum_address(member.address)}  {server.url}")
        print("\n".join(lines), flush=True)
        stop.wait()
        print("stopping...", file=sys.stderr)
    return 0
