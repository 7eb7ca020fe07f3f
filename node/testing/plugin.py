"""The pytest plugin (entry point `pytest11`: smartchain): an in-process dev chain, web3.py over it, isolation.

Fixtures: `smartchain` (the Node, one per session and per xdist worker, in a temporary data dir), `w3` (web3.py
over SmartchainProvider, ExtraDataToPOAMiddleware injected, default account the first dev account), `accounts` (the
ten funded dev accounts as eth-account LocalAccounts), `deploy(artifact_or_abi_bytecode, *args)`, `devnet` (a fresh
simulated multi-validator Devnet with staking per test), and helpers `mine`, `time_travel`, `set_balance`,
`impersonate`, `load_fixture`, `reverts`.

Isolation: while the chain exists, every scope (session, package, module, class, test) runs inside a snapshot that
is reverted when it ends, so a module-scoped deployment is seen by each test of the module and a test's changes are
gone for the next; `@pytest.mark.no_isolation` keeps a test's changes. Options: `--smartchain-genesis FILE` (the
chain's genesis, default the repository's), `--smartchain-validators N` (the devnet's genesis validators, default 3).

Loaded in every pytest run once smartchain is installed, so it costs nothing until a test asks for its fixtures:
imports are lazy, and the isolation frames never start a chain (node.testing.isolation).
"""
from __future__ import annotations

from pathlib import Path
from typing import Any, Callable, Iterator

import pytest

from node.testing.isolation import Isolation

ISOLATION = pytest.StashKey[Isolation]()
DEVNET_EPOCH = 10       # blocks: short, so an election happens within a test
DEVNET_STANDBY = 1      # funded nodes outside the genesis set, ready to stake


def pytest_addoption(parser: pytest.Parser) -> None:
    group = parser.getgroup("smartchain", "smartchain in-process chain")
    group.addoption("--smartchain-genesis", metavar="FILE", default=None,
                    help="genesis file of the `smartchain` fixture's chain (default: the repository's genesis.json)")
    group.addoption("--smartchain-validators", metavar="N", type=int, default=3,
                    help="genesis validators of the `devnet` fixture (default 3)")


def pytest_configure(config: pytest.Config) -> None:
    config.addinivalue_line("markers", "no_isolation: this test's chain changes are kept for the tests after it "
                                       "(smartchain plugin)")
    config.stash[ISOLATION] = Isolation()


# -- isolation frames: one per scope; never start a chain ------------------------------------------------------------

def _frame(request: pytest.FixtureRequest, scope: str) -> Iterator[None]:
    isolation = request.config.stash[ISOLATION]
    frame = isolation.push(scope)
    yield
    isolation.pop(frame)


@pytest.fixture(scope="session", autouse=True)
def _smartchain_session_frame(request: pytest.FixtureRequest) -> Iterator[None]:
    yield from _frame(request, "session")


@pytest.fixture(scope="package", autouse=True)
def _smartchain_package_frame(request: pytest.FixtureRequest) -> Iterator[None]:
    yield from _frame(request, "package")


@pytest.fixture(scope="module", autouse=True)
def _smartchain_module_frame(request: pytest.FixtureRequest) -> Iterator[None]:
    yield from _frame(request, "module")


@pytest.fixture(scope="class", autouse=True)
def _smartchain_class_frame(request: pytest.FixtureRequest) -> Iterator[None]:
    if request.cls is None:   # pytest runs a class-scoped fixture per test outside classes: no frame of its own
        yield
        return
    yield from _frame(request, "class")


@pytest.fixture(autouse=True)
def _smartchain_test_frame(request: pytest.FixtureRequest) -> Iterator[None]:
    if "smartchain" not in request.fixturenames or request.node.get_closest_marker("no_isolation"):
        yield
        return
    yield from _frame(request, "test")


# -- the chain and web3 ----------------------------------------------------------------------------------------------

