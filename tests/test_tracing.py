"""debug_traceTransaction / debug_traceCall execution: geth's struct logger and callTracer over a real Node.

One chain serves every test (tracing writes nothing): an ERC-20, a forwarding contract that CALLs it, a factory that
CREATEs, a contract whose CALL with value is refused, and one that SELFDESTRUCTs. Gas figures are checked against
the receipts and against each other (struct logger vs callTracer), never against constants copied from a trace.
"""
import json

import pytest
from eth._utils.address import generate_contract_address
from eth_abi import decode
from eth_utils import keccak

from chainkit import TRANSFER_TOPIC, calldata, deploy_token_raw, sign
from node.config import NodeConfig
from node.execution.calls import CallParams, ExecutionReverted, call
from node.node import Node
from node.execution.tracing import TraceConfigError, TraceError, parse_duration, trace_call, trace_transaction
from node.execution.tracers.opcodes import op_name, stack_error

CALL_TRACER = {"tracer": "callTracer"}


def _deploy_code(runtime: bytes) -> bytes:
    """Init code that returns `runtime`: CODECOPY(0, 10, len) RETURN(0, len)."""
    size = len(runtime).to_bytes(1, "big")
    return b"\x60" + size + b"\x60\x0a\x5f\x39\x60" + size + b"\x5f\xf3" + runtime


def forwarder(target: bytes) -> bytes:
    """Runtime: CALL `target` with this call's data; return or revert with what it returned."""
    return (bytes.fromhex("365f5f37" "5f5f365f5f73") + target + bytes.fromhex("5af1" "3d5f5f3e" "602a57" "3d5ffd")
            + bytes.fromhex("5b3d5ff3"))


FACTORY = bytes.fromhex("365f5f37" "365f5ff0" "5f52" "60205ff3")  # CREATE(0, calldata) and return the address


def value_caller(target: bytes) -> bytes:
    """Runtime: CALL `target` with 1 wei (refused when this contract has none), then run off the code's end."""
    return bytes.fromhex("5f5f5f5f600173") + target + bytes.fromhex("5af1")


def selfdestructor(beneficiary: bytes) -> bytes:
    return b"\x73" + beneficiary + b"\xff"


class Scene:
    """Transactions mined once for every test; `h` maps a name to its hash."""

    def __init__(self, node: Node):
        self.node = node
        self.chain = node.chain
        self.owner, self.alice, self.bob, self.carol = node.accounts[:4]
        owner = self.owner
        self.token = generate_contract_address(owner.address, 0)
        self.forwarder = generate_contract_address(owner.address, 1)
        self.factory = generate_contract_address(owner.address, 2)
        self.value_caller = generate_contract_address(owner.address, 3)
        self.selfdestructor = generate_contract_address(owner.address, 4)
        self.h = {}
        send = node.send_raw_transaction
        self.h["eth"] = send(sign(self.alice, 0, self.bob.address, 10**18))
        self.h["deploy"] = send(deploy_token_raw(owner, 0))
        send(sign(owner, 1, data=_deploy_code(forwarder(self.token)), gas=200_000))
        send(sign(owner, 2, data=_deploy_code(FACTORY), gas=200_000))
        send(sign(owner, 3, data=_deploy_code(value_caller(self.carol.address)), gas=200_000))
        send(sign(owner, 4, value=10**18, data=_deploy_code(selfdestructor(self.carol.address)), gas=200_000))
        node.mine()
        transfer = calldata("transfer(address,uint256)", self.alice.address, 700)
        self.h["transfer"] = send(sign(owner, 5, self.token, data=transfer, gas=100_000))
        self.h["fund"] = send(sign(owner, 6, self.token, data=calldata(
            "transfer(address,uint256)", self.forwarder, 1000), gas=100_000))
        self.h["revert"] = send(sign(self.alice, 1, self.token, data=calldata(
            "transferFrom(address,address,uint256)", owner.address, self.bob.address, 5), gas=100_000))
        self.h["all"] = send(sign(self.alice, 2, self.token, data=calldata(
            "transfer(address,uint256)", self.bob.address, 700), gas=100_000))
        self.h["nested"] = send(sign(self.bob, 0, self.forwarder, data=calldata(
            "transfer(address,uint256)", self.carol.address, 10), gas=200_000))
        self.h["nested_revert"] = send(sign(self.bob, 1, self.forwarder, data=calldata(
            "transferFrom(address,address,uint256)", owner.address, self.bob.address, 1), gas=200_000))
        self.h["create"] = send(sign(self.carol, 0, self.factory, data=_deploy_code(forwarder(self.token)),
                                     gas=300_000))
        self.h["refused"] = send(sign(self.carol, 1, self.value_caller, gas=100_000))
        self.h["selfdestruct"] = send(sign(self.carol, 2, self.selfdestructor, gas=100_000))
        [self.block] = node.mine()
        assert len(self.block.transactions) == 9
        self.receipts = self.chain.receipts(self.block.header)

    def tx(self, name: str):
        loc = self.chain.store.tx_location(self.h[name])
        return self.chain.block_by_hash(loc.block_hash).transactions[loc.index]

    def receipt(self, name: str):
        """(gas used, receipt, logs before it in its block) of a mined transaction."""
        loc = self.chain.store.tx_location(self.h[name])
        receipts = self.chain.receipts(self.chain.header_by_hash(loc.block_hash))
        before = receipts[loc.index - 1].gas_used if loc.index else 0
        return receipts[loc.index].gas_used - before, receipts[loc.index], sum(
            len(r.logs) for r in receipts[:loc.index])


