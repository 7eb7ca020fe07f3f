"""Shared fixtures: where ../shared lives, the repository root."""
import os
from pathlib import Path

import pytest

REPO_ROOT = Path(__file__).resolve().parents[1]
SHARED_DIR = Path(os.environ.get("SMARTCHAIN_SHARED", REPO_ROOT.parent / "shared"))


def shared_path(*parts: str) -> Path:
    """Path inside ../shared; fails the test with what is missing when it is absent."""
    path = SHARED_DIR.joinpath(*parts)
    if not path.exists():
        pytest.fail(
            f"missing shared data: {path} (CI keeps ../shared beside the clone; "
            f"set SMARTCHAIN_SHARED to point elsewhere)"
        )
    return path


@pytest.fixture
def repo_root() -> Path:
    return REPO_ROOT


@pytest.fixture(scope="module")
def rpc():
    """A dev node without a production loop (tests mine explicitly) and its RPC server, one per test module."""
    from rpcnode import serve
    with serve(produce=False) as r:
        yield r


@pytest.fixture(scope="module", params=["in-process", "front"])
def served_rpc(request):
    """`rpc`, once served in-process and once by the JSON-RPC front process (as `smartchain run` serves it): a
    module overrides `rpc` with this to run every test through both."""
    from rpcnode import serve
    with serve(produce=False, front=request.param == "front") as r:
        yield r


@pytest.fixture(scope="module", params=["in-process", "front", "provider", "async-provider"])
def any_rpc(request):
    """`served_rpc`'s two HTTP transports and node.testing's two web3.py providers (no HTTP: tests/rpcnode.py's
    ProvidedRpcNode), one node per module each: a suite of JSON-RPC answers overrides `rpc` with this so that the
    providers are held to the server's answers. (Suites about HTTP or WebSocket themselves keep `served_rpc`.)"""
    from rpcnode import serve
    with serve(produce=False, transport=request.param) as r:
        yield r


@pytest.fixture(scope="module")
def prod_rpc():
    """The same outside dev mode: no unlocked accounts, no dev-only or optional namespaces."""
    from rpcnode import serve
    with serve(produce=False, dev=False) as r:
        yield r
