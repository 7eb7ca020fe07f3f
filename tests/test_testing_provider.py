"""The in-process provider answers exactly as the HTTP server: a corpus of requests (successes and errors) of the
eth, filter, dev and debug namespaces, and the JSON-RPC envelope rules, replayed on twin nodes — one answered by
node.testing's InProcessRpc (sync and async paths), one by the HTTP server — and compared answer by answer; then
web3.py over SmartchainProvider / AsyncSmartchainProvider against web3.py over HTTP, exceptions included.

The twins start from the same genesis on simulated clocks at the same time and never produce on their own, so every
block (mined by evm_mine on both) is the same; only filter ids are random (geth's), and are mapped side to side.
"""
import asyncio
import json
import urllib.request

import pytest
from eth_abi import encode
from web3 import AsyncWeb3, Web3
from web3.exceptions import ContractCustomError, ContractLogicError, ContractPanicError, Web3RPCError
from web3.middleware import ExtraDataToPOAMiddleware

from artifacts import load_artifact
from chainkit import calldata, sign
from node.clock import SimClock
from node.config import NodeConfig
from node.dev.accounts import dev_accounts
from node.node import Node
from node.testing.dispatch import InProcessRpc
from node.testing.provider import AsyncSmartchainProvider, SmartchainProvider
from rpc.server import RpcServer

A = dev_accounts()
OWNER, ALICE, BOB = A[0], A[1], A[2]
START_MS = (0x68A00000 + 1000) * 1000   # genesis timestamp + 1000 s
TOKEN, VAULT = load_artifact("Token"), load_artifact("Vault")
WHALE = "0x" + "77" * 20


def hx(b: bytes) -> str:
    return "0x" + b.hex()


class Twins:
    """Node a answered in-process, node b over HTTP; `same(...)` sends one message to both and compares."""

    def __init__(self) -> None:
        self.a = Node(NodeConfig(produce=False), clock=SimClock(START_MS)).start()
        self.b = Node(NodeConfig(produce=False), clock=SimClock(START_MS)).start()
        self.rpc = InProcessRpc(self.a)
        self.server = RpcServer(self.b, "127.0.0.1", 0).start()
        self.filter_ids: dict[str, str] = {}   # a's filter id -> b's
        self.next_id = 0
        self.compared = 0

    def close(self) -> None:
        self.rpc.close()
        self.server.stop()
        self.a.stop()
        self.b.stop()

    def http(self, message) -> object:
        request = urllib.request.Request(self.server.url, data=json.dumps(message).encode(), method="POST",
                                         headers={"Content-Type": "application/json"})
        with urllib.request.urlopen(request, timeout=30) as response:
            body = response.read()
        return json.loads(body) if body else None

    def exchange(self, message, b_message=None, read_only: bool = False) -> tuple:
        answer_a = self.rpc.answer(message)
        if read_only:   # the async path (the server's own answer_call) must agree too; reads may run twice
            assert asyncio.run(self.rpc.answer_async(message)) == answer_a
        return answer_a, self.http(message if b_message is None else b_message)

    def same(self, message, read_only: bool = False):
        answer_a, answer_b = self.exchange(message, read_only=read_only)
        assert answer_a == answer_b, message
        self.compared += 1
        return answer_a

    def call(self, method: str, *params, read_only: bool = False):
        """One request to both; the (common) answer object."""
        self.next_id += 1
        return self.same({"jsonrpc": "2.0", "id": self.next_id, "method": method, "params": list(params)},
                         read_only)

    def read(self, method: str, *params):
        return self.call(method, *params, read_only=True)

    def filter_call(self, method: str, filter_id: str, *rest):
        """A filter method on both sides, each with its own id for the same filter."""
        self.next_id += 1
        message = {"jsonrpc": "2.0", "id": self.next_id, "method": method, "params": [filter_id, *rest]}
        b_message = {**message, "params": [self.filter_ids.get(filter_id, filter_id), *rest]}
        answer_a, answer_b = self.exchange(message, b_message)
        assert answer_a == answer_b, message
        self.compared += 1
        return answer_a

    def new_filter(self, method: str, *params) -> str:
        self.next_id += 1
        message = {"jsonrpc": "2.0", "id": self.next_id, "method": method, "params": list(params)}
        answer_a, answer_b = self.exchange(message)
        assert set(answer_a) == set(answer_b) == {"jsonrpc", "id", "result"}
        self.filter_ids[answer_a["result"]] = answer_b["result"]
        return answer_a["result"]

    def mine(self, timestamp_s: int | None = None):
        params = [] if timestamp_s is None else [timestamp_s]
        return self.call("evm_mine", *params)


