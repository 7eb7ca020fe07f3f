"""Fast finality on the in-process Devnet (simulated time), every piece real: each validator's node votes on its heads
with its vote key, the votes travel as bsc Votes messages over the network code, each node's VotePool takes them in
through the engine's checks, and the sealer attests a quorum in its header, which every other node verifies.

- four validators: after warm-up `finalized` trails the head by at most 3 blocks for 200 blocks;
- two of five stopped: blocks go on, finality stops (3 is below the quorum of 4), and resumes once they are back
  (two of four stopped would stop the blocks too: Parlia lets a validator seal once in (N/2+1) blocks);
- a forged attestation (bad aggregate signature, too few signers, wrong source) sealed by one node is refused by
  every other node, with the rule it breaks;
- a restarted node's voter refuses to vote a second time for a height it voted for (its journal on disk).
"""
import dataclasses

import pytest

from consensus import attestation, bls
from consensus import header as rules
from consensus.votes import VoteData, sign_vote
from node.dev.devnet import Devnet, validator_vote_key
from node.finality.journal import JOURNAL_FILE
from node.network.eth.messages import NewBlock

WARM_UP = 4   # block 3 carries the first attestation (of block 2); from block 4 on the chain finalizes


def lags(net: Devnet) -> tuple[int, int]:
    """(head - justified, head - finalized) at node 0's head."""
    chain = net.nodes[0].chain
    head = chain.head
    return head.block_number - chain.engine.justified(head)[0], head.block_number - chain.engine.finalized(head)[0]


def test_four_validators_finalize_within_three_blocks_of_the_head_for_200_blocks():
    with Devnet(validators=4) as net:
        net.run(WARM_UP)
        worst = 0
        for _ in range(200):
            block = net.step()
            justified_lag, finalized_lag = lags(net)
            assert finalized_lag <= 3, f"block {block.number}: finalized lags by {finalized_lag}"
            worst = max(worst, finalized_lag)
        assert len(net.heads()) == 1
        assert not any(m.rejected for m in net.members)
        # every node agrees on justified and finalized, from its own snapshots
        heads = [m.node.chain.head for m in net.members]
        assert len({m.node.chain.engine.finalized(h) for m, h in zip(net.members, heads)}) == 1
        # each validator voted on (nearly) every head: its pool holds the others' votes on the head
        head = net.nodes[0].chain.head
        assert len({v.vote_address for v in net.nodes[0].votes.votes_for(head.hash)}) == 4
        assert worst >= 1   # the head itself is never final: the check measures something


def test_finality_stops_without_a_quorum_and_resumes_when_the_validators_return():
    # Five validators: with two stopped, three still seal (Parlia's recents rule needs more than N/2 sealers: with
    # four validators, two stopped would halt the chain itself) but they are below the quorum of ceil(2*5/3) = 4.
    with Devnet(validators=5) as net:
        net.run(10)
        assert lags(net)[1] <= 3
        before = net.nodes[0].chain.engine.finalized(net.nodes[0].chain.head)
        net.stop_validator(3)
        net.stop_validator(4)
        blocks = net.run(12)
        head = net.nodes[0].chain.head
        assert head.hash == blocks[-1].hash
        engine = net.nodes[0].chain.engine
        # at most the attestation of the votes made before they stopped moves it, then nothing
        assert engine.finalized(head)[0] <= before[0] + 2
        assert lags(net)[1] >= 10
        assert all(engine.finality.attestation_of(b.header) is None for b in blocks[2:])
        net.start_validator(3)
        net.start_validator(4)
        net.run(4)
        assert lags(net)[1] <= 3
        assert len(net.heads()) == 1


def _forge_block(net: Devnet, forge):
    """The next block, sealed by the validator whose slot comes first, with its attestation replaced by
    `forge(attestation, voters, justified, parent)`; not imported by its sealer (its own check would refuse it)."""
    slots = [(m.next_slot_ms(), m) for m in net.members if m.next_slot_ms() is not None]
    ms, member = min(slots, key=lambda s: s[0])
    net.clock.set(max(ms, net.clock.now_ms()))
    node = member.node
    engine = node.chain.engine
    parent = node.chain.head
    fields = engine.prepare(parent, member.address, net.clock.now_ms())
    parsed = rules.parse_extra(fields.extra_data, epoch_block=False)
    assert parsed.attestation, "the honest block would carry an attestation"
    real = rules.decode_attestation(parsed.attestation)
    forged = forge(real, engine.voters(node.chain.header_by_hash(real.target_hash)), engine.justified(parent), parent)
    extra = rules.encode_extra(attestation=rules.encode_attestation(forged))
    built = node.chain.build_block(parent, dataclasses.replace(fields, extra_data=extra), ())
    block = built.block.copy(header=engine.seal(built.block.header, node.producer.key))
    return member, block


