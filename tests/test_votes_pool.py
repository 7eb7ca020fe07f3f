"""consensus/votepool.py: BSC's bounds (range, dedupe, per-block caps), current vs future votes, pruning, admission."""
import pytest
from eth_utils import keccak

from consensus import attestation, bls, votes
from consensus.errors import (
    DuplicateVote,
    InvalidVote,
    TooManyVotesForBlock,
    VoteOutOfRange,
    VoterNotValidator,
    VoteSourceMismatch,
)
from consensus.header import ValidatorInfo
from consensus.votepool import (
    LOWER_LIMIT,
    MAX_CURRENT_VOTES_PER_BLOCK,
    MAX_FUTURE_VOTES_PER_BLOCK,
    UPPER_LIMIT,
    VotePool,
    check_admission,
)
from consensus.votes import VoteData, VoteEnvelope


def h(n: int) -> bytes:
    return keccak(b"block" + n.to_bytes(8, "big"))


SECRETS = [bls.derive_secret_key(i.to_bytes(2, "big"), b"pool test") for i in range(60)]
VALIDATORS = tuple(sorted((ValidatorInfo(keccak(s)[:20], bls.public_key(s)) for s in SECRETS[:21]),
                          key=lambda v: v.address))


def vote(i: int, target: int, source: int | None = None, target_hash: bytes | None = None) -> VoteEnvelope:
    source = target - 1 if source is None else source
    return votes.sign_vote(SECRETS[i], VoteData(source, h(source), target, target_hash or h(target)))


class Chain:
    """Known blocks by hash; the justified block at block n is n - 1 (every block attested its parent)."""

    def __init__(self, head: int):
        self.known = {h(n) for n in range(head + 1)}

    def add(self, n: int) -> None:
        self.known.add(h(n))

    def admit(self, envelope: VoteEnvelope) -> None:
        n = envelope.data.target_number
        check_admission(envelope, justified=(n - 1, h(n - 1)), validators=VALIDATORS)


@pytest.fixture
def chain():
    return Chain(head=1000)


@pytest.fixture
def pool(chain):
    return VotePool(lambda block_hash: block_hash in chain.known, chain.admit)


def test_current_vote_is_taken_and_heard(pool):
    heard = []
    pool.listeners.append(heard.append)
    v = vote(0, 1000)
    pool.put(v, head_number=1000)
    assert pool.fetch(h(1000)) == [v] == heard
    assert pool.fetch(h(1000), source_number=999) == [v]
    assert pool.fetch(h(1000), source_number=998) == []
    assert pool.counts() == (1, 0) and pool.current_votes() == [v]


@pytest.mark.parametrize("target, ok", [
    (1000 - LOWER_LIMIT, False), (1000 - LOWER_LIMIT + 1, True), (1000, True),
    (1000 + UPPER_LIMIT, True), (1000 + UPPER_LIMIT + 1, False),
])
def test_range(pool, target, ok):
    if ok:
        pool.put(vote(0, target), head_number=1000)
    else:
        with pytest.raises(VoteOutOfRange):
            pool.put(vote(0, target), head_number=1000)


def test_duplicate_refused(pool):
    v = vote(0, 1000)
    pool.put(v, head_number=1000)
    with pytest.raises(DuplicateVote):
        pool.put(VoteEnvelope.decode(v.encode()), head_number=1000)


def test_bad_signature_refused(pool):
    v = vote(0, 1000)
    with pytest.raises(InvalidVote):
        pool.put(VoteEnvelope(bls.public_key(SECRETS[1]), v.signature, v.data), head_number=1000)
    assert pool.counts() == (0, 0)


def test_admission_refusals(pool):
    with pytest.raises(VoteSourceMismatch):
        pool.put(vote(0, 1000, source=990), head_number=1000)
    with pytest.raises(VoterNotValidator):
        pool.put(vote(30, 1000), head_number=1000)  # SECRETS[30] is not among the 21 validators' keys
    assert pool.counts() == (0, 0)


def test_current_cap_per_block(pool):
    # the cap counts envelopes per target hash, whoever signed them: 22 keys try (admission left open)
    permissive = VotePool(lambda _: True, lambda _: None)
    for i in range(MAX_CURRENT_VOTES_PER_BLOCK):
        permissive.put(vote(i, 1000), head_number=1000)
    with pytest.raises(TooManyVotesForBlock, match="at most 21"):
        permissive.put(vote(21, 1000), head_number=1000)


def test_future_votes_wait_for_their_block(pool, chain):
    v = vote(0, 1005)
    pool.put(v, head_number=1000)
    assert pool.counts() == (0, 1) and pool.fetch(h(1005)) == []
    pool.on_new_head(1003)  # still unknown
    assert pool.counts() == (0, 1)
    chain.add(1005)
    pool.on_new_head(1005)
    assert pool.fetch(h(1005)) == [v] and pool.counts() == (1, 0)


