"""Every RPC method that executes code is bounded, and refuses what geth refuses in geth's words (issue 17, items 2
and 3), through the real server and through the front process.

- a contract creation with more than 49,152 bytes of init code, and a gas below the intrinsic gas, answer what geth
  answers in each method (not py-evm's exceptions, not -32603);
- an endless loop (`0x5b600056`) stops at the node's evm timeout (1 s here) with each method's geth timeout error,
  within the timeout plus 1 s;
- eight endless eth_estimateGas at once leave the reads their own workers: an eth_getBalance answers within 1 s.
"""
from __future__ import annotations

import re
import time
from concurrent.futures import ThreadPoolExecutor

import pytest

from chainkit import sign
from node.dev.accounts import dev_accounts
from rpcnode import hx, serve

EVM_TIMEOUT = 1.0
LOOP = "0x5b600056"                       # JUMPDEST PUSH1 0 JUMP: loops until the gas is gone
LOOPER = "0x" + "10" * 20
TO = "0x" + "22" * 20
ACCOUNTS = dev_accounts()
SENDER = hx(ACCOUNTS[1].address)
BUILDER, MINER = ACCOUNTS[7], ACCOUNTS[8]
INITCODE = "max initcode size exceeded: code size 49153 limit 49152"
INTRINSIC = "intrinsic gas too low: have 20999, want 21000"
TX_HASH = "0x[0-9a-f]{64}"


def sim(call: dict) -> dict:
    return {"blockStateCalls": [{"calls": [call]}]}


def attributes(head: dict) -> dict:
    return {"timestamp": hex(int(head["timestamp"], 16) + 12), "prevRandao": "0x" + "00" * 32,
            "suggestedFeeRecipient": "0x" + "00" * 20}


@pytest.fixture(scope="module", params=["in-process", "front"])
def bounded(request):
    """A dev node with a 1 s evm timeout, a looping contract at LOOPER (stored, so traces see it) and a mined
    transaction that loops for 3M gas (seconds of tracing)."""
    with serve(produce=False, evm_timeout=EVM_TIMEOUT, front=request.param == "front") as r:
        r.call("anvil_setCode", LOOPER, LOOP)
        r.call("evm_mine")
        looping = r.call("eth_sendRawTransaction", hx(sign(MINER, 0, bytes.fromhex(LOOPER[2:]), gas=3_000_000)))
        r.call("evm_mine")
        assert r.call("eth_getTransactionReceipt", looping)["status"] == "0x0"   # out of gas, as geth ends it
        yield r, looping


def check(r, method: str, params: list, code: int, pattern: str) -> None:
    error = r.error(method, *params)
    assert error["code"] == code and re.fullmatch(pattern, error["message"]), (method, error)


# -- item 2: geth's refusals --

OVERSIZED = {"from": SENDER, "data": "0x" + "00" * 49153}


@pytest.mark.parametrize("method, params, code, pattern", [
    ("eth_call", [OVERSIZED], -32000, rf"err: {INITCODE} \(supplied gas \d+\)"),
    ("eth_estimateGas", [OVERSIZED], -32000, rf"failed with \d+ gas: {INITCODE}"),
    ("eth_createAccessList", [OVERSIZED], -32000, rf"failed to apply transaction: {TX_HASH} err: {INITCODE}"),
    ("debug_traceCall", [OVERSIZED, "latest"], -32000, rf"tracing failed: {INITCODE}"),
    ("eth_simulateV1", [sim(OVERSIZED), "latest"], -38025, rf"err: {INITCODE} \(supplied gas \d+\)"),
])
def test_oversized_init_code_is_geth_s_refusal(bounded, method, params, code, pattern):
    check(bounded[0], method, params, code, pattern)


def test_init_code_at_the_limit_runs(bounded):
    r, _ = bounded
    assert r.call("eth_call", {"from": SENDER, "data": "0x" + "00" * 49152}) == "0x"


SHORT = {"from": SENDER, "to": TO, "gas": hex(20999)}


@pytest.mark.parametrize("method, params, code, pattern", [
    ("eth_call", [SHORT], -32000, rf"err: {INTRINSIC} \(supplied gas 20999\)"),
    ("eth_createAccessList", [SHORT], -32000, rf"failed to apply transaction: {TX_HASH} err: {INTRINSIC}"),
    ("debug_traceCall", [SHORT, "latest"], -32000, rf"tracing failed: {INTRINSIC}"),
    ("eth_simulateV1", [sim(SHORT), "latest"], -38013, rf"err: {INTRINSIC} \(supplied gas 20999\)"),
])
def test_gas_below_the_intrinsic_gas_is_geth_s_refusal(bounded, method, params, code, pattern):
    check(bounded[0], method, params, code, pattern)


def test_intrinsic_gas_counts_init_code_words_as_geth_does(bounded):
    r, _ = bounded
    # py-evm's intrinsic gas of 64 zero bytes of init code is 53256; geth adds 2 gas per 32-byte word (EIP-3860)
    create = {"from": SENDER, "data": "0x" + "00" * 64, "gas": hex(53256)}
    check(r, "eth_call", [create], -32000, r"err: intrinsic gas too low: have 53256, want 53260 \(supplied gas 53256\)")
    assert r.call("eth_call", {**create, "gas": hex(53260)}) == "0x"


