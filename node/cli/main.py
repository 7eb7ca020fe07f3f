"""`smartchain init | import | export | devnet | init-network | run`: the command line."""
from __future__ import annotations

import argparse
import logging
import os
import shutil
import signal
import sys
import threading
from contextlib import ExitStack
from pathlib import Path

from eth_keys import keys
from eth_utils import to_checksum_address

from node.dev.accounts import load_key
from node.chain.blockfile import export_file, import_file
from node.cli import devnet as devnet_cli
from node.cli import initnet
from node.chain.chain import Chain, ChainError
from node.config import DEFAULT_DATADIR, GWEI, REPO_GENESIS, NodeConfig
from node.chain.db import LmdbDB
from node.chain.genesis import GenesisError, load_genesis
from node.cli.args import add_listen_args, add_p2p_args
from node.cli.datadirconfig import ConfigFileError, apply_config
from node.network.launch import start_network
from node.node import DB_DIR, Node, NodeError
from rpc.registry import OPTIONAL_MODULES
from rpc.frontproc import FrontProcess
from node.cli.ports import check_free
from rpc.server import RpcServer

GENESIS_COPY = "genesis.json"
DEFAULT_MODULES = ("eth", "net", "web3")


def _parser() -> argparse.ArgumentParser:
    parser = argparse.ArgumentParser(
        prog="smartchain", description="A BSC-like (Parlia PoSA) EVM chain node on py-evm.")
    parser.add_argument("--verbosity", default="info", choices=["debug", "info", "warning", "error"],
                        help="log level (default: info)")
    sub = parser.add_subparsers(dest="command", metavar="COMMAND")

    init = sub.add_parser("init", help="initialise a data dir from a genesis file",
                          description="Write the genesis block of FILE into a new data dir.")
    init.add_argument("--genesis", type=Path, default=REPO_GENESIS, help="genesis file (default: %(default)s)")
    init.add_argument("--datadir", type=Path, default=DEFAULT_DATADIR, help="data dir (default: %(default)s)")

    imp = sub.add_parser("import", help="import blocks from an RLP file (as geth export writes them)",
                         description="Import RLP-concatenated blocks; each goes through the node's import path.")
    imp.add_argument("--datadir", type=Path, default=DEFAULT_DATADIR, help="data dir (default: %(default)s)")
    imp.add_argument("--genesis", type=Path, default=None, help="genesis file (default: as for run)")
    imp.add_argument("file", type=Path, help="block file")

    exp = sub.add_parser("export", help="export canonical blocks to an RLP file",
                         description="Write canonical blocks FIRST..LAST (default: genesis to head) as geth does.")
    exp.add_argument("--datadir", type=Path, default=DEFAULT_DATADIR, help="data dir (default: %(default)s)")
    exp.add_argument("--genesis", type=Path, default=None, help="genesis file (default: as for run)")
    exp.add_argument("file", type=Path, help="block file to write")
    exp.add_argument("first", type=int, nargs="?", default=0, help="first block (default: 0)")
    exp.add_argument("last", type=int, nargs="?", default=None, help="last block (default: the head)")

    devnet_cli.add_parser(sub)
    initnet.add_parser(sub)

    run = sub.add_parser("run", help="run the node (the default command)",
                         description="Run a node: produce blocks and serve the chain.")
    _add_run_args(run)
    return parser


def parse_args(parser: argparse.ArgumentParser, argv: list[str]) -> argparse.Namespace:
    """The command line (`run` when it starts with a flag); for `run`, the data dir's config.json supplies the
    defaults of the flags not given."""
    if argv and argv[0].startswith("-") and argv[0] not in ("-h", "--help", "--verbosity"):
        argv = ["run", *argv]
    args = parser.parse_args(argv)
    if args.command is None:
        argv = [*argv, "run"]
        args = parser.parse_args(argv)
    if args.command == "run":
        run = parser._subparsers._group_actions[0].choices["run"]   # argparse keeps subparsers only here
        apply_config(run, args.datadir)
        args = parser.parse_args(argv)
    return args


