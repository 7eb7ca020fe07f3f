"""anvil's and Hardhat's dev methods over a real server and over node.testing's provider (the same answers): mining on
demand, mining modes, time travel, snapshots and reverts, state edits, impersonation; each absent outside dev mode."""
import time

import pytest
from web3 import AsyncWeb3, Web3

from chainkit import calldata, token_balance
from rpc import dev
from rpcnode import ALICE, BOB, OWNER, deploy_token, head, hx, send, serve, transfer

STRANGER = "0x" + "5e" * 20
WHALE = "0x" + "77" * 20   # an address nobody holds a key for
# HTTP served here and both providers: a node per test, and a front process per test would cost seconds each
TRANSPORTS = ["in-process", "provider", "async-provider"]
over_each = pytest.mark.parametrize("transport", TRANSPORTS)


@pytest.fixture(params=TRANSPORTS)
def r(request):
    """A fresh dev node per test: these methods change the chain under every other test's feet."""
    with serve(produce=False, transport=request.param) as node:
        yield node


@pytest.fixture(scope="module", params=TRANSPORTS)
def prod(request):
    """A node outside dev mode (no unlocked accounts, no dev-only namespaces), one per module and transport."""
    with serve(produce=False, dev=False, transport=request.param) as node:
        yield node


def block(r, number="latest") -> dict:
    return r.call("eth_getBlockByNumber", number, False)


# -- mining --

def test_evm_mine_seals_a_block_now_and_answers_0x0(r):
    assert r.call("evm_mine") == "0x0"
    assert head(r) == 1
    parent_time = int(block(r)["timestamp"], 16)
    assert r.call("evm_mine", parent_time + 100) == "0x0"
    assert int(block(r)["timestamp"], 16) == parent_time + 100
    assert r.call("evm_mine", {"blocks": 3}) == "0x0"
    assert head(r) == 5


def test_anvil_and_hardhat_mine_space_blocks_by_the_interval(r):
    assert r.call("anvil_mine", "0x3", "0x10") is None
    times = [int(block(r, hex(n))["timestamp"], 16) for n in (1, 2, 3)]
    assert times[1] - times[0] == 16 and times[2] - times[1] == 16
    assert r.call("hardhat_mine", 2) is None
    assert head(r) == 5


def test_evm_mine_includes_pending_transactions(r):
    tx = send(r, ALICE, to=BOB.address, value=5)
    r.call("evm_mine")
    assert r.call("eth_getTransactionReceipt", tx)["blockNumber"] == "0x1"


def test_mining_more_blocks_than_one_request_may_is_refused(r):
    error = r.error("anvil_mine", hex(10**6))
    assert error["code"] == -32000 and "cannot mine more than" in error["message"]
    assert head(r) == 0


@over_each
def test_automine_switches_off_and_on(transport):
    with serve(block_time=0, transport=transport) as r:   # automine, production loop running
        assert r.call("anvil_getAutomine") is True
        assert r.call("evm_setAutomine", False) is None
        assert r.call("hardhat_getAutomine") is False
        before = head(r)
        manual = send(r, ALICE, to=BOB.address, value=1)
        r.call("evm_mine")
        # mined by our evm_mine, not by an automine block before it
        assert r.call("eth_getTransactionReceipt", manual)["blockNumber"] == hex(before + 1)
        r.call("evm_setAutomine", True)
        auto = send(r, ALICE, to=BOB.address, value=2)
        assert wait_for_receipt(r, auto)["status"] == "0x1"


@over_each
def test_interval_mining_makes_empty_blocks_until_switched_off(transport):
    with serve(block_time=0, transport=transport) as r:
        r.call("evm_setIntervalMining", 1)
        assert r.call("anvil_getAutomine") is False
        start = head(r)
        wait_until(lambda: head(r) >= start + 2)
        r.call("evm_setIntervalMining", 0)
        stopped = head(r)
        tx = send(r, ALICE, to=BOB.address, value=1)
        r.call("evm_mine")   # with interval mining off and automine off, only evm_mine makes the block
        assert int(r.call("eth_getTransactionReceipt", tx)["blockNumber"], 16) <= stopped + 2


def wait_for_receipt(r, tx_hash: str, timeout: float = 30) -> dict:
    wait_until(lambda: r.call("eth_getTransactionReceipt", tx_hash) is not None, timeout)
    return r.call("eth_getTransactionReceipt", tx_hash)


def wait_until(condition, timeout: float = 30) -> None:
    deadline = time.monotonic() + timeout
    while not condition():
        assert time.monotonic() < deadline, "condition not reached in time"
        time.sleep(0.05)