@pytest.fixture
def twins():
    t = Twins()
    yield t
    t.close()


def deploy(twins: Twins, artifact: dict, *ctor: tuple[str, object]) -> str:
    types, values = [t for t, _ in ctor], [v for _, v in ctor]
    code = artifact["bytecode"] + (encode(types, values).hex() if ctor else "")
    tx = twins.call("eth_sendTransaction", {"from": hx(OWNER.address), "data": code, "gas": hex(3_000_000)})["result"]
    twins.mine()
    return twins.read("eth_getTransactionReceipt", tx)["result"]["contractAddress"]


def test_eth_namespace_answers_match(twins):
    for method in ("eth_chainId", "eth_blockNumber", "net_version", "web3_clientVersion", "eth_accounts",
                   "eth_gasPrice", "eth_maxPriorityFeePerGas", "eth_syncing", "net_listening", "eth_baseFee"):
        twins.read(method)
    token = deploy(twins, TOKEN, ("string", "Test"), ("string", "TST"), ("uint256", 10**24))
    transfer = hx(calldata("transfer(address,uint256)", ALICE.address, 300))
    sent = twins.call("eth_sendRawTransaction", hx(sign(OWNER, 1, bytes.fromhex(token[2:]),
                                                        data=bytes.fromhex(transfer[2:]), gas=100_000)))["result"]
    # the same nonce at the same price: underpriced
    twins.call("eth_sendRawTransaction", hx(sign(OWNER, 1, bytes.fromhex(token[2:]), gas=100_000)))
    twins.read("eth_getTransactionByHash", sent)
    twins.read("eth_getTransactionCount", hx(OWNER.address), "pending")
    twins.read("txpool_status")
    twins.mine()
    for method, *params in [
            ("eth_getTransactionReceipt", sent), ("eth_getTransactionByHash", sent),
            ("eth_getBlockByNumber", "latest", True), ("eth_getBlockByNumber", "0x1", False),
            ("eth_getBlockReceipts", "latest"), ("eth_getBlockTransactionCountByNumber", "0x2"),
            ("eth_getTransactionByBlockNumberAndIndex", "0x2", "0x0"), ("eth_getCode", token, "latest"),
            ("eth_getStorageAt", token, "0x0", "latest"), ("eth_getBalance", hx(OWNER.address), "latest"),
            ("eth_getTransactionCount", hx(OWNER.address), "latest"),
            ("eth_call", {"to": token, "data": hx(calldata("balanceOf(address)", ALICE.address))}, "latest"),
            ("eth_estimateGas", {"from": hx(OWNER.address), "to": token, "data": transfer}),
            ("eth_getLogs", {"fromBlock": "0x0", "toBlock": "latest", "address": token}),
            ("eth_feeHistory", "0x2", "latest", [50]), ("eth_getProof", token, ["0x0"], "latest"),
            ("eth_createAccessList", {"from": hx(OWNER.address), "to": token, "data": transfer}),
            ("eth_getUncleCountByBlockNumber", "0x1")]:
        twins.read(method, *params)
    block_hash = twins.read("eth_getBlockByNumber", "latest", False)["result"]["hash"]
    twins.read("eth_getBlockByHash", block_hash, False)
    twins.read("eth_getTransactionByBlockHashAndIndex", block_hash, "0x0")
    # errors: reverts (code 3 with data), custom errors, bad params, missing blocks, refused transactions
    for method, *params in [
            ("eth_call", {"from": hx(ALICE.address), "to": token,
                          "data": hx(calldata("transfer(address,uint256)", BOB.address, 10**30))}, "latest"),
            ("eth_call", {"to": token, "data": hx(calldata("transferFrom(address,address,uint256)",
                                                            OWNER.address, BOB.address, 1))}, "latest"),
            ("eth_estimateGas", {"from": hx(BOB.address), "to": token,
                                 "data": hx(calldata("transfer(address,uint256)", ALICE.address, 1))}),
            ("eth_call", {"to": token}, "0x99"), ("eth_getBalance", "0x1234", "latest"),
            ("eth_getBalance",), ("eth_getBlockByNumber", "latest", True, 3), ("eth_getLogs", {"fromBlock": "x"}),
            ("eth_sendRawTransaction", "0x1234"), ("eth_nope",), ("eth_getTransactionReceipt", "0x" + "00" * 32)]:
        twins.read(method, *params)
    twins.call("eth_sendRawTransaction", hx(sign(OWNER, 0, BOB.address, 1)))   # nonce too low
    twins.call("eth_sendRawTransaction", hx(sign(BOB, 0, ALICE.address, 1, chain_id=1)))   # wrong chain
    assert twins.compared > 45