def _add_run_args(run: argparse.ArgumentParser) -> None:
    run.add_argument("--datadir", type=Path, default=DEFAULT_DATADIR, help="data dir (default: %(default)s)")
    run.add_argument("--genesis", type=Path, default=None,
                     help="genesis file (default: the data dir's copy, else the repository's genesis.json)")
    run.add_argument("--dev", action=argparse.BooleanOptionalAction, default=None,
                     help="dev mode: unlocked test accounts, dev-only methods (default: on unless a validator "
                          "key is given)")
    run.add_argument("--block-time", type=float, default=None, metavar="S",
                     help="seconds between blocks (default: the genesis period); 0 seals as soon as "
                          "transactions are pending")
    run.add_argument("--validator-key", default=None, metavar="HEX|FILE",
                     help="validator private key, or a file holding one (default: DATADIR/validator.key, "
                          "in dev mode the test mnemonic's first account)")
    run.add_argument("--gas-price", type=int, default=GWEI, metavar="WEI",
                     help="minimum gas price the pool accepts (default: 1 gwei; 0 only in dev mode)")
    add_listen_args(run)
    run.add_argument("--http.corsdomain", dest="http_cors", default=None, metavar="ORIGINS",
                     help="comma-separated browser origins allowed by CORS (default: * in dev mode, none otherwise)")
    run.add_argument("--rpc.evmtimeout", dest="evm_timeout", type=float, default=5.0, metavar="S",
                     help="seconds after which every JSON-RPC method that executes code (eth_call, eth_estimateGas, "
                          "debug_traceCall ...) stops, as geth's flag (default: %(default)s)")
    run.add_argument("--http.api", dest="http_api", default=None, metavar="MODULES",
                     help="comma-separated API modules served over HTTP and WebSocket, as geth's --http.api: "
                          f"eth, net and web3 always, optional {', '.join(sorted(OPTIONAL_MODULES))} "
                          "(default: every module in dev mode, none of the optional ones otherwise)")
    add_p2p_args(run)


def main(argv: list[str] | None = None, front: FrontProcess | None = None) -> int:
    """`front`: the JSON-RPC front process node.cli.launch already spawned for this `run` (else cmd_run spawns it)."""
    argv = sys.argv[1:] if argv is None else argv
    parser = _parser()
    try:
        args = parse_args(parser, argv or ["run"])
    except ConfigFileError as exc:
        print(f"smartchain: {exc}", file=sys.stderr)
        return 1
    logging.basicConfig(level=args.verbosity.upper(), stream=sys.stderr,
                        format="%(levelname)-5s [%(asctime)s] %(name)s: %(message)s", datefmt="%m-%d|%H:%M:%S")
    try:
        if args.command == "run":
            return cmd_run(args, front)
        return {"init": cmd_init, "import": cmd_import, "export": cmd_export,
                "devnet": devnet_cli.cmd_devnet, "init-network": initnet.cmd_init_network}[args.command](args)
    except (GenesisError, ChainError, NodeError, ValueError, OSError) as exc:
        print(f"smartchain: {exc}", file=sys.stderr)
        return 1


def cmd_init(args: argparse.Namespace) -> int:
    def work(chain: Chain) -> int:
        print(f"initialised {args.datadir.expanduser()}: chain id {chain.config.chain_id}, "
              f"genesis 0x{chain.head.hash.hex()}")
        return 0
    return _with_chain(args, work)


def _genesis_for(datadir: Path, genesis: Path | None) -> Path:
    """--genesis, else the data dir's copy (written by init/run), else the repository's genesis.json."""
    return genesis or (datadir / GENESIS_COPY if (datadir / GENESIS_COPY).exists() else REPO_GENESIS)


def _with_chain(args: argparse.Namespace, work) -> int:
    datadir: Path = args.datadir.expanduser()
    genesis = _genesis_for(datadir, args.genesis)
    config = load_genesis(genesis)
    db = LmdbDB(datadir / DB_DIR)
    try:
        chain = Chain(db, config)
        if not (datadir / GENESIS_COPY).exists():
            shutil.copyfile(genesis, datadir / GENESIS_COPY)
        return work(chain)
    finally:
        db.close()


def cmd_import(args: argparse.Namespace) -> int:
    def work(chain: Chain) -> int:
        try:
            summary = import_file(chain, args.file)
        except ChainError:
            print(f"import stopped; the store is at block #{chain.head.block_number} "
                  f"0x{chain.head.hash.hex()}", file=sys.stderr)
            raise
        print(f"{summary}; head #{chain.head.block_number} 0x{chain.head.hash.hex()}")
        return 0
    return _with_chain(args, work)


def cmd_export(args: argparse.Namespace) -> int:
    def work(chain: Chain) -> int:
        count = export_file(chain, args.file, args.first, args.last)
        print(f"exported {count} blocks to {args.file}")
        return 0
    return _with_chain(args, work)


def http_modules(value: str | None) -> tuple[str, ...]:
    """--http.api's optional modules; an unknown name is refused."""
    names = [name.strip() for name in (value or "").split(",") if name.strip()]
    unknown = [name for name in names if name not in OPTIONAL_MODULES and name not in DEFAULT_MODULES]
    if unknown:
        raise ValueError(f"--http.api: unknown module {unknown[0]!r} (known: "
                         f"{', '.join(DEFAULT_MODULES + tuple(sorted(OPTIONAL_MODULES)))})")
    return tuple(name for name in names if name in OPTIONAL_MODULES)


