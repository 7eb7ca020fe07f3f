"""Sends on an automining node answer once their transaction is in a block (node/automine.py), over every transport:
the client's first eth_getTransactionReceipt finds the receipt, as against Hardhat's node (ethers' `tx.wait()` would
otherwise wait a whole polling interval, 4 s by default, for its second look). A send that cannot be mined (a nonce
gap) or a node that does not automine answers at once."""
from __future__ import annotations

import time

import pytest

from chainkit import sign
from rpcnode import ALICE, OWNER, TRANSPORTS, hx, send, serve

GIVE_UP_S = 10.0   # far below the 30 s a stuck send would wait, far above any seal


@pytest.fixture(scope="module", params=TRANSPORTS)
def automining(request):
    with serve(transport=request.param, block_time=0) as r:
        yield r


def test_each_send_answers_with_its_receipt_ready(automining):
    r = automining
    for _ in range(5):
        tx = send(r, OWNER, to=ALICE.address, value=1, gas=21_000)
        receipt = r.call("eth_getTransactionReceipt", tx)
        assert receipt is not None and receipt["status"] == "0x1"
    tx = r.call("eth_sendTransaction", {"from": hx(OWNER.address), "to": hx(ALICE.address), "value": "0x1"})
    assert r.call("eth_getTransactionReceipt", tx)["status"] == "0x1"
    # a batch of sends: each answer waits for its own transaction
    if r.transport in ("in-process", "front"):
        nonce = r.node.pool.pending_nonce(OWNER.address)
        raws = [hx(sign(OWNER, nonce + i, to=ALICE.address, value=1, gas=21_000)) for i in range(3)]
        answers = r.post([{"jsonrpc": "2.0", "id": i, "method": "eth_sendRawTransaction", "params": [raw]}
                          for i, raw in enumerate(raws)]).json
        for answer in answers:
            assert r.call("eth_getTransactionReceipt", answer["result"]) is not None


def test_a_send_behind_a_nonce_gap_answers_without_a_block(automining):
    r = automining
    gap = r.node.pool.pending_nonce(OWNER.address) + 1
    started = time.monotonic()
    tx = r.call("eth_sendRawTransaction", hx(sign(OWNER, gap, to=ALICE.address, value=1, gas=21_000)))
    assert time.monotonic() - started < GIVE_UP_S
    assert r.call("eth_getTransactionReceipt", tx) is None
    assert r.call("eth_getTransactionByHash", tx)["blockNumber"] is None
    # filling the gap mines both; the filler's answer waits for its block
    filler = send(r, OWNER, to=ALICE.address, value=1, gas=21_000)
    assert r.call("eth_getTransactionReceipt", filler) is not None
    deadline = time.monotonic() + GIVE_UP_S
    while r.call("eth_getTransactionReceipt", tx) is None and time.monotonic() < deadline:
        time.sleep(0.01)
    assert r.call("eth_getTransactionReceipt", tx) is not None


def test_without_automine_a_send_answers_at_once(automining):
    r = automining
    r.call("evm_setAutomine", False)
    try:
        started = time.monotonic()
        tx = send(r, OWNER, to=ALICE.address, value=1, gas=21_000)
        assert time.monotonic() - started < GIVE_UP_S
        assert r.call("eth_getTransactionReceipt", tx) is None
        r.call("evm_mine")
        assert r.call("eth_getTransactionReceipt", tx) is not None
    finally:
        r.call("evm_setAutomine", True)