def test_envelope_rules_match(twins):
    for message in [
            {"jsonrpc": "2.0", "id": 1, "method": "eth_blockNumber"},
            {"jsonrpc": "2.0", "id": "text-id", "method": "eth_chainId", "params": []},
            {"jsonrpc": "2.0", "id": None, "method": "eth_chainId"},
            {"jsonrpc": "2.0", "id": 1.5, "method": "eth_chainId"},
            {"jsonrpc": "1.0", "id": 2, "method": "eth_chainId"},
            {"jsonrpc": "2.0", "id": 3},
            {"jsonrpc": "2.0", "id": [1], "method": "eth_chainId"},
            {"jsonrpc": "2.0", "id": True, "method": "eth_chainId"},
            {"jsonrpc": "2.0", "id": 4, "method": "eth_getBalance", "params": {"a": 1}},
            {"jsonrpc": "2.0", "method": "eth_chainId"},   # a notification: nothing comes back
            [],
            [{"jsonrpc": "2.0", "method": "eth_chainId"}],
            [{"jsonrpc": "2.0", "id": 5, "method": "eth_chainId"}, 7, {"jsonrpc": "2.0", "method": "eth_chainId"},
             {"jsonrpc": "2.0", "id": 6, "method": "eth_getBalance", "params": [hx(OWNER.address), "latest"]},
             {"jsonrpc": "2.0", "id": 7, "method": "nope"}],
            [{"jsonrpc": "2.0", "id": i, "method": "eth_chainId"} for i in range(1001)],
            "just a string", 42]:
        twins.same(message, read_only=True)


def test_filter_namespace_answers_match(twins):
    token = deploy(twins, TOKEN, ("string", "Test"), ("string", "TST"), ("uint256", 10**24))
    blocks = twins.new_filter("eth_newBlockFilter")
    logs = twins.new_filter("eth_newFilter", {"address": token})
    hashes = twins.new_filter("eth_newPendingTransactionFilter")
    full = twins.new_filter("eth_newPendingTransactionFilter", True)
    for fid in (blocks, logs, hashes, full):
        twins.filter_call("eth_getFilterChanges", fid)
    twins.call("eth_sendRawTransaction", hx(sign(OWNER, 1, bytes.fromhex(token[2:]), gas=100_000,
                                                 data=calldata("transfer(address,uint256)", BOB.address, 5))))
    twins.filter_call("eth_getFilterChanges", hashes)
    twins.filter_call("eth_getFilterChanges", full)
    twins.mine()
    for fid in (blocks, logs, hashes):
        twins.filter_call("eth_getFilterChanges", fid)
    twins.filter_call("eth_getFilterLogs", logs)
    twins.filter_call("eth_getFilterLogs", blocks)   # not a log filter: an error
    twins.filter_call("eth_uninstallFilter", logs)
    twins.filter_call("eth_uninstallFilter", logs)
    twins.filter_call("eth_getFilterChanges", logs)   # filter not found
    twins.filter_call("eth_getFilterChanges", "0x1234")
    twins.read("eth_newFilter", {"fromBlock": "pending"})
    twins.read("eth_getFilterChanges", 5)


