"""The wall time of one small realistic test module, the same tests on both backends: deploy the ERC-20 once per
module, then 50 tests of transfers, approvals and reverts, each isolated by snapshot and revert.

Ours uses the pytest plugin's fixtures (w3, accounts, deploy, reverts; isolation is the plugin's). eth-tester's
module carries its own fixtures, as a user of EthereumTesterProvider writes them (a session w3, a module-scoped
deployment, an autouse take_snapshot / revert_to_snapshot per test) and runs with the plugin disabled. Each runs
with `python -m pytest -q` in a fresh directory; the figure is the subprocess's wall time (interpreter start and
imports included, the same for both).
"""
from __future__ import annotations

import shutil
import subprocess
import sys
import tempfile
import time
from pathlib import Path

TESTS = 50
TOKEN = Path(__file__).resolve().parents[1] / "contracts" / "build" / "Token.json"

_HEADER = '''
import json
from pathlib import Path

import pytest

TOKEN = json.loads((Path(__file__).parent / "Token.json").read_text())
SUPPLY = 10**24
'''

_COMMON = '''


def _transfer(token, sender, to, amount):
    token.functions.transfer(to, amount).transact({"from": sender})


@pytest.mark.parametrize("amount", range(1, 21))
def test_transfer(w3, token, accounts_, amount):
    owner, alice = accounts_[0], accounts_[1]
    _transfer(token, owner, alice, amount)
    assert token.functions.balanceOf(alice).call() == amount
    assert token.functions.balanceOf(owner).call() == SUPPLY - amount


@pytest.mark.parametrize("amount", range(1, 16))
def test_approve_and_transfer_from(token, accounts_, amount):
    owner, alice, bob = accounts_[:3]
    token.functions.approve(alice, amount).transact({"from": owner})
    token.functions.transferFrom(owner, bob, amount).transact({"from": alice})
    assert token.functions.balanceOf(bob).call() == amount
    assert token.functions.allowance(owner, alice).call() == 0


@pytest.mark.parametrize("extra", range(1, 16))
def test_reverts(token, accounts_, extra):
    owner, alice = accounts_[:2]
    with reverted("ERC20: insufficient allowance"):
        token.functions.transferFrom(owner, alice, extra).call({"from": alice})
    with reverted(None):
        token.functions.transfer(owner, extra).call({"from": alice})
'''

OURS = _HEADER + '''
from node.testing.reverts import reverts as reverted


@pytest.fixture(scope="module")
def token(deploy):
    return deploy(TOKEN, "Bench", "BCH", SUPPLY)


@pytest.fixture(scope="session")
def accounts_(accounts):
    return [a.address for a in accounts]
''' + _COMMON

ETH_TESTER = _HEADER + '''
from contextlib import contextmanager

from eth_tester.exceptions import TransactionFailed
from web3 import EthereumTesterProvider, Web3
from web3.exceptions import ContractLogicError


@contextmanager
def reverted(reason):
    # eth-tester raises its own TransactionFailed for a custom error it cannot word
    with pytest.raises((ContractLogicError, TransactionFailed)) as info:
        yield
    if reason is not None:
        assert reason in str(info.value)


@pytest.fixture(scope="session")
def provider():
    return EthereumTesterProvider()


@pytest.fixture(scope="session")
def w3(provider):
    return Web3(provider)


@pytest.fixture(scope="session")
def accounts_(w3):
    return w3.eth.accounts


@pytest.fixture(scope="module")
def token(w3, provider, accounts_):
    snapshot = provider.ethereum_tester.take_snapshot()
    factory = w3.eth.contract(abi=TOKEN["abi"], bytecode=TOKEN["bytecode"])
    receipt = w3.eth.wait_for_transaction_receipt(
        factory.constructor("Bench", "BCH", SUPPLY).transact({"from": accounts_[0]}))
    yield w3.eth.contract(address=receipt.contractAddress, abi=TOKEN["abi"])
    provider.ethereum_tester.revert_to_snapshot(snapshot)


@pytest.fixture(autouse=True)
def isolate(provider, token):
    snapshot = provider.ethereum_tester.take_snapshot()
    yield
    provider.ethereum_tester.revert_to_snapshot(snapshot)
''' + _COMMON


def module_wall_time(backend: str) -> float:
    """Seconds for `python -m pytest -q` over the 50-test module on `backend` ("smartchain" or "eth_tester")."""
    folder = Path(tempfile.mkdtemp(prefix="smartchain-bench-module-"))
    try:
        shutil.copy(TOKEN, folder / "Token.json")
        (folder / "test_token.py").write_text(OURS if backend == "smartchain" else ETH_TESTER)
        plugin = [] if backend == "smartchain" else ["-p", "no:smartchain"]
        started = time.perf_counter()
        result = subprocess.run([sys.executable, "-m", "pytest", "-q", "-p", "no:cacheprovider", *plugin],
                                cwd=folder, capture_output=True, text=True, timeout=900)
        elapsed = time.perf_counter() - started
        if result.returncode != 0 or f"{TESTS} passed" not in result.stdout:
            raise RuntimeError(f"the {backend} test module failed:\n{result.stdout[-3000:]}{result.stderr[-2000:]}")
        return elapsed
    finally:
        shutil.rmtree(folder, ignore_errors=True)