@pytest.fixture(scope="module")
def scene(tmp_path_factory):
    with Node(NodeConfig(datadir=tmp_path_factory.mktemp("trace"), produce=False)) as node:
        yield Scene(node)


def _check_gas_flow(logs: list[dict]) -> None:
    """Within a frame, each step's gas is the previous step's minus its cost (calls give back what is left)."""
    for prev, step in zip(logs, logs[1:]):
        if step["depth"] == prev["depth"] and prev["op"] not in ("CALL", "STATICCALL", "DELEGATECALL", "CALLCODE",
                                                                  "CREATE", "CREATE2"):
            assert step["gas"] == prev["gas"] - prev["gasCost"], (prev, step)


def _used_before_refund(tx, logs: list[dict]) -> int:
    last = logs[-1]
    return tx.gas - (last["gas"] - last["gasCost"])


# -- struct logger ---------------------------------------------------------------------------------------------------

def test_plain_value_transfer_runs_no_code(scene):
    assert trace_transaction(scene.chain, scene.h["eth"]) == {
        "gas": 21000, "failed": False, "returnValue": "0x", "structLogs": []}


def test_struct_logs_of_an_erc20_transfer(scene):
    result = trace_transaction(scene.chain, scene.h["transfer"], {})
    logs = result["structLogs"]
    gas_used, receipt, _ = scene.receipt("transfer")
    tx = scene.tx("transfer")
    assert result["gas"] == gas_used and result["failed"] is False
    assert decode(["bool"], bytes.fromhex(result["returnValue"][2:])) == (True,)
    first, last = logs[0], logs[-1]
    assert (first["pc"], first["depth"], first["stack"]) == (0, 1, [])
    assert first["op"] in ("PUSH1", "PUSH0") and first["gasCost"] in (2, 3)
    assert last["op"] in ("RETURN", "STOP")
    assert all(step["depth"] == 1 for step in logs)
    _check_gas_flow(logs)
    # the message's gas is the transaction's minus intrinsic gas: 21000 plus 16 (4) per non-zero (zero) data byte
    data = tx.data
    assert tx.gas - first["gas"] == 21000 + sum(16 if b else 4 for b in data)
    assert _used_before_refund(tx, logs) - min(last.get("refund", 0), _used_before_refund(tx, logs) // 5) == gas_used
    assert [sorted(step) for step in logs[:1]] == [sorted(["pc", "op", "gas", "gasCost", "depth", "stack"])]
    json.dumps(result)


def test_sstore_steps_carry_the_written_storage(scene):
    logs = trace_transaction(scene.chain, scene.h["transfer"])["structLogs"]
    writes = [step for step in logs if step["op"] == "SSTORE"]
    assert len(writes) == 2
    for step in writes:
        key, value = step["stack"][-1], step["stack"][-2]
        assert step["storage"][f"0x{int(key, 16):064x}"] == f"0x{int(value, 16):064x}"
    final = writes[-1]["storage"]
    # the slots are balances[owner] and balances[alice] of one mapping, and hold the values now on chain
    def key(holder: bytes, slot: int) -> str:
        return "0x" + keccak(b"\0" * 12 + holder + slot.to_bytes(32, "big")).hex()

    slot = next(s for s in range(16) if key(scene.alice.address, s) in final)
    owner_key, alice_key = key(scene.owner.address, slot), key(scene.alice.address, slot)
    assert int(final[alice_key], 16) == 700
    assert int(final[owner_key], 16) == 10**24 - 700
    state = scene.chain.state_at(scene.block.header)
    assert state.get_storage(scene.token, int(owner_key, 16)) == 10**24 - 700 - 1000
    reads = [step for step in logs if step["op"] == "SLOAD"]
    assert reads and all(len(step["storage"]) >= 1 for step in reads)


def test_replays_the_block_before_the_traced_transaction(scene):
    """alice spends the 700 tokens an earlier transaction of the same block gave her: the zeroed slot refunds."""
    result = trace_transaction(scene.chain, scene.h["all"])
    gas_used, receipt, _ = scene.receipt("all")
    assert scene.chain.store.tx_location(scene.h["all"]).index > 0
    assert result["failed"] is False and result["gas"] == gas_used
    logs = result["structLogs"]
    refund = logs[-1]["refund"]
    assert refund > 0 and "refund" not in logs[0]
    used = _used_before_refund(scene.tx("all"), logs)
    assert used - min(refund, used // 5) == gas_used


def test_revert_in_struct_logs(scene):
    result = trace_transaction(scene.chain, scene.h["revert"])
    gas_used, receipt, _ = scene.receipt("revert")
    assert result["failed"] is True and result["gas"] == gas_used
    assert receipt.state_root == b""  # status 0
    data = bytes.fromhex(result["returnValue"][2:])
    assert ExecutionReverted(data).reason == "ERC20: insufficient allowance"
    assert result["structLogs"][-1]["op"] == "REVERT" and "error" not in result["structLogs"][-1]
    _check_gas_flow(result["structLogs"])


def test_struct_logger_options(scene):
    plain = trace_transaction(scene.chain, scene.h["nested"])["structLogs"]
    bare = trace_transaction(scene.chain, scene.h["nested"], {"disableStack": True, "disableStorage": True})
    assert all("stack" not in s and "storage" not in s for s in bare["structLogs"])
    assert [(s["pc"], s["gas"], s["gasCost"]) for s in bare["structLogs"]] == [
        (s["pc"], s["gas"], s["gasCost"]) for s in plain]
    assert all("memory" not in s and "returnData" not in s for s in plain)
    full = trace_transaction(scene.chain, scene.h["nested"], {"EnableMemory": True, "enableReturnData": True})
    steps = full["structLogs"]
    assert any("memory" in s for s in steps)
    for step in steps:
        if "memory" in step:
            assert all(len(word) == 66 and word.startswith("0x") for word in step["memory"])
    call_at = next(i for i, s in enumerate(steps) if s["op"] == "CALL")
    after_call = next(s for s in steps[call_at + 1:] if s["depth"] == 1)
    assert "returnData" not in steps[call_at]
    assert decode(["bool"], bytes.fromhex(after_call["returnData"][2:])) == (True,)
    limited = trace_transaction(scene.chain, scene.h["nested"], {"limit": 2000})["structLogs"]
    assert 0 < len(limited) < len(plain) and limited == plain[:len(limited)]


def test_nested_call_steps_and_gas_agree_with_the_call_tracer(scene):
    logs = trace_transaction(scene.chain, scene.h["nested"])["structLogs"]
    frames = trace_transaction(scene.chain, scene.h["nested"], CALL_TRACER)
    [inner] = frames["calls"]
    index = next(i for i, s in enumerate(logs) if s["op"] == "CALL")
    call_step, callee_first = logs[index], logs[index + 1]
    assert callee_first["depth"] == 2 and callee_first["pc"] == 0
    assert callee_first["gas"] == int(inner["gas"], 16)
    back = next(s for s in logs[index + 1:] if s["depth"] == 1)
    assert back["gas"] == call_step["gas"] - call_step["gasCost"] + int(inner["gas"], 16) - int(inner["gasUsed"], 16)
    assert call_step["gasCost"] > int(inner["gas"], 16)  # access cost plus the callee's gas, as geth counts it
    _check_gas_flow(logs)
    gas_used, _, _ = scene.receipt("nested")
    assert int(frames["gasUsed"], 16) == gas_used == trace_transaction(scene.chain, scene.h["nested"])["gas"]


# -- callTracer ------------------------------------------------------------------------------------------------------

def test_call_tracer_revert_reason(scene):
    frame = trace_transaction(scene.chain, scene.h["revert"], CALL_TRACER)
    gas_used, _, _ = scene.receipt("revert")
    tx = scene.tx("revert")
    assert frame["type"] == "CALL"
    assert frame["from"] == "0x" + scene.alice.address.hex() and frame["to"] == "0x" + scene.token.hex()
    assert frame["error"] == "execution reverted"
    assert frame["revertReason"] == "ERC20: insufficient allowance"
    assert frame["gas"] == hex(tx.gas) and frame["gasUsed"] == hex(gas_used)
    assert frame["input"] == "0x" + tx.data.hex() and frame["value"] == "0x0"
    assert ExecutionReverted(bytes.fromhex(frame["output"][2:])).reason == frame["revertReason"]
    assert "calls" not in frame and "logs" not in frame
    assert list(frame) == ["from", "gas", "gasUsed", "to", "input", "output", "error", "revertReason", "value", "type"]


def test_call_tracer_nested_call_with_logs(scene):
    frame = trace_transaction(scene.chain, scene.h["nested"], {"tracer": "callTracer",
                                                                  "tracerConfig": {"withLog": True}})
    _, receipt, logs_before = scene.receipt("nested")
    assert frame["to"] == "0x" + scene.forwarder.hex() and "error" not in frame and "logs" not in frame
    [inner] = frame["calls"]
    assert inner["type"] == "CALL" and inner["from"] == "0x" + scene.forwarder.hex()
    assert inner["to"] == "0x" + scene.token.hex() and inner["input"] == frame["input"]
    assert inner["output"] == frame["output"] and decode(["bool"], bytes.fromhex(inner["output"][2:])) == (True,)
    assert int(inner["gasUsed"], 16) < int(inner["gas"], 16) < int(frame["gas"], 16)
    [log] = inner["logs"]
    [mined] = receipt.logs
    assert log["address"] == "0x" + mined.address.hex() == inner["to"]
    assert log["topics"] == ["0x" + t.to_bytes(32, "big").hex() for t in mined.topics]
    assert log["topics"][0] == "0x" + TRANSFER_TOPIC.hex()
    assert log["data"] == "0x" + mined.data.hex()
    assert log["index"] == hex(logs_before) and logs_before > 0 and log["position"] == "0x0"
    top = trace_transaction(scene.chain, scene.h["nested"], {"tracer": "callTracer",
                                                             "tracerConfig": {"onlyTopCall": True, "withLog": True}})
    assert "calls" not in top and "logs" not in top
    assert {k: v for k, v in frame.items() if k != "calls"} == top


def test_call_tracer_nested_revert(scene):
    frame = trace_transaction(scene.chain, scene.h["nested_revert"], {"tracer": "callTracer",
                                                                         "tracerConfig": {"withLog": True}})
    [inner] = frame["calls"]
    for f in (frame, inner):
        assert f["error"] == "execution reverted" and f["revertReason"] == "ERC20: insufficient allowance"
    assert inner["output"] == frame["output"]


def test_call_tracer_create_opcode(scene):
    frame = trace_transaction(scene.chain, scene.h["create"], CALL_TRACER)
    [inner] = frame["calls"]
    created = generate_contract_address(scene.factory, 1)
    assert inner["type"] == "CREATE" and inner["from"] == "0x" + scene.factory.hex()
    assert inner["to"] == "0x" + created.hex()
    assert inner["input"] == frame["input"]
    state = scene.chain.state_at(scene.block.header)
    assert inner["output"] == "0x" + state.get_code(created).hex() == "0x" + forwarder(scene.token).hex()
    assert decode(["address"], bytes.fromhex(frame["output"][2:]))[0].lower() == "0x" + created.hex()
    logs = trace_transaction(scene.chain, scene.h["create"])["structLogs"]
    create_step = next(s for s in logs if s["op"] == "CREATE")
    after = next(s for s in logs[logs.index(create_step) + 1:] if s["depth"] == 1)
    # geth's CREATE gasCost leaves out the callee's gas, which it takes (all but 1/64) after logging the step
    rest = create_step["gas"] - create_step["gasCost"]
    assert int(inner["gas"], 16) == rest - rest // 64
    assert after["gas"] == rest - int(inner["gasUsed"], 16)


def test_call_tracer_call_kinds(scene):
    """Creation code that STATICCALLs, DELEGATECALLs and CALLCODEs the token's balanceOf(owner)."""
    query = calldata("balanceOf(address)", scene.owner.address)
    token = b"\x73" + scene.token
    calls = [bytes.fromhex("602060406024" "5f") + token + bytes.fromhex("5afa50"),     # STATICCALL
             bytes.fromhex("602060406024" "5f") + token + bytes.fromhex("5af450"),     # DELEGATECALL
             bytes.fromhex("602060406024" "5f5f") + token + bytes.fromhex("5af250")]   # CALLCODE, value 0
    body = b"".join(calls) + bytes.fromhex("60206040f3")  # return the last answer as the new code
    code = bytes.fromhex("6024" "60") + bytes([6 + len(body)]) + bytes.fromhex("5f39") + body + query
    params = CallParams(sender=scene.alice.address, data=code)
    frame = trace_call(scene.chain, scene.chain.head, params, CALL_TRACER)
    created = generate_contract_address(scene.alice.address, scene.chain.state_at().get_nonce(scene.alice.address))
    assert frame["type"] == "CREATE" and frame["to"] == "0x" + created.hex() and "error" not in frame
    assert [c["type"] for c in frame["calls"]] == ["STATICCALL", "DELEGATECALL", "CALLCODE"]
    balance = decode(["uint256"], call(scene.chain, scene.chain.head, CallParams(to=scene.token, data=query)))[0]
    for kind in frame["calls"]:
        assert kind["from"] == "0x" + created.hex() and kind["to"] == "0x" + scene.token.hex()
        assert kind["input"] == "0x" + query.hex()
    static, delegate, callcode = frame["calls"]
    assert "value" not in static and delegate["value"] == "0x0" and callcode["value"] == "0x0"
    assert decode(["uint256"], bytes.fromhex(static["output"][2:]))[0] == balance > 0
    assert decode(["uint256"], bytes.fromhex(delegate["output"][2:]))[0] == 0  # the token's code, this storage
    assert frame["output"] == callcode["output"]
    logs = trace_call(scene.chain, scene.chain.head, params)["structLogs"]
    kinds = [s["op"] for s in logs if s["op"] in ("STATICCALL", "DELEGATECALL", "CALLCODE")]
    assert kinds == ["STATICCALL", "DELEGATECALL", "CALLCODE"]
    assert {s["depth"] for s in logs} == {1, 2}
    _check_gas_flow(logs)


def test_call_tracer_frames_py_evm_settles_inside_the_instruction(scene):
    refused = trace_transaction(scene.chain, scene.h["refused"], CALL_TRACER)
    assert "error" not in refused
    [inner] = refused["calls"]
    assert inner["error"] == "insufficient balance for transfer" and inner["gasUsed"] == "0x0"
    assert inner["value"] == "0x1" and inner["input"] == "0x" and inner["to"] == "0x" + scene.carol.address.hex()
    logs = trace_transaction(scene.chain, scene.h["refused"])["structLogs"]
    call_step = next(s for s in logs if s["op"] == "CALL")
    code_size = len(value_caller(scene.carol.address))
    assert [(s["pc"], s["op"], s["gasCost"]) for s in logs[-2:]] == [(code_size - 1, "CALL", call_step["gasCost"]),
                                                                     (code_size, "STOP", 0)]  # geth's STOP past the end
    assert logs[-1]["stack"] == ["0x0"]  # the refused CALL pushed 0
    child_gas = int(inner["gas"], 16) - 2300  # the stipend rides on top of what CALL charged
    rest = call_step["gas"] - (call_step["gasCost"] - child_gas)  # after access and value costs
    assert child_gas == rest - rest // 64
    gone = trace_transaction(scene.chain, scene.h["selfdestruct"], CALL_TRACER)
    assert gone["calls"] == [{"from": "0x" + scene.selfdestructor.hex(), "gas": "0x0", "gasUsed": "0x0",
                              "to": "0x" + scene.carol.address.hex(), "input": "0x", "value": hex(10**18),
                              "type": "SELFDESTRUCT"}]


def test_call_tracer_contract_creation(scene):
    frame = trace_transaction(scene.chain, scene.h["deploy"], CALL_TRACER)
    gas_used, _, _ = scene.receipt("deploy")
    assert frame["type"] == "CREATE" and frame["to"] == "0x" + scene.token.hex()
    assert frame["gasUsed"] == hex(gas_used)
    assert frame["output"] == "0x" + scene.chain.state_at().get_code(scene.token).hex()


# -- debug_traceCall ---------------------------------------------------------------------------------------------------

def test_trace_call_matches_eth_call(scene):
    head = scene.chain.head
    params = CallParams(sender=scene.bob.address, to=scene.forwarder,
                        data=calldata("transfer(address,uint256)", scene.carol.address, 3))
    output = call(scene.chain, head, params)
    logged = trace_call(scene.chain, head, params)
    framed = trace_call(scene.chain, head, params, CALL_TRACER)
    assert logged["returnValue"] == framed["output"] == "0x" + output.hex()
    assert logged["failed"] is False and int(framed["gasUsed"], 16) == logged["gas"]
    assert framed["gas"] == hex(head.gas_limit) and framed["calls"][0]["to"] == "0x" + scene.token.hex()
    balance = CallParams(to=scene.token, data=calldata("balanceOf(address)", scene.alice.address))
    assert trace_call(scene.chain, head, balance, CALL_TRACER)["output"] == "0x" + call(scene.chain, head,
                                                                                        balance).hex()


def test_trace_call_revert_matches_eth_call(scene):
    params = CallParams(sender=scene.bob.address, to=scene.token, data=calldata(
        "transferFrom(address,address,uint256)", scene.owner.address, scene.bob.address, 1))
    with pytest.raises(ExecutionReverted) as err:
        call(scene.chain, scene.chain.head, params)
    frame = trace_call(scene.chain, scene.chain.head, params, CALL_TRACER)
    assert frame["output"] == "0x" + err.value.data.hex() and frame["revertReason"] == err.value.reason
    logged = trace_call(scene.chain, scene.chain.head, params)
    assert logged["failed"] is True and logged["returnValue"] == frame["output"]


def test_trace_call_at_an_earlier_block_and_tx_index(scene):
    params = CallParams(to=scene.token, data=calldata("balanceOf(address)", scene.alice.address))
    parent = scene.chain.header_by_hash(scene.block.header.parent_hash)
    assert decode(["uint256"], bytes.fromhex(trace_call(scene.chain, parent, params)["returnValue"][2:])) == (0,)
    header = scene.block.header
    at = {i: decode(["uint256"], bytes.fromhex(trace_call(scene.chain, header, params, {"txIndex": hex(i)})[
        "returnValue"][2:]))[0] for i in (0, 1, 4)}
    assert at == {0: 0, 1: 700, 4: 0}  # after owner's transfer to alice, and after alice sent it all on
    with pytest.raises(TraceError, match="^transaction index 9 out of range for block 0x"):
        trace_call(scene.chain, header, params, {"txIndex": "0x9"})
    with pytest.raises(TraceError, match="^no transaction in genesis$"):
        trace_call(scene.chain, scene.chain.header_by_number(0), params, {"txIndex": "0x0"})
    with pytest.raises(TraceConfigError, match="txIndex"):
        trace_call(scene.chain, header, params, {"txIndex": 1})
    with pytest.raises(TraceError, match="not supported"):
        trace_call(scene.chain, header, params, {"stateOverrides": {"0x" + "00" * 20: {"balance": "0x1"}}})


@pytest.mark.parametrize("code, message, on_step", [
    (b"\x01", "stack underflow (0 <=> 2)", True),
    (b"\xfe", "invalid opcode: INVALID", False),
    (b"\x0c", "invalid opcode: opcode 0xc not defined", False),
    (b"\x5f\x56", "invalid jump destination", False),
])
def test_vm_errors_as_geth_words_them(scene, code, message, on_step):
    params = CallParams(sender=scene.alice.address, data=code)  # creation code that fails
    frame = trace_call(scene.chain, scene.chain.head, params, CALL_TRACER)
    assert frame["type"] == "CREATE" and frame["error"] == message
    assert "to" not in frame and "output" not in frame and "revertReason" not in frame
    assert frame["gasUsed"] == frame["gas"]  # all gas burned
    logged = trace_call(scene.chain, scene.chain.head, params)
    assert logged["failed"] is True and logged["returnValue"] == "0x"
    assert logged["gas"] == int(frame["gas"], 16)
    last = logged["structLogs"][-1]
    assert last.get("error") == (message if on_step else None)


def test_out_of_gas(scene):
    data = calldata("transfer(address,uint256)", scene.bob.address, 5)
    for gas, message, cost_check in ((22_500, "out of gas", lambda step: step["gasCost"] > step["gas"]),
                                     (25_000, "out of gas: not enough gas for reentrancy sentry",
                                      lambda step: step["op"] == "SSTORE" and step["gasCost"] == 0)):
        params = CallParams(sender=scene.owner.address, to=scene.token, data=data, gas=gas)
        frame = trace_call(scene.chain, scene.chain.head, params, CALL_TRACER)
        assert frame["error"] == message and frame["gasUsed"] == hex(gas) and "output" not in frame
        logged = trace_call(scene.chain, scene.chain.head, params)
        last = logged["structLogs"][-1]
        assert last["error"] == message and cost_check(last)
        assert logged["failed"] is True and logged["returnValue"] == "0x" and logged["gas"] == gas
        assert all("error" not in step for step in logged["structLogs"][:-1])
    with pytest.raises(TraceError, match=r"^tracing failed: intrinsic gas too low: have 21100, want 21\d\d\d$"):
        trace_call(scene.chain, scene.chain.head, CallParams(to=scene.token, data=data, gas=21_100))


def test_tracing_writes_nothing(scene):
    head = scene.chain.head
    entries = scene.node.db.stats()["entries"]
    for name in scene.h:
        trace_transaction(scene.chain, scene.h[name], {"enableMemory": True})
        trace_transaction(scene.chain, scene.h[name], CALL_TRACER)
    trace_call(scene.chain, head, CallParams(sender=scene.owner.address, to=scene.token, data=calldata(
        "transfer(address,uint256)", scene.bob.address, 5)), CALL_TRACER)
    assert scene.chain.head == head and scene.chain.head.state_root == head.state_root
    assert scene.node.db.stats()["entries"] == entries
    state = scene.chain.state_at()
    assert state.get_nonce(scene.owner.address) == 7


# -- config and errors -------------------------------------------------------------------------------------------------

def test_errors(scene):
    with pytest.raises(TraceError, match="^transaction not found$"):
        trace_transaction(scene.chain, b"\x11" * 32)
    with pytest.raises(TraceError, match="^tracer not found$"):
        trace_transaction(scene.chain, scene.h["transfer"], {"tracer": "prestateTracer!"})
    with pytest.raises(TraceConfigError, match="unmarshal string into Go struct field .*disableStack of type bool"):
        trace_transaction(scene.chain, scene.h["transfer"], {"disableStack": "yes"})
    with pytest.raises(TraceConfigError, match="cannot unmarshal string into Go struct field .*onlyTopCall"):
        trace_transaction(scene.chain, scene.h["transfer"], {"tracer": "callTracer", "tracerConfig": {
            "onlyTopCall": "true"}})
    with pytest.raises(TraceConfigError, match="cannot unmarshal array into Go value"):
        trace_transaction(scene.chain, scene.h["transfer"], [])
    with pytest.raises(TraceError, match='time: invalid duration "soon"'):
        trace_transaction(scene.chain, scene.h["transfer"], {"timeout": "soon"})
    with pytest.raises(TraceError, match="^execution timeout$"):
        trace_transaction(scene.chain, scene.h["transfer"], {"timeout": "1ns"})
    assert trace_transaction(scene.chain, scene.h["transfer"], {"unknownKey": 1, "tracer": None})["gas"] > 21000


def test_go_durations_and_geth_names():
    assert parse_duration("1.5s") == 1.5 and parse_duration("2m3s") == 123 and parse_duration("0") == 0
    assert parse_duration("300ms") == pytest.approx(0.3) and parse_duration("-1h") == -3600
    with pytest.raises(TraceError, match='missing unit in duration "5"'):
        parse_duration("5")
    with pytest.raises(TraceError, match='unknown unit "x" in duration "5x"'):
        parse_duration("5x")
    assert [op_name(op) for op in (0x20, 0x44, 0x5f, 0x7f, 0xf2, 0xfe, 0x0c)] == [
        "KECCAK256", "DIFFICULTY", "PUSH0", "PUSH32", "CALLCODE", "INVALID", "opcode 0xc not defined"]
    assert stack_error(0x01, 1) == "stack underflow (1 <=> 2)"
    assert stack_error(0x60, 1024) == "stack limit reached 1024 (1023)" and stack_error(0x50, 1024) is None
