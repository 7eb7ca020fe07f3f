"""Dev-mode signing over a real server (eth_sign, personal_sign, eth_signTypedData_v4, eth_signTransaction), checked
by eth-account's recovery and decoding; absent without dev mode."""
import json
from concurrent.futures import ThreadPoolExecutor

import pytest
from eth_account import Account
from eth_account.messages import encode_defunct, encode_typed_data
from eth_utils import to_checksum_address
from web3 import Web3

from node.dev.accounts import dev_accounts
from node.txpool.validation import decode

ACCOUNTS = dev_accounts()
ALICE, BOB = ("0x" + a.address.hex() for a in ACCOUNTS[:2])
STRANGER = "0x" + "11" * 20
GWEI = 10**9

MAIL = {
    "types": {
        "EIP712Domain": [{"name": "name", "type": "string"}, {"name": "version", "type": "string"},
                         {"name": "chainId", "type": "uint256"}, {"name": "verifyingContract", "type": "address"}],
        "Person": [{"name": "name", "type": "string"}, {"name": "wallet", "type": "address"}],
        "Mail": [{"name": "from", "type": "Person"}, {"name": "to", "type": "Person"},
                 {"name": "contents", "type": "string"}],
    },
    "primaryType": "Mail",
    "domain": {"name": "Ether Mail", "version": "1", "chainId": 714,
               "verifyingContract": "0xCcCCccccCCCCcCCCCCCcCcCccCcCCCcCcccccccC"},
    "message": {"from": {"name": "Cow", "wallet": "0xCD2a3d9F938E13CD947Ec05AbC7FE734Df8DD826"},
                "to": {"name": "Bob", "wallet": "0xbBbBBBBbbBBBbbbBbbBbbbbBBbBbbbbBbBbbBBbB"},
                "contents": "Hello, Bob!"},
}


def signature(hex_signature: str) -> bytes:
    raw = bytes.fromhex(hex_signature[2:])
    assert len(raw) == 65 and raw[64] in (27, 28)
    return raw


@pytest.mark.parametrize("data", [b"hello", b"", bytes(range(256))])
def test_eth_sign_is_an_eip191_personal_message(rpc, data):
    sig = signature(rpc.call("eth_sign", ALICE, "0x" + data.hex()))
    message = encode_defunct(primitive=data)
    assert Account.recover_message(message, signature=sig) == to_checksum_address(ALICE)
    assert sig == Account.sign_message(message, ACCOUNTS[0].private_key).signature


def test_personal_sign_takes_data_first(rpc):
    data = "0x" + b"Sign in to the dapp".hex()
    sig = rpc.call("personal_sign", data, BOB)
    assert sig == rpc.call("eth_sign", BOB, data)
    recovered = Account.recover_message(encode_defunct(hexstr=data), signature=signature(sig))
    assert recovered == to_checksum_address(BOB)


def test_sign_typed_data_v4_from_object_or_json_string(rpc):
    sig = rpc.call("eth_signTypedData_v4", ALICE, MAIL)
    assert rpc.call("eth_signTypedData_v4", ALICE, json.dumps(MAIL)) == sig
    message = encode_typed_data(full_message=MAIL)
    assert Account.recover_message(message, signature=signature(sig)) == to_checksum_address(ALICE)
    assert bytes.fromhex(sig[2:]) == Account.sign_message(message, ACCOUNTS[0].private_key).signature


@pytest.mark.parametrize("typed_data", [
    "{not json",
    "[1, 2]",
    7,
    {"types": {}, "primaryType": "Mail", "domain": {}, "message": {}},
    {**MAIL, "message": {"from": "not a person"}},
])
def test_bad_typed_data_is_an_invalid_argument(rpc, typed_data):
    error = rpc.error("eth_signTypedData_v4", ALICE, typed_data)
    assert error["code"] == -32602 and error["message"].startswith("invalid argument 1: ")


def test_typed_data_string_too_deep_for_the_json_parser_is_refused(rpc):
    # CPython's JSON parser recurses on the C stack; at this depth it would crash the process, not raise
    assert rpc.error("eth_signTypedData_v4", ALICE, "[" * 200_000) == {
        "code": -32602, "message": "invalid argument 1: invalid typed data: exceeded max depth"}
    assert rpc.error("eth_signTypedData_v4", ALICE, '{"a": NaN}')["message"] == (
        "invalid argument 1: invalid typed data: invalid character 'N' looking for beginning of value")


def test_sign_transaction_fills_and_signs_as_send_transaction(rpc):
    args = {"from": ALICE, "to": BOB, "value": hex(12345)}
    before = rpc.call("txpool_status")
    signed = rpc.call("eth_signTransaction", args)
    assert rpc.call("txpool_status") == before   # signed, not sent
    raw = bytes.fromhex(signed["raw"][2:])
    assert Account.recover_transaction(raw) == to_checksum_address(ALICE)
    tx = decode(raw)
    nonce = int(rpc.call("eth_getTransactionCount", ALICE, "pending"), 16)
    assert (tx.type_id, tx.chain_id, tx.nonce, tx.gas, tx.value) == (2, 714, nonce, 21000, 12345)
    assert (tx.max_priority_fee_per_gas, tx.max_fee_per_gas) == (GWEI, GWEI)
    assert signed["tx"] == {
        "type": "0x2", "chainId": "0x2ca", "nonce": hex(nonce), "to": BOB, "gas": "0x5208", "gasPrice": None,
        "maxPriorityFeePerGas": hex(GWEI), "maxFeePerGas": hex(GWEI), "value": hex(12345), "input": "0x",
        "accessList": [], "v": hex(tx.y_parity), "r": hex(tx.r), "s": hex(tx.s), "yParity": hex(tx.y_parity),
        "hash": "0x" + tx.hash.hex()}
    assert list(signed["tx"]) == ["type", "chainId", "nonce", "to", "gas", "gasPrice", "maxPriorityFeePerGas",
                                  "maxFeePerGas", "value", "input", "accessList", "v", "r", "s", "yParity", "hash"]
    tx_hash = rpc.call("eth_sendTransaction", args)   # the same filling, and RFC 6979 signatures are deterministic
    assert tx_hash == signed["tx"]["hash"]
    assert rpc.call("eth_getTransactionByHash", tx_hash)["nonce"] == hex(nonce)