def _refusal(net: Devnet, member, number: int) -> str | None:
    """Why `member` refused block `number`: booked by the chain's import path, or, when the network's header check
    before relaying refused it first, the reason it dropped the sender for."""
    for refused, why in member.rejected:
        if refused == number:
            return why
    for _, why in net.network.net.services[member.index].dropped:
        if f"invalid block {number}:" in why:
            return why
    return None


def _send_to_peers(net: Devnet, member, block) -> None:
    """`block` as NewBlock from `member` to each of its peers, and wait until every one refused it."""
    service = net.network.net.services[member.index]
    chain = member.node.chain
    td = chain.chaindb.get_score(block.header.parent_hash) + block.header.difficulty

    def send() -> None:
        for state in service.peers:
            state.send_soon(NewBlock(block, td))
    service.loop.loop.call_soon_threadsafe(send)
    others = [m for m in net.members if m is not member]
    net.network.wait_until(lambda: all(_refusal(net, m, block.number) for m in others), "the forged block refused",
                           timeout=30)


def _signers(net: Devnet, voters, data: VoteData, count: int):
    """(bitset, aggregate signature) of `count` validators' votes for `data`, signed with their dev vote keys."""
    secret = {bls.public_key(validator_vote_key(k)): validator_vote_key(k) for k in net.keys}
    chosen = [(i, v) for i, v in enumerate(voters)][:count]
    bits = sum(1 << i for i, _ in chosen)
    return bits, bls.aggregate(sign_vote(secret[v.vote_address], data).signature for _, v in chosen)


def _bad_signature(net):
    def forge(real, voters, justified, parent):
        other = VoteData(real.source_number, real.source_hash, real.target_number, bytes(32))
        _, wrong = _signers(net, voters, other, attestation.quorum(len(voters)))
        return dataclasses.replace(real, agg_signature=wrong)
    return forge


def _too_few_signers(net):
    def forge(real, voters, justified, parent):
        data = attestation.vote_data(real)
        bits, signature = _signers(net, voters, data, attestation.quorum(len(voters)) - 1)
        return dataclasses.replace(real, vote_address_set=bits, agg_signature=signature)
    return forge


def _wrong_source(net):
    def forge(real, voters, justified, parent):
        source = net.nodes[0].chain.header_by_number(justified[0] - 1)
        data = VoteData(source.block_number, source.hash, real.target_number, real.target_hash)
        bits, signature = _signers(net, voters, data, len(voters))
        return dataclasses.replace(real, vote_address_set=bits, agg_signature=signature,
                                   source_number=data.source_number, source_hash=data.source_hash)
    return forge


@pytest.mark.parametrize("forgery, reason", [
    (_bad_signature, "signature verify failed"),
    (_too_few_signers, "not enough validators voted"),
    (_wrong_source, "source mismatch"),
])
def test_a_forged_attestation_makes_the_block_invalid_on_every_other_node(forgery, reason):
    with Devnet(validators=4) as net:
        net.run(6)
        heads = {m.index: m.head.hash for m in net.members}
        member, block = _forge_block(net, forgery(net))
        _send_to_peers(net, member, block)
        others = [m for m in net.members if m is not member]
        for other in others:
            assert reason in _refusal(net, other, block.number)
            assert other.head.hash == heads[other.index]
            assert other.node.chain.header_by_hash(block.hash) is None
        # the three others go on without the forger (dropped and banned by them), a quorum of 3, finalizing
        net.stop_validator(member.index)
        net.run(4)
        honest = [m for m in net.members if m is not member]
        head = honest[0].node.chain.head
        assert head.block_number >= block.number + 3
        assert head.block_number - honest[0].node.chain.engine.finalized(head)[0] <= 3


def test_a_restarted_voter_does_not_vote_twice_for_one_height(tmp_path):
    with Devnet(validators=4, datadir=tmp_path) as net:
        net.run(6)
        first, second = net.double_sign(net.members.index(
            next(m for m in net.members if m.next_slot_ms() is not None)))
        voted = {m.index: m.node.votes.voter.decisions.get(first.hash) for m in net.members}
        assert all(vote is not None for vote in voted.values())
    with Devnet(validators=4, datadir=tmp_path) as net:   # every node restarts from its data dir
        for member in net.members:
            voter = member.node.votes.voter
            assert not voter.decisions   # a new voter: only the journal on disk remembers the vote for `first`
            assert voter.journal.latest().target_hash == first.hash
            assert voter.decide(second) is None
            assert voter.refused == 1
        # without its journal, the same restarted voter would sign the double vote: the journal is what stops it
        (tmp_path / "node0" / JOURNAL_FILE).unlink()
    with Devnet(validators=4, datadir=tmp_path) as net:
        voter = net.members[0].node.votes.voter
        vote = voter.decide(second)
        assert vote is not None and vote.data.target_number == first.block_number
