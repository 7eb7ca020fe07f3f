"""eth_* answers over a real server and over node.testing's provider, checked field by field against geth's shapes,
on a small mined history:

block 1 deploys the ERC-20; block 2 holds one transaction of each type (0, 1, 2, 4), two of them token transfers;
block 3 three plain transfers paying tips of 3, 1 and 2 gwei; block 4 is empty; one more transaction stays pending.
"""
import pytest
import rlp
from eth_account import Account
from eth_utils import keccak, to_checksum_address

from chainkit import GWEI, TRANSFER_TOPIC, calldata, deploy_token_raw, sign
from node.dev.accounts import dev_accounts
from rpcnode import TRANSPORTS, serve

A = dev_accounts()
OWNER, ALICE, BOB, CAROL, DAVE, EVE, FRANK, GRACE, HENRY = A[1:10]


def hx(b: bytes) -> str:
    return "0x" + b.hex()


def signed(account, **tx) -> bytes:
    tx.setdefault("chainId", 714)
    tx.setdefault("value", 0)
    if "to" in tx:
        tx["to"] = to_checksum_address(tx["to"])
    return bytes(Account.sign_transaction(tx, account.private_key).raw_transaction)


TX_COMMON = ["blockHash", "blockNumber", "blockTimestamp", "from", "gas", "gasPrice"]
TX_MIDDLE = ["hash", "input", "nonce", "to", "transactionIndex", "value", "type"]
TX_KEYS = {
    0: TX_COMMON + TX_MIDDLE + ["chainId", "v", "r", "s"],
    1: TX_COMMON + TX_MIDDLE + ["accessList", "chainId", "v", "r", "s", "yParity"],
    2: TX_COMMON + ["maxFeePerGas", "maxPriorityFeePerGas"] + TX_MIDDLE + ["accessList", "chainId", "v", "r", "s",
                                                                           "yParity"],
    4: TX_COMMON + ["maxFeePerGas", "maxPriorityFeePerGas"] + TX_MIDDLE + ["accessList", "chainId",
                                                                           "authorizationList", "v", "r", "s",
                                                                           "yParity"],
}
BLOCK_KEYS = ["baseFeePerGas", "blobGasUsed", "difficulty", "excessBlobGas", "extraData", "gasLimit", "gasUsed",
              "hash", "logsBloom", "miner", "mixHash", "nonce", "number", "parentBeaconBlockRoot", "parentHash",
              "receiptsRoot", "requestsHash", "sha3Uncles", "size", "stateRoot", "timestamp", "transactions",
              "transactionsRoot", "uncles", "withdrawals", "withdrawalsRoot"]
RECEIPT_KEYS = ["blockHash", "blockNumber", "contractAddress", "cumulativeGasUsed", "effectiveGasPrice", "from",
                "gasUsed", "logs", "logsBloom", "status", "to", "transactionHash", "transactionIndex", "type"]
LOG_KEYS = ["address", "topics", "data", "blockNumber", "transactionHash", "transactionIndex", "blockHash",
            "blockTimestamp", "logIndex", "removed"]


@pytest.fixture(scope="module", params=TRANSPORTS)
def chain(request):
    """Every test here runs in-process, through the JSON-RPC front process (as `smartchain run` serves it) and
    through node.testing's sync and async providers (no HTTP)."""
    with serve(produce=False, transport=request.param) as r:
        node = r.node
        node.send_raw_transaction(deploy_token_raw(OWNER, 0))
        [b1] = node.mine()
        token = node.chain.store.block_metas(b1.hash)[0].contract_address
        auth = Account.sign_authorization({"chainId": 714, "address": hx(token), "nonce": 0}, HENRY.private_key)
        txs = {
            0: node.send_raw_transaction(sign(OWNER, 1, token, data=calldata("transfer(address,uint256)",
                                                                               BOB.address, 300), gas=100_000,
                                              gas_price=2 * GWEI)),
            1: node.send_raw_transaction(signed(BOB, nonce=0, to=CAROL.address, gas=30_000, gasPrice=GWEI,
                                                accessList=[{"address": hx(token), "storageKeys": [hx(b"\0" * 32)]}])),
            2: node.send_raw_transaction(sign(OWNER, 2, token, data=calldata("transfer(address,uint256)",
                                                                               ALICE.address, 700), gas=100_000,
                                              gas_price=GWEI, dynamic=True)),
            4: node.send_raw_transaction(signed(CAROL, type=4, nonce=0, to=BOB.address, gas=100_000,
                                                maxFeePerGas=3 * GWEI, maxPriorityFeePerGas=GWEI,
                                                authorizationList=[auth])),
        }
        [b2] = node.mine()
        for sender, tip in ((DAVE, 3), (EVE, 1), (FRANK, 2)):
            node.send_raw_transaction(sign(sender, 0, GRACE.address, 1, gas_price=tip * GWEI, dynamic=True))
        [b3] = node.mine()
        node.mine()
        pending = node.send_raw_transaction(sign(GRACE, 0, ALICE.address, 5, gas_price=4 * GWEI, dynamic=True))
        r.token, r.txs, r.blocks, r.pending = token, txs, (b1, b2, b3), pending
        yield r


