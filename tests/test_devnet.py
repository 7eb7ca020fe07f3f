"""The in-process Devnet: many validator nodes, each with its own LMDB store and key, exchanging blocks through the
in-memory transport, in simulated time (and once in real time). The 21 validators seal three rounds (63 blocks, past
an epoch block) in CI; the 150-block soak over three more epochs runs with SMARTCHAIN_SLOW=1."""
import os
import time

import pytest

from chainkit import sign
from consensus.header import DIFF_IN_TURN, DIFF_NO_TURN, parse_extra, recover_signer
from node.dev.accounts import dev_accounts
from node.dev.devnet import Devnet, DevnetError

ALICE, BOB = dev_accounts()[1:3]
CHAIN_ID = 714
EPOCH = 50


def canonical_hashes(node) -> list[bytes]:
    return [node.chain.header_by_number(n).hash for n in range(node.chain.head.block_number + 1)]


def assert_converged(net: Devnet) -> None:
    """Every running node has the same canonical chain, and each executed it to the same state roots."""
    running = [m.node for m in net.members if m.running]
    reference = canonical_hashes(running[0])
    for node in running[1:]:
        assert canonical_hashes(node) == reference
        assert node.chain.state_at().state_root == node.chain.head.state_root == running[0].chain.head.state_root


@pytest.fixture(scope="module")
def net21():
    with Devnet(validators=21, epoch=EPOCH) as net:
        yield net


def assert_sealed_in_turn(net: Devnet, blocks: list) -> None:
    """`blocks` follow each other, each sealed in turn exactly one period after its parent, and every epoch block
    among them announces the next set."""
    first = blocks[0].number
    assert [b.number for b in blocks] == list(range(first, first + len(blocks)))
    order = net.validators   # address order
    assert [b.header.coinbase for b in blocks] == [order[b.number % 21] for b in blocks]
    assert all(b.header.difficulty == DIFF_IN_TURN for b in blocks)
    assert all(b.header.timestamp * 1000 + int.from_bytes(b.header.mix_hash, "big") ==
               a.header.timestamp * 1000 + int.from_bytes(a.header.mix_hash, "big") + 1000
               for a, b in zip(blocks, blocks[1:]))   # exactly one period apart: nobody waits on anybody
    assert_converged(net)
    epochs = [b.number for b in blocks if b.number % EPOCH == 0]
    assert epochs
    for number in epochs:
        # the next set is announced (a vote attestation may follow it since fast finality runs)
        extra = parse_extra(net.nodes[5].chain.header_by_number(number).extra_data, epoch_block=True)
        assert sorted(extra.addresses) == sorted(net.validators)


def test_21_validators_seal_in_turn_across_an_epoch(net21):
    # three rounds of 21, past the epoch block 50
    blocks = net21.run(63)
    assert blocks[0].number == 1
    assert_sealed_in_turn(net21, blocks)


@pytest.mark.slow
@pytest.mark.skipif(not os.environ.get("SMARTCHAIN_SLOW"), reason="150-block soak: set SMARTCHAIN_SLOW=1")
def test_21_validators_seal_in_turn_over_three_more_epochs(net21):
    assert_sealed_in_turn(net21, net21.run(150))


def test_a_stopped_validator_s_slots_are_filled_out_of_turn(net21):
    stopped = net21.members[3]
    net21.stop_validator(3)
    start = stopped.head.block_number
    blocks = net21.run(63)
    ours = [b for b in blocks if net21.nodes[0].chain.engine.in_turn(
        net21.nodes[0].chain.header_by_hash(b.header.parent_hash), stopped.address)]
    assert len(ours) == 3   # its three slots came round ...
    assert all(b.header.difficulty == DIFF_NO_TURN and b.header.coinbase != stopped.address for b in ours)
    # every other slot is in turn, unless its validator had covered a missed slot too recently (the recents rule)
    engine, chain = net21.nodes[0].chain.engine, net21.nodes[0].chain
    for b in blocks:
        if b not in ours and b.header.difficulty != DIFF_IN_TURN:
            parent = chain.header_by_hash(b.header.parent_hash)
            assert engine.signed_recently(parent, engine.in_turn_validator(parent))
    assert stopped.head.block_number == start   # it heard nothing
    net21.start_validator(3)
    assert stopped.head.hash == net21.members[0].head.hash   # caught up on restart
    net21.run(21)
    assert_converged(net21)