# -- time --

def test_evm_increase_time_moves_the_next_block_forward(r):
    r.call("evm_mine")
    before = int(block(r)["timestamp"], 16)
    assert r.call("evm_increaseTime", 3600) == 3600
    assert r.call("evm_increaseTime", "0x3c") == 3660     # the total offset, as anvil answers
    r.call("evm_mine")
    assert int(block(r)["timestamp"], 16) >= before + 3660


def test_evm_set_next_block_timestamp_then_time_goes_on_from_there(r):
    target = int(block(r)["timestamp"], 16) + 10_000
    assert r.call("evm_setNextBlockTimestamp", target) is None
    r.call("evm_mine")
    assert int(block(r)["timestamp"], 16) == target
    r.call("evm_mine")
    assert target < int(block(r)["timestamp"], 16) < target + 60


def test_a_next_timestamp_before_the_period_allows_is_refused(r):
    r.call("evm_mine")
    parent = int(block(r)["timestamp"], 16)
    error = r.error("evm_setNextBlockTimestamp", parent)
    assert error["code"] == -32000 and error["message"].startswith(f"Timestamp error: {parent} is lower than")
    assert r.error("evm_setNextBlockTimestamp", 2**63)["message"].startswith("Timestamp error")
    assert r.error("evm_increaseTime", hex(2**70))["code"] == -32000


# -- snapshots --

def test_evm_revert_restores_blocks_state_indexes_and_time(r):
    token = deploy_token(r)
    snap = r.call("evm_snapshot")
    assert snap == "0x0"
    at_snapshot = head(r)
    r.call("evm_increaseTime", 1000)
    tx = transfer(r, token, ALICE.address, 50)
    r.node.mine(3)
    assert token_balance(r.node, token, ALICE.address) == 50
    assert r.call("evm_snapshot") == "0x1"

    assert r.call("evm_revert", snap) is True
    assert head(r) == at_snapshot
    assert block(r, hex(at_snapshot + 1)) is None
    assert r.call("eth_getTransactionReceipt", tx) is None
    assert r.call("eth_getTransactionByHash", tx) is None
    assert token_balance(r.node, token, ALICE.address) == 0
    assert r.node.clock.offset_ms == 0
    # the snapshot was used up, and so was the later one
    assert r.call("evm_revert", snap) is False
    assert r.call("evm_revert", "0x1") is False
    # the chain goes on from the snapshot, and the same transfer mines again
    assert r.call("evm_snapshot") == "0x2"
    again = transfer(r, token, ALICE.address, 50)
    r.call("evm_mine")
    assert r.call("eth_getTransactionReceipt", again)["blockNumber"] == hex(at_snapshot + 1)
    assert token_balance(r.node, token, ALICE.address) == 50


def test_revert_to_an_earlier_snapshot_skips_the_later_ones(r):
    first = r.call("evm_snapshot")
    r.call("evm_mine")
    r.call("anvil_snapshot")
    r.call("evm_mine")
    assert r.call("anvil_revert", first) is True
    assert head(r) == 0
    assert r.call("evm_revert", "0x1") is False


def test_revert_keeps_pool_transactions_against_the_older_state(r):
    snap = r.call("evm_snapshot")
    send(r, ALICE, to=BOB.address, value=1)
    r.call("evm_mine")
    r.call("evm_revert", snap)
    # alice's nonce is 0 again: a new nonce-0 transfer is accepted and mines
    tx = send(r, ALICE, to=BOB.address, value=2)
    r.call("evm_mine")
    assert r.call("eth_getTransactionReceipt", tx)["status"] == "0x1"


# -- state edits --

def test_set_balance_nonce_code_and_storage_show_at_latest_without_a_block(r):
    r.call("evm_mine")
    assert r.call("anvil_setBalance", STRANGER, hex(10**21)) is None
    assert r.call("hardhat_setBalance", WHALE, "0x00ff") is None   # leading zeros, as anvil accepts
    assert r.call("anvil_setNonce", STRANGER, "0x7") is None
    assert r.call("anvil_setCode", STRANGER, "0x6001600055") is None
    assert r.call("anvil_setStorageAt", STRANGER, "0x2", "0x" + "00" * 31 + "2a") is True
    assert head(r) == 1
    assert r.call("eth_getBalance", STRANGER, "latest") == hex(10**21)
    assert r.call("eth_getBalance", WHALE, "latest") == "0xff"
    assert r.call("eth_getTransactionCount", STRANGER, "latest") == "0x7"
    assert r.call("eth_getCode", STRANGER, "latest") == "0x6001600055"
    assert r.call("eth_getStorageAt", STRANGER, "0x2", "latest") == "0x" + "00" * 31 + "2a"
    assert r.call("eth_getBalance", STRANGER, "earliest") == "0x0"   # older blocks keep their state
    # the next block carries the edits in its state root, and they stay
    r.call("evm_mine")
    assert r.call("eth_getBalance", STRANGER, "0x2") == hex(10**21)
    assert r.call("eth_getStorageAt", STRANGER, "0x2", "0x2") == "0x" + "00" * 31 + "2a"
    state = r.node.chain.state_at()
    assert state.state_root == r.node.chain.head.state_root