def test_transactions_of_each_type_have_geths_fields(chain):
    b2 = chain.blocks[1]
    for kind, tx_hash in chain.txs.items():
        tx = chain.call("eth_getTransactionByHash", hx(tx_hash))
        assert list(tx) == TX_KEYS[kind], kind
        assert tx["type"] == hex(kind) and tx["hash"] == hx(tx_hash)
        assert tx["blockHash"] == hx(b2.hash) and tx["blockNumber"] == "0x2"
        assert tx["blockTimestamp"] == hex(b2.header.timestamp)
        assert tx["chainId"] == "0x2ca"
        if kind:
            assert tx["v"] == tx["yParity"] in ("0x0", "0x1")
        else:
            assert int(tx["v"], 16) in (714 * 2 + 35, 714 * 2 + 36)
    legacy = chain.call("eth_getTransactionByHash", hx(chain.txs[0]))
    assert legacy["from"] == hx(OWNER.address) and legacy["to"] == hx(chain.token)
    assert legacy["gasPrice"] == hex(2 * GWEI)
    access = chain.call("eth_getTransactionByHash", hx(chain.txs[1]))
    assert access["accessList"] == [{"address": hx(chain.token), "storageKeys": ["0x" + "00" * 32]}]
    dynamic = chain.call("eth_getTransactionByHash", hx(chain.txs[2]))
    assert dynamic["gasPrice"] == hex(GWEI) and dynamic["maxFeePerGas"] == hex(GWEI)
    setcode = chain.call("eth_getTransactionByHash", hx(chain.txs[4]))
    assert setcode["gasPrice"] == hex(GWEI)   # effective: min(fee cap, base fee 0 + tip)
    [auth] = setcode["authorizationList"]
    assert list(auth) == ["chainId", "address", "nonce", "yParity", "r", "s"]
    assert auth["address"] == hx(chain.token) and auth["chainId"] == "0x2ca" and auth["nonce"] == "0x0"
    assert chain.call("eth_getCode", hx(HENRY.address)) == "0xef0100" + chain.token.hex()


def test_pending_transaction_has_null_block_fields(chain):
    tx = chain.call("eth_getTransactionByHash", hx(chain.pending))
    assert list(tx) == TX_KEYS[2]
    assert [tx[k] for k in ("blockHash", "blockNumber", "blockTimestamp", "transactionIndex")] == [None] * 4
    assert tx["gasPrice"] == tx["maxFeePerGas"] == hex(4 * GWEI)
    assert chain.call("eth_getTransactionReceipt", hx(chain.pending)) is None
    assert chain.call("eth_getTransactionByHash", "0x" + "00" * 32) is None
    assert chain.call("eth_getTransactionReceipt", "0x" + "00" * 32) is None


def test_nonce_latest_and_pending(chain):
    assert chain.call("eth_getTransactionCount", hx(GRACE.address), "latest") == "0x0"
    assert chain.call("eth_getTransactionCount", hx(GRACE.address), "pending") == "0x1"
    assert chain.call("eth_getTransactionCount", hx(OWNER.address)) == "0x3"
    assert chain.call("eth_getTransactionCount", hx(OWNER.address), "0x1") == "0x1"


def test_blocks_with_hashes_and_full_transactions(chain):
    b2 = chain.blocks[1]
    by_number = chain.call("eth_getBlockByNumber", "0x2", False)
    assert list(by_number) == BLOCK_KEYS
    assert "totalDifficulty" not in by_number
    assert by_number["hash"] == hx(b2.hash) and by_number["number"] == "0x2"
    assert by_number["transactions"] == [hx(tx.hash) for tx in b2.transactions]
    assert by_number["size"] == hex(len(rlp.encode(b2)))
    assert by_number["baseFeePerGas"] == "0x0" and by_number["uncles"] == [] and by_number["withdrawals"] == []
    assert by_number["miner"] == hx(A[0].address) and by_number["difficulty"] in ("0x1", "0x2")
    assert by_number["logsBloom"] == hx(b2.header.bloom.to_bytes(256, "big"))
    full = chain.call("eth_getBlockByHash", hx(b2.hash), True)
    assert {k: v for k, v in full.items() if k != "transactions"} == {
        k: v for k, v in by_number.items() if k != "transactions"}
    assert [tx["hash"] for tx in full["transactions"]] == by_number["transactions"]
    assert full["transactions"] == [chain.call("eth_getTransactionByHash", h) for h in by_number["transactions"]]
    assert chain.call("eth_getBlockByNumber", "latest", False)["number"] == "0x4"