def test_concurrent_sends_from_one_account_get_consecutive_nonces(rpc):
    sender = "0x" + ACCOUNTS[3].address.hex()
    first = int(rpc.call("eth_getTransactionCount", sender, "pending"), 16)
    with ThreadPoolExecutor(16) as pool:
        hashes = list(pool.map(lambda i: rpc.call("eth_sendTransaction", {"from": sender, "to": BOB, "value": hex(i)}),
                               range(1, 33)))
    nonces = sorted(int(rpc.call("eth_getTransactionByHash", h)["nonce"], 16) for h in hashes)
    assert nonces == list(range(first, first + 32))


def test_sign_transaction_legacy_and_contract_creation_shapes(rpc):
    legacy = rpc.call("eth_signTransaction", {"from": BOB, "to": ALICE, "gas": "0x7530", "gasPrice": hex(2 * GWEI),
                                              "nonce": "0x9", "input": "0xabcd"})
    tx = decode(bytes.fromhex(legacy["raw"][2:]))
    assert tx.type_id is None and tx.v in (714 * 2 + 35, 714 * 2 + 36)
    assert legacy["tx"] == {
        "type": "0x0", "chainId": "0x2ca", "nonce": "0x9", "to": ALICE, "gas": "0x7530", "gasPrice": hex(2 * GWEI),
        "maxPriorityFeePerGas": None, "maxFeePerGas": None, "value": "0x0", "input": "0xabcd",
        "v": hex(tx.v), "r": hex(tx.r), "s": hex(tx.s), "hash": "0x" + tx.hash.hex()}
    assert list(legacy["tx"]) == ["type", "chainId", "nonce", "to", "gas", "gasPrice", "maxPriorityFeePerGas",
                                  "maxFeePerGas", "value", "input", "v", "r", "s", "hash"]
    create = rpc.call("eth_signTransaction", {"from": BOB, "data": "0x600160005500", "nonce": "0x0"})
    assert create["tx"]["to"] is None and create["tx"]["input"] == "0x600160005500"
    assert int(create["tx"]["gas"], 16) > 53000
    assert Account.recover_transaction(create["raw"]) == to_checksum_address(BOB)


def test_unknown_account_is_refused_by_every_signer(rpc):
    unknown = {"code": -32000, "message": "unknown account"}
    assert rpc.error("eth_sign", STRANGER, "0x00") == unknown
    assert rpc.error("personal_sign", "0x00", STRANGER) == unknown
    assert rpc.error("eth_signTypedData_v4", STRANGER, MAIL) == unknown
    assert rpc.error("eth_signTransaction", {"from": STRANGER, "to": BOB}) == unknown
    assert rpc.error("eth_signTransaction", {"to": BOB}) == unknown


def test_signing_params_follow_geth_rules(rpc):
    assert rpc.error("eth_sign", ALICE, "0x123") == {
        "code": -32602, "message": "invalid argument 1: hex string of odd length"}
    assert rpc.error("personal_sign", ALICE, "0x00")["message"] == (
        "invalid argument 1: hex string has length 2, want 40 for common.Address")
    assert rpc.error("eth_sign", ALICE) == {"code": -32602, "message": "missing value for required argument 1"}
    assert rpc.error("eth_signTransaction", {"from": ALICE, "to": BOB, "chainId": "0x1"}) == {
        "code": -32000, "message": "chainId does not match node's (have=1, want=714)"}


def test_web3_signs_through_the_node(rpc):
    w3 = Web3(Web3.HTTPProvider(rpc.url, request_kwargs={"timeout": 30}))
    sender = to_checksum_address(ALICE)
    sig = w3.eth.sign(sender, text="hi from web3")
    assert Account.recover_message(encode_defunct(text="hi from web3"), signature=sig) == sender
    signed = w3.eth.sign_transaction({"from": sender, "to": to_checksum_address(BOB), "value": 1, "gas": 21000,
                                      "maxFeePerGas": 2 * GWEI, "maxPriorityFeePerGas": GWEI, "nonce": 77})
    assert Account.recover_transaction(signed.raw) == sender
    assert signed.tx["nonce"] == 77 and signed.tx["maxFeePerGas"] == 2 * GWEI
    typed = w3.provider.make_request("eth_signTypedData_v4", [sender, json.dumps(MAIL)])["result"]
    assert Account.recover_message(encode_typed_data(full_message=MAIL), signature=typed) == sender


@pytest.mark.parametrize("method, params", [
    ("eth_sign", [ALICE, "0x00"]),
    ("personal_sign", ["0x00", ALICE]),
    ("eth_signTypedData_v4", [ALICE, MAIL]),
    ("eth_signTransaction", [{"from": ALICE, "to": BOB}]),
])
def test_signers_absent_without_dev_mode(prod_rpc, method, params):
    assert prod_rpc.error(method, *params) == {
        "code": -32601, "message": f"the method {method} does not exist/is not available"}
