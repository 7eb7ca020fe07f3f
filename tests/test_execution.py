"""eth_call and eth_estimateGas semantics at the chain level: return data, reverts, geth's binary search."""
import pytest
from eth_abi import decode, encode
from eth_utils import function_signature_to_4byte_selector

from chainkit import calldata, sign, token_node
from node.config import NodeConfig
from node.execution.calls import CallParams, ExecutionError, ExecutionReverted, call, estimate_gas
from node.node import Node


@pytest.fixture(scope="module")
def env(tmp_path_factory):
    with token_node(tmp_path_factory.mktemp("exec")) as found:
        yield found


def test_call_returns_data_at_a_block(env):
    node, token, owner = env
    out = call(node.chain, node.chain.head, CallParams(to=token, data=calldata("balanceOf(address)", owner.address)))
    assert decode(["uint256"], out) == (1000,)
    genesis = node.chain.header_by_number(0)
    assert call(node.chain, genesis, CallParams(to=token, data=calldata("balanceOf(address)", owner.address))) == b""


def test_custom_error_revert_carries_raw_data(env):
    node, token, owner = env
    other = node.accounts[5]
    params = CallParams(sender=other.address, to=token,
                        data=calldata("transfer(address,uint256)", owner.address, 5))
    selector = function_signature_to_4byte_selector("InsufficientBalance(address,uint256,uint256)")
    expected = selector + encode(["address", "uint256", "uint256"], [other.address, 0, 5])
    for run in (call, estimate_gas):
        with pytest.raises(ExecutionReverted) as err:
            run(node.chain, node.chain.head, params)
        assert err.value.data == expected
        assert err.value.reason is None and str(err.value) == "execution reverted"


def test_require_string_revert_has_its_reason(env):
    node, token, owner = env
    spender = node.accounts[6]
    params = CallParams(sender=spender.address, to=token,
                        data=calldata("transferFrom(address,address,uint256)", owner.address, spender.address, 1))
    for run in (call, estimate_gas):
        with pytest.raises(ExecutionReverted) as err:
            run(node.chain, node.chain.head, params)
        assert err.value.reason == "ERC20: insufficient allowance"
        assert str(err.value) == "execution reverted: ERC20: insufficient allowance"


def test_estimate_binary_search_handles_gasleft(env):
    node, token, owner = env
    data = calldata("burnGas(uint256)", 20)
    estimate = estimate_gas(node.chain, node.chain.head, CallParams(sender=owner.address, to=token, data=data))
    nonce = node.chain.state_at().get_nonce(owner.address)
    # the estimate is enough; the gas actually used, plus a margin a naive estimator would add, is not
    node.send_raw_transaction(sign(owner, nonce, token, data=data, gas=estimate))
    [block] = node.mine()
    [receipt] = node.chain.receipts(block.header)
    assert receipt.state_root == b"\x01"
    used = node.chain.store.block_metas(block.hash)[0].gas_used
    assert used < estimate <= used * 1.1 + 60_000
    node.send_raw_transaction(sign(owner, nonce + 1, token, data=data, gas=used + 1000))
    [block] = node.mine()
    assert node.chain.receipts(block.header)[0].state_root == b""


def test_plain_transfer_estimates_21000(env):
    node, _, owner = env
    assert estimate_gas(node.chain, node.chain.head,
                        CallParams(sender=owner.address, to=node.accounts[1].address, value=1)) == 21000


def test_call_with_value_over_balance_fails_clearly(env):
    node, token, _ = env
    poor = b"\x99" * 20
    with pytest.raises(ExecutionError, match="insufficient funds"):
        call(node.chain, node.chain.head, CallParams(sender=poor, to=token, value=1, gas_price=1))


LOOP = bytes.fromhex("5b600056")   # JUMPDEST PUSH1 0 JUMP: runs until the gas is gone


def test_a_call_past_its_time_is_aborted_with_geth_s_message(tmp_path):
    with Node(NodeConfig(datadir=tmp_path, produce=False)) as node:
        looper, nested = b"\x10" * 20, b"\x11" * 20
        # the nested frame loops: the deadline holds in every frame, not only the outermost
        call_looper = bytes.fromhex("6000600060006000600073") + looper + bytes.fromhex("5af1")
        node.chain.edit_head_state(lambda state: (state.set_code(looper, LOOP), state.set_code(nested, call_looper)))
        for target in (looper, nested):
            with pytest.raises(ExecutionError, match=r"^execution aborted \(timeout = 200ms\)$"):
                call(node.chain, node.chain.head, CallParams(to=target), timeout=0.2)
        # with time to spare, the same loop ends as geth's does: out of gas
        with pytest.raises(ExecutionError, match="out of gas"):
            call(node.chain, node.chain.head, CallParams(to=looper, gas=100_000), timeout=5)


def test_go_duration_formats_like_go():
    from node.execution.deadline import go_duration
    assert [go_duration(s) for s in (5, 1.5, 0.2, 0.001)] == ["5s", "1.5s", "200ms", "1ms"]
