"""Polling filters over a real server and over node.testing's provider (the same answers): raw JSON for each method,
geth's errors and expiry, then web3.py v8's filters (contract event filter, block filter, pending filter) against an
automining node."""
import time

import pytest
from eth_utils import to_checksum_address

from chainkit import TOKEN, TRANSFER_TOPIC
from rpcnode import ALICE, BOB, CAROL, GETH_ID, OWNER, attach, deploy_token, head, hx, send, serve, transfer


@pytest.fixture(scope="module")
def rpc(any_rpc):
    """Every test here runs in-process, through the JSON-RPC front process and through both providers."""
    return any_rpc


@pytest.fixture(scope="module")
def token(rpc) -> bytes:
    return deploy_token(rpc)


def test_ids_are_geths_random_quantities(rpc):
    ids = {rpc.call("eth_newBlockFilter") for _ in range(20)}
    assert len(ids) == 20 and all(GETH_ID.fullmatch(i) for i in ids)


def test_block_filter_reports_each_new_block_once(rpc):
    fid = rpc.call("eth_newBlockFilter")
    assert rpc.call("eth_getFilterChanges", fid) == []
    blocks = rpc.node.mine(2)
    assert rpc.call("eth_getFilterChanges", fid) == [hx(b.hash) for b in blocks]
    assert rpc.call("eth_getFilterChanges", fid) == []
    assert rpc.call("eth_getBlockByNumber", "latest", False)["hash"] == hx(blocks[-1].hash)


def test_pending_filter_reports_hashes_or_whole_transactions(rpc):
    hashes_id = rpc.call("eth_newPendingTransactionFilter")
    full_id = rpc.call("eth_newPendingTransactionFilter", True)
    assert rpc.call("eth_getFilterChanges", hashes_id) == []
    tx_hash = send(rpc, ALICE, to=BOB.address, value=5)
    pending = rpc.call("eth_getTransactionByHash", tx_hash)
    assert pending["blockHash"] is None
    assert rpc.call("eth_getFilterChanges", hashes_id) == [tx_hash]
    assert rpc.call("eth_getFilterChanges", full_id) == [pending]
    assert rpc.call("eth_getFilterChanges", hashes_id) == []
    rpc.node.mine()
    assert rpc.call("eth_getFilterChanges", hashes_id) == []   # mined, not newly pending


def test_log_filter_reports_new_matching_logs(rpc, token):
    mine = rpc.call("eth_newFilter", {"address": hx(token), "topics": [hx(TRANSFER_TOPIC)]})
    to_carol = rpc.call("eth_newFilter", {"topics": [None, None, hx(CAROL.address.rjust(32, b"\0"))]})
    elsewhere = rpc.call("eth_newFilter", {"address": hx(b"\x42" * 20)})
    transfer(rpc, token, ALICE.address, 1)
    transfer(rpc, token, CAROL.address, 2)
    [b] = rpc.node.mine()
    logs = rpc.call("eth_getLogs", {"blockHash": hx(b.hash)})
    assert len(logs) == 2
    assert rpc.call("eth_getFilterChanges", mine) == logs
    assert rpc.call("eth_getFilterChanges", to_carol) == logs[1:]
    assert rpc.call("eth_getFilterChanges", elsewhere) == []
    assert rpc.call("eth_getFilterChanges", mine) == []


def test_log_filter_keeps_to_its_block_range(rpc, token):
    wanted = head(rpc) + 2
    fid = rpc.call("eth_newFilter", {"fromBlock": hex(wanted), "toBlock": hex(wanted), "address": hx(token)})
    since = rpc.call("eth_newFilter", {"fromBlock": hex(wanted), "address": hx(token)})
    blocks = []
    for amount in (1, 2, 3):
        transfer(rpc, token, BOB.address, amount)
        blocks += rpc.node.mine()
    assert [b.number for b in blocks] == [wanted - 1, wanted, wanted + 1]
    changes = rpc.call("eth_getFilterChanges", fid)
    assert [int(x["blockNumber"], 16) for x in changes] == [wanted]
    assert [int(x["blockNumber"], 16) for x in rpc.call("eth_getFilterChanges", since)] == [wanted, wanted + 1]


def test_filter_logs_are_get_logs_with_the_criteria(rpc, token):
    transfer(rpc, token, ALICE.address, 7)
    rpc.node.mine()
    crit = {"fromBlock": "0x0", "address": hx(token), "topics": [hx(TRANSFER_TOPIC)]}
    fid = rpc.call("eth_newFilter", crit)
    logs = rpc.call("eth_getFilterLogs", fid)
    assert logs == rpc.call("eth_getLogs", crit) and len(logs) >= 2
    assert rpc.call("eth_getFilterChanges", fid) == []   # old logs are not changes
    assert rpc.call("eth_getFilterLogs", fid) == logs
    latest = rpc.call("eth_newFilter", {"address": hx(token)})
    assert rpc.call("eth_getFilterLogs", latest) == rpc.call("eth_getLogs", {"address": hx(token)})


def test_uninstall(rpc):
    fid = rpc.call("eth_newPendingTransactionFilter")
    assert rpc.call("eth_uninstallFilter", fid) is True
    assert rpc.call("eth_uninstallFilter", fid) is False
    assert rpc.error("eth_getFilterChanges", fid) == {"code": -32000, "message": "filter not found"}


