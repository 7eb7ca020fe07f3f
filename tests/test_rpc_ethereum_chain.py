"""A node serving the execution-apis chain (no Parlia), started on a data dir that `import` filled."""
import pytest

from ethchain import head_hash, serve_imported


@pytest.fixture(scope="module")
def eth_rpc(tmp_path_factory):
    with serve_imported(tmp_path_factory.mktemp("ethchain")) as r:
        yield r


def test_head_is_also_safe_and_finalized(eth_rpc):
    """No consensus client says otherwise: after an import the head is safe and finalized."""
    latest = eth_rpc.call("eth_getBlockByNumber", "latest", False)
    assert latest["hash"] == "0x" + head_hash().hex()
    for tag in ("safe", "finalized"):
        assert eth_rpc.call("eth_getBlockByNumber", tag, False)["hash"] == latest["hash"]
    assert eth_rpc.call("eth_blockNumber") == latest["number"]


def test_blocks_of_every_era_are_served(eth_rpc):
    """Proof-of-work blocks keep their uncles and seals, merged ones have difficulty 0 and the fork fields."""
    blocks = [eth_rpc.call("eth_getBlockByNumber", hex(n), False) for n in range(1, 55)]
    assert any(b["uncles"] for b in blocks[:35])
    assert all(int(b["difficulty"], 16) > 0 for b in blocks[:35])
    assert all(b["difficulty"] == "0x0" and b["nonce"] == "0x0000000000000000" for b in blocks[35:])
    assert "baseFeePerGas" not in blocks[25] and "baseFeePerGas" in blocks[26]       # London at 27
    assert "requestsHash" in blocks[-1] and "withdrawalsRoot" in blocks[-1]
    for parent, child in zip(blocks, blocks[1:]):
        assert child["parentHash"] == parent["hash"]


# -- methods and fields the execution-apis fixtures use, checked against the chain itself --

import json  # noqa: E402

import rlp  # noqa: E402
from eth_utils import keccak  # noqa: E402
from trie import HexaryTrie  # noqa: E402

from ethchain import genesis_file  # noqa: E402
from ethchain import tests_dir as spec_tests  # noqa: E402
from node.chain.blobgas import fake_exponential  # noqa: E402


def _block(eth_rpc, number, full=True):
    return eth_rpc.call("eth_getBlockByNumber", hex(number), full)


def _find_tx(eth_rpc, kind):
    for number in range(1, 55):
        for tx in _block(eth_rpc, number)["transactions"]:
            if tx["type"] == kind:
                return tx
    raise AssertionError(f"no type {kind} transaction in the chain")


def test_receipts_before_byzantium_carry_the_state_root(eth_rpc):
    tx = _block(eth_rpc, 3)["transactions"][0]                 # Byzantium is block 9 on this chain
    receipt = eth_rpc.call("eth_getTransactionReceipt", tx["hash"])
    assert "status" not in receipt and len(receipt["root"]) == 66
    later = eth_rpc.call("eth_getBlockReceipts", "0x2d")
    assert all("root" not in r and r["status"] in ("0x0", "0x1") for r in later)
    assert list(receipt) == sorted(receipt)                   # a Go map: keys in order


def test_blob_receipt_has_blob_gas_and_its_price(eth_rpc):
    tx = _find_tx(eth_rpc, "0x3")
    receipt = eth_rpc.call("eth_getTransactionReceipt", tx["hash"])
    assert int(receipt["blobGasUsed"], 16) == 2**17 * len(tx["blobVersionedHashes"])
    header = eth_rpc.call("eth_getBlockByNumber", receipt["blockNumber"], False)
    fraction = _fraction_at(int(header["timestamp"], 16))
    assert int(receipt["blobGasPrice"], 16) == fake_exponential(1, int(header["excessBlobGas"], 16), fraction)


def _fraction_at(timestamp):
    config = json.loads(genesis_file().read_text())["config"]
    active = [name for key, name in (("cancunTime", "cancun"), ("pragueTime", "prague"), ("bpo1Time", "bpo1"),
                                     ("bpo2Time", "bpo2")) if config[key] <= timestamp]
    return config["blobSchedule"][active[-1]]["baseFeeUpdateFraction"]


def test_empty_topic_position_is_a_wildcard(eth_rpc):
    every = eth_rpc.call("eth_getLogs", {"fromBlock": "0x0", "toBlock": "latest"})
    with_two = [log for log in every if len(log["topics"]) >= 2]
    assert with_two
    second = with_two[0]["topics"][1]
    found = eth_rpc.call("eth_getLogs", {"fromBlock": "0x0", "toBlock": "latest", "topics": [[], [second]]})
    assert found == [log for log in with_two if log["topics"][1] == second]