def test_set_code_is_callable_and_set_storage_is_read_by_eth_call(r):
    # runtime: return storage slot 0 (PUSH1 0 SLOAD PUSH1 0 MSTORE PUSH1 32 PUSH1 0 RETURN)
    r.call("anvil_setCode", STRANGER, "0x60005460005260206000f3")
    r.call("anvil_setStorageAt", STRANGER, "0x0", "0x" + "00" * 31 + "07")
    assert r.call("eth_call", {"to": STRANGER}, "latest") == "0x" + "00" * 31 + "07"


def test_a_funded_balance_lets_the_pool_take_the_account_s_transaction(r):
    from eth_account import Account
    poor = Account.create()
    r.call("anvil_setBalance", poor.address, hex(10**18))
    raw = Account.sign_transaction({"nonce": 0, "to": Web3.to_checksum_address(BOB.address),
                                    "value": 1, "gas": 21000, "gasPrice": 10**9, "chainId": 714},
                                   poor.key).raw_transaction
    tx = r.call("eth_sendRawTransaction", "0x" + bytes(raw).hex())
    r.call("evm_mine")
    assert r.call("eth_getTransactionReceipt", tx)["status"] == "0x1"


def test_dev_method_parameters_are_checked(r):
    assert r.error("anvil_setBalance", "0x1234", "0x1")["code"] == -32602
    assert r.error("anvil_setBalance", STRANGER, "lots")["code"] == -32602
    assert r.error("anvil_setBalance", STRANGER, hex(2**256))["code"] == -32602
    assert r.error("anvil_setStorageAt", STRANGER, "0x0", "0x01")["code"] == -32602
    assert r.error("anvil_setNonce", STRANGER, hex(2**64))["code"] == -32000
    assert r.error("evm_mine", {"blocks": 1, "when": 5})["code"] == -32602
    assert r.error("evm_revert")["code"] == -32602


# -- impersonation --

def test_impersonated_account_sends_without_a_key(r):
    r.call("anvil_setBalance", WHALE, hex(10**20))
    assert r.call("anvil_impersonateAccount", WHALE) is None
    tx = r.call("eth_sendTransaction", {"from": WHALE, "to": hx(BOB.address), "value": hex(10**18)})
    r.call("evm_mine")
    receipt = r.call("eth_getTransactionReceipt", tx)
    assert receipt["status"] == "0x1" and receipt["from"] == WHALE
    assert r.call("eth_getTransactionByHash", tx)["from"] == WHALE
    assert r.call("eth_getTransactionCount", WHALE, "latest") == "0x1"
    assert int(r.call("eth_getBalance", WHALE, "latest"), 16) < 10**20 - 10**18
    assert r.call("anvil_stopImpersonatingAccount", WHALE) is None
    assert r.error("eth_sendTransaction", {"from": WHALE, "to": hx(BOB.address)})["message"] == "unknown account"


def test_impersonated_contract_call_and_hardhat_names(r):
    token = deploy_token(r)
    owner = hx(OWNER.address)
    # OWNER's key is a dev account here, but impersonating works for a token holder the node has no key for too
    r.call("eth_sendTransaction", {"from": owner, "to": hx(token),
                                   "data": hx(calldata("transfer(address,uint256)", bytes.fromhex(WHALE[2:]), 500))})
    r.call("evm_mine")
    r.call("anvil_setBalance", WHALE, hex(10**18))
    r.call("hardhat_impersonateAccount", WHALE)
    tx = r.call("eth_sendTransaction", {"from": WHALE, "to": hx(token),
                                        "data": hx(calldata("transfer(address,uint256)", ALICE.address, 200))})
    r.call("evm_mine")
    assert r.call("eth_getTransactionReceipt", tx)["status"] == "0x1"
    assert token_balance(r.node, token, ALICE.address) == 200
    r.call("hardhat_stopImpersonatingAccount", WHALE)


