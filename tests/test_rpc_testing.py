"""testing_buildBlockV1: a block built on the head and returned as an execution payload, never imported."""
import pytest

from chainkit import sign
from ethchain import serve_imported
from rpc.testing import calc_gas_limit
from rpcnode import ALICE, BOB, hx


def attributes(head, **extra):
    return {"timestamp": hex(int(head["timestamp"], 16) + 12), "prevRandao": "0x" + "00" * 32,
            "suggestedFeeRecipient": "0x" + "00" * 20, "withdrawals": [],
            "parentBeaconBlockRoot": "0x" + "ab" * 32, **extra}


@pytest.fixture(scope="module")
def eth_rpc(tmp_path_factory):
    with serve_imported(tmp_path_factory.mktemp("ethchain")) as r:
        yield r


@pytest.mark.parametrize("parent, desired, expected", [
    (200_000_000, 60_000_000, 200_000_000 - (200_000_000 // 1024 - 1)),   # one step down toward the ceiling
    (30_000_000, 60_000_000, 30_000_000 + (30_000_000 // 1024 - 1)),      # one step up
    (60_000_100, 60_000_000, 60_000_000),                                 # no further than the ceiling
    (60_000_000, 60_000_000, 60_000_000),
])
def test_gas_limit_steps_toward_the_ceiling(parent, desired, expected):
    assert calc_gas_limit(parent, desired) == expected


def test_an_empty_block_on_the_imported_head(eth_rpc):
    head = eth_rpc.call("eth_getBlockByNumber", "latest", False)
    envelope = eth_rpc.call("testing_buildBlockV1", head["hash"], attributes(head), [], "0x1234")
    payload = envelope["executionPayload"]
    assert payload["parentHash"] == head["hash"] and int(payload["blockNumber"], 16) == int(head["number"], 16) + 1
    assert payload["transactions"] == [] and payload["gasUsed"] == "0x0" and payload["extraData"] == "0x1234"
    assert int(payload["gasLimit"], 16) == calc_gas_limit(int(head["gasLimit"], 16))
    assert payload["baseFeePerGas"] == eth_rpc.call("eth_baseFee")
    assert envelope["blockValue"] == "0x0" and envelope["shouldOverrideBuilder"] is False
    assert eth_rpc.call("eth_getBlockByNumber", "latest", False)["hash"] == head["hash"]   # nothing imported


def test_only_on_the_head(eth_rpc):
    head = eth_rpc.call("eth_getBlockByNumber", "latest", False)
    error = eth_rpc.error("testing_buildBlockV1", head["parentHash"], attributes(head), [])
    assert error["code"] == -32000 and error["message"] == "parentHash is not current head"


def test_given_transactions_are_included_in_order(rpc):
    """On the Parlia dev chain too: the same builder, the chain's own VM."""
    head = rpc.call("eth_getBlockByNumber", "latest", False)
    nonce = rpc.node.pool.pending_nonce(ALICE.address)
    raws = [hx(sign(ALICE, nonce + i, BOB.address, 1, dynamic=True, gas_price=2 * 10**9)) for i in range(2)]
    envelope = rpc.call("testing_buildBlockV1", head["hash"], attributes(head), raws)
    payload = envelope["executionPayload"]
    assert payload["transactions"] == raws and int(payload["gasUsed"], 16) == 2 * 21000
    base_fee = int(payload["baseFeePerGas"], 16)
    assert int(envelope["blockValue"], 16) == 2 * 21000 * (2 * 10**9 - base_fee)
    assert rpc.call("eth_getBlockByNumber", "latest", False)["hash"] == head["hash"]
    bad = hx(sign(ALICE, nonce + 50, BOB.address, 1))
    assert rpc.error("testing_buildBlockV1", head["hash"], attributes(head), [bad])["code"] == -32000
