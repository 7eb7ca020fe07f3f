"""debug_traceTransaction / debug_traceCall over a real server and over node.testing's providers (the same answers):
struct logs, callTracer, geth's errors."""
import pytest

from chainkit import calldata, deploy_token_raw, sign
from rpcnode import serve


# HTTP served here and both providers; the front (seconds to spawn) for the module's node only
TRANSPORTS = ["in-process", "provider", "async-provider"]


@pytest.fixture(scope="module", params=[*TRANSPORTS, "front"])
def env(request):
    with serve(produce=False, transport=request.param) as rpc:
        node = rpc.node
        owner, spender = node.accounts[0], node.accounts[1]
        node.send_raw_transaction(deploy_token_raw(owner, 0, supply=1000))
        [block] = node.mine()
        token = node.chain.store.block_metas(block.hash)[0].contract_address
        tx_hash = node.send_raw_transaction(
            sign(owner, 1, token, data=calldata("transfer(address,uint256)", spender.address, 7), gas=100_000))
        node.mine()
        yield rpc, token, owner, spender, tx_hash


def test_struct_logs_of_a_mined_transfer(env):
    rpc, token, owner, spender, tx_hash = env
    trace = rpc.call("debug_traceTransaction", "0x" + tx_hash.hex())
    receipt = rpc.call("eth_getTransactionReceipt", "0x" + tx_hash.hex())
    assert trace["gas"] == int(receipt["gasUsed"], 16) and trace["failed"] is False
    logs = trace["structLogs"]
    assert logs[0]["pc"] == 0 and logs[0]["depth"] == 1 and logs[-1]["op"] == "RETURN"
    assert any(step["op"] == "SSTORE" for step in logs)


def test_call_tracer_explains_a_revert(env):
    rpc, token, owner, spender, _ = env
    args = {"from": "0x" + spender.address.hex(), "to": "0x" + token.hex(),
            "data": "0x" + calldata("transferFrom(address,address,uint256)", owner.address, spender.address, 1).hex()}
    frame = rpc.call("debug_traceCall", args, "latest", {"tracer": "callTracer"})
    assert frame["type"] == "CALL" and frame["to"] == "0x" + token.hex()
    assert frame["error"] == "execution reverted"
    assert frame["revertReason"] == "ERC20: insufficient allowance"


def test_trace_errors_are_geths(env):
    rpc, *_ = env
    assert rpc.error("debug_traceTransaction", "0x" + "11" * 32)["message"] == "transaction not found"
    err = rpc.error("debug_traceTransaction", "0x" + env[4].hex(), {"tracer": "nopeTracer"})
    assert (err["code"], err["message"]) == (-32000, "tracer not found")
    err = rpc.error("debug_traceTransaction", "0x" + env[4].hex(), {"disableStack": 3})
    assert err["code"] == -32602 and "cannot unmarshal" in err["message"]


@pytest.mark.parametrize("transport", TRANSPORTS)
def test_debug_is_not_served_outside_dev_mode(transport):
    # geth leaves debug out of its default --http.api modules
    with serve(dev=False, produce=False, transport=transport) as rpc:
        assert rpc.error("debug_traceTransaction", "0x" + "11" * 32)["code"] == -32601
