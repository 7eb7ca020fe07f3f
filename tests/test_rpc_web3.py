"""web3.py v8 over HTTP and over node.testing's provider (the same answers and exceptions) against a real automining
node: the flows wallets and scripts use, end to end."""
import time

import pytest
from eth_abi import decode
from eth_account import Account
from eth_utils import function_signature_to_4byte_selector, keccak, to_checksum_address
from web3.exceptions import ContractCustomError, ContractLogicError, Web3RPCError

from chainkit import GWEI, TOKEN, calldata
from node.dev.accounts import dev_accounts
from rpcnode import serve

ACCOUNTS = dev_accounts()
OWNER, ALICE, BOB, CAROL = (to_checksum_address(a.address) for a in ACCOUNTS[:4])
INSUFFICIENT_BALANCE = function_signature_to_4byte_selector("InsufficientBalance(address,uint256,uint256)")


@pytest.fixture(scope="module", params=["in-process", "provider"])
def rpc(request):
    """An automining node served over HTTP in this process, then one answered by the provider."""
    with serve(block_time=0, transport=request.param) as r:
        yield r


@pytest.fixture(scope="module")
def rpc_w3(rpc):
    """web3.py over `rpc`'s transport, PoA middleware injected (not named `w3`: that is the smartchain plugin's)."""
    return rpc.web3()


@pytest.fixture(scope="module")
def token(rpc_w3):
    factory = rpc_w3.eth.contract(abi=TOKEN["abi"], bytecode=TOKEN["bytecode"])
    tx_hash = factory.constructor("Test", "TST", 10**24).transact({"from": OWNER})
    receipt = rpc_w3.eth.wait_for_transaction_receipt(tx_hash, timeout=10, poll_latency=0.05)
    assert receipt.status == 1 and receipt.contractAddress
    return rpc_w3.eth.contract(address=receipt.contractAddress, abi=TOKEN["abi"])


def wait(w3, tx_hash):
    return w3.eth.wait_for_transaction_receipt(tx_hash, timeout=10, poll_latency=0.05)


def test_chain_basics(rpc_w3):
    assert rpc_w3.is_connected()
    assert rpc_w3.eth.chain_id == 714
    assert rpc_w3.net.version == "714"
    assert rpc_w3.client_version == "smartchain/v0.1.0/python"
    assert rpc_w3.eth.get_balance(OWNER) > 0
    assert rpc_w3.eth.accounts[:2] == [OWNER, ALICE]
    assert rpc_w3.eth.gas_price == GWEI
    assert rpc_w3.eth.syncing is False
    latest = rpc_w3.eth.get_block("latest")
    assert latest.number == rpc_w3.eth.block_number and latest.baseFeePerGas == 0


def test_deploy_transfer_and_read_events(rpc_w3, token):
    assert token.functions.balanceOf(OWNER).call() == 10**24
    assert token.functions.symbol().call() == "TST"
    tx_hash = token.functions.transfer(ALICE, 700).transact({"from": OWNER})
    receipt = wait(rpc_w3, tx_hash)
    assert receipt.status == 1
    assert token.functions.balanceOf(ALICE).call() == 700
    [event] = token.events.Transfer().process_receipt(receipt)
    assert (event.args["from"], event.args.to, event.args.value) == (OWNER, ALICE, 700)
    logs = token.events.Transfer.get_logs(from_block=0, argument_filters={"to": ALICE})
    assert [(e.args.value, e.blockNumber, e.transactionHash) for e in logs] == [
        (700, receipt.blockNumber, receipt.transactionHash)]
    raw = rpc_w3.eth.get_logs({"fromBlock": 0, "toBlock": "latest", "address": token.address,
                           "topics": [keccak(text="Transfer(address,address,uint256)")]})
    assert len(raw) >= 2   # the mint in the constructor and this transfer
    assert all(log.address == token.address for log in raw)


def test_custom_error_from_call_and_estimate(rpc_w3, token):
    for attempt in (token.functions.transfer(BOB, 1).call, token.functions.transfer(BOB, 1).estimate_gas):
        with pytest.raises(ContractCustomError) as info:
            attempt({"from": CAROL})
        data = bytes.fromhex(info.value.data[2:])
        assert data[:4] == INSUFFICIENT_BALANCE
        assert decode(["address", "uint256", "uint256"], data[4:]) == (CAROL.lower(), 0, 1)


def test_require_string_from_call_and_estimate(rpc_w3, token):
    transfer_from = token.functions.transferFrom(OWNER, BOB, 5)
    for attempt in (transfer_from.call, transfer_from.estimate_gas):
        with pytest.raises(ContractLogicError) as info:
            attempt({"from": BOB})
        assert not isinstance(info.value, ContractCustomError)
        assert info.value.message == "execution reverted: ERC20: insufficient allowance"


def test_estimate_searches_for_gasleft_dependent_code(rpc_w3, token):
    gas = token.functions.burnGas(20).estimate_gas({"from": OWNER})
    receipt = wait(rpc_w3, token.functions.burnGas(20).transact({"from": OWNER, "gas": gas}))
    assert receipt.status == 1 and receipt.gasUsed < gas