def test_auto_impersonation_lets_any_address_send(r):
    r.call("anvil_setBalance", STRANGER, hex(10**18))
    assert r.error("eth_sendTransaction", {"from": STRANGER, "to": hx(BOB.address)})["message"] == "unknown account"
    r.call("anvil_autoImpersonateAccount", True)
    tx = r.call("eth_sendTransaction", {"from": STRANGER, "to": hx(BOB.address), "value": "0x1"})
    r.call("evm_mine")
    assert r.call("eth_getTransactionReceipt", tx)["from"] == STRANGER


@pytest.mark.parametrize("transport", ["in-process", "provider"])   # AsyncWeb3 on the async provider: below
def test_web3py_drives_snapshots_and_impersonation(transport):
    with serve(produce=False, transport=transport) as r:
        drive_snapshots_and_impersonation(r.web3())


def test_async_web3py_drives_snapshots_and_impersonation():
    with serve(produce=False, transport="async-provider") as r:
        r.run(adrive_snapshots_and_impersonation(r.async_web3()))


def drive_snapshots_and_impersonation(w3: Web3) -> None:
    whale = Web3.to_checksum_address(WHALE)
    snap = w3.provider.make_request("evm_snapshot", [])["result"]
    w3.provider.make_request("anvil_setBalance", [whale, hex(10**19)])
    w3.provider.make_request("anvil_impersonateAccount", [whale])
    tx = w3.eth.send_transaction({"from": whale, "to": Web3.to_checksum_address(hx(BOB.address)), "value": 10**18})
    w3.provider.make_request("evm_mine", [])
    assert w3.eth.get_transaction_receipt(tx)["from"] == whale
    assert w3.provider.make_request("evm_revert", [snap])["result"] is True
    assert w3.eth.get_balance(whale) == 0
    assert w3.eth.block_number == 0


async def adrive_snapshots_and_impersonation(w3: AsyncWeb3) -> None:
    whale = Web3.to_checksum_address(WHALE)
    snap = (await w3.provider.make_request("evm_snapshot", []))["result"]
    await w3.provider.make_request("anvil_setBalance", [whale, hex(10**19)])
    await w3.provider.make_request("anvil_impersonateAccount", [whale])
    tx = await w3.eth.send_transaction({"from": whale, "to": Web3.to_checksum_address(hx(BOB.address)),
                                        "value": 10**18})
    await w3.provider.make_request("evm_mine", [])
    assert (await w3.eth.get_transaction_receipt(tx))["from"] == whale
    assert (await w3.provider.make_request("evm_revert", [snap]))["result"] is True
    assert await w3.eth.get_balance(whale) == 0
    assert await w3.eth.block_number == 0


# -- outside dev mode --

@pytest.mark.parametrize("method", sorted(dev.METHODS))
def test_dev_methods_are_absent_outside_dev_mode(prod, method):
    assert prod.error(method) == {"code": -32601, "message": f"the method {method} does not exist/is not available"}


def test_an_endless_eth_call_is_aborted_after_geth_s_5_s_and_the_node_goes_on(r):
    r.call("anvil_setCode", STRANGER, "0x5b600056")   # JUMPDEST PUSH1 0 JUMP
    error = r.error("eth_call", {"to": STRANGER, "gas": hex(10**9)}, "latest")
    assert error == {"code": -32000, "message": "execution aborted (timeout = 5s)"}
    assert r.call("eth_blockNumber") == "0x0"


def test_eth_get_proof_on_our_chain_verifies_against_the_block_state_root(r):
    import rlp
    from eth_hash.auto import keccak
    from trie import HexaryTrie
    r.call("anvil_setStorageAt", STRANGER, "0x5", "0x" + "00" * 31 + "09")
    r.call("anvil_setBalance", STRANGER, "0x1234")
    r.call("evm_mine")
    root = bytes.fromhex(block(r)["stateRoot"][2:])
    proof = r.call("eth_getProof", STRANGER, ["0x5"], "latest")
    nodes = [rlp.decode(bytes.fromhex(n[2:])) for n in proof["accountProof"]]
    nonce, balance, storage_root, code_hash = rlp.decode(
        HexaryTrie.get_from_proof(root, keccak(bytes.fromhex(STRANGER[2:])), nodes))
    assert int.from_bytes(balance, "big") == int(proof["balance"], 16) == 0x1234
    assert "0x" + storage_root.hex() == proof["storageHash"]
    [slot] = proof["storageProof"]
    value = HexaryTrie.get_from_proof(storage_root, keccak((5).to_bytes(32, "big")),
                                      [rlp.decode(bytes.fromhex(n[2:])) for n in slot["proof"]])
    assert int.from_bytes(rlp.decode(value), "big") == int(slot["value"], 16) == 9