def test_counts_and_index_lookups(chain):
    b2 = chain.blocks[1]
    assert chain.call("eth_getBlockTransactionCountByNumber", "0x2") == "0x4"
    assert chain.call("eth_getBlockTransactionCountByHash", hx(b2.hash)) == "0x4"
    assert chain.call("eth_getBlockTransactionCountByNumber", "0x4") == "0x0"
    assert chain.call("eth_getBlockTransactionCountByNumber", "0x99") is None
    second = chain.call("eth_getTransactionByBlockNumberAndIndex", "0x2", "0x1")
    assert second == chain.call("eth_getTransactionByBlockHashAndIndex", hx(b2.hash), "0x1")
    assert second["hash"] == hx(b2.transactions[1].hash) and second["transactionIndex"] == "0x1"
    assert chain.call("eth_getTransactionByBlockNumberAndIndex", "0x2", "0x4") is None
    assert chain.call("eth_getUncleCountByBlockNumber", "0x2") == "0x0"


def test_receipts_and_logs(chain):
    b1, b2, _ = chain.blocks
    deploy = chain.call("eth_getTransactionReceipt", hx(b1.transactions[0].hash))
    assert list(deploy) == RECEIPT_KEYS
    assert deploy["contractAddress"] == hx(chain.token) and deploy["to"] is None and deploy["status"] == "0x1"
    [mint] = deploy["logs"]
    assert list(mint) == LOG_KEYS and mint["removed"] is False and mint["logIndex"] == "0x0"
    receipts = chain.call("eth_getBlockReceipts", "0x2")
    assert receipts == [chain.call("eth_getTransactionReceipt", hx(tx.hash)) for tx in b2.transactions]
    assert [r["type"] for r in receipts] == [hex(tx.type_id or 0) for tx in b2.transactions]
    assert all(r["contractAddress"] is None for r in receipts)
    cumulative = 0
    for index, r in enumerate(receipts):
        cumulative += int(r["gasUsed"], 16)
        assert r["cumulativeGasUsed"] == hex(cumulative) and r["transactionIndex"] == hex(index)
    logs = [log for r in receipts for log in r["logs"]]
    assert [log["logIndex"] for log in logs] == ["0x0", "0x1"]   # numbered across the block
    assert all(log["topics"][0] == hx(TRANSFER_TOPIC) and log["blockHash"] == hx(b2.hash) for log in logs)
    assert chain.call("eth_getBlockReceipts", hx(b2.hash)) == receipts
    assert chain.call("eth_getBlockReceipts", "0x4") == []
    assert chain.call("eth_getBlockReceipts", "0x99") is None


def topic(address: bytes) -> str:
    return hx(address.rjust(32, b"\0"))


def test_get_logs_filters(chain):
    token = hx(chain.token)
    everything = chain.call("eth_getLogs", {"fromBlock": "earliest"})
    assert len(everything) == 3
    assert chain.call("eth_getLogs", {"fromBlock": "0x0", "address": token}) == everything
    assert chain.call("eth_getLogs", {"fromBlock": "0x0", "address": [hx(b"\1" * 20), token]}) == everything
    assert chain.call("eth_getLogs", {"fromBlock": "0x0", "address": hx(b"\1" * 20)}) == []
    to_alice = chain.call("eth_getLogs", {"fromBlock": "0x0", "topics": [None, None, topic(ALICE.address)]})
    assert [log["data"] for log in to_alice] == [hx((700).to_bytes(32, "big"))]
    either = chain.call("eth_getLogs", {"fromBlock": "0x0", "topics": [
        hx(TRANSFER_TOPIC), None, [topic(ALICE.address), topic(BOB.address)]]})
    assert len(either) == 2
    assert chain.call("eth_getLogs", {"fromBlock": "0x0", "topics": [hx(keccak(text="Nope()"))]}) == []
    assert chain.call("eth_getLogs", {"fromBlock": "0x0", "topics": [[hx(TRANSFER_TOPIC), None]]}) == everything
    assert chain.call("eth_getLogs", {"blockHash": hx(chain.blocks[1].hash)}) == everything[1:]
    assert chain.call("eth_getLogs", {"fromBlock": "0x1", "toBlock": "0x1"}) == everything[:1]
    assert chain.call("eth_getLogs", {}) == []   # latest only: block 4 is empty