def test_future_cap_is_50(chain):
    permissive = VotePool(lambda block_hash: block_hash in chain.known, lambda _: None)
    for i in range(MAX_FUTURE_VOTES_PER_BLOCK):
        permissive.put(vote(i, 1005), head_number=1000)
    with pytest.raises(TooManyVotesForBlock, match="at most 50"):
        permissive.put(vote(50, 1005), head_number=1000)


def test_future_vote_for_a_block_that_never_comes_is_dropped(pool):
    pool.put(vote(0, 1005, target_hash=h(5005)), head_number=1000)
    pool.on_new_head(1005 + UPPER_LIMIT)  # not yet 11 below: kept
    assert pool.counts() == (0, 1)
    pool.on_new_head(1005 + UPPER_LIMIT + 1)
    assert pool.counts() == (0, 0)


def test_future_vote_refused_at_transfer(pool, chain):
    pool.put(vote(30, 1004), head_number=1000)  # not a validator: only found out once the block is known
    chain.add(1004)
    pool.on_new_head(1004)
    assert pool.counts() == (0, 0)


def test_prune_drops_old_votes_and_forgets_them(pool):
    v = vote(0, 1000)
    pool.put(v, head_number=1000)
    pool.on_new_head(1000 + LOWER_LIMIT - 1)
    assert pool.counts() == (1, 0)
    pool.on_new_head(1000 + LOWER_LIMIT)
    assert pool.counts() == (0, 0)
    with pytest.raises(VoteOutOfRange):  # forgotten, and now out of range anyway
        pool.put(v, head_number=1000 + LOWER_LIMIT)


def test_pool_votes_make_an_attestation():
    chain = Chain(head=1000)
    pool = VotePool(lambda block_hash: block_hash in chain.known, chain.admit)
    by_key = {bls.public_key(s): i for i, s in enumerate(SECRETS[:21])}
    for v in VALIDATORS[:14]:
        pool.put(vote(by_key[v.vote_address], 1000), head_number=1000)
    data = VoteData(999, h(999), 1000, h(1000))
    att = attestation.assemble(pool.fetch(h(1000), source_number=999), VALIDATORS, data)
    attestation.verify(att, justified=(999, h(999)), ancestors=[(1000, h(1000))], validators=VALIDATORS)


def test_put_many_checks_a_batch_and_refuses_only_the_bad_votes(pool):
    bls.clear_caches()   # the signatures are checked here, in the batch, not remembered from another test
    heard = []
    pool.listeners.append(heard.append)
    good = [vote(i, 1000) for i in range(5)]
    stolen = VoteEnvelope(bls.public_key(SECRETS[6]), good[0].signature, good[0].data)   # 6's key, 0's signature
    outsider = vote(30, 1000)   # a valid signature, but not a validator's key
    future = vote(7, 1005)      # block not known yet: waits, checked on arrival
    batch = [good[0], stolen, good[1], outsider, good[2], VoteEnvelope.decode(good[1].encode()), good[3], future,
             good[4]]
    refused = pool.put_many(batch, head_number=1000)
    kinds = [type(e) if e is not None else None for e in refused]
    assert kinds == [None, InvalidVote, None, VoterNotValidator, None, DuplicateVote, None, None, None]
    assert sorted(pool.fetch(h(1000)), key=good.index) == good == sorted(heard, key=good.index)
    assert pool.counts() == (5, 1)
    assert bls.verify(*(stolen.vote_address, stolen.data.hash(), stolen.signature)) is False


def test_put_many_keeps_the_per_block_cap_inside_one_batch(chain):
    pool = VotePool(lambda block_hash: block_hash in chain.known, lambda envelope: None)   # every key admitted
    batch = [vote(i, 1000) for i in range(MAX_CURRENT_VOTES_PER_BLOCK + 1)]   # one more than a block may hold
    refused = pool.put_many(batch, head_number=1000)
    assert refused[:-1] == [None] * MAX_CURRENT_VOTES_PER_BLOCK
    assert isinstance(refused[-1], TooManyVotesForBlock)
    assert len(pool.fetch(h(1000))) == MAX_CURRENT_VOTES_PER_BLOCK


def test_vote_above_the_head_waits_without_a_lookup(chain):
    asked = []
    pool = VotePool(lambda block_hash: asked.append(block_hash) or block_hash in chain.known, chain.admit)
    chain.add(1001)   # imported, but the head the caller knows is still 1000
    pool.put(vote(0, 1001), head_number=1000)
    assert asked == [] and pool.counts() == (0, 1)
    pool.on_new_head(1001)   # the next head event moves it, checked against the engine's rules
    assert pool.counts() == (1, 0) and len(pool.fetch(h(1001))) == 1