@pytest.mark.parametrize("method, params, code, message", [
    ("eth_getFilterChanges", ["0x1234"], -32000, "filter not found"),
    ("eth_getFilterLogs", ["0x1234"], -32000, "filter not found"),
    ("eth_getFilterChanges", [7], -32602, "invalid argument 0: cannot unmarshal number into rpc.ID"),
    ("eth_getFilterChanges", [], -32602, "missing value for required argument 0"),
    ("eth_uninstallFilter", ["0x1", "0x2"], -32602, "too many arguments, want at most 1"),
    ("eth_newFilter", [], -32602, "missing value for required argument 0"),
    ("eth_newFilter", [{"fromBlock": "pending"}], -32602, "pending logs are not supported"),
    ("eth_newFilter", [{"toBlock": "pending"}], -32602, "pending logs are not supported"),
    ("eth_newFilter", [{"fromBlock": "0x5", "toBlock": "0x2"}], -32602, "invalid block range params"),
    ("eth_newFilter", [{"fromBlock": "latest", "toBlock": "0x2"}], -32602, "invalid block range params"),
    ("eth_newFilter", [{"fromBlock": "0x1", "toBlock": "safe"}], -32602, "invalid block range params"),
    ("eth_newFilter", [{"topics": [None] * 5}], -32602, "invalid argument 0: exceed max topics"),
    ("eth_newPendingTransactionFilter", ["yes"], -32602, "invalid argument 0: cannot unmarshal string into bool"),
])
def test_errors(rpc, method, params, code, message):
    assert rpc.error(method, *params) == {"code": code, "message": message}


def test_filter_logs_of_a_block_filter_is_not_found(rpc):
    assert rpc.error("eth_getFilterLogs", rpc.call("eth_newBlockFilter"))["message"] == "filter not found"
    assert rpc.call("eth_uninstallFilter", "0xdead") is False


def test_filters_expire_unless_polled(rpc):
    # a second app on the same node with short-lived filters: an HTTP server in this process (the front's own spawn
    # costs seconds and answers filters from the node's app all the same), or a second provider
    with attach(rpc.node, "in-process" if rpc.transport == "front" else rpc.transport, filter_timeout=0.6) as short:
        polled, idle = short.call("eth_newBlockFilter"), short.call("eth_newFilter", {})
        for _ in range(3):
            time.sleep(0.3)
            assert short.call("eth_getFilterChanges", polled) == []
        assert short.error("eth_getFilterChanges", idle) == {"code": -32000, "message": "filter not found"}
        assert short.call("eth_uninstallFilter", idle) is False
        time.sleep(0.7)
        assert short.error("eth_getFilterChanges", polled)["message"] == "filter not found"
    assert rpc.error("eth_getFilterChanges", polled)["message"] == "filter not found"   # each app has its own


@pytest.mark.parametrize("transport", ["in-process", "provider"])
def test_filters_are_served_without_dev_mode(transport):
    with serve(produce=False, dev=False, transport=transport) as r:
        assert "error" in r.request("eth_accounts")
        fid = r.call("eth_newBlockFilter")
        [b] = r.node.mine()
        assert r.call("eth_getFilterChanges", fid) == [hx(b.hash)]


# -- web3.py v8 on an automining node --

@pytest.fixture(scope="module", params=["in-process", "provider"])
def auto_w3(request):
    """web3.py over HTTP and over the provider, each on its own automining node (not named `w3`: that is the
    smartchain plugin's fixture)."""
    with serve(block_time=0, transport=request.param) as r:
        yield r.web3()


def wait(w3, tx_hash):
    return w3.eth.wait_for_transaction_receipt(tx_hash, timeout=10, poll_latency=0.05)


def test_web3_contract_event_filter(auto_w3):
    owner, alice = to_checksum_address(OWNER.address), to_checksum_address(ALICE.address)
    factory = auto_w3.eth.contract(abi=TOKEN["abi"], bytecode=TOKEN["bytecode"])
    receipt = wait(auto_w3, factory.constructor("Test", "TST", 10**24).transact({"from": owner}))
    token = auto_w3.eth.contract(address=receipt.contractAddress, abi=TOKEN["abi"])
    event_filter = token.events.Transfer.create_filter(from_block="latest")
    assert event_filter.get_new_entries() == []
    first = wait(auto_w3, token.functions.transfer(alice, 700).transact({"from": owner}))
    second = wait(auto_w3, token.functions.transfer(alice, 5).transact({"from": owner}))
    entries = event_filter.get_new_entries()
    assert [(e.event, e.args["from"], e.args.to, e.args.value) for e in entries] == [
        ("Transfer", owner, alice, 700), ("Transfer", owner, alice, 5)]
    assert [e.transactionHash for e in entries] == [first.transactionHash, second.transactionHash]
    assert event_filter.get_new_entries() == []
    assert [e.args.value for e in event_filter.get_all_entries()] == [5]   # fromBlock latest: the head's logs
    bob = to_checksum_address(BOB.address)
    to_bob = token.events.Transfer.create_filter(from_block=0, argument_filters={"to": bob})
    wait(auto_w3, token.functions.transfer(bob, 9).transact({"from": owner}))
    assert [e.args.value for e in to_bob.get_new_entries()] == [9]
    assert auto_w3.eth.uninstall_filter(to_bob.filter_id) is True


def test_web3_block_and_pending_filters(auto_w3):
    blocks, pending = auto_w3.eth.filter("latest"), auto_w3.eth.filter("pending")
    carol, bob = to_checksum_address(CAROL.address), to_checksum_address(BOB.address)
    tx_hash = auto_w3.eth.send_transaction({"from": carol, "to": bob, "value": 1})
    receipt = wait(auto_w3, tx_hash)
    assert receipt.blockHash in blocks.get_new_entries()
    assert tx_hash in pending.get_new_entries()
    assert pending.get_new_entries() == []