def run_config(args: argparse.Namespace) -> NodeConfig:
    datadir: Path = args.datadir.expanduser()
    genesis = _genesis_for(datadir, args.genesis)
    key = load_key(args.validator_key) if args.validator_key else None
    dev = args.dev if args.dev is not None else key is None and not (datadir / "validator.key").exists()
    if key is None and not dev and not (datadir / "validator.key").exists() and not load_genesis(genesis).is_parlia:
        # a chain without Parlia has no validators: this node follows it and seals nothing, so any key will do
        key = keys.PrivateKey(os.urandom(32)).to_bytes()
    config = NodeConfig(genesis=genesis, datadir=datadir, dev=dev, block_time=args.block_time, validator_key=key,
                        min_gas_price=args.gas_price, http_addr=args.http_addr, http_port=args.http_port,
                        http_cors=[o.strip() for o in args.http_cors.split(",") if o.strip()] if args.http_cors
                        else None, http_api=http_modules(args.http_api), evm_timeout=args.evm_timeout,
                        p2p=_p2p_on(args, dev), p2p_addr=args.p2p_addr, p2p_port=args.p2p_port,
                        peers=_peer_list(args.peers), max_peers=args.max_peers)
    return config


def _peer_list(value: str | None) -> tuple[str, ...]:
    return tuple(url.strip() for url in (value or "").split(",") if url.strip())


def _p2p_on(args: argparse.Namespace, dev: bool) -> bool:
    """--p2p/--no-p2p; by default on, except in dev mode without --peers (geth --dev runs without peers too)."""
    if args.p2p is not None:
        return args.p2p
    return not dev or bool(_peer_list(args.peers))


def network_starter(config: NodeConfig):
    """What starts `config`'s network for the node (the node key and enode file live in its data dir)."""
    def start(node: Node):
        return start_network(node, config.datadir, addr=config.p2p_addr, port=config.p2p_port, peers=config.peers,
                             max_peers=config.max_peers)
    return start


def cmd_run(args: argparse.Namespace, front: FrontProcess | None = None) -> int:
    config = run_config(args)
    if front is None:   # else node.cli.launch bound the port already
        check_free(config.http_addr, [(config.http_port, "--http.port")])
    if config.p2p:
        check_free(config.p2p_addr, [(config.p2p_port, "--p2p.port")])
    config.datadir.mkdir(parents=True, exist_ok=True)
    if not (config.datadir / GENESIS_COPY).exists():
        shutil.copyfile(config.genesis, config.datadir / GENESIS_COPY)
    stop = threading.Event()
    lost: list[str] = []
    for sig in (signal.SIGINT, signal.SIGTERM):
        signal.signal(sig, lambda *_: stop.set())

    def front_lost() -> None:
        lost.append("the JSON-RPC front process exited")
        stop.set()

    with ExitStack() as stack:
        node = stack.enter_context(Node(config, network_starter=network_starter(config)))
        if args.rpc_front:
            server = front or FrontProcess(config.http_addr, config.http_port).start()
            stack.callback(server.stop)
            server.attach(node, config.http_cors, on_lost=front_lost)
        else:
            server = stack.enter_context(RpcServer(node, config.http_addr, config.http_port, config.http_cors))
        _banner(node, server)
        stop.wait()
        failed = list(lost)
        print(f"stopping: {failed[0]}" if failed else "stopping...", file=sys.stderr)
    return 1 if failed else 0


def _banner(node: Node, server: RpcServer | FrontProcess) -> None:
    chain = node.chain
    if node.chain_config.is_parlia:
        production = (f"validator: {to_checksum_address(node.producer.address)}, "
                      + ("automine (a block as soon as transactions are pending)" if node.producer.automine
                         else f"a block every {node.producer.interval_ms / 1000:g} s"))
    else:
        production = "no block production: a chain without Parlia grows by `smartchain import`"
    lines = [
        f"smartchain: chain id {node.chain_config.chain_id}, head #{chain.head.block_number} "
        f"0x{chain.head.hash.hex()}",
        f"data dir: {node.datadir}",
        production,
        f"JSON-RPC: {server.url} (WebSocket {server.ws_url})",
        f"p2p: {node.network.enode}, {len(node.config.peers)} static peers" if node.network is not None
        else "p2p: off",
    ]
    if node.config.dev:
        lines.append("dev mode: test accounts (mnemonic 'test test test test test test test test test test test junk')")
        for i, acct in enumerate(node.accounts):
            balance = chain.state_at().get_balance(acct.address) / 10**18
            lines.append(f"  ({i}) {acct.checksum} ({balance:g} BNB)  key 0x{acct.private_key.hex()}")
    print("\n".join(lines), flush=True)


if __name__ == "__main__":
    sys.exit(main())