def test_build_block_refuses_a_given_transaction_in_geth_s_words(bounded):
    r, _ = bounded
    head = r.call("eth_getBlockByNumber", "latest", False)
    nonce = r.node.pool.pending_nonce(BUILDER.address)
    for raw, message in [(sign(BUILDER, nonce, data=b"\0" * 49153, gas=1_000_000), INITCODE),
                         (sign(BUILDER, nonce, bytes.fromhex(TO[2:]), gas=20999), INTRINSIC)]:
        error = r.error("testing_buildBlockV1", head["hash"], attributes(head), [hx(raw)])
        assert error == {"code": -32000, "message": message}


def test_estimate_gas_treats_a_short_gas_as_geth_does(bounded):
    r, _ = bounded
    # below 21000 the given gas is no cap (geth's estimator uses the block's); at a cap below the intrinsic gas it
    # cannot succeed
    assert r.call("eth_estimateGas", SHORT) == hex(21000)
    check(r, "eth_estimateGas", [{**SHORT, "gas": hex(21000), "data": "0x01"}], -32000,
          r"gas required exceeds allowance \(21000\)")


# -- item 3: every execution stops at the evm timeout --

LOOPING = {"from": SENDER, "to": LOOPER}
ABORTED = r"execution aborted \(timeout = 1s\)"


def _loop_cases(r, looping: str) -> dict[str, tuple[list, int, str]]:
    receipt = r.call("eth_getTransactionReceipt", looping)
    head = r.call("eth_getBlockByNumber", "latest", False)
    raw = hx(sign(BUILDER, r.node.pool.pending_nonce(BUILDER.address), bytes.fromhex(LOOPER[2:]), gas=10_000_000))
    return {
        "eth_call": ([LOOPING], -32000, ABORTED),
        "eth_call of looping init code": ([{"from": SENDER, "data": LOOP}], -32000, ABORTED),
        "eth_estimateGas": ([LOOPING], -32002, "request timed out"),
        "eth_createAccessList": ([LOOPING], -32002, "request timed out"),
        "eth_simulateV1": ([sim(LOOPING), "latest"], -32603, ABORTED),
        "debug_traceCall": ([LOOPING, "latest"], -32000, "execution timeout"),
        # a longer timeout asked for is held to the node's evm timeout
        "debug_traceCall with callTracer": ([LOOPING, "latest", {"tracer": "callTracer", "timeout": "1m"}], -32000,
                                            "execution timeout"),
        "debug_traceTransaction": ([looping], -32000, "execution timeout"),
        "debug_traceBlockByNumber": ([receipt["blockNumber"]], -32000, "execution timeout"),
        "debug_traceBlockByHash": ([receipt["blockHash"], {"timeout": "10s"}], -32000, "execution timeout"),
        "testing_buildBlockV1": ([head["hash"], attributes(head), [raw]], -32002, "request timed out"),
        # dev mode: the gas of a transaction without one is estimated, within the same timeout
        "eth_sendTransaction": ([LOOPING], -32002, "request timed out"),
        "eth_signTransaction": ([LOOPING], -32002, "request timed out"),
    }


@pytest.mark.parametrize("case", ["eth_call", "eth_call of looping init code", "eth_estimateGas",
                                  "eth_createAccessList", "eth_simulateV1", "debug_traceCall",
                                  "debug_traceCall with callTracer", "debug_traceTransaction",
                                  "debug_traceBlockByNumber", "debug_traceBlockByHash", "testing_buildBlockV1",
                                  "eth_sendTransaction", "eth_signTransaction"])
def test_an_endless_loop_stops_at_the_evm_timeout_with_geth_s_error(bounded, case):
    r, looping = bounded
    params, code, pattern = _loop_cases(r, looping)[case]
    method = case.split()[0]
    start = time.monotonic()
    error = r.error(method, *params)
    elapsed = time.monotonic() - start
    assert error["code"] == code and re.fullmatch(pattern, error["message"]), (case, error)
    assert elapsed < EVM_TIMEOUT + 1, f"{case} answered after {elapsed:.2f} s"


def test_reads_do_not_queue_behind_executions(bounded):
    r, _ = bounded
    address = hx(ACCOUNTS[2].address)
    balance = hex(r.node.chain.state_at(r.node.chain.head).get_balance(ACCOUNTS[2].address))

    def estimate() -> tuple[dict, float]:
        start = time.monotonic()
        answer = r.request("eth_estimateGas", LOOPING)
        return answer, time.monotonic() - start

    with ThreadPoolExecutor(max_workers=8) as pool:
        estimates = [pool.submit(estimate) for _ in range(8)]
        time.sleep(0.3)   # all eight under way
        start = time.monotonic()
        assert r.call("eth_getBalance", address, "latest") == balance
        read = time.monotonic() - start
        running = sum(not f.done() for f in estimates)
        answers = [f.result() for f in estimates]
    assert running == 8, "the estimates ended before the read: nothing was shown"
    assert read < 1.0, f"eth_getBalance took {read:.2f} s behind eight executions"
    for answer, elapsed in answers:
        assert answer["error"] == {"code": -32002, "message": "request timed out"}
        # counted from each request's arrival: those that waited for an execution worker are not given more
        assert elapsed < EVM_TIMEOUT + 1, f"an estimate answered after {elapsed:.2f} s"