@pytest.fixture(scope="session")
def smartchain(request: pytest.FixtureRequest) -> Iterator[Any]:
    """The in-process dev node (automine), in a temporary data dir removed at the end of the session."""
    from node.testing.provider import dev_node

    genesis = request.config.getoption("smartchain_genesis")
    node = dev_node(**({"genesis": Path(genesis)} if genesis else {}))
    isolation = request.config.stash[ISOLATION]
    isolation.attach(node)
    yield node
    isolation.detach()
    node.stop()


@pytest.fixture(scope="session")
def accounts(smartchain: Any) -> list:
    """The ten funded dev accounts (the test mnemonic's) as eth-account LocalAccounts."""
    from eth_account import Account

    return [Account.from_key(a.private_key) for a in smartchain.accounts]


@pytest.fixture(scope="session")
def w3(smartchain: Any, accounts: list) -> Iterator[Any]:
    """web3.py over the in-process node: no HTTP; the first dev account is the default sender."""
    from web3 import Web3
    from web3.middleware import ExtraDataToPOAMiddleware

    from node.testing.provider import SmartchainProvider

    provider = SmartchainProvider(smartchain)
    web3 = Web3(provider)
    web3.middleware_onion.inject(ExtraDataToPOAMiddleware, layer=0)
    web3.eth.default_account = accounts[0].address
    yield web3
    provider.close()


@pytest.fixture(scope="session")
def deploy(w3: Any) -> Callable[..., Any]:
    """`deploy(artifact_or_abi_bytecode, *args, **tx)`: the deployed contract (web3 Contract); the artifact is a
    dict with `abi` and `bytecode` (solc, Hardhat or Foundry layout), an (abi, bytecode) pair, or a JSON file."""
    from node.testing.helpers import deployer

    return deployer(w3)


@pytest.fixture
def devnet(request: pytest.FixtureRequest) -> Iterator[Any]:
    """A fresh simulated Devnet per test: `--smartchain-validators` genesis validators plus one funded standby node,
    BSC's staking contracts, 10-block epochs; `devnet.w3` talks to node 0, `devnet.run(n)` makes blocks."""
    from node.testing.devnet import TestDevnet

    with TestDevnet(request.config.getoption("smartchain_validators"), standby=DEVNET_STANDBY,
                    epoch=DEVNET_EPOCH) as net:
        yield net


# -- helpers ---------------------------------------------------------------------------------------------------------

@pytest.fixture(scope="session")
def mine(smartchain: Any) -> Callable[[int], int]:
    """`mine(n=1)`: seal n blocks now; the new head's number."""
    from node.testing.helpers import miner

    return miner(smartchain)


@pytest.fixture(scope="session")
def time_travel(smartchain: Any) -> Callable[[int], int]:
    """`time_travel(seconds)`: move the chain's clock forward and seal a block; that block's timestamp."""
    from node.testing.helpers import time_traveller

    return time_traveller(smartchain)


@pytest.fixture(scope="session")
def set_balance(smartchain: Any) -> Callable[[Any, int], None]:
    """`set_balance(address, wei)`: the account's balance, at once (anvil_setBalance)."""
    from node.testing.helpers import balance_setter

    return balance_setter(smartchain)


@pytest.fixture
def impersonate(smartchain: Any) -> Iterator[Callable[[Any], str]]:
    """`impersonate(address)`: eth_sendTransaction may send from it (until the test ends); its checksum address."""
    from node.testing.helpers import Impersonation

    impersonation = Impersonation(smartchain)
    yield impersonation
    impersonation.stop()


@pytest.fixture(scope="session")
def load_fixture(smartchain: Any) -> Callable[[Callable[[], Any]], Any]:
    """`load_fixture(fn)`: run fn once; later calls from the same chain state restore its outcome (Hardhat's
    loadFixture) and return its first result."""
    from node.testing.isolation import FixtureCache

    return FixtureCache(smartchain).load


@pytest.fixture(scope="session")
def reverts() -> Callable[..., Any]:
    """`with reverts(reason | "Error(types)" | panic_code):` (also importable: node.testing.reverts.reverts)."""
    from node.testing.reverts import reverts as reverts_

    return reverts_
