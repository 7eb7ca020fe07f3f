"""A sample test module using the smartchain plugin's fixtures (no conftest): a Vault deployed once for the module,
isolation between tests, load_fixture, reverts, and the chain helpers. Tests are numbered: some check what the one
before them left (or did not leave) behind, so the module runs in file order (under xdist: --dist loadfile)."""
import json
import os
from pathlib import Path

import pytest

from node.testing.reverts import PANIC_DIVISION_BY_ZERO

VAULT = json.loads((Path(__file__).parent / "Vault.json").read_text())
ETHER = 10**18
STRANGER = "0x" + "5e" * 20
runs = {"fixture": 0}


@pytest.fixture(scope="module")
def vault(deploy):
    """Deployed once; every test of this module sees it, and it is gone after the module."""
    return deploy(VAULT)


def record(name, value):
    """Tell the outer test (tests/test_testing_plugin.py) what this worker saw."""
    folder = os.environ.get("SAMPLE_REPORT_DIR")
    if folder:
        worker = os.environ.get("PYTEST_XDIST_WORKER", "main")
        Path(folder, f"{name}-{worker}-{os.getpid()}.json").write_text(json.dumps(value))


def test_01_accounts_are_funded_and_w3_talks_to_the_chain(w3, accounts, smartchain):
    assert len(accounts) == 10
    assert w3.eth.chain_id == 714
    assert all(w3.eth.get_balance(a.address) == 10_000 * ETHER for a in accounts)
    assert w3.eth.default_account == accounts[0].address
    record("vault", {"datadir": str(smartchain.datadir), "head": w3.eth.block_number})


def test_02_a_test_changes_balances(w3, accounts, vault):
    alice, bob = accounts[1], accounts[2]
    w3.eth.send_transaction({"from": alice.address, "to": bob.address, "value": 5 * ETHER})
    vault.functions.deposit().transact({"from": alice.address, "value": 2 * ETHER})
    assert w3.eth.get_balance(bob.address) == 10_005 * ETHER
    assert vault.functions.deposits(alice.address).call() == 2 * ETHER


def test_03_the_next_test_sees_them_unchanged(w3, accounts, vault):
    assert w3.eth.get_balance(accounts[2].address) == 10_000 * ETHER
    assert w3.eth.get_balance(accounts[1].address) == 10_000 * ETHER
    assert vault.functions.deposits(accounts[1].address).call() == 0
    assert w3.eth.get_code(vault.address) != b""   # the module's deployment is still there


@pytest.mark.no_isolation
def test_04_a_no_isolation_test_leaks_on_purpose(set_balance, w3):
    set_balance(STRANGER, 7 * ETHER)
    assert w3.eth.get_balance(w3.to_checksum_address(STRANGER)) == 7 * ETHER


def test_05_and_the_next_test_sees_the_leak(w3):
    assert w3.eth.get_balance(w3.to_checksum_address(STRANGER)) == 7 * ETHER


def funded_vault_fixture(w3, accounts, vault):
    def setup():
        runs["fixture"] += 1
        vault.functions.deposit().transact({"from": accounts[3].address, "value": 3 * ETHER})
        return {"vault": vault, "depositor": accounts[3].address, "head": w3.eth.block_number}
    return setup


def test_06_load_fixture_runs_the_setup_once(w3, accounts, vault, load_fixture):
    setup = funded_vault_fixture(w3, accounts, vault)
    first = load_fixture(setup)
    assert runs["fixture"] == 1
    assert vault.functions.deposits(first["depositor"]).call() == 3 * ETHER
    vault.functions.withdraw(ETHER).transact({"from": first["depositor"]})   # this test's own change
    assert vault.functions.deposits(first["depositor"]).call() == 2 * ETHER
    test_06_load_fixture_runs_the_setup_once.setup = setup


def test_07_load_fixture_later_restores_its_state_without_running_it(w3, vault, load_fixture):
    setup = test_06_load_fixture_runs_the_setup_once.setup
    before = w3.eth.block_number
    again = load_fixture(setup)
    assert runs["fixture"] == 1                                          # not run again
    assert w3.eth.block_number == again["head"] == before + 1            # its block is back
    assert vault.functions.deposits(again["depositor"]).call() == 3 * ETHER   # test 06's withdrawal is not


def test_08_without_load_fixture_its_state_is_absent(vault, accounts):
    assert vault.functions.deposits(accounts[3].address).call() == 0


def test_09_reverts_tells_a_require_string_a_custom_error_and_a_panic_apart(vault, accounts, reverts):
    owner = accounts[0].address
    with reverts("Vault: nothing to deposit"):
        vault.functions.deposit().transact({"value": 0})
    with reverts("Insufficient(address,uint256,uint256)") as revert:
        vault.functions.withdraw(5).call({"from": owner})
    assert revert.args == (owner.lower(), 0, 5)
    with reverts(PANIC_DIVISION_BY_ZERO):
        vault.functions.share(0).call()
    with pytest.raises(AssertionError, match="expected reason 'wrong reason'"):
        with reverts("wrong reason"):
            vault.functions.deposit().transact({"value": 0})
    with pytest.raises(AssertionError, match="nothing reverted"):
        with reverts():
            vault.functions.share(1).call()


def test_10_mine_and_time_travel(w3, mine, time_travel):
    start = w3.eth.get_block("latest")
    assert mine(3) == start.number + 3
    stamp = time_travel(3600)
    assert stamp >= start.timestamp + 3600
    assert w3.eth.get_block("latest").timestamp == stamp


def test_11_impersonate_sends_from_an_address_without_a_key(w3, impersonate, set_balance, vault):
    whale = impersonate(STRANGER)
    set_balance(whale, 100 * ETHER)
    vault.functions.deposit().transact({"from": whale, "value": ETHER})
    assert vault.functions.deposits(whale).call() == ETHER
