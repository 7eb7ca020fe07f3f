"""node/testing/isolation.py on a real dev node (no production loop): frames nest and revert by scope, frames opened
before the chain snapshot it when it starts, and load_fixture brings back a fixture's blocks, dev edits and
impersonated transactions without running it again, or runs it again when it cannot."""
import pytest

from chainkit import sign
from node.config import NodeConfig
from node.dev.accounts import dev_accounts
from node.node import Node
from node.testing.dispatch import InProcessRpc
from node.testing.isolation import FixtureCache, Isolation, IsolationError

A = dev_accounts()
WHALE = bytes.fromhex("77" * 20)


@pytest.fixture
def node():
    with Node(NodeConfig(produce=False)) as n:
        yield n


def balance(node, address: bytes) -> int:
    return node.chain.state_at().get_balance(address)


def test_frames_nest_and_revert_by_scope(node):
    isolation = Isolation()
    module = isolation.push("module")          # before the chain: lazy
    assert module.snapshot is None
    isolation.attach(node)
    assert module.snapshot is not None
    node.mine(2)
    first = isolation.push("test")
    node.mine(3)
    node.dev.set_balance(WHALE, 5)
    isolation.pop(first)
    assert node.chain.head.block_number == 2 and balance(node, WHALE) == 0
    second = isolation.push("test")
    node.mine()
    isolation.pop(second)
    isolation.pop(module)
    assert node.chain.head.block_number == 0 and isolation.frames == []


def test_a_frame_whose_snapshot_was_reverted_past_says_so(node):
    isolation = Isolation()
    isolation.attach(node)
    outer = node.dev.snapshot()
    frame = isolation.push("test")
    node.dev.revert(outer)   # a test reverting to an older id uses up the frame's snapshot
    with pytest.raises(IsolationError, match="snapshot .* of the test scope is gone"):
        isolation.pop(frame)


def test_load_fixture_restores_blocks_edits_and_impersonation_without_running_again(node):
    isolation = Isolation()
    isolation.attach(node)
    cache = FixtureCache(node)
    rpc = InProcessRpc(node)
    runs = []
    sent = []

    def fixture():
        runs.append(1)
        node.dev.set_balance(WHALE, 10**19)
        node.mine()
        node.dev.impersonate(WHALE)   # a transaction without a real signature
        sent.append(rpc.answer_call({"jsonrpc": "2.0", "id": 1, "method": "eth_sendTransaction", "params": [
            {"from": "0x" + WHALE.hex(), "to": "0x" + A[2].address.hex(), "value": "0x7"}]})["result"])
        node.send_raw_transaction(sign(A[1], 0, A[2].address, 7))
        node.mine()
        node.dev.set_nonce(WHALE, 3)   # a pending edit on the new head: restored too
        return node.chain.head.hash

    frame = isolation.push("test")
    head = cache.load(fixture)
    after = (node.chain.head.block_number, balance(node, WHALE), balance(node, A[2].address))
    node.mine(4)                               # the test's own blocks
    isolation.pop(frame)
    assert node.chain.head.block_number == 0

    frame = isolation.push("test")
    assert cache.load(fixture) == head and runs == [1]
    assert node.chain.head.hash == head
    assert (node.chain.head.block_number, balance(node, WHALE), balance(node, A[2].address)) == after
    assert node.chain.state_at().get_nonce(WHALE) == 3
    found = rpc.answer_call({"jsonrpc": "2.0", "id": 2, "method": "eth_getTransactionByHash", "params": sent})
    assert found["result"]["from"] == "0x" + WHALE.hex() and found["result"]["blockNumber"] == "0x2"
    assert balance(node, A[2].address) == after[2]
    node.mine()                                # and the chain goes on from there
    assert node.chain.head.block_number == 3
    isolation.pop(frame)
    rpc.close()


def test_load_fixture_runs_again_from_another_state(node):
    cache = FixtureCache(node)
    runs = []

    def fixture():
        runs.append(1)
        node.mine()
        return len(runs)

    snap = node.dev.snapshot()
    assert cache.load(fixture) == 1
    node.dev.revert(snap)
    node.mine(2)                               # not the state the fixture first ran on
    assert cache.load(fixture) == 2 and node.chain.head.block_number == 3


def test_a_frame_also_restores_mining_mode_impersonation_and_the_pool(node):
    isolation = Isolation()
    isolation.attach(node)
    producer = node.producer
    before = (producer.automine, producer.interval_ms)
    frame = isolation.push("test")
    node.dev.set_automine(True)   # no production loop here: nothing is mined, the mode just changes
    assert (producer.automine, producer.interval_ms) != before
    node.dev.impersonate(WHALE)
    node.dev.auto_impersonate = True
    node.send_raw_transaction(sign(A[3], 0, A[4].address, 1))    # left pending
    node.send_raw_transaction(sign(A[3], 5, A[4].address, 1))    # a nonce gap: queued
    assert node.pool.status() == (1, 1)
    isolation.pop(frame)
    assert (producer.automine, producer.interval_ms) == before
    assert not node.dev.is_impersonated(WHALE)
    assert node.pool.status() == (0, 0)