def test_transactions_gossip_and_every_node_executes_them(net21):
    tx = net21.send_transaction(sign(ALICE, net21.nodes[7].pool.pending_nonce(ALICE.address), BOB.address, 10**18),
                                via=7)
    assert all(tx in node.pool for node in net21.nodes)
    net21.run(1)
    for node in net21.nodes:
        location = node.chain.store.tx_location(tx)
        assert location is not None and location.block_number == node.chain.head.block_number
        assert tx not in node.pool
    assert_converged(net21)


def test_a_partition_of_7_then_heal_converges_on_the_heavier_chain():
    with Devnet(validators=21, epoch=50) as net:
        net.run(5)
        minority = range(14, 21)
        net.partition(minority)
        net.run(100)
        sides = {net.members[i].head.hash for i in minority}, {net.members[i].head.hash for i in range(14)}
        assert all(len(side) == 1 for side in sides) and sides[0] != sides[1]   # two chains
        td = [net.members[i].node.chain.chaindb.get_score(net.members[i].head.hash) for i in (0, 14)]
        assert td[0] > td[1]
        majority_head = net.members[0].head.hash
        net.heal()
        assert net.heads() == {majority_head}
        net.run(3)
        assert_converged(net)
        assert not any(m.rejected for m in net.members), [m.rejected for m in net.members]


def test_double_sign_gives_two_headers_of_one_validator_at_one_height():
    with Devnet(validators=3) as net:
        net.run(2)
        who = net.members[0]
        while not net.nodes[0].chain.engine.in_turn(who.head, who.address):
            net.step()
        first, second = net.double_sign(0)
        assert first.block_number == second.block_number and first.hash != second.hash
        assert first.parent_hash == second.parent_hash
        assert recover_signer(first, CHAIN_ID) == recover_signer(second, CHAIN_ID) == who.address
        # the first was broadcast and adopted; the second is a valid block nobody has heard of
        assert all(m.head.hash == first.hash for m in net.members)
        assert who.node.chain.header_by_hash(second.hash) is None
        who.node.chain.engine.verify_header(second, who.node.chain.header_by_hash(second.parent_hash))


def test_a_chain_nobody_may_seal_stalls_with_a_clear_error():
    with Devnet(validators=2) as net:
        net.stop_validator(0)
        net.stop_validator(1)
        with pytest.raises(DevnetError, match="stalled"):
            net.step()


def test_real_time_devnet_produces_and_agrees():
    with Devnet(validators=3, realtime=True) as net:
        deadline = time.monotonic() + 30
        while min(n.chain.head.block_number for n in net.nodes) < 3:
            assert time.monotonic() < deadline, "the real-time devnet did not reach block 3"
            time.sleep(0.1)
        for m in net.members:
            m.node.producer.set_mode(False, None)   # stop producing ...
        for m in net.members:
            with m.node.producer.lock:              # ... and let any block in the making finish
                pass
        net.heal()
        # every node follows the heaviest chain it has heard of (two equally heavy tips may remain: a tie keeps
        # the tip each node had first, as in BSC, until the next block breaks it)
        scores = [m.node.chain.chaindb.get_score(m.head.hash) for m in net.members]
        assert len(set(scores)) == 1
        if len(net.heads()) == 1:
            assert_converged(net)
        assert not any(m.rejected for m in net.members), [m.rejected for m in net.members]
