"""On an automining node (node/automine.py): through the providers a send answers once its transaction is in a
block; over HTTP a send answers at once and the first eth_getTransactionReceipt waits for the block being sealed,
so on every transport the client's first look finds the receipt (ethers' `tx.wait()` would otherwise wait a whole
polling interval, 4 s by default, for its second look). A transaction that cannot be mined (a nonce gap) or a node
that does not automine is answered at once."""
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


def test_the_first_receipt_request_finds_it(automining):
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


def test_providers_answer_a_send_once_mined_and_http_at_once(automining):
    r = automining
    nonce = r.node.pool.pending_nonce(OWNER.address)
    tx = r.call("eth_sendRawTransaction", hx(sign(OWNER, nonce, to=ALICE.address, value=1, gas=21_000)))
    mined = r.node.chain.store.tx_location(bytes.fromhex(tx[2:])) is not None
    # in-process: mined when the send answers (a test reads the new state next); over HTTP the send does not wait,
    # so that concurrent senders keep the pool full (its block may or may not be in yet)
    if r.transport in ("provider", "async-provider"):
        assert mined
    assert r.call("eth_getTransactionReceipt", tx) is not None


@pytest.mark.parametrize("transport", ["in-process", "front"])
def test_http_sends_answer_at_once_so_blocks_fill(transport):
    # sends that waited for their blocks would cap a block at the senders in flight (one, for one sender); over
    # HTTP they answer at once, so what is sent while a block is being sealed goes into the next one together
    with serve(transport=transport, block_time=0) as r:
        first = int(r.call("eth_blockNumber"), 16)
        raws = [hx(sign(OWNER, i, to=ALICE.address, value=1, gas=21_000)) for i in range(30)]
        hashes = [r.call("eth_sendRawTransaction", raw) for raw in raws]   # one sender, one at a time
        receipts = [r.call("eth_getTransactionReceipt", h) for h in hashes]
        assert all(receipt is not None for receipt in receipts)
        assert int(r.call("eth_blockNumber"), 16) - first < len(raws)   # some block took more than one