@pytest.mark.parametrize("dynamic", [False, True])
def test_signed_legacy_and_eip1559_sends(rpc_w3, dynamic):
    sender = ACCOUNTS[5]
    tx = {"to": CAROL, "value": 12345, "gas": 21000, "chainId": 714,
          "nonce": rpc_w3.eth.get_transaction_count(to_checksum_address(sender.address), "pending")}
    if dynamic:
        tx.update(maxFeePerGas=2 * GWEI, maxPriorityFeePerGas=rpc_w3.eth.max_priority_fee)
    else:
        tx["gasPrice"] = rpc_w3.eth.gas_price
    signed = Account.sign_transaction(tx, sender.private_key)
    before = rpc_w3.eth.get_balance(CAROL)
    tx_hash = rpc_w3.eth.send_raw_transaction(signed.raw_transaction)
    receipt = wait(rpc_w3, tx_hash)
    assert receipt.status == 1 and receipt.type == (2 if dynamic else 0)
    assert receipt.effectiveGasPrice == GWEI and receipt.gasUsed == 21000
    assert rpc_w3.eth.get_balance(CAROL) == before + 12345
    mined = rpc_w3.eth.get_transaction(tx_hash)
    assert mined.blockNumber == receipt.blockNumber and mined["from"] == to_checksum_address(sender.address)
    assert mined.gasPrice == GWEI


def test_send_transaction_fills_fields_and_reports_pool_errors(rpc, rpc_w3):
    tx_hash = rpc.call("eth_sendTransaction", {"from": ALICE.lower(), "to": BOB.lower(), "value": "0x1"})
    receipt = wait(rpc_w3, tx_hash)
    assert receipt.status == 1 and receipt.type == 2
    tx = rpc_w3.eth.get_transaction(tx_hash)   # node defaults: tip suggested, cap = tip + 2 * base fee, gas estimated
    assert (tx.maxPriorityFeePerGas, tx.maxFeePerGas, tx.gas) == (GWEI, GWEI, 21000)
    legacy = wait(rpc_w3, rpc_w3.eth.send_transaction({"from": ALICE, "to": BOB, "value": 1, "gasPrice": 2 * GWEI}))
    assert legacy.type == 0 and legacy.effectiveGasPrice == 2 * GWEI
    with pytest.raises(Web3RPCError, match="nonce too low"):
        rpc_w3.eth.send_transaction({"from": ALICE, "to": BOB, "value": 1, "nonce": 0})
    assert rpc.error("eth_sendTransaction", {"from": "0x" + "12" * 20, "to": BOB, "value": "0x1"}) == {
        "code": -32000, "message": "unknown account"}


def test_metamask_like_raw_session(rpc):
    """The calls MetaMask makes to add a network, show a balance and send an EIP-1559 transfer, in order."""
    sender, to = ACCOUNTS[6], ACCOUNTS[7]
    sender_hex, to_hex = "0x" + sender.address.hex(), "0x" + to.address.hex()
    assert rpc.call("eth_chainId") == "0x2ca"
    assert rpc.call("net_version") == "714"
    assert int(rpc.call("eth_blockNumber"), 16) >= 0
    balance = int(rpc.call("eth_getBalance", sender_hex, "latest"), 16)
    assert int(rpc.call("eth_gasPrice"), 16) == GWEI
    history = rpc.call("eth_feeHistory", "0x5", "latest", [10, 20, 30])
    assert len(history["baseFeePerGas"]) == len(history["gasUsedRatio"]) + 1
    assert all(len(row) == 3 for row in history["reward"])
    block = rpc.call("eth_getBlockByNumber", "latest", False)
    assert block["baseFeePerGas"] == "0x0" and isinstance(block["transactions"], list)
    gas = int(rpc.call("eth_estimateGas", {"from": sender_hex, "to": to_hex, "value": "0x1"}), 16)
    assert gas == 21000
    nonce = int(rpc.call("eth_getTransactionCount", sender_hex, "pending"), 16)
    raw = Account.sign_transaction({
        "type": 2, "chainId": 714, "nonce": nonce, "to": to_checksum_address(to_hex), "value": 10**15,
        "gas": gas, "maxFeePerGas": 2 * GWEI, "maxPriorityFeePerGas": GWEI}, sender.private_key).raw_transaction
    tx_hash = rpc.call("eth_sendRawTransaction", "0x" + bytes(raw).hex())
    receipt = None
    deadline = time.monotonic() + 10
    while receipt is None and time.monotonic() < deadline:
        receipt = rpc.call("eth_getTransactionReceipt", tx_hash)
        time.sleep(0.05)
    assert receipt["status"] == "0x1" and receipt["transactionHash"] == tx_hash
    assert int(rpc.call("eth_getBalance", sender_hex, "latest"), 16) == balance - 10**15 - 21000 * GWEI
    assert rpc.call("eth_getCode", to_hex, "latest") == "0x"
    assert rpc.error("eth_sendRawTransaction", "0x" + bytes(raw).hex()) == {
        "code": -32000, "message": f"nonce too low: next nonce {nonce + 1}, tx nonce {nonce}"}


def test_raw_call_revert_shape(rpc, token):
    data = calldata("transferFrom(address,address,uint256)", bytes.fromhex(OWNER[2:]), bytes.fromhex(BOB[2:]), 5)
    error = rpc.error("eth_call", {"from": BOB, "to": token.address, "data": "0x" + data.hex()}, "latest")
    assert error["code"] == 3
    assert error["message"] == "execution reverted: ERC20: insufficient allowance"
    assert error["data"].startswith("0x08c379a0")