def test_dev_namespace_answers_match(twins):
    snap = twins.call("evm_snapshot")["result"]
    twins.call("anvil_setBalance", WHALE, hex(10**20))
    twins.read("eth_getBalance", WHALE, "latest")
    twins.call("anvil_impersonateAccount", WHALE)
    tx = twins.call("eth_sendTransaction", {"from": WHALE, "to": hx(BOB.address), "value": "0x10"})["result"]
    twins.call("evm_increaseTime", 100)
    twins.mine()
    twins.read("eth_getTransactionReceipt", tx)
    twins.call("anvil_stopImpersonatingAccount", WHALE)
    twins.call("eth_sendTransaction", {"from": WHALE, "to": hx(BOB.address)})   # unknown account
    twins.call("evm_setNextBlockTimestamp", 5)   # earlier than the head: refused
    head = int(twins.read("eth_getBlockByNumber", "latest", False)["result"]["timestamp"], 16)
    twins.call("evm_setNextBlockTimestamp", head + 50)
    twins.mine()
    twins.call("anvil_mine", "0x3", "0x10")
    twins.call("hardhat_mine", 2)
    twins.call("evm_mine", {"blocks": 2})
    twins.call("anvil_setCode", WHALE, "0x6001600101")
    twins.call("anvil_setStorageAt", WHALE, "0x1", "0x" + "00" * 31 + "05")
    twins.call("anvil_setNonce", WHALE, "0x7")
    twins.read("eth_getCode", WHALE, "latest")
    twins.read("eth_getStorageAt", WHALE, "0x1", "latest")
    twins.read("anvil_getAutomine")
    twins.call("anvil_mine", hex(10**6))   # too many
    twins.call("anvil_setNonce", WHALE, hex(2**64))   # EIP-2681
    twins.call("evm_mine", {"blockz": 1})
    twins.call("evm_revert", snap)
    twins.call("evm_revert", snap)   # used up: false
    twins.read("eth_blockNumber")
    twins.read("eth_getBalance", WHALE, "latest")


def test_debug_namespace_answers_match(twins):
    token = deploy(twins, TOKEN, ("string", "Test"), ("string", "TST"), ("uint256", 1000))
    tx = twins.call("eth_sendTransaction", {"from": hx(OWNER.address), "to": token, "gas": hex(100_000),
                                            "data": hx(calldata("transfer(address,uint256)", BOB.address, 7))})
    twins.mine()
    tx_hash = tx["result"]
    reverting = {"from": hx(BOB.address), "to": token,
                 "data": hx(calldata("transferFrom(address,address,uint256)", OWNER.address, BOB.address, 1))}
    for method, *params in [
            ("debug_traceTransaction", tx_hash), ("debug_traceTransaction", tx_hash, {"tracer": "callTracer"}),
            ("debug_traceCall", reverting, "latest", {"tracer": "callTracer"}),
            ("debug_traceCall", reverting, "latest"), ("debug_traceBlockByNumber", "0x2", {"tracer": "callTracer"}),
            ("debug_getRawBlock", "0x2"), ("debug_getRawHeader", "latest"), ("debug_getRawReceipts", "0x2"),
            ("debug_getRawTransaction", tx_hash), ("debug_traceTransaction", "0x" + "11" * 32),
            ("debug_traceTransaction", tx_hash, {"tracer": "nopeTracer"}),
            ("debug_traceTransaction", tx_hash, {"disableStack": 3})]:
        twins.read(method, *params)


# -- web3.py over the providers against web3.py over HTTP --

def _w3(provider) -> Web3:
    w3 = Web3(provider)
    w3.middleware_onion.inject(ExtraDataToPOAMiddleware, layer=0)
    return w3


def _outcome(fn):
    """A call's result, or its exception's type and arguments."""
    try:
        return "ok", fn()
    except Exception as exc:
        return type(exc).__name__, exc.args


