"""The execution-apis test chain (../shared/conformance/execution-apis/tests): its files and an imported data dir."""
from __future__ import annotations

import json
from pathlib import Path

from contextlib import contextmanager
from typing import Iterator

from conftest import shared_path
from node.chain.blockfile import import_file
from node.chain.chain import Chain
from node.chain.db import LmdbDB
from node.chain.genesis import load_genesis
from node.node import DB_DIR


def tests_dir() -> Path:
    """The fixtures' directory; fails the test, naming it, when ../shared is absent."""
    return shared_path("conformance", "execution-apis", "tests")


def genesis_file() -> Path:
    return tests_dir() / "genesis.json"


def chain_file() -> Path:
    return tests_dir() / "chain.rlp"


def head_hash() -> bytes:
    """The head the chain's own forkchoice update names (tests/headfcu.json)."""
    fcu = json.loads((tests_dir() / "headfcu.json").read_text())
    return bytes.fromhex(fcu["params"][0]["headBlockHash"][2:])


def import_into(datadir: Path) -> Path:
    """Initialise `datadir` from the chain's genesis and import chain.rlp through the node's import path."""
    datadir.mkdir(parents=True, exist_ok=True)
    (datadir / "genesis.json").write_bytes(genesis_file().read_bytes())
    db = LmdbDB(datadir / DB_DIR)
    try:
        import_file(Chain(db, load_genesis(genesis_file())), chain_file(), progress=None)
    finally:
        db.close()
    return datadir


@contextmanager
def serve_imported(datadir: Path) -> Iterator:
    """The imported chain served as `smartchain run --no-dev --http.api debug,txpool,testing` serves it."""
    from node.config import NodeConfig
    from node.node import Node
    from rpc.server import RpcServer
    from rpcnode import RpcNode
    import_into(datadir)
    config = NodeConfig(datadir=datadir, genesis=datadir / "genesis.json", dev=False, produce=False,
                        validator_key=b"\x11" * 32)
    config.http_api = ("debug", "txpool", "testing")
    with Node(config) as node, RpcServer(node, "127.0.0.1", 0) as server:
        yield RpcNode(node, server)
