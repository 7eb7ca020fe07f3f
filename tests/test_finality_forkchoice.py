"""BSC's fork choice with fast finality on the import path: of two blocks at one height, the one whose chain has the
higher justified block becomes the head even when it is lighter (total difficulty decides only a tie), whichever
arrives first. A four-validator Devnet (simulated time) makes the two blocks: the in-turn validator's without an
attestation (difficulty 2, justified unchanged) and an out-of-turn validator's attesting the parent (difficulty 1,
justified one block higher); two isolated nodes import them in opposite orders."""
import dataclasses

from consensus import header as rules
from consensus.engine import header_ms
from node.dev.devnet import Devnet


def _sealed(member, parent, *, attested: bool):
    node = member.node
    engine = node.chain.engine
    fields = engine.prepare(parent, member.address, 0)
    if not attested:
        fields = dataclasses.replace(fields, extra_data=rules.encode_extra())
    built = node.chain.build_block(parent, fields, ())
    return built.block.copy(header=engine.seal(built.block.header, node.producer.key))


def test_the_higher_justified_block_wins_over_the_heavier_one_in_either_order():
    with Devnet(validators=4) as net:
        net.run(6)
        head = net.members[0].head
        engine = net.members[0].node.chain.engine
        in_turn = engine.in_turn_validator(head)
        heavy_member = next(m for m in net.members if m.address == in_turn)
        light_member = next(m for m in net.members
                            if m is not heavy_member and engine.next_block_ms(head, m.address) is not None)
        heavy = _sealed(heavy_member, head, attested=False)
        light = _sealed(light_member, head, attested=True)
        assert heavy.header.difficulty == 2 and light.header.difficulty == 1
        assert engine.finality.attestation_of(light.header) is not None
        assert engine.finality.attestation_of(heavy.header) is None
        x, y = (m for m in net.members if m not in (heavy_member, light_member))
        net.partition([x.index], [y.index])   # no gossip reaches them: each imports only what it is handed
        net.clock.set(max(header_ms(heavy.header), header_ms(light.header)))

        first = x.node.import_block(heavy)
        assert [b.hash for b in first.new_canonical] == [heavy.hash]
        second = x.node.import_block(light)
        chain = x.node.chain
        assert chain.chaindb.get_score(heavy.hash) > chain.chaindb.get_score(light.hash)   # py-evm alone: heavy
        assert chain.head.hash == light.hash
        assert [b.hash for b in second.new_canonical] == [light.hash]
        assert [b.hash for b in second.old_canonical] == [heavy.hash]
        assert chain.block_by_number(light.number).hash == light.hash
        assert engine.justified(chain.head)[0] == head.block_number

        y.node.import_block(light)
        kept = y.node.import_block(heavy)   # heavier, but justified lower: not a reorg
        assert y.node.chain.head.hash == light.hash
        assert kept.new_canonical == () and kept.old_canonical == ()
        assert y.node.chain.block_by_number(light.number).hash == light.hash