@pytest.mark.parametrize("criteria, code, message", [
    ({"fromBlock": "0x3", "toBlock": "0x2"}, -32602, "invalid block range params"),
    ({"fromBlock": "0x0", "toBlock": "0x99"}, -32602, "block range extends beyond current head block"),
    ({"fromBlock": "pending"}, -32602, "pending logs are not supported"),
    ({"blockHash": "0x" + "ab" * 32}, -32000, "unknown block"),
])
def test_get_logs_errors(chain, criteria, code, message):
    assert chain.error("eth_getLogs", criteria) == {"code": code, "message": message}


def test_get_logs_range_limit(chain, monkeypatch):
    monkeypatch.setattr("rpc.logs.MAX_BLOCK_RANGE", 2)
    assert chain.error("eth_getLogs", {"fromBlock": "0x0", "toBlock": "0x4"}) == {
        "code": -32602, "message": "exceed maximum block range 2"}


def test_fee_history_rewards_weighted_by_gas(chain):
    history = chain.call("eth_feeHistory", "0x1", "0x3", [0, 33, 34, 100])
    # three 21000-gas transfers with tips 1, 2, 3 gwei: 33% of the gas is within the first, 34% reaches the second
    assert history["reward"] == [[hex(GWEI), hex(GWEI), hex(2 * GWEI), hex(3 * GWEI)]]
    assert history["oldestBlock"] == "0x3"
    assert history["baseFeePerGas"] == ["0x0", "0x0"]
    assert history["gasUsedRatio"] == [63000 / 40_000_000]
    whole = chain.call("eth_feeHistory", 100, "latest", [50])
    assert whole["oldestBlock"] == "0x0" and len(whole["gasUsedRatio"]) == 5 and len(whole["baseFeePerGas"]) == 6
    assert whole["reward"][0] == ["0x0"] and whole["reward"][4] == ["0x0"]   # empty blocks
    assert list(chain.call("eth_feeHistory", "0x2", "latest")) == [
        "oldestBlock", "baseFeePerGas", "gasUsedRatio", "baseFeePerBlobGas", "blobGasUsedRatio"]


@pytest.mark.parametrize("params, message", [
    (["0x1", "latest", [20, 10]], "invalid reward percentile: #0:20.000000 >= #1:10.000000"),
    (["0x1", "latest", [101]], "invalid reward percentile: 101.000000"),
    (["0x1", "0x99", []], "request beyond head block: requested 153, head 4"),
])
def test_fee_history_errors(chain, params, message):
    assert chain.error("eth_feeHistory", *params) == {"code": -32000, "message": message}


def test_state_reads_at_blocks(chain):
    token = hx(chain.token)
    assert chain.call("eth_getCode", token, "0x0") == "0x"
    assert chain.call("eth_getCode", token).startswith("0x60")
    total_supply_slot = chain.call("eth_getStorageAt", token, "0x2")   # name, symbol, totalSupply
    assert int(total_supply_slot, 16) == 10**24 and len(total_supply_slot) == 66
    balance_call = {"to": token, "data": hx(calldata("balanceOf(address)", ALICE.address))}
    assert int(chain.call("eth_call", balance_call, "0x1"), 16) == 0
    assert int(chain.call("eth_call", balance_call, {"blockHash": hx(chain.blocks[1].hash)}), 16) == 700
    assert chain.call("web3_sha3", "0x") == hx(keccak(b""))


def test_call_gas_is_capped(chain):
    balance_call = {"to": hx(chain.token), "data": hx(calldata("balanceOf(address)", ALICE.address)),
                    "gas": hex(2**60)}
    assert int(chain.call("eth_call", balance_call), 16) == 700


@pytest.mark.parametrize("raw, message", [
    (lambda: sign(HENRY, 1, ALICE.address, 1, chain_id=1), "invalid sender"),
    (lambda: sign(HENRY, 1, ALICE.address, 1, gas=20_000), "intrinsic gas too low"),
    (lambda: sign(HENRY, 1, ALICE.address, 1, gas_price=GWEI // 2), "transaction underpriced"),
    (lambda: sign(HENRY, 1, ALICE.address, 10**30), "insufficient funds for gas * price + value"),
    (lambda: b"\x05\x01", "transaction type not supported"),
])
def test_send_raw_transaction_pool_errors(chain, raw, message):
    error = chain.error("eth_sendRawTransaction", hx(raw()))
    assert error["code"] == -32000 and error["message"].startswith(message)
