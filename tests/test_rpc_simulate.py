"""eth_simulateV1 on the imported Ethereum chain and on the Parlia dev chain: blocks, calls, overrides, errors."""
import pytest

from ethchain import head_hash, serve_imported

A = "0xc000000000000000000000000000000000000000"
B = "0xc100000000000000000000000000000000000000"
C = "0xc200000000000000000000000000000000000000"
REVERTS = "0x60006000fd"                  # PUSH1 0 PUSH1 0 REVERT
RETURNS_SLOT_0 = "0x60005460005260206000f3"  # SLOAD(0), return it
ECRECOVER = "0x0000000000000000000000000000000000000001"


@pytest.fixture(scope="module")
def eth_rpc(tmp_path_factory):
    with serve_imported(tmp_path_factory.mktemp("ethchain")) as r:
        yield r


def simulate(rpc, blocks, block="latest", **opts):
    return rpc.call("eth_simulateV1", {"blockStateCalls": blocks, **opts}, block)


def transfer(value="0x3e8"):
    return {"stateOverrides": {A: {"balance": "0xde0b6b3a7640000"}},
            "calls": [{"from": A, "to": B, "value": value}]}


def test_blocks_follow_the_head_and_each_other(eth_rpc):
    head = eth_rpc.call("eth_getBlockByNumber", "latest", False)
    first, second = simulate(eth_rpc, [transfer(), {"calls": [{"from": A, "to": B}]}])
    assert first["parentHash"] == "0x" + head_hash().hex() and second["parentHash"] == first["hash"]
    assert int(first["number"], 16) == int(head["number"], 16) + 1 and int(second["number"], 16) == int(
        head["number"], 16) + 2
    assert int(second["timestamp"], 16) - int(first["timestamp"], 16) == 12        # geth's default spacing
    assert first["calls"] == [{"returnData": "0x", "logs": [], "gasUsed": "0x5208", "maxUsedGas": "0x5208",
                               "status": "0x1"}]
    assert first["gasUsed"] == "0x5208" and first["baseFeePerGas"] == "0x0"       # no base fee unless validating
    assert list(first) == sorted(first)


def test_nothing_is_persisted(eth_rpc):
    before = eth_rpc.call("eth_getBalance", B, "latest")
    simulate(eth_rpc, [transfer()])
    assert eth_rpc.call("eth_getBalance", B, "latest") == before
    assert eth_rpc.call("eth_getBlockByNumber", "latest", False)["hash"] == "0x" + head_hash().hex()


def test_state_carries_from_call_to_call_and_block_to_block(eth_rpc):
    code = {B: {"code": RETURNS_SLOT_0, "state": {"0x" + "00" * 32: "0x" + "00" * 31 + "2a"}}}
    [block] = simulate(eth_rpc, [{"stateOverrides": code, "calls": [{"from": A, "to": B}]}])
    assert int(block["calls"][0]["returnData"], 16) == 42
    later = simulate(eth_rpc, [{"stateOverrides": code}, {"calls": [{"from": A, "to": B}]}])
    assert int(later[1]["calls"][0]["returnData"], 16) == 42


def test_revert_is_a_call_error_not_a_request_error(eth_rpc):
    [block] = simulate(eth_rpc, [{"stateOverrides": {B: {"code": REVERTS}}, "calls": [{"from": A, "to": B}]}])
    call = block["calls"][0]
    assert call["status"] == "0x0" and call["returnData"] == "0x"
    assert call["error"]["code"] == 3 and call["error"]["data"] == "0x"


def test_trace_transfers_logs_eth_moves(eth_rpc):
    [plain] = simulate(eth_rpc, [transfer()])
    assert plain["calls"][0]["logs"] == []
    [traced] = simulate(eth_rpc, [transfer()], traceTransfers=True)
    [log] = traced["calls"][0]["logs"]
    assert log["address"] == "0xeeeeeeeeeeeeeeeeeeeeeeeeeeeeeeeeeeeeeeee"
    assert log["topics"][1][-40:] == A[2:] and log["topics"][2][-40:] == B[2:]
    assert int(log["data"], 16) == 0x3e8 and log["blockHash"] == traced["hash"]


def test_a_moved_precompile_answers_at_its_new_address(eth_rpc):
    # ecrecover of an all-zero input recovers nothing: both addresses return empty output, but the moved one is
    # no longer ecrecover at 0x01 (which now runs the given code)
    overrides = {ECRECOVER: {"code": RETURNS_SLOT_0, "movePrecompileToAddress": C}}
    [block] = simulate(eth_rpc, [{"stateOverrides": overrides, "calls": [
        {"from": A, "to": ECRECOVER}, {"from": A, "to": C, "input": "0x" + "00" * 128}]}])
    old, new = block["calls"]
    assert old["returnData"] == "0x" + "00" * 32 and new["status"] == "0x1" and new["returnData"] == "0x"
    error = eth_rpc.error("eth_simulateV1", {"blockStateCalls": [{"stateOverrides": {
        B: {"movePrecompileToAddress": C}}}]}, "latest")
    assert error["code"] == -32000 and "is not a precompile" in error["message"]


@pytest.mark.parametrize("blocks, opts, code", [
    ([{"calls": [{"from": A, "to": B, "value": "0x1"}]}], {}, -38014),                     # no funds
    ([{"calls": [{"from": A, "to": B, "nonce": "0x5"}]}], {"validation": True}, -38011),
    ([{"stateOverrides": {A: {"nonce": "0x3"}}, "calls": [{"from": A, "to": B, "nonce": "0x1"}]}],
     {"validation": True}, -38010),
    ([{"calls": [{"from": A, "to": B, "maxFeePerGas": "0x0"}]}], {"validation": True}, -38012),
    ([transfer(), {"blockOverrides": {"number": "0x1"}}], {}, -38020),
    ([{"blockOverrides": {"time": "0x1"}}], {}, -38021),
    ([{"blockOverrides": {"number": hex(54 + 300)}}], {}, -38026),
    ([{"calls": [{"from": A, "to": B, "gas": "0x1"}]}], {}, -38013),
    ([], {}, -32602),
])
def test_geth_error_codes(eth_rpc, blocks, opts, code):
    assert eth_rpc.error("eth_simulateV1", {"blockStateCalls": blocks, **opts}, "latest")["code"] == code


def test_full_transactions_name_their_senders(eth_rpc):
    [block] = simulate(eth_rpc, [transfer()], returnFullTransactions=True)
    [tx] = block["transactions"]
    assert tx["from"] == A and tx["to"] == B and tx["type"] == "0x2" and tx["blockHash"] == block["hash"]


def test_parlia_dev_chain_simulates_with_the_same_encoders(rpc):
    head = rpc.call("eth_getBlockByNumber", "latest", False)
    [block] = simulate(rpc, [transfer()])
    assert block["parentHash"] == head["hash"] and block["calls"][0]["status"] == "0x1"
    assert set(block) - {"calls"} == set(head)


def test_parlia_dev_chain_has_an_eth_config(rpc):
    current = rpc.call("eth_config")["current"]
    assert current["activationTime"] == 0 and current["blobSchedule"] == {"target": 6, "max": 9,
                                                                          "baseFeeUpdateFraction": 5007716}
    assert int(current["chainId"], 16) == rpc.node.chain_config.chain_id and "BLS12_G1ADD" in current["precompiles"]
    assert rpc.call("eth_baseFee") == "0x0" and rpc.call("eth_blobBaseFee") == "0x1"   # BSC: base fee stays 0
