"""The txpool namespace over a real server that does not produce blocks: pending and gapped (queued) transactions in
geth's exact shapes (sorted keys, checksummed senders, decimal nonces, inspect lines), and web3.py's geth.txpool."""
import pytest
from eth_utils import to_checksum_address
from web3 import Web3

from chainkit import GWEI, sign
from node.dev.accounts import dev_accounts
from rpc.registry import methods_for
from rpcnode import serve

ACCOUNTS = dev_accounts()
ALICE, BOB, CAROL, DAVE = ACCOUNTS[1:5]
STRANGER = "0x" + "11" * 20
TXPOOL = ("txpool_content", "txpool_contentFrom", "txpool_status", "txpool_inspect")


def checksum(account) -> str:
    return to_checksum_address(account.address)


@pytest.fixture(scope="module")
def pool(rpc):
    """Alice: nonces 0, 1 pending (legacy, EIP-1559) and 3 queued (a contract creation); Bob: nonce 5 queued;
    Carol: nonces 0 to 10 pending."""
    sent = {}
    for account, nonce, kind in [(ALICE, 0, {}), (ALICE, 1, {"dynamic": True, "gas_price": 3 * GWEI}),
                                 (ALICE, 3, {"data": b"\x60\x00", "gas": 60000}), (BOB, 5, {"value": 7})]:
        to = None if "data" in kind else DAVE.address
        sent[account.address, nonce] = rpc.call("eth_sendRawTransaction",
                                                "0x" + sign(account, nonce, to=to, **kind).hex())
    for nonce in range(11):
        sent[CAROL.address, nonce] = rpc.call("eth_sendRawTransaction",
                                              "0x" + sign(CAROL, nonce, to=DAVE.address, value=nonce).hex())
    return sent


def test_status_counts_pending_and_queued(rpc, pool):
    assert rpc.call("txpool_status") == {"pending": "0xd", "queued": "0x2"}


def test_content_is_geths_map_of_pending_transactions(rpc, pool):
    content = rpc.call("txpool_content")
    assert list(content) == ["pending", "queued"]
    assert list(content["pending"]) == sorted([checksum(ALICE), checksum(CAROL)])
    assert list(content["queued"]) == sorted([checksum(ALICE), checksum(BOB)])
    assert list(content["pending"][checksum(ALICE)]) == ["0", "1"]
    assert list(content["pending"][checksum(CAROL)]) == ["0", "1", "10", "2", "3", "4", "5", "6", "7", "8", "9"]
    assert list(content["queued"][checksum(ALICE)]) == ["3"]
    assert list(content["queued"][checksum(BOB)]) == ["5"]
    for part in ("pending", "queued"):
        for sender, txs in content[part].items():
            for nonce, tx in txs.items():
                assert tx == rpc.call("eth_getTransactionByHash", pool[bytes.fromhex(sender[2:]), int(nonce)])
                assert tx["blockHash"] is None and tx["blockNumber"] is None and tx["transactionIndex"] is None
                assert tx["from"] == sender.lower() and tx["nonce"] == hex(int(nonce))
    dynamic = content["pending"][checksum(ALICE)]["1"]
    assert dynamic["type"] == "0x2" and dynamic["gasPrice"] == hex(3 * GWEI)   # a pending tx shows its fee cap
    assert content["queued"][checksum(ALICE)]["3"]["to"] is None


def test_content_from_one_sender(rpc, pool):
    alice = rpc.call("txpool_contentFrom", "0x" + ALICE.address.hex())
    content = rpc.call("txpool_content")
    assert alice == {"pending": content["pending"][checksum(ALICE)], "queued": content["queued"][checksum(ALICE)]}
    assert list(alice) == ["pending", "queued"]
    assert rpc.call("txpool_contentFrom", "0x" + BOB.address.hex()) == {
        "pending": {}, "queued": {"5": content["queued"][checksum(BOB)]["5"]}}
    assert rpc.call("txpool_contentFrom", STRANGER) == {"pending": {}, "queued": {}}
    assert rpc.error("txpool_contentFrom", "0x11") == {
        "code": -32602, "message": "invalid argument 0: hex string has length 2, want 40 for common.Address"}
    assert rpc.error("txpool_contentFrom") == {"code": -32602, "message": "missing value for required argument 0"}


def test_inspect_lines(rpc, pool):
    inspect = rpc.call("txpool_inspect")
    dave = checksum(DAVE)
    assert inspect["pending"][checksum(ALICE)] == {
        "0": f"{dave}: 0 wei + 21000 gas × 1000000000 wei",
        "1": f"{dave}: 0 wei + 21000 gas × 3000000000 wei",
    }
    assert inspect["queued"] == {
        checksum(ALICE): {"3": "contract creation: 0 wei + 60000 gas × 1000000000 wei"},
        checksum(BOB): {"5": f"{dave}: 7 wei + 21000 gas × 1000000000 wei"},
    }
    assert inspect["pending"][checksum(CAROL)]["10"] == f"{dave}: 10 wei + 21000 gas × 1000000000 wei"
    assert list(inspect["pending"][checksum(CAROL)]) == list(rpc.call("txpool_content")["pending"][checksum(CAROL)])


def test_web3_geth_txpool(rpc, pool):
    w3 = Web3(Web3.HTTPProvider(rpc.url, request_kwargs={"timeout": 30}))
    assert w3.geth.txpool.status() == {"pending": "0xd", "queued": "0x2"}   # web3.py leaves geth's hex as is
    content = w3.geth.txpool.content()
    assert content["queued"][checksum(BOB)]["5"]["value"] == "0x7"
    assert w3.geth.txpool.inspect()["queued"][checksum(BOB)]["5"].endswith("7 wei + 21000 gas × 1000000000 wei")


def test_mining_and_filling_the_gap_move_transactions(rpc, pool):
    rpc.node.mine()
    assert rpc.call("txpool_status") == {"pending": "0x0", "queued": "0x2"}
    rpc.call("eth_sendRawTransaction", "0x" + sign(ALICE, 2, to=DAVE.address).hex())
    assert rpc.call("txpool_status") == {"pending": "0x2", "queued": "0x1"}
    assert list(rpc.call("txpool_contentFrom", "0x" + ALICE.address.hex())["pending"]) == ["2", "3"]
    assert rpc.call("txpool_content")["pending"].keys() == {checksum(ALICE)}


def test_txpool_needs_dev_mode_or_the_module_by_name():
    with serve(produce=False, dev=False) as r:
        for method in TXPOOL:
            assert r.error(method) == {"code": -32601, "message": f"the method {method} does not exist/is not available"}
        assert set(TXPOOL) <= set(methods_for(r.node, modules=("txpool",)))
        assert not set(TXPOOL) & set(methods_for(r.node, modules=("eth", "net", "web3")))