def test_web3_raises_the_same_exceptions_over_the_provider_as_over_http(twins):
    local, remote = SmartchainProvider(twins.a), twins.server.url
    over = {"provider": _w3(local), "http": _w3(Web3.HTTPProvider(remote, request_kwargs={"timeout": 30}))}
    owner = Web3.to_checksum_address(OWNER.address)
    tx_hash = None
    for w3 in over.values():   # the same deployment on both twins
        factory = w3.eth.contract(abi=VAULT["abi"], bytecode=VAULT["bytecode"])
        tx_hash = factory.constructor().transact({"from": owner, "gas": 1_000_000})
    twins.mine()
    receipts = {k: w3.eth.get_transaction_receipt(tx_hash) for k, w3 in over.items()}
    assert receipts["provider"] == receipts["http"]
    vaults = {k: w3.eth.contract(address=receipts[k].contractAddress, abi=VAULT["abi"]) for k, w3 in over.items()}
    checks = {
        "require": lambda v: v.functions.deposit().call({"from": owner, "value": 0}),
        "custom": lambda v: v.functions.withdraw(5).call({"from": owner}),
        "panic": lambda v: v.functions.share(0).call({"from": owner}),
        "estimate": lambda v: v.functions.deposit().estimate_gas({"from": owner}),
        "ok": lambda v: v.functions.share(1).call({"from": owner}),
    }
    for name, check in checks.items():
        outcomes = {k: _outcome(lambda: check(vaults[k])) for k in over}
        assert outcomes["provider"] == outcomes["http"], name
    kinds = {name: _outcome(lambda: check(vaults["provider"]))[0] for name, check in checks.items()}
    assert kinds == {"require": ContractLogicError.__name__, "custom": ContractCustomError.__name__,
                     "panic": ContractPanicError.__name__, "estimate": ContractLogicError.__name__, "ok": "ok"}
    for k, w3 in over.items():
        with pytest.raises(Web3RPCError, match="header not found"):
            w3.eth.get_balance(owner, block_identifier=99)
    assert over["provider"].eth.get_block("latest") == over["http"].eth.get_block("latest")
    batch = {}
    for k, w3 in over.items():
        with w3.batch_requests() as b:
            b.add(w3.eth.get_block(1))
            b.add(w3.eth.get_balance(owner))
            batch[k] = b.execute()
    assert batch["provider"] == batch["http"]
    local.close()


def test_async_provider_answers_as_the_sync_one(twins):
    async def scenario():
        w3 = AsyncWeb3(AsyncSmartchainProvider(twins.a))
        w3.middleware_onion.inject(ExtraDataToPOAMiddleware, layer=0)
        vault = w3.eth.contract(abi=VAULT["abi"], bytecode=VAULT["bytecode"])
        owner = Web3.to_checksum_address(OWNER.address)
        tx_hash = await vault.constructor().transact({"from": owner, "gas": 1_000_000})
        twins.a.mine()
        receipt = await w3.eth.get_transaction_receipt(tx_hash)
        deployed = w3.eth.contract(address=receipt.contractAddress, abi=VAULT["abi"])
        with pytest.raises(ContractCustomError):
            await deployed.functions.withdraw(5).call({"from": owner})
        block = await w3.eth.get_block("latest")
        await w3.provider.disconnect()
        return receipt, block

    receipt, block = asyncio.run(scenario())
    sync = _w3(SmartchainProvider(twins.a))
    assert sync.eth.get_transaction_receipt(receipt.transactionHash) == receipt
    assert sync.eth.get_block("latest") == block
    assert receipt.status == 1


def test_a_provider_without_a_node_starts_an_automining_chain_and_stops_it():
    provider = SmartchainProvider()
    w3 = _w3(provider)
    node = provider.node
    a, b = w3.eth.accounts[:2]
    tx_hash = w3.eth.send_transaction({"from": a, "to": b, "value": 1})
    assert w3.eth.get_transaction_receipt(tx_hash).blockNumber == 1   # mined when the send returned
    datadir = node.datadir
    assert datadir.exists()
    provider.close()
    assert not datadir.exists() and not provider.is_connected()
