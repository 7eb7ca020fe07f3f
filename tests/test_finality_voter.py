"""The voter's rules (node/finality/voter.py) on a voting four-validator Devnet's chain: it votes source = justified,
target = the head; not once the head is 3 block intervals + 50 ms old (Fermi's depth); not with a key that is no
validator's; never twice for one head."""
from consensus.engine import header_ms
from consensus.votes import vote_key_for
from node.dev.devnet import Devnet, validator_vote_key
from node.finality.journal import PersistentJournal
from node.finality.voter import Voter


def test_the_voter_votes_for_a_fresh_head_only_and_only_with_a_validator_key(tmp_path):
    with Devnet(validators=4) as net:
        net.run(5)
        chain = net.nodes[0].chain
        head = chain.head
        made = header_ms(head)

        def voter(secret: bytes, now_ms: int, name: str) -> Voter:
            return Voter(chain.engine, secret, PersistentJournal(tmp_path / name, fsync=False), lambda: now_ms)

        key = validator_vote_key(net.keys[0])
        fresh = voter(key, made + 3 * 1000 - 51, "fresh").decide(head)
        assert fresh is not None and fresh.verify()
        assert (fresh.data.source_number, fresh.data.source_hash) == chain.engine.justified(head)
        assert (fresh.data.target_number, fresh.data.target_hash) == (head.block_number, head.hash)
        assert voter(key, made + 3 * 1000 - 49, "late").decide(head) is None   # too late: 3 periods + 50 ms
        assert voter(vote_key_for(b"\x09" * 32), made, "stranger").decide(head) is None
        once = voter(key, made, "once")
        assert once.decide(head) is not None and once.decide(head) is None and once.voted(head.hash)