def test_base_fee_is_the_next_blocks(eth_rpc):
    head = _block(eth_rpc, 54, False)
    base, used, limit = (int(head[k], 16) for k in ("baseFeePerGas", "gasUsed", "gasLimit"))
    target = limit // 2
    if used > target:
        expected = base + max(base * (used - target) // target // 8, 1)
    else:
        expected = base - base * (target - used) // target // 8
    assert int(eth_rpc.call("eth_baseFee"), 16) == expected


def test_blob_base_fee_is_the_heads(eth_rpc):
    head = _block(eth_rpc, 54, False)
    expected = fake_exponential(1, int(head["excessBlobGas"], 16), _fraction_at(int(head["timestamp"], 16)))
    assert int(eth_rpc.call("eth_blobBaseFee"), 16) == expected


def test_fee_history_reaches_back_before_cancun(eth_rpc):
    history = eth_rpc.call("eth_feeHistory", "0x3", "0x1b", [50])
    assert history["oldestBlock"] == "0x19" and history["baseFeePerBlobGas"] == ["0x0"] * 4
    assert history["blobGasUsedRatio"] == [0, 0, 0]


def test_get_proof_verifies_against_the_state_root(eth_rpc):
    head = _block(eth_rpc, 54, False)
    root = bytes.fromhex(head["stateRoot"][2:])
    # a contract whose slot 0 holds a value at the head
    alloc = json.loads(genesis_file().read_text())["alloc"]
    contract = next("0x" + a.lower().removeprefix("0x") for a, acct in alloc.items() if acct.get("code") and int(
        eth_rpc.call("eth_getStorageAt", "0x" + a.lower().removeprefix("0x"), "0x0"), 16))
    proof = eth_rpc.call("eth_getProof", contract, ["0x00", "0x" + "00" * 32], "latest")
    address = bytes.fromhex(contract[2:])
    nodes = [rlp.decode(bytes.fromhex(n[2:])) for n in proof["accountProof"]]
    account = rlp.decode(HexaryTrie.get_from_proof(root, keccak(address), nodes))
    assert int.from_bytes(account[1], "big") == int(eth_rpc.call("eth_getBalance", contract), 16)
    assert account[2].hex() == proof["storageHash"][2:]
    assert [p["key"] for p in proof["storageProof"]] == ["0x0", "0x" + "00" * 32]   # geth's key echo rule
    slot = proof["storageProof"][0]
    value = HexaryTrie.get_from_proof(account[2], keccak(b"\0" * 32),
                                      [rlp.decode(bytes.fromhex(n[2:])) for n in slot["proof"]])
    assert int.from_bytes(rlp.decode(value), "big") == int(slot["value"], 16) == int(
        eth_rpc.call("eth_getStorageAt", contract, "0x0"), 16)


def test_get_proof_of_a_missing_account(eth_rpc):
    proof = eth_rpc.call("eth_getProof", "0x" + "ab" * 20, ["0x1"])
    assert proof["balance"] == "0x0" and proof["codeHash"] == "0x" + "00" * 32
    assert proof["storageProof"] == [{"key": "0x1", "value": "0x0", "proof": []}]
    assert proof["accountProof"]          # the nodes that prove the absence


def test_get_storage_values_matches_get_storage_at(eth_rpc):
    contract = "0x7dcd17433742f4c0ca53122ab541d0ba67fc27df"
    other = "0x" + "cd" * 20
    slots = ["0x" + "00" * 32, "0x" + "00" * 31 + "01"]
    values = eth_rpc.call("eth_getStorageValues", {other: slots[:1], contract: slots}, "latest")
    assert list(values) == sorted(values)
    assert values[contract] == [eth_rpc.call("eth_getStorageAt", contract, s) for s in slots]
    assert values[other] == ["0x" + "00" * 32]
    assert eth_rpc.error("eth_getStorageValues", {}, "latest")["code"] == -32602


def test_raw_block_header_transaction_and_receipts(eth_rpc):
    block = _block(eth_rpc, 45)                                   # Prague: a set-code transaction
    raw_block = bytes.fromhex(eth_rpc.call("debug_getRawBlock", "0x2d")[2:])
    assert keccak(rlp.encode(rlp.decode(raw_block)[0])).hex() == block["hash"][2:]
    raw_header = bytes.fromhex(eth_rpc.call("debug_getRawHeader", "0x2d")[2:])
    assert keccak(raw_header).hex() == block["hash"][2:]
    for tx in block["transactions"]:
        raw = bytes.fromhex(eth_rpc.call("debug_getRawTransaction", tx["hash"])[2:])
        assert keccak(raw).hex() == tx["hash"][2:] and (raw[0] == int(tx["type"], 16) or tx["type"] == "0x0")
    receipts = [bytes.fromhex(r[2:]) for r in eth_rpc.call("debug_getRawReceipts", "0x2d")]
    receipt_trie = HexaryTrie({})
    for index, receipt in enumerate(receipts):
        receipt_trie[rlp.encode(index)] = receipt
    assert receipt_trie.root_hash.hex() == block["receiptsRoot"][2:]
    assert eth_rpc.call("debug_getRawReceipts", "0x0") == []
    assert eth_rpc.call("debug_getRawTransaction", "0x" + "00" * 32) == "0x"


def test_config_describes_the_fork_at_the_head(eth_rpc):
    config = json.loads(genesis_file().read_text())["config"]
    answer = eth_rpc.call("eth_config")
    current = answer["current"]
    assert current["activationTime"] == config["bpo2Time"] and answer["next"] is None and answer["last"] is None
    assert current["blobSchedule"] == config["blobSchedule"]["bpo2"]
    assert int(current["chainId"], 16) == config["chainId"]
    recorded = json.loads(spec_tests().joinpath("eth_config", "get-config.io").read_text().splitlines()[-1][2:])
    assert current["forkId"] == recorded["result"]["current"]["forkId"]      # EIP-2124, as geth computes it
    assert current["systemContracts"] == recorded["result"]["current"]["systemContracts"]
    # the precompiles py-evm's VM really runs (Prague's: no Osaka P256VERIFY)
    assert current["precompiles"]["ECREC"] == "0x" + "00" * 19 + "01" and "P256VERIFY" not in current["precompiles"]


def test_capabilities_report_full_history(eth_rpc):
    answer = eth_rpc.call("eth_capabilities")
    assert answer["head"]["hash"] == "0x" + head_hash().hex()
    assert all(answer[r] == {"disabled": False, "oldestBlock": "0x0"} for r in ("state", "logs", "stateproofs"))


def test_calls_that_pay_nothing_ignore_the_base_fee(eth_rpc):
    """geth's NoBaseFee: a call without fee fields runs although the block has a base fee, and sees BASEFEE 0."""
    assert int(_block(eth_rpc, 54, False)["baseFeePerGas"], 16) > 0
    returns_basefee = "0x4860005260206000f3"       # init code: BASEFEE PUSH1 0 MSTORE PUSH1 32 PUSH1 0 RETURN
    assert int(eth_rpc.call("eth_call", {"data": returns_basefee}), 16) == 0
    assert eth_rpc.call("eth_estimateGas", {"from": "0x" + "11" * 20, "to": "0x" + "22" * 20}) == "0x5208"
    paying = eth_rpc.error("eth_call", {"from": "0x" + "11" * 20, "to": "0x" + "22" * 20, "gasPrice": "0x1"})
    assert "base fee" in paying["message"] or "max fee per gas" in paying["message"]


def test_trace_block_traces_each_transaction(eth_rpc):
    block = _block(eth_rpc, 45, False)
    traces = eth_rpc.call("debug_traceBlockByNumber", "0x2d", {"disableStorage": True})
    assert [t["txHash"] for t in traces] == block["transactions"]
    for entry in traces:
        assert entry["result"] == eth_rpc.call("debug_traceTransaction", entry["txHash"], {"disableStorage": True})
    by_hash = eth_rpc.call("debug_traceBlockByHash", block["hash"], {"tracer": "callTracer"})
    assert [t["result"]["type"] for t in by_hash] and len(by_hash) == len(traces)
    assert eth_rpc.error("debug_traceBlockByNumber", "0x0")["message"] == "genesis is not traceable"
    missing = "0x" + "00" * 31 + "01"
    assert eth_rpc.error("debug_traceBlockByHash", missing)["message"] == f"block {missing} not found"


def test_create_access_list(eth_rpc):
    plain = eth_rpc.call("eth_createAccessList", {"from": "0x" + "11" * 20, "to": "0x" + "22" * 20, "value": "0x0"})
    assert plain == {"accessList": [], "gasUsed": "0x5208"}
    # a contract that reads its storage: its slots are listed, and the list is a fixed point
    alloc = json.loads(genesis_file().read_text())["alloc"]
    contract = next("0x" + a.lower().removeprefix("0x") for a, acct in alloc.items() if acct.get("code") and int(
        eth_rpc.call("eth_getStorageAt", "0x" + a.lower().removeprefix("0x"), "0x0"), 16))
    args = {"from": "0x" + "11" * 20, "to": contract, "input": "0x010203040506", "gas": "0xea60"}
    first = eth_rpc.call("eth_createAccessList", args)
    assert first["accessList"] and all(len(k) == 66 for e in first["accessList"] for k in e["storageKeys"])
    again = eth_rpc.call("eth_createAccessList", {**args, "accessList": first["accessList"]})
    assert again["accessList"] == first["accessList"] and int(again["gasUsed"], 16) > 21000


def test_create_access_list_reports_a_revert(eth_rpc):
    reverting = "0x60006000fd"
    answer = eth_rpc.call("eth_createAccessList", {"from": "0x" + "11" * 20, "input": reverting})
    assert answer["error"] == "execution reverted" and answer["accessList"] == []
