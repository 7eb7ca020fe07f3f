"""`smartchain init-network`: data dirs for a network of N validators run as separate processes (BSC's
`geth init-network`): DIR/node0..node{N-1}, each with the staked devnet genesis (node/dev/devnet.py devnet_genesis,
its deterministic validator keys and their BLS vote keys, the test accounts funded as on the dev chain), its
validator.key, its vote.key (so the validators vote and blocks finalize), its nodekey and a config.json naming its
HTTP port, its p2p port and every other node's enode as a static peer."""
from __future__ import annotations

import argparse
import json
from pathlib import Path

from node.chain.chain import Chain
from node.chain.db import LmdbDB
from node.chain.genesis import load_genesis
from node.cli.datadirconfig import write_config
from consensus import bls
from node.dev.devnet import devnet_genesis, validator_key, validator_vote_key
from node.finality.keys import write_vote_key
from node.network.rlpx.nodekey import enode_url, load_or_create_nodekey
from node.node import DB_DIR, KEY_FILE

GENESIS_FILE = "genesis.json"


class InitNetworkError(ValueError):
    """init-network cannot write these data dirs; the message says why."""


def add_parser(sub) -> None:
    cmd = sub.add_parser(
        "init-network", help="write the data dirs of an N-validator network run as separate processes",
        description="Write DIR/node0..node{N-1}: each a data dir with the staked devnet genesis, its validator key, "
                    "its node key and a config.json (HTTP port P+i, p2p port Q+i, every other node as a static "
                    "peer), so that `smartchain run --datadir DIR/node{i}` starts node i.")
    cmd.add_argument("--validators", type=int, default=4, metavar="N", help="validators (default: %(default)s)")
    cmd.add_argument("--dir", type=Path, required=True, help="directory to create the node data dirs in")
    cmd.add_argument("--http.port", dest="http_port", type=int, default=8545, metavar="P",
                     help="node i serves JSON-RPC on P+i (default: %(default)s)")
    cmd.add_argument("--p2p.port", dest="p2p_port", type=int, default=30311, metavar="Q",
                     help="node i listens for peers on Q+i (default: %(default)s)")
    cmd.add_argument("--p2p.addr", dest="p2p_addr", default="127.0.0.1",
                     help="the address every node listens on and is dialled at (default: %(default)s)")
    cmd.add_argument("--period", type=int, default=1, metavar="S", help="block period (default: %(default)s)")
    cmd.add_argument("--epoch", type=int, default=200, metavar="BLOCKS", help="epoch length (default: %(default)s)")


def init_network(root: Path, validators: int, http_port: int, p2p_port: int, p2p_addr: str = "127.0.0.1",
                 period: int = 1, epoch: int = 200) -> list[Path]:
    """Write the data dirs; returns them in order."""
    if validators < 1:
        raise InitNetworkError("init-network: --validators must be at least 1")
    if http_port < 1 or p2p_port < 1 or max(http_port, p2p_port) + validators - 1 > 65535:
        raise InitNetworkError("init-network: the ports P+i and Q+i must be TCP ports (1-65535)")
    dirs = [Path(root).expanduser() / f"node{i}" for i in range(validators)]
    taken = [d for d in dirs if d.exists() and any(d.iterdir())]
    if taken:
        raise InitNetworkError(f"init-network: {taken[0]} exists and is not empty")
    keys = [validator_key(i) for i in range(validators)]
    genesis = devnet_genesis([(k.public_key.to_canonical_address(), bls.public_key(validator_vote_key(k)))
                              for k in keys], period, epoch)
    enodes = []
    for i, datadir in enumerate(dirs):
        datadir.mkdir(parents=True, exist_ok=True)
        (datadir / GENESIS_FILE).write_text(json.dumps(genesis, indent=2))
        (datadir / KEY_FILE).write_text(keys[i].to_hex() + "\n")
        (datadir / KEY_FILE).chmod(0o600)
        write_vote_key(datadir, validator_vote_key(keys[i]))
        enodes.append(enode_url(load_or_create_nodekey(datadir), p2p_addr, p2p_port + i))
    for i, datadir in enumerate(dirs):
        write_config(datadir, {"http.port": http_port + i, "p2p.port": p2p_port + i, "p2p.addr": p2p_addr,
                               "peers": [url for j, url in enumerate(enodes) if j != i]})
        _write_genesis_block(datadir)
    return dirs


def _write_genesis_block(datadir: Path) -> None:
    """The store's genesis block, as `smartchain init` writes it (a wrong genesis fails here, not at run)."""
    db = LmdbDB(datadir / DB_DIR)
    try:
        Chain(db, load_genesis(datadir / GENESIS_FILE))
    finally:
        db.close()


def cmd_init_network(args: argparse.Namespace) -> int:
    dirs = init_network(args.dir, args.validators, args.http_port, args.p2p_port, args.p2p_addr, args.period,
                        args.epoch)
    for i, datadir in enumerate(dirs):
        print(f"node{i}: {datadir}  JSON-RPC http://127.0.0.1:{args.http_port + i}  p2p {args.p2p_addr}:"
              f"{args.p2p_port + i}  validator 0x{validator_key(i).public_key.to_canonical_address().hex()}")
    print(f"start each with: smartchain run --datadir {Path(args.dir) / 'node<i>'}")
    return 0

